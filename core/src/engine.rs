//! The engine: device table, balancer, routing, completion workers,
//! statistics.

use crate::alg::{Algorithm, Op, OpKind, MIN_VERIFY_TAG};
use crate::balancer::{Balancer, LeastLoaded};
use crate::budget::{self, charge_of, ByteBudget};
use crate::completion::{deliver_now, queue_of, Carry, Completion, Finished, Pending, Waiters};
use crate::device::{DeviceHandle, DeviceId, DeviceInfo, DeviceInner, DeviceState, Driver};
use crate::error::{Error, Result};
use crate::identity;
use crate::reentry::{self, Delivering};
use crate::request::{Done, Request};
use crate::room::Submission;
use crate::route::{Due, Job, JobData, JobPool, Spare};
use crate::session::{Session, SessionBuilder, SessionInner};
use crate::stats::{bucket, Counters, Stats, LATENCY_BUCKETS};
use crate::stream::Stream;
use crate::sync::{lock, read, thread, write, Arc, AtomicU64, AtomicUsize, Mutex, Ordering, RwLock};
use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most requests accepted and not yet completed; beyond it, `Busy`.
    /// Bounds memory under any load (with the device queue bounds).
    pub max_in_flight: usize,
    /// Threads that run deferred (non-DIRECT) callbacks. 0 runs every
    /// callback in the completing context.
    pub completion_workers: usize,
    /// How many times work failed by a device fault is retried elsewhere.
    pub max_retries: u32,
    /// Most bytes of requests accepted and not yet completed (a request
    /// counts its input, an output buffer, IV and tag); beyond it,
    /// `Busy`. A single request larger than the limit is still accepted
    /// when nothing else is in flight. 0 (the default) takes the
    /// environment's [`BYTE_LIMIT_ENV`](crate::BYTE_LIMIT_ENV)
    /// (`ACRYPTO_MAX_IN_FLIGHT_BYTES`) if set, else
    /// [`default_byte_limit`](crate::default_byte_limit) (an eighth of
    /// physical memory, between 64 MiB and 1 GiB).
    pub max_in_flight_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { max_in_flight: 1 << 16, completion_workers: 1, max_retries: 8, max_in_flight_bytes: 0 }
    }
}

/// How pending work ends when an engine shuts down or a device is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Let queued work run to completion.
    Drain,
    /// Complete queued work with [`Error::Canceled`]; work a driver already
    /// took still completes normally.
    Cancel,
}

/// How queued work leaves a device that is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveMode {
    /// The device finishes its queue first.
    Drain,
    /// Queued work moves to other devices (bound work fails with
    /// `DeviceBroken`).
    Migrate,
    /// Queued work completes with [`Error::Canceled`].
    Cancel,
}

/// A request refused at submission, handed back with its buffers.
#[derive(Debug)]
pub struct Rejected {
    /// Why.
    pub error: Error,
    /// The request, untouched.
    pub request: Request,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request refused: {}", self.error)
    }
}

impl std::error::Error for Rejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A batch submission stopped at a refused request.
#[derive(Debug)]
pub struct BatchRejected {
    /// Requests accepted before the refusal.
    pub accepted: usize,
    /// The refused request.
    pub rejected: Rejected,
    /// The requests after it, not submitted.
    pub rest: Vec<(Request, Completion)>,
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Error {
        r.error
    }
}

/// What a submission does when there is no room (the in-flight or byte
/// limit is reached, or every capable queue is full).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    /// Refuse with `Busy` (counted in the statistics).
    Refuse,
    /// Block until there is room.
    Wait,
    /// Refuse with `Busy`, not counted: the caller waits for room and
    /// tries again (an awaited submission).
    Retry,
}

/// Most job boxes an engine keeps for reuse (about 300 bytes each).
const JOB_POOL_KEEP: usize = 4096;

pub(crate) const RUNNING: usize = 0;
const DRAINING: usize = 1;
pub(crate) const CANCELING: usize = 2;
const DOWN: usize = 3;

/// Callbacks waiting for a completion worker.
#[derive(Default)]
struct Deferred {
    /// Each callback with the bytes its request is charged: released once
    /// the callback has run, so callbacks a starved worker has not run yet
    /// still count against the byte limit.
    queue: Mutex<VecDeque<(Finished, u64)>>,
    ready: Waiters,
    stop: AtomicUsize,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl Deferred {
    fn push(&self, f: Finished, charged: u64) {
        lock(&self.queue).push_back((f, charged));
        self.ready.notify();
    }

    fn run(&self, bytes: &ByteBudget, changed: &Waiters) {
        budget::mark_completion_worker();
        loop {
            self.ready.wait_until(|| !lock(&self.queue).is_empty() || self.stop.load(Ordering::SeqCst) != 0);
            let batch: Vec<(Finished, u64)> = lock(&self.queue).drain(..).collect();
            if batch.is_empty() {
                // Stopping, and nothing is left.
                return;
            }
            for (f, charged) in batch {
                deliver_now(f);
                if charged != 0 {
                    bytes.release(charged);
                    changed.notify();
                }
            }
        }
    }
}

pub(crate) struct EngineInner {
    /// Process-unique: the sessions of this engine carry it.
    pub(crate) id: u64,
    pub(crate) devices: RwLock<Vec<Arc<DeviceInner>>>,
    pub(crate) balancer: Box<dyn Balancer>,
    pub(crate) config: EngineConfig,
    pub(crate) state: AtomicUsize,
    pub(crate) in_flight: AtomicU64,
    /// Bytes of the requests in flight, against the byte limit.
    pub(crate) bytes: Arc<ByteBudget>,
    /// Completions being delivered in the completing context right now.
    pub(crate) delivering: AtomicU64,
    pub(crate) counters: Counters,
    /// Notified whenever work completes or leaves a queue.
    pub(crate) changed: Arc<Waiters>,
    deferred: Option<Arc<Deferred>>,
    pub(crate) next_id: AtomicU64,
    pub(crate) epoch: Instant,
    /// Boxes for the jobs in flight, recycled.
    pub(crate) jobs: JobPool,
    /// Serialises shutdown so a second caller waits for the first.
    pub(crate) shutdown_lock: Mutex<()>,
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    config: EngineConfig,
    balancer: Box<dyn Balancer>,
    drivers: Vec<Arc<dyn Driver>>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder { config: EngineConfig::default(), balancer: Box::new(LeastLoaded), drivers: Vec::new() }
    }
}

