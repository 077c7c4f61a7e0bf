//! What a volume is, in dm-crypt's terms: the table line
//! `crypt <cipher> <key> <iv_offset> <device> <offset> [sector_size:N] [iv_large_sectors]`.

use std::fmt;
use zeroize::Zeroizing;

/// The block cipher mode of a dm-crypt cipher specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// XTS: one data unit per sector, the IV is the tweak.
    Xts,
    /// CBC: one chain per sector, starting from the IV.
    Cbc,
}

/// dm-crypt's IV generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvMode {
    /// The 64-bit little-endian sector number, zero-padded to 16 bytes.
    Plain64,
    /// The plain64 block encrypted with AES under SHA-256 of the key.
    EssivSha256,
}

/// A volume's cipher and layout: what [`crate::luks2`] reads from a header
/// and what `--type plain`'s options say.
pub struct CipherSpec {
    /// dm-crypt's cipher specification: `aes-xts-plain64`,
    /// `aes-cbc-essiv:sha256` or `aes-cbc-plain64`.
    pub cipher: String,
    /// The volume key (both XTS keys for xts), zeroized on drop.
    pub key: Zeroizing<Vec<u8>>,
    /// Where the data segment starts in the backing file, in bytes.
    pub data_offset: u64,
    /// Length of the data segment in bytes; `None`: to the end of the file.
    pub size: Option<u64>,
    /// Encryption sector size: 512, 1024, 2048 or 4096 bytes.
    pub sector_size: u32,
    /// Added to the sector number before the IV is made, in 512-byte
    /// units (dm-crypt's `iv_offset`, cryptsetup's `--skip`).
    pub iv_offset: u64,
    /// IVs count sectors of `sector_size` rather than 512-byte units.
    pub iv_large_sectors: bool,
}

impl fmt::Debug for CipherSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CipherSpec")
            .field("cipher", &self.cipher)
            .field("key_bits", &(self.key.len() * 8))
            .field("data_offset", &self.data_offset)
            .field("size", &self.size)
            .field("sector_size", &self.sector_size)
            .field("iv_offset", &self.iv_offset)
            .field("iv_large_sectors", &self.iv_large_sectors)
            .finish()
    }
}

/// The ciphers this port knows, as dm-crypt names them.
pub const CIPHERS: [&str; 3] = ["aes-xts-plain64", "aes-cbc-essiv:sha256", "aes-cbc-plain64"];

/// Splits a cipher specification into its mode and IV generator.
///
/// # Errors
/// A one-line message naming the known ciphers.
pub fn parse_cipher(cipher: &str) -> Result<(Mode, IvMode), String> {
    match cipher {
        "aes-xts-plain64" => Ok((Mode::Xts, IvMode::Plain64)),
        "aes-cbc-essiv:sha256" => Ok((Mode::Cbc, IvMode::EssivSha256)),
        "aes-cbc-plain64" => Ok((Mode::Cbc, IvMode::Plain64)),
        _ => Err(format!("unsupported cipher '{cipher}' (supported: {})", CIPHERS.join(", "))),
    }
}

/// Key sizes in bits a mode takes.
pub fn key_sizes(mode: Mode) -> &'static [u32] {
    match mode {
        Mode::Xts => &[256, 512],
        Mode::Cbc => &[128, 192, 256],
    }
}

impl CipherSpec {
    /// Checks the cipher, the key length, the sector size and the IV
    /// offset's alignment (dm-crypt refuses an `iv_offset` that is not a
    /// whole number of sectors).
    ///
    /// # Errors
    /// A one-line message.
    pub fn check(&self) -> Result<(Mode, IvMode), String> {
        let (mode, iv) = parse_cipher(&self.cipher)?;
        let bits = self.key.len() as u32 * 8;
        if !key_sizes(mode).contains(&bits) {
            let ok: Vec<String> = key_sizes(mode).iter().map(u32::to_string).collect();
            return Err(format!("{}: key size {bits} bits not supported (use {})", self.cipher, ok.join(" or ")));
        }
        if ![512, 1024, 2048, 4096].contains(&self.sector_size) {
            return Err(format!("sector size {} not supported (512, 1024, 2048 or 4096)", self.sector_size));
        }
        let units = u64::from(self.sector_size / 512);
        if !self.iv_offset.is_multiple_of(units) {
            return Err(format!(
                "IV offset (skip) of {} 512-byte sectors is not a multiple of the sector size {}",
                self.iv_offset, self.sector_size
            ));
        }
        if !self.data_offset.is_multiple_of(512) {
            return Err(format!("data offset {} is not a multiple of 512 bytes", self.data_offset));
        }
        Ok((mode, iv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cipher: &str, key: usize, ss: u32, skip: u64) -> CipherSpec {
        CipherSpec {
            cipher: cipher.into(),
            key: Zeroizing::new(vec![1; key]),
            data_offset: 0,
            size: None,
            sector_size: ss,
            iv_offset: skip,
            iv_large_sectors: false,
        }
    }

    #[test]
    fn checks_cipher_key_sector_and_skip() {
        assert_eq!(spec("aes-xts-plain64", 64, 512, 3).check(), Ok((Mode::Xts, IvMode::Plain64)));
        assert_eq!(spec("aes-cbc-essiv:sha256", 32, 4096, 8).check(), Ok((Mode::Cbc, IvMode::EssivSha256)));
        assert!(spec("aes-xts-plain64", 16, 512, 0).check().unwrap_err().contains("key size 128"));
        assert!(spec("aes-cbc-plain", 32, 512, 0).check().unwrap_err().contains("unsupported cipher"));
        assert!(spec("aes-cbc-plain64", 32, 4096, 4).check().unwrap_err().contains("not a multiple"));
        assert!(spec("aes-cbc-plain64", 32, 800, 0).check().unwrap_err().contains("sector size 800"));
    }

    #[test]
    fn debug_shows_no_key() {
        let s = format!("{:?}", spec("aes-xts-plain64", 64, 512, 0));
        assert!(s.contains("key_bits: 512") && !s.contains("[1, 1"));
    }
}
