#!/bin/sh
# Installs what the C ABI tests (tests/c_abi.rs) need besides Rust, on
# Debian/Ubuntu:
#   gcc, libc6-dev  - cc with -fsanitize=address,undefined (libasan, libubsan
#                     come with gcc);
#   g++             - to check that include/acrypto.h compiles as C++;
#   make            - libacrypto/Makefile (build, install with PREFIX/DESTDIR);
#   pkg-config      - the installed acrypto.pc;
#   openssl         - the independent implementation results are compared with;
#   libssl-dev      - examples-c/accelerator.c computes with libcrypto;
#   binutils        - readelf, to check the SONAME.
# Idempotent: installs only what is missing. Run as root or with sudo.
set -eu

need=""
for pkg in gcc g++ libc6-dev make pkg-config openssl libssl-dev binutils; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		need="$need $pkg"
	fi
done

if [ -n "$need" ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "tests/c/setup.sh: missing$need and no apt-get; install them by hand" >&2
		exit 1
	fi
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo="sudo"
	fi
	echo "tests/c/setup.sh: installing$need"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
fi

cc --version | head -n 1
pkg-config --version