impl fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("config", &self.config)
            .field("balancer", &self.balancer.name())
            .field("devices", &self.drivers.len())
            .finish()
    }
}

impl EngineBuilder {
    /// Defaults: least-loaded balancing, one completion worker.
    pub fn new() -> Self {
        Self::default()
    }
    /// The balancer.
    pub fn balancer(mut self, b: impl Balancer + 'static) -> Self {
        self.balancer = Box::new(b);
        self
    }
    /// A boxed balancer.
    pub fn balancer_boxed(mut self, b: Box<dyn Balancer>) -> Self {
        self.balancer = b;
        self
    }
    /// The whole configuration.
    pub fn config(mut self, c: EngineConfig) -> Self {
        self.config = c;
        self
    }
    /// The in-flight limit.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.max_in_flight = n;
        self
    }
    /// The byte limit (see [`EngineConfig::max_in_flight_bytes`]).
    pub fn max_in_flight_bytes(mut self, n: u64) -> Self {
        self.config.max_in_flight_bytes = n;
        self
    }
    /// Completion worker threads.
    pub fn completion_workers(mut self, n: usize) -> Self {
        self.config.completion_workers = n;
        self
    }
    /// A device to register at build time.
    pub fn device(mut self, d: impl Driver) -> Self {
        self.drivers.push(Arc::new(d));
        self
    }
    /// A shared device to register at build time.
    pub fn device_arc(mut self, d: Arc<dyn Driver>) -> Self {
        self.drivers.push(d);
        self
    }

    /// Builds the engine and registers the devices.
    ///
    /// # Errors
    /// `InvalidArgument` for a zero in-flight limit or a bad
    /// `ACRYPTO_MAX_IN_FLIGHT_BYTES`; a device's registration error.
    pub fn build(self) -> Result<Engine> {
        if self.config.max_in_flight == 0 {
            return Err(Error::InvalidArgument("max_in_flight must be at least 1".into()));
        }
        let byte_limit = budget::resolve(self.config.max_in_flight_bytes)?;
        let deferred = (self.config.completion_workers > 0).then(|| Arc::new(Deferred::default()));
        let keep_jobs = self.config.max_in_flight.min(JOB_POOL_KEEP);
        let inner = Arc::new(EngineInner {
            id: identity::next_id(),
            devices: RwLock::new(Vec::new()),
            balancer: self.balancer,
            config: self.config,
            state: AtomicUsize::new(RUNNING),
            in_flight: AtomicU64::new(0),
            bytes: Arc::new(ByteBudget::new(byte_limit)),
            delivering: AtomicU64::new(0),
            counters: Counters::default(),
            changed: Arc::default(),
            deferred,
            next_id: AtomicU64::new(1),
            epoch: Instant::now(),
            jobs: JobPool::new(keep_jobs),
            shutdown_lock: Mutex::new(()),
        });
        if let Some(d) = &inner.deferred {
            let mut threads = lock(&d.threads);
            for _ in 0..inner.config.completion_workers {
                let d2 = d.clone();
                let (bytes, changed) = (inner.bytes.clone(), inner.changed.clone());
                threads.push(thread::spawn(move || d2.run(&bytes, &changed)));
            }
        }
        let engine = Engine { inner: inner.clone(), _guard: Arc::new(ShutdownOnDrop(inner)) };
        for d in self.drivers {
            engine.register_arc(d)?;
        }
        Ok(engine)
    }
}

struct ShutdownOnDrop(Arc<EngineInner>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown(ShutdownMode::Cancel);
    }
}

/// An acrypto engine. Cheap to clone; when the last clone is dropped the
/// engine shuts down, completing queued work with `Canceled`. Do not drop
/// the last clone inside a DIRECT callback or a driver thread.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
    _guard: Arc<ShutdownOnDrop>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("balancer", &self.inner.balancer.name())
            .field("devices", &read(&self.inner.devices).len())
            .field("in_flight", &self.inner.in_flight.load(Ordering::Relaxed))
            .finish()
    }
}

