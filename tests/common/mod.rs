//! Helpers shared by the integration tests of the root package.
//!
//! - [`vectors`]: parsers for the public test vectors under `tests/vectors/`.
//! - [`openssl`]: the `openssl` command line (and, for XTS, a small program
//!   built against OpenSSL's libcrypto) as an independent implementation.
//! - [`rng`]: a seeded random generator for keys, IVs and lengths.
//!
//! Every test file includes this with `mod common;` and uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod openssl;
pub mod rng;
pub mod vectors;

/// The repository's root (the test files live under its `tests/`), for
/// the test packages of the workspace's root and of `cli/`.
pub fn repo_root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/vectors/SOURCES.md").is_file())
        .expect("the repository's tests/vectors")
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
        OpKind::Cipher => Op::Encrypt,
        OpKind::Hash | OpKind::Mac => Op::Digest,
        OpKind::Rng => Op::Generate,
    }
}
