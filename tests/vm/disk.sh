#!/bin/sh
# The dm-crypt port in the guest (manifest stage "disk"): acrypto's
# /dev/nbdN against the kernel's dm-crypt on the same backing file.
#
#   disk.sh roundtrip FIRST CIPHER BITS SECTOR LARGE OFFSET SKIP [back]
#       FIRST (acrypto|dmcrypt) makes an ext4 and writes files; the other
#       one opens the same backing file: fsck -n clean, every sha256 sum
#       matches; it writes one more file; with "back", the first one checks
#       all again.
#   disk.sh durability    kill -9 of the server during a write load
#   disk.sh badinput      refusals that change nothing
#   disk.sh listen        --listen served to Debian's nbd-client
#
# With DISK_REQUIRE_DEVICE=NAME (and ACRYPTO_DEVICES naming it), every close
# of acrypto's volume first checks that device NAME ran some of its requests.
#
# Runs chrooted in the host root; $B holds the acrypto binary. Every check
# prints a RESULT line; the script exits non-zero on the first failure.
NAME=disk DM=dmt
. "$(dirname "$0")/disk_lib.sh"

acrypto_open() {
	# shellcheck disable=SC2086
	dev=$($A disk open $w/back.img t $opts) || fail "acrypto disk open $opts"
}
acrypto_close() {
	[ -n "${DISK_REQUIRE_DEVICE:-}" ] && device_ran "$DISK_REQUIRE_DEVICE"
	$A disk close t || fail "acrypto disk close"
}
# device_ran NAME: disk status shows that device NAME of the volume's engine
# completed requests and failed none (the counters are rewritten every second)
device_ran() {
	i=0
	while :; do
		$A disk status --json t >$w/status.json 2>/dev/null
		got=$(/usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))[0]
d = [x for x in v["devices"] if x["name"] == sys.argv[2]]
print("%d %d %d" % (d[0]["completed"], d[0]["failed"], sum(x["completed"] for x in v["devices"])) if d else "none")
' $w/status.json "$1" 2>/dev/null)
		set -- "$1" $got
		[ "${2:-none}" = none ] && fail "disk status lists no device $1: $(cat $w/status.json)"
		[ "$3" = 0 ] || fail "device $1 failed $3 requests"
		[ "$2" -gt 0 ] && break
		i=$((i + 1))
		[ $i -lt 30 ] || fail "device $1 ran no request of the volume: $(cat $w/status.json)"
		sleep 0.2
	done
	echo "  note: $1 completed $2 of the volume's $4 requests, failed none"
}
dm_open() {
	# shellcheck disable=SC2086
	cryptsetup open --type plain $dmopts $w/back.img dmt || fail "cryptsetup open --type plain $dmopts"
	dev=/dev/mapper/dmt
}
dm_close() { cryptsetup close dmt || fail "cryptsetup close"; }
fsck_clean() {
	e2fsck -fn "$dev" >$w/fsck.log 2>&1 || { sed 's/^/  note: /' $w/fsck.log; fail "$1: fsck -n of $dev not clean"; }
}

