//! Routing: a request walks its route step by step. For each step the
//! balancer picks a device that can do it (or the bound one); that device
//! takes the longest run of following steps it can also do. A step a device
//! fails with a device fault is retried elsewhere unless bound; work queued
//! on a device that breaks is moved by the balancer's `rehash`.

use crate::balancer::{Candidate, WorkInfo};
use crate::completion::Completion;
use crate::device::{DeviceId, DeviceInner, DeviceState, Tally};
use crate::engine::{EngineInner, CANCELING};
use crate::error::{Error, Result};
use crate::request::Done;
use crate::request::Request;
use crate::session::{SessionInner, Step};
use crate::sync::{lock, read, Arc, Mutex, Ordering};
use smallvec::SmallVec;

/// One request on its way through its route. It lives in a box from the
/// engine's [`JobPool`], so moving it between queues, work items and
/// completion lists moves a pointer, not the request; the box goes back to
/// the pool when the job finishes (no allocation per request once the pool
/// holds as many boxes as there are requests in flight).
pub(crate) struct Job(JobBox);

/// A job's box: `Some` while it holds a job, `None` while it waits in the
/// pool.
pub(crate) type JobBox = Box<Option<JobData>>;

/// What a job carries.
pub(crate) struct JobData {
    pub(crate) session: Arc<SessionInner>,
    pub(crate) request: Request,
    pub(crate) completion: Completion,
    /// The steps assigned to the current device: `step..step_end`.
    pub(crate) step: usize,
    pub(crate) step_end: usize,
    pub(crate) seq: Option<u64>,
    pub(crate) submitted_ns: u64,
    pub(crate) enqueued_ns: u64,
    pub(crate) taken_ns: u64,
    /// Devices that failed the current step (not tried again).
    pub(crate) tried: Vec<DeviceId>,
    pub(crate) retries: u32,
    /// Bytes charged against the engine's byte limit (released when the
    /// job finishes or is handed back).
    pub(crate) charged: u64,
    /// The final status, once finished (see `EngineInner::finish_into`).
    pub(crate) status: Result<()>,
}

impl std::ops::Deref for Job {
    type Target = JobData;
    fn deref(&self) -> &JobData {
        self.0.as_ref().as_ref().unwrap_or_else(|| empty_job())
    }
}

impl std::ops::DerefMut for Job {
    fn deref_mut(&mut self) -> &mut JobData {
        self.0.as_mut().as_mut().unwrap_or_else(|| empty_job())
    }
}

/// A `Job` always holds its data: only `into_parts` empties the box, and it
/// consumes the job.
fn empty_job() -> ! {
    panic!("acrypto: a job without its data")
}

/// Spare job boxes on their way to or from the pool (a batch's worth on
/// the stack).
pub(crate) type Spare = SmallVec<[JobBox; 64]>;

/// Boxes of finished jobs, kept for the next ones.
pub(crate) struct JobPool {
    free: Mutex<Vec<JobBox>>,
    /// Most boxes kept; beyond, a returned box is freed.
    keep: usize,
}

impl JobPool {
    pub(crate) fn new(keep: usize) -> Self {
        JobPool { free: Mutex::new(Vec::new()), keep }
    }

    /// One box, from the pool or new.
    pub(crate) fn take(&self) -> JobBox {
        lock(&self.free).pop().unwrap_or_else(|| Box::new(None))
    }

    /// Up to `n` boxes from the pool under one lock, appended to `out`
    /// (fewer if the pool has fewer).
    pub(crate) fn take_some(&self, n: usize, out: &mut Spare) {
        let mut free = lock(&self.free);
        let k = n.min(free.len());
        let from = free.len() - k;
        out.extend(free.drain(from..));
    }

    /// Returns boxes under one lock.
    pub(crate) fn give(&self, boxes: impl IntoIterator<Item = JobBox>) {
        let mut free = lock(&self.free);
        for b in boxes {
            if free.len() >= self.keep {
                break;
            }
            free.push(b);
        }
    }
}

impl Job {
    /// A request admitted at `now`, about to be placed on its first device,
    /// in `slot` (an empty box from the pool).
    pub(crate) fn new(
        mut slot: JobBox,
        session: &Arc<SessionInner>,
        request: Request,
        completion: Completion,
        now: u64,
    ) -> Job {
        let seq = session.flags.ordered.then(|| lock(&session.order).take_seq());
        *slot = Some(JobData {
            session: session.clone(),
            request,
            completion,
            step: 0,
            step_end: 0,
            seq,
            submitted_ns: now,
            enqueued_ns: now,
            taken_ns: now,
            tried: Vec::new(),
            retries: 0,
            charged: 0,
            status: Ok(()),
        });
        let mut job = Job(slot);
        job.request.start_run();
        job
    }

