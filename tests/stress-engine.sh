#!/usr/bin/env bash
# The engine and balancer tests, many times in a row under CPU load, to show
# that they do not depend on timing (no sleeps; explicit hand-offs). Not part
# of tests/run-all.sh: it takes minutes.
#
#   tests/stress-engine.sh [RUNS]     default 200
#
# Each run has a time limit (STRESS_RUN_TIMEOUT seconds, default 300): a
# hang fails the script. The load is `stress-ng --cpu N` with N the number of
# CPUs (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
per_run=${STRESS_RUN_TIMEOUT:-300}

if ! command -v stress-ng >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
fi

bins=()
for t in engine balancers; do
	exe=$(cargo test --release --locked --test "$t" --no-run --message-format=json 2>/dev/null |
		grep -o '"executable":"[^"]*"' | tail -1 | sed 's/^"executable":"//; s/"$//')
	[ -x "$exe" ] || { echo "stress: building tests/$t.rs failed" >&2; exit 1; }
	bins+=("$exe")
done

cpus=$(nproc)
stress-ng --cpu "$cpus" --timeout 0 --quiet &
load=$!
trap 'kill "$load" 2>/dev/null; wait "$load" 2>/dev/null || true' EXIT
echo "stress: ${#bins[@]} test binaries, $runs runs each, under stress-ng --cpu $cpus"

start=$(date +%s)
slowest=0
for i in $(seq 1 "$runs"); do
	for exe in "${bins[@]}"; do
		t0=$(date +%s%N)
		rc=0
		timeout -k 5 "$per_run" "$exe" -q >"/tmp/stress-engine.$$.log" 2>&1 || rc=$?
		if [ "$rc" != 0 ]; then
			tail -40 "/tmp/stress-engine.$$.log"
			[ "$rc" = 124 ] && echo "stress: run $i of $(basename "$exe") hung (over ${per_run}s)"
			echo "stress: FAIL at run $i of $(basename "$exe") (exit $rc)"
			exit 1
		fi
		ms=$((($(date +%s%N) - t0) / 1000000))
		[ "$ms" -gt "$slowest" ] && slowest=$ms
	done
	[ $((i % 20)) = 0 ] && echo "stress: $i runs passed ($(($(date +%s) - start))s)"
done
rm -f "/tmp/stress-engine.$$.log"
echo "stress: all $runs runs of ${#bins[@]} binaries passed in $(($(date +%s) - start))s; slowest run ${slowest} ms"
