#!/usr/bin/env bash
# Fails when a system library the build links has an apt provider missing from scripts/system-packages.txt: such
# a gap makes a fresh machine stop at "'librdkafka/rdkafka.h' file not found" after minutes of building.
#   scripts/check-system-packages.sh [Package.swift ...]
# Without arguments: the root Package.swift and those of the dependencies already checked out in .build/checkouts.
# Runs in scripts/test.sh before the build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh

if [ $# -eq 0 ]; then
  set -- Package.swift
  for manifest in .build/checkouts/*/Package.swift; do [ -f "$manifest" ] && set -- "$@" "$manifest"; done
fi
listed=$(build_packages)
missing=0
for manifest in "$@"; do
  # `providers: [.apt(["a", "b"])]`, possibly across lines: the file on one line, then every .apt([...]) list.
  for package in $(tr '\n' ' ' <"$manifest" | grep -o '\.apt( *\[[^]]*\]' | grep -o '"[^"]*"' | tr -d '"'); do
    if ! grep -qxF "$package" <<<"$listed"; then
      echo "$manifest links a system library provided by the Debian package $package, which scripts/system-packages.txt lacks: add it there" >&2
      missing=1
    fi
  done
done
[ "$missing" -eq 0 ] && echo "system packages: every apt provider of $# manifest(s) is in scripts/system-packages.txt"
exit "$missing"