impl Engine {
    /// An engine builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::new()
    }

    /// Registers a device.
    ///
    /// # Errors
    /// As [`register_arc`](Self::register_arc).
    pub fn register(&self, d: impl Driver) -> Result<DeviceId> {
        self.register_arc(Arc::new(d))
    }

    /// Registers a shared device.
    ///
    /// # Errors
    /// `ShutDown` once the engine is shutting down; `InvalidArgument` for a
    /// device without a name or with a bad capability table; `Exists` when
    /// a device of that name is registered; the driver's `attach` error.
    pub fn register_arc(&self, d: Arc<dyn Driver>) -> Result<DeviceId> {
        let e = &self.inner;
        if e.state.load(Ordering::SeqCst) != RUNNING {
            return Err(Error::ShutDown);
        }
        if d.name().is_empty() {
            return Err(Error::InvalidArgument("a device needs a name".into()));
        }
        let id = e.next_id.fetch_add(1, Ordering::Relaxed);
        let index = {
            let devs = read(&e.devices);
            if devs.iter().any(|x| x.name == d.name()) {
                return Err(Error::Exists(format!("device {}", d.name())));
            }
            devs.len()
        };
        let dev = Arc::new(DeviceInner::new(id, index, d, Arc::downgrade(&self.inner))?);
        // The driver gets its handle before the device is listed, so it is
        // never told `data_ready` before `attach`.
        let driver = dev.driver.clone();
        driver.attach(DeviceHandle(dev.clone()));
        // Listed under the table's lock, after checking that no shutdown
        // began (shutdown sets its state before it reads the table) and that
        // no other registration took the name meanwhile.
        let refused = {
            let mut devs = write(&e.devices);
            if e.state.load(Ordering::SeqCst) != RUNNING {
                Some(Error::ShutDown)
            } else if devs.iter().any(|x| x.name == dev.name) {
                Some(Error::Exists(format!("device {}", dev.name)))
            } else {
                devs.push(dev.clone());
                None
            }
        };
        if let Some(err) = refused {
            driver.detach();
            return Err(err);
        }
        Ok(id)
    }

    /// Creates a session, checking that every step can run somewhere.
    ///
    /// # Errors
    /// The builder's first bad step or setting (`InvalidKey`,
    /// `InvalidArgument`, e.g. two steps that both write the tag);
    /// `NoSuchDevice` / `Unsupported` for a binding to a device that is
    /// missing or cannot do its step; `NoDevice` when no device can do a
    /// step; `ShutDown` once the engine is shutting down.
    pub fn session(&self, b: SessionBuilder) -> Result<Session> {
        if self.inner.state.load(Ordering::SeqCst) != RUNNING {
            return Err(Error::ShutDown);
        }
        let mut s = b.finish(identity::next_id(), self.inner.id)?;
        let devs = read(&self.inner.devices);
        // A step whose key is a reference runs only where the key is: bound
        // to the first working device that holds it; an explicit binding
        // must name such a device.
        for i in 0..s.steps().len() {
            let step = &s.steps()[i];
            let Some(reference) = step.key.as_reference() else { continue };
            let holder = |d: &&Arc<DeviceInner>| d.state() == DeviceState::Active && d.driver.holds(reference);
            match &step.device {
                Some(name) => {
                    if !devs.iter().filter(holder).any(|d| &d.name == name) {
                        return Err(Error::InvalidArgument(format!(
                            "step {} ({}) is bound to device {name}, which does not hold its key reference \
                             {}",
                            i + 1,
                            step.alg,
                            redact(reference)
                        )));
                    }
                }
                None => {
                    let Some(d) = devs.iter().find(holder) else {
                        return Err(Error::NoDevice(format!(
                            "{} with the key reference {}: no device holds it",
                            step.alg,
                            redact(reference)
                        )));
                    };
                    let name = d.name.clone();
                    s.bind_step(i, &name)?;
                }
            }
        }
        for step in s.steps() {
            match &step.device {
                Some(name) => match devs.iter().find(|d| &d.name == name) {
                    None => return Err(Error::NoSuchDevice(name.clone())),
                    Some(d) if !d.supports(step.alg) => {
                        return Err(Error::Unsupported(format!("device {name} cannot do {}", step.alg)))
                    }
                    Some(d) => d.driver.prepare(step)?,
                },
                None => {
                    let mut capable = devs.iter().filter(|d| d.supports(step.alg)).peekable();
                    if capable.peek().is_none() {
                        return Err(Error::NoDevice(step.alg.to_string()));
                    }
                    // Every device that may get the step prepares it (a
                    // key several devices share is parsed once: the first
                    // keeps it with the key).
                    for d in capable {
                        d.driver.prepare(step)?;
                    }
                }
            }
        }
        Ok(s)
    }

    /// Opens a [`Stream`] on a one-step session: a hash or MAC (`iv`
    /// empty), or `cbc`, `ecb` or `ctr` (`iv` the first IV; empty for ecb).
    ///
    /// # Errors
    /// `Unsupported` for a route of several steps, XTS, AEAD, rng, or a
    /// hash or MAC no device of this engine can stream; `InvalidLength`
    /// for a bad IV; `InvalidArgument` for another engine's session.
    pub fn stream(&self, s: &Session, iv: &[u8]) -> Result<Stream> {
        self.inner.owns(&s.0)?;
        Stream::open(self.clone(), s.clone(), iv, |alg| {
            read(&self.inner.devices).iter().any(|d| d.state() == DeviceState::Active && d.stream_family(alg).is_some())
        })
    }

    /// Submits a request; its completion goes to `completion`. On refusal
    /// (`Busy`, bad input, no device, shut down) the request comes back.
    ///
    /// # Errors
    /// A [`Rejected`] holding the untouched request and why: `Busy` (the
    /// in-flight or byte limit, or every capable queue full), the bad
    /// input (`InvalidLength`, `InvalidArgument`), `NoDevice` /
    /// `DeviceBroken` (nothing can take it), `ShutDown`.
    pub fn submit(&self, s: &Session, r: Request, c: Completion) -> Result<(), Rejected> {
        self.inner.submit(&s.0, r, c, Room::Refuse)
    }

    /// Like [`submit`](Self::submit), but waits for room instead of
    /// returning `Busy`.
    ///
    /// # Errors
    /// As [`submit`](Self::submit), but never `Busy`.
    pub fn submit_blocking(&self, s: &Session, r: Request, c: Completion) -> Result<(), Rejected> {
        self.inner.submit(&s.0, r, c, Room::Wait)
    }

    /// Submits a request with a callback.
    ///
    /// # Errors
    /// As [`submit`](Self::submit) (the callback is then not called).
    pub fn submit_with(&self, s: &Session, r: Request, f: impl FnOnce(Done) + Send + 'static) -> Result<(), Rejected> {
        self.submit(s, r, Completion::callback(f))
    }

    /// Submits a request and returns a handle to wait on or `.await`.
    ///
    /// # Errors
    /// As [`submit`](Self::submit).
    pub fn submit_pending(&self, s: &Session, r: Request) -> Result<Pending, Rejected> {
        let p = Pending::new();
        self.submit(s, r, p.completion())?;
        Ok(p)
    }

    /// Submits a request once there is room: the future resolves to the
    /// request's [`Pending`] when it is accepted, woken (never polled in a
    /// loop) when work completes or leaves a queue, so an async caller
    /// waits for room without `Busy` and without blocking its executor.
    /// Runtime-agnostic, like `Pending`.
    ///
    /// # Errors
    /// The future resolves to the refusal for anything but `Busy`: bad
    /// input, no device, `ShutDown` (also when the engine shuts down while
    /// it waits).
    pub fn submit_async(&self, s: &Session, r: Request) -> Submission {
        Submission::new(self.inner.clone(), s.0.clone(), r)
    }

    /// Submits requests in order until one is refused. On refusal, says
    /// how many were accepted and hands back the refused one and the rest.
    ///
    /// # Errors
    /// A [`BatchRejected`]: how many were accepted, the refused request
    /// with its error (as [`submit`](Self::submit)), and the rest.
    pub fn submit_batch(
        &self,
        s: &Session,
        items: impl IntoIterator<Item = (Request, Completion)>,
    ) -> Result<usize, BatchRejected> {
        self.inner.submit_batch(&s.0, items.into_iter())
    }

    /// Runs a request and waits for it. A software device that is idle runs
    /// it on the calling thread (no thread hop); otherwise it is queued and
    /// this blocks until done (waiting for room rather than failing `Busy`).
    ///
    /// # Errors
    /// The refusal (as [`submit_blocking`](Self::submit_blocking)) or the
    /// request's own failure (`VerifyFailed`, `DeviceFailure`, `Canceled`
    /// by a shutdown, ...); the request's buffers are lost with it (use
    /// `submit_pending` to keep them).
    pub fn run(&self, s: &Session, r: Request) -> Result<Request> {
        self.inner.run(&s.0, r)
    }

    /// Devices and their counters.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        read(&self.inner.devices).iter().map(|d| d.info()).collect()
    }

    /// One device by name.
    pub fn device(&self, name: &str) -> Option<DeviceInfo> {
        read(&self.inner.devices).iter().find(|d| d.name == name).map(|d| d.info())
    }

    /// Engine-wide counters.
    pub fn stats(&self) -> Stats {
        let e = &self.inner;
        let depth = read(&e.devices).iter().map(|d| d.queued.load(Ordering::Relaxed)).sum();
        e.counters.snapshot(depth, e.in_flight.load(Ordering::SeqCst))
    }

    /// The byte limit in force (see [`EngineConfig::max_in_flight_bytes`]).
    pub fn max_in_flight_bytes(&self) -> u64 {
        self.inner.bytes.limit()
    }

    /// Bytes of the requests in flight now.
    pub fn in_flight_bytes(&self) -> u64 {
        self.inner.bytes.used()
    }

    /// The balancer's name.
    pub fn balancer_name(&self) -> &str {
        self.inner.balancer.name()
    }

    /// Blocks until nothing is in flight.
    ///
    /// # Errors
    /// `WouldDeadlock` when called from inside a completion this engine
    /// delivers on its own thread (a DIRECT callback): it would wait for
    /// itself.
    pub fn wait_idle(&self) -> Result<()> {
        reentry::refuse_inside(self.inner.id, "wait_idle")?;
        self.inner.wait_delivered();
        Ok(())
    }

    /// Marks a device broken by name (as its driver would).
    ///
    /// # Errors
    /// `NoSuchDevice` for an unknown name.
    pub fn mark_broken(&self, name: &str, reason: &str) -> Result<()> {
        let dev = self.inner.find(name)?;
        self.inner.mark_broken(&dev, reason);
        Ok(())
    }

    /// Removes a device; its queued work drains, migrates or is canceled.
    /// Returns once the driver has completed everything it took and was
    /// detached. Do not call from the device's own driver thread.
    ///
    /// # Errors
    /// `NoSuchDevice` for an unknown name or a device already being
    /// removed.
    pub fn remove_device(&self, name: &str, mode: RemoveMode) -> Result<()> {
        self.inner.remove_device(name, mode)
    }

    /// Shuts down: no new work; pending work drains or is canceled; then
    /// every driver is detached and completion workers finish. Idempotent.
    pub fn shutdown(&self, mode: ShutdownMode) {
        self.inner.shutdown(mode)
    }
}

