#!/usr/bin/env python3
"""What else the shipped history holds, scored as `bazaar forecast backtest --windows 4` scores (issue 16, part 3):
RMSSE on the final 28 days and mean RMSSE over the four 28-day windows before, and relative bias (forecast total
over actual total, minus 1). A prototype for deciding what to build, not a reference: TSB here equals statsforecast's
and Bazaar's to the printed digits; ADIDA's SES searches a grid instead of golden sections (RMSSE the same to 4
digits, bias within 0.1 point); the rest are candidate ideas. Needs numpy and pandas.
    python3 scripts/forecasting/explore_forecasts.py ../shared/data/online-retail-50.csv
"""
import sys

import numpy as np
import pandas as pd

H = 28
data = pd.read_csv(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/online-retail-50.csv")
data["date"] = pd.to_datetime(data["period"])
SERIES = [(g["value"].to_numpy(float), g["date"].to_numpy()) for _, g in data.groupby("series_id", sort=False)]
DAY = np.timedelta64(1, "D")


def ses(y, a):
    f = y[0]
    for x in y:
        f = a * x + (1 - a) * f
    return f


def ses_optimized(y):  # statsforecast: golden-section over [0.1, 0.3]; a grid of 21 agrees to the printed digits
    best = None
    for a in np.linspace(0.1, 0.3, 21):
        level, error = y[0], 0.0
        for x in y:
            error += (x - level) ** 2
            level = a * x + (1 - a) * level
        if best is None or error < best[0]:
            best = (error, level)
    return best[1]


def tsb(y, alpha_d=0.1, alpha_p=0.1):
    sizes = y[y > 0]
    return 0.0 if len(sizes) == 0 else ses(sizes, alpha_d) * ses((y > 0).astype(float), alpha_p)


def adida(y):
    nonzero = np.nonzero(y)[0]
    k = 1 if len(nonzero) < 2 else max(1, int(round(np.diff(np.concatenate([[-1], nonzero])).mean())))
    n = len(y) // k * k
    buckets = y[len(y) - n:].reshape(-1, k).sum(1)
    return ses_optimized(buckets) / k if len(buckets) else y.mean()


def winsorized(y, q):
    sizes = y[y > 0]
    return y if len(sizes) < 5 else np.minimum(y, np.quantile(sizes, q))


def pooled_yearly_factor(origin, end, lookback_days=56):
    """Chain-wide: demand of all series in the same dates a year (364 days) earlier over their daily demand in the
    lookback_days before that, from training data only."""
    num = den = 0.0
    for y, d in SERIES:
        train = d < origin
        yy, dd = y[train], d[train]
        num += yy[(dd >= origin - 364 * DAY) & (dd < end - 364 * DAY)].sum() / ((end - origin) / DAY)
        den += yy[(dd >= origin - 364 * DAY - lookback_days * DAY) & (dd < origin - 364 * DAY)].sum() / lookback_days
    return num / den if den > 0 else 1.0


def own_weekday_profile(y, d, future_dates, level, days=168):
    weekdays = pd.DatetimeIndex(d[-days:]).dayofweek.to_numpy()
    recent = y[-days:]
    mean = recent.mean()
    if mean <= 0:
        return np.full(H, level)
    profile = {k: recent[weekdays == k].mean() / mean for k in set(weekdays)}
    return np.array([level * profile.get(k, 1.0) for k in pd.DatetimeIndex(future_dates).dayofweek])


METHODS = {
    "TSB (statsforecast)": lambda y, d, fd: np.full(H, tsb(y)),
    "ADIDA (statsforecast)": lambda y, d, fd: np.full(H, adida(y)),
    "mean of TSB, ADIDA, 84-day mean": lambda y, d, fd: np.full(H, (tsb(y) + adida(y) + y[-84:].mean()) / 3),
    "median of TSB, ADIDA, 84-day mean": lambda y, d, fd: np.full(H, np.median([tsb(y), adida(y), y[-84:].mean()])),
    "TSB x pooled yearly factor": lambda y, d, fd: np.full(H, tsb(y)) * pooled_yearly_factor(fd[0], fd[-1] + DAY),
    "ADIDA x pooled yearly factor": lambda y, d, fd: np.full(H, adida(y)) * pooled_yearly_factor(fd[0], fd[-1] + DAY),
    "TSB x own weekday profile": lambda y, d, fd: own_weekday_profile(y, d, fd, tsb(y)),
    "TSB on sizes cut at their 90th percentile": lambda y, d, fd: np.full(H, tsb(winsorized(y, 0.90))),
    "ADIDA on sizes cut at their 90th percentile": lambda y, d, fd: np.full(H, adida(winsorized(y, 0.90))),
    "ADIDA on sizes cut at their 95th percentile": lambda y, d, fd: np.full(H, adida(winsorized(y, 0.95))),
}


def score(method, oracle=False):
    out = []
    for window in range(5):
        rmsse, forecast_total, actual_total = [], 0.0, 0.0
        for y, d in SERIES:
            end = len(y) - window * H
            train, actual = y[: end - H], y[end - H: end]
            scale = np.mean(np.diff(train) ** 2)
            if scale == 0:
                continue
            f = np.full(H, actual.mean()) if oracle else method(train, d[: end - H], d[end - H: end])
            rmsse.append(np.sqrt(np.mean((f - actual) ** 2) / scale))
            forecast_total += f.sum()
            actual_total += actual.sum()
        out.append((np.mean(rmsse), forecast_total, actual_total))
    final = out[0]
    earlier = out[1:]
    return (final[0], final[1] / final[2] - 1, np.mean([e[0] for e in earlier]),
            sum(e[1] for e in earlier) / sum(e[2] for e in earlier) - 1)


print(f"{'method':45s} {'RMSSE final':>11s} {'bias %':>7s} {'RMSSE earlier 4':>15s} {'bias %':>7s}")
for name, method in list(METHODS.items()) + [("oracle: each window's own mean (a bound)", None)]:
    r = score(method, oracle=method is None)
    print(f"{name:45s} {r[0]:11.4f} {100 * r[1]:+6.1f}% {r[2]:15.4f} {100 * r[3]:+6.1f}%", flush=True)
