//! Load balancing: which device gets a piece of work.
//!
//! A balancer sees the capable devices as [`Candidate`]s and picks one for
//! a piece of work ([`find_device`](Balancer::find_device)), and places work
//! moved off a broken device ([`rehash`](Balancer::rehash)). The engine
//! hands it only active devices able to do the step (and, for bound steps,
//! only the bound one), and asks only when there are at least two; if the
//! pick's queue is full, the engine falls back to the least-loaded capable
//! device with room.

use crate::alg::Algorithm;
use crate::device::{DeviceClass, DeviceId};
use crate::sync::{AtomicUsize, Ordering};

/// A device as a balancer sees it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    /// The device id.
    pub id: DeviceId,
    /// The device name.
    pub name: &'a str,
    /// Position in registration order.
    pub index: usize,
    /// Items queued.
    pub queued: usize,
    /// Queue bound.
    pub capacity: usize,
    /// Items a driver took and has not completed.
    pub outstanding: usize,
    /// Bytes queued.
    pub queued_bytes: u64,
    /// Rate hint (bytes/s) from the capability table, or measured.
    pub rate: Option<u64>,
    /// CPU, kernel, accelerator…
    pub class: DeviceClass,
    pub(crate) device: &'a std::sync::Arc<crate::device::DeviceInner>,
}

impl Candidate<'_> {
    /// Queued plus outstanding items.
    pub fn load(&self) -> usize {
        self.queued + self.outstanding
    }
    /// Whether the queue has room.
    pub fn has_room(&self) -> bool {
        self.queued < self.capacity
    }
}

/// What a balancer knows of a piece of work.
#[derive(Debug, Clone, Copy)]
pub struct WorkInfo {
    /// The session.
    pub session: u64,
    /// The session's priority.
    pub priority: u8,
    /// The algorithm of the step to place.
    pub alg: Algorithm,
    /// Payload bytes.
    pub bytes: usize,
    /// A hash of the submitting thread.
    pub caller: u64,
}

/// A load-balancing policy.
pub trait Balancer: Send + Sync {
    /// A short name.
    fn name(&self) -> &str;
    /// Picks one of `candidates` (an index into it), or `None` for "none
    /// of these". `candidates` is never empty.
    fn find_device(&self, candidates: &[Candidate<'_>], work: &WorkInfo) -> Option<usize>;
    /// Places work moved off the broken device `broken` (which is not among
    /// `candidates`). By default, as a new submission.
    fn rehash(&self, broken: DeviceId, candidates: &[Candidate<'_>], work: &WorkInfo) -> Option<usize> {
        let _ = broken;
        self.find_device(candidates, work)
    }
}

fn least_loaded_of<'a, 'b: 'a>(c: impl Iterator<Item = (usize, &'a Candidate<'b>)>) -> Option<usize> {
    c.min_by_key(|(_, d)| (!d.has_room(), d.load())).map(|(i, _)| i)
}

/// Least loaded device (queued + outstanding): the original `simple_lb`.
#[derive(Debug, Default)]
pub struct LeastLoaded;

impl Balancer for LeastLoaded {
    fn name(&self) -> &str {
        "least-loaded"
    }
    fn find_device(&self, c: &[Candidate<'_>], _: &WorkInfo) -> Option<usize> {
        least_loaded_of(c.iter().enumerate())
    }
}

/// Each capable device in turn.
#[derive(Debug, Default)]
pub struct RoundRobin(AtomicUsize);

impl Balancer for RoundRobin {
    fn name(&self) -> &str {
        "round-robin"
    }
    fn find_device(&self, c: &[Candidate<'_>], _: &WorkInfo) -> Option<usize> {
        Some(self.0.fetch_add(1, Ordering::Relaxed) % c.len())
    }
}

/// What [`Affinity`] keeps together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffinityKey {
    /// All work of a session on one device.
    Session,
    /// All work of a submitting thread on one device.
    Caller,
}

/// Keeps a session (or a caller) on one device while the set of capable
/// devices is stable: good for caches and for ordering.
#[derive(Debug)]
pub struct Affinity(pub AffinityKey);

impl Balancer for Affinity {
    fn name(&self) -> &str {
        "affinity"
    }
    fn find_device(&self, c: &[Candidate<'_>], w: &WorkInfo) -> Option<usize> {
        let key = match self.0 {
            AffinityKey::Session => w.session,
            AffinityKey::Caller => w.caller,
        };
        // Spread consecutive keys: a multiplicative hash.
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        Some((h % c.len() as u64) as usize)
    }
}

/// Expected finish time from queued bytes and the rate (hint or measured).
#[derive(Debug)]
pub struct RateAware {
    /// Rate assumed for a device with no hint and no measurement (bytes/s).
    pub default_rate: u64,
}

impl Default for RateAware {
    fn default() -> Self {
        RateAware { default_rate: 1 << 30 }
    }
}

impl Balancer for RateAware {
    fn name(&self) -> &str {
        "rate-aware"
    }
    fn find_device(&self, c: &[Candidate<'_>], w: &WorkInfo) -> Option<usize> {
        c.iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| {
                let t = |d: &Candidate<'_>| {
                    let rate = d.rate.unwrap_or(self.default_rate).max(1) as f64;
                    // Outstanding items count as one average item each.
                    let avg = d.queued_bytes as f64 / d.queued.max(1) as f64;
                    (d.queued_bytes as f64 + d.outstanding as f64 * avg + w.bytes as f64) / rate
                };
                (!a.has_room(), t(a)).partial_cmp(&(!b.has_room(), t(b))).unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|(i, _)| i)
    }
}

/// Small work to CPU devices, large work to the others (accelerators,
/// kernel drivers), least loaded within the preferred group.
#[derive(Debug)]
pub struct SizeThreshold {
    /// Work of at least this many bytes prefers non-CPU devices.
    pub threshold: usize,
}

impl Balancer for SizeThreshold {
    fn name(&self) -> &str {
        "size-threshold"
    }
    fn find_device(&self, c: &[Candidate<'_>], w: &WorkInfo) -> Option<usize> {
        let want_cpu = w.bytes < self.threshold;
        least_loaded_of(c.iter().enumerate().filter(|(_, d)| (d.class == DeviceClass::Cpu) == want_cpu && d.has_room()))
            .or_else(|| least_loaded_of(c.iter().enumerate()))
    }
}

/// Primary/backup: the first device of `order` that can take the work,
/// then any other in registration order.
#[derive(Debug, Default)]
pub struct Failover {
    /// Device names, most preferred first.
    pub order: Vec<String>,
}

impl Failover {
    /// A failover policy over named devices, most preferred first.
    pub fn new<S: Into<String>>(order: impl IntoIterator<Item = S>) -> Self {
        Failover { order: order.into_iter().map(Into::into).collect() }
    }

    fn rank(&self, name: &str) -> usize {
        self.order.iter().position(|o| o == name).unwrap_or(usize::MAX)
    }
}

impl Balancer for Failover {
    fn name(&self) -> &str {
        "failover"
    }
    fn find_device(&self, c: &[Candidate<'_>], _: &WorkInfo) -> Option<usize> {
        c.iter()
            .enumerate()
            .filter(|(_, d)| d.has_room())
            .min_by_key(|(_, d)| (self.rank(d.name), d.index))
            .map(|(i, _)| i)
    }
}
