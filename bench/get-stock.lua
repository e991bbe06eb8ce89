-- GET /get-stock over many keys: a random store x product of the seeded catalog per request.
local stores = tonumber(os.getenv("BENCH_STORES") or "100")
local products = tonumber(os.getenv("BENCH_PRODUCTS") or "100")
local auth = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY") }
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/get-stock/S" .. math.random(1, stores) .. "/P" .. math.random(1, products), auth)
end
