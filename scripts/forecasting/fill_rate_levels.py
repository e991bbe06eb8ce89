"""Reference base-stock levels for a fill-rate target (Tests/BazaarForecastingTests/FillRateTests.swift).

For demand of `rate` a period with variance-to-mean ratio d (Poisson for d = 1, else the negative binomial with
that mean and dispersion, as Bazaar's CountDistribution), lead time L and review period R: the smallest whole S
with E[(D(L+R) - S)+] - E[(D(L) - S)+] <= (1 - beta) x rate x R, from scipy's survival functions.
Run: python3 scripts/forecasting/fill_rate_levels.py
"""
import numpy as np
from scipy import stats
def dist(m, d):
    if d <= 1.000001: return stats.poisson(m)
    q = 1/d; r = m*q/(1-q); return stats.nbinom(r, q)
def loss(m, d, s):
    if m <= 0: return 0.0
    X = dist(m, d)
    hi = int(X.ppf(1-1e-16)) + 10
    k = np.arange(s, hi + 1)
    return float(np.sum(X.sf(k)))   # E[(X-s)+] = sum_{k>=s} P(X>k)
def S(rate, d, L, R, beta):
    budget = (1-beta)*rate*R
    f = lambda s: loss(rate*(L+R), d, s) - loss(rate*L, d, s)
    if f(0) <= budget: return 0
    lo, hi = -1, int(rate*(L+R) + 40*np.sqrt(rate*(L+R)*d) + 2)
    while hi - lo > 1:
        mid = (lo+hi)//2
        if f(mid) > budget: lo = mid
        else: hi = mid
    return hi
print("poisson 2 L3 R7 .95 ->", S(2,1,3,7,0.95))
rows=[]
for rate in [0.01, 0.1, 1, 10, 100, 1000, 10000, 100000]:
    for d in [1, 5]:
        for beta in [0.9, 0.95, 0.99]:
            rows.append((rate, d, beta, S(rate, d, 3, 7, beta)))
for r in rows: print("(%r, %r, %r, %d)," % r)
