#!/usr/bin/env python3
"""Crash and shutdown checks of the real `bazaar` binary (issue 10), stdlib only.

    scripts/chaos.py BIN --database-url URL [--replica-urls URLS] [--kafka-brokers B]

crash:    16 writers post movements with Idempotency-Keys; the server is killed with SIGKILL mid-load and
          restarted; every request is sent again with its key. Nothing answered is lost (a retry of an answered
          request replays the same movement), nothing is applied twice (each key's reference is in the ledger
          once), and every level equals the sum of its ledger (quantity and version).
shutdown: a backlog of thousands of outbox events that cannot be published (the broker address is a closed
          loopback port), then SIGTERM: the process exits within shutdown.timeout_seconds; after a restart that
          can publish, the outbox empties. Then webhooks that never answer (a loopback listener that accepts and
          stays silent) with hundreds of deliveries in flight: SIGTERM still exits within the bound.
orders:   SIGKILL during keyed purchase-order creation, every key sent again: one order a key, `incoming` exact.
plan:     SIGKILL while clients act on replenishment plans (keyed transfer calls), every key sent again: answered calls
          replay, no transfer half made, every level the sum of its ledger.
ingest:   (MySQL, with --kafka-python) SIGKILL while the node ingests 30,000 Kafka commands on one partition in
          transactions of thousands, inserts sent in parts ahead of the COMMIT; after a restart each command is
          applied once, every level equals the sum of its ledger and of its commands, and the days of demand
          kept (the table's and the stock rows') equal the rollup of the ledger.

Only loopback is ever contacted. Prints one line per check and 'N passed, N failed'; exits 1 on a failure.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

KEY = "chaos-admin-key-0123456789"
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def call(port, method, path, body=None, idempotency_key=None, timeout=10, consistency=None):
    """One request; `consistency` is a write's `Bazaar-Consistency` token, sent back so that the read sees that
    write (and every commit before it) even from a lagging replica, and skips the node's cache."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {KEY}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if idempotency_key:
        request.add_header("Idempotency-Key", idempotency_key)
    if consistency:
        request.add_header("Bazaar-Consistency", consistency)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


