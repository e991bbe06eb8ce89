#!/usr/bin/env python3
"""The prototype behind issue 16's rolling-origin combination (BENCHMARKS.md, "Combinations chosen by rolling
origins"): every idea scored as `bazaar forecast backtest --windows 4` scores, RMSSE on the final 28 days and mean
RMSSE over the four 28-day windows before, with relative bias (forecast total over actual total, minus 1). Each
forecast uses only the data before its window, and so does every per-series ranking inside it. TSB and ADIDA equal
Bazaar's to 4 digits (SES's golden section is a 41-point grid here). Needs numpy only; takes a few minutes
(the exhaustive search over fixed combinations is the slow part: pass --quick to skip it).
    python3 scripts/forecasting/explore_combinations.py ../shared/data/online-retail-50.csv [--quick]
"""
import bisect
import csv
import datetime as dt
import itertools
import sys

import numpy as np

H = 28
PATH = next((a for a in sys.argv[1:] if not a.startswith("--")), "../shared/data/online-retail-50.csv")
QUICK = "--quick" in sys.argv
SERIES = {}
for row in csv.DictReader(open(PATH)):
    values, dates = SERIES.setdefault(row["series_id"], ([], []))
    values.append(float(row["value"]))
    dates.append(dt.date.fromisoformat(row["period"]))
SERIES = [(np.array(v), d) for v, d in SERIES.values()]


def ses(y, a):
    f = y[0] if len(y) else 0.0
    for x in y:
        f = a * x + (1 - a) * f
    return f


def ses_optimized(y, grid=np.linspace(0.1, 0.3, 41)):
    if len(y) < 2:
        return float(y[0]) if len(y) else 0.0
    level, sse = np.full(len(grid), float(y[0])), np.zeros(len(grid))
    for i in range(1, len(y)):
        level = grid * y[i - 1] + (1 - grid) * level
        sse += (y[i] - level) ** 2
    return ses(y, grid[np.argmin(sse)])


def tsb(y, ad=0.1, ap=0.1):
    sizes = y[y != 0]
    return 0.0 if len(sizes) == 0 else ses((y != 0).astype(float), ap) * ses(sizes, ad)


