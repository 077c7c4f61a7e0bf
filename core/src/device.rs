//! Devices: a registered driver, its capability table, its priority queue,
//! its state and counters; and the `Driver` trait drivers implement.

use crate::alg::{Algorithm, Capability, OpKind};
use crate::engine::EngineInner;
use crate::error::{Error, Result};
use crate::queue::PriorityQueue;
use crate::request::Request;
use crate::route::Job;
use crate::session::Step;
use crate::stats::{Counters, Stats};
use crate::sync::{lock, Arc, AtomicU64, AtomicUsize, Mutex, Ordering, Weak};
use std::fmt;

/// A device's engine-unique id.
pub type DeviceId = u64;

/// What a device is, for balancers that care (size threshold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceClass {
    /// CPU worker threads.
    Cpu,
    /// A kernel crypto driver reached through the kernel.
    Kernel,
    /// A hardware accelerator.
    Accelerator,
    /// Anything else (test drivers, foreign drivers).
    Other,
}

/// Device state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceState {
    /// Takes new work.
    Active,
    /// Failed: takes no new work; its queue was moved elsewhere.
    Broken,
    /// Being removed or removed: takes no new work.
    Removed,
}

impl DeviceState {
    fn from_usize(v: usize) -> DeviceState {
        match v {
            0 => DeviceState::Active,
            1 => DeviceState::Broken,
            _ => DeviceState::Removed,
        }
    }
    fn as_usize(self) -> usize {
        match self {
            DeviceState::Active => 0,
            DeviceState::Broken => 1,
            DeviceState::Removed => 2,
        }
    }
}

/// A crypto driver. The engine owns it once registered.
///
/// Contract: after [`attach`](Driver::attach) the driver takes work from
/// the handle with [`DeviceHandle::dequeue_batch`] whenever it is told
/// [`data_ready`](Driver::data_ready) (called when the queue goes from empty
/// to non-empty, so a driver keeps dequeuing until it gets an empty batch
/// before it sleeps), and completes every [`Work`] exactly once with
/// [`Work::complete`] (a `Work` dropped without completing is completed as a
/// device failure, so nothing is lost). On [`detach`](Driver::detach) it
/// stops its threads and drops the handle.
pub trait Driver: Send + Sync + 'static {
    /// The device name (unique within an engine), e.g. `soft0`.
    fn name(&self) -> &str;
    /// The driver kind, e.g. `soft`.
    fn driver(&self) -> &str;
    /// The capability table.
    fn capabilities(&self) -> Vec<Capability>;
    /// What kind of device this is.
    fn class(&self) -> DeviceClass {
        DeviceClass::Other
    }
    /// What else the device tells about itself (e.g. the instruction set
    /// a library chose), shown with the device's info.
    fn detail(&self) -> Option<String> {
        None
    }
    /// Receives the handle to take work from. Called once, at registration.
    fn attach(&self, device: DeviceHandle);
    /// The queue went from empty to non-empty.
    fn data_ready(&self);
    /// Runs `steps` on `request` on the caller's thread, if this driver can
    /// (the inline path for a blocking caller on an idle device).
    fn run_inline(&self, steps: &[Step], request: &mut Request) -> Option<Result<()>> {
        let _ = (steps, request);
        None
    }
    /// The family of the stream state this device continues for `alg` (a
    /// hash or MAC), or `None` (the default): it takes no stream requests.
    ///
    /// A device that names a family promises, for a request whose
    /// [`Request::stream`] is set: it starts from `stream.state` (`None`:
    /// a fresh hash, or HMAC from the step's key; otherwise a state of this
    /// family, which it never changes), absorbs the data, and then either
    /// finalizes into the tag or verifies it (`stream.last`), or sets
    /// `stream.next` to the state after the data (a
    /// [`StreamState`](crate::StreamState) of this family). The engine
    /// hands it only states of its family (see [`crate::stream`]).
    fn stream_family(&self, alg: Algorithm) -> Option<String> {
        let _ = alg;
        None
    }
    /// Whether this device's MAC step for `alg` authenticates the request's
    /// AAD ([`Request::aad`]) before its data, as an authenc route's MAC
    /// step needs (e.g. ESP's header and IV). `false` (the default): the
    /// engine never gives this device a MAC step of a request with AAD
    /// (the step goes to a device that declares it, or the request fails
    /// with `NoDevice`), and the device refuses one it is given anyway.
    fn mac_over_aad(&self, alg: Algorithm) -> bool {
        let _ = alg;
        false
    }
    /// Makes a step ready before any request uses it: called when a
    /// session is made, once for each step this device can do. A driver
    /// parses or expands the step's key here (an asymmetric key's DER),
    /// keeping the result with the key ([`Key::schedule`](crate::Key::schedule))
    /// so no request pays for it; an error (a malformed key, a key of the
    /// wrong type for the operation) refuses the session. The default
    /// does nothing.
    fn prepare(&self, step: &Step) -> Result<()> {
        let _ = step;
        Ok(())
    }
    /// Whether this device holds the key that `reference` names (a key
    /// that lives inside the device, [`Key::reference`](crate::Key::reference)).
    /// A step with a reference key runs only on a device that holds it:
    /// the session binds the step to the first that does. The default:
    /// it holds none.
    fn holds(&self, reference: &str) -> bool {
        let _ = reference;
        false
    }
    /// Stops the driver: no more work will come. Must drop the handle.
    fn detach(&self) {}
}

