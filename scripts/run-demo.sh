#!/usr/bin/env bash
# Runs Bazaar on the embedded default (SQLite file, in-process cache and event bus) with a demo chain loaded.
# Needs only Swift: the Debian packages the build links (scripts/system-packages.txt) are installed if missing.
# Extra arguments go to `bazaar serve` (for example --http-port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh
ensure_debian_packages $(build_packages)
swift build -c release --product bazaar
exec .build/release/bazaar serve --demo "$@"
