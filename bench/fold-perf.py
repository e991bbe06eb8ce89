#!/usr/bin/env python3
"""Folds `perf script` output (perf record -g) into one line per stack, root first, frames joined by ';', with the
sample count last (the input of any flame graph tool), and prints the frames that hold the most samples: self
(leaf) and total (anywhere on the stack, counted once per sample). Swift symbols are demangled with
`swift demangle --simplified` when it is on the PATH.
    perf script -i perf.data | bench/fold-perf.py OUT.folded [TOP] [OUT.svg]
    bench/fold-perf.py OUT2.folded [TOP] [OUT.svg] < OUT.folded       (a folded file read back)
With OUT.svg, also a flame graph of its own (root at the bottom, a frame's width its share of the samples, frames
under 0.2% left out; hover a frame for its name and share).
"""
import collections
import re
import shutil
import subprocess
import sys
import zlib

out_path = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25

stacks = collections.Counter()
threads = collections.Counter()
frames, comm = [], None
frame_re = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)$")


def flush():
    global frames, comm
    if comm is not None:
        stacks[(comm,) + tuple(reversed(frames))] += 1
        threads[comm] += 1
    frames, comm = [], None


folded_input = False
for line in sys.stdin:
    line = line.rstrip("\n")
    if folded_input or (comm is None and not frames and ";" in line and line.rsplit(" ", 1)[-1].isdigit()):
        # Already folded (this script's own output): read it back as it is.
        folded_input = True
        stack, n = line.rsplit(" ", 1)
        parts = stack.split(";")
        stacks[tuple(parts)] += int(n)
        threads[parts[0]] += int(n)
        continue
    if not line.strip():
        flush()
        continue
    if not line.startswith((" ", "\t")):
        flush()
        comm = line.split()[0]
        continue
    m = frame_re.match(line)
    if not m:
        continue
    sym, dso = m.group(1), m.group(2)
    if sym == "[unknown]":
        sym = "[" + dso.rsplit("/", 1)[-1] + "]"
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    frames.append(sym)
flush()

# Demangle every distinct Swift symbol once.
names = sorted({f for s in stacks for f in s if f.startswith(("$s", "_$s"))})
demangled = {}
tool = shutil.which("swift-demangle") or shutil.which("swift")
if names and tool:
    cmd = [tool, "--simplified", "--compact"] if tool.endswith("swift-demangle") else [tool, "demangle", "--simplified", "--compact"]
    res = subprocess.run(cmd, input="\n".join(names) + "\n", capture_output=True, text=True)
    lines = res.stdout.splitlines()
    if res.returncode == 0 and len(lines) == len(names):
        demangled = dict(zip(names, lines))


def name(f):
    return demangled.get(f, f).replace(";", ",")


total = sum(stacks.values())
self_count, incl = collections.Counter(), collections.Counter()
with open(out_path, "w") as out:
    for stack, n in stacks.most_common():
        named = [name(f) for f in stack]
        out.write(";".join(named) + " " + str(n) + "\n")
        self_count[named[-1]] += n
        for f in set(named[1:]):
            incl[f] += n

print(f"{total} samples; by thread: " + ", ".join(f"{c} {100 * n / total:.1f}%" for c, n in threads.most_common(8)))
print(f"\ntop {top} frames by self samples:")
for f, n in self_count.most_common(top):
    print(f"{100 * n / total:6.2f}%  {f[:150]}")
# Where Bazaar's samples go, by the first area (in this order) found on a sample's stack.
AREAS = [
    ("group commit (MySQL batch: lock, apply, flush, commit)", ("commitBatch", "GroupCommitter", "MySQLLedgerTransaction")),
    ("outbox relay: read outbox, render + sign events, produce", ("OutboxRelay", "KafkaEventPublisher", "outboxBatch", "deleteOutbox", "KafkaProducer")),
    ("movement consumer: read back, verify, evaluate alerts", ("MovementIntelligenceConsumer", "IntelligenceService", "KafkaConsumer")),
    ("Redis: cache offer script, coherence subscriber", ("RedisStockCache", "RedisConnection", "RedisChannelHandler", "RedisCoherence", "RedisSubscriber", "RedisClient")),
    ("HTTP handler: auth, decode body, service, answer", ("StockController", "Middleware", "RouterResponder", "JSONBody", "StockService")),
    ("other MySQL connection threads (replica monitor, reads)", ("MySQLConnection", "MySQLPreparedStatement", "NIOThreadPool")),
    ("HTTP server I/O (NIO sockets, HTTP/1 parse and encode)", ("HTTPDecoder", "HTTPResponseEncoder", "HTTP1ToHTTPServerCodec", "NIOAsyncChannel", "BaseSocketChannel", "SelectableEventLoop")),
]
areas = collections.Counter()
for stack, n in stacks.items():
    named = [name(f) for f in stack]
    area = "librdkafka threads" if stack[0].startswith("rdk:") else "other (runtime, scheduler, idle wake-ups)"
    for label, keys in AREAS:
        if any(k in f for f in named for k in keys):
            area = label
            break
    areas[area] += n
print("\nby area (first match on the stack):")
for a, n in areas.most_common():
    print(f"{100 * n / total:6.2f}%  {a}")

print(f"\ntop {top} frames by total samples (on the stack):")
for f, n in incl.most_common(top):
    print(f"{100 * n / total:6.2f}%  {f[:150]}")


def svg(path, folded, total, title="Bazaar under POST /update-stock"):
    """A flame graph: frames merged by prefix, root at the bottom."""
    root = {"n": 0, "c": {}}
    for stack, n in folded:
        node = root
        node["n"] += n
        for f in stack:
            node = node["c"].setdefault(f, {"n": 0, "c": {}})
            node["n"] += n
    width, row, minimum = 1600, 16, total * 0.002
    rects, depth_max = [], 0

    def walk(node, x, depth):
        nonlocal depth_max
        for f, child in sorted(node["c"].items()):
            if child["n"] >= minimum:
                depth_max = max(depth_max, depth)
                rects.append((x, depth, child["n"], f))
                walk(child, x, depth + 1)
            x += child["n"]

    walk(root, 0, 0)
    height = (depth_max + 3) * row
    esc = lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="11">',
           f'<text x="4" y="13">{esc(title)}: {total} samples (perf record -g, 499 Hz)</text>']
    for x, depth, n, f in rects:
        px, w, y = x * width / total, n * width / total, height - (depth + 1) * row
        h = zlib.crc32(f.encode())
        hue = 10 + h % 40
        label = esc(f)
        out.append(f'<g><title>{label} ({100 * n / total:.2f}%)</title><rect x="{px:.1f}" y="{y}" width="{max(w - 0.5, 0.5):.1f}" '
                   f'height="{row - 1}" fill="hsl({hue},85%,{55 + h // 40 % 15}%)"/>')
        chars = int(w / 6.6)
        if chars >= 3:
            out.append(f'<text x="{px + 2:.1f}" y="{y + row - 4}">{esc(f[:chars] if len(f) <= chars else f[:chars - 2] + "..")}</text>')
        out.append("</g>")
    out.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


if len(sys.argv) > 3:
    svg(sys.argv[3], [([name(f) for f in stack], n) for stack, n in stacks.items()], total)
