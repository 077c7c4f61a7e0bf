//! PKCS#7 padding for the AES modes that take whole 16-byte blocks (cbc,
//! ecb). The engine refuses data that is not whole blocks (it never pads on
//! its own, so a route's steps see exactly the bytes given); pad before
//! encrypting and unpad after decrypting, as `openssl enc` and the
//! `acrypto enc` command do. The padding itself is the `block-padding`
//! crate's `Pkcs7` (the one the RustCrypto modes use).

use acrypto_core::{Error, Result};
use block_padding::{Pkcs7, RawPadding};

/// The AES block size the padding fills up to.
pub const BLOCK: usize = 16;

/// Appends PKCS#7 padding: 1 to 16 bytes, each the count added, up to the
/// next multiple of 16 (a whole block of 16s when `data` is one already).
pub fn pkcs7_pad(data: &mut Vec<u8>) {
    let pos = data.len() % BLOCK;
    let start = data.len() - pos;
    data.resize(start + BLOCK, 0);
    Pkcs7::raw_pad(&mut data[start..], pos);
}

/// Removes PKCS#7 padding from decrypted whole blocks.
///
/// # Errors
/// [`Error::BadPadding`] when `data` is empty, not whole 16-byte blocks, or
/// does not end in valid padding (wrong key or IV, corrupt or truncated
/// data); `data` is then left as it was.
pub fn pkcs7_unpad(data: &mut Vec<u8>) -> Result<()> {
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return Err(Error::BadPadding);
    }
    let start = data.len() - BLOCK;
    let kept = Pkcs7::raw_unpad(&data[start..]).map_err(|_| Error::BadPadding)?.len();
    data.truncate(start + kept);
    Ok(())
}
