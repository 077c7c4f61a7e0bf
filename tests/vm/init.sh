#!/bin/busybox sh
# /init of the test VM (copied into the initramfs by run.sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /cfg

say() { echo "GUEST $*"; }
finish() {
	say "kernel log follows"
	echo "DMESG BEGIN"
	dmesg
	echo "DMESG END"
	say "DONE"
	sync
	poweroff -f
}

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

# The Rust kdev/afalg tests again under other module parameters (small
# limits: session eviction, tiny windows, max_buffer faults; copies only;
# zero copy for nearly everything).
rust_tests() {
	[ "$RUST_TESTS" = 1 ] || return 0
	{
		T_TAG="$1" ACRYPTO_REQUIRE_KERNEL=1 ACRYPTO_KDEV_REFERENCE=$BUILD/kdev_reference.txt \
			chroot /host $BUILD/kernel_devices --test-threads=1 --nocapture -q
		echo $? >/tmp/rust_rc
	} | grep -E '^(RESULT|  note: [0-9]+ checks|test result)'
	rc=$(cat /tmp/rust_rc)
	[ "$rc" = 0 ] || echo "RESULT FAIL $1rust kernel devices exited with status $rc"
}

# Load a copy of the built module, not the file on the 9p mount.
cp /host$BUILD/kmod/acrypto.ko /acrypto.ko
if insmod /acrypto.ko; then
	say "acrypto loaded"
	BENCH_SECS=$BENCH_SECS RUST_TESTS=$RUST_TESTS chroot /host /bin/sh $HERE/guest.sh $MODE $BUILD
	if rmmod acrypto; then
		echo "RESULT PASS rmmod acrypto after all tests"
		dmesg | grep -o 'unload waits for the requests of .*' | sed 's/^/  note: /'
	else
		echo "RESULT FAIL rmmod acrypto after all tests"
		lsmod
	fi
	if [ "$MODE" = test ]; then
		# Parameters: out of range is refused; small limits are enforced.
		if insmod /acrypto.ko max_buffer=4194304 2>/dev/null; then
			echo "RESULT FAIL insmod with max_buffer=4 MiB was accepted"
			rmmod acrypto
		else
			echo "RESULT PASS insmod with max_buffer=4 MiB refused"
		fi
		if insmod /acrypto.ko max_sessions=3 max_inflight=5 max_buffer=4096; then
			T_TAG="[small limits] " chroot /host $BUILD/t_limits
			rust_tests "[small limits] "
			rmmod acrypto && echo "RESULT PASS rmmod after the small-limits run" ||
				echo "RESULT FAIL rmmod after the small-limits run"
		else
			echo "RESULT FAIL insmod with small limits"
		fi
		# The batch path with copies only, and with zero copy from 16 bytes.
		for zc in 0 16; do
			if insmod /acrypto.ko zero_copy_min=$zc; then
				T_TAG="[zero_copy_min=$zc] " chroot /host $BUILD/t_kat $BUILD/vectors.txt |
					grep -v '^  note: driver'
				rust_tests "[zero_copy_min=$zc] "
				rmmod acrypto && echo "RESULT PASS rmmod after the zero_copy_min=$zc run" ||
					echo "RESULT FAIL rmmod after the zero_copy_min=$zc run"
			else
				echo "RESULT FAIL insmod zero_copy_min=$zc"
			fi
		done
	fi
else
	echo "RESULT FAIL insmod acrypto"
fi
umount /host/run /host/sys /host/proc /host/dev 2>/dev/null
finish
