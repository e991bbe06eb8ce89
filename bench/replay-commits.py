#!/usr/bin/env python3
"""The write transactions Bazaar sent a MariaDB server, out of its general log, as one SQL file per connection.

    bench/replay-commits.py [--bulk] GENERAL_LOG OUT_DIR

With --bulk, each stream is written for `bench/replay-bulk.c` instead (stream-NNN.ops): the ledger rows, idempotency
records and stock rows of a transaction that has enough of them go as bulk executions, as Bazaar sends them on MariaDB
(the capture is taken with `?bulk=off`: the general log does not record a bulk execution's values).

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
import functools
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


# The tables whose rows Bazaar writes as bulk executions on MariaDB (`MySQLLedgerTransaction`), and its bounds.
BULK_TABLES = ("INSERT INTO stock_movements", "INSERT INTO idempotency_keys", "INSERT INTO stock_levels")
# (400 since 955bfc2; the builds 93bac6a-e3e82c7 took 32.)
BULK_MINIMUM_ROWS, BULK_MAX_ROWS, BULK_MAX_BYTES = 400, 2000, 1 << 19
VALUE = re.compile(r"\s*(?:(\()|(\))|(,)|(NULL)|(-?\d+)|'((?:[^'\\]|\\.)*)')", re.S)
MORE = re.compile(r"\s*,")
UNESCAPED = {"0": "\0", "n": "\n", "r": "\r", "Z": "\x1a"}


@functools.lru_cache(maxsize=64)
def values_of(statement):
    """The rows of a multi-row `INSERT ... VALUES (...),(...) [tail]` of integers, NULLs and escaped text, and the
    text after the list (an `ON DUPLICATE KEY UPDATE` clause, or nothing)."""
    text = statement[statement.index(" VALUES ") + len(" VALUES "):]
    rows, row, position = [], None, 0
    while position < len(text):
        match = VALUE.match(text, position)
        if not match:
            raise ValueError("cannot read the values at: " + text[position:position + 60])
        position = match.end()
        opening, closing, _, null, integer, quoted = match.groups()
        if opening:
            row = []
        elif closing:
            rows.append(row)
            if not MORE.match(text, position):
                return rows, text[position:]
        elif null:
            row.append(None)
        elif integer is not None:
            row.append(int(integer))
        elif quoted is not None:
            row.append(re.sub(r"\\(.)", lambda m: UNESCAPED.get(m.group(1), m.group(1)), quoted, flags=re.S))
    return rows, ""


def rows_of(statement):
    return values_of(statement)[0]


def bulk_sql(statement):
    """The one-row statement Bazaar prepares for a table's bulk executions."""
    head = statement[:statement.index(" VALUES ")]
    columns = head[head.index("(") + 1:head.rindex(")")].count(",") + 1
    return head + " VALUES (" + ", ".join("?" * columns) + ")" + values_of(statement)[1]


def write_text(out, statements):
    if statements:
        sql = ";\n".join(statements).encode("utf-8", "surrogateescape")
        out.write(b"T %d\n" % len(sql) + sql + b"\n")


def write_bulk(out, sql, rows):
    """Bulk executions of `rows`, cut as Bazaar cuts them (`LedgerStatements.writeBulk`)."""
    start = 0
    while start < len(rows):
        end, size = start, 0
        while end < len(rows) and end - start < BULK_MAX_ROWS and size < BULK_MAX_BYTES:
            size += sum(1 if v is None else 9 if isinstance(v, int) else len(v.encode("utf-8", "surrogateescape")) + 10 for v in rows[end])
            end += 1
        chunk = rows[start:end]
        types = "".join("I" if any(isinstance(r[c], int) for r in chunk) else "S" for c in range(len(chunk[0])))
        body = sql.encode()
        out.write(b"B %d %d %s\n" % (len(body), len(chunk), types.encode()) + body + b"\n")
        for row in chunk:
            for value in row:
                if value is None:
                    out.write(b"N\n")
                elif isinstance(value, int):
                    out.write(b"I %d\n" % value)
                else:
                    data = value.encode("utf-8", "surrogateescape")
                    out.write(b"S %d\n" % len(data) + data + b"\n")
        start = end


def write_bulk_stream(path, transactions):
    """A stream for `bench/replay-bulk.c`: each transaction's round trips as captured (text), except the rows of
    `BULK_TABLES` where the transaction has at least `BULK_MINIMUM_ROWS` for one statement text (a table's stock rows
    inserted and upserted are two), which go as bulk executions in their place (the round trip they were in cut
    there), as Bazaar sends them with bulk executions on."""
    with open(path, "wb") as out:
        write_text(out, ["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"])
        for transaction in transactions:
            statements = [[s.strip() for s in entry.split(";\n")] for entry in transaction]
            counts = {}
            for entry in statements:
                for s in entry:
                    if s.startswith(BULK_TABLES):
                        counts[bulk_sql(s)] = counts.get(bulk_sql(s), 0) + len(rows_of(s))
            pending_sql, pending_rows = None, []
            for entry in statements:
                text = []
                for s in entry:
                    sql = bulk_sql(s) if s.startswith(BULK_TABLES) else None
                    if sql is not None and counts[sql] < BULK_MINIMUM_ROWS:
                        sql = None
                    if sql != pending_sql and pending_sql:
                        write_bulk(out, pending_sql, pending_rows)
                        pending_sql, pending_rows = None, []
                    if sql:
                        write_text(out, text)
                        text = []
                        pending_sql = sql
                        pending_rows += rows_of(s)
                    else:
                        text.append(s)
                write_text(out, text)
            if pending_sql:
                write_bulk(out, pending_sql, pending_rows)


def main():
    bulk = "--bulk" in sys.argv
    log, out = [a for a in sys.argv[1:] if a != "--bulk"]
    os.makedirs(out, exist_ok=True)
    open_transactions, kept = {}, []
    for connection, command, text in entries(log):
        if command in ("Query", "Execute"):
            handle(open_transactions, kept, connection, text.strip())
    statements = 0
    groups = streams(kept)
    for number, transactions in enumerate(groups):
        if bulk:
            write_bulk_stream(os.path.join(out, "stream-%03d.ops" % number), transactions)
            statements += sum(entry.count(";\n") + 1 for transaction in transactions for entry in transaction)
            continue
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
