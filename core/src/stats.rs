//! Statistics per device and per engine.

// Statistics are not synchronisation: nothing orders memory through them,
// so they stay `std` atomics even under loom (which would only multiply the
// states it explores, and trips on dozens of relaxed counters).
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A relaxed monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn inc(&self) {
        self.add(1)
    }
    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Buckets of the latency histogram: bucket `i` counts latencies below
/// `2^i` microseconds (the last bucket holds everything longer).
pub const LATENCY_BUCKETS: usize = 24;

/// A log2 latency histogram in microseconds.
#[derive(Debug, Default)]
pub struct Histogram([Counter; LATENCY_BUCKETS]);

/// The bucket a latency falls in.
pub(crate) fn bucket(d: Duration) -> usize {
    let us = d.as_micros() as u64;
    (64 - us.leading_zeros() as usize).min(LATENCY_BUCKETS - 1)
}

impl Histogram {
    pub(crate) fn record(&self, d: Duration) {
        self.0[bucket(d)].inc();
    }

    /// Adds counts per bucket (a batch counted locally).
    pub(crate) fn add_buckets(&self, counts: &[u64; LATENCY_BUCKETS]) {
        for (b, &n) in self.0.iter().zip(counts) {
            if n != 0 {
                b.add(n);
            }
        }
    }
    /// A copy of the bucket counts.
    pub fn snapshot(&self) -> [u64; LATENCY_BUCKETS] {
        std::array::from_fn(|i| self.0[i].get())
    }
}

/// Counters shared by devices and engines.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub submitted: Counter,
    pub completed_ok: Counter,
    pub completed_err: Counter,
    pub bytes: Counter,
    pub busy_ns: Counter,
    pub rejected_busy: Counter,
    pub moved: Counter,
    pub latency: Histogram,
}

impl Counters {
    pub(crate) fn snapshot(&self, queue_depth: usize, in_flight: u64) -> Stats {
        // Read completions before submissions so a racing request is seen
        // in flight rather than as a completion without a submission.
        let completed_ok = self.completed_ok.get();
        let completed_err = self.completed_err.get();
        let submitted = self.submitted.get();
        Stats {
            submitted,
            completed_ok,
            completed_err,
            in_flight,
            bytes: self.bytes.get(),
            queue_depth,
            busy: Duration::from_nanos(self.busy_ns.get()),
            rejected_busy: self.rejected_busy.get(),
            moved: self.moved.get(),
            latency_us_log2: self.latency.snapshot(),
        }
    }
}

/// A snapshot of statistics.
///
/// For an engine, `submitted = completed_ok + completed_err + in_flight`
/// holds whenever nothing is in motion. For a device, `submitted` counts
/// work items handed to it (one per route step it ran, and retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Accepted requests (engine) or work items queued (device).
    pub submitted: u64,
    /// Completed successfully.
    pub completed_ok: u64,
    /// Completed with an error.
    pub completed_err: u64,
    /// Accepted and not yet completed.
    pub in_flight: u64,
    /// Payload bytes processed.
    pub bytes: u64,
    /// Items waiting in queues now.
    pub queue_depth: usize,
    /// Time drivers spent on work taken from this queue (device), summed.
    pub busy: Duration,
    /// Submissions refused with `Busy`.
    pub rejected_busy: u64,
    /// Items moved off this device (broken or removed) before it ran them.
    pub moved: u64,
    /// Latency histogram: entry `i` counts latencies below 2^i µs.
    pub latency_us_log2: [u64; LATENCY_BUCKETS],
}

impl Stats {
    /// The latency under which `q` (0..=1) of the completions fell, as an
    /// upper bound from the histogram buckets.
    pub fn latency_quantile(&self, q: f64) -> Option<Duration> {
        quantile(&self.latency_us_log2, q)
    }
}

/// The upper bound of the bucket holding quantile `q` of a log2 histogram.
pub(crate) fn quantile(buckets: &[u64; LATENCY_BUCKETS], q: f64) -> Option<Duration> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let want = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= want {
            return Some(Duration::from_micros(1u64 << i));
        }
    }
    None
}
