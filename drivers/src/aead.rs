//! AEAD in the software device: AES-GCM (RustCrypto `aes-gcm`) and
//! ChaCha20-Poly1305 (RustCrypto `chacha20poly1305`), with detached tags,
//! in place on [`Request::current_mut`].
//!
//! - Seal ([`Op::Encrypt`]): encrypts the data and writes the 16-byte tag
//!   into the request's tag.
//! - Open ([`Op::Decrypt`]): checks the tag (16 bytes; GCM also 12 to 15,
//!   compared with the leftmost bytes of the full tag, as SP 800-38D
//!   truncates) and decrypts only if it verifies. Both crates compute the
//!   tag over the ciphertext before they decrypt anything, so a failed open
//!   leaves the output as the ciphertext; [`Error::VerifyFailed`].
//! - The nonce is the request's IV, 12 bytes; the AAD is the request's AAD.
//!
//! The expanded key (the AES key schedule with the GHASH key, or the
//! ChaCha20-Poly1305 key) is made once per session and kept with the
//! session's key, like the other software schedules; every type here wipes
//! itself on drop (`aes` and `aes-gcm` with their `zeroize` features,
//! `chacha20poly1305` always).

use acrypto_core::alg::{AEAD_NONCE_LEN, AEAD_TAG_LEN, MIN_GCM_TAG};
use acrypto_core::{Algorithm, Error, Key, Op, Request, Step};
use aes_gcm::aead::consts::{U12, U13, U14, U15};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use chacha20poly1305::ChaCha20Poly1305;

/// Longest GCM plaintext (SP 800-38D: 2^39 - 256 bits).
const GCM_MAX: u64 = (1 << 36) - 32;

/// One AES key size: the block cipher's schedule (for truncated tags) and
/// the GCM instance with its GHASH key.
pub struct Gcm<C> {
    cipher: C,
    full: AesGcm<C, U12>,
}

/// The expanded key of an AEAD step.
// Made once per session and kept boxed with the key: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum AeadKey {
    /// aes-128-gcm.
    Gcm128(Gcm<aes::Aes128>),
    /// aes-192-gcm.
    Gcm192(Gcm<aes::Aes192>),
    /// aes-256-gcm.
    Gcm256(Gcm<aes::Aes256>),
    /// chacha20-poly1305.
    ChaCha(ChaCha20Poly1305),
}

fn key_error(alg: Algorithm) -> Error {
    Error::InvalidKey(format!("{alg}: key of the wrong length"))
}

fn gcm<C>(alg: Algorithm, key: &[u8]) -> Result<Gcm<C>, Error>
where
    C: KeyInit + Clone + aes::cipher::BlockCipher + aes::cipher::BlockEncrypt,
    C: aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    let cipher = C::new_from_slice(key).map_err(|_| key_error(alg))?;
    Ok(Gcm { full: AesGcm::from(cipher.clone()), cipher })
}

impl AeadKey {
    /// Expands `key` for `alg`.
    pub fn new(alg: Algorithm, key: &[u8]) -> Result<AeadKey, Error> {
        Ok(match alg {
            Algorithm::AesGcm { key_bits: 128 } => AeadKey::Gcm128(gcm(alg, key)?),
            Algorithm::AesGcm { key_bits: 192 } => AeadKey::Gcm192(gcm(alg, key)?),
            Algorithm::AesGcm { key_bits: 256 } => AeadKey::Gcm256(gcm(alg, key)?),
            Algorithm::ChaCha20Poly1305 => {
                AeadKey::ChaCha(ChaCha20Poly1305::new_from_slice(key).map_err(|_| key_error(alg))?)
            }
            _ => return Err(Error::InvalidArgument(format!("{alg} is not an AEAD"))),
        })
    }

    /// Whether this key serves `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (AeadKey::Gcm128(_), Algorithm::AesGcm { key_bits: 128 })
                | (AeadKey::Gcm192(_), Algorithm::AesGcm { key_bits: 192 })
                | (AeadKey::Gcm256(_), Algorithm::AesGcm { key_bits: 256 })
                | (AeadKey::ChaCha(_), Algorithm::ChaCha20Poly1305)
        )
    }
}

/// The expanded key kept with `key`, or `scratch` filled for this call
/// when the key's slot holds something else.
fn key_for<'a>(alg: Algorithm, key: &'a Key, scratch: &'a mut Option<AeadKey>) -> Result<&'a AeadKey, Error> {
    match key.schedule(|k| AeadKey::new(alg, k))? {
        Some(k) if k.fits(alg) => Ok(k),
        _ => Ok(scratch.insert(AeadKey::new(alg, key.bytes())?)),
    }
}