class Server:
    def __init__(self, binary, port, log, extra_env):
        self.binary, self.port, self.log, self.extra_env = binary, port, log, extra_env
        self.process = None

    def start(self, args):
        env = dict(os.environ, BAZAAR_ADMIN_KEY=KEY, **self.extra_env)
        self.process = subprocess.Popen([self.binary, "serve", "--http-port", str(self.port)] + args,
                                        stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/live", timeout=1).read()
                return True
            except Exception:
                if self.process.poll() is not None:
                    return False
                time.sleep(0.1)
        return False

    def kill(self, sig):
        self.process.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


def terminate_within(server, bound, label):
    """SIGTERM, then the check that the process is gone within `bound` seconds (a second of slack for the OS)."""
    started = time.time()
    server.kill(signal.SIGTERM)
    code = server.wait(bound + 20)
    took = time.time() - started
    print(f"     SIGTERM to exit: {took:.1f} s (bound {bound} s)")
    check(f"{label}: the process exits within the bound", code is not None and took <= bound + 1.0, f"took {took:.1f} s, code {code}")


def audit_pages(port, query, token):
    """Every page of `/audit-logs?<query>`, newest first, read with the consistency token."""
    cursor = None
    while True:
        _, page, _ = call(port, "GET", f"/audit-logs?{query}&limit=1000" + (f"&cursor={cursor}" if cursor else ""), consistency=token)
        yield page
        cursor = page.get("next_cursor")
        if not cursor or not page["items"]:
            return


def applied_references(port, store, prefix, token):
    """How many ledger rows of `store` carry each reference that starts with `prefix`."""
    seen = {}
    for page in audit_pages(port, f"store_id={store}", token):
        for item in page["items"]:
            reference = item.get("reference") or ""
            if reference.startswith(prefix):
                seen[reference] = seen.get(reference, 0) + 1
    return seen


def pair_ledger(port, store, product, token):
    """The pair's ledger as (quantity, rows): its balance at the last archive cut-off if `bazaar archive` ran
    (invariant 1: quantity = checkpoint + the ledger after it), plus every row after it."""
    total = rows = None
    for page in audit_pages(port, f"store_id={store}&product_id={product}", token):
        if total is None:
            checkpoint = page.get("checkpoint") or {"quantity": 0, "rows": 0}
            total, rows = checkpoint["quantity"], checkpoint["rows"]
        total += sum(item["delta"] for item in page["items"])
        rows += len(page["items"])
    return total, rows


def serve_with_catalog(args, port, log, name, stores, products, env=None):
    """A node on the scenario's database (and replica) with `stores` and `products` (and SYNC) in the catalog; the
    node and its start arguments, for a restart. `env`: settings of the scenario's own."""
    server = Server(args.binary, port, log, env or {})
    base = ["--database-url", args.database_url] + (["--database-replica-urls", args.replica_urls] if args.replica_urls else [])
    check(f"{name}: serve starts", server.start(base))
    for s in stores:
        call(port, "PUT", f"/v1/stores/{s}", {"name": s})
    for p in products + ["SYNC"]:
        call(port, "PUT", f"/v1/products/{p}", {"name": p})
    return server, base


def kill_under_load(name, server, base, writers, answers, requests):
    """Starts the writers, SIGKILLs the node once some of their requests are answered (a loaded machine may take a
    while to answer the first ones), waits for the writers, and restarts the node on the same database."""
    for t in writers:
        t.start()
    deadline = time.time() + 30
    while time.time() < deadline and len(answers) < 24:
        time.sleep(0.05)
    time.sleep(0.3)
    server.kill(signal.SIGKILL)
    server.wait(10)
    for t in writers:
        t.join()
    print(f"     {len(answers)} of {len(requests)} requests answered before SIGKILL")
    check(f"{name}: some requests were answered before the kill", 0 < len(answers) < len(requests), f"{len(answers)} of {len(requests)}")
    check(f"{name}: restarts on the same database", server.start(base))


def check_once_each(name, seen, requests, what):
    """Each of `requests` (by key) counted once in `seen` (key -> how many times it took effect)."""
    twice = [k for k, n in seen.items() if n > 1]
    check(f"{name}: no request {what} twice", not twice, f"{len(twice)} twice, e.g. {twice[:3]}")
    check(f"{name}: every request {what}", len(seen) == len(requests), f"{len(seen)} of {len(requests)}")


def crash(args, port, log):
    stores, products = ["C1", "C2"], ["P1", "P2", "P3"]
    server, base = serve_with_catalog(args, port, log, "crash", stores, products)
    run = f"{random.randrange(1 << 30):x}"
    requests = {}  # key -> (store, product, delta)
    answers = {}  # key -> movement_id answered before the crash
    lock = threading.Lock()

    def writer(w):
        for i in range(150):
            key = f"{run}-{w}-{i}"
            store, product, delta = stores[(w + i) % 2], products[(w * 7 + i) % 3], 1 + (i % 3)
            with lock:
                requests[key] = (store, product, delta)
            try:
                status, body, _ = call(port, "POST", f"/update-stock/{store}/{product}",
                                       {"delta": delta, "reason": "receipt", "reference": key}, idempotency_key=key, timeout=5)
                if status == 200:
                    with lock:
                        answers[key] = body["movement_id"]
            except Exception:
                pass  # the server is gone: sent again after the restart

    kill_under_load("crash", server, base, [threading.Thread(target=writer, args=(w,)) for w in range(16)], answers, requests)
    lost, changed, failures = 0, 0, 0
    for key, (store, product, delta) in requests.items():
        status, body, _ = call(port, "POST", f"/update-stock/{store}/{product}",
                               {"delta": delta, "reason": "receipt", "reference": key}, idempotency_key=key)
        if status != 200:
            failures += 1
        elif key in answers and body.get("movement_id") != answers[key]:
            changed += 1
        if key in answers and status != 200:
            lost += 1
    check("crash: every retry is answered 200", failures == 0, f"{failures} failed")
    check("crash: an answered write replays the same movement (nothing answered was lost)", changed == 0 and lost == 0,
          f"{changed} changed, {lost} lost")
    # The reads below compare levels (which the node may answer from its cache, newest) with the ledger (read from the
    # replica, which may lag): with no token they could see two moments and disagree with nothing lost. One more
    # write, on a pair the checks leave out, commits after every write above, answered or not (a write the kill cut
    # off may have committed unanswered, so no answer's token is sure to be the newest); its token sent on every
    # read makes them all see at least that point, from the replica or else the primary. On SQLite there is none.
    status, _, headers = call(port, "POST", f"/update-stock/{stores[0]}/SYNC", {"delta": 1, "reason": "receipt"})
    token = next((v for k, v in headers.items() if k.lower() == "bazaar-consistency"), None)
    check("crash: a write after the retries is answered", status == 200, str(status))
    if args.replica_urls:
        check("crash: ... with a consistency token", token is not None, str(headers))
    # Each key applied exactly once; each level equals its ledger.
    seen = {}
    for store in stores:
        for reference, count in applied_references(port, store, run, token).items():
            seen[reference] = seen.get(reference, 0) + count
    check_once_each("crash", seen, requests, "applied")
    bad = []
    for store in stores:
        for product in products:
            _, level, _ = call(port, "GET", f"/get-stock/{store}/{product}", consistency=token)
            mine = [d for k, (s, p, d) in requests.items() if s == store and p == product]
            # Each pair starts at zero in this run's fresh database, or carries earlier runs' rows: compare with
            # the whole ledger of the pair, and its balance at the last archive cut-off if `bazaar archive` ran
            # (invariant 1: quantity = checkpoint + the ledger after it).
            total, rows = pair_ledger(port, store, product, token)
            if level["quantity"] != total or level["version"] != rows or total < sum(mine):
                bad.append((store, product, level, total, rows))
    check("crash: every level equals the sum of its ledger", not bad, str(bad[:2]))
    # What the killed process committed and had not published (on MySQL, whole group commits' outbox ranges) is
    # published by the restarted one.
    check("crash: after the restart the outbox empties", outbox_empties(port))
    server.kill(signal.SIGTERM)
    server.wait(30)


def order_pages(port, store, token):
    """Every purchase order of `store`, newest first, read with the consistency token."""
    cursor, orders = None, []
    while True:
        _, page, _ = call(port, "GET", f"/v1/purchase-orders?store_id={store}&limit=200" + (f"&cursor={cursor}" if cursor else ""),
                          consistency=token)
        orders += page.get("items", [])
        cursor = page.get("next_cursor")
        if not cursor or not page.get("items"):
            return orders


def orders_crash(args, port, log):
    """SIGKILL while 12 clients create purchase orders with Idempotency-Keys (an order's row, its lines, its stores'
    `incoming` and its key's record: one transaction), then every key sent again: each key made one order, an answered
    one replays the same order, and every pair's `incoming` equals what its open orders hold."""
    stores, products = ["O1", "O2"], ["P1", "P2", "P3"]
    server, base = serve_with_catalog(args, port, log, "orders", stores, products)
    run = f"po{random.randrange(1 << 30):x}"
    requests, answers, lock = {}, {}, threading.Lock()

    def body(w, i):
        lines = [{"product_id": products[(w + i + n) % 3], "quantity": 1 + (i + n) % 5} for n in range(1 + i % 2)]
        return {"store_id": stores[(w + i) % 2], "supplier": "chaos", "reference": f"{run}-{w}-{i}", "lines": lines}

    def writer(w):
        for i in range(2000):  # until the kill
            key = f"{run}-{w}-{i}"
            with lock:
                requests[key] = body(w, i)
            try:
                status, answer, _ = call(port, "POST", "/v1/purchase-orders", requests[key], idempotency_key=key, timeout=5)
                if status == 201:
                    with lock:
                        answers[key] = answer["purchase_order_id"]
            except Exception:
                return  # the server is gone: this key (answered or not) is sent again after the restart

    kill_under_load("orders", server, base, [threading.Thread(target=writer, args=(w,)) for w in range(12)], answers, requests)
    failures, changed = 0, 0
    for key, request in requests.items():
        status, answer, _ = call(port, "POST", "/v1/purchase-orders", request, idempotency_key=key)
        failures += status not in (200, 201)
        changed += key in answers and answer.get("purchase_order_id") != answers[key]
    check("orders: every retry is answered", failures == 0, f"{failures} failed")
    check("orders: an answered order replays as the same order", changed == 0, f"{changed} changed")
    status, _, headers = call(port, "POST", f"/update-stock/{stores[0]}/SYNC", {"delta": 1, "reason": "receipt"})
    token = next((v for k, v in headers.items() if k.lower() == "bazaar-consistency"), None)
    made, incoming = {}, {}
    for store in stores:
        for order in order_pages(port, store, token):
            if (order.get("reference") or "").startswith(run):
                made[order["reference"]] = made.get(order["reference"], 0) + 1
            for line in order["lines"] if order["status"] != "closed" else []:
                pair = (store, line["product_id"])
                incoming[pair] = incoming.get(pair, 0) + line["quantity"] - line["received"]
    check_once_each("orders", made, requests, "made its order")
    wrong = []
    for store in stores:
        for product in products:
            _, level, _ = call(port, "GET", f"/get-stock/{store}/{product}", consistency=token)
            if level.get("incoming", 0) != incoming.get((store, product), 0):
                wrong.append((store, product, level.get("incoming"), incoming.get((store, product), 0)))
    check("orders: every pair's incoming equals its open orders", not wrong, str(wrong[:3]))
    server.kill(signal.SIGTERM)
    server.wait(30)


def history(port, store, product, days=28, receipt=400):
    """`days` days of sales of `product` at `store` (a receipt before them), dated in the past: enough demand for the
    stock intelligence's next pass to store thresholds."""
    now = time.time()
    at = lambda days_ago: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - days_ago * 86400))
    items = [{"store_id": store, "product_id": product, "delta": receipt, "reason": "receipt", "occurred_at": at(days + 1)}]
    items += [{"store_id": store, "product_id": product, "delta": -10 - d % 3, "reason": "sale", "occurred_at": at(d)} for d in range(days, 0, -1)]
    return call(port, "POST", "/v1/movements", {"movements": items})[0]


