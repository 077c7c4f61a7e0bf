#!/bin/busybox sh
# /init of the test VM (copied into the initramfs by run.sh). Walks the
# manifest (tests/vm/manifest, as filtered by run.sh into $BUILD/manifest):
# loads acrypto.ko per "load" line and runs that stage's tests through
# guest.sh, chrooted into the host root; then the harness's own tests
# ($BUILD/selftest.manifest), each segment of them between SELFTEST markers.
/bin/busybox --install -s /bin
export PATH=/bin
# a line of its own for the firmware's terminal resets before the first output
echo
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /cfg

say() { echo "GUEST $*"; }
kernel_log() {
	echo "DMESG BEGIN"
	dmesg -c
	echo "DMESG END"
}
finish() {
	say "kernel log follows"
	kernel_log
	say "DONE"
	sync
	poweroff -f
}
pass() { echo "RESULT PASS $*"; }
fail() { echo "RESULT FAIL $*"; }

for m in $(cat /modules.list); do
	insmod /lib/modules/$m 2>/dev/null || say "insmod $m failed"
done

mount -t 9p -o trans=virtio,version=9p2000.L,ro host /host || { say "9p mount failed"; finish; }
# The host root is read-only: give the chroot its own /dev, /proc, /sys, and
# a writable /run (not /tmp: the repository may live under the host's /tmp).
mount --bind /dev /host/dev
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount -t tmpfs scratch /host/run
# the ESP tests' tools, from the initramfs (run.sh)
if [ -d /esp-tools ]; then
	mkdir -p /host/run/esp-tools && mount --bind /esp-tools /host/run/esp-tools
fi

# Load copies of the built modules, not the files on the 9p mount.
cp /host$BUILD/kmod/acrypto.ko /acrypto.ko
cp /host$BUILD/broken/acrypto_broken.ko /acrypto_broken.ko 2>/dev/null

# load STAGE PARAMS...: insmod, the stage's tests, rmmod (refused while a
# closed fd's requests are still in a driver, so retried for a bounded time).
load() {
	stage=$1
	shift
	# shellcheck disable=SC2068 # parameters are split on purpose
	if insmod /acrypto.ko $@; then
		pass "$stage/insmod: acrypto.ko $*"
	else
		fail "$stage/insmod: acrypto.ko $*"
		return
	fi
	[ "$stage" = default ] && say "acrypto loaded"
	chroot /host /bin/sh "$HERE/guest.sh" "$MODE" "$BUILD" "$manifest" "$stage" </dev/null
	# Requests a test left in flight hold the module until they finish:
	# rmmod says "in use" until then, so it is retried for up to 60 s.
	tries=0
	until rmmod acrypto 2>/dev/null; do
		tries=$((tries + 1))
		[ $tries -ge 120 ] && break
		usleep 500000
	done
	if ! grep -q '^acrypto ' /proc/modules; then
		pass "$stage/rmmod: after its tests (waited $((tries / 2)).$((tries % 2 * 5))s)"
		dmesg | grep -o 'unload waits for the requests of .*' | sed 's/^/  note: /'
	else
		rmmod acrypto
		fail "$stage/rmmod: after its tests, still loaded after 60 s"
		lsmod
	fi
}

# refuse NAME PARAMS...: insmod with these parameters must fail.
refuse() {
	name=$1
	shift
	# shellcheck disable=SC2068
	if insmod /acrypto.ko $@ 2>/dev/null; then
		fail "refuse/$name: insmod acrypto.ko $* was accepted"
		rmmod acrypto
	else
		pass "refuse/$name: insmod acrypto.ko $* refused"
	fi
}

# broken NAME PARAMS...: the deliberately broken module (selftests only).
broken() {
	name=$1
	shift
	# shellcheck disable=SC2068
	if insmod /acrypto_broken.ko $@; then
		pass "$name/insmod: acrypto_broken.ko $*"
	else
		fail "$name/insmod: acrypto_broken.ko $*"
		return
	fi
	rmmod acrypto_broken && pass "$name/rmmod: acrypto_broken" || fail "$name/rmmod: acrypto_broken"
}

# Walks one manifest file (read first: its lines must not be the stdin of
# the programs it runs).
walk() {
	manifest=$BUILD/$1
	seg=
	grep -vE '^[[:space:]]*(#|$)' "/host$manifest" | grep -E '^(load|refuse|broken|segment) ' >/steps
	while read -r kind name rest <&3; do
		case $kind in
		segment)
			[ -n "$seg" ] && { kernel_log; echo "SELFTEST END $seg"; }
			seg=$name
			echo "SELFTEST BEGIN $seg"
			;;
		# shellcheck disable=SC2086
		load) load "$name" $rest ;;
		# shellcheck disable=SC2086
		refuse) refuse "$name" $rest ;;
		# shellcheck disable=SC2086
		broken) broken "$name" $rest ;;
		esac
	done 3</steps
	[ -n "$seg" ] && { kernel_log; echo "SELFTEST END $seg"; }
}

if [ "$MODE" = bench ]; then
	if insmod /acrypto.ko; then
		BENCH_SECS=$BENCH_SECS BENCH_ONLY=$BENCH_ONLY RUST_TESTS=$RUST_TESTS chroot /host /bin/sh "$HERE/guest.sh" bench "$BUILD"
		rmmod acrypto
	else
		say "insmod acrypto failed"
	fi
else
	walk manifest
	say "tests done"
	# the real run's kernel log, before the selftests add theirs
	kernel_log
	[ "$SELFTEST" = 1 ] && walk selftest.manifest
fi
umount /host/run/esp-tools /host/run /host/sys /host/proc /host/dev 2>/dev/null
say "kernel log follows"
kernel_log
say "DONE"
sync
poweroff -f
