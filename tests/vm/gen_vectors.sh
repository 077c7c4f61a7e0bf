#!/bin/bash
# Makes the cross-check vectors on the host with the openssl CLI (and, for
# XTS, libcrypto through xts_ref): random keys, IVs and data, one per line:
#   NAME OP TYPE MODE KEYHEX IVHEX DATAHEX EXPECTEDHEX     ("-" = empty)
# OP/TYPE/MODE are the uapi numbers, so the guest needs no table.
# Usage: gen_vectors.sh XTS_REF_BINARY OUTFILE
set -euo pipefail
xts_ref=$1
out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

hex() { od -An -v -tx1 | tr -d ' \n'; }
orempty() { local v; v=$(cat); echo "${v:--}"; }

: >"$out"
# uapi numbers
ENC=1 HASH=3 HMAC=4
declare -A TYPE=([128]=1 [192]=2 [256]=3) MODE=([ecb]=1 [cbc]=2 [ctr]=3 [xts]=4)

for bits in 128 192 256; do
	for mode in ecb cbc ctr xts; do
		[ "$mode" = xts ] && [ "$bits" = 192 ] && continue
		# the last length is above the module's zero-copy threshold (4096)
		case $mode in
		ctr) lens="1 17 1500 5000" ;;
		xts) lens="16 33 1504 5003" ;;
		*) lens="16 64 1504 8192" ;;
		esac
		klen=$((bits / 8))
		[ "$mode" = xts ] && klen=$((klen * 2))
		for len in $lens; do
			key=$(openssl rand -hex $klen)
			iv=-
			[ "$mode" = ecb ] || iv=$(openssl rand -hex 16)
			openssl rand -out "$tmp/d" "$len"
			data=$(hex <"$tmp/d")
			if [ "$mode" = xts ]; then
				exp=$("$xts_ref" "$bits" "$key" "$iv" "$tmp/d")
			elif [ "$mode" = ecb ]; then
				exp=$(openssl enc -aes-$bits-ecb -K "$key" -nopad -in "$tmp/d" | hex)
			else
				exp=$(openssl enc -aes-$bits-$mode -K "$key" -iv "$iv" -nopad -in "$tmp/d" | hex)
			fi
			echo "aes-$bits-$mode $ENC ${TYPE[$bits]} ${MODE[$mode]} $key $iv $data $exp" >>"$out"
		done
	done
done

for alg in sha1 sha256; do
	t=4; [ $alg = sha256 ] && t=5
	for len in 0 3 64 1000; do
		if [ "$len" = 0 ]; then : >"$tmp/d"; else openssl rand -out "$tmp/d" "$len"; fi
		data=$(hex <"$tmp/d" | orempty)
		exp=$(openssl dgst -$alg -binary "$tmp/d" | hex)
		echo "$alg $HASH $t 0 - - $data $exp" >>"$out"
	done
	for klen in 20 64 100; do
		key=$(openssl rand -hex $klen)
		openssl rand -out "$tmp/d" 200
		data=$(hex <"$tmp/d")
		exp=$(openssl dgst -$alg -mac HMAC -macopt hexkey:"$key" -binary "$tmp/d" | hex)
		echo "hmac-$alg $HMAC $t 0 $key - $data $exp" >>"$out"
	done
done
echo "$(wc -l <"$out") vectors in $out"
