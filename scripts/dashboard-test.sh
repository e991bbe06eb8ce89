#!/usr/bin/env bash
# The dashboard through the real binary in a real browser: Debian's chromium and chromium-driver driven by Selenium
# (PyPI, in a venv under .test-services/), headless, against `bazaar serve` on a fresh SQLite file with a small demo
# chain. Checks each view (chain overview, store, item with its SVG chart), a movement recorded through the form,
# a refused action showing the problem's detail, an alert acknowledged, no console errors; saves a screenshot (PNG)
# of each view into DASHBOARD_SCREENSHOTS (default: a temporary folder, printed). Only loopback is contacted.
#   scripts/dashboard-test.sh [path to bazaar binary, default .build/debug/bazaar]
# DASHBOARD_PORT (default 18385), DASHBOARD_SCREENSHOTS.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/bazaar}
PORT=${DASHBOARD_PORT:-18385}
KEY=dashboard-admin-key-0123456789
DIR="$PWD/.test-services/dashboard"
VENV="$DIR/venv"

source scripts/system-packages.sh
ensure_debian_packages chromium chromium-driver python3-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
  mkdir -p "$DIR"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'selenium>=4.20,<5'
fi

WORK=$(mktemp -d)
SHOTS=${DASHBOARD_SCREENSHOTS:-$WORK/screenshots}
mkdir -p "$SHOTS"
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; [ -z "${DASHBOARD_SCREENSHOTS:-}" ] && rm -rf "$WORK"' EXIT

# A small chain with 90 days of history: 8 stores (cities and formats), 40 products, 20 a store.
# Its history is published (--publish-history), so the intelligence opens the alerts the page ranks by.
"$BIN" demo --database-url "sqlite://$WORK/dashboard.sqlite" --stores 8 --products 40 --products-per-store 20 --days 90 \
  --publish-history >"$WORK/demo.log" 2>&1
BAZAAR_ADMIN_KEY=$KEY "$BIN" serve --http-host 127.0.0.1 --http-port "$PORT" --database-url "sqlite://$WORK/dashboard.sqlite" \
  --log-level warning >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done

# Selenium Manager never downloads anything: the driver and the browser are Debian's.
set +e
SE_OFFLINE=true "$VENV/bin/python" scripts/dashboard-test.py --base "http://127.0.0.1:$PORT" --key "$KEY" --screenshots "$SHOTS"
code=$?
set -e
if grep -qi 'internal error' "$WORK/server.log"; then
  echo "dashboard-test: the server logged an internal error:" >&2
  grep -i 'internal error' "$WORK/server.log" | head -5 >&2
  code=1
fi
echo "dashboard-test: screenshots in $SHOTS${DASHBOARD_SCREENSHOTS:+}" >&2
[ -z "${DASHBOARD_SCREENSHOTS:-}" ] && echo "dashboard-test: (removed at exit; set DASHBOARD_SCREENSHOTS to keep them)" >&2
exit "$code"
