#!/bin/sh
# Runs inside the VM, chrooted into the host root, with acrypto.ko loaded.
#
#   guest.sh test BUILD MANIFEST STAGE   the "test" lines of STAGE in MANIFEST
#   guest.sh bench BUILD                 the benchmark
#
# Each test prints its own RESULT lines, then this script prints one
# "RESULT PASS|FAIL STAGE/NAME: ..." line for it: PASS when it exited 0 and
# printed no RESULT FAIL. run.sh requires that line for every manifest entry.
mode=$1
B=$2
# Writable scratch space: a tmpfs that init mounts on /run (the host root is
# read-only, and its /tmp stays visible: the repository may live there).
scratch=/run/acrypto-vm
mkdir -p "$scratch" && cd "$scratch" || exit 1

if [ "$mode" = bench ]; then
	# BENCH_ONLY: some of "kdev disk esp" (run.sh's environment); default all
	part() { [ -z "${BENCH_ONLY:-}" ] || case " $BENCH_ONLY " in *" $1 "*) true ;; *) false ;; esac; }
	echo "BENCH BEGIN"
	if part kdev; then
		"$B/bench_acrypto" "${BENCH_SECS:-1}"
		# The Rust devices through the engine: kdev batch path vs AF_ALG.
		if [ "${RUST_TESTS:-1}" = 1 ]; then
			echo
			BENCH_SECS=${BENCH_SECS:-1} "$B/kdev_bench" 2>&1
		fi
	fi
	# The disk port against dm-crypt (tests/vm/disk.sh).
	if part disk; then
		echo
		B=$B sh "$(dirname "$0")/disk.sh" bench 2>&1
	fi
	# The ESP port against kernel-to-kernel xfrm (tests/vm/esp.sh).
	if part esp; then
		echo
		B=$B sh "$(dirname "$0")/esp.sh" bench 2>&1
	fi
	echo "BENCH END"
	exit 0
fi
manifest=$3
stage=$4

# For the Rust kernel device tests: a missing kdev or afalg device is a
# failure, and OpenSSL's answers come from the file run.sh made on the host.
export ACRYPTO_REQUIRE_KERNEL=1 ACRYPTO_KDEV_REFERENCE="$B/kdev_reference.txt"
# The guest has the virtio-crypto accelerator (run.sh).
export ACRYPTO_REQUIRE_ACCEL=1
# For the harness's own test of a guest that dies (selftest.manifest).
export ACRYPTO_GUEST_PID=$$

# ---- tests named by the manifest that are not a single program --------------
# The guest kernel really has SLUB debugging and page poisoning (run.sh's boot
# arguments): otherwise the kernel log check could not see memory bugs.
memory_debugging() {
	ok=1
	for f in sanity_checks red_zone poison store_user; do
		v=$(cat /sys/kernel/slab/kmalloc-64/$f 2>/dev/null)
		echo "  note: kmalloc-64 $f=$v"
		[ "$v" = 1 ] || ok=0
	done
	[ $ok = 1 ] && echo "RESULT PASS ${T_TAG}SLUB debugging: sanity checks, red zones, poison, owner tracking" ||
		echo "RESULT FAIL ${T_TAG}SLUB debugging is not on for kmalloc-64"
	dmesg | grep -E 'mem auto-init|Kernel command line' | sed 's/^/  note: /'
	# Linux 6.1 says this when page_poison=1 took effect (and switched off
	# Debian's default init_on_alloc, which would hide the poison).
	if dmesg | grep -q 'mem auto-init: CONFIG_PAGE_POISONING is on'; then
		echo "RESULT PASS ${T_TAG}page poisoning is on"
	else
		echo "RESULT FAIL ${T_TAG}page poisoning is not on: $(cat /proc/cmdline)"
	fi
}

# examples-c/kernel: the listing works.
example_list() {
	if "$B/acrypto_list" >"$scratch/list.txt" && grep -q cbc-aes-aesni "$scratch/list.txt"; then
		echo "RESULT PASS ${T_TAG}example acrypto_list ($(wc -l <"$scratch/list.txt") lines)"
	else
		echo "RESULT FAIL ${T_TAG}example acrypto_list"
	fi
}

# examples-c/kernel: sha256sum through the batch path agrees with coreutils'
# sha256sum on a few files.
example_sha256sum() {
	d=$(dirname "$0")
	files="$d/common.h $d/t_kat.c $d/afalg.h $d/guest.sh /etc/passwd"
	# shellcheck disable=SC2086 # the file list is split on purpose
	"$B/acrypto_sha256sum" -d "$1" $files 2>"$scratch/err.txt" | sort >"$scratch/a.txt"
	# shellcheck disable=SC2086
	sha256sum $files | sort >"$scratch/b.txt"
	if [ -s "$scratch/a.txt" ] && cmp -s "$scratch/a.txt" "$scratch/b.txt"; then
		echo "RESULT PASS ${T_TAG}example acrypto_sha256sum ${1:-(default)} agrees with sha256sum"
	else
		echo "RESULT FAIL ${T_TAG}example acrypto_sha256sum ${1:-(default)} differs from sha256sum"
		sed 's/^/  note: /' "$scratch/a.txt" "$scratch/b.txt" "$scratch/err.txt"
	fi
}

# rust_subset N PROGRAM ARGS...: a Rust test program run on some of its tests
# (name filters among ARGS): fails unless exactly N tests ran and passed, so
# that a renamed test cannot make the line pass without running anything.
rust_subset() {
	want=$1
	shift
	"$@" >"$scratch/subset.out" 2>&1
	rc=$?
	cat "$scratch/subset.out"
	if [ "$rc" = 0 ] && grep -q "^test result: ok\. $want passed" "$scratch/subset.out"; then
		return 0
	fi
	echo "RESULT FAIL ${T_TAG}$want tests were to run and pass (exit status $rc)"
	return 1
}

# ---- one manifest entry -------------------------------------------------------
run() {
	id=$1
	cmd=$2
	echo "t_start $id"
	start=$(date +%s)
	rm -f "$scratch/rc"
	{
		export T_TAG="[$id] "
		eval "$cmd" </dev/null 2>&1
		echo $? >"$scratch/rc"
	} | tee "$scratch/out"
	rc=$(cat "$scratch/rc" 2>/dev/null || echo unknown)
	fails=$(grep -c '^RESULT FAIL' "$scratch/out")
	secs=$(($(date +%s) - start))
	echo "t_end $id rc=$rc ${secs}s"
	if [ "$rc" = 0 ] && [ "$fails" = 0 ]; then
		echo "RESULT PASS $id: exit status 0, ${secs}s"
	else
		echo "RESULT FAIL $id: exit status $rc, $fails failed cases, ${secs}s"
	fi
}

ls -l /dev/acrypto | sed 's/^/  note: /'
# The stage's entries are listed first, and the tests get /dev/null as their
# stdin: none of them may read the list.
todo=$scratch/todo.$stage
: >"$todo"
cur=
while read -r kind name cmd; do
	case $kind in
	load) cur=$name ;;
	refuse | broken | segment) cur= ;;
	test) [ "$cur" = "$stage" ] && printf '%s\n' "$name $cmd" >>"$todo" ;;
	esac
done <"$manifest"
while read -r name cmd <&3; do
	run "$stage/$name" "$cmd"
done 3<"$todo"
rm -f "$todo"
