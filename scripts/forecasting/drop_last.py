#!/usr/bin/env python3
"""Writes a series_id,period,value CSV with the last N periods of every series dropped, so that `bazaar simulate`
(which holds out the last --horizon periods) replays an earlier window: the rolling-origin check of a policy.
    python3 scripts/forecasting/drop_last.py ../shared/data/online-retail-50.csv 28 > /tmp/window1.csv
"""
import csv
import sys

path, drop = sys.argv[1], int(sys.argv[2])
rows = {}
order = []
with open(path, newline="") as f:
    for row in csv.DictReader(f):
        if row["series_id"] not in rows:
            rows[row["series_id"]] = []
            order.append(row["series_id"])
        rows[row["series_id"]].append(row)
print("series_id,period,value")
for sid in order:
    kept = rows[sid][: len(rows[sid]) - drop] if drop > 0 else rows[sid]
    for row in kept:
        print(f"{sid},{row['period']},{row['value']}")
