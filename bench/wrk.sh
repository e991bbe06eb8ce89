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
