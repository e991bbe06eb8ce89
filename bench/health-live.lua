-- The baseline of the read comparison: GET /health/live built per request exactly as get-stock.lua builds its
-- requests (random numbers, the same header), so that wrk spends the same CPU per request on both loads and the
-- ratio measures the server alone.
local stores = tonumber(os.getenv("BENCH_STORES") or "100")
local products = tonumber(os.getenv("BENCH_PRODUCTS") or "100")
local auth = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY") }
math.randomseed(os.time())
request = function()
  local _ = "/get-stock/S" .. math.random(1, stores) .. "/P" .. math.random(1, products)
  return wrk.format("GET", "/health/live", auth)
end
