//! Algorithms, operations and capabilities.
//!
//! Algorithms are named the way OpenSSL names them (`aes-128-cbc`,
//! `hmac-sha1`, `sha256`, `rng`).

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// What kind of work an algorithm does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// A block cipher mode: encrypt or decrypt.
    Cipher,
    /// An unkeyed digest.
    Hash,
    /// A keyed MAC.
    Mac,
    /// Random numbers.
    Rng,
}

/// Block cipher mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherMode {
    /// Cipher block chaining; input a multiple of 16 bytes.
    Cbc,
    /// Electronic code book; input a multiple of 16 bytes.
    Ecb,
    /// Counter mode (128-bit big-endian counter); any input length.
    Ctr,
    /// XTS (IEEE 1619); input at least 16 bytes, IV is the 16-byte tweak.
    Xts,
}

/// Digest function underneath hashes and HMACs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestKind {
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
}

impl DigestKind {
    /// Output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            DigestKind::Sha1 => 20,
            DigestKind::Sha256 => 32,
        }
    }
}

/// An algorithm acrypto knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// AES with a key of `key_bits` (128, 192, 256) in `mode`. For XTS,
    /// `key_bits` is the AES key size (the XTS key is twice as long).
    Aes {
        /// 128, 192 or 256.
        key_bits: u16,
        /// The mode.
        mode: CipherMode,
    },
    /// HMAC over a digest.
    Hmac(DigestKind),
    /// A plain digest.
    Digest(DigestKind),
    /// Random bytes.
    Rng,
}

impl Algorithm {
    /// Every algorithm acrypto knows, in a stable order.
    pub const ALL: [Algorithm; 16] = {
        use Algorithm::*;
        use CipherMode::*;
        [
            Aes { key_bits: 128, mode: Cbc },
            Aes { key_bits: 192, mode: Cbc },
            Aes { key_bits: 256, mode: Cbc },
            Aes { key_bits: 128, mode: Ecb },
            Aes { key_bits: 192, mode: Ecb },
            Aes { key_bits: 256, mode: Ecb },
            Aes { key_bits: 128, mode: Ctr },
            Aes { key_bits: 192, mode: Ctr },
            Aes { key_bits: 256, mode: Ctr },
            Aes { key_bits: 128, mode: Xts },
            Aes { key_bits: 256, mode: Xts },
            Hmac(DigestKind::Sha1),
            Hmac(DigestKind::Sha256),
            Digest(DigestKind::Sha1),
            Digest(DigestKind::Sha256),
            Rng,
        ]
    };

    /// Every algorithm acrypto knows, as an iterator.
    pub fn all() -> impl Iterator<Item = Algorithm> {
        Self::ALL.into_iter()
    }

    /// The operation kind.
    pub const fn kind(&self) -> OpKind {
        match self {
            Algorithm::Aes { .. } => OpKind::Cipher,
            Algorithm::Hmac(_) => OpKind::Mac,
            Algorithm::Digest(_) => OpKind::Hash,
            Algorithm::Rng => OpKind::Rng,
        }
    }

    /// The key length in bytes (`None`: any length, as for HMAC; `Some(0)`:
    /// no key).
    pub const fn key_len(&self) -> Option<usize> {
        match *self {
            Algorithm::Aes { key_bits, mode } => match mode {
                CipherMode::Xts => Some(key_bits as usize / 4),
                _ => Some(key_bits as usize / 8),
            },
            Algorithm::Hmac(_) => None,
            Algorithm::Digest(_) | Algorithm::Rng => Some(0),
        }
    }

    /// The IV length in bytes (0 when the algorithm takes none).
    pub const fn iv_len(&self) -> usize {
        match self {
            Algorithm::Aes { mode: CipherMode::Ecb, .. } => 0,
            Algorithm::Aes { .. } => 16,
            _ => 0,
        }
    }

    /// The digest or MAC length in bytes (0 for ciphers and rng).
    pub const fn digest_len(&self) -> usize {
        match self {
            Algorithm::Hmac(d) | Algorithm::Digest(d) => d.output_len(),
            _ => 0,
        }
    }

