# Sourced by the read benches: one Bazaar node in the production shape on the test services of scripts/services
# (MariaDB primary + replica, Redis, Tansu), each start on a fresh database, Redis key prefix and consumer group.
#   source bench/production-node.sh   (needs the services' env exported, as the benches do)
#   start_production_node BINARY PORT ADMIN_KEY NAME   sets SERVER (its pid) once /health/ready answers (the database
#                                                      NAME is made unless it exists: a bench may load it first)
#   stop_production_node NAME                          stops it and drops its database
MARIADB="mariadb --protocol=tcp -h127.0.0.1 -P${BAZAAR_TEST_MARIADB_PORT:-13306} -uroot"
SERVER=

start_production_node() {
  local bin=$1 port=$2 key=$3 db=$4
  $MARIADB -e "CREATE DATABASE IF NOT EXISTS $db"
  BAZAAR_HTTP_PORT=$port BAZAAR_ADMIN_KEY=$key BAZAAR_LOG_LEVEL=warning \
    BAZAAR_DATABASE_URL="$BAZAAR_TEST_MYSQL_URL/$db" BAZAAR_DATABASE_REPLICA_URLS="$BAZAAR_TEST_MYSQL_REPLICA_URL/$db" \
    BAZAAR_REDIS_URL="redis://127.0.0.1:${BAZAAR_TEST_REDIS_PORT:-16379}/0" BAZAAR_REDIS_KEY_PREFIX="$db:" \
    BAZAAR_KAFKA_BROKERS="$BAZAAR_TEST_KAFKA_BROKERS" BAZAAR_KAFKA_CONSUMER_GROUP="$db" \
    BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 "$bin" serve >/dev/null 2>&1 &
  SERVER=$!
  for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
}

stop_production_node() {
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  $MARIADB -e "DROP DATABASE $1"
}
