//! Sessions: a reusable route of steps with keys, a priority and flags.

use crate::alg::{Algorithm, Op, OpKind};
use crate::error::{Error, Result};
use crate::queue::PRIORITY_LEVELS;
use crate::stats::{Counter, Histogram};
use crate::sync::{Arc, Mutex, OnceLock};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// Key material, zeroized when dropped. Never printed.
///
/// A key also keeps its expanded form (an AES key schedule, an HMAC state
/// after the key was absorbed): the first driver that uses the key makes
/// it with [`schedule`](Key::schedule), and every later request on the
/// session reuses it. Clones share it. The driver's type must wipe itself
/// on drop (the software device's do); it goes when the last clone does.
///
/// A key may instead be a *reference* to a key that lives inside one
/// device (e.g. an RFC 7512 `pkcs11:` URI naming a token object). Core
/// does not read the reference: a device says whether it holds it
/// ([`Driver::holds`](crate::Driver::holds)), and a session step with such
/// a key is bound to that device. A reference has no bytes.
#[derive(Clone)]
pub struct Key {
    bytes: Zeroizing<Vec<u8>>,
    /// `bytes` holds the text of a reference, not key material.
    reference: bool,
    schedule: Arc<[OnceLock<Box<dyn Any + Send + Sync>>; SCHEDULE_SLOTS]>,
}

/// How many expanded forms of different types a key keeps.
pub const SCHEDULE_SLOTS: usize = 4;

impl Key {
    /// Copies key bytes in.
    pub fn new(bytes: &[u8]) -> Self {
        Key { bytes: Zeroizing::new(bytes.to_vec()), reference: false, schedule: Arc::default() }
    }
    /// A reference to a key held by a device (kept and wiped like bytes:
    /// a URI may carry a PIN).
    pub fn reference(text: &str) -> Self {
        Key { bytes: Zeroizing::new(text.as_bytes().to_vec()), reference: true, schedule: Arc::default() }
    }
    /// The key bytes; empty for a reference (so a driver that does not
    /// hold it refuses it as a missing key, never parses the reference).
    pub fn bytes(&self) -> &[u8] {
        if self.reference {
            &[]
        } else {
            &self.bytes
        }
    }
    /// The reference's text, for a key that is a reference.
    pub fn as_reference(&self) -> Option<&str> {
        if self.reference {
            // Made from a `&str` by `Key::reference`.
            std::str::from_utf8(&self.bytes).ok()
        } else {
            None
        }
    }

    /// The key's expanded form of type `T`: made by `expand` from the key
    /// bytes the first time, then kept with the key. A key keeps up to
    /// [`SCHEDULE_SLOTS`] forms of different types (one per kind of driver
    /// that uses it: the software device's parsed key beside a token's
    /// object handle). `Ok(None)` when every slot holds another type: the
    /// caller then expands for itself.
    pub fn schedule<T: Any + Send + Sync, E>(
        &self,
        expand: impl FnOnce(&[u8]) -> std::result::Result<T, E>,
    ) -> std::result::Result<Option<&T>, E> {
        let find = || self.schedule.iter().find_map(|s| s.get().and_then(|b| b.downcast_ref::<T>()));
        if let Some(t) = find() {
            return Ok(Some(t));
        }
        if self.schedule.iter().all(|s| s.get().is_some()) {
            return Ok(None);
        }
        let mut made: Box<dyn Any + Send + Sync> = Box::new(expand(self.bytes())?);
        // Two threads may expand at once; the first empty slot takes each
        // result, and the first kept is the one used.
        for slot in self.schedule.iter() {
            match slot.set(made) {
                Ok(()) => break,
                Err(back) => made = back,
            }
        }
        Ok(find())
    }

    /// Whether two keys share one expanded form (one is a clone of the other).
    pub fn shares_schedule(&self, other: &Key) -> bool {
        Arc::ptr_eq(&self.schedule, &other.schedule)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reference {
            // Not the text: a URI may carry a PIN.
            f.write_str("Key(reference)")
        } else {
            write!(f, "Key({} bytes)", self.bytes.len())
        }
    }
}

/// One step of a route: an algorithm, an operation and a key, optionally
/// bound to a named device.
#[derive(Debug, Clone)]
pub struct Step {
    /// The algorithm.
    pub alg: Algorithm,
    /// The operation.
    pub op: Op,
    /// The key (empty for hashes and rng).
    pub key: Key,
    /// A device this step must run on (overrides the session's binding).
    pub device: Option<String>,
}

impl Step {
    /// A step, checked: the operation fits the algorithm and the key fits.
    pub fn new(alg: Algorithm, op: Op, key: &[u8]) -> Result<Step> {
        if !op.fits(alg) {
            return Err(Error::InvalidArgument(format!("{op:?} does not apply to {alg}")));
        }
        alg.check_key(key)?;
        Ok(Step { alg, op, key: Key::new(key), device: None })
    }

