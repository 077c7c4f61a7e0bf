//! acrypto-blk: the dm-crypt port (DESIGN.md §7a).
//!
//! An encrypted block device served from user space over NBD, whose sectors
//! go through the acrypto engine, on-disk compatible with `cryptsetup open
//! --type plain` and LUKS2.
//!
//! - [`spec`]: what a volume is (cipher, key, data offset, sector size, IV
//!   offset), as dm-crypt's table line says it;
//! - [`iv`]: dm-crypt's IV generators (plain64, essiv);
//! - [`crypt`]: sectors through the engine, one batch per NBD request;
//! - [`volume`]: the backing file, its data segment and the bounds;
//! - [`nbd`]: the NBD transmission phase (many requests in flight,
//!   out-of-order replies) and the newstyle handshake for `--listen`;
//! - [`kernel`]: the kernel nbd driver over a socketpair (`NBD_SET_SOCK`,
//!   `NBD_DO_IT`);
//! - [`luks2`]: the LUKS2 header (open, format).

pub mod crypt;
pub mod iv;
pub mod kernel;
pub mod luks2;
pub mod nbd;
pub mod spec;
pub mod volume;

pub use crypt::SectorCipher;
pub use spec::{CipherSpec, IvMode, Mode};
pub use volume::Volume;

/// Asks the server process `pid` to stop (SIGTERM).
///
/// # Errors
/// The kill's (no such process, not permitted).
pub fn terminate(pid: i32) -> std::io::Result<()> {
    if pid <= 0 {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill takes plain integers; a positive pid names one process.
    if unsafe { libc::kill(pid, libc::SIGTERM) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
