#!/usr/bin/env bash
# Tests of the OpenSSL 3 provider (libacrypto/provider/, acrypto.so), run by
# tests/run-all.sh. Needs openssl, libssl-dev, cc and make (tests/setup.sh).
#   1. make -C libacrypto provider; install into a staging prefix; the module
#      exports OSSL_provider_init and nothing else;
#   2. tests/provider/evp.c through the EVP API (see its header), with ASan
#      and UBSan, on OpenSSL's own test records (evpciph_aes_acrypto.txt,
#      evpciph_aead_acrypto.txt, evpmd_sha_acrypto.txt, evpmac_hmac_acrypto.txt);
#   3. openssl enc, dgst and mac through acrypto equal the default provider on
#      random keys, IVs, sizes, padding on and off, both ways; openssl rand with
#      ACRYPTO-RNG as the primary DRBG (openssl.cnf [random]);
#   2b. tests/provider/aead.c: AES-GCM and ChaCha20-Poly1305 against the default
#      provider (random split updates, tampering, bad use, ASYNC jobs);
#   4. openssl s_server/s_client, TLS 1.2 with AES-128-CBC and AES-256-CBC
#      (encrypt-then-MAC), AES-128-GCM and ChaCha20-Poly1305, and TLS 1.3 with
#      AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305, with the provider
#      preferred: a 64 MiB file client to server (s_client's stdin to
#      s_server's stdout) and a 16 MiB file server to client (s_server -WWW
#      serving it to s_client's GET) arrive with the same hash, and acrypto's
#      counters on both sides show they went through acrypto;
#   5. bad use through the openssl command is an error, not a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
work=$target/provider-test
rm -rf "$work"
mkdir -p "$work"
modules=$target/release

fail() {
	echo "provider test FAILED: $*" >&2
	exit 1
}
note() { printf 'provider: %s\n' "$*"; }

# --- 1. build and install
make -s -C libacrypto provider TARGET_DIR="$target"
make -s -C libacrypto install-provider PREFIX=/usr/local DESTDIR="$work/stage" TARGET_DIR="$target" \
	MODULESDIR=/usr/local/lib/ossl-modules
[ -x "$work/stage/usr/local/lib/ossl-modules/acrypto.so" ] || fail "install-provider installed nothing"
exports=$(nm -D --defined-only "$modules/acrypto.so" | awk '{print $3}')
[ "$exports" = OSSL_provider_init ] || fail "acrypto.so exports more than OSSL_provider_init: $exports"
note "acrypto.so built and installed; exports: $exports"

P=(-provider-path "$modules" -provider acrypto -provider default -propquery provider=acrypto)

# --- 2. the EVP program
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -fsanitize=address,undefined \
	-fno-omit-frame-pointer -o "$work/evp" tests/provider/evp.c -lcrypto
# The ASYNC jobs switch stacks, which ASan notes (harmlessly) on stderr.
ASAN_OPTIONS=detect_leaks=1 "$work/evp" "$modules" tests/provider/evpciph_aes_acrypto.txt \
	tests/provider/evpmd_sha_acrypto.txt tests/provider/evpmac_hmac_acrypto.txt \
	tests/provider/evpciph_aead_acrypto.txt \
	2> >(grep -v -e 'ASan is ignoring requested __asan_handle_no_return' -e 'False positive error reports' \
		-e 'google/sanitizers/issues/189' >&2) || fail "tests/provider/evp.c"
# AES-GCM and ChaCha20-Poly1305 (tests/provider/aead.c): against the default provider,
# and the known answers of tests/vectors (NIST CAVP GCM with its FAIL records,
# OpenSSL's and BoringSSL's ChaCha20-Poly1305 records).
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -fsanitize=address,undefined \
	-fno-omit-frame-pointer -o "$work/aead" tests/provider/aead.c -lcrypto
ASAN_OPTIONS=detect_leaks=1 "$work/aead" "$modules" tests/vectors \
	2> >(grep -v -e 'ASan is ignoring requested __asan_handle_no_return' -e 'False positive error reports' \
		-e 'google/sanitizers/issues/189' >&2) || fail "tests/provider/aead.c"