/// Runs one AEAD step (seal or open) on a request.
pub fn apply(step: &Step, req: &mut Request) -> Result<(), Error> {
    let alg = step.alg;
    let open = match step.op {
        Op::Encrypt => false,
        Op::Decrypt => true,
        op => return Err(Error::InvalidArgument(format!("{op:?} does not apply to {alg}"))),
    };
    alg.check_key(step.key.bytes())?;
    alg.check_iv(&req.iv)?;
    alg.check_tag(step.op, &req.tag)?;
    if matches!(alg, Algorithm::AesGcm { .. }) && req.current().len() as u64 > GCM_MAX {
        return Err(Error::InvalidLength(format!("{alg} takes at most {GCM_MAX} bytes")));
    }
    let mut scratch = None;
    let key = key_for(alg, &step.key, &mut scratch)?;
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    nonce.copy_from_slice(&req.iv);
    // The AAD and the tag are read while the data is written: they are
    // taken out for the call (no copy) and put back.
    let aad = std::mem::take(&mut req.aad);
    let mut tag = std::mem::take(&mut req.tag);
    let data = req.current_mut().as_mut_slice();
    let result = if open {
        match key {
            AeadKey::Gcm128(g) => gcm_open(g, &nonce, &aad, data, &tag),
            AeadKey::Gcm192(g) => gcm_open(g, &nonce, &aad, data, &tag),
            AeadKey::Gcm256(g) => gcm_open(g, &nonce, &aad, data, &tag),
            AeadKey::ChaCha(c) => open_with(c, &nonce, &aad, data, &tag),
        }
    } else {
        let sealed = match key {
            AeadKey::Gcm128(g) => seal_with(&g.full, &nonce, &aad, data),
            AeadKey::Gcm192(g) => seal_with(&g.full, &nonce, &aad, data),
            AeadKey::Gcm256(g) => seal_with(&g.full, &nonce, &aad, data),
            AeadKey::ChaCha(c) => seal_with(c, &nonce, &aad, data),
        };
        sealed.map(|t| {
            tag.clear();
            tag.extend_from_slice(&t);
        })
    };
    req.aad = aad;
    req.tag = tag;
    result
}

fn seal_with<A: AeadInPlace>(
    a: &A,
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    data: &mut [u8],
) -> Result<[u8; AEAD_TAG_LEN], Error> {
    let tag = a
        .encrypt_in_place_detached(GenericArray::from_slice(nonce), aad, data)
        .map_err(|_| Error::InvalidLength("AEAD input too long".into()))?;
    let mut out = [0u8; AEAD_TAG_LEN];
    out.copy_from_slice(&tag);
    Ok(out)
}

fn open_with<A: AeadInPlace>(
    a: &A,
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8],
) -> Result<(), Error> {
    if tag.len() != <A::TagSize as aes_gcm::aead::generic_array::typenum::Unsigned>::USIZE {
        return Err(Error::InvalidLength(format!("tag of {} bytes", tag.len())));
    }
    a.decrypt_in_place_detached(GenericArray::from_slice(nonce), aad, data, GenericArray::from_slice(tag))
        .map_err(|_| Error::VerifyFailed)
}

fn gcm_open<C>(g: &Gcm<C>, nonce: &[u8; AEAD_NONCE_LEN], aad: &[u8], data: &mut [u8], tag: &[u8]) -> Result<(), Error>
where
    C: Clone + aes::cipher::BlockCipher + aes::cipher::BlockEncrypt,
    C: aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    // A truncated tag needs a GCM instance of that tag size; it is made
    // from the kept AES schedule (one block encryption for the GHASH key).
    match tag.len() {
        AEAD_TAG_LEN => open_with(&g.full, nonce, aad, data, tag),
        15 => open_with(&AesGcm::<C, U12, U15>::from(g.cipher.clone()), nonce, aad, data, tag),
        14 => open_with(&AesGcm::<C, U12, U14>::from(g.cipher.clone()), nonce, aad, data, tag),
        13 => open_with(&AesGcm::<C, U12, U13>::from(g.cipher.clone()), nonce, aad, data, tag),
        MIN_GCM_TAG => open_with(&AesGcm::<C, U12, U12>::from(g.cipher.clone()), nonce, aad, data, tag),
        n => Err(Error::InvalidLength(format!("a GCM tag of {n} bytes"))),
    }
}