pub(crate) struct DeviceInner {
    pub(crate) id: DeviceId,
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) driver_kind: String,
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) caps: Vec<Capability>,
    pub(crate) alg_mask: u64,
    /// The stream state family per algorithm ([`Driver::stream_family`]).
    pub(crate) stream_families: Vec<(Algorithm, Arc<str>)>,
    /// The MACs whose step covers the request's AAD ([`Driver::mac_over_aad`]).
    pub(crate) mac_aad_mask: u64,
    pub(crate) rate: Option<u64>,
    pub(crate) class: DeviceClass,
    pub(crate) detail: Option<String>,
    pub(crate) queue: Mutex<PriorityQueue<Job>>,
    /// The queue's bound (fixed at registration).
    pub(crate) capacity: usize,
    /// Mirrors of the queue's length and bytes for lock-free balancing reads.
    pub(crate) queued: AtomicUsize,
    pub(crate) queued_bytes: AtomicU64,
    /// Work taken by the driver (or run inline) and not yet completed.
    pub(crate) outstanding: AtomicUsize,
    state: AtomicUsize,
    pub(crate) counters: Counters,
    /// Nanoseconds since the engine epoch of the last completion (busy time).
    last_done_ns: AtomicU64,
    pub(crate) engine: Weak<EngineInner>,
    pub(crate) broken_reason: Mutex<Option<String>>,
}

impl fmt::Debug for DeviceInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.name)
    }
}

// One bit per algorithm in a device's masks.
const _: () = assert!(Algorithm::ALL.len() <= 64);

pub(crate) fn alg_bit(alg: Algorithm) -> u64 {
    Algorithm::ALL.iter().position(|a| *a == alg).map_or(0, |i| 1u64 << i)
}

