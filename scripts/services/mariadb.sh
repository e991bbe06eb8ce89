#!/usr/bin/env bash
# A MariaDB primary and a GTID replica on loopback, for the tests and the benchmarks.
#
#   scripts/services/mariadb.sh start    installs MariaDB if missing, starts both (idempotent)
#   scripts/services/mariadb.sh stop     stops both
#   scripts/services/mariadb.sh env      prints the URLs to export
#
# Ports: BAZAAR_TEST_MARIADB_PORT (primary, default 13306) and +1 for the replica. Data lives in
# .test-services/mariadb/{primary,replica}, each with its own socket and tmpdir (a shared tmpdir
# breaks mariadb-install-db). Durable settings on the primary: innodb_flush_log_at_trx_commit=1, sync_binlog=1.
# Both servers also accept TLS, with a certificate for 127.0.0.1 signed by a test CA made here
# (.test-services/mariadb/tls/ca.pem, printed by `env` as BAZAAR_TEST_MARIADB_TLS_CA).
set -euo pipefail
cd "$(dirname "$0")/../.."

PRIMARY_PORT="${BAZAAR_TEST_MARIADB_PORT:-13306}"
REPLICA_PORT=$((PRIMARY_PORT + 1))
BASE="$PWD/.test-services/mariadb"

install_if_missing() {
  if ! command -v mariadbd >/dev/null 2>&1 || ! dpkg -s libmariadb-dev >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq mariadb-server mariadb-client libmariadb-dev openssl >/dev/null
  fi
}

# A test CA and a server certificate for 127.0.0.1 (made once).
make_tls() { bash scripts/services/test-ca.sh "$BASE/tls"; }

client() { # name, then mariadb arguments
  local name=$1; shift
  mariadb --protocol=socket --socket="$BASE/$name/mysqld.sock" -uroot "$@"
}

start_one() { # name port server-id
  local name=$1 port=$2 id=$3 dir="$BASE/$1"
  if client "$name" -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
  mkdir -p "$dir/data" "$dir/tmp"
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --user=root --datadir="$dir/data" --tmpdir="$dir/tmp" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  fi
  # The replica applies in parallel (optimistic: transactions run at once, commit in the primary's order, conflicts
  # retried): a single applier thread committing one durable transaction at a time trails a primary that group-commits
  # the whole suite's writes by many seconds on two cores, and is taken out of reads for it.
  # Binary logs older than an hour are purged as the logs rotate: a million-pair benchmark writes about 20 GB of them
  # on each server, which filled a test machine's disk (the replica reads them within seconds).
  local parallel=()
  if [ "$name" = replica ]; then parallel=(--slave-parallel-threads=4 --slave-parallel-mode=optimistic); fi
  mariadbd --no-defaults --user=root --datadir="$dir/data" --tmpdir="$dir/tmp" "${parallel[@]}" \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --bind-address=127.0.0.1 --port="$port" \
    --server-id="$id" --log-bin=mysql-bin --binlog-format=ROW --log-slave-updates=1 --gtid-strict-mode=1 \
    --innodb-flush-log-at-trx-commit=1 --sync-binlog=1 --binlog-expire-logs-seconds=3600 --innodb-buffer-pool-size=256M \
    --innodb-log-file-size=256M --max-connections=2000 --character-set-server=utf8mb4 --collation-server=utf8mb4_bin --skip-name-resolve \
    --ssl-ca="$BASE/tls/ca.pem" --ssl-cert="$BASE/tls/server-cert.pem" --ssl-key="$BASE/tls/server-key.pem" \
    --log-error="$dir/error.log" >/dev/null 2>&1 &
  for _ in $(seq 1 100); do
    if client "$name" -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "mariadb $name did not start; see $dir/error.log" >&2
  tail -20 "$dir/error.log" >&2 || true
  return 1
}

start() {
  install_if_missing
  make_tls
  start_one primary "$PRIMARY_PORT" 1
  start_one replica "$REPLICA_PORT" 2
  # Root over TCP from 127.0.0.1 (the tests use TCP) and a replication user.
  client primary -e "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY 'repl';
    GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
  local running
  running=$(client replica -N -e "SHOW SLAVE STATUS" | wc -l)
  if [ "$running" = "0" ]; then
    # Local grants stay out of the replica's binlog (they would clash with the primary's GTIDs).
    client replica -e "
      SET SESSION sql_log_bin = 0;
      CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
      GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
      SET SESSION sql_log_bin = 1;
      CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$PRIMARY_PORT, MASTER_USER='repl',
        MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
      START SLAVE;"
  else
    client replica -e "START SLAVE" >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 50); do
    if client replica -e "SHOW SLAVE STATUS\G" | grep -q "Slave_SQL_Running: Yes"; then
      echo "mariadb primary 127.0.0.1:$PRIMARY_PORT, replica 127.0.0.1:$REPLICA_PORT"
      return 0
    fi
    sleep 0.2
  done
  echo "the replica did not connect" >&2
  client replica -e "SHOW SLAVE STATUS\G" >&2
  return 1
}

stop_one() {
  local dir="$BASE/$1"
  if [ -f "$dir/mysqld.pid" ]; then
    local pid; pid=$(cat "$dir/mysqld.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop_one replica; stop_one primary ;;
  stop-primary) stop_one primary ;;
  start-primary) make_tls; start_one primary "$PRIMARY_PORT" 1 ;;
  stop-replica) stop_one replica ;;
  start-replica) make_tls; start_one replica "$REPLICA_PORT" 2 ;;
  env)
    echo "BAZAAR_TEST_MYSQL_URL=mysql://root@127.0.0.1:$PRIMARY_PORT"
    echo "BAZAAR_TEST_MYSQL_REPLICA_URL=mysql://root@127.0.0.1:$REPLICA_PORT"
    echo "BAZAAR_TEST_MARIADB_TLS_CA=$BASE/tls/ca.pem"
    ;;
  *) echo "usage: $0 start|stop|env|stop-primary|start-primary|stop-replica|start-replica" >&2; exit 2 ;;
esac
