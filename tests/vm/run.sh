#!/bin/bash
# Builds acrypto.ko and the C tests, boots Debian's kernel in qemu (TCG) with
# the host's root mounted read-only over 9p, loads the module, runs the tests
# in a chroot into the host root, unloads the module and checks the kernel
# log. The verdict is by manifest (tests/vm/manifest): every test listed
# there must report PASS. The harness's own tests (tests/vm/selftest.manifest,
# a module build with a warning, a deliberately broken module) must fail that
# same verdict. See tests/vm/README.md.
#
#   tests/vm/run.sh          the test suite (default)
#   tests/vm/run.sh bench    the benchmark only (not part of the tests)
#
# Environment: VM_ONLY (a regex: run only the manifest's test lines whose
# name matches, for working on them; CI never sets it), VM_TIMEOUT (seconds, default 2400: a hang detector; the guest
# needs about 6 minutes, more on a loaded machine), KVER (default: newest
# kernel with both /boot/vmlinuz-$KVER and /lib/modules/$KVER/build).
set -euo pipefail
# The whole script is one block, read before it runs: editing or checking
# out this file while a run is going on does not change that run.
{
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
timeout_s=${VM_TIMEOUT:-2400}

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

# ---- 3. the modules, in the dkms layout (header under ./include) ------------
# The test build fails on any compiler or modpost warning (the dkms build
# does not: a newer compiler must not break installation).
kmod_copy() {
	rm -rf "$1"
	mkdir -p "$1/include/linux"
	cp "$repo"/kmod-c/{acrypto.c,Kbuild,Makefile,dkms.conf} "$1/"
	cp "$repo/include/uapi/linux/acrypto.h" "$1/include/linux/"
}
# build_module DIR KO [MAKE ARGS]: 0 when DIR built KO without a warning;
# else says why.
build_module() {
	if ! make -C "/lib/modules/$KVER/build" M="$1" "${@:3}" modules >"$1/kbuild.log" 2>&1; then
		grep -v "Skipping BTF generation" "$1/kbuild.log" | tail -30
		echo "module build failed: $1"
		return 1
	fi
	if grep -i 'warning:' "$1/kbuild.log"; then
		echo "module build has warnings: $1"
		return 1
	fi
	[ -f "$1/$2" ] || { echo "module build made no $2: $1" && return 1; }
}
rm -rf "$build"
mkdir -p "$build"
kmod_copy "$build/kmod"
# ACRYPTO_WERROR=y: the project's own build also turns warnings into errors.
build_module "$build/kmod" acrypto.ko ACRYPTO_WERROR=y >"$build/kmod.verdict" || {
	cat "$build/kmod.verdict" >&2
	echo "vm: FAIL: acrypto.ko must build without warnings" >&2
	exit 1
}
# Selftest: the same check on a copy with one warning added, built as dkms
# builds it (no ACRYPTO_WERROR, any -Werror removed), must fail, and say it is
# the warning.
kmod_copy "$build/kmod-warning"
sed -i 's/-Werror//g' "$build/kmod-warning/Kbuild"
printf '%s\n' 'static int __maybe_unused acrypto_selftest_warning(void) { int unused; return 0; }' \
	>>"$build/kmod-warning/acrypto.c"
if build_module "$build/kmod-warning" acrypto.ko >"$build/kmod-warning.verdict" 2>&1; then
	echo "vm: FAIL: selftest: a module build with a warning was accepted" >&2
	exit 1
elif ! grep -q "warning: unused variable" "$build/kmod-warning.verdict" ||
	! grep -q '^module build has warnings' "$build/kmod-warning.verdict"; then
	cat "$build/kmod-warning.verdict" >&2
	echo "vm: FAIL: selftest: the module build with a warning failed for another reason" >&2
	exit 1
fi
log "selftest: a module build with a warning fails the run: ok"
rm -rf "$build/kmod-warning"
# The deliberately broken module (tests/vm/broken), for the selftests.
mkdir -p "$build/broken"
cp "$here"/broken/{acrypto_broken.c,Kbuild} "$build/broken/"
build_module "$build/broken" acrypto_broken.ko >"$build/broken.verdict" || {
	cat "$build/broken.verdict" >&2
	echo "vm: FAIL: tests/vm/broken must build without warnings" >&2
	exit 1
}

# ---- 4. the C tests, static so that nothing depends on the chroot's libs ----
cflags=(-O2 -g -Wall -Wextra -Werror -I"$repo/include/uapi" -pthread)
for t in t_kat t_isolation t_limits t_threads t_close t_fuzz t_abi t_mm t_orphans bench_acrypto t_aead; do
	[ -f "$here/$t.c" ] || { echo "vm: missing $t.c" >&2; continue; }
	gcc "${cflags[@]}" -static -o "$build/$t" "$here/$t.c"
done
# The examples a user would copy (examples-c/kernel), run in the guest too.
for e in "$repo"/examples-c/kernel/*.c; do
	gcc "${cflags[@]}" -static -o "$build/$(basename "$e" .c)" "$e"
done
# The same tests as 32-bit programs: one layout for both, compat_ptr_ioctl.
for t in t_kat t_isolation t_limits t_abi; do
	gcc -m32 "${cflags[@]}" -static -o "$build/${t}32" "$here/$t.c"
done
gcc "${cflags[@]}" -o "$build/xts_ref" "$here/xts_ref.c" -lcrypto
# t_stream checks digests against libcrypto: dynamic, the guest runs it in the host root.
gcc "${cflags[@]}" -o "$build/t_stream" "$here/t_stream.c" -lcrypto
# t_akcipher: RSA against libcrypto (dynamic, as t_stream), with keys made here:
# key generation is slow on the emulated CPU.
gcc "${cflags[@]}" -o "$build/t_akcipher" "$here/t_akcipher.c" -lcrypto
for bits in 2048 3072 4096; do
	openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" -outform DER -out "$build/rsa$bits.der" 2>/dev/null
done
# t_fuzz: the 2048-bit key as the kernel's parser takes it (PKCS#1 DER).
openssl rsa -inform DER -in "$build/rsa2048.der" -traditional -outform DER -out "$build/rsa2048.pkcs1.der" 2>/dev/null
# t_aead reads the CAVP GCM files from the build directory.
cp "$repo"/tests/vectors/aes-gcm/*.rsp "$build/"
"$here/gen_vectors.sh" "$build/xts_ref" "$build/vectors.txt" >/dev/null
# t_kat reads its vectors before it opens /dev/acrypto, so the host proves
# here that a vector line it cannot parse fails it (exit 1, RESULT FAIL)
# instead of shortening the run.
{ cat "$build/vectors.txt"; echo "cut-short 1 2"; } >"$build/vectors.bad"
if "$build/t_kat" "$build/vectors.bad" >"$build/t_kat.bad.log" 2>&1; then
	echo "vm: FAIL: t_kat accepted a vector file with a line it cannot parse" >&2
	exit 1
fi
grep -q 'RESULT FAIL' "$build/t_kat.bad.log" && grep -q 'cannot be parsed' "$build/t_kat.bad.log" || {
	cat "$build/t_kat.bad.log" >&2
	echo "vm: FAIL: t_kat did not report the vector it cannot parse" >&2
	exit 1
}

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
	# tests/accelerator.rs: the virtio-crypto accelerator through the engine.
	acc_exe=$(cd "$repo" && cargo test --release --test accelerator --no-run --message-format=json 2>>"$build/cargo.log" |
		grep -o '"executable":"[^"]*accelerator[^"]*"' | tail -1 | sed 's/^"executable":"//; s/"$//')
	if [ -n "$acc_exe" ] && [ -x "$acc_exe" ]; then
		cp "$acc_exe" "$build/accelerator"
	else
		exe=""
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

# The acrypto command, for the disk port's tests (tests/vm/disk.sh).
acrypto_exe=$(cd "$repo" && cargo build --release -p acrypto-cli --message-format=json 2>>"$build/cargo.log" |
	grep -o '"executable":"[^"]*/acrypto"' | tail -1 | sed 's/^"executable":"//; s/"$//')
if [ -n "$acrypto_exe" ] && [ -x "$acrypto_exe" ]; then
	# without debug information: the guest reads it over 9p
	strip -o "$build/acrypto" "$acrypto_exe"
else
	tail -20 "$build/cargo.log" >&2
	echo "vm: building the acrypto command failed" >&2
	exit 1
fi

# ---- 5. the manifests -----------------------------------------------------------
# manifest_ids FILE [SEGMENT]: the check ids FILE requires (of one segment),
# one a line; exits non-zero on a malformed line or a repeated id.
manifest_ids() {
	awk -v want="${2-}" -v file="$1" '
	function need(id) {
		if (id in seen) { printf "%s:%d: %s twice\n", file, NR, id > "/dev/stderr"; bad = 1 }
		seen[id] = 1
		if (seg == want) print id
	}
	/^[[:space:]]*(#|$)/ { next }
	$1 == "segment" && NF == 2 { seg = $2; stage = ""; next }
	$1 == "load" && NF >= 2 { stage = $2; need(stage "/insmod"); need(stage "/rmmod"); next }
	$1 == "test" && NF >= 3 && stage != "" { need(stage "/" $2); next }
	$1 == "refuse" && NF >= 3 { stage = ""; need("refuse/" $2); next }
	$1 == "broken" && NF >= 2 { stage = ""; need($2 "/insmod"); need($2 "/rmmod"); next }
	($1 == "expect" || $1 == "never") && NF >= 2 && seg != "" { next }
	{ printf "%s:%d: cannot parse: %s\n", file, NR, $0 > "/dev/stderr"; bad = 1 }
	END { exit bad }' "$1"
}
if [ "$rust_tests" = skip ]; then
	grep -vE '\$B/(kernel_devices|accelerator)' "$here/manifest" >"$build/manifest"
	log "skipped: $(grep -cE '\$B/(kernel_devices|accelerator)' "$here/manifest") manifest entries of the Rust tests"
else
	cp "$here/manifest" "$build/manifest"
fi
# VM_ONLY=REGEX: a partial run while working on some tests (never a verdict
# for CI): only the test lines whose NAME matches REGEX, under their load lines.
if [ -n "${VM_ONLY:-}" ]; then
	awk -v re="$VM_ONLY" '$1 != "test" || $2 ~ re' "$build/manifest" >"$build/manifest.only"
	mv "$build/manifest.only" "$build/manifest"
	log "PARTIAL RUN (VM_ONLY=$VM_ONLY): $(grep -c '^test ' "$build/manifest") test lines"
fi
cp "$here/selftest.manifest" "$build/selftest.manifest"
manifest_ids "$build/manifest" >"$build/manifest.ids" || exit 2
manifest_ids "$build/selftest.manifest" x >/dev/null || exit 2
segments=$(awk '$1 == "segment" { print $2 }' "$build/selftest.manifest")
log "manifest: $(wc -l <"$build/manifest.ids") checks; selftest segments: $(echo $segments)"

# ---- 6. the initramfs ---------------------------------------------------------
ird=$build/initramfs
mkdir -p "$ird"/{bin,dev,proc,sys,host,tmp,lib/modules}
cp /bin/busybox "$ird/bin/busybox"
# sha512 before drbg: its self-test instantiates hmac(sha512)
# One line per need, so that a new need is a new line.
mods="virtio_pci 9pnet_virtio 9p"
mods="$mods aesni_intel cryptd crypto_simd ecb ctr xts sha512_generic sha512_ssse3 drbg"
mods="$mods ansi_cprng af_alg algif_skcipher algif_hash sha1_ssse3 sha256_ssse3"
# the disk port's tests (disk.sh): nbd, dm-crypt and its IV generators, loop, ext4
mods="$mods nbd dm_mod dm_crypt essiv loop ext4"
# AEAD: gcm(aes), rfc4106(gcm(aes)), rfc7539(chacha20,poly1305), AF_ALG aead
mods="$mods gcm ghash-generic ghash-clmulni-intel chacha20poly1305 chacha_generic chacha-x86_64 poly1305_generic poly1305-x86_64 algif_aead"
# the virtio-crypto accelerator (qemu_extra below)
mods="$mods virtio_crypto"
# the ESP port's tests (esp.sh): TUN, veth and dummy links, xfrm and ESP with
# its IV generators (the GCM modules are above; drbg gives them stdrng)
mods="$mods tun veth dummy xfrm_algo xfrm_user esp4 authenc echainiv seqiv"
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
# The ESP port's tests (esp.sh) run these tools many times, and a program
# run from the 9p mount is read from the host again each time (seconds in
# the emulated guest): copies of them and their libraries travel in the
# initramfs, and init.sh mounts them at /run/esp-tools in the chroot.
if grep -q 'esp\.sh' "$build/manifest" || [ "$mode" = bench ]; then
	mkdir -p "$ird/esp-tools/bin" "$ird/esp-tools/lib"
	for t in ip ping iperf3 tcpdump python3 awk sed grep cat sleep date wc tail sh; do
		# the system's (the guest's PATH), not a shim of this shell's PATH
		p=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t") ||
			{ log "esp tests: no $t (tests/setup.sh installs it)"; continue; }
		cp -L "$p" "$ird/esp-tools/bin/$t"
		{ ldd "$p" || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r l; do
			[ -f "$ird/esp-tools/lib/${l##*/}" ] || cp -L "$l" "$ird/esp-tools/lib/"
		done
	done
	touch "$ird/esp-tools/done"
fi
cat >"$ird/cfg" <<EOF
MODE=$mode
BUILD=$build
HERE=$here
BENCH_SECS=${BENCH_SECS:-1}
BENCH_ONLY=${BENCH_ONLY:-}
RUST_TESTS=$rust_tests
SELFTEST=1
EOF
cp "$here/init.sh" "$ird/init"
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$build/initrd.gz"

# SLUB debugging (sanity checks, red zones, poisoning, owner tracking) and
# page poisoning: Debian's kernel has CONFIG_SLUB_DEBUG and
# CONFIG_PAGE_POISONING but no KASAN, KFENCE or kmemleak. Page poisoning takes
# precedence over init_on_free (the kernel says so at boot), so init_on_free
# is not asked for: poisoning also checks the pages on their next allocation.
# Not for the benchmark: the checks cost time.
memdebug="slub_debug=FZPU page_poison=1"
[ "$mode" = bench ] && memdebug=
# The emulated CPUs stop whenever the host is busy: at the default
# thresholds (RCU stall 21 s, soft lockup 20 s) a loaded host alone made the
# guest report an RCU stall (in page poisoning) with a Call Trace. The
# longest thresholds the kernel takes still catch a CPU that really hangs.
memdebug="$memdebug rcupdate.rcu_cpu_stall_timeout=300 watchdog_thresh=60"

# ---- 7. boot ---------------------------------------------------------------------
# More devices for the guest: one line per need (qemu_extra+=(...)).
qemu_extra=()
# A crypto device that is not the CPU: QEMU's virtio-crypto, whose work runs
# outside the guest's CPUs (DESIGN.md §9).
qemu_extra+=(-object cryptodev-backend-builtin,id=cryptodev0 -device virtio-crypto-pci,id=crypto0,cryptodev=cryptodev0)
log "booting (timeout ${timeout_s}s), console in $build/console.log"
boot_start=$(date +%s)
set +e
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel tcg -cpu max -smp 2 -m 1024 -nographic -no-reboot \
	-kernel "/boot/vmlinuz-$KVER" -initrd "$build/initrd.gz" \
	-fsdev local,id=fs0,path=/,security_model=none,readonly=on \
	-device virtio-9p-pci,fsdev=fs0,mount_tag=host \
	"${qemu_extra[@]}" \
	-append "console=ttyS0 quiet panic=-1 oops=panic $memdebug" </dev/null |
	tee "$build/console.log" | sed -u 's/\r$//' |
	grep --line-buffered -E '^(RESULT FAIL|RESULT PASS [^ ]+/[^ ]+:|GUEST|SELFTEST)'
qemu_rc=${PIPESTATUS[0]}
set -e
# without carriage returns and the firmware's terminal resets (ESC c, ESC [...)
tr -d '\r' <"$build/console.log" | sed 's/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' >"$build/console.txt"
log "the guest ran for $(($(date +%s) - boot_start))s"

# ---- 8. verdict --------------------------------------------------------------------
# The kernel reports problems with these: oopses, BUG() and WARN(), SLUB
# debugging ("BUG <cache> (...): Redzone overwritten", "Poison overwritten",
# ...), page poisoning ("pagealloc: memory corruption"), bad pages, list
# debugging, UBSAN, hung tasks.
kernel_problems='Oops|BUG:|(^|\] )BUG [^ ]+ \(|WARNING:|Call Trace|general protection|Kernel panic|UBSAN|'
kernel_problems+='Redzone overwritten|Poison overwritten|Object already free|Freepointer corrupt|Padding overwritten|'
kernel_problems+='pagealloc: |Bad page|list_(add|del) corruption|blocked for more than'

# verdict TEXT IDS: the reasons TEXT (a part of the console log) fails the
# checks listed in IDS, one a line ("missing ID", "failed ID: ...",
# "fail-line: ...", "kernel: ..."); exits non-zero when there is one.
verdict() {
	KERNEL_PROBLEMS=$kernel_problems awk -v ids="$2" '
	BEGIN {
		pat = ENVIRON["KERNEL_PROBLEMS"]
		while ((getline id < ids) > 0) { want[id] = 1; order[n++] = id }
	}
	# The one expected kernel warning: QEMU builtin virtio-crypto backend
	# refuses raw RSA, so the self-test of virtio-crypto-rsa fails with a
	# WARN at every probe of the device. That block (from "cut here", whose
	# next line names it, to "end trace") is skipped; any other is not.
	/-+\[ cut here \]-+/ { cut = 1; next }
	cut == 1 { cut = 0; if ($0 ~ /alg: self-tests for rsa using virtio-crypto-rsa failed \(rc=-22\)/) { skip = 1; next } }
	skip { if ($0 ~ /---\[ end trace [0-9a-f]+ \]---/) skip = 0; next }
	$0 ~ pat { print "kernel: " $0; bad = 1 }
	/^RESULT (PASS|FAIL) / {
		id = $3; sub(/:$/, "", id)
		if (!(id in want) || $3 != id ":") {
			if ($2 == "FAIL") { print "fail-line: " substr($0, 13); bad = 1 }
			next
		}
		if ($2 == "PASS") passed[id] = 1
		else { print "failed " substr($0, 13); bad = 1; failed[id] = 1 }
	}
	END {
		for (i = 0; i < n; i++)
			if (!(order[i] in passed) && !(order[i] in failed)) { print "missing " order[i]; bad = 1 }
		exit bad
	}' "$1"
}

# The verdict's one exception, checked on made-up logs: the expected
# virtio-crypto-rsa self-test warning passes, the same block for another
# driver does not, and a warning after the expected block still counts.
warn_block() {
	printf '%s\n' "[ 1.0] ------------[ cut here ]------------" "[ 1.0] alg: self-tests for rsa using $1 failed (rc=-22)" \
		"[ 1.0] WARNING: CPU: 1 PID: 215 at crypto/testmgr.c:5907 alg_test.cold+0x7c/0xf5" "[ 1.0] Call Trace:" \
		"[ 1.0]  <TASK>" "[ 1.0] ---[ end trace 0000000000000000 ]---"
}
: >"$build/empty.ids"
warn_block virtio-crypto-rsa >"$build/warn-expected.txt"
{ warn_block virtio-crypto-rsa; echo "[ 2.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2"; } >"$build/warn-after.txt"
warn_block rsa-generic >"$build/warn-other.txt"
if ! verdict "$build/warn-expected.txt" "$build/empty.ids" >/dev/null ||
	verdict "$build/warn-after.txt" "$build/empty.ids" >/dev/null ||
	verdict "$build/warn-other.txt" "$build/empty.ids" >/dev/null; then
	log "FAIL: the verdict's exception for the virtio-crypto-rsa self-test warning is wrong"
	exit 2
fi

fail=0
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	log "FAIL: the VM timed out after ${timeout_s}s"
	fail=1
fi
if ! grep -q '^GUEST DONE' "$build/console.txt"; then
	log "FAIL: the guest did not finish (qemu exit $qemu_rc)"
	fail=1
fi
if [ "$mode" = bench ]; then
	if ! verdict "$build/console.txt" "$build/empty.ids" >"$build/bench.verdict"; then
		cat "$build/bench.verdict"
		log "FAIL: the kernel log shows problems"
		fail=1
	fi
	sed -n '/^BENCH BEGIN/,/^BENCH END/p' "$build/console.txt" | sed '1d;$d'
	exit $fail
fi

# The real run: the console without the selftest segments.
sed '/^SELFTEST BEGIN /,/^SELFTEST END /d' "$build/console.txt" >"$build/main.txt"
if verdict "$build/main.txt" "$build/manifest.ids" >"$build/verdict.txt"; then
	log "every one of the $(wc -l <"$build/manifest.ids") checks of the manifest passed"
else
	log "FAIL: $(wc -l <"$build/verdict.txt") reasons:"
	head -60 "$build/verdict.txt"
	fail=1
fi

# The selftests: each segment must fail the same verdict, for its reasons.
for seg in $segments; do
	sed -n "/^SELFTEST BEGIN $seg\$/,/^SELFTEST END $seg\$/p" "$build/console.txt" >"$build/selftest-$seg.txt"
	manifest_ids "$build/selftest.manifest" "$seg" >"$build/selftest-$seg.ids"
	if ! grep -q "^SELFTEST END $seg\$" "$build/selftest-$seg.txt"; then
		log "FAIL: selftest $seg did not run to its end"
		fail=1
		continue
	fi
	if verdict "$build/selftest-$seg.txt" "$build/selftest-$seg.ids" >"$build/selftest-$seg.verdict"; then
		log "FAIL: selftest $seg passed the verdict; it must fail it"
		fail=1
		continue
	fi
	ok=1
	while read -r kind re; do
		n=$(grep -cE -- "$re" "$build/selftest-$seg.verdict" || true)
		if { [ "$kind" = expect ] && [ "$n" = 0 ]; } || { [ "$kind" = never ] && [ "$n" != 0 ]; }; then
			log "FAIL: selftest $seg: $kind $re: $n reasons match"
			ok=0
		fi
	done < <(awk -v s="$seg" '$1 == "segment" { cur = $2; next }
		cur == s && ($1 == "expect" || $1 == "never") { k = $1; sub(/^[^ ]+ +/, ""); print k " " $0 }' \
		"$build/selftest.manifest")
	if [ $ok = 1 ]; then
		log "selftest $seg fails the verdict as it must: $(head -1 "$build/selftest-$seg.verdict")"
	else
		sed 's/^/    /' "$build/selftest-$seg.verdict"
		fail=1
	fi
done

passed=$(grep -c '^RESULT PASS' "$build/main.txt" || true)
failed=$(grep -c '^RESULT FAIL' "$build/main.txt" || true)
echo "$passed passed, $failed failed; manifest: $(($(wc -l <"$build/manifest.ids") - $(grep -c '^missing\|^failed' "$build/verdict.txt" || true)))/$(wc -l <"$build/manifest.ids") checks passed"
exit $fail
}
