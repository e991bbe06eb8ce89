#!/usr/bin/env bash
# Runs Bazaar on the embedded default (SQLite file, in-process cache and event bus) with a demo chain loaded.
# Extra arguments go to `bazaar serve` (for example --http-port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg -s libsqlite3-dev >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev; }
swift build -c release --product bazaar
exec .build/release/bazaar serve --demo "$@"