def plan_crash(args, port, log):
    """SIGKILL while 12 clients act on their stores' replenishment plans (`POST .../replenishment/transfers`, every
    call keyed; each a pair of ledger rows a transfer from one source, made in one write) and sell what arrived; then
    every key sent again. An answered call replays the same movements; every transfer is whole (each `transfer_out`
    at the source has its `transfer_in`, of the same quantity, written with it); every level equals the sum of its
    ledger. Two products: a call's write holds two transfers. The source holds a few dozen calls' worth above its
    own level, so that calls late in the run find less to spare than their plan said (made smaller, or refused)."""
    source, destinations, products = "PS", [f"PD{n}" for n in range(12)], ["PX", "PY"]
    # The stock intelligence's pass every second (default 60 s): the thresholds of the history below are stored
    # within a second or two, not after the next minute's pass.
    server, base = serve_with_catalog(args, port, log, "plan", [source] + destinations, products,
                                      env={"BAZAAR_INTELLIGENCE_PASS_INTERVAL_SECONDS": "1"})
    run = f"plan{random.randrange(1 << 30):x}"
    loaded = [history(port, s, p) for s in [source] + destinations for p in products]
    check("plan: history loaded", all(status == 200 for status in loaded), str(loaded))
    for product in products:
        call(port, "POST", f"/update-stock/{source}/{product}", {"delta": 3_000, "reason": "receipt"})
    deadline = time.time() + 60
    while time.time() < deadline and len(call(port, "GET", f"/v1/stores/{destinations[-1]}/replenishment")[1].get("transfers", [])) < 2:
        time.sleep(0.5)
    check("plan: the plan suggests transfers from the source", time.time() < deadline)
    requests, answers, lock = {}, {}, threading.Lock()
    moved_ids = lambda answer: sorted(t[end]["movement_id"] for t in answer.get("transfers", []) for end in ("from", "to"))
    path = lambda w: f"/v1/stores/{destinations[w]}/replenishment/transfers"

    def writer(w):
        for i in range(2000):  # until the kill
            key = f"{run}-{w}-{i}"
            with lock:
                requests[key] = w
            try:
                status, answer, _ = call(port, "POST", path(w), {}, idempotency_key=key, timeout=5)
                if status == 200:
                    with lock:
                        answers[key] = moved_ids(answer)
                # Sell down to 100 (or 50, where nothing arrived), so that the store is short again.
                arrived = {t["to"]["product_id"]: t["to"]["quantity"] for t in answer.get("transfers", [])} if status == 200 else {}
                for product in products:
                    call(port, "POST", f"/update-stock/{destinations[w]}/{product}",
                         {"delta": -max(arrived.get(product, 0) - 100, 50), "reason": "sale"}, timeout=5)
            except Exception:
                return  # the server is gone: this key (answered or not) is sent again after the restart

    kill_under_load("plan", server, base, [threading.Thread(target=writer, args=(w,)) for w in range(12)], answers, requests)
    unanswered, changed = 0, 0
    for key, w in requests.items():
        status, answer, _ = call(port, "POST", path(w), {}, idempotency_key=key, timeout=30)
        unanswered += status not in (200, 409)
        changed += key in answers and (status != 200 or moved_ids(answer) != answers[key])
    check("plan: every retry is answered (200, or 409 with nothing left to move)", unanswered == 0, f"{unanswered} otherwise")
    check("plan: an answered call replays the same movements", changed == 0, f"{changed} changed")
    status, _, headers = call(port, "POST", f"/update-stock/{source}/SYNC", {"delta": 1, "reason": "receipt"})
    token = next((v for k, v in headers.items() if k.lower() == "bazaar-consistency"), None)
    out = [i for page in audit_pages(port, f"store_id={source}&reason=transfer_out", token) for i in page["items"]]
    into = [i for s in destinations for page in audit_pages(port, f"store_id={s}&reason=transfer_in", token) for i in page["items"]]
    # A write's rows share its time: by time and product, the quantities that left equal those that arrived.
    written = lambda rows, sign: sorted((i["at"], i["product_id"], sign * i["delta"]) for i in rows)
    check("plan: every transfer whole (each transfer_out has its transfer_in of the same quantity, written with it)",
          len(out) > 0 and written(out, -1) == written(into, 1),
          f"{len(out)} out ({sum(i['delta'] for i in out)}), {len(into)} in ({sum(i['delta'] for i in into)})")
    _, items, _ = call(port, "GET", f"/v1/stores/{source}/items", consistency=token)
    print("     the source at the end (quantity / order-up-to):",
          ", ".join(f"{i.get('product_id')} {i.get('quantity', i.get('on_hand'))} / {i.get('order_up_to')}" for i in items.get("items", [])))
    bad = []
    for store, product in [(s, p) for s in [source] + destinations for p in products]:
        _, level, _ = call(port, "GET", f"/get-stock/{store}/{product}", consistency=token)
        total, rows = pair_ledger(port, store, product, token)
        if level["quantity"] != total or level["version"] != rows:
            bad.append((store, product, level, total, rows))
    check("plan: every level equals the sum of its ledger", not bad, str(bad[:2]))
    check("plan: after the restart the outbox empties", outbox_empties(port))
    server.kill(signal.SIGTERM)
    server.wait(30)


