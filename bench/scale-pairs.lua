-- GET /get-stock or POST /update-stock (+1 receipts) over random store x product pairs of a whole chain: the pairs
-- are the lines "STORE/PRODUCT" of $PAIRS_FILE (every stock row of the loaded chain). $MODE is get or post.
local auth = "Bearer " .. os.getenv("BENCH_KEY")
local mode = os.getenv("MODE") or "get"
local pairs = {}
for line in io.lines(os.getenv("PAIRS_FILE")) do pairs[#pairs + 1] = line end
local get_headers = { ["Authorization"] = auth }
local post_headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
local body = '{"delta": 1, "reason": "receipt"}'
math.randomseed(os.time())
request = function()
  local pair = pairs[math.random(1, #pairs)]
  if mode == "post" then return wrk.format("POST", "/update-stock/" .. pair, post_headers, body) end
  return wrk.format("GET", "/get-stock/" .. pair, get_headers)
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("NOT_OK %d\n", failed))
end
