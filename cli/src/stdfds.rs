//! Which of stdin, stdout and stderr were closed when the process started,
//! and the default SIGPIPE disposition.
//!
//! Rust's runtime opens `/dev/null` on a closed fd 0, 1 or 2 before `main`
//! runs, so a command started with `<&-` or `>&-` would read nothing or
//! write into nothing and succeed. A constructor in `.init_array` runs
//! before that and records which of the three were closed, so the command
//! can fail instead, as `sha1sum` and `openssl` do.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU8, Ordering};

/// Bit n set: fd n was closed at startup.
static CLOSED: AtomicU8 = AtomicU8::new(0);

extern "C" fn record_closed() {
    let mut bits = 0u8;
    for fd in 0..3 {
        // SAFETY: fcntl(F_GETFD) only reads the descriptor flags of `fd`; it
        // takes no pointer, and fails with EBADF when `fd` is not open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            bits |= 1 << fd;
        }
    }
    CLOSED.store(bits, Ordering::Relaxed);
}

// SAFETY: a function pointer in `.init_array` is called once by the dynamic
// loader (or the static startup code) before `main`, with no other thread
// running; `record_closed` only calls fcntl and stores to an atomic.
#[used]
#[link_section = ".init_array"]
static RECORD_CLOSED: extern "C" fn() = record_closed;

/// Whether fd `fd` (0, 1 or 2) was closed when the process started.
pub fn was_closed(fd: u8) -> bool {
    CLOSED.load(Ordering::Relaxed) & (1 << fd) != 0
}

/// Restores the default SIGPIPE disposition (Rust's runtime ignores it), so
/// that `acrypto … | head` ends quietly when `head` exits, as coreutils do.
pub fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler
    // code; it is called from `main` before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