impl EngineInner {
    /// The in-flight count, read with a read-modify-write so it is the
    /// latest value (see `submit`'s admission).
    fn in_flight_now(&self) -> u64 {
        self.in_flight.fetch_add(0, Ordering::SeqCst)
    }

    /// Waits until everything completed and every completion due in a
    /// completing context was delivered, but for the deliveries this thread
    /// is inside of (a callback may wait or shut down). Deferred callbacks
    /// are queued by then.
    fn wait_delivered(&self) {
        let depth = reentry::depth(self.id);
        self.changed
            .wait_until(|| self.in_flight_now() == 0 && self.delivering.fetch_add(0, Ordering::SeqCst) <= depth);
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn find(&self, name: &str) -> Result<Arc<DeviceInner>> {
        read(&self.devices)
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .ok_or_else(|| Error::NoSuchDevice(name.to_string()))
    }

    /// Refuses a session another engine made.
    pub(crate) fn owns(&self, s: &SessionInner) -> Result<()> {
        if s.engine != self.id {
            return Err(Error::InvalidArgument(format!(
                "session {} belongs to another engine; sessions work only on the engine that made them",
                s.id
            )));
        }
        Ok(())
    }

    pub(crate) fn validate(s: &SessionInner, r: &Request) -> Result<()> {
        if let Some(part) = &r.stream {
            let ok = matches!(&s.steps[..], [st] if matches!(st.alg.kind(), OpKind::Hash | OpKind::Mac));
            if !ok {
                return Err(Error::InvalidArgument("a stream request runs on a one-step hash or MAC session".into()));
            }
            if !part.last {
                // An update carries no tag: the last request verifies.
                return Ok(());
            }
        }
        for step in &s.steps {
            let alg = step.alg;
            if matches!(alg.kind(), OpKind::Cipher | OpKind::Aead) {
                alg.check_iv(&r.iv)?;
                alg.check_data_len(r.data.len())?;
                alg.check_tag(step.op, &r.tag)?;
            }
            // A MAC's truncation rule; a signature's shape is the
            // verification's to judge (a bad one does not verify).
            if step.op == Op::Verify
                && alg.kind() != OpKind::Asym
                && !(MIN_VERIFY_TAG..=alg.digest_len()).contains(&r.tag.len())
            {
                return Err(Error::InvalidLength(format!(
                    "{alg} verify takes a tag of {MIN_VERIFY_TAG} to {} bytes, got {}",
                    alg.digest_len(),
                    r.tag.len()
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn submit(
        &self,
        s: &Arc<SessionInner>,
        request: Request,
        c: Completion,
        room: Room,
    ) -> Result<(), Rejected> {
        let block = room == Room::Wait;
        let reject = |error, request| Err(Rejected { error, request });
        if self.state.load(Ordering::SeqCst) != RUNNING {
            return reject(Error::ShutDown, request);
        }
        if let Err(e) = self.owns(s).and_then(|()| Self::validate(s, &request)) {
            return reject(e, request);
        }
        if block {
            if let Err(e) = reentry::refuse_inside(self.id, "submit_blocking") {
                return reject(e, request);
            }
        }
        // Admission against the in-flight and byte bounds.
        let charge = charge_of(&request);
        loop {
            let cur = self.in_flight.fetch_add(1, Ordering::SeqCst);
            // Shutdown sets its state, then reads the in-flight count with a
            // read-modify-write; so either it sees this request in flight and
            // waits for it, or this sees the state and backs out.
            if self.state.load(Ordering::SeqCst) != RUNNING {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                self.changed.notify();
                return reject(Error::ShutDown, request);
            }
            let fits = |b: &ByteBudget| {
                b.try_charge(charge) || (block && budget::on_completion_worker() && b.force_charge(charge))
            };
            if (cur as usize) < self.config.max_in_flight && fits(&self.bytes) {
                break;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if !block {
                if room == Room::Refuse {
                    self.counters.rejected_busy.inc();
                }
                return reject(Error::Busy, request);
            }
            self.changed.wait_until(|| {
                ((self.in_flight.load(Ordering::SeqCst) as usize) < self.config.max_in_flight
                    && (self.bytes.has_room(charge) || budget::on_completion_worker()))
                    || self.state.load(Ordering::SeqCst) != RUNNING
            });
            if self.state.load(Ordering::SeqCst) != RUNNING {
                return reject(Error::ShutDown, request);
            }
        }
        let mut job = Job::new(self.jobs.take(), s, request, c, self.now_ns());
        job.charged = charge;
        loop {
            match self.place_and_push(job, false, None) {
                Ok(()) => {
                    self.counters.submitted.inc();
                    s.submitted.inc();
                    return Ok(());
                }
                Err((Error::Busy, j)) if block && self.state.load(Ordering::SeqCst) == RUNNING => {
                    job = j;
                    let seen = self.counters.completed_ok.get() + self.counters.completed_err.get();
                    // Wait for any completion, then try again.
                    self.changed.wait_until(|| {
                        self.counters.completed_ok.get() + self.counters.completed_err.get() != seen
                            || self.state.load(Ordering::SeqCst) != RUNNING
                            || self.has_room_for(&job)
                    });
                }
                Err((e, j)) => {
                    let e = if self.state.load(Ordering::SeqCst) == RUNNING { e } else { Error::ShutDown };
                    if e == Error::Busy && room == Room::Refuse {
                        self.counters.rejected_busy.inc();
                    }
                    // Nothing is delivered for a refused request: its completion is dropped.
                    let (request, _completion) = self.hand_back(j);
                    return reject(e, request);
                }
            }
        }
    }

    pub(crate) fn finish(&self, job: Job, status: Result<()>) {
        let now = self.now_ns();
        self.finish_at(job, status, now)
    }

    pub(crate) fn finish_at(&self, job: Job, status: Result<()>, now: u64) {
        let mut due = Due::new();
        self.finish_into(job, status, now, &mut due);
        if !due.is_empty() {
            self.out_of_flight_delivering(&mut due, now);
        }
    }

    /// Finishes a request. A completion due in this context (not deferred,
    /// not ordered) is added to `due` (the job, with its status) instead
    /// of delivered, still counted in flight: the caller hands `due` to
    /// `out_of_flight_delivering`, so a batch of completions is delivered
    /// together and each request moves once, from its job to its owner.
    pub(crate) fn finish_into(&self, mut job: Job, status: Result<()>, now: u64, due: &mut Due) {
        // Deferred callbacks are queued before the in-flight count drops, so
        // a shutdown that saw zero in flight finds them queued; the others
        // are delivered after, so a callback may itself wait for the engine.
        let deferred =
            matches!(job.completion, Completion::Callback(_)) && !job.session.flags.direct && self.deferred.is_some();
        if job.seq.is_none() && !deferred {
            // Counted, and its bytes released, with the rest of `due` in
            // `out_of_flight_delivering`, before any of them is delivered.
            job.status = status;
            due.push(job);
            return;
        }
        self.record_request_done(&job.session, status.is_ok(), job.request.len() as u64, job.submitted_ns, now);
        match job.seq {
            None => {
                let (f, charged, _) = self.finished(job, status);
                self.defer(f, charged);
                self.out_of_flight();
            }
            Some(seq) => {
                let (f, charged, session) = self.finished(job, status);
                // (An ORDERED completion waiting for its turn is not charged.)
                self.bytes.release(charged);
                // Counted as delivering until this thread's turn as the
                // session's drainer (if it gets one) is over.
                self.delivering.fetch_add(1, Ordering::SeqCst);
                self.out_of_flight();
                self.deliver_ordered(&session, seq, Some(f));
                self.delivering.fetch_sub(1, Ordering::SeqCst);
                self.changed.notify();
            }
        }
    }

    /// A finished job as its completion, with its charge and session; its
    /// box goes back to the pool.
    fn finished(&self, job: Job, status: Result<()>) -> (Finished, u64, Arc<SessionInner>) {
        let (d, slot) = job.into_parts();
        self.jobs.give(std::iter::once(slot));
        (Finished { done: Done { request: d.request, status }, completion: d.completion }, d.charged, d.session)
    }

    /// Queues a callback for a completion worker; its `charged` bytes are
    /// released once it has run.
    fn defer(&self, f: Finished, charged: u64) {
        match &self.deferred {
            Some(d) => d.push(f, charged),
            None => {
                deliver_now(f);
                self.bytes.release(charged);
                self.changed.notify();
            }
        }
    }

    fn out_of_flight(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify();
    }

    /// Counts the requests of `list` out of flight, then delivers their
    /// completions in this context (counted as delivering, so shutdown
    /// waits for them); runs of completions bound for one queue are pushed
    /// together.
    pub(crate) fn out_of_flight_delivering(&self, list: &mut Due, now: u64) {
        self.record_due(list, now);
        self.delivering.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_sub(list.len() as u64, Ordering::SeqCst);
        self.changed.notify();
        {
            let _inside = Delivering::enter(self.id);
            self.deliver_jobs(list);
        }
        self.delivering.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify();
    }

    /// Delivers the finished jobs of `list` in order, emptying it:
    /// consecutive ones bound for the same completion queue are pushed
    /// under one lock with one wake-up, each request moved straight from
    /// its job into the queue. The jobs' boxes go back to the pool.
    fn deliver_jobs(&self, list: &mut Due) {
        let mut spare = Spare::new();
        let mut it = list.drain(..).peekable();
        while let Some(mut first) = it.next() {
            let d: &mut JobData = &mut first;
            let Some((q, carry)) = queue_of(&d.completion) else {
                let (d, slot) = first.into_parts();
                spare.push(slot);
                deliver_now(Finished { done: Done { request: d.request, status: d.status }, completion: d.completion });
                continue;
            };
            let mut run = Due::new();
            {
                let mut push = q.pusher();
                push.push(
                    Done { request: std::mem::take(&mut d.request), status: std::mem::replace(&mut d.status, Ok(())) },
                    carry,
                );
                while let Some(mut next) = it.next_if(|n| queue_of(&n.completion).is_some_and(|(nq, _)| nq.same(q))) {
                    let carry = queue_of(&next.completion).map_or_else(Carry::default, |(_, c)| c);
                    push.push(next.take_done(), carry);
                    run.push(next);
                }
            }
            // The jobs' sessions and completions are released after the
            // queue's lock.
            spare.push(first.recycle());
            spare.extend(run.drain(..).map(Job::recycle));
        }
        self.jobs.give(spare.drain(..));
    }

    /// Hands an ORDERED session's completion (or a refused number's skip)
    /// to the session's order; if this thread becomes the drainer, delivers
    /// every completion now due, in order, each deferred or here as its kind
    /// asks.
    pub(crate) fn deliver_ordered(&self, s: &SessionInner, seq: u64, item: Option<Finished>) {
        if !lock(&s.order).arrive(seq, item) {
            return;
        }
        let direct = s.flags.direct;
        while let Some(f) = lock(&s.order).next() {
            if matches!(f.completion, Completion::Callback(_)) && !direct && self.deferred.is_some() {
                self.defer(f, 0);
            } else {
                let _inside = Delivering::enter(self.id);
                deliver_now(f);
            }
        }
    }

    fn remove_device(&self, name: &str, mode: RemoveMode) -> Result<()> {
        let dev = self.find(name)?;
        let jobs = {
            let mut q = lock(&dev.queue);
            if dev.state() == DeviceState::Removed {
                return Err(Error::NoSuchDevice(format!("{name} is already being removed")));
            }
            dev.set_state(DeviceState::Removed);
            if mode == RemoveMode::Drain {
                Vec::new()
            } else {
                let j = q.drain_all();
                dev.queued.store(0, Ordering::Release);
                dev.queued_bytes.store(0, Ordering::Relaxed);
                j
            }
        };
        for (_, job) in jobs {
            dev.counters.moved.inc();
            match mode {
                RemoveMode::Cancel => self.finish(job, Err(Error::Canceled)),
                _ if job.current_step().device.is_some() => {
                    self.finish(job, Err(Error::DeviceBroken(format!("{name} was removed"))))
                }
                _ => self.forward_from_broken(job, &dev),
            }
        }
        self.changed.notify();
        // The driver finishes what it took (and, draining, its queue).
        self.changed
            .wait_until(|| dev.outstanding.load(Ordering::SeqCst) == 0 && dev.queued.load(Ordering::SeqCst) == 0);
        dev.driver.detach();
        write(&self.devices).retain(|d| d.id != dev.id);
        Ok(())
    }

    fn run(&self, s: &Arc<SessionInner>, mut request: Request) -> Result<Request> {
        if self.state.load(Ordering::SeqCst) != RUNNING {
            return Err(Error::ShutDown);
        }
        self.owns(s)?;
        Self::validate(s, &request)?;
        reentry::refuse_inside(self.id, "run")?;
        request.start_run();
        if let Some(dev) = self.claim_idle_device(s, &request) {
            match self.run_inline_on(&dev, s, &mut request) {
                Some(Ok(())) => return Ok(request),
                Some(Err(e)) if !e.is_device_fault() => return Err(e),
                // Not run inline, or a device fault: the queued path, which
                // retries elsewhere.
                _ => {}
            }
        }
        let p = Pending::new();
        self.submit(s, request, p.completion(), Room::Wait)?;
        p.wait().into_result()
    }

    /// Runs a whole route on the calling thread, on a device claimed by
    /// `claim_idle_device`. `None` when the engine refuses (in-flight bound,
    /// shutdown) or the driver has no inline path. A device fault is counted
    /// on the device only: the request itself is retried through a queue.
    fn run_inline_on(&self, dev: &DeviceInner, s: &SessionInner, request: &mut Request) -> Option<Result<()>> {
        let admitted = (self.in_flight.fetch_add(1, Ordering::SeqCst) as usize) < self.config.max_in_flight
            && self.state.load(Ordering::SeqCst) == RUNNING;
        let out = if admitted {
            let start = self.now_ns();
            let out = dev.driver.run_inline(&s.steps, request);
            if let Some(status) = &out {
                let now = self.now_ns();
                let bytes = request.len() as u64;
                dev.counters.submitted.inc();
                dev.record_done(status.is_ok(), bytes, start, start, now);
                if !matches!(status, Err(e) if e.is_device_fault()) {
                    self.counters.submitted.inc();
                    s.submitted.inc();
                    self.record_request_done(s, status.is_ok(), bytes, start, now);
                }
            }
            out
        } else {
            None
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        dev.outstanding.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify();
        out
    }

    /// Engine and session counters for a request that completed.
    /// `record_request_done` for every job of `list` and the release of
    /// their bytes, counted locally and added to the shared counters once
    /// per batch (per run of one session for the session's): a handful of
    /// atomic additions per batch instead of six per request.
    fn record_due(&self, list: &Due, now: u64) {
        if let [job] = &list[..] {
            // One job: two counters, not three histograms' worth of buckets.
            self.record_request_done(&job.session, job.status.is_ok(), job.request.len() as u64, job.submitted_ns, now);
            self.bytes.release(job.charged);
            return;
        }
        let (mut ok, mut err, mut bytes, mut charged) = (0u64, 0u64, 0u64, 0u64);
        let mut latency = [0u64; LATENCY_BUCKETS];
        let mut session: Option<&Arc<SessionInner>> = None;
        let (mut s_count, mut s_latency) = (0u64, [0u64; LATENCY_BUCKETS]);
        let flush_session = |s: &SessionInner, count: &mut u64, buckets: &mut [u64; LATENCY_BUCKETS]| {
            s.completed.add(*count);
            s.latency.add_buckets(buckets);
            *count = 0;
            *buckets = [0; LATENCY_BUCKETS];
        };
        for job in list.iter() {
            if job.status.is_ok() {
                ok += 1;
                bytes += job.request.len() as u64;
            } else {
                err += 1;
            }
            charged += job.charged;
            let b = bucket(std::time::Duration::from_nanos(now.saturating_sub(job.submitted_ns)));
            latency[b] += 1;
            if let Some(s) = session.filter(|s| !Arc::ptr_eq(s, &job.session)) {
                flush_session(s, &mut s_count, &mut s_latency);
            }
            session = Some(&job.session);
            s_count += 1;
            s_latency[b] += 1;
        }
        if let Some(s) = session {
            flush_session(s, &mut s_count, &mut s_latency);
        }
        if ok > 0 {
            self.counters.completed_ok.add(ok);
            self.counters.bytes.add(bytes);
        }
        if err > 0 {
            self.counters.completed_err.add(err);
        }
        self.counters.latency.add_buckets(&latency);
        self.bytes.release(charged);
    }

    fn record_request_done(&self, s: &SessionInner, ok: bool, bytes: u64, submitted_ns: u64, now: u64) {
        if ok {
            self.counters.completed_ok.inc();
            self.counters.bytes.add(bytes);
        } else {
            self.counters.completed_err.inc();
        }
        let latency = std::time::Duration::from_nanos(now.saturating_sub(submitted_ns));
        self.counters.latency.record(latency);
        s.latency.record(latency);
        s.completed.inc();
    }

    /// An active device that can run the whole route and has nothing queued
    /// or running, claimed by counting the inline run as outstanding.
    fn claim_idle_device(&self, s: &SessionInner, r: &Request) -> Option<Arc<DeviceInner>> {
        let devs = read(&self.devices);
        devs.iter()
            .filter(|d| {
                d.state() == DeviceState::Active
                    && s.steps.iter().all(|st| {
                        d.supports(st.alg) && d.takes(st.alg, r) && st.device.as_ref().is_none_or(|b| *b == d.name)
                    })
                    && d.queued.load(Ordering::Relaxed) == 0
            })
            .find(|d| d.outstanding.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed).is_ok())
            .cloned()
    }

    fn shutdown(&self, mode: ShutdownMode) {
        let _serial = lock(&self.shutdown_lock);
        let target = match mode {
            ShutdownMode::Drain => DRAINING,
            ShutdownMode::Cancel => CANCELING,
        };
        if self.state.compare_exchange(RUNNING, target, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            return;
        }
        self.changed.notify(); // blocked submitters give up
        let devs: Vec<Arc<DeviceInner>> = read(&self.devices).clone();
        if mode == ShutdownMode::Cancel {
            for dev in &devs {
                let jobs = {
                    let mut q = lock(&dev.queue);
                    let j = q.drain_all();
                    dev.queued.store(0, Ordering::Release);
                    dev.queued_bytes.store(0, Ordering::Relaxed);
                    j
                };
                for (_, job) in jobs {
                    self.finish(job, Err(Error::Canceled));
                }
            }
        }
        self.wait_delivered();
        for dev in &devs {
            {
                let _q = lock(&dev.queue);
                dev.set_state(DeviceState::Removed);
            }
            dev.driver.detach();
        }
        write(&self.devices).clear();
        if let Some(d) = &self.deferred {
            d.stop.store(1, Ordering::SeqCst);
            d.ready.notify();
            let threads: Vec<_> = lock(&d.threads).drain(..).collect();
            let me = thread::current().id();
            for t in threads {
                if t.thread().id() != me {
                    let _ = t.join();
                }
            }
        }
        self.state.store(DOWN, Ordering::SeqCst);
    }
}

/// Names every algorithm a set of devices supports (for error messages and
/// listings).
pub fn supported(devs: &[DeviceInfo]) -> Vec<Algorithm> {
    Algorithm::all().filter(|a| devs.iter().any(|d| d.capabilities.iter().any(|c| c.alg == *a))).collect()
}

/// A key reference as an error message shows it: without attributes that
/// carry a secret (RFC 7512's `pin-value`).
fn redact(reference: &str) -> String {
    let (path, query) = reference.split_once('?').unwrap_or((reference, ""));
    let kept: Vec<&str> = query.split('&').filter(|a| !a.is_empty() && !a.starts_with("pin-value=")).collect();
    if kept.is_empty() {
        format!("'{path}'")
    } else {
        format!("'{path}?{}'", kept.join("&"))
    }
}
