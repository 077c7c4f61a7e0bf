#!/bin/bash
# Builds acrypto.ko and the C tests, boots Debian's kernel in qemu (TCG) with
# the host's root mounted read-only over 9p, loads the module, runs the tests
# in a chroot into the host root, unloads the module and checks the kernel
# log. See tests/vm/README.md.
#
#   tests/vm/run.sh          the test suite (default)
#   tests/vm/run.sh bench    the benchmark only (not part of the tests)
#
# Environment: VM_TIMEOUT (seconds, default 480), KVER (default: newest
# kernel with both /boot/vmlinuz-$KVER and /lib/modules/$KVER/build).
set -euo pipefail

mode=${1:-test}
case $mode in
test | bench) ;;
*)
	echo "usage: $0 [test|bench]" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$here/build
case $build in
/run/* | /dev/* | /proc/* | /sys/*)
	# the guest mounts its own file systems there, hiding the host's
	echo "vm: the repository must not live under /run, /dev, /proc or /sys" >&2
	exit 2
	;;
esac
timeout_s=${VM_TIMEOUT:-480}

log() { echo "vm: $*"; }

# ---- 1. what the harness needs --------------------------------------------
need_install=0
for c in qemu-system-x86_64 openssl gcc make modprobe cpio gzip; do
	command -v "$c" >/dev/null || need_install=1
done
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod || need_install=1
[ -f /usr/include/openssl/evp.h ] || need_install=1
ls -d /usr/lib/gcc/x86_64-linux-gnu/*/32 >/dev/null 2>&1 || need_install=1
# busybox must be static: it runs alone in the initramfs
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need_install=1
ls /boot/vmlinuz-* >/dev/null 2>&1 || need_install=1
ls -d /lib/modules/*/build >/dev/null 2>&1 || need_install=1
if [ $need_install = 1 ]; then
	log "installing qemu, Debian kernel and headers, busybox-static, openssl, gcc"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq qemu-system-x86 linux-image-amd64 linux-headers-amd64 \
		busybox-static openssl libssl-dev gcc gcc-multilib make kmod cpio gzip >/dev/null
fi

# ---- 2. the guest kernel ----------------------------------------------------
if [ -z "${KVER:-}" ]; then
	KVER=
	for d in $(ls -d /lib/modules/*/ | sort -V); do
		k=$(basename "$d")
		[ -f "/boot/vmlinuz-$k" ] && [ -e "/lib/modules/$k/build" ] && KVER=$k
	done
fi
if [ -z "$KVER" ] || [ ! -f "/boot/vmlinuz-$KVER" ]; then
	echo "vm: no kernel with both /boot/vmlinuz-* and /lib/modules/*/build" >&2
	exit 1
fi
log "kernel $KVER"

# ---- 3. the module, in the dkms layout (header under ./include) -------------
rm -rf "$build"
mkdir -p "$build/kmod/include/linux"
cp "$repo"/kmod-c/{acrypto.c,Kbuild,Makefile,dkms.conf} "$build/kmod/"
cp "$repo/include/uapi/linux/acrypto.h" "$build/kmod/include/linux/"
make -s -C "/lib/modules/$KVER/build" M="$build/kmod" modules 2>&1 |
	grep -v "Skipping BTF generation" || true
[ -f "$build/kmod/acrypto.ko" ] || {
	echo "vm: module build failed" >&2
	exit 1
}

# ---- 4. the C tests, static so that nothing depends on the chroot's libs ----
cflags=(-O2 -g -Wall -Wextra -Werror -I"$repo/include/uapi" -pthread)
for t in t_kat t_isolation t_limits t_threads t_close t_fuzz bench_acrypto; do
	[ -f "$here/$t.c" ] || { echo "vm: missing $t.c" >&2; continue; }
	gcc "${cflags[@]}" -static -o "$build/$t" "$here/$t.c"