def revocation(args, port, log):
    """Two nodes sharing a database and a Redis of their own. A key node B has just trusted is revoked through node A:
    with Redis up, B refuses it at once; with Redis stopped, within the documented 5 s; with Redis started again
    (B's subscriber back), at once again."""
    redis_port = port + 7
    channel = "bazaar:api-key-revocations"  # the default key prefix's channel

    def redis_cli(*command):
        done = subprocess.run(["redis-cli", "-p", str(redis_port)] + list(command), capture_output=True, text=True, timeout=5)
        return done.stdout.split()

    def start_redis():
        server = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline and server.poll() is None:
            if redis_cli("PING") == ["PONG"]:
                return server
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {redis_port} did not start (is the port taken?)")

    def subscribers_within(seconds):
        """Whether both nodes listen on the revocation channel within `seconds` (B's subscriber reconnects by itself)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if redis_cli("PUBSUB", "NUMSUB", channel)[-1:] == ["2"]:
                return True
            time.sleep(0.1)
        return False

    def refused_after(key_id, secret, bound):
        """Revokes through A what B has just answered; the seconds until B refuses it (None: not within `bound`)."""
        call_as = lambda: call_with(port + 1, "GET", "/v1/stores?limit=1", secret)
        if call_as() != 200:
            return -1
        status, _, _ = call(port, "DELETE", f"/v1/api-keys/{key_id}")
        if status not in (200, 204):
            return -2
        start = time.time()
        while time.time() - start < bound:
            if call_as() == 401:
                return time.time() - start
            time.sleep(0.05)
        return None

    def new_key(name):
        status, body, _ = call(port, "POST", "/v1/api-keys", {"name": f"{name}-{random.randrange(1 << 30):x}", "role": "reader"})
        return (body["id"], body["key"]) if status == 201 else (None, None)

    redis = start_redis()
    nodes = [Server(args.binary, port, log, {}), Server(args.binary, port + 1, log, {})]
    try:
        base = ["--database-url", args.database_url, "--redis-url", f"redis://127.0.0.1:{redis_port}/0"]
        check("revocation: two nodes start on one Redis", all(node.start(base) for node in nodes) and subscribers_within(15))
        at_once = refused_after(*new_key("rv-up"), 5)
        check("revocation: with Redis up, B refuses a revoked key at once", at_once is not None and 0 <= at_once < 1, str(at_once))
        redis.kill()
        redis.wait()
        down = refused_after(*new_key("rv-down"), 8)
        check("revocation: with Redis stopped, B refuses it within 5 s", down is not None and 0 <= down <= 6, str(down))
        redis = start_redis()
        check("revocation: both nodes listen again once Redis is back", subscribers_within(15))
        again = refused_after(*new_key("rv-back"), 5)
        check("revocation: with Redis back, B refuses a revoked key at once again", again is not None and 0 <= again < 1, str(again))
        print(f"     B refused the revoked key after {at_once:.2f} s (Redis up), {down:.2f} s (stopped), {again:.2f} s (back)"
              if None not in (at_once, down, again) else "     a revoked key was not refused in time")
    finally:
        for node in nodes:
            if node.process and node.process.poll() is None:
                node.kill(signal.SIGTERM)
                node.wait(30)
        redis.kill()
        redis.wait()


def call_with(port, method, path, secret):
    """The status of one request made with another API key than the admin's."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    request.add_header("Authorization", f"Bearer {secret}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def outbox_empties(port, seconds=90):
    """Whether `bazaar_outbox_depth` (recorded every 5 s) reaches 0 within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        if any(line.startswith("bazaar_outbox_depth ") and float(line.split()[1]) == 0 for line in metrics.splitlines()):
            return True
        time.sleep(1)
    return False


def shutdown(args, port, log):
    bound = 5
    server = Server(args.binary, port, log, {"BAZAAR_SHUTDOWN_TIMEOUT_SECONDS": str(bound)})
    folder = tempfile.mkdtemp()
    database = args.database_url if args.database_url.startswith("mysql") else f"sqlite://{folder}/shutdown.sqlite"
    # Port 1 on loopback: nothing listens, so nothing can be published and the outbox grows.
    check("shutdown: serve starts with an unreachable broker", server.start(["--database-url", database, "--kafka-brokers", "127.0.0.1:1"]))
    call(port, "PUT", "/v1/stores/D1", {"name": "d"})
    products = [f"P{i}" for i in range(100)]
    for p in products:
        call(port, "PUT", f"/v1/products/{p}", {"name": p})
    written = 0
    for round in range(40):
        movements = [{"store_id": "D1", "product_id": p, "delta": 1, "reason": "receipt"} for p in products]
        status, _, _ = call(port, "POST", "/v1/movements", {"movements": movements}, timeout=30)
        written += len(movements) if status in (200, 201) else 0
    print(f"     {written} movements committed with the broker unreachable")
    check("shutdown: a backlog was committed", written >= 3000, str(written))
    terminate_within(server, bound, "shutdown")
    # A restart that can publish (the in-process bus, or the real broker) empties the outbox.
    restart = ["--database-url", database] + (["--kafka-brokers", args.kafka_brokers] if args.kafka_brokers else [])
    check("shutdown: restarts", server.start(restart))
    check("shutdown: after the restart everything committed is published", outbox_empties(port))
    server.kill(signal.SIGTERM)
    server.wait(30)


def webhooks(args, port, log):
    """SIGTERM while webhook deliveries hang on receivers that never answer: the process must not wait on them."""
    import socket
    bound = 5
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    held, accepted = [], threading.Event()

    def blackhole():  # accepts and never answers
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)
            accepted.set()

    threading.Thread(target=blackhole, daemon=True).start()
    hole = listener.getsockname()[1]
    server = Server(args.binary, port, log, {"BAZAAR_SHUTDOWN_TIMEOUT_SECONDS": str(bound), "BAZAAR_WEBHOOKS_ALLOWED_HOSTS": "127.0.0.1"})
    folder = tempfile.mkdtemp()
    check("webhooks: serve starts", server.start(["--database-url", f"sqlite://{folder}/webhooks.sqlite"]))
    call(port, "PUT", "/v1/stores/W1", {"name": "w"})
    for i in range(20):
        status, _, _ = call(port, "POST", "/v1/webhooks", {"url": f"http://127.0.0.1:{hole}/hook{i}", "stores": ["W1"]})
        if status != 201:
            check("webhooks: registered", False, str(status))
            break
    for p in range(30):
        call(port, "PUT", f"/v1/products/Q{p}", {"name": "q"})
        call(port, "POST", f"/update-stock/W1/Q{p}", {"delta": -1, "reason": "sale"})  # a fact below zero: an alert
    check("webhooks: deliveries are hanging on the silent receiver", accepted.wait(20))
    time.sleep(1)
    print(f"     {len(held)} connections held open by the silent receiver")
    terminate_within(server, bound, "webhooks")
    listener.close()
    for connection in held:
        connection.close()


def metrics(port, *prefixes):
    """The value of the first /metrics line starting with each prefix (0 if none), from one read; None if the read
    failed (the node is busy or gone: the caller reads again)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except Exception:
        return None
    values = []
    for prefix in prefixes:
        values.append(next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix)), 0))
    return values


