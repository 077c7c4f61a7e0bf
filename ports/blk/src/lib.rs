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

/// The write end of the pipe [`on_stop_signal`]'s handler writes to.
static STOP_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = STOP_PIPE.load(std::sync::atomic::Ordering::Relaxed);
    let b = sig as u8;
    // SAFETY: write(2) is async-signal-safe; `b` lives for the call.
    let _ = unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// Runs `stop` (on a thread of its own, once) when the process gets
/// SIGTERM, SIGINT or SIGHUP, instead of dying at once: a server syncs its
/// backing file before it exits (`acrypto disk close` of a `--listen`
/// volume sends SIGTERM), so writes the client never flushed are on disk
/// too. The handler only writes the signal's number to a pipe.
///
/// # Errors
/// The pipe's, the thread's or sigaction's.
pub fn on_stop_signal(stop: impl FnOnce(i32) + Send + 'static) -> std::io::Result<()> {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fds[0] is a fresh descriptor that nothing else owns.
    let mut rx = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    STOP_PIPE.store(fds[1], std::sync::atomic::Ordering::Relaxed);
    std::thread::Builder::new().name("stop-signal".into()).spawn(move || {
        let mut b = [0u8; 1];
        if rx.read_exact(&mut b).is_ok() {
            stop(i32::from(b[0]));
        }
    })?;
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler is an
        // extern "C" fn that only calls write(2).
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

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
