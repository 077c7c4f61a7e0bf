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
