#!/bin/sh
# LUKS2 in the guest (manifest stage "disk"): volumes cryptsetup formats open
# with `acrypto disk open --type luks2`, and volumes `acrypto disk format`
# makes open with `cryptsetup open`, each reading back what the other wrote
# through dm-crypt or acrypto's /dev/nbdN.
#
#   luks.sh roundtrip FIRST PBKDF SECTOR
#       FIRST (cryptsetup|acrypto) formats the volume (PBKDF pbkdf2 or
#       argon2id, fast settings), opens it, makes an ext4 and writes files;
#       the other side opens the same backing file with the passphrase:
#       fsck -n clean, every sha256 sum matches; it writes one more file;
#       the first side checks them all again.
#   luks.sh badinput
#       a wrong passphrase, a corrupted primary header (the secondary is
#       used, the files read back), both headers corrupted, a truncated
#       backing file: one-line errors, nothing written.
#
# Runs chrooted in the host root; $B holds the acrypto binary. Every check
# prints a RESULT line; the script exits non-zero on the first failure.
NAME=luks DM=lt
. "$(dirname "$0")/disk_lib.sh"

ac_open() { dev=$($A disk open $w/back.img t --type luks2 --key-file $w/pass) || fail "acrypto disk open --type luks2"; }
ac_close() { $A disk close t || fail "acrypto disk close"; }
cs_open() {
	cryptsetup open --type luks2 --key-file $w/pass $w/back.img lt || fail "cryptsetup open --type luks2"
	dev=/dev/mapper/lt
}
cs_close() { cryptsetup close lt || fail "cryptsetup close"; }
fsck_clean() {
	e2fsck -fn "$dev" >$w/fsck.log 2>&1 || { sed 's/^/  note: /' $w/fsck.log; fail "$1: fsck -n of $dev not clean"; }
}

roundtrip() {
	first=$1 pbkdf=$2 ss=$3
	rm -f $w/back.img
	# 16 MiB of header and keyslots (cryptsetup's default), 6 MiB of data
	truncate -s 22M $w/back.img
	head -c 40 /dev/urandom >$w/pass
	case $pbkdf in
	pbkdf2) cs_kdf="--pbkdf pbkdf2 --pbkdf-force-iterations 1000" ;;
	*) cs_kdf="--pbkdf $pbkdf --pbkdf-memory 1024 --pbkdf-force-iterations 4 --pbkdf-parallel 1" ;;
	esac
	fmt="--type luks2 --cipher aes-xts-plain64 --key-size 512 --sector-size $ss --key-file $w/pass $cs_kdf"
	if [ "$first" = cryptsetup ]; then
		# shellcheck disable=SC2086
		cryptsetup luksFormat -q $fmt $w/back.img || fail "cryptsetup luksFormat $fmt"
		open1=cs_open close1=cs_close open2=ac_open close2=ac_close
	else
		# shellcheck disable=SC2086
		$A disk format $w/back.img $fmt || fail "acrypto disk format $fmt"
		cryptsetup luksDump $w/back.img >$w/dump || fail "cryptsetup luksDump of acrypto's header"
		grep -q "sector: $ss \[bytes\]" $w/dump || fail "luksDump: no sector size $ss"
		open1=ac_open close1=ac_close open2=cs_open close2=cs_close
	fi
	what="$first-formatted $pbkdf sector $ss"
	$open1
	mkfs.ext4 -q -F "$dev" >/dev/null 2>&1 || fail "$what: mkfs.ext4 on $dev"
	mount -t ext4 "$dev" $w/mnt || fail "$what: mount $dev"
	write_files $w/mnt a
	umount $w/mnt || fail "umount"
	$close1
	$open2
	fsck_clean "$what: second side"
	mount -t ext4 "$dev" $w/mnt || fail "$what: second side: mount $dev"
	check_files $w/mnt || fail "$what: sums differ on the other side"
	head -c 200000 /dev/urandom >$w/mnt/f9b
	(cd $w/mnt && sha256sum f9b) >>$w/sums
	umount $w/mnt
	$close2
	$open1
	fsck_clean "$what: back"
	mount -t ext4 -o ro "$dev" $w/mnt || fail "$what: back: mount"
	check_files $w/mnt || fail "$what: sums differ back on the first side"
	umount $w/mnt
	$close1
	pass "$what: $first -> other -> $first: fsck clean, $(wc -l <$w/sums) sums match"
	cleanup
}

# refused WANT: acrypto disk open --type luks2 fails with one line that says
# WANT, and changes nothing.
refused() {
	want=$1
	before=$(sha256sum $w/back.img)
	if $A disk open $w/back.img t --type luks2 --key-file $w/pass >$w/out 2>$w/err; then fail "accepted: $want"; fi
	[ "$(wc -l <$w/err)" = 1 ] || { cat $w/err; fail "not one line: $want"; }
	grep -qi "$want" $w/err || fail "'$(cat $w/err)' does not say '$want'"
	[ "$before" = "$(sha256sum $w/back.img)" ] || fail "backing file changed: $want"
	[ -z "$(ls $ACRYPTO_RUN_DIR/*.json 2>/dev/null)" ] || fail "state left by: $want"
	echo "  note: refused: $(cat $w/err)"
}
# flip AT: one byte of the backing file changed
flip() {
	b=$(dd if=$w/back.img bs=1 skip="$1" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "$(printf '\\%03o' $(((b ^ 1) & 255)))" | dd of=$w/back.img bs=1 seek="$1" conv=notrunc 2>/dev/null
}

badinput() {
	rm -f $w/back.img
	truncate -s 18M $w/back.img
	printf 'the right one' >$w/right
	cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file $w/right $w/back.img ||
		fail "luksFormat"
	cp $w/right $w/pass
	cs_open
	head -c 1M /dev/urandom >$w/data
	dd if=$w/data of="$dev" bs=64k oflag=direct 2>/dev/null || fail "dm-crypt write"
	cs_close
	printf 'the wrong one' >$w/pass
	refused "passphrase"
	cp $w/right $w/pass
	# The primary's JSON area corrupted: acrypto and cryptsetup use the secondary.
	flip 4200
	ac_open
	got=$(dd if="$dev" bs=64k count=16 iflag=direct 2>/dev/null | sha256sum)
	ac_close
	[ "$got" = "$(sha256sum <$w/data)" ] || fail "corrupted primary: the data read back differs"
	cp $w/back.img $w/both.img
	# Both corrupted: refused, as cryptsetup does.
	flip $((16384 + 4200))
	refused "header"
	cryptsetup luksDump $w/back.img >/dev/null 2>&1 && fail "cryptsetup accepts both headers corrupted"
	# Truncated inside the keyslots area.
	head -c 100000 $w/both.img >$w/back.img
	refused "too small"
	pass "wrong passphrase, corrupted primary (secondary used, data read back), both corrupted, truncated: refused in one line, nothing written"
	cleanup
}

cmd=$1
shift
"$cmd" "$@"
