#!/bin/sh
# Installs what the kernel-side Rust tests need besides tests/setup.sh, on
# Debian/Ubuntu:
#   libclang-dev, clang
#               - libclang for drivers/tests/uapi_bindgen.rs, which regenerates
#                 drivers/src/uapi.rs from include/uapi/linux/acrypto.h with
#                 bindgen and fails when the committed file is stale (run it
#                 with ACRYPTO_REQUIRE_LIBCLANG=1 so that a missing libclang
#                 fails instead of skipping).
# The VM harness (tests/vm/run.sh) installs qemu, the kernel and its headers
# itself. Idempotent: installs only what is missing. Run as root or with sudo.
set -eu

need=""
for pkg in libclang-dev clang; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		need="$need $pkg"
	fi
done

if [ -n "$need" ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "tests/setup-kernel.sh: missing$need and no apt-get; install them by hand" >&2
		exit 1
	fi
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo="sudo"
	fi
	echo "tests/setup-kernel.sh: installing$need"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
fi

clang --version | head -n 1