impl DeviceInner {
    pub(crate) fn new(id: DeviceId, index: usize, driver: Arc<dyn Driver>, engine: Weak<EngineInner>) -> Result<Self> {
        let caps = driver.capabilities();
        if caps.is_empty() {
            return Err(Error::InvalidArgument(format!("device {} has an empty capability table", driver.name())));
        }
        if let Some(c) = caps.iter().find(|c| c.max_queue == 0) {
            return Err(Error::InvalidArgument(format!(
                "device {}: capability {} has a zero queue length",
                driver.name(),
                c.alg
            )));
        }
        let capacity = caps.iter().map(|c| c.max_queue).max().unwrap_or(1);
        let rate = caps.iter().filter_map(|c| c.rate).max();
        Ok(DeviceInner {
            id,
            index,
            name: driver.name().to_string(),
            driver_kind: driver.driver().to_string(),
            alg_mask: caps.iter().fold(0, |m, c| m | alg_bit(c.alg)),
            stream_families: caps
                .iter()
                .filter(|c| matches!(c.alg.kind(), OpKind::Hash | OpKind::Mac))
                .filter_map(|c| driver.stream_family(c.alg).map(|f| (c.alg, Arc::from(f.as_str()))))
                .collect(),
            mac_aad_mask: caps
                .iter()
                .filter(|c| c.alg.kind() == OpKind::Mac && driver.mac_over_aad(c.alg))
                .fold(0, |m, c| m | alg_bit(c.alg)),
            class: driver.class(),
            detail: driver.detail(),
            driver,
            caps,
            rate,
            queue: Mutex::new(PriorityQueue::new(capacity)),
            capacity,
            queued: AtomicUsize::new(0),
            queued_bytes: AtomicU64::new(0),
            outstanding: AtomicUsize::new(0),
            state: AtomicUsize::new(DeviceState::Active.as_usize()),
            counters: Counters::default(),
            last_done_ns: AtomicU64::new(0),
            engine,
            broken_reason: Mutex::new(None),
        })
    }

    pub(crate) fn state(&self) -> DeviceState {
        DeviceState::from_usize(self.state.load(Ordering::Acquire))
    }

    /// Changes the state; callers hold the queue lock so that a push sees
    /// either the old state (and its item is drained with the queue) or the
    /// new one (and it goes elsewhere).
    pub(crate) fn set_state(&self, s: DeviceState) {
        self.state.store(s.as_usize(), Ordering::Release);
    }

    pub(crate) fn supports(&self, alg: Algorithm) -> bool {
        self.alg_mask & alg_bit(alg) != 0
    }

    /// The stream state family this device continues for `alg`.
    pub(crate) fn stream_family(&self, alg: Algorithm) -> Option<&str> {
        self.stream_families.iter().find(|(a, _)| *a == alg).map(|(_, f)| &**f)
    }

    /// Whether this device may take `request` for a step of `alg`: any
    /// one-shot request; a stream request only when it continues the
    /// state's family (any streaming device for a stream's first request);
    /// a MAC step of a request with AAD only when its MAC covers the AAD.
    pub(crate) fn takes(&self, alg: Algorithm, request: &Request) -> bool {
        if alg.kind() == OpKind::Mac && !request.aad.is_empty() && self.mac_aad_mask & alg_bit(alg) == 0 {
            return false;
        }
        match &request.stream {
            None => true,
            Some(part) => match (self.stream_family(alg), &part.state) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(f), Some(s)) => f == s.family(),
            },
        }
    }

    /// Rate for balancing: the hint, else what was measured.
    pub(crate) fn effective_rate(&self) -> Option<u64> {
        self.rate.or_else(|| {
            let busy = self.counters.busy_ns.get();
            let bytes = self.counters.bytes.get();
            (busy > 1_000_000 && bytes > 0).then(|| (bytes as u128 * 1_000_000_000 / busy as u128) as u64)
        })
    }

    /// Accounts the time a completed item kept the device busy: from when it
    /// was taken, or from the previous completion if that came later (items
    /// of one batch run one after the other).
    pub(crate) fn account_busy(&self, taken_ns: u64, now_ns: u64) {
        let prev = self.last_done_ns.fetch_max(now_ns, Ordering::Relaxed);
        let start = taken_ns.max(prev.min(now_ns));
        self.counters.busy_ns.add(now_ns.saturating_sub(start));
    }

    /// Counters for work this device completed: taken at `taken_ns`,
    /// queued (or started) at `since_ns`.
    pub(crate) fn record_done(&self, ok: bool, bytes: u64, taken_ns: u64, since_ns: u64, now: u64) {
        self.account_busy(taken_ns, now);
        self.counters.latency.record(std::time::Duration::from_nanos(now.saturating_sub(since_ns)));
        if ok {
            self.counters.completed_ok.inc();
            self.counters.bytes.add(bytes);
        } else {
            self.counters.completed_err.inc();
        }
    }

    /// Adds a batch's tally to the counters: one atomic update per counter
    /// (and per latency bucket used), not per request.
    pub(crate) fn record_tally(&self, t: &Tally, now: u64) {
        if t.ok + t.err == 0 {
            return;
        }
        self.account_busy(t.taken_ns, now);
        self.counters.latency.add_buckets(&t.latency);
        self.counters.completed_ok.add(t.ok);
        self.counters.completed_err.add(t.err);
        self.counters.bytes.add(t.bytes);
    }

    pub(crate) fn stats(&self) -> Stats {
        let out = self.outstanding.load(Ordering::Relaxed) as u64;
        let queued = self.queued.load(Ordering::Relaxed);
        self.counters.snapshot(queued, out + queued as u64)
    }

    pub(crate) fn info(&self) -> DeviceInfo {
        DeviceInfo {
            id: self.id,
            name: self.name.clone(),
            driver: self.driver_kind.clone(),
            class: self.class,
            detail: self.detail.clone(),
            state: self.state(),
            capabilities: self.caps.clone(),
            queue_capacity: self.capacity,
            broken_reason: lock(&self.broken_reason).clone(),
            stats: self.stats(),
        }
    }
}

