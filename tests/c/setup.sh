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
exec sh "$(dirname "$0")/../setup.sh" gcc g++ libc6-dev make pkg-config openssl libssl-dev binutils
