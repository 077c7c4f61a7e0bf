# Sourced by tests/vm/disk.sh and luks.sh (the guest's disk stage): the
# setting both share. Before sourcing, set NAME (the runs' names under /run)
# and DM (the dm-crypt mapping's name); $B holds the acrypto binary.
set -u
B=${B:?}
# The chroot's PATH lacks /usr/sbin (cryptsetup, mkfs.ext4, e2fsck).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DM_DISABLE_UDEV=1 ACRYPTO_RUN_DIR=/run/acrypto-$NAME
# One copy of the command in the guest's memory: loading it over 9p on
# every call is slow.
A=/run/acrypto-$NAME-bin
[ -x $A ] || cp "$B/acrypto" $A || exit 1
mkdir -p /run/cryptsetup "$ACRYPTO_RUN_DIR"
w=/run/$NAME-test
mkdir -p $w/mnt
tag=${T_TAG:-}

pass() { echo "RESULT PASS ${tag}$*"; }
fail() {
	echo "RESULT FAIL ${tag}$*"
	for l in "$ACRYPTO_RUN_DIR"/*.log; do [ -s "$l" ] && sed 's/^/  note: log: /' "$l"; done
	cleanup
	exit 1
}
cleanup() {
	umount $w/mnt 2>/dev/null
	for n in $(ls "$ACRYPTO_RUN_DIR" 2>/dev/null | sed -n 's/\.json$//p'); do $A disk close "$n" 2>/dev/null; done
	cryptsetup close "$DM" 2>/dev/null
	rm -rf $w/back.img $w/*.img $w/files
}

# write_files DIR SUFFIX: a few files of random sizes; their sums in $w/sums
write_files() {
	mkdir -p "$1"
	for i in 1 2 3; do
		head -c $((i * 97 * 1024 + i * 13)) /dev/urandom >"$1/f$i$2"
	done
	(cd "$1" && sha256sum f*) >$w/sums
}
# check_files DIR: every file of $w/sums there, and no other
check_files() {
	(cd "$1" && sha256sum -c --quiet $w/sums) || return 1
	[ "$(cd "$1" && ls f* | wc -l)" = "$(wc -l <$w/sums)" ]
}
