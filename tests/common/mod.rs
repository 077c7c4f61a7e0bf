//! Helpers shared by the integration tests of the root package.
//!
//! - [`aead_vectors`]: the AEAD known answers (CAVP GCM, ChaCha20-Poly1305).
//! - [`asym_vectors`]: the CAVP RSA SigVer records and their keys as DER.
//! - [`vectors`]: parsers for the public test vectors under `tests/vectors/`.
//! - [`openssl`]: the `openssl` command line (and, for XTS, a small program
//!   built against OpenSSL's libcrypto) as an independent implementation.
//! - [`rng`]: a seeded random generator for keys, IVs and lengths.
//! - [`softhsm`]: a SoftHSM2 token in a temporary directory (pkcs11 tests).
//!
//! Every test file includes this with `mod common;` and uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod aead_vectors;
pub mod asym_vectors;
pub mod openssl;
pub mod rng;
pub mod softhsm;
pub mod vectors;

/// The repository's root (the test files live under its `tests/`), for
/// the test packages of the workspace's root and of `cli/`.
pub fn repo_root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/vectors/SOURCES.md").is_file())
        .expect("the repository's tests/vectors")
}

/// Each device of `e` ran exactly `share` requests (submitted, and completed
/// one way or the other): the "every device" runs use identical software
/// devices, so only the devices' own statistics show that each really ran
/// its part (a session bound to one device that ran on another would pass
/// every output check).
pub fn assert_each_device_ran(e: &acrypto::Engine, share: u64) {
    e.wait_idle().unwrap();
    for d in e.devices() {
        let st = &d.stats;
        assert_eq!(st.submitted, share, "{}: requests submitted to the device", d.name);
        assert_eq!(st.completed_ok + st.completed_err, share, "{}: requests the device completed", d.name);
        // (Not in_flight: a device's count of work in hand may drop just
        // after the completion was delivered, so after wait_idle too.)
        assert_eq!(st.moved, 0, "{}: requests moved to another device", d.name);
    }
}

/// Runs `cmd` with `input` on its stdin and collects its output. Stdin is
/// fed from another thread so that a large output cannot deadlock.
pub fn run_with_input(mut cmd: std::process::Command, input: &[u8]) -> std::io::Result<std::process::Output> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output();
    let _ = feeder.join();
    out
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// The operation a step of `alg` performs by default (encrypt for ciphers).
pub fn default_op(alg: acrypto::Algorithm) -> acrypto::Op {
    use acrypto::{Op, OpKind};
    match alg.kind() {
        OpKind::Cipher | OpKind::Aead => Op::Encrypt,
        OpKind::Hash | OpKind::Mac => Op::Digest,
        OpKind::Rng => Op::Generate,
        OpKind::Asym => Op::Sign,
    }
}