def primary_rows(args, sql):
    """Rows of `sql` on the primary of `--database-url` (mysql://user[:password]@host:port/database), by the
    `mariadb` client: tab-separated fields."""
    url = urllib.parse.urlparse(args.database_url)
    command = ["mariadb", "--protocol=tcp", "-h", url.hostname, "-P", str(url.port or 3306), "-u", url.username or "root",
               "-N", "-B", url.path.lstrip("/"), "-e", sql]
    if url.password:
        command.insert(1, f"-p{urllib.parse.unquote(url.password)}")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def demand_days(args, store):
    """A store's days of demand on MySQL as kept (issue 15: settled days in `stock_demand_daily`, each pair's latest
    day on its stock row; a day in both merged, the table's first) and as the rollup of its ledger computes them
    (DemandDays.rollup): {(product, day): (sold, returned, in_stock, closing)} each."""
    kept = {}
    for place in (f"SELECT product_id, day, sold, returned, in_stock, closing FROM stock_demand_daily WHERE store_id = '{store}'",
                  f"SELECT product_id, demand_day, demand_sold, demand_returned, demand_in_stock, demand_closing FROM stock_levels "
                  f"WHERE store_id = '{store}' AND demand_day IS NOT NULL"):
        for product, day, sold, returned, in_stock, closing in primary_rows(args, place):
            before = kept.get((product, int(day)), (0, 0, 0, None))
            kept[(product, int(day))] = (before[0] + int(sold), before[1] + int(returned), max(before[2], int(in_stock)), int(closing))
    rolled = {}
    for product, at, reason, delta, q_before, q_after in primary_rows(args, (
            f"SELECT product_id, at_ms, reason, delta, quantity_before, quantity_after FROM stock_movements "
            f"WHERE store_id = '{store}' ORDER BY seq")):
        key, delta = (product, int(at) // 86_400_000), int(delta)
        sold, returned, in_stock, _ = rolled.get(key, (0, 0, 0, None))
        rolled[key] = (sold + (-delta if reason == "sale" else 0), returned + (delta if reason == "return" else 0),
                       max(in_stock, int(int(q_before) > 0 or int(q_after) > 0)), int(q_after))
    return kept, rolled


def ingest_crash(args, port, log):
    """SIGKILL while the node ingests a backlog of Kafka commands on one partition, in transactions of thousands
    whose inserts go to the primary in parts ahead of their COMMIT; then a restart. Every command is applied once
    (its id is its idempotency key, and its reference), every level equals the sum of its ledger, and the days of
    demand kept equal the rollup of the ledger."""
    helper = [args.kafka_python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafka-commands.py")]
    run = f"ingest{random.randrange(1 << 30):x}"
    group = f"chaos-{run}"
    store, n = f"K{run}", 30000
    applied_line = 'bazaar_movements_applied_total{reason="receipt"}'
    server = Server(args.binary, port, log, {"BAZAAR_KAFKA_CONSUMER_GROUP": group})
    base = ["--database-url", args.database_url, "--kafka-brokers", args.kafka_brokers] + \
        (["--database-replica-urls", args.replica_urls] if args.replica_urls else [])
    # The group starts at the end of the topic (the broker holds every earlier test's commands). The catalog first,
    # by a node without Kafka (a member that joined the group and left at once could hold the group's next
    # rebalance for minutes), then the backlog, then the node with Kafka: its polls are full (thousands of commands
    # a transaction).
    subprocess.run(helper + ["start-at-end", args.kafka_brokers, group], check=True)
    without_kafka = [arg for arg in base if arg not in ("--kafka-brokers", args.kafka_brokers)]
    check("ingest: serve starts", server.start(without_kafka))
    call(port, "PUT", f"/v1/stores/{store}", {"name": "k"})
    for p in [f"P{i}" for i in range(10)] + ["SYNC"]:
        call(port, "PUT", f"/v1/products/{p}", {"name": p})
    server.kill(signal.SIGTERM)
    server.wait(30)
    subprocess.run(helper + ["produce", args.kafka_brokers, store, str(n), run], check=True)
    check("ingest: starts again with the backlog waiting", server.start(base))
    # The kill comes once a batch committed (3,000 commands at least) and the next one, still open, has sent parts of
    # its inserts: parts counted beyond those of the batches committed so far. The node's own counters (a read
    # through the node could come from a lagging replica).
    parts_line = "bazaar_db_insert_parts_sent_ahead_total"
    deadline, seen, parts, parts_committed, in_flight = time.time() + 120, 0, 0, 0, False
    while time.time() < deadline and not in_flight:
        read = metrics(port, applied_line, parts_line)
        if read is not None:
            if read[0] != seen:
                seen, parts_committed = read[0], read[1]
            parts = read[1]
            in_flight = seen >= 3000 and parts > parts_committed
        time.sleep(0.005)
    server.kill(signal.SIGKILL)
    server.wait(10)
    print(f"     SIGKILL with {int(seen)} commands applied by the node, {int(parts - parts_committed)} parts of an open batch sent")
    check("ingest: the kill came mid-ingestion, while a batch's inserts were in flight", in_flight and seen < n,
          f"{seen} applied, {parts} parts, {parts_committed} by committed batches")
    check("ingest: restarts on the same database", server.start(base))

    def applied():
        _, page, _ = call(port, "GET", f"/v1/stores/{store}/stock?limit=100")
        return sum(item["version"] for item in page.get("items", []) if item["product_id"] != "SYNC")

    deadline = time.time() + 240
    while time.time() < deadline and applied() < n:
        time.sleep(0.5)
    check("ingest: the restarted node applied the rest", (metrics(port, applied_line) or [0])[0] > 0)
    status, _, headers = call(port, "POST", f"/update-stock/{store}/SYNC", {"delta": 1, "reason": "receipt"})
    token = next((v for k, v in headers.items() if k.lower() == "bazaar-consistency"), None)
    check("ingest: a write after the ingestion is answered", status == 200, str(status))
    references, bad = applied_references(port, store, run, token), []
    twice = [k for k, c in references.items() if c > 1]
    check("ingest: no command applied twice", not twice, f"{len(twice)} twice, e.g. {twice[:3]}")
    for i in range(10):
        _, level, _ = call(port, "GET", f"/get-stock/{store}/P{i}", consistency=token)
        total, rows = pair_ledger(port, store, f"P{i}", token)
        expected = sum(j % 3 + 1 for j in range(i, n, 10))
        if level["quantity"] != total or level["version"] != rows or total != expected:
            bad.append((f"P{i}", level.get("quantity"), level.get("version"), total, rows, expected))
    check("ingest: every level equals the sum of its ledger, and of its commands", not bad, str(bad[:2]))
    kept, rolled = demand_days(args, store)
    check("ingest: the days of demand kept (the table's and the stock rows') equal the rollup of the ledger",
          kept == rolled and len(kept) >= 10, f"{len(kept)} kept, {len(rolled)} from the ledger; "
          f"differ: {sorted(set(kept.items()) ^ set(rolled.items()))[:3]}")
    check("ingest: every command applied", len(references) == n, f"{len(references)} of {n}")
    check("ingest: after the restart the outbox empties", outbox_empties(port))
    server.kill(signal.SIGTERM)
    server.wait(30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--replica-urls", default="")
    parser.add_argument("--kafka-brokers", default="")
    parser.add_argument("--port", type=int, default=18383)
    parser.add_argument("--kafka-python", default="", help="a Python with confluent-kafka: adds the ingestion crash (MySQL)")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", prefix="bazaar-chaos-", suffix=".log", delete=False) as log:
        print(f"     server log: {log.name}")
        crash(args, args.port, log)
        orders_crash(args, args.port, log)
        plan_crash(args, args.port, log)
        shutdown(args, args.port, log)
        if args.database_url.startswith("mysql"):
            revocation(args, args.port, log)
        if args.kafka_python and args.kafka_brokers and args.database_url.startswith("mysql"):
            ingest_crash(args, args.port, log)
        if not args.database_url.startswith("mysql"):
            webhooks(args, args.port, log)
    print(f"chaos: {passed} passed, {failed} failed")
    if not failed:
        os.unlink(log.name)  # kept only for a failed run
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