/// Completions of one batch on one device, counted locally and added to
/// the device's counters once (see [`DeviceInner::record_tally`]).
#[derive(Default)]
pub(crate) struct Tally {
    ok: u64,
    err: u64,
    bytes: u64,
    /// When the batch was taken (its earliest item).
    taken_ns: u64,
    latency: [u64; crate::stats::LATENCY_BUCKETS],
}

impl Tally {
    /// Counts what `record_done` would for one completed item.
    pub(crate) fn count(&mut self, ok: bool, bytes: u64, taken_ns: u64, since_ns: u64, now: u64) {
        if self.ok + self.err == 0 || taken_ns < self.taken_ns {
            self.taken_ns = taken_ns;
        }
        self.latency[crate::stats::bucket(std::time::Duration::from_nanos(now.saturating_sub(since_ns)))] += 1;
        if ok {
            self.ok += 1;
            self.bytes += bytes;
        } else {
            self.err += 1;
        }
    }
}

/// What the engine tells about a device.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// Engine-unique id.
    pub id: DeviceId,
    /// Device name.
    pub name: String,
    /// Driver kind.
    pub driver: String,
    /// Device class.
    pub class: DeviceClass,
    /// What the driver tells about the device besides its kind (e.g. `avx512`).
    pub detail: Option<String>,
    /// State.
    pub state: DeviceState,
    /// Capability table.
    pub capabilities: Vec<Capability>,
    /// Queue bound.
    pub queue_capacity: usize,
    /// Why the device was marked broken.
    pub broken_reason: Option<String>,
    /// Counters.
    pub stats: Stats,
}

/// A driver's handle on its device: take work, mark the device broken.
#[derive(Clone)]
pub struct DeviceHandle(pub(crate) Arc<DeviceInner>);

impl fmt::Debug for DeviceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceHandle({})", self.0.name)
    }
}

impl DeviceHandle {
    /// The device name.
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// The device id.
    pub fn id(&self) -> DeviceId {
        self.0.id
    }
    /// The state.
    pub fn state(&self) -> DeviceState {
        self.0.state()
    }
    /// Items waiting in the queue.
    pub fn queued(&self) -> usize {
        self.0.queued.load(Ordering::Relaxed)
    }

    /// Takes up to `max` items, highest priority first.
    pub fn dequeue_batch(&self, max: usize) -> Vec<Work> {
        let mut out = Vec::new();
        self.dequeue_into(max, &mut out);
        out
    }

