-- One /audit-logs (or /v1/changes) filter with random values over the whole chain. $QUERY is the path and query with
-- placeholders: {pair} a random "store_id=S&product_id=P" of $PAIRS_FILE, {store} and {product} the store and the
-- product of another random pair, {day} a random day of the history ($FIRST_DAY epoch day, $DAYS days) as
-- YYYY-MM-DD and {next} the day after it, {seq} a random ledger sequence up to $MAX_SEQ.
local auth = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY") }
local query = os.getenv("QUERY")
local first_day = tonumber(os.getenv("FIRST_DAY"))
local days = tonumber(os.getenv("DAYS"))
local max_seq = tonumber(os.getenv("MAX_SEQ") or "1")
local pairs = {}
for line in io.lines(os.getenv("PAIRS_FILE")) do pairs[#pairs + 1] = line end
math.randomseed(os.time())
local function date(day) return os.date("!%Y-%m-%d", day * 86400) end
request = function()
  local pair = pairs[math.random(1, #pairs)]
  local store, product = pair:match("([^/]+)/([^/]+)")
  local other = pairs[math.random(1, #pairs)]
  local other_store, other_product = other:match("([^/]+)/([^/]+)")
  local day = first_day + math.random(0, days - 1)
  local path = query:gsub("{pair}", "store_id=" .. store .. "&product_id=" .. product)
    :gsub("{store}", other_store):gsub("{product}", other_product)
    :gsub("{day}", date(day)):gsub("{next}", date(day + 1)):gsub("{seq}", tostring(math.random(1, max_seq)))
  return wrk.format("GET", path, auth)
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("NOT_OK %d\n", failed))
end
