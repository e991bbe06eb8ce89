#!/usr/bin/env python3
"""Reference quantiles for Bazaar's count distributions (Tests/BazaarForecastingTests/QuantileFixtureTests.swift).

Bazaar models demand over a span as a count with mean `mean` and variance-to-mean ratio `dispersion`:
Poisson(mean) when dispersion is 1, else the negative binomial with success probability q = 1/dispersion and size
r = mean*q/(1-q) (scipy's nbinom(n=r, p=q): failures before the r-th success, mean r(1-q)/q, variance mean/q).
For each case it writes scipy's ppf (the smallest k with cdf(k) >= p) and the cdf at k-1 and k, so the test can
tell a real disagreement from a p that sits within rounding of a step of the cdf. Also the standard normal
quantile, which the smooth-demand intervals use.

Run once from the repository root and check the output in:
    python3 scripts/forecasting/count_quantiles.py > scripts/forecasting/count-quantiles.csv
"""
import scipy
from scipy import stats

MEANS = [0.01, 0.05, 0.2, 1, 2.5, 7, 20, 60, 150, 400, 745, 1000, 2500, 6000, 15000, 40000, 100000]
DISPERSIONS = [1, 1.5, 4, 20, 300, 3000]
LEVELS = [0.05, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999]

print(f"# scipy {scipy.__version__}: kind,mean,dispersion,p,quantile,cdf_below,cdf_at")
print("kind,mean,dispersion,p,quantile,cdf_below,cdf_at")
for mean in MEANS:
    for dispersion in DISPERSIONS:
        if dispersion == 1:
            dist = stats.poisson(mean)
        else:
            q = 1 / dispersion
            dist = stats.nbinom(mean * q / (1 - q), q)
        for p in LEVELS:
            k = int(dist.ppf(p))
            print(f"count,{mean!r},{dispersion!r},{p!r},{k},{float(dist.cdf(k - 1))!r},{float(dist.cdf(k))!r}")
for p in [0.001, 0.01, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.98, 0.99, 0.999]:
    print(f"normal,0,1,{p!r},{float(stats.norm.ppf(p))!r},0,0")
