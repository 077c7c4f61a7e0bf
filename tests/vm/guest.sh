#!/bin/sh
# Runs inside the VM, chrooted into the host root, with acrypto.ko loaded.
# Prints RESULT PASS/FAIL lines that run.sh counts.
mode=$1
build=$2
# Writable scratch space: a tmpfs that init mounts on /run (the host root is
# read-only, and its /tmp stays visible: the repository may live there).
scratch=/run/acrypto-vm
mkdir -p "$scratch" && cd "$scratch" || exit 1

run() {
	name=$1
	shift
	echo "t_start $name"
	if [ ! -x "$1" ]; then
		echo "RESULT FAIL $name: $1 not built"
		return
	fi
	start=$(date +%s)
	"$@"
	rc=$?
	echo "t_end $name rc=$rc $(($(date +%s) - start))s"
	if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
		# crashed or could not start: its own RESULT lines do not cover it
		echo "RESULT FAIL $name exited with status $rc"
	fi
}

if [ "$mode" = bench ]; then
	echo "BENCH BEGIN"
	"$build/bench_acrypto" "${BENCH_SECS:-1}"
	# The Rust devices through the engine: kdev batch path vs AF_ALG.
	if [ "${RUST_TESTS:-1}" = 1 ]; then
		echo
		BENCH_SECS=${BENCH_SECS:-1} "$build/kdev_bench" 2>&1
	fi
	echo "BENCH END"
	exit 0
fi

ls -l /dev/acrypto | sed 's/^/  note: /'
run t_kat "$build/t_kat" "$build/vectors.txt"
run t_isolation "$build/t_isolation"
run t_limits "$build/t_limits"
# The same programs built with -m32 (compat_ptr_ioctl, one layout).
export T_TAG="[32-bit] "
run t_kat32 "$build/t_kat32" "$build/vectors.txt"
run t_isolation32 "$build/t_isolation32"
run t_limits32 "$build/t_limits32"
unset T_TAG
run t_threads "$build/t_threads"

# The Rust kdev and afalg devices through the engine: every vector, OpenSSL
# cross-checks (answers made on the host by run.sh), routes, rng. Each device
# prints its own RESULT line; a failing test exits 101, counted by run().
if [ "${RUST_TESTS:-1}" = 1 ]; then
	export ACRYPTO_REQUIRE_KERNEL=1 ACRYPTO_KDEV_REFERENCE="$build/kdev_reference.txt"
	run rust_kernel_devices "$build/kernel_devices" --test-threads=1 --nocapture
	unset ACRYPTO_REQUIRE_KERNEL ACRYPTO_KDEV_REFERENCE
elif [ "${RUST_TESTS:-1}" = skip ]; then
	echo "  note: Rust kernel device tests skipped"
else
	echo "RESULT FAIL rust kernel devices: not built (see run.sh output)"
fi

# examples-c/kernel: the listing works, and sha256sum through the batch path
# agrees with coreutils' sha256sum on a few files.
if "$build/acrypto_list" >$scratch/list.txt && grep -q cbc-aes-aesni $scratch/list.txt; then
	echo "RESULT PASS example acrypto_list ($(wc -l <$scratch/list.txt) lines)"
else
	echo "RESULT FAIL example acrypto_list"
fi
d="$(dirname "$0")"
files="$d/common.h $d/t_kat.c $d/afalg.h $d/guest.sh /etc/passwd"
for drv in "" "cryptd(sha256-generic)"; do
	"$build/acrypto_sha256sum" -d "$drv" $files 2>$scratch/err.txt | sort >$scratch/a.txt
	sha256sum $files | sort >$scratch/b.txt
	if [ -s $scratch/a.txt ] && cmp -s $scratch/a.txt $scratch/b.txt; then
		echo "RESULT PASS example acrypto_sha256sum ${drv:-(default)} agrees with sha256sum"
	else
		echo "RESULT FAIL example acrypto_sha256sum ${drv:-(default)} differs from sha256sum"
		sed 's/^/  note: /' $scratch/a.txt $scratch/b.txt $scratch/err.txt
	fi
done
run t_close "$build/t_close"
run t_fuzz "$build/t_fuzz" 100000 0xac5e7
# a second run with a fresh seed (printed, to reproduce a failure)
run t_fuzz "$build/t_fuzz" 100000 "$(date +%s)"
# Last: exit with a full window in flight; init runs rmmod right after.
"$build/t_close" flood-and-exit
