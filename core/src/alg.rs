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
    /// Authenticated encryption with associated data: [`Op::Encrypt`] seals
    /// (encrypts and writes the tag), [`Op::Decrypt`] opens (verifies the
    /// tag, then decrypts).
    Aead,
    /// Asymmetric (public-key) operations: RSA, ECDSA, X25519 and ECDH.
    /// Keys are DER: PKCS#8 for private keys, SubjectPublicKeyInfo for
    /// public ones. See [`Algorithm::Rsa`] and [`Op::Sign`] for what each
    /// operation reads and writes.
    Asym,
}

/// The padding (encoding) of an RSA algorithm; its hash is SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaPadding {
    /// PKCS#1 v1.5: signatures (EMSA-PKCS1-v1_5 over SHA-256) and
    /// encryption (RSAES-PKCS1-v1_5).
    Pkcs1,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256; signing uses a 32-byte
    /// salt, verifying accepts any salt length (as OpenSSL does).
    Pss,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label.
    Oaep,
}

/// An elliptic curve of ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256 (prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
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
    /// AES-GCM (NIST SP 800-38D) with a key of `key_bits` (128, 192, 256):
    /// a 12-byte nonce, a 16-byte tag (open accepts tags truncated to 12).
    AesGcm {
        /// 128, 192 or 256.
        key_bits: u16,
    },
    /// ChaCha20-Poly1305 (RFC 8439): a 32-byte key, a 12-byte nonce, a
    /// 16-byte tag.
    ChaCha20Poly1305,
    /// RSA with a modulus of `bits` (2048, 3072, 4096) and a padding.
    /// Sign and verify with [`RsaPadding::Pkcs1`] or [`RsaPadding::Pss`];
    /// encrypt and decrypt with [`RsaPadding::Pkcs1`] or
    /// [`RsaPadding::Oaep`].
    Rsa {
        /// 2048, 3072 or 4096.
        bits: u16,
        /// The padding.
        padding: RsaPadding,
    },
    /// ECDSA over SHA-256 (sign, verify); signatures are DER
    /// `ECDSA-Sig-Value`, as OpenSSL writes them.
    Ecdsa(EcCurve),
    /// X25519 key agreement (RFC 7748).
    X25519,
    /// ECDH over P-256 (the x-coordinate of the shared point, as OpenSSL
    /// derives it).
    EcdhP256,
}

/// Nonce length of every AEAD (the length TLS 1.3 and IPsec use).
pub const AEAD_NONCE_LEN: usize = 12;
/// Tag length an AEAD seal writes.
pub const AEAD_TAG_LEN: usize = 16;
/// Shortest GCM tag an open accepts (SP 800-38D: 96 to 128 bits for
/// general use; the 32- and 64-bit tags of its Appendix C are refused).
pub const MIN_GCM_TAG: usize = 12;

