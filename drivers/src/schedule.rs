//! Expanded keys of the software device, kept with the session's key
//! ([`acrypto_core::Key::schedule`]): an AES key schedule (RustCrypto's
//! `aes` types, wiped on drop through the crate's `zeroize` feature), or an
//! HMAC state with the key already absorbed (wiped on drop here). Each is
//! made once per session, the first time a request uses the key.

use acrypto_core::{Algorithm, CipherMode, DigestKind, Error, Key};
use aes::cipher::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// An HMAC state keyed once; cloned per request. Zeroized on drop.
#[derive(Clone)]
pub struct KeyedMac<M: Mac + Clone>(pub M);

impl<M: Mac + Clone> Drop for KeyedMac<M> {
    fn drop(&mut self) {
        // SAFETY: `M` is `Hmac<Sha1>` or `Hmac<Sha256>` (the only types this
        // module builds): hash cores and block buffers of integers and byte
        // arrays, with no pointers, references or drop glue, for which all
        // zero bytes are a valid value. The value is not used after this.
        unsafe { zeroize::zeroize_flat_type(&mut self.0 as *mut M) }
    }
}

/// The expanded form of one step's key.
// Made once per session and kept boxed with the key: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Schedule {
    /// AES-128 (cbc, ecb, ctr).
    Aes128(aes::Aes128),
    /// AES-192 (cbc, ecb, ctr).
    Aes192(aes::Aes192),
    /// AES-256 (cbc, ecb, ctr).
    Aes256(aes::Aes256),
    /// AES-128-XTS: data key, tweak key.
    Xts128(aes::Aes128, aes::Aes128),
    /// AES-256-XTS: data key, tweak key.
    Xts256(aes::Aes256, aes::Aes256),
    /// HMAC-SHA1.
    HmacSha1(KeyedMac<Hmac<Sha1>>),
    /// HMAC-SHA256.
    HmacSha256(KeyedMac<Hmac<Sha256>>),
    /// Nothing to expand (digests, rng).
    None,
}

fn key_error(alg: Algorithm) -> Error {
    Error::InvalidKey(format!("{alg}: key of the wrong length"))
}

fn cipher<C: KeyInit>(alg: Algorithm, key: &[u8]) -> Result<C, Error> {
    C::new_from_slice(key).map_err(|_| key_error(alg))
}

fn xts<C: KeyInit>(alg: Algorithm, key: &[u8]) -> Result<(C, C), Error> {
    if !key.len().is_multiple_of(2) {
        return Err(key_error(alg));
    }
    let (k1, k2) = key.split_at(key.len() / 2);
    Ok((cipher(alg, k1)?, cipher(alg, k2)?))
}

impl Schedule {
    /// Expands `key` for `alg`.
    pub fn new(alg: Algorithm, key: &[u8]) -> Result<Schedule, Error> {
        Ok(match alg {
            Algorithm::Aes { key_bits, mode: CipherMode::Xts } => match key_bits {
                128 => {
                    let (a, b) = xts(alg, key)?;
                    Schedule::Xts128(a, b)
                }
                256 => {
                    let (a, b) = xts(alg, key)?;
                    Schedule::Xts256(a, b)
                }
                b => return Err(Error::InvalidKey(format!("AES-XTS has no {b}-bit key"))),
            },
            Algorithm::Aes { key_bits, .. } => match key_bits {
                128 => Schedule::Aes128(cipher(alg, key)?),
                192 => Schedule::Aes192(cipher(alg, key)?),
                256 => Schedule::Aes256(cipher(alg, key)?),
                b => return Err(Error::InvalidKey(format!("AES has no {b}-bit key"))),
            },
            Algorithm::Hmac(DigestKind::Sha1) => {
                Schedule::HmacSha1(KeyedMac(<Hmac<Sha1> as Mac>::new_from_slice(key).map_err(|_| key_error(alg))?))
            }
            Algorithm::Hmac(DigestKind::Sha256) => {
                Schedule::HmacSha256(KeyedMac(<Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| key_error(alg))?))
            }
            Algorithm::Digest(_) | Algorithm::Rng => Schedule::None,
            // Expanded by the AEAD code itself (crate::aead::AeadKey).
            Algorithm::AesGcm { .. }
            | Algorithm::ChaCha20Poly1305
            | Algorithm::Rsa { .. }
            | Algorithm::Ecdsa(_)
            | Algorithm::X25519
            | Algorithm::EcdhP256 => {
                return Err(Error::InvalidArgument(format!("{alg} has no cipher or MAC schedule")))
            }
        })
    }

    /// Whether this schedule serves `alg` (a key's cache is shared by its
    /// clones, which a hand-built step could use for another algorithm).
    pub fn fits(&self, alg: Algorithm) -> bool {
        match (self, alg) {
            (Schedule::Aes128(_), Algorithm::Aes { key_bits: 128, mode })
            | (Schedule::Aes192(_), Algorithm::Aes { key_bits: 192, mode })
            | (Schedule::Aes256(_), Algorithm::Aes { key_bits: 256, mode }) => mode != CipherMode::Xts,
            (Schedule::Xts128(..), Algorithm::Aes { key_bits: 128, mode: CipherMode::Xts })
            | (Schedule::Xts256(..), Algorithm::Aes { key_bits: 256, mode: CipherMode::Xts })
            | (Schedule::HmacSha1(_), Algorithm::Hmac(DigestKind::Sha1))
            | (Schedule::HmacSha256(_), Algorithm::Hmac(DigestKind::Sha256)) => true,
            (Schedule::None, Algorithm::Digest(_) | Algorithm::Rng) => true,
            _ => false,
        }
    }
}

/// The schedule of `key` for `alg`: the one kept with the key, or, when
/// the key's slot holds something else, `scratch` filled for this call.
pub fn schedule_for<'a>(
    alg: Algorithm,
    key: &'a Key,
    scratch: &'a mut Option<Schedule>,
) -> Result<&'a Schedule, Error> {
    match key.schedule(|k| Schedule::new(alg, k))? {
        Some(s) if s.fits(alg) => Ok(s),
        _ => Ok(scratch.insert(Schedule::new(alg, key.bytes())?)),
    }
}
