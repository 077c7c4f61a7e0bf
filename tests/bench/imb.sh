#!/bin/sh
# The imb device's benchmark, one run (not part of tests/run-all.sh):
#   1. ipsec-mb driven directly with a full manager (tests/bench/imb_direct.c),
#      the limit;
#   2. `acrypto bench --devices imb:1` for aes-128-cbc, aes-128-gcm and
#      hmac-sha1 (with openssl speed beside it);
#   3. the ESP route fused into one chained job vs two jobs vs two
#      submissions (examples/imb_esp.rs).
# Needs libipsec-mb-dev (tests/setup.sh). BENCH_SECS sets seconds per figure.
set -eu
cd "$(dirname "$0")/../.."
secs="${BENCH_SECS:-1}"
out="${TMPDIR:-/tmp}/acrypto-imb-direct"
cc -O2 -Wall -Wextra -Werror -o "$out" tests/bench/imb_direct.c -lIPSec_MB
cargo build --release --locked -p acrypto-cli --example imb_esp -p acrypto >/dev/null
echo "== ipsec-mb directly"
"$out" "$secs"
echo "== acrypto bench --devices imb:1"
target/release/acrypto bench --devices imb:1 -a aes-128-cbc,aes-128-gcm,hmac-sha1 \
	--sizes 64,256,1504,4096,16384 --seconds "$secs" "$@"
echo "== ESP route through the engine"
BENCH_SECS="$secs" target/release/examples/imb_esp
