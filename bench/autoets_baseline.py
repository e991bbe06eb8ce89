"""Times statsforecast's AutoETS (season 6) on the training part of the same 50 series, in the same run as
Bazaar's backtest, so the speed comparison has a baseline measured on this machine now."""
import os
import sys
import time

os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS

data = pd.read_csv(sys.argv[1])
data["ds"] = pd.to_datetime(data["period"])
data = data.rename(columns={"series_id": "unique_id", "value": "y"})[["unique_id", "ds", "y"]]
train = data[data.groupby("unique_id").cumcount(ascending=False) >= 28]
model = StatsForecast(models=[AutoETS(season_length=6)], freq="D", n_jobs=1)
model.fit(train.head(200))  # compile numba code before timing
start = time.perf_counter()
model.forecast(df=train, h=28)
elapsed = time.perf_counter() - start
print(f"statsforecast AutoETS: {train['unique_id'].nunique()} series in {elapsed:.2f} s of one core "
      f"({train['unique_id'].nunique() / elapsed:.1f} series/s)")
