# Sourced by the HTTP benchmarks. `run NAME URL-PATH [lua script]` runs wrk (one thread, $CONNECTIONS connections,
# $DURATION seconds) against 127.0.0.1:$PORT, keeps its output in $WORK/NAME.txt and prints "NAME rps p50 p99".
run() {
  local name=$1 path=$2 script=${3:-}
  local args=(-t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "http://127.0.0.1:$PORT$path" >"$WORK/$name.txt"
  echo "$name $(awk '/Requests\/sec/ {print $2}' "$WORK/$name.txt") $(awk '$1=="50%" {print $2}' "$WORK/$name.txt")" \
    "$(awk '$1=="99%" {print $2}' "$WORK/$name.txt")"
}

# `wait_and_seed`: waits for the server, then creates stores S1..S$BENCH_STORES, products P1..P$BENCH_PRODUCTS and
# the hot key HOT/HOT (admin key $BENCH_KEY). Sets AUTH.
wait_and_seed() {
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.2; done
  AUTH="Authorization: Bearer $BENCH_KEY"
  for i in $(seq "$BENCH_STORES"); do curl -sf -XPUT "http://127.0.0.1:$PORT/v1/stores/S$i" -H "$AUTH" -d '{"name":"s"}' >/dev/null; done
  for i in $(seq "$BENCH_PRODUCTS"); do curl -sf -XPUT "http://127.0.0.1:$PORT/v1/products/P$i" -H "$AUTH" -d '{"name":"p"}' >/dev/null; done
  curl -sf -XPUT "http://127.0.0.1:$PORT/v1/stores/HOT" -H "$AUTH" -d '{"name":"hot"}' >/dev/null
  curl -sf -XPUT "http://127.0.0.1:$PORT/v1/products/HOT" -H "$AUTH" -d '{"name":"hot"}' >/dev/null
}

# `check_hot_key`: no lost update on the hot key: every write answered 200 during the update-stock-hot-key load is
# in the level, and the version counts the ledger rows. Exits 1 otherwise.
check_hot_key() {
  local answered level quantity version
  answered=$(awk '/ANSWERED_OK/ {print $2}' "$WORK/update-stock-hot-key.txt")
  level=$(curl -sf "http://127.0.0.1:$PORT/get-stock/HOT/HOT" -H "$AUTH")
  quantity=$(echo "$level" | sed 's/.*"quantity":\([0-9-]*\).*/\1/')
  version=$(echo "$level" | sed 's/.*"version":\([0-9]*\).*/\1/')
  echo
  echo "hot key: $answered writes answered 200; level quantity=$quantity version=$version"
  if [ "$quantity" = "$version" ] && [ "$quantity" -ge "$answered" ]; then
    echo "check: no lost update (quantity = version >= answered writes)"
  else
    echo "check FAILED: lost or phantom updates"; exit 1
  fi
}
