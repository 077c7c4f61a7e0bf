//! acrypto-blk: the dm-crypt port (DESIGN.md §7a).
//!
//! An encrypted block device served from user space over NBD, whose sectors
//! go through the acrypto engine, on-disk compatible with `cryptsetup open
//! --type plain` and LUKS2.
pub mod luks2;