    /// A step whose key is a reference to a key a device holds (see
    /// [`Key::reference`]): no key bytes are checked. The session binds
    /// the step to the device that holds it.
    pub fn with_reference(alg: Algorithm, op: Op, reference: &str) -> Result<Step> {
        if !op.fits(alg) {
            return Err(Error::InvalidArgument(format!("{op:?} does not apply to {alg}")));
        }
        if reference.is_empty() {
            return Err(Error::InvalidKey(format!("{alg}: an empty key reference")));
        }
        Ok(Step { alg, op, key: Key::reference(reference), device: None })
    }

    /// Binds this step to a named device.
    pub fn on_device(mut self, name: &str) -> Step {
        self.device = Some(name.to_string());
        self
    }
}

/// Session flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFlags {
    /// Run completions in the completing context (the driver's thread)
    /// instead of on a completion worker.
    pub direct: bool,
    /// Deliver completions in submission order.
    pub ordered: bool,
}

/// Builds a [`Session`].
#[derive(Debug, Clone, Default)]
pub struct SessionBuilder {
    steps: Vec<Step>,
    priority: u8,
    flags: SessionFlags,
    bound: Option<String>,
    error: Option<Error>,
}

impl SessionBuilder {
    /// An empty route at priority 0 (lowest), deferred, unordered, unbound.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a step; a bad key or op is reported by [`Engine::session`](crate::Engine::session).
    pub fn step(mut self, alg: Algorithm, op: Op, key: &[u8]) -> Self {
        match Step::new(alg, op, key) {
            Ok(s) => self.steps.push(s),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Appends a step whose key is a reference ([`Step::with_reference`]).
    pub fn step_reference(mut self, alg: Algorithm, op: Op, reference: &str) -> Self {
        match Step::with_reference(alg, op, reference) {
            Ok(s) => self.steps.push(s),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Appends a prepared step.
    pub fn push(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Priority, 0 (lowest) to `PRIORITY_LEVELS - 1` (highest).
    pub fn priority(mut self, p: u8) -> Self {
        self.priority = p;
        self
    }

    /// Binds every step without its own binding to the named device
    /// (the BOUND flag): such work never moves to another device.
    pub fn bind(mut self, device: &str) -> Self {
        self.bound = Some(device.to_string());
        self
    }

    /// DIRECT completion.
    pub fn direct(mut self, on: bool) -> Self {
        self.flags.direct = on;
        self
    }

    /// ORDERED completion.
    pub fn ordered(mut self, on: bool) -> Self {
        self.flags.ordered = on;
        self
    }

    pub(crate) fn finish(self, id: u64, engine: u64) -> Result<Session> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.steps.is_empty() {
            return Err(Error::InvalidArgument("a session needs at least one step".into()));
        }
        if self.steps.len() > MAX_ROUTE_STEPS {
            return Err(Error::InvalidArgument(format!("a route has at most {MAX_ROUTE_STEPS} steps")));
        }
        if usize::from(self.priority) >= PRIORITY_LEVELS {
            return Err(Error::InvalidArgument(format!(
                "priority {} out of range 0..{}",
                self.priority, PRIORITY_LEVELS
            )));
        }
        check_tag_use(&self.steps)?;
        let rng = self.steps.iter().any(|s| s.alg.kind() == OpKind::Rng);
        if rng && self.steps.len() > 1 {
            return Err(Error::InvalidArgument("rng cannot be chained with other steps".into()));
        }
        // An asymmetric step reads and writes whole values (a message and
        // its signature, a peer key and a secret): it runs alone.
        let asym = self.steps.iter().any(|s| s.alg.kind() == OpKind::Asym);
        if asym && self.steps.len() > 1 {
            return Err(Error::InvalidArgument("an asymmetric step cannot be chained with other steps".into()));
        }
        let mut steps = self.steps;
        if let Some(b) = &self.bound {
            for s in steps.iter_mut().filter(|s| s.device.is_none()) {
                s.device = Some(b.clone());
            }
        }
        Ok(Session(Arc::new(SessionInner {
            id,
            engine,
            steps,
            priority: self.priority,
            flags: self.flags,
            bound: self.bound,
            submitted: Counter::default(),
            completed: Counter::default(),
            latency: Histogram::default(),
            order: Mutex::new(OrderState::default()),
        })))
    }
}

/// Refuses routes whose steps overwrite each other's results: a request
/// has one tag, so at most one step may compute a digest or MAC into it,
/// and no such step may come before a verify step (which would then
/// compare the computed value instead of the caller's expected tag).
fn check_tag_use(steps: &[Step]) -> Result<()> {
    let mut writer: Option<(usize, &Step)> = None;
    for (i, st) in steps.iter().enumerate() {
        match (st.op, writer) {
            (Op::Digest, Some((j, w))) => {
                return Err(Error::InvalidArgument(format!(
                    "steps {} ({} digest) and {} ({} digest) both write the request's tag; \
                     the first result would be lost (use two sessions)",
                    j + 1,
                    w.alg,
                    i + 1,
                    st.alg
                )))
            }
            (Op::Digest, None) => writer = Some((i, st)),
            (Op::Verify, Some((j, w))) => {
                return Err(Error::InvalidArgument(format!(
                    "step {} ({} digest) overwrites the tag that step {} ({} verify) checks",
                    j + 1,
                    w.alg,
                    i + 1,
                    st.alg
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Longest route a session may have.
pub const MAX_ROUTE_STEPS: usize = 8;

/// A reusable crypto context. Cheap to clone; keys are zeroized when the
/// last clone and the last request using it are gone.
#[derive(Clone)]
pub struct Session(pub(crate) Arc<SessionInner>);

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.0.id)
            .field("steps", &self.0.steps)
            .field("priority", &self.0.priority)
            .field("flags", &self.0.flags)
            .field("bound", &self.0.bound)
            .finish()
    }
}

impl Session {
    /// Binds step `i` of a session being made to `device` (the device that
    /// holds the step's key reference). Only before the session is shared.
    pub(crate) fn bind_step(&mut self, i: usize, device: &str) -> Result<()> {
        let inner = Arc::get_mut(&mut self.0)
            .ok_or_else(|| Error::Internal("a session's steps change only while it is made".into()))?;
        inner.steps[i].device = Some(device.to_string());
        Ok(())
    }

    /// The session's id, unique in the process (no two sessions share one,
    /// whichever engines made them).
    pub fn id(&self) -> u64 {
        self.0.id
    }
    /// The route.
    pub fn steps(&self) -> &[Step] {
        &self.0.steps
    }
    /// The priority.
    pub fn priority(&self) -> u8 {
        self.0.priority
    }
    /// The flags.
    pub fn flags(&self) -> SessionFlags {
        self.0.flags
    }
    /// The device the session is bound to.
    pub fn bound(&self) -> Option<&str> {
        self.0.bound.as_deref()
    }
    /// Requests submitted on this session.
    pub fn submitted(&self) -> u64 {
        self.0.submitted.get()
    }
    /// Requests of this session that completed (with any status).
    pub fn completed(&self) -> u64 {
        self.0.completed.get()
    }
    /// Submission-to-completion latency under which fraction `q` of this
    /// session's requests completed (an upper bound, from log2 buckets).
    pub fn latency_quantile(&self, q: f64) -> Option<std::time::Duration> {
        crate::stats::quantile(&self.0.latency.snapshot(), q)
    }
}

pub(crate) struct SessionInner {
    pub(crate) id: u64,
    /// The id of the engine that made it (it refuses the others').
    pub(crate) engine: u64,
    pub(crate) steps: Vec<Step>,
    pub(crate) priority: u8,
    pub(crate) flags: SessionFlags,
    pub(crate) bound: Option<String>,
    pub(crate) submitted: Counter,
    pub(crate) completed: Counter,
    pub(crate) latency: Histogram,
    pub(crate) order: Mutex<OrderState<crate::completion::Finished>>,
}

/// Submission-order bookkeeping for ORDERED sessions: each accepted request
/// takes a sequence number; a completion is held back until every earlier
/// one was delivered. A number whose submission failed is marked skipped.
/// One thread at a time delivers (the drainer), so deliveries leave in
/// order even though none happens under the lock.
pub(crate) struct OrderState<T> {
    next_seq: u64,
    next_deliver: u64,
    held: BTreeMap<u64, Option<T>>,
    draining: bool,
}

impl<T> Default for OrderState<T> {
    fn default() -> Self {
        OrderState { next_seq: 0, next_deliver: 0, held: BTreeMap::new(), draining: false }
    }
}

impl<T> OrderState<T> {
    pub(crate) fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Records `item` (or a skip) for `seq`. Returns true when the caller
    /// becomes the drainer and must call [`next`](Self::next) until `None`.
    pub(crate) fn arrive(&mut self, seq: u64, item: Option<T>) -> bool {
        self.held.insert(seq, item);
        !std::mem::replace(&mut self.draining, true)
    }

    /// For the drainer: the next completion to deliver, in order, skipping
    /// refused numbers; `None` ends the drainer's turn.
    pub(crate) fn next(&mut self) -> Option<T> {
        while let Some(entry) = self.held.remove(&self.next_deliver) {
            self.next_deliver += 1;
            if entry.is_some() {
                return entry;
            }
        }
        self.draining = false;
        None
    }
}
