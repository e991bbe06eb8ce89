#!/usr/bin/env bash
# Forecasting benchmark on ../shared/data: accuracy (RMSSE, MASE, bias) and series per second of Bazaar's automatic
# choice and of each method (release build, one core), next to statsforecast's reference forecasts scored on the
# same holdout (the last 28 periods of each series), each method also scored on the 4 windows of 28 before it (rolling);
# then the replenishment policies at matched fill rates (bazaar simulate; the swept curves go to .build/forecast-curves*.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product bazaar >/dev/null
.build/release/bazaar forecast backtest --input ../shared/data/online-retail-50.csv --horizon 28 --season 6 --windows 4 \
  --reference ../shared/data/online-retail-50.statsforecast.csv

# Baseline in the same run: statsforecast's AutoETS on the same training data (installed from PyPI into .build-bench-venv).
if [ ! -x .build-bench-venv/bin/python ]; then
  python3 -m venv .build-bench-venv && .build-bench-venv/bin/pip install -q statsforecast==2.1.1 || echo "statsforecast unavailable: no same-run baseline"
fi
[ -x .build-bench-venv/bin/python ] && .build-bench-venv/bin/python bench/autoets_baseline.py ../shared/data/online-retail-50.csv
echo
.build/release/bazaar simulate --input ../shared/data/online-retail-50.csv --horizon 28 --season 6 --lead-time 2 --review-period 6 \
  --csv .build/forecast-curves.csv
echo
# Issue 16's high-volume case (synthetic: about 2,000 and 800 a day, and lumpy 0-2,500).
.build/release/bazaar simulate --input scripts/forecasting/high-volume-3.csv --horizon 28 --season 7 --lead-time 3 --review-period 7 \
  --csv .build/forecast-curves-high-volume.csv
