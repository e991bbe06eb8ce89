#!/usr/bin/env python3
"""The write transactions Bazaar sent a MariaDB server, out of its general log, as one SQL file per connection.

    bench/replay-commits.py GENERAL_LOG OUT_DIR

Keeps every transaction (START TRANSACTION .. COMMIT) that took ledger sequences (`UPDATE ledger_clock`): the
group commits and the ingestion's batches, with their locking reads, idempotency lookups and inserts, as the server
ran them (prepared statements are logged with their values), in commit order, each round trip as Bazaar sent it
(several statements in one where it sent them so). Transactions that wrote stock rows of a
common store go to one file, in that order (they waited for each other's row locks when they ran); the others are
spread over files of their own. Replaying the files side by side, one client each, against a freshly migrated
database gives the rate at which the primary commits the same work with nothing else running: no Bazaar, broker or
producer (bench/kafka.sh, "the primary's own commit rate").
Prints: files (independent streams), transactions, statements.
"""
import os
import re
import sys

# A logged command: [date time] TAB(s) thread-id SPACE command-name (capitalised words) TAB argument.
ENTRY = re.compile(r"^(?:\d{6}\s+\d{1,2}:\d\d:\d\d)?\t+\s*(\d+) ([A-Z][A-Za-z]*(?: [A-Za-z]+)*)\t?(.*)$")


def entries(path):
    """(connection, command, text) for each logged command; a statement's later lines belong to it."""
    current = None
    with open(path, encoding="utf-8", errors="surrogateescape") as log:
        for line in log:
            line = line.rstrip("\n")
            match = ENTRY.match(line)
            if match:
                if current:
                    yield current
                current = [match.group(1), match.group(2), match.group(3)]
            elif current:
                current[2] += "\n" + line
    if current:
        yield current


STORE = re.compile(r"\('((?:[^'\\]|\\.)*)','")


def stores(transaction):
    """The stores whose stock rows the transaction wrote (the first column of each `stock_levels` row)."""
    found = set()
    for statement in (s.strip() for entry in transaction for s in entry.split(";\n")):
        if statement.startswith("INSERT INTO stock_levels"):
            found.update(STORE.findall(statement[statement.index("VALUES"):]))
    return found


def streams(transactions):
    """Transactions in commit order, grouped so that two sharing a store are in one group (union-find)."""
    parent = list(range(len(transactions)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    owner = {}
    for index, transaction in enumerate(transactions):
        for store in stores(transaction):
            if store in owner:
                parent[root(index)] = root(owner[store])
            else:
                owner[store] = index
    groups = {}
    for index, transaction in enumerate(transactions):
        groups.setdefault(root(index), []).append(transaction)
    return list(groups.values())


def handle(open_transactions, kept, connection, entry):
    """One logged round trip of a connection (one statement, or several separated by ";\n": a value's newline is
    escaped inside its literal, so it cannot be taken for a separator): it opens, extends or ends that connection's
    transaction. Bazaar opens a transaction at the start of a round trip and commits at its end."""
    statements = [statement.strip() for statement in entry.split(";\n")]
    first, last = statements[0][:20].upper(), statements[-1][:20].upper()
    if first.startswith("START TRANSACTION") or first.startswith("BEGIN"):
        open_transactions[connection] = [entry]
    elif connection in open_transactions:
        open_transactions[connection].append(entry)
    else:
        return
    if last.startswith("COMMIT") or last.startswith("ROLLBACK"):
        transaction = open_transactions.pop(connection)
        if last.startswith("COMMIT") and any("UPDATE ledger_clock" in e for e in transaction):
            kept.append(transaction)


def main():
    log, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    open_transactions, kept = {}, []
    for connection, command, text in entries(log):
        if command in ("Query", "Execute"):
            handle(open_transactions, kept, connection, text.strip())
    statements = 0
    groups = streams(kept)
    for number, transactions in enumerate(groups):
        with open(os.path.join(out, "stream-%03d.sql" % number), "w", encoding="utf-8", errors="surrogateescape") as sql:
            # One round trip as Bazaar sent it, several statements in one when it did (the client splits on the
            # delimiter only).
            sql.write("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;\nDELIMITER $$\n")
            for transaction in transactions:
                for entry in transaction:
                    sql.write(entry.rstrip(";") + "$$\n")
                    statements += entry.count(";\n") + 1
    print(len(groups), len(kept), statements)


if __name__ == "__main__":
    main()
