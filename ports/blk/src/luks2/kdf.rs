//! The primitives a LUKS2 keyslot names, all from RustCrypto crates: the
//! hashes, PBKDF2-HMAC, Argon2i/Argon2id, the anti-forensic splitter's
//! diffusion (LUKS1 AF as LUKS2 keeps it) and the keyslot area's
//! `aes-xts-plain64` sector encryption.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{
    BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, BlockSizeUser, KeyInit, KeyIvInit,
};
use aes::{Aes128, Aes192, Aes256};
use sha2::Digest;
use xts_mode::{get_tweak_default, Xts128};
use zeroize::{Zeroize, Zeroizing};

use super::Error;

/// Sector size of the keyslot area (LUKS2 keyslots are always 512-byte
/// sectors, IV = the sector number within the area).
pub const AREA_SECTOR: usize = 512;

fn digest_of<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = D::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

/// The hash named `name` (cryptsetup's spelling) of the concatenated parts.
pub fn hash(name: &str, parts: &[&[u8]]) -> Result<Vec<u8>, Error> {
    Ok(match name {
        "sha1" => digest_of::<sha1::Sha1>(parts),
        "sha224" => digest_of::<sha2::Sha224>(parts),
        "sha256" => digest_of::<sha2::Sha256>(parts),
        "sha384" => digest_of::<sha2::Sha384>(parts),
        "sha512" => digest_of::<sha2::Sha512>(parts),
        _ => return Err(Error::Unsupported(format!("hash {name:?}"))),
    })
}

/// PBKDF2-HMAC with the named hash.
pub fn pbkdf2(name: &str, pass: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) -> Result<(), Error> {
    if iterations == 0 {
        return Err(Error::Invalid("pbkdf2 with 0 iterations".into()));
    }
    match name {
        "sha1" => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pass, salt, iterations, out),
        "sha224" => pbkdf2::pbkdf2_hmac::<sha2::Sha224>(pass, salt, iterations, out),
        "sha256" => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pass, salt, iterations, out),
        "sha384" => pbkdf2::pbkdf2_hmac::<sha2::Sha384>(pass, salt, iterations, out),
        "sha512" => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pass, salt, iterations, out),
        _ => return Err(Error::Unsupported(format!("pbkdf2 hash {name:?}"))),
    }
    Ok(())
}

/// Argon2 (version 0x13) as a KDF: `memory_kib` KiB, `time` passes,
/// `lanes` lanes.
pub fn argon2(
    id: bool,
    pass: &[u8],
    salt: &[u8],
    time: u32,
    memory_kib: u32,
    lanes: u32,
    out: &mut [u8],
) -> Result<(), Error> {
    let params = argon2::Params::new(memory_kib, time, lanes, Some(out.len()))
        .map_err(|e| Error::Invalid(format!("argon2 parameters: {e}")))?;
    let alg = if id { argon2::Algorithm::Argon2id } else { argon2::Algorithm::Argon2i };
    argon2::Argon2::new(alg, argon2::Version::V0x13, params)
        .hash_password_into(pass, salt, out)
        .map_err(|e| Error::Invalid(format!("argon2: {e}")))
}

/// The AF diffusion: each hash-sized block i of `buf` becomes
/// H(be32(i) || block); a short last block takes the head of its hash.
fn diffuse(name: &str, buf: &mut [u8]) -> Result<(), Error> {
    let ds = hash(name, &[])?.len();
    for (i, block) in buf.chunks_mut(ds).enumerate() {
        let mut h = hash(name, &[&(i as u32).to_be_bytes(), block])?;
        let n = block.len();
        block.copy_from_slice(&h[..n]);
        h.zeroize();
    }
    Ok(())
}

/// Bytes the split key occupies: `key_size * stripes`, rounded up to whole
/// 512-byte sectors.
pub fn af_size(key_size: usize, stripes: usize) -> Option<usize> {
    key_size.checked_mul(stripes)?.checked_add(AREA_SECTOR - 1).map(|n| n / AREA_SECTOR * AREA_SECTOR)
}

/// Merge `stripes` stripes of `key_size` bytes back into the key.
pub fn af_merge(name: &str, src: &[u8], key_size: usize, stripes: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    if stripes == 0 || src.len() < key_size * stripes {
        return Err(Error::Invalid("AF stripes do not fit the keyslot area".into()));
    }
    let mut acc = Zeroizing::new(vec![0u8; key_size]);
    for s in 0..stripes - 1 {
        xor_into(&mut acc, &src[s * key_size..(s + 1) * key_size]);
        diffuse(name, &mut acc)?;
    }
    xor_into(&mut acc, &src[(stripes - 1) * key_size..stripes * key_size]);
    Ok(acc)
}