# --- 3. openssl enc and rand against the default provider
hex() { od -An -tx1 -N"$2" "$1" | tr -d ' \n'; }
rnd_below() { echo $(($(od -An -tu4 -N4 /dev/urandom) % $1)); }
head -c 200000 /dev/urandom > "$work/data"
n=0
for c in aes-128-ecb aes-192-ecb aes-256-ecb aes-128-cbc aes-192-cbc aes-256-cbc aes-128-ctr aes-192-ctr aes-256-ctr; do
	kl=$(( ${c:4:3} / 8 ))
	for round in 1 2 3 4; do
		key=$(hex /dev/urandom "$kl")
		iv=$(hex /dev/urandom 16)
		size=$(rnd_below 70000)
		pad=()
		case $c in
		*ecb | *cbc) if [ $((round % 2)) = 0 ]; then pad=(-nopad); size=$((size / 16 * 16)); fi ;;
		esac
		ivarg=(-iv "$iv")
		case $c in *ecb) ivarg=() ;; esac
		head -c "$size" "$work/data" > "$work/pt"
		openssl enc -"$c" -K "$key" "${ivarg[@]}" "${pad[@]}" -in "$work/pt" -out "$work/ref"
		openssl enc -"$c" -K "$key" "${ivarg[@]}" "${pad[@]}" -in "$work/pt" -out "$work/got" "${P[@]}"
		cmp -s "$work/ref" "$work/got" || fail "openssl enc -$c ${pad[*]} on $size bytes differs from the default provider"
		openssl enc -d -"$c" -K "$key" "${ivarg[@]}" "${pad[@]}" -in "$work/got" -out "$work/back" "${P[@]}"
		cmp -s "$work/pt" "$work/back" || fail "openssl enc -d -$c ${pad[*]} on $size bytes"
		n=$((n + 1))
	done
done
note "openssl enc: $n random cases equal the default provider, and decrypt back"

n=0
for round in 1 2 3 4; do
	head -c "$(rnd_below 150000)" "$work/data" > "$work/pt"
	for d in sha1 sha256; do
		ref=$(openssl dgst -"$d" -r "$work/pt" | cut -d' ' -f1)
		got=$(openssl dgst "${P[@]}" -"$d" -r "$work/pt" | cut -d' ' -f1)
		[ -n "$ref" ] && [ "$ref" = "$got" ] || fail "openssl dgst -$d differs: $ref $got"
		key=$(hex /dev/urandom $((1 + $(rnd_below 200))))
		ref=$(openssl mac -digest "$d" -macopt hexkey:"$key" -in "$work/pt" HMAC)
		got=$(openssl mac "${P[@]}" -digest "$d" -macopt hexkey:"$key" -in "$work/pt" HMAC)
		[ -n "$ref" ] && [ "$ref" = "$got" ] || fail "openssl mac HMAC-$d differs: $ref $got"
		n=$((n + 2))
	done
done
note "openssl dgst and mac: $n random cases equal the default provider"

# HMAC over a digest acrypto lacks goes to the default provider's HMAC,
# through acrypto's (fetched under -propquery provider=acrypto).
for d in SHA384 SHA512 SHA3-256; do
	key=$(hex /dev/urandom 40)
	ref=$(openssl mac -digest "$d" -macopt hexkey:"$key" -in "$work/pt" HMAC)
	got=$(openssl mac "${P[@]}" -digest "$d" -macopt hexkey:"$key" -in "$work/pt" HMAC)
	[ -n "$ref" ] && [ "$ref" = "$got" ] || fail "openssl mac HMAC-$d (handed over) differs: $ref $got"
done
note "openssl mac: HMAC over SHA384, SHA512 and SHA3-256 (handed to the default provider) equal it"

# Digests and HMAC stream through acrypto (acrypto_stream_*): a message longer
# than one acrypto request may be (1 GiB) digests in bounded memory.
big=1100M
ref=$(head -c $big /dev/zero | openssl dgst -sha256 -r | cut -d' ' -f1)
got=$(head -c $big /dev/zero | /usr/bin/time -f %M -o "$work/rss" openssl dgst "${P[@]}" -sha256 -r | cut -d' ' -f1)
[ -n "$ref" ] && [ "$ref" = "$got" ] || fail "openssl dgst -sha256 of $big differs: $ref $got"
rss=$(tail -1 "$work/rss")
[ "$rss" -lt 102400 ] || fail "openssl dgst -sha256 of $big through acrypto used $rss KiB (not streamed)"
ref=$(head -c $big /dev/zero | openssl mac -digest SHA256 -macopt key:k HMAC)
got=$(head -c $big /dev/zero | openssl mac "${P[@]}" -digest SHA256 -macopt key:k HMAC)
[ -n "$ref" ] && [ "$ref" = "$got" ] || fail "openssl mac HMAC-SHA256 of $big differs: $ref $got"
note "openssl dgst/mac of $big stream through acrypto (dgst max RSS $rss KiB)"

