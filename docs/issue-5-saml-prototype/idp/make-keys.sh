#!/bin/sh
# Test-only key pairs: the IdP's signing key, a second one (rotation), an attacker's, the SP's.
set -e
cd "$(dirname "$0")"
for n in idp idp2 attacker sp; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $n.key -out $n.crt -days 3650 -subj "/CN=$n.test" 2>/dev/null
done
