//! The engine's byte limit: how many bytes of requests may be accepted and
//! not yet completed. The in-flight limit counts requests; this bounds the
//! memory they hold, whatever their size. A request is charged when it is
//! admitted and released when it finishes or is handed back; one request
//! larger than the whole limit is still admitted when nothing else is
//! charged (so it can run, alone).

use crate::error::{Error, Result};
use crate::request::Request;
use crate::sync::{thread_local, AtomicU64, Ordering};
use std::cell::Cell;

// Whether this thread is a completion worker. A deferred callback's bytes
// are released after it ran, so a callback that waits for byte room on its
// own worker could wait for itself: there a blocking submission is charged
// without waiting (it may go over the limit by what callbacks submit).
// (loom's `thread_local!` takes no `const` initialiser.)
#[cfg(not(acrypto_loom))]
thread_local!(static COMPLETION_WORKER: Cell<bool> = const { Cell::new(false) });
#[cfg(acrypto_loom)]
thread_local!(static COMPLETION_WORKER: Cell<bool> = Cell::new(false));

/// Marks the calling thread as a completion worker (for its lifetime).
pub(crate) fn mark_completion_worker() {
    COMPLETION_WORKER.with(|w| w.set(true));
}

/// Whether the calling thread is a completion worker.
pub(crate) fn on_completion_worker() -> bool {
    COMPLETION_WORKER.with(|w| w.get())
}

/// The environment variable that sets the byte limit of engines whose
/// configuration leaves it at 0 ("default"): a number of bytes, with an
/// optional suffix K, M or G (powers of 1024).
pub const BYTE_LIMIT_ENV: &str = "ACRYPTO_MAX_IN_FLIGHT_BYTES";

/// The default is this fraction of physical memory...
const DEFAULT_FRACTION: u64 = 8;
/// ...but at most this...
const DEFAULT_CAP: u64 = 1 << 30;
/// ...and at least this (also used when physical memory is unknown).
const DEFAULT_FLOOR: u64 = 64 << 20;

/// Bytes charged against a limit.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    limit: u64,
    used: AtomicU64,
}

impl ByteBudget {
    pub(crate) fn new(limit: u64) -> Self {
        ByteBudget { limit, used: AtomicU64::new(0) }
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged now.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Charges `n` bytes if they fit (or nothing else is charged).
    pub(crate) fn try_charge(&self, n: u64) -> bool {
        if n == 0 {
            return true;
        }
        let mut cur = self.used.load(Ordering::SeqCst);
        loop {
            if cur != 0 && cur.saturating_add(n) > self.limit {
                return false;
            }
            match self.used.compare_exchange_weak(cur, cur + n, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Charges `n` bytes whether they fit or not (a completion worker's
    /// blocking submission; see [`on_completion_worker`]).
    pub(crate) fn force_charge(&self, n: u64) -> bool {
        self.used.fetch_add(n, Ordering::SeqCst);
        true
    }

    /// Whether `n` bytes would fit now.
    pub(crate) fn has_room(&self, n: u64) -> bool {
        let cur = self.used();
        n == 0 || cur == 0 || cur.saturating_add(n) <= self.limit
    }

    /// Releases `n` charged bytes (the caller then notifies waiters).
    pub(crate) fn release(&self, n: u64) {
        if n != 0 {
            self.used.fetch_sub(n, Ordering::SeqCst);
        }
    }
}

/// What a request is charged: its buffers as the engine will hold them
/// (the input, an output buffer as long as the input, the IV, tag and AAD).
pub(crate) fn charge_of(r: &Request) -> u64 {
    let out = r.out.as_ref().map_or(0, |o| o.len().max(r.data.len()));
    (r.data.len() + out + r.iv.len() + r.tag.len() + r.aad.len()) as u64
}

/// The byte limit an engine gets when its configuration says 0: the
/// environment's [`BYTE_LIMIT_ENV`] if set, else [`default_byte_limit`].
///
/// # Errors
/// `InvalidArgument` when the variable is set but is not a positive number
/// of bytes.
pub(crate) fn resolve(configured: u64) -> Result<u64> {
    if configured != 0 {
        return Ok(configured);
    }
    match std::env::var(BYTE_LIMIT_ENV) {
        Ok(v) => parse_bytes(&v).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{BYTE_LIMIT_ENV}={v:?}: expected a positive number of bytes, optionally with K, M or G"
            ))
        }),
        Err(_) => Ok(default_byte_limit()),
    }
}

/// "4096", "64K", "512M", "2G" (powers of 1024); `None` for anything else
/// or 0.
pub(crate) fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 10),
        (i, 'm' | 'M') => (&s[..i], 20),
        (i, 'g' | 'G') => (&s[..i], 30),
        _ => (s, 0),
    };
    let n: u64 = digits.parse().ok()?;
    let v = n.checked_mul(1u64 << shift)?;
    (v > 0).then_some(v)
}

/// The machine's default byte limit: an eighth of physical memory, between
/// 64 MiB and 1 GiB (64 MiB when physical memory cannot be read).
pub fn default_byte_limit() -> u64 {
    physical_memory().map_or(DEFAULT_FLOOR, |m| (m / DEFAULT_FRACTION).clamp(DEFAULT_FLOOR, DEFAULT_CAP))
}

/// Physical memory in bytes, from /proc/meminfo.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(all(test, not(acrypto_loom)))]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes(" 64K"), Some(64 << 10));
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("2G"), Some(2 << 30));
        for bad in ["", "0", "K", "-1", "1.5G", "12Q", "99999999999999999999G"] {
            assert_eq!(parse_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_budget_admits_what_fits_and_one_oversized_request_alone() {
        let b = ByteBudget::new(100);
        assert!(b.try_charge(60));
        assert!(b.try_charge(40));
        assert!(!b.try_charge(1));
        assert!(!b.has_room(1));
        b.release(100);
        assert!(b.try_charge(1000), "alone, a request larger than the limit runs");
        assert!(!b.try_charge(1));
        b.release(1000);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn the_default_is_bounded() {
        let d = default_byte_limit();
        assert!((DEFAULT_FLOOR..=DEFAULT_CAP).contains(&d), "{d}");
    }
}