    /// Takes up to `max` items, highest priority first, appending them to
    /// `out` (a buffer a worker reuses, so taking work allocates nothing).
    /// Returns how many were taken.
    pub fn dequeue_into(&self, max: usize, out: &mut Vec<Work>) -> usize {
        let Some(engine) = self.0.engine.upgrade() else {
            return 0;
        };
        let now = engine.now_ns();
        let start = out.len();
        {
            let mut q = lock(&self.0.queue);
            while out.len() - start < max {
                match q.pop() {
                    Some(mut job) => {
                        job.taken_ns = now;
                        out.push(Work { job: Some(job), device: self.0.clone(), engine: engine.clone() });
                    }
                    None => break,
                }
            }
            // Counted as outstanding before the queue lock is released, so a
            // waiter never sees the work in neither place.
            self.0.outstanding.fetch_add(out.len() - start, Ordering::AcqRel);
            self.0.queued.store(q.len(), Ordering::Release);
        }
        let bytes: u64 = out[start..].iter().map(|w| w.job().bytes()).sum();
        self.0.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        out.len() - start
    }

    /// Marks the device broken: it takes no more work; the balancer's
    /// `rehash` moves its queued work to other devices (work bound to this
    /// device fails with `DeviceBroken`); work it still completes with an
    /// error is retried elsewhere unless bound.
    pub fn mark_broken(&self, reason: &str) {
        if let Some(engine) = self.0.engine.upgrade() {
            engine.mark_broken(&self.0, reason);
        }
    }
}

/// One piece of work handed to a driver: the route steps this device is to
/// run, and the request they run on. Complete it exactly once.
pub struct Work {
    pub(crate) job: Option<Job>,
    pub(crate) device: Arc<DeviceInner>,
    pub(crate) engine: Arc<EngineInner>,
}

impl fmt::Debug for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Work").field("device", &self.device.name).field("steps", &self.steps()).finish()
    }
}

impl Work {
    fn job(&self) -> &Job {
        // `job` is Some until `complete` consumes self.
        self.job.as_ref().unwrap_or_else(|| unreachable_job())
    }

    /// The steps this device is to run, in order.
    pub fn steps(&self) -> &[Step] {
        self.job().assigned_steps()
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.job().request
    }

    /// The steps and the request, the latter mutable.
    pub fn parts(&mut self) -> (&[Step], &mut Request) {
        match self.job.as_mut() {
            Some(j) => j.parts(),
            None => unreachable_job(),
        }
    }

    /// The session's priority.
    pub fn priority(&self) -> u8 {
        self.job().session.priority
    }

    /// The session id.
    pub fn session_id(&self) -> u64 {
        self.job().session.id
    }

    /// Completes the work with a status. A device fault
    /// ([`Error::DeviceFailure`], [`Error::DeviceBroken`]) makes the engine
    /// retry elsewhere unless the step is bound.
    pub fn complete(mut self, status: Result<()>) {
        if let Some(job) = self.job.take() {
            self.engine.step_done(&self.device, job, status);
        }
    }
}

impl Work {
    /// Completes several pieces of work at once, each with its status, as
    /// [`complete`](Self::complete) would; completions due in this context
    /// are delivered together (a run bound for one completion queue is
    /// pushed under one lock, with one wake-up).
    pub fn complete_all(items: impl IntoIterator<Item = (Work, Result<()>)>) {
        let mut it = items.into_iter().peekable();
        while let Some((mut first, status)) = it.next() {
            let hint = it.size_hint().0 + 1;
            let Some(job) = first.job.take() else { continue };
            let (device, engine) = (first.device.clone(), first.engine.clone());
            // Work of one device (the usual batch) goes through in one run.
            let same_device = std::iter::from_fn(|| match it.peek() {
                Some((w, _)) if Arc::ptr_eq(&w.device, &device) => {
                    it.next().and_then(|(mut w, st)| w.job.take().map(|j| (j, st)))
                }
                _ => None,
            });
            engine.steps_done(&device, std::iter::once((job, status)).chain(same_device), hint);
        }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            let e = Error::DeviceFailure(format!("device {} dropped work without completing it", self.device.name));
            self.engine.step_done(&self.device, job, Err(e));
        }
    }
}

fn unreachable_job() -> ! {
    // Work's job is only taken by `complete`/`drop`, which consume it.
    panic!("acrypto: work used after completion")
}