impl Algorithm {
    /// Every algorithm acrypto knows, in a stable order (the C ABI's
    /// algorithm ids are indices into it: new ones go at the end).
    pub const ALL: [Algorithm; 33] = {
        use Algorithm::*;
        use CipherMode::*;
        use RsaPadding::*;
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
            AesGcm { key_bits: 128 },
            AesGcm { key_bits: 192 },
            AesGcm { key_bits: 256 },
            ChaCha20Poly1305,
            Rsa { bits: 2048, padding: Pkcs1 },
            Rsa { bits: 3072, padding: Pkcs1 },
            Rsa { bits: 4096, padding: Pkcs1 },
            Rsa { bits: 2048, padding: Pss },
            Rsa { bits: 3072, padding: Pss },
            Rsa { bits: 4096, padding: Pss },
            Rsa { bits: 2048, padding: Oaep },
            Rsa { bits: 3072, padding: Oaep },
            Rsa { bits: 4096, padding: Oaep },
            Ecdsa(EcCurve::P256),
            Ecdsa(EcCurve::P384),
            X25519,
            EcdhP256,
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
            Algorithm::AesGcm { .. } | Algorithm::ChaCha20Poly1305 => OpKind::Aead,
            Algorithm::Rsa { .. } | Algorithm::Ecdsa(_) | Algorithm::X25519 | Algorithm::EcdhP256 => OpKind::Asym,
        }
    }

    /// The key length in bytes (`None`: any length, as for HMAC and the
    /// DER keys of asymmetric algorithms; `Some(0)`: no key).
    pub const fn key_len(&self) -> Option<usize> {
        match *self {
            Algorithm::Aes { key_bits, mode } => match mode {
                CipherMode::Xts => Some(key_bits as usize / 4),
                _ => Some(key_bits as usize / 8),
            },
            Algorithm::Hmac(_) => None,
            Algorithm::Rsa { .. } | Algorithm::Ecdsa(_) | Algorithm::X25519 | Algorithm::EcdhP256 => None,
            Algorithm::Digest(_) | Algorithm::Rng => Some(0),
            Algorithm::AesGcm { key_bits } => Some(key_bits as usize / 8),
            Algorithm::ChaCha20Poly1305 => Some(32),
        }
    }

    /// The IV (AEAD: nonce) length in bytes (0 when the algorithm takes none).
    pub const fn iv_len(&self) -> usize {
        match self {
            Algorithm::Aes { mode: CipherMode::Ecb, .. } => 0,
            Algorithm::Aes { .. } => 16,
            Algorithm::AesGcm { .. } | Algorithm::ChaCha20Poly1305 => AEAD_NONCE_LEN,
            _ => 0,
        }
    }

    /// The tag length an AEAD seal writes (0 for other algorithms).
    pub const fn tag_len(&self) -> usize {
        match self {
            Algorithm::AesGcm { .. } | Algorithm::ChaCha20Poly1305 => AEAD_TAG_LEN,
            _ => 0,
        }
    }

    /// Checks the tag an AEAD open is given: 16 bytes, or 12 to 16 for GCM.
    /// Other algorithms and operations take any tag here.
    pub fn check_tag(&self, op: Op, tag: &[u8]) -> Result<()> {
        let min = match self {
            Algorithm::AesGcm { .. } => MIN_GCM_TAG,
            Algorithm::ChaCha20Poly1305 => AEAD_TAG_LEN,
            _ => return Ok(()),
        };
        if op == Op::Decrypt && !(min..=AEAD_TAG_LEN).contains(&tag.len()) {
            let want = if min == AEAD_TAG_LEN { format!("{min}") } else { format!("{min} to {AEAD_TAG_LEN}") };
            return Err(Error::InvalidLength(format!("{self} open takes a tag of {want} bytes, got {}", tag.len())));
        }
        Ok(())
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
        if let Algorithm::AesGcm { .. } = self {
            // GCM is defined for any IV of at least one byte; OpenSSL takes
            // them, acrypto takes the 12-byte form every protocol uses.
            if !iv.is_empty() && iv.len() != AEAD_NONCE_LEN {
                return Err(Error::Unsupported(format!(
                    "{self}: only {AEAD_NONCE_LEN}-byte nonces are supported, got {} bytes",
                    iv.len()
                )));
            }
        }
        if iv.len() != self.iv_len() {
            return Err(Error::InvalidLength(format!(
                "{self} takes a {}-byte IV, got {} bytes",
                self.iv_len(),
                iv.len()
            )));
        }
        Ok(())
    }

    /// Checks a key for this algorithm. An asymmetric key is only checked
    /// to be there here; its DER is parsed when a session is made
    /// ([`Driver::prepare`](crate::Driver::prepare)).
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        if self.kind() == OpKind::Asym && key.is_empty() {
            return Err(Error::InvalidKey(format!("{self} takes a DER key, got none")));
        }
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
            Algorithm::AesGcm { key_bits } => write!(f, "aes-{key_bits}-gcm"),
            Algorithm::ChaCha20Poly1305 => f.write_str("chacha20-poly1305"),
            Algorithm::Rsa { bits, padding } => {
                let p = match padding {
                    RsaPadding::Pkcs1 => "pkcs1",
                    RsaPadding::Pss => "pss",
                    RsaPadding::Oaep => "oaep",
                };
                write!(f, "rsa{bits}-{p}")
            }
            Algorithm::Ecdsa(EcCurve::P256) => f.write_str("ecdsa-p256"),
            Algorithm::Ecdsa(EcCurve::P384) => f.write_str("ecdsa-p384"),
            Algorithm::X25519 => f.write_str("x25519"),
            Algorithm::EcdhP256 => f.write_str("ecdh-p256"),
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
    /// Cipher: encrypt the data. AEAD: seal (encrypt, write the tag).
    Encrypt,
    /// Cipher: decrypt the data. AEAD: open (verify the tag; decrypt only
    /// if it verifies).
    Decrypt,
    /// Hash or MAC: compute over the data into the request's tag.
    Digest,
    /// MAC: compute over the data and compare with the request's tag
    /// (constant time; the tag may be truncated to no less than 10 bytes).
    Verify,
    /// Rng: fill the data buffer with random bytes.
    Generate,
    /// Asymmetric: sign the data (or, with [`Request::prehashed`], the
    /// SHA-256 digest the data is) into the request's tag. RSA and ECDSA.
    /// (Verify: the tag is the signature to check; a signature that does
    /// not verify fails with `VerifyFailed`.)
    ///
    /// [`Request::prehashed`]: crate::Request::prehashed
    Sign,
    /// Asymmetric key agreement (X25519, ECDH): the data is the peer's
    /// public key (SubjectPublicKeyInfo DER); it is replaced by the shared
    /// secret.
    Derive,
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
                | (OpKind::Aead, Op::Encrypt | Op::Decrypt)
        ) || match alg {
            Algorithm::Rsa { padding: RsaPadding::Pkcs1, .. } => {
                matches!(self, Op::Sign | Op::Verify | Op::Encrypt | Op::Decrypt)
            }
            Algorithm::Rsa { padding: RsaPadding::Pss, .. } | Algorithm::Ecdsa(_) => {
                matches!(self, Op::Sign | Op::Verify)
            }
            Algorithm::Rsa { padding: RsaPadding::Oaep, .. } => matches!(self, Op::Encrypt | Op::Decrypt),
            Algorithm::X25519 | Algorithm::EcdhP256 => self == Op::Derive,
            _ => false,
        }
    }

    /// Whether this operation needs the private key (sign, decrypt,
    /// derive); verify and encrypt take a public key (or a private key,
    /// whose public half they use).
    pub fn needs_private_key(self) -> bool {
        matches!(self, Op::Sign | Op::Decrypt | Op::Derive)
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