    /// Checks a data length for this algorithm.
    pub fn check_data_len(&self, len: usize) -> Result<()> {
        match *self {
            Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ecb, .. } if !len.is_multiple_of(16) => {
                Err(Error::InvalidLength(format!("{self} needs a multiple of 16 bytes, got {len}")))
            }
            Algorithm::Aes { mode: CipherMode::Xts, .. } if len < 16 => {
                Err(Error::InvalidLength(format!("{self} needs at least 16 bytes, got {len}")))
            }
            _ => Ok(()),
        }
    }

    /// Checks an IV (or XTS tweak) for this algorithm.
    pub fn check_iv(&self, iv: &[u8]) -> Result<()> {
        if iv.len() != self.iv_len() {
            return Err(Error::InvalidLength(format!(
                "{self} takes a {}-byte IV, got {} bytes",
                self.iv_len(),
                iv.len()
            )));
        }
        Ok(())
    }

    /// Checks a key for this algorithm.
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        match self.key_len() {
            Some(n) if n != key.len() => {
                Err(Error::InvalidKey(format!("{self} takes a {n}-byte key, got {} bytes", key.len())))
            }
            _ => {
                if let Algorithm::Aes { mode: CipherMode::Xts, .. } = self {
                    // IEEE 1619 / FIPS: the two halves must differ.
                    let (k1, k2) = key.split_at(key.len() / 2);
                    if k1 == k2 {
                        return Err(Error::InvalidKey(format!("{self}: the two key halves must differ")));
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Algorithm::Aes { key_bits, mode } => {
                let m = match mode {
                    CipherMode::Cbc => "cbc",
                    CipherMode::Ecb => "ecb",
                    CipherMode::Ctr => "ctr",
                    CipherMode::Xts => "xts",
                };
                write!(f, "aes-{key_bits}-{m}")
            }
            Algorithm::Hmac(DigestKind::Sha1) => f.write_str("hmac-sha1"),
            Algorithm::Hmac(DigestKind::Sha256) => f.write_str("hmac-sha256"),
            Algorithm::Digest(DigestKind::Sha1) => f.write_str("sha1"),
            Algorithm::Digest(DigestKind::Sha256) => f.write_str("sha256"),
            Algorithm::Rng => f.write_str("rng"),
        }
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        Algorithm::all()
            .find(|a| a.to_string() == lower)
            .ok_or_else(|| Error::Unsupported(format!("unknown algorithm '{s}'")))
    }
}

/// What one step of a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Cipher: encrypt the data.
    Encrypt,
    /// Cipher: decrypt the data.
    Decrypt,
    /// Hash or MAC: compute over the data into the request's tag.
    Digest,
    /// MAC: compute over the data and compare with the request's tag
    /// (constant time; the tag may be truncated to no less than 10 bytes).
    Verify,
    /// Rng: fill the data buffer with random bytes.
    Generate,
}

impl Op {
    /// Whether this operation fits this algorithm.
    pub fn fits(self, alg: Algorithm) -> bool {
        matches!(
            (alg.kind(), self),
            (OpKind::Cipher, Op::Encrypt | Op::Decrypt)
                | (OpKind::Hash, Op::Digest)
                | (OpKind::Mac, Op::Digest | Op::Verify)
                | (OpKind::Rng, Op::Generate)
        )
    }
}

/// The shortest truncated tag [`Op::Verify`] accepts (RFC 2104: at least 80 bits).
pub const MIN_VERIFY_TAG: usize = 10;

/// One entry of a device's capability table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// The algorithm (its name carries mode and key size).
    pub alg: Algorithm,
    /// Most items of this algorithm the device wants queued.
    pub max_queue: usize,
    /// Optional throughput hint in bytes per second.
    pub rate: Option<u64>,
}

impl Capability {
    /// A capability with a queue length and no rate hint.
    pub fn new(alg: Algorithm, max_queue: usize) -> Self {
        Capability { alg, max_queue, rate: None }
    }
}
