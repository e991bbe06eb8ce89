#!/usr/bin/env bash
# A test CA and a server certificate for 127.0.0.1 / localhost in DIR (made once), for the test servers' TLS:
#   scripts/services/test-ca.sh DIR   -> DIR/ca.pem, DIR/server-cert.pem, DIR/server-key.pem
set -euo pipefail
dir=$1
[ -f "$dir/server-cert.pem" ] && exit 0
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=bazaar test CA" \
  -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server-key.pem" -out "$dir/server.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/san.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial -days 3650 \
  -extfile "$dir/san.ext" -out "$dir/server-cert.pem" >/dev/null 2>&1
# A second, unrelated CA: what a client trusting the wrong authority would hold (tests refuse it).
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=some other CA" \
  -keyout "$dir/other-ca-key.pem" -out "$dir/other-ca.pem" >/dev/null 2>&1
