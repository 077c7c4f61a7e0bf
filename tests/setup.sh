#!/bin/sh
# Installs what the integration tests need besides Rust, on Debian/Ubuntu:
#   openssl     - the independent implementation for tests/crosscheck.rs and
#                 tests/kat.rs (openssl enc / dgst / mac);
#   gcc, libc6-dev, libssl-dev
#               - to build tests/common/xts_ref.c against libcrypto, the
#                 XTS reference (the openssl command line refuses XTS).
# Idempotent: installs only what is missing. Run as root or with sudo.
set -eu

need=""
for pkg in openssl gcc libc6-dev libssl-dev; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		need="$need $pkg"
	fi
done

if [ -n "$need" ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "tests/setup.sh: missing$need and no apt-get; install them by hand" >&2
		exit 1
	fi
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo="sudo"
	fi
	echo "tests/setup.sh: installing$need"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
fi

openssl version
cc --version | head -n 1
