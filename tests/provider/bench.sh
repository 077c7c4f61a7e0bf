#!/usr/bin/env bash
# Benchmarks of the OpenSSL provider against OpenSSL's default provider,
# each a ratio of two `openssl speed` runs made one after the other
# (not part of run-all.sh). SECONDS_PER_RUN (default 3) sets -seconds.
#   tests/provider/bench.sh
set -euo pipefail
# ONLY=REGEX runs only the rows whose label matches. DEVICES="soft:1 imb"
# runs every row once per device specification (ACRYPTO_DEVICES for the
# provider's engine), each row labelled with it; without DEVICES the rows
# use ACRYPTO_DEVICES as it is (unset: the engine's default, one soft
# device per core).
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$PWD/target}
make -s -C libacrypto provider TARGET_DIR="$target" > /dev/null
secs=${SECONDS_PER_RUN:-3}
A=(-provider-path "$target/release" -provider acrypto -provider default -propquery provider=acrypto)
D=(-provider default)

speed() { # prints k-bytes/s of one openssl speed run
	openssl speed "$@" -seconds "$secs" 2> /dev/null | tail -n 1 | awk '{print $NF}' | tr -d k
}
row() { # label, then speed arguments
	local label=$1 a d
	shift
	[[ -z "${ONLY:-}" || "$label" =~ $ONLY ]] || return 0
	if [ -n "${dev:-}" ]; then
		label="$label [$dev]"
		a=$(ACRYPTO_DEVICES=$dev speed "${A[@]}" "$@") || a=
	else
		a=$(speed "${A[@]}" "$@") || a=
	fi
	d=$(speed "${D[@]}" "$@") || d=
	if [ -z "$a" ] || [ -z "$d" ]; then
		printf '%-56s not measured (acrypto: %s, default: %s)\n' "$label" "${a:-failed}" "${d:-failed}"
		return
	fi
	printf '%-56s acrypto %10.0f kB/s  default %10.0f kB/s  ratio %.2f\n' "$label" "$a" "$d" \
		"$(echo "$a / $d" | bc -l)"
}
echo "openssl speed, ${secs}s per run; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "acrypto devices: ${DEVICES:-${ACRYPTO_DEVICES:-default (soft, one per core)}}"
rows() {
	# The issue's ratios first: CBC at 1504 bytes through 16 async jobs (goal
	# >= 3x), AES-128-GCM at 1504 and 16384 bytes, and 16384 bytes without async
	# jobs (goal >= 0.95x). GCM rows use -aead: init, 13 bytes of AAD, update
	# and final per message, as a TLS record is sealed (acrypto's AEAD seals
	# each message at final; its counters show one request per message either
	# way).
	row "aes-128-cbc 1504 B, -async_jobs 16" -evp aes-128-cbc -bytes 1504 -async_jobs 16
	row "aes-128-cbc 1504 B, no async" -evp aes-128-cbc -bytes 1504
	row "aes-128-cbc 16384 B, no async" -evp aes-128-cbc -bytes 16384
	for b in 1504 16384; do
		row "aes-128-gcm $b B (-aead), -async_jobs 16" -evp aes-128-gcm -aead -bytes "$b" -async_jobs 16
		row "aes-128-gcm $b B (-aead), no async" -evp aes-128-gcm -aead -bytes "$b"
	done
}
if [ -n "${DEVICES:-}" ]; then
	for dev in $DEVICES; do
		rows
	done
else
	rows
fi
