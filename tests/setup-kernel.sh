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
exec sh "$(dirname "$0")/setup.sh" libclang-dev clang