    /// Its box, emptied in place for the pool (what the job still holds is
    /// dropped).
    pub(crate) fn recycle(mut self) -> JobBox {
        *self.0 = None;
        self.0
    }

    /// The job's data, and its box emptied for the pool.
    pub(crate) fn into_parts(mut self) -> (JobData, JobBox) {
        match self.0.take() {
            Some(d) => (d, self.0),
            None => empty_job(),
        }
    }
}

/// Finished jobs due for delivery in the completing context (a batch's
/// worth on the stack).
pub(crate) type Due = SmallVec<[Job; 64]>;

impl JobData {
    /// The finished request and its status, moved out (the job keeps empty
    /// buffers).
    pub(crate) fn take_done(&mut self) -> Done {
        Done { request: std::mem::take(&mut self.request), status: std::mem::replace(&mut self.status, Ok(())) }
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.request.len() as u64
    }
    /// Gives `dev` the longest run of steps from the current one that it
    /// can do.
    pub(crate) fn assign_steps(&mut self, dev: &DeviceInner) {
        let steps = &self.session.steps;
        let mut end = self.step + 1;
        while end < steps.len()
            && dev.supports(steps[end].alg)
            && dev.takes(steps[end].alg, &self.request)
            && steps[end].device.as_ref().is_none_or(|b| *b == dev.name)
        {
            end += 1;
        }
        self.step_end = end;
    }

    pub(crate) fn assigned_steps(&self) -> &[Step] {
        &self.session.steps[self.step..self.step_end]
    }
    pub(crate) fn parts(&mut self) -> (&[Step], &mut Request) {
        (&self.session.steps[self.step..self.step_end], &mut self.request)
    }
    pub(crate) fn current_step(&self) -> &Step {
        &self.session.steps[self.step]
    }
    pub(crate) fn info(&self) -> WorkInfo {
        WorkInfo {
            session: self.session.id,
            priority: self.session.priority,
            alg: self.current_step().alg,
            bytes: self.request.len(),
            caller: caller_id(),
        }
    }
}

fn caller_id() -> u64 {
    use std::sync::atomic::{AtomicU64 as StdAtomic, Ordering as StdOrdering};
    static NEXT: StdAtomic = StdAtomic::new(1);
    thread_local!(static ID: u64 = NEXT.fetch_add(1, StdOrdering::Relaxed));
    ID.with(|id| *id)
}

impl EngineInner {
    pub(crate) fn has_room_for(&self, job: &Job) -> bool {
        let step = job.current_step();
        read(&self.devices).iter().any(|d| {
            d.state() == DeviceState::Active
                && d.supports(step.alg)
                && d.takes(step.alg, &job.request)
                && step.device.as_ref().is_none_or(|b| *b == d.name)
                && d.queued.load(Ordering::Relaxed) < d.capacity
        })
    }

    /// Picks a device for the job's current step (`find_device`, or
    /// `rehash` when moving work off `from_broken`), assigns it the longest
    /// run of steps it can do, and queues the job there. `admitted` work
    /// (next steps of a route, retries, rehash) may exceed a queue bound:
    /// the in-flight limit bounds it.
    pub(crate) fn place_and_push(
        &self,
        mut job: Job,
        admitted: bool,
        from_broken: Option<DeviceId>,
    ) -> Result<(), (Error, Job)> {
        // A device may change state between the pick and the push; then pick again.
        for _ in 0..64 {
            let dev = match self.pick(&job, admitted, from_broken, None) {
                Ok(d) => d,
                Err(e) => return Err((e, job)),
            };
            job.assign_steps(&dev);
            if job.step > 0 || job.retries > 0 || from_broken.is_some() {
                job.enqueued_ns = self.now_ns();
            }
            let bytes = job.bytes();
            let prio = job.session.priority;
            let was_empty = {
                let mut q = lock(&dev.queue);
                if dev.state() != DeviceState::Active {
                    continue;
                }
                if admitted {
                    q.push_unbounded(prio, job);
                } else if let Err(j) = q.push(prio, job) {
                    job = j;
                    continue;
                }
                dev.queued.store(q.len(), Ordering::Release);
                dev.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
                q.len() == 1
            };
            dev.counters.submitted.inc();
            if was_empty {
                dev.driver.data_ready();
            }
            return Ok(());
        }
        Err((Error::Busy, job))
    }

    /// Picks a device for the job's current step. `pending` counts work a
    /// batch submission has chosen for a device but not queued yet, so the
    /// balancer sees it as queued there.
    pub(crate) fn pick(
        &self,
        job: &Job,
        admitted: bool,
        from_broken: Option<DeviceId>,
        pending: Option<(DeviceId, usize)>,
    ) -> Result<Arc<DeviceInner>> {
        self.pick_device(job, admitted, from_broken, pending).map(|(d, _)| d)
    }