roundtrip() {
	first=$1 cipher=$2 bits=$3 ss=$4 large=$5 off=$6 skip=$7
	rm -f $w/back.img
	truncate -s $((off * 512 + 8 * 1024 * 1024)) $w/back.img
	head -c 64 /dev/urandom >$w/key
	common="--cipher $cipher --key-size $bits --key-file $w/key --sector-size $ss --offset $off --skip $skip"
	[ "$large" = 1 ] && common="$common --iv-large-sectors"
	opts=$common dmopts=$common
	what="$cipher/$bits sector $ss large-iv $large offset $off skip $skip"
	if [ "$first" = acrypto ]; then open1=acrypto_open close1=acrypto_close open2=dm_open close2=dm_close
	else open1=dm_open close1=dm_close open2=acrypto_open close2=acrypto_close; fi
	$open1
	mkfs.ext4 -q -F "$dev" >$w/mkfs.log 2>&1 || { sed 's/^/  note: /' $w/mkfs.log; dmesg | tail -20; fail "$first: mkfs.ext4 on $dev"; }
	mount -t ext4 "$dev" $w/mnt || fail "$first: mount $dev"
	write_files $w/mnt a
	umount $w/mnt || fail "umount"
	$close1
	$open2
	fsck_clean "$what: second"
	mount -t ext4 "$dev" $w/mnt || fail "second: mount $dev"
	check_files $w/mnt || fail "$what: sums differ when opened by the other side"
	head -c 300000 /dev/urandom >$w/mnt/f9b
	(cd $w/mnt && sha256sum f9b) >>$w/sums
	umount $w/mnt
	$close2
	if [ "${8:-}" = back ]; then
		$open1
		fsck_clean "$what: back"
		mount -t ext4 -o ro "$dev" $w/mnt || fail "back: mount"
		check_files $w/mnt || fail "$what: sums differ back on the first side"
		umount $w/mnt
		$close1
	fi
	pass "$first -> other${8:+ -> $first}: $what: fsck clean, $(wc -l <$w/sums) sums match"
	cleanup
}

durability() {
	rm -f $w/back.img
	truncate -s 16M $w/back.img
	head -c 64 /dev/urandom >$w/key
	opts="--cipher aes-xts-plain64 --key-size 512 --key-file $w/key"
	acrypto_open
	mkfs.ext4 -q -F "$dev" >$w/mkfs.log 2>&1 || { sed 's/^/  note: /' $w/mkfs.log; fail "mkfs.ext4 on $dev"; }
	mount -t ext4 "$dev" $w/mnt || fail "mount"
	write_files $w/mnt s
	sync
	pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$ACRYPTO_RUN_DIR/t.json")
	[ -n "$pid" ] || fail "no server pid"
	# A write load, then kill -9 of the server in the middle of it.
	(i=0; while [ $i -lt 40 ]; do head -c 262144 /dev/urandom >$w/mnt/load$i 2>/dev/null || break; i=$((i + 1)); done) &
	load=$!
	sleep 2
	kill -9 "$pid" || fail "kill -9 $pid"
	wait $load 2>/dev/null
	umount -l $w/mnt 2>/dev/null
	sleep 1
	rm -f "$ACRYPTO_RUN_DIR/t.json"
	acrypto_open
	# mount replays the journal; then the check must be clean
	mount -t ext4 "$dev" $w/mnt || fail "mount after kill -9"
	check_files $w/mnt || fail "a file synced before kill -9 changed"
	umount $w/mnt
	fsck_clean "after kill -9"
	acrypto_close
	pass "kill -9 of the server during writes: reopened, journal replayed, fsck clean, $(wc -l <$w/sums) synced files intact ($dev)"
	cleanup
}

