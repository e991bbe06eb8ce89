-- Reservations, each made and then fulfilled: POST /v1/reservations of one unit over the seeded catalog, and as soon
-- as one is answered 201, POST /v1/reservations/{id}/fulfil (the sale) on the next free connection. Counts the
-- pairs completed (fulfilments answered 200) and the refusals, reported by done().
local stores = tonumber(os.getenv("BENCH_STORES") or "100")
local products = tonumber(os.getenv("BENCH_PRODUCTS") or "100")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"), ["Content-Type"] = "application/json" }
local threads = {}

function setup(thread) table.insert(threads, thread) end

function init(args)
  pending = {}   -- ids of reservations made and not yet fulfilled
  created, fulfilled, refused = 0, 0, 0
  math.randomseed(os.time())
end

request = function()
  local id = table.remove(pending)
  if id then return wrk.format("POST", "/v1/reservations/" .. id .. "/fulfil", headers, "") end
  local body = '{"store_id": "S' .. math.random(1, stores) .. '", "product_id": "P' .. math.random(1, products) .. '", "quantity": 1}'
  return wrk.format("POST", "/v1/reservations", headers, body)
end

response = function(status, headers, body)
  if status == 201 then
    created = created + 1
    table.insert(pending, string.match(body, '"reservation_id":"([^"]+)"'))
  elseif status == 200 and string.find(body, '"status":"fulfilled"', 1, true) then
    fulfilled = fulfilled + 1
  else
    refused = refused + 1
  end
end

done = function(summary, latency, requests)
  local c, f, r = 0, 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); f = f + t:get("fulfilled"); r = r + t:get("refused") end
  io.write(string.format("RESERVATIONS created %d fulfilled %d other %d pairs_per_s %.1f\n", c, f, r,
    f / (summary.duration / 1e6)))
end