    /// As `pick`, and whether the device was the only capable one.
    pub(crate) fn pick_device(
        &self,
        job: &Job,
        admitted: bool,
        from_broken: Option<DeviceId>,
        pending: Option<(DeviceId, usize)>,
    ) -> Result<(Arc<DeviceInner>, bool)> {
        let step = job.current_step();
        let devs = read(&self.devices);
        let capable = |d: &DeviceInner| {
            d.state() == DeviceState::Active
                && d.supports(step.alg)
                && d.takes(step.alg, &job.request)
                && step.device.as_ref().is_none_or(|b| *b == d.name)
                && !job.tried.contains(&d.id)
                && Some(d.id) != from_broken
        };
        // One capable device (a bound step, or a one-device engine): no
        // balancer to ask, so no candidate table to build.
        let mut capable_devs = devs.iter().filter(|d| capable(d));
        if let (Some(only), None) = (capable_devs.next(), capable_devs.next()) {
            let extra = pending.filter(|p| p.0 == only.id).map_or(0, |p| p.1);
            if admitted || only.queued.load(Ordering::Relaxed) + extra < only.capacity {
                return Ok((only.clone(), true));
            }
            return Err(Error::Busy);
        }
        // Candidates live on the stack for up to 16 devices: no allocation per submission.
        let mut cands: SmallVec<[Candidate<'_>; 16]> = SmallVec::new();
        for d in devs.iter() {
            if capable(d) {
                let extra = pending.filter(|p| p.0 == d.id).map_or(0, |p| p.1);
                cands.push(Candidate {
                    id: d.id,
                    name: &d.name,
                    index: d.index,
                    queued: d.queued.load(Ordering::Relaxed) + extra,
                    capacity: d.capacity,
                    outstanding: d.outstanding.load(Ordering::Relaxed),
                    queued_bytes: d.queued_bytes.load(Ordering::Relaxed),
                    rate: d.effective_rate(),
                    class: d.class,
                    device: d,
                });
            }
        }
        if cands.is_empty() {
            // A stream's state continues only on its family's devices: say so.
            if let (None, Some(state)) = (&step.device, job.request.stream.as_ref().and_then(|p| p.state.as_ref())) {
                return Err(Error::NoDevice(format!(
                    "{} to continue this stream: its state is of family '{}' and no working device of that family is left",
                    step.alg,
                    state.family()
                )));
            }
            return Err(self.no_device_error(&devs, step));
        }
        // The balancer is asked only when there is a choice to make.
        let pick = if cands.len() == 1 {
            Some(0)
        } else {
            let info = job.info();
            match from_broken {
                Some(b) => self.balancer.rehash(b, &cands, &info),
                None => self.balancer.find_device(&cands, &info),
            }
        };
        let chosen = match pick.filter(|&i| i < cands.len()) {
            Some(i) if admitted || cands[i].has_room() => i,
            _ => {
                // The pick is full (or the balancer declined): least loaded with room.
                match cands.iter().enumerate().filter(|(_, c)| admitted || c.has_room()).min_by_key(|(_, c)| c.load()) {
                    Some((i, _)) => i,
                    None => return Err(Error::Busy),
                }
            }
        };
        Ok((cands[chosen].device.clone(), false))
    }

    pub(crate) fn no_device_error(&self, devs: &[Arc<DeviceInner>], step: &Step) -> Error {
        match &step.device {
            Some(name) => match devs.iter().find(|d| &d.name == name) {
                Some(d) if d.state() == DeviceState::Broken => Error::DeviceBroken(format!(
                    "{name}: {}",
                    lock(&d.broken_reason).clone().unwrap_or_else(|| "marked broken".into())
                )),
                Some(d) if d.state() == DeviceState::Removed => Error::DeviceBroken(format!("{name} was removed")),
                Some(_) => Error::Unsupported(format!("device {name} cannot do {}", step.alg)),
                None => Error::NoSuchDevice(name.clone()),
            },
            None => Error::NoDevice(step.alg.to_string()),
        }
    }

    /// A driver completed the steps it was given.
    pub(crate) fn step_done(&self, dev: &Arc<DeviceInner>, job: Job, status: Result<()>) {
        let mut due = Due::new();
        let now = self.now_ns();
        dev.record_done(status.is_ok(), job.bytes(), job.taken_ns, job.enqueued_ns, now);
        self.step_done_into(dev, job, status, now, &mut due);
        if !due.is_empty() {
            self.out_of_flight_delivering(&mut due, now);
        }
        // Counted down last, so a waiter for this device sees the work
        // either here or already moved on.
        dev.outstanding.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify();
    }

    /// A driver completed a batch: completions due in this context are
    /// delivered together, then the device's outstanding count drops once.
    pub(crate) fn steps_done(
        &self,
        dev: &Arc<DeviceInner>,
        items_in: impl Iterator<Item = (Job, Result<()>)>,
        size_hint: usize,
    ) {
        let mut items_in = items_in.peekable();
        let Some(first) = items_in.next() else { return };
        if items_in.peek().is_none() {
            // A batch of one: no batch lists to gather.
            return self.step_done(dev, first.0, first.1);
        }
        let now = self.now_ns();
        // The device's counters first, as `step_done` has them before the
        // work moves on: whoever sees a request finished sees it counted.
        // A batch's worth on the stack (drained, not moved: it is large).
        let mut items: SmallVec<[(Job, Result<()>); 64]> = SmallVec::new();
        items.reserve(size_hint);
        items.push(first);
        items.extend(items_in);
        let mut due = Due::new();
        let mut tally = Tally::default();
        for (job, status) in &items {
            tally.count(status.is_ok(), job.bytes(), job.taken_ns, job.enqueued_ns, now);
        }
        dev.record_tally(&tally, now);
        let n = items.len();
        for (job, status) in items.drain(..) {
            self.step_done_into(dev, job, status, now, &mut due);
        }
        if !due.is_empty() {
            self.out_of_flight_delivering(&mut due, now);
        }
        dev.outstanding.fetch_sub(n, Ordering::AcqRel);
        self.changed.notify();
    }

    /// Accounts a completed step and moves the job on: its next device, a
    /// retry, or its end (a completion due here is added to `due`).
    /// The device's counters were updated by the caller.
    fn step_done_into(&self, dev: &Arc<DeviceInner>, mut job: Job, status: Result<()>, now: u64, due: &mut Due) {
        let steps = job.session.steps.len();
        match status {
            Ok(()) if job.step_end < steps => {
                job.step = job.step_end;
                job.tried.clear();
                job.retries = 0;
                self.forward(job, None);
            }
            Ok(()) => self.finish_into(job, Ok(()), now, due),
            Err(e) if e.is_device_fault() => {
                let bound = job.current_step().device.is_some();
                if bound || job.retries >= self.config.max_retries {
                    let e = if bound && dev.state() == DeviceState::Broken {
                        self.no_device_error(&read(&self.devices), job.current_step())
                    } else {
                        e
                    };
                    self.finish(job, Err(e));
                } else {
                    job.retries += 1;
                    job.tried.push(dev.id);
                    self.forward_or_fail(job, e);
                }
            }
            Err(e) => self.finish_into(job, Err(e), now, due),
        }
    }

    /// Queues admitted work on its next device, or finishes it with the error.
    pub(crate) fn forward(&self, job: Job, from_broken: Option<DeviceId>) {
        if self.state.load(Ordering::SeqCst) == CANCELING {
            return self.finish(job, Err(Error::Canceled));
        }
        if let Err((e, job)) = self.place_and_push(job, true, from_broken) {
            self.finish(job, Err(e));
        }
    }

    /// Retries work a device failed; if no other device can take it, the
    /// device's own error is the final status.
    pub(crate) fn forward_or_fail(&self, job: Job, original: Error) {
        if self.state.load(Ordering::SeqCst) == CANCELING {
            return self.finish(job, Err(Error::Canceled));
        }
        if let Err((_, job)) = self.place_and_push(job, true, None) {
            self.finish(job, Err(original));
        }
    }

    pub(crate) fn mark_broken(&self, dev: &Arc<DeviceInner>, reason: &str) {
        let jobs = {
            let mut q = lock(&dev.queue);
            if dev.state() != DeviceState::Active {
                return;
            }
            dev.set_state(DeviceState::Broken);
            *lock(&dev.broken_reason) = Some(reason.to_string());
            let jobs = q.drain_all();
            dev.queued.store(0, Ordering::Release);
            dev.queued_bytes.store(0, Ordering::Relaxed);
            jobs
        };
        for (_, job) in jobs {
            dev.counters.moved.inc();
            if job.current_step().device.is_some() {
                let e = self.no_device_error(&read(&self.devices), job.current_step());
                self.finish(job, Err(e));
            } else {
                self.forward_from_broken(job, dev);
            }
        }
        self.changed.notify();
    }

    pub(crate) fn forward_from_broken(&self, job: Job, dev: &DeviceInner) {
        if self.state.load(Ordering::SeqCst) == CANCELING {
            return self.finish(job, Err(Error::Canceled));
        }
        if let Err((_, job)) = self.place_and_push(job, true, Some(dev.id)) {
            let alg = job.current_step().alg;
            let e = Error::DeviceBroken(format!("{} broke and no other device can do {alg}", dev.name));
            self.finish(job, Err(e));
        }
    }
}