# bad input: a one-line error, exit status non-zero, the backing file unchanged
refused() {
	want=$1
	shift
	before=$(sha256sum $w/back.img)
	if "$A" disk open "$@" >$w/out 2>$w/err; then fail "accepted: disk open $*"; fi
	[ "$(wc -l <$w/err)" = 1 ] || { cat $w/err; fail "not one line: disk open $*"; }
	grep -q "$want" $w/err || fail "disk open $*: '$(cat $w/err)' does not say '$want'"
	[ "$before" = "$(sha256sum $w/back.img)" ] || fail "backing file changed by: disk open $*"
	[ -z "$(ls $ACRYPTO_RUN_DIR/*.json 2>/dev/null)" ] || fail "state left by: disk open $*"
	echo "  note: refused: $(cat $w/err)"
}
badinput() {
	rm -f $w/back.img
	head -c 1M /dev/urandom >$w/back.img
	head -c 64 /dev/urandom >$w/key
	head -c 20 /dev/urandom >$w/shortkey
	k="--cipher aes-xts-plain64 --key-size 512"
	refused "holds 20 bytes" $w/back.img t $k --key-file $w/shortkey
	refused "too small for the data offset" $w/back.img t $k --key-file $w/key --offset 8192
	refused "too small for a data segment" $w/back.img t $k --key-file $w/key --offset 8 --size 8192
	refused "not a multiple" $w/back.img t $k --key-file $w/key --sector-size 4096 --skip 3
	refused "unsupported cipher" $w/back.img t --cipher aes-cbc-plain --key-file $w/key
	refused "key size 384" $w/back.img t --cipher aes-xts-plain64 --key-size 384 --key-file $w/key
	refused "No such file" $w/nothere.img t $k --key-file $w/key
	refused "bad volume name" $w/back.img a/b $k --key-file $w/key
	refused "nbd" $w/back.img t $k --key-file $w/key --nbd /dev/nbd99
	# I/O beyond the end of the device: the kernel refuses it, nothing written
	opts="$k --key-file $w/key"
	acrypto_open
	before=$(sha256sum $w/back.img)
	if dd if=/dev/zero of="$dev" bs=4096 seek=256 count=1 oflag=direct 2>/dev/null; then fail "write past the end accepted"; fi
	n=$(dd if="$dev" bs=4096 skip=255 count=4 iflag=direct 2>/dev/null | wc -c)
	[ "$n" = 4096 ] || fail "read at the end gave $n bytes, not 4096"
	acrypto_close
	[ "$before" = "$(sha256sum $w/back.img)" ] || fail "backing changed by I/O past the end"
	pass "bad input refused with one-line errors, backing file unchanged"
	cleanup
}

listen() {
	ip link set lo up 2>/dev/null
	rm -f $w/back.img
	truncate -s 8M $w/back.img
	head -c 64 /dev/urandom >$w/key
	k="--cipher aes-cbc-essiv:sha256 --key-size 256 --key-file $w/key"
	head -c 1M /dev/urandom >$w/data
	dmopts=$k
	dm_open
	dd if=$w/data of="$dev" bs=64k oflag=direct 2>/dev/null || fail "dm-crypt write"
	dm_close
	addr=$($A disk open $w/back.img t $k --listen 127.0.0.1:10809) || fail "disk open --listen"
	nbd=/dev/nbd9
	nbd-client 127.0.0.1 10809 $nbd -N t >$w/nbdc.log 2>&1 || { sed 's/^/  note: /' $w/nbdc.log; fail "nbd-client to $addr"; }
	got=$(dd if=$nbd bs=64k count=16 iflag=direct 2>/dev/null | sha256sum)
	[ "$got" = "$(sha256sum <$w/data)" ] || fail "nbd-client read differs from what dm-crypt wrote"
	head -c 512k /dev/urandom >$w/data2
	dd if=$w/data2 of=$nbd bs=64k seek=32 oflag=direct conv=fsync 2>/dev/null || fail "nbd-client write"
	nbd-client -d $nbd >/dev/null 2>&1
	acrypto_close
	dm_open
	got=$(dd if="$dev" bs=64k skip=32 count=8 iflag=direct 2>/dev/null | sha256sum)
	dm_close
	[ "$got" = "$(sha256sum <$w/data2)" ] || fail "dm-crypt reads back a different write from nbd-client"
	pass "--listen $addr: nbd-client reads what dm-crypt wrote; dm-crypt reads what nbd-client wrote"
	cleanup
}

