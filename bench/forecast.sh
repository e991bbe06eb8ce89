#!/usr/bin/env bash
# Forecasting benchmark on ../shared/data: accuracy (RMSSE, MASE, bias) and series per second of Bazaar's automatic
# choice and of each method (release build, one core), next to statsforecast's reference forecasts scored on the
# same holdout (the last 28 periods of each series).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product bazaar >/dev/null
.build/release/bazaar forecast backtest --input ../shared/data/online-retail-50.csv --horizon 28 --season 6 \
  --reference ../shared/data/online-retail-50.statsforecast.csv