def tsb_fitted(y, grid=np.array([0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4])):
    nonzero = np.nonzero(y)[0]
    if len(nonzero) == 0:
        return 0.0
    first, warm = nonzero[0], min(len(y) // 4, 28)
    ad, ap = (g.ravel() for g in np.meshgrid(grid, grid, indexing="ij"))
    p, z, sse = np.full(len(ad), float(y[0] != 0)), np.full(len(ad), float(y[first])), np.zeros(len(ad))
    for t in range(1, len(y)):
        p = ap * float(y[t - 1] != 0) + (1 - ap) * p
        if y[t - 1] != 0 and t - 1 > first:
            z = ad * y[t - 1] + (1 - ad) * z
        if t >= warm:
            sse += (y[t] - p * z) ** 2
    i = np.argmin(sse)
    return tsb(y, ad[i], ap[i])


def intervals(y):
    return np.diff(np.concatenate([[-1], np.nonzero(y)[0]]))


def aggregated(y, k):
    cut = y[len(y) % k:]
    return ses_optimized(cut.reshape(-1, k).sum(1)) / k if len(cut) else 0.0


def adida(y):
    g = intervals(y)
    return aggregated(y, max(1, int(round(g.mean())))) if len(g) else 0.0


def imapa(y):
    g = intervals(y)
    return np.mean([aggregated(y, k) for k in range(1, max(1, int(round(g.mean()))) + 1)]) if len(g) else 0.0


def croston(y):
    sizes = y[y != 0]
    if len(sizes) == 0:
        return 0.0
    interval = ses(intervals(y).astype(float), 0.1)
    return ses(sizes, 0.1) / interval if interval else ses(sizes, 0.1)


def recent_mean(n):
    return lambda y: float(y[-n:].mean()) if len(y) else 0.0


LEVELS = {"tsbf": tsb_fitted, "tsb": tsb, "ses": ses_optimized, "imapa": imapa, "adida": adida,
          "sba": lambda y: 0.95 * croston(y), "m84": recent_mean(84), "m168": recent_mean(168),
          "croston": croston, "ha": lambda y: float(y.mean()), "m28": recent_mean(28), "m56": recent_mean(56),
          "m364": recent_mean(364)}
POOL8 = ["tsbf", "tsb", "ses", "imapa", "adida", "sba", "m84", "m168"]
_cache = {}


def level(name, s, cut):
    key = (name, s, cut)
    if key not in _cache:
        _cache[key] = LEVELS[name](SERIES[s][0][:cut])
    return _cache[key]


def score(forecast):
    """forecast(series index, cut) -> H values; (final RMSSE, final bias, earlier RMSSE, earlier bias)."""
    out = []
    for window in range(5):
        rmsse, f_total, a_total = [], 0.0, 0.0
        for s, (y, _) in enumerate(SERIES):
            end = len(y) - window * H
            cut = end - H
            scale = np.mean(np.diff(y[:cut]) ** 2)
            if scale == 0:
                continue
            f, actual = np.maximum(0, np.asarray(forecast(s, cut), float)), y[cut:end]
            rmsse.append(np.sqrt(np.mean((f - actual) ** 2) / scale))
            f_total, a_total = f_total + f.sum(), a_total + actual.sum()
        out.append((np.mean(rmsse), f_total, a_total))
    e = out[1:]
    return (out[0][0], out[0][1] / out[0][2] - 1, np.mean([x[0] for x in e]),
            sum(x[1] for x in e) / sum(x[2] for x in e) - 1)


def show(name, forecast):
    r = score(forecast)
    print(f"{name:62s} {r[2]:8.4f} {100 * r[3]:+6.1f}%  {r[0]:8.4f} {100 * r[1]:+6.1f}%", flush=True)
    return r


def ranked_median(pool, windows, top):
    """Per series: the median of the `top` levels with the least squared error over `windows` 28-period origins
    before the cut (fitted TSB when no origin leaves 56 periods)."""
    def forecast(s, cut):
        y = SERIES[s][0]
        origins = [cut - k * H for k in range(1, windows + 1) if cut - k * H >= 2 * H]
        if not origins:
            return np.full(H, level("tsbf", s, cut))
        errors = sorted((sum(np.sum((y[o:o + H] - level(n, s, o)) ** 2) for o in origins), n) for n in pool)
        return np.full(H, np.median([level(n, s, cut) for _, n in errors[:top]]))
    return forecast


def flat(f):
    return lambda s, cut: np.full(H, f(s, cut))


print(f"{'idea':62s} {'earlier':>8s} {'bias':>7s}  {'final':>8s} {'bias':>7s}")
for name in LEVELS:
    show(name, flat(lambda s, cut, n=name: level(n, s, cut)))
show("bound: each window's own mean", lambda s, cut: np.full(H, SERIES[s][0][cut:cut + H].mean()))
for windows, top in [(3, 1), (3, 3), (6, 1), (6, 3), (6, 5)]:
    show(f"median of the best {top} of 8 by {windows} rolling origins", ranked_median(POOL8, windows, top))
for windows, top in [(3, 3), (6, 5)]:
    show(f"median of the best {top} of 13 by {windows} rolling origins", ranked_median(list(LEVELS), windows, top))
median3 = ranked_median(POOL8, 6, 3)
show("AutoCombo: mean of fitted TSB and the best-3-of-8 median", lambda s, cut: 0.5 * level("tsbf", s, cut) + 0.5 * median3(s, cut))
show("x 0.8 on ADIDA (RMSSE rewards forecasting less)", flat(lambda s, cut: 0.8 * level("adida", s, cut)))


def additive_yearly(s, cut, lookback=112, damping=0.25):
    y, d = SERIES[s]
    i = bisect.bisect_left(d, d[cut] - dt.timedelta(364))
    base = level("adida", s, cut)
    if i < lookback:
        return base
    return max(0.0, base + damping * (y[i:i + H].mean() - y[i - lookback:i].mean()))


show("ADIDA + 0.25 x last year's step into the same window", flat(additive_yearly))
if not QUICK:
    best = []
    names = list(LEVELS)
    for r in (2, 3, 4, 5):
        for subset in itertools.combinations(names, r):
            for combine in ((np.mean,) if r == 2 else (np.mean, np.median)):
                result = score(flat(lambda s, cut, sub=subset, c=combine: c([level(n, s, cut) for n in sub])))
                best.append((result[2], result, combine.__name__, subset))
    best.sort(key=lambda b: b[0])
    _, r, how, subset = best[0]
    print(f"best of {len(best)} fixed combinations (picked on these windows): {how} of {subset}: "
          f"earlier {r[2]:.4f} {100 * r[3]:+.1f}%, final {r[0]:.4f} {100 * r[1]:+.1f}%")