# The benchmark (tests/vm/run.sh bench): sequential dd bs=1M with O_DIRECT (and
# fio's sequential 1 MiB direct psync jobs)
# through dm-crypt and through acrypto's /dev/nbdN, same cipher, same
# backing file, same guest; MiB/s and the ratio acrypto / dm-crypt.
ddrate() { # dd args...: MiB/s from dd's byte count and seconds
	dd "$@" 2>&1 | awk '/bytes/ && / s,/ { for (i = 1; i <= NF; i++) if ($(i) == "s," || $(i) ~ /^s,$/) s = $(i - 1); printf "%.1f", $1 / 1048576 / s }'
}
fiorate() { # read|write: MiB/s of fio's sequential 1 MiB direct psync job on $dev
	fio --name=acrypto-bench --filename="$dev" --rw="$1" --bs=1M --size=${mib}M --direct=1 --ioengine=psync 2>&1 |
		sed -n 's/.*BW=\([0-9.]*\)\([KMG]\)iB\/s.*/\1 \2/p' | head -1 |
		awk '{ f = $2 == "K" ? 1 / 1024 : ($2 == "G" ? 1024 : 1); printf "%.1f", $1 * f }'
}
kdriver() { # NAME: the driver of NAME's highest-priority /proc/crypto entry
	awk -v n="$1" '$1 == "name" { name = $3 } $1 == "driver" { drv = $3 }
		$1 == "priority" && name == n && $3 + 0 > best { best = $3 + 0; out = drv }
		END { print (out == "" ? "(not in /proc/crypto)" : out) }' /proc/crypto
}
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }
bench() {
	mib=${DISK_BENCH_MIB:-64}
	rm -f $w/back.img
	truncate -s $((mib + 1))M $w/back.img
	head -c 64 /dev/urandom >$w/key
	echo "disk bench: dd bs=1M count=$mib oflag/iflag=direct, backing file on tmpfs, engine ${ACRYPTO_DEVICES:-soft (one device per core)}"
	fio=$(command -v fio || true)
	[ -n "$fio" ] && echo "disk bench: fio --rw=write|read --bs=1M --size=${mib}M --direct=1 --ioengine=psync" ||
		echo "disk bench: no fio (tests/setup.sh installs it): dd only"
	echo "kernel drivers: the highest-priority /proc/crypto driver of the algorithm dm-crypt instantiated for the row"
	for c in "aes-xts-plain64 512 512" "aes-xts-plain64 512 4096" "aes-cbc-essiv:sha256 256 512"; do
		set -- $c
		k="--cipher $1 --key-size $2 --key-file $w/key --sector-size $3"
		dmopts=$k
		dm_open
		case $1 in
		aes-xts-*) kalg='xts(aes)' ;;
		aes-cbc-essiv:sha256) kalg='essiv(cbc(aes),sha256)' ;;
		*) kalg='cbc(aes)' ;;
		esac
		kdrv=$(kdriver "$kalg")
		dw=$(ddrate if=/dev/zero of="$dev" bs=1M count=$mib oflag=direct)
		dr=$(ddrate if="$dev" of=/dev/null bs=1M count=$mib iflag=direct)
		[ -n "$fio" ] && fdw=$(fiorate write) && fdr=$(fiorate read)
		dm_close
		opts=$k
		acrypto_open
		aw=$(ddrate if=/dev/zero of="$dev" bs=1M count=$mib oflag=direct)
		ar=$(ddrate if="$dev" of=/dev/null bs=1M count=$mib iflag=direct)
		[ -n "$fio" ] && faw=$(fiorate write) && far=$(fiorate read)
		acrypto_close
		echo "$1 $2-bit sector $3: dm-crypt uses $kalg = $kdrv; acrypto uses ${ACRYPTO_DEVICES:-soft}"
		echo "$1 $2-bit sector $3: dd write dm-crypt $dw MiB/s, acrypto ($dev) $aw MiB/s, ratio $(ratio "$aw" "$dw");" \
			"dd read dm-crypt $dr MiB/s, acrypto $ar MiB/s, ratio $(ratio "$ar" "$dr")"
		[ -n "$fio" ] && echo "$1 $2-bit sector $3: fio write dm-crypt $fdw MiB/s, acrypto $faw MiB/s, ratio $(ratio "$faw" "$fdw");" \
			"fio read dm-crypt $fdr MiB/s, acrypto $far MiB/s, ratio $(ratio "$far" "$fdr")"
	done
	cleanup
}

cmd=$1
shift
"$cmd" "$@"