done
# The examples a user would copy (examples-c/kernel), run in the guest too.
for e in "$repo"/examples-c/kernel/*.c; do
	gcc "${cflags[@]}" -static -o "$build/$(basename "$e" .c)" "$e"
done
# The same tests as 32-bit programs: one layout for both, compat_ptr_ioctl.
for t in t_kat t_isolation t_limits; do
	gcc -m32 "${cflags[@]}" -static -o "$build/${t}32" "$here/$t.c"
done
gcc "${cflags[@]}" -o "$build/xts_ref" "$here/xts_ref.c" -lcrypto
"$here/gen_vectors.sh" "$build/xts_ref" "$build/vectors.txt" >/dev/null

# The Rust kernel devices (drivers/src/kdev.rs, afalg.rs): the root
# package's tests/kernel_devices.rs, built here and run in the guest. OpenSSL's
# answers for its cross-checks are made here too (hundreds of openssl runs
# are slow on the emulated CPU) and handed over in a file.
rust_tests=1
if [ "${ACRYPTO_VM_SKIP_RUST:-0}" = 1 ]; then
	rust_tests=skip
	log "Rust kernel device tests skipped (ACRYPTO_VM_SKIP_RUST=1)"
elif ! command -v cargo >/dev/null; then
	rust_tests=0
	log "no cargo: the Rust kernel device tests cannot be built"
else
	log "building the Rust kernel device tests"
	exe=$(cd "$repo" && cargo test --release --test kernel_devices --no-run --message-format=json 2>"$build/cargo.log" |
		grep -o '"executable":"[^"]*kernel_devices[^"]*"' | tail -1 | sed 's/^"executable":"//; s/"$//')
	if [ "$mode" = bench ]; then
		bench_exe=$(cd "$repo" && cargo build --release --example kdev_bench --message-format=json 2>>"$build/cargo.log" |
			grep -o '"executable":"[^"]*kdev_bench"' | tail -1 | sed 's/^"executable":"//; s/"$//')
		[ -n "$bench_exe" ] && cp "$bench_exe" "$build/kdev_bench"
	fi
	if [ -n "$exe" ] && [ -x "$exe" ]; then
		cp "$exe" "$build/kernel_devices"
		ACRYPTO_KDEV_REFERENCE_OUT="$build/kdev_reference.txt" "$build/kernel_devices" \
			--exact write_openssl_reference --nocapture >"$build/reference.log" 2>&1 || {
			cat "$build/reference.log" >&2
			echo "vm: making the OpenSSL reference for the Rust tests failed" >&2
			exit 1
		}
	else
		rust_tests=0
		tail -20 "$build/cargo.log" >&2
		log "building tests/kernel_devices.rs failed"
	fi
fi

# ---- 5. the initramfs ---------------------------------------------------------
ird=$build/initramfs
mkdir -p "$ird"/{bin,dev,proc,sys,host,tmp,lib/modules}
cp /bin/busybox "$ird/bin/busybox"
# sha512 before drbg: its self-test instantiates hmac(sha512)
mods="virtio_pci 9pnet_virtio 9p aesni_intel cryptd crypto_simd ecb ctr xts sha512_generic sha512_ssse3 drbg
      ansi_cprng af_alg algif_skcipher algif_hash sha1_ssse3 sha256_ssse3"
: >"$ird/modules.list"
for m in $mods; do
	modprobe --show-depends -S "$KVER" "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
	b=$(basename "$ko")
	case $ko in
	*.xz) xz -dc "$ko" >"$ird/lib/modules/${b%.xz}"; b=${b%.xz} ;;
	*.zst) zstd -qdc "$ko" >"$ird/lib/modules/${b%.zst}"; b=${b%.zst} ;;
	*) cp "$ko" "$ird/lib/modules/$b" ;;
	esac
	echo "$b" >>"$ird/modules.list"
done
cat >"$ird/cfg" <<EOF
MODE=$mode
BUILD=$build
HERE=$here
BENCH_SECS=${BENCH_SECS:-1}
RUST_TESTS=$rust_tests
EOF
cp "$here/init.sh" "$ird/init"
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$build/initrd.gz"

# ---- 6. boot ---------------------------------------------------------------------
log "booting (timeout ${timeout_s}s), console in $build/console.log"
set +e
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel tcg -cpu max -smp 2 -m 1024 -nographic -no-reboot \
	-kernel "/boot/vmlinuz-$KVER" -initrd "$build/initrd.gz" \
	-fsdev local,id=fs0,path=/,security_model=none,readonly=on \
	-device virtio-9p-pci,fsdev=fs0,mount_tag=host \
	-append "console=ttyS0 quiet panic=-1 oops=panic" </dev/null |
	tee "$build/console.log" | tr -d '\r' | grep --line-buffered -E '^(RESULT|  note|t_|GUEST)'
qemu_rc=${PIPESTATUS[0]}
set -e
tr -d '\r' <"$build/console.log" >"$build/console.txt"

# ---- 7. verdict --------------------------------------------------------------------
fail=0
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	log "FAIL: the VM timed out after ${timeout_s}s"
	fail=1
fi
if ! grep -q '^GUEST DONE' "$build/console.txt"; then
	log "FAIL: the guest did not finish (qemu exit $qemu_rc)"
	fail=1
fi
if grep -nE 'Oops|BUG:|WARNING:|Call Trace|KASAN|general protection|Kernel panic|UBSAN' \
	"$build/console.txt" >"$build/kernel-problems.txt"; then
	log "FAIL: the kernel log shows problems:"
	head -40 "$build/kernel-problems.txt"
	fail=1
fi
passed=$(grep -c '^RESULT PASS' "$build/console.txt" || true)
failed=$(grep -c '^RESULT FAIL' "$build/console.txt" || true)
if [ "$mode" = test ]; then
	grep '^RESULT FAIL' "$build/console.txt" || true
	[ "$failed" = 0 ] || fail=1
	[ "$passed" -gt 0 ] || fail=1
	if [ $fail = 1 ] && [ "$failed" = 0 ]; then failed=1; fi
	echo "$passed passed, $failed failed"
else
	sed -n '/^BENCH BEGIN/,/^BENCH END/p' "$build/console.txt" | sed '1d;$d'
fi
exit $fail
