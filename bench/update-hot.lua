-- POST /update-stock on one hot key: every request serialises on the same stock row.
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"), ["Content-Type"] = "application/json" }
local body = '{"delta": 1, "reason": "receipt"}'
request = function()
  return wrk.format("POST", "/update-stock/HOT/HOT", headers, body)
end
done = function(summary, latency, requests)
  -- Answered 2xx requests, so the script can check that none was lost.
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("ANSWERED_OK %d\n", summary.requests - failed))
end
