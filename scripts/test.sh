#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# System libraries the build links (present on most images; installed if missing).
need=()
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi

swift build --build-tests
swift test --skip-build
# The real binary, end to end (the debug build made above).
bash scripts/e2e.sh .build/debug/bazaar