cat > "$work/rand.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
random = random_sect
[provider_sect]
default = default_sect
acrypto = acrypto_sect
[default_sect]
activate = 1
[acrypto_sect]
module = $modules/acrypto.so
activate = 1
[random_sect]
random = ACRYPTO-RNG
properties = provider=acrypto
EOF
r1=$(OPENSSL_CONF=$work/rand.cnf ACRYPTO_PROVIDER_STATS=$work/rand.st openssl rand -hex 4096)
r2=$(OPENSSL_CONF=$work/rand.cnf openssl rand -hex 4096)
[ ${#r1} = 8192 ] && [ "$r1" != "$r2" ] || fail "openssl rand through ACRYPTO-RNG"
grep -q 'submitted=[1-9]' "$work/rand.st" || fail "openssl rand did not go through acrypto: $(cat "$work/rand.st")"
note "openssl rand: ACRYPTO-RNG as the primary DRBG ($(cat "$work/rand.st"))"

# --- 4. TLS through s_server and s_client
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
	-subj /CN=localhost 2> /dev/null
head -c $((64 << 20)) /dev/urandom > "$work/big"
want=$(sha256sum < "$work/big")
PT=(-provider-path "$modules" -provider acrypto -provider default -propquery '?provider=acrypto')
port=$((20000 + $(rnd_below 20000)))
# Waits (up to 10 s) until a socket listens on PORT: a test connection
# would use up s_server's one accept.
await_listen() {
	local i hexport
	hexport=$(printf '%04X' "$1")
	for i in $(seq 100); do
		grep -qi ":$hexport 00000000:0000 0A\|:$hexport 00000000000000000000000000000000:0000 0A" \
			/proc/net/tcp /proc/net/tcp6 2> /dev/null && break
		sleep 0.1
	done
}
# counted NAME MIB WHAT: both sides' acrypto counters (ACRYPTO_PROVIDER_STATS
# files s.st and c.st) saw at least the MIB MiB sent
counted() {
	local sb cb
	sb=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$work/s.st")
	cb=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$work/c.st")
	[ "${sb:-0}" -ge $(($2 << 20)) ] && [ "${cb:-0}" -ge $(($2 << 20)) ] \
		|| fail "TLS $1: ${3}acrypto saw $sb bytes (server) and $cb bytes (client), less than the $2 MiB sent"
	note "TLS $1: $2 MiB ${3:-client to server }arrived intact; acrypto ran $sb bytes in s_server and $cb in s_client"
}
tls_case() { # name, then s_server/s_client options
	local name=$1
	shift
	port=$((port + 1))
	rm -f "$work/s.st" "$work/c.st" "$work/in.fifo" "$work/recv"
	mkfifo "$work/in.fifo"
	# s_server quits when its stdin ends: hold a fifo open for it.
	ACRYPTO_PROVIDER_STATS=$work/s.st timeout 120 openssl s_server "${PT[@]}" -accept "$port" -naccept 1 \
		-cert "$work/cert.pem" -key "$work/key.pem" -quiet "$@" < "$work/in.fifo" > "$work/recv" 2> "$work/s.err" &
	local spid=$!
	exec 7> "$work/in.fifo"
	await_listen "$port"
	ACRYPTO_PROVIDER_STATS=$work/c.st timeout 120 openssl s_client "${PT[@]}" -connect "127.0.0.1:$port" \
		-quiet -no_ign_eof -nocommands "$@" < "$work/big" > /dev/null 2> "$work/c.err" || {
		cat "$work/c.err" >&2
		fail "TLS $name: s_client"
	}
	exec 7>&-
	wait "$spid" || {
		cat "$work/s.err" >&2
		fail "TLS $name: s_server"
	}
	[ "$(sha256sum < "$work/recv")" = "$want" ] || fail "TLS $name: the 64 MiB file arrived changed ($(stat -c %s "$work/recv") bytes)"
	counted "$name" 64 ""
}
# The other direction: s_server -WWW serves a 16 MiB file from its working
# directory to s_client's "GET /back"; s_server writes it and closes, s_client
# (-quiet ignores its stdin's end) writes the HTTP reply to its stdout. The
# server reads nothing from its stdin here, so the transfer cannot stall on it.
head -c $((16 << 20)) /dev/urandom > "$work/back"
wantb=$(sha256sum < "$work/back")
tls_back() { # name, then s_server/s_client options
	local name=$1
	shift
	port=$((port + 1))
	rm -f "$work/s.st" "$work/c.st" "$work/recv"
	(cd "$work" && ACRYPTO_PROVIDER_STATS=$work/s.st exec timeout 120 openssl s_server "${PT[@]}" -accept "$port" \
		-naccept 1 -WWW -cert "$work/cert.pem" -key "$work/key.pem" -quiet "$@" < /dev/null > /dev/null 2> "$work/s.err") &
	local spid=$!
	await_listen "$port"
	printf 'GET /back HTTP/1.0\r\n\r\n' | ACRYPTO_PROVIDER_STATS=$work/c.st timeout 120 openssl s_client "${PT[@]}" \
		-connect "127.0.0.1:$port" -quiet -nocommands "$@" > "$work/recv" 2> "$work/c.err" || {
		cat "$work/c.err" >&2
		fail "TLS $name: server to client: s_client"
	}
	wait "$spid" || {
		cat "$work/s.err" >&2
		fail "TLS $name: server to client: s_server -WWW"
	}
	# The reply: an HTTP/1.0 200 header, an empty line, then the file.
	local got head
	head=$(head -c 17 "$work/recv" | tr -d '\r\n')
	[ "$head" = "HTTP/1.0 200 ok" ] || fail "TLS $name: server to client: the reply begins '$head', not HTTP/1.0 200 ok"
	got=$(tail -c $((16 << 20)) "$work/recv" | sha256sum)
	[ "$got" = "$wantb" ] && [ "$(stat -c %s "$work/recv")" -lt $(((16 << 20) + 200)) ] || {
		cat "$work/s.err" "$work/c.err" >&2
		fail "TLS $name: server to client, the 16 MiB file arrived changed ($(stat -c %s "$work/recv") bytes with the header)"
	}
	counted "$name" 16 "server to client, "
}
tls_both() {
	tls_case "$@"
	tls_back "$@"
}
tls_both "1.2 ECDHE-RSA-AES128-SHA256" -tls1_2 -cipher ECDHE-RSA-AES128-SHA256
tls_both "1.2 ECDHE-RSA-AES256-SHA" -tls1_2 -cipher ECDHE-RSA-AES256-SHA
tls_both "1.3 TLS_AES_128_GCM_SHA256" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
# Its key schedule asks acrypto's HMAC for SHA2-384, which acrypto hands to
# the default provider's HMAC.
tls_both "1.3 TLS_AES_256_GCM_SHA384" -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
tls_both "1.3 TLS_CHACHA20_POLY1305_SHA256" -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
tls_both "1.2 ECDHE-RSA-AES128-GCM-SHA256" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
tls_both "1.2 ECDHE-RSA-CHACHA20-POLY1305" -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
rm -f "$work/big" "$work/back" "$work/recv"

# --- 5. bad use through the command line: errors, never a crash
bad() { # expect a clean failure (exit 1), not a signal
	local rc=0
	"$@" > /dev/null 2> "$work/bad.err" || rc=$?
	[ "$rc" = 1 ] || fail "expected an error (exit 1), got $rc from: $*"
}
head -c 100 /dev/urandom > "$work/junk"
bad openssl enc -d -aes-128-cbc -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 \
	-in "$work/junk" "${P[@]}"
grep -q 'bad decrypt\|wrong final block length' "$work/bad.err" || fail "no OpenSSL error for a bad decryption: $(cat "$work/bad.err")"
bad openssl enc -aes-128-ecb -nopad -K 000102030405060708090a0b0c0d0e0f -in "$work/junk" "${P[@]}"
note "bad use gives OpenSSL errors"
note "all passed"
