# Sourced by scripts/run-demo.sh and scripts/test.sh: the Debian packages the build links, and an installer.
#   source scripts/system-packages.sh
#   ensure_debian_packages $(build_packages) mariadb-server ...
# The list itself is scripts/system-packages.txt, so the two scripts cannot drift apart.

# The packages of scripts/system-packages.txt, one per line (comments and blank lines skipped).
build_packages() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$(dirname "${BASH_SOURCE[0]}")/system-packages.txt" | grep -v '^$'
}

# Installs, from Debian, the named packages that are not installed yet (nothing to do: no apt-get at all).
# `dpkg -s` alone also succeeds for a removed package whose configuration files remain, so the status is read.
ensure_debian_packages() {
  local need=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || need+=("$package")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "Installing from Debian: ${need[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}