/// Split `key` into `stripes` stripes (all random but the last, which makes
/// the merge give back `key`), in a buffer of `af_size` bytes.
pub fn af_split(name: &str, key: &[u8], stripes: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    let ks = key.len();
    let size = af_size(ks, stripes).ok_or_else(|| Error::Invalid("AF size overflows".into()))?;
    let mut out = Zeroizing::new(vec![0u8; size]);
    getrandom::getrandom(&mut out[..ks * (stripes - 1)]).map_err(|e| Error::Io(format!("getrandom: {e}")))?;
    let mut acc = Zeroizing::new(vec![0u8; ks]);
    for s in 0..stripes - 1 {
        xor_into(&mut acc, &out[s * ks..(s + 1) * ks]);
        diffuse(name, &mut acc)?;
    }
    let last = &mut out[(stripes - 1) * ks..stripes * ks];
    last.copy_from_slice(key);
    xor_into(last, &acc);
    Ok(out)
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// Encrypt or decrypt a keyslot area in place with `cipher`
/// (`aes-xts-plain64`, `aes-cbc-plain64` or `aes-cbc-essiv:sha256`, as
/// dm-crypt computes them), 512-byte sectors numbered from 0 at the start of
/// the area.
pub fn area_crypt(cipher: &str, key: &[u8], buf: &mut [u8], encrypt: bool) -> Result<(), Error> {
    if !buf.len().is_multiple_of(AREA_SECTOR) {
        return Err(Error::Invalid("keyslot area is not whole sectors".into()));
    }
    let bad_key = || Error::Unsupported(format!("{cipher} keyslot key of {} bits", key.len() * 8));
    match cipher {
        "aes-xts-plain64" => match key.len() {
            32 => xts::<Aes128>(key, buf, encrypt),
            64 => xts::<Aes256>(key, buf, encrypt),
            _ => return Err(bad_key()),
        },
        "aes-cbc-plain64" | "aes-cbc-essiv:sha256" => {
            let essiv = if cipher.ends_with("essiv:sha256") {
                let mut salt = Zeroizing::new(hash("sha256", &[key])?);
                let c = Aes256::new_from_slice(&salt).map_err(|_| bad_key())?;
                salt.zeroize();
                Some(c)
            } else {
                None
            };
            match key.len() {
                16 => cbc::<Aes128>(key, essiv.as_ref(), buf, encrypt),
                24 => cbc::<Aes192>(key, essiv.as_ref(), buf, encrypt),
                32 => cbc::<Aes256>(key, essiv.as_ref(), buf, encrypt),
                _ => return Err(bad_key()),
            }
        }
        _ => return Err(Error::Unsupported(format!("keyslot area cipher {cipher:?}"))),
    }
    Ok(())
}

fn xts<C>(key: &[u8], buf: &mut [u8], encrypt: bool)
where
    C: KeyInit + BlockCipher + BlockEncrypt + BlockDecrypt + BlockSizeUser<BlockSize = U16>,
{
    let half = key.len() / 2;
    // The lengths were checked by the caller.
    let (Ok(k1), Ok(k2)) = (C::new_from_slice(&key[..half]), C::new_from_slice(&key[half..])) else {
        return;
    };
    let xts = Xts128::new(k1, k2);
    if encrypt {
        xts.encrypt_area(buf, AREA_SECTOR, 0, get_tweak_default);
    } else {
        xts.decrypt_area(buf, AREA_SECTOR, 0, get_tweak_default);
    }
}

fn cbc<C>(key: &[u8], essiv: Option<&Aes256>, buf: &mut [u8], encrypt: bool)
where
    C: KeyInit + BlockCipher + BlockEncryptMut + BlockDecryptMut + BlockSizeUser<BlockSize = U16>,
{
    for (i, sector) in buf.chunks_mut(AREA_SECTOR).enumerate() {
        let mut iv = GenericArray::from([0u8; 16]);
        iv[..8].copy_from_slice(&(i as u64).to_le_bytes());
        if let Some(e) = essiv {
            e.encrypt_block(&mut iv);
        }
        // Whole 16-byte blocks (the caller checked the length), no padding.
        if encrypt {
            if let Ok(c) = cbc::Encryptor::<C>::new_from_slices(key, &iv) {
                let n = sector.len();
                let _ = c.encrypt_padded_mut::<NoPadding>(sector, n);
            }
        } else if let Ok(c) = cbc::Decryptor::<C>::new_from_slices(key, &iv) {
            let _ = c.decrypt_padded_mut::<NoPadding>(sector);
        }
    }
}

/// Equality without an early exit.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
