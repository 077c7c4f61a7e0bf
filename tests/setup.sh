#!/bin/sh
# Installs everything the project's tests need besides Rust, on Debian or
# Ubuntu, with one `apt-get update` and one `apt-get install`; installs only
# what is missing, so a second run does nothing. Run as root or with sudo.
#   openssl                   the independent implementation (enc, dgst, mac)
#   gcc g++ libc6-dev make binutils libssl-dev
#                             C tests, examples, the XTS reference on libcrypto
#   pkg-config                building against the installed libacrypto
#   strace                    the CLI test of a file that grows while it is read
#   libclang-dev clang        regenerating the uapi bindings (bindgen)
#   libipsec-mb-dev           the imb device's tests (libIPSec_MB.so.1) and its
#                             bindings' staleness test (intel-ipsec-mb.h)
#   softhsm2                  the pkcs11 device's tests (libsofthsm2.so, softhsm2-util)
#   qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static
#   gcc-multilib kmod cpio gzip
#                             the kernel module and its tests in a VM
# With arguments, installs just those packages (tests/c/setup.sh and
# tests/setup-kernel.sh use that to install the part they run alone).
set -eu

pkgs="${*:-}"
if [ -z "$pkgs" ]; then
	# One line per need, so that a new need is a new line.
	pkgs="openssl gcc g++ libc6-dev make binutils libssl-dev pkg-config strace"
	pkgs="$pkgs libclang-dev clang"
	pkgs="$pkgs libipsec-mb-dev"
	pkgs="$pkgs qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static gcc-multilib kmod cpio gzip"
	# LUKS2 header tests on plain files (ports/blk/tests/luks2.rs)
	pkgs="$pkgs cryptsetup-bin"
	# the disk port (tests/vm/disk.sh): dm-crypt side, --listen client, ext4 and fsck, losetup
	pkgs="$pkgs nbd-client e2fsprogs mount iproute2"
	# /usr/bin/time: max RSS of a streamed digest (tests/provider/run.sh)
	pkgs="$pkgs time"
	# the disk benchmark (tests/vm/disk.sh bench) beside dd
	pkgs="$pkgs fio"
	# the ESP port in the VM (tests/vm/esp.sh): ping, iperf3 and tcpdump through the tunnel
	pkgs="$pkgs iputils-ping iperf3 tcpdump"
	# the pkcs11 device's tests (tests/pkcs11.rs, cli/tests/pkcs11.rs): a SoftHSM2 token
	pkgs="$pkgs softhsm2"
fi

need=""
for pkg in $pkgs; do
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
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need
fi

openssl version
cc --version | head -n 1
