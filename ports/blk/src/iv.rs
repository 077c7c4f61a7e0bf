//! dm-crypt's IV generators, as `drivers/md/dm-crypt.c` computes them.
//!
//! A sector's IV starts from its number: the 512-byte sector number of
//! its first byte in the data segment, plus `iv_offset` (512-byte units),
//! shifted down to `sector_size` units when `iv_large_sectors` is set.
//! plain64 is that number as 64 bits little endian, zero-padded to 16
//! bytes; essiv is the plain64 block encrypted with AES under SHA-256 of
//! the volume key (done through the engine by [`crate::crypt`]).

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// AES block size, the IV length of every cipher here.
pub const IV_LEN: usize = 16;

/// How sector indices become IV sector numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvSectors {
    /// Encryption sector size in bytes.
    pub sector_size: u32,
    /// dm-crypt's `iv_offset`, in 512-byte units.
    pub iv_offset: u64,
    /// Count in `sector_size` units instead of 512-byte units.
    pub large: bool,
}

impl IvSectors {
    /// The IV sector number of data sector `index` (in `sector_size`
    /// units from the start of the data segment), wrapping as dm-crypt's
    /// 64-bit arithmetic does.
    pub fn number(&self, index: u64) -> u64 {
        let shift = (self.sector_size / 512).trailing_zeros();
        let n = (index << shift).wrapping_add(self.iv_offset);
        if self.large {
            n >> shift
        } else {
            n
        }
    }
}

/// The plain64 IV of IV sector number `n`.
pub fn plain64(n: u64) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[..8].copy_from_slice(&n.to_le_bytes());
    iv
}

/// The essiv salt: SHA-256 of the volume key, the AES-256 key that
/// encrypts plain64 blocks into IVs.
pub fn essiv_salt(key: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut salt = Zeroizing::new([0u8; 32]);
    salt.copy_from_slice(&Sha256::digest(key));
    salt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain64_is_little_endian_sector_number() {
        assert_eq!(plain64(0), [0; 16]);
        let iv = plain64(0x0102_0304_0506_0708);
        assert_eq!(&iv[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&iv[8..], &[0; 8]);
    }

    #[test]
    fn sector_numbers_count_512_byte_units_unless_large() {
        let small = IvSectors { sector_size: 4096, iv_offset: 0, large: false };
        assert_eq!(small.number(0), 0);
        assert_eq!(small.number(1), 8);
        assert_eq!(small.number(3), 24);
        let large = IvSectors { large: true, ..small };
        assert_eq!(large.number(3), 3);
        // --skip is in 512-byte units, and with large sectors shifted too.
        let skip = IvSectors { sector_size: 4096, iv_offset: 16, large: true };
        assert_eq!(skip.number(1), 3);
        let skip512 = IvSectors { sector_size: 512, iv_offset: 5, large: false };
        assert_eq!(skip512.number(2), 7);
        let skip_small = IvSectors { sector_size: 4096, iv_offset: 16, large: false };
        assert_eq!(skip_small.number(1), 24);
    }

    #[test]
    fn essiv_salt_is_sha256_of_key() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let s = essiv_salt(b"abc");
        assert_eq!(s[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(s[28..], [0xf2, 0x00, 0x15, 0xad]);
    }
}
