-- POST /update-stock over many keys: +1 receipts spread over the seeded catalog.
local stores = tonumber(os.getenv("BENCH_STORES") or "100")
local products = tonumber(os.getenv("BENCH_PRODUCTS") or "100")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"), ["Content-Type"] = "application/json" }
local body = '{"delta": 1, "reason": "receipt"}'
math.randomseed(os.time())
request = function()
  return wrk.format("POST", "/update-stock/S" .. math.random(1, stores) .. "/P" .. math.random(1, products), headers, body)
end
