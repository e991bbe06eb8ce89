#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, starts the test servers on loopback,
# builds, runs every test. Test servers are left running for the next run (scripts/services/*.sh stop).
set -euo pipefail
cd "$(dirname "$0")/.."

# System libraries the build links and the servers the tests talk to (installed if missing).
need=()
for package in libsqlite3-dev libmariadb-dev mariadb-server mariadb-client redis-server; do
  dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

bash scripts/services/mariadb.sh start
bash scripts/services/redis.sh start
eval "$(bash scripts/services/mariadb.sh env | sed 's/^/export /')"
eval "$(bash scripts/services/redis.sh env | sed 's/^/export /')"

swift build --build-tests
# Everything: the HTTP suites on SQLite, the storage contract on SQLite and MariaDB, the MySQL and Redis clients,
# replica reads, the Redis cache and limits.
swift test --skip-build
# The HTTP suites again in the production shape: MariaDB with its replica, and Redis.
BAZAAR_TEST_BACKEND=mariadb BAZAAR_TEST_WITH_REDIS=1 swift test --skip-build --filter BazaarAppTests
# Tests that stop and start the test servers, alone.
BAZAAR_TEST_DISRUPTIVE=1 swift test --skip-build --filter OutageTests
# The real binary, end to end (the debug build made above), on SQLite and then on MariaDB.
bash scripts/e2e.sh .build/debug/bazaar
mariadb --protocol=tcp -h127.0.0.1 -P"${BAZAAR_TEST_MARIADB_PORT:-13306}" -uroot -e 'DROP DATABASE IF EXISTS bazaar_e2e; CREATE DATABASE bazaar_e2e'
E2E_DATABASE_URL="$BAZAAR_TEST_MYSQL_URL/bazaar_e2e" E2E_REPLICA_URLS="$BAZAAR_TEST_MYSQL_REPLICA_URL/bazaar_e2e" \
  BAZAAR_REDIS_URL="$BAZAAR_TEST_REDIS_URL" BAZAAR_REDIS_KEY_PREFIX="e2e-$$-$RANDOM:" \
  bash scripts/e2e.sh .build/debug/bazaar
