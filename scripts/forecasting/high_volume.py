#!/usr/bin/env python3
"""Three synthetic high-volume daily series for `bazaar simulate` (issue 16's case; no real data of this volume
ships with the project): about 2,000 a day (normal, sd 250), about 800 a day (sd 120), and lumpy demand (no sale
on half the days, else uniform 0-2,500). 208 days each, fixed seed. Run once from the repository root:
    python3 scripts/forecasting/high_volume.py > scripts/forecasting/high-volume-3.csv
"""
import random

rng = random.Random(16)
print("series_id,period,value")
for name, draw in [
    ("milk-2000", lambda: max(0, round(rng.gauss(2000, 250)))),
    ("bread-800", lambda: max(0, round(rng.gauss(800, 120)))),
    ("lumpy-0-2500", lambda: 0 if rng.random() < 0.5 else round(rng.uniform(0, 2500))),
]:
    for day in range(1, 209):
        print(f"{name},{day},{draw()}")
