#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need (apt-get)
# when it is missing. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's heading says how long the one before it took, so that a
# slow run (CI keeps the whole run under 40 minutes) shows where its time went.
t0=$(date +%s)
t_stage=$t0
stage() {
	now=$(date +%s)
	[ "$now" = "$t0" ] || printf '(that stage: %ss; %ss in all)\n' $((now - t_stage)) $((now - t0))
	t_stage=$now
	printf '\n=== %s\n' "$*"
}

stage "setup"
sh tests/setup.sh

stage "format"
cargo fmt --all -- --check

stage "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

stage "unit, integration, known-answer, cross-check, C ABI and doc tests"
# The uapi bindings' staleness test must run, not skip, here, and so must
# the imb device's tests (tests/setup.sh installs libipsec-mb-dev), and so
# must the pkcs11 device's (tests/setup.sh installs softhsm2).
ACRYPTO_REQUIRE_LIBCLANG=1 ACRYPTO_REQUIRE_IMB=1 ACRYPTO_REQUIRE_PKCS11=1 cargo test --release --workspace --locked

stage "docs: rustdoc warnings are errors"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

stage "the library does not pull in the command's dependencies"
tree=$(cargo tree -e normal -p acrypto --locked --prefix none)
if printf '%s\n' "$tree" | grep -E '^(clap|indicatif|serde_json) '; then
	echo "the acrypto library depends on the command's crates (above)" >&2
	exit 1
fi
printf '%s\n' "$tree" | grep -q '^acrypto-core ' # the check sees the tree

stage "OpenSSL provider: EVP program, openssl enc/rand, TLS through s_server and s_client"
tests/provider/run.sh

stage "loom models"
RUSTFLAGS="--cfg acrypto_loom" CARGO_TARGET_DIR=target/loom \
	cargo test --release --locked -p acrypto-core --test loom

if [ "${ACRYPTO_SKIP_VM:-0}" = 1 ]; then
	stage "kernel module tests in qemu: skipped (ACRYPTO_SKIP_VM=1)"
else
	stage "kernel module tests in qemu"
	tests/vm/run.sh
fi

stage "all stages passed"
