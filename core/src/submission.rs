//! Batch submission: the requests of one `submit_batch` call are checked
//! and admitted one by one, in order, but a run of them bound for the same
//! device is queued under one lock of that device's queue, and its driver
//! is told `data_ready` once per run, not once per request.

use crate::budget::charge_of;
use crate::completion::Completion;
use crate::device::{DeviceInner, DeviceState};
use crate::engine::{BatchRejected, EngineInner, Rejected, RUNNING};
use crate::error::{Error, Result};
use crate::request::Request;
use crate::route::{Job, Spare};
use crate::session::SessionInner;
use crate::sync::{lock, Arc, Ordering};

/// Longest run queued under one lock (bounds how long the lock is held).
const MAX_RUN: usize = 256;

/// A run that could not be queued whole: the refused job, its error, the
/// jobs after it in the run, not attempted, and how many before it were
/// queued.
type RunRefused = (Error, Job, Vec<Job>, usize);

/// Why a batch stopped before its end.
enum Stop {
    /// A request refused before admission (bad input, `Busy`, shut down).
    Item(Error, Request, Completion),
    /// An admitted request no device can take.
    Job(Error, Job),
}

impl EngineInner {
    /// Submits requests in order until one is refused (see
    /// `Engine::submit_batch`).
    pub(crate) fn submit_batch(
        &self,
        s: &Arc<SessionInner>,
        mut items: impl Iterator<Item = (Request, Completion)>,
    ) -> Result<usize, BatchRejected> {
        let mut accepted = 0usize;
        let mut run: Vec<Job> = Vec::with_capacity(items.size_hint().0.clamp(1, MAX_RUN));
        let mut run_dev: Option<Arc<DeviceInner>> = None;
        // Why the batch stops early, once the run before it is queued.
        let mut stop: Option<Stop> = None;
        // One submission time for the batch.
        let now = self.now_ns();
        // Job boxes for the batch, taken from the pool under one lock (more
        // as they run out); those left over go back at the end.
        let mut slots = Spare::new();
        let want = items.size_hint().0.clamp(1, slots.inline_size());
        // Set when the run's device is the only capable one, for requests
        // with the same (no stream, no AAD) shape as the key.
        let mut sole: Option<(bool, bool)> = None;
        while let Some((request, completion)) = items.next() {
            if let Err(error) = self.admit_one(s, &request) {
                stop = Some(Stop::Item(error, request, completion));
                break;
            }
            if slots.is_empty() {
                self.jobs.take_some(want, &mut slots);
            }
            let slot = slots.pop().unwrap_or_else(|| self.jobs.take());
            let mut job = Job::new(slot, s, request, completion, now);
            job.charged = charge_of(&job.request);
            // The run's device was the only one able to take the previous
            // request: it is the only one for a request alike (the queue
            // bound is checked when the run is queued).
            let alike = (job.request.stream.is_none(), job.request.aad.is_empty());
            if sole == Some(alike) && run.len() < MAX_RUN {
                if let Some(d) = &run_dev {
                    job.assign_steps(d);
                    run.push(job);
                    continue;
                }
            }
            let pending = run_dev.as_ref().map(|d| (d.id, run.len()));
            let dev = match self.pick_device(&job, false, None, pending) {
                Ok((dev, only)) => {
                    sole = only.then_some(alike);
                    dev
                }
                Err(e) => {
                    stop = Some(Stop::Job(e, job));
                    break;
                }
            };
            if run_dev.as_ref().is_some_and(|d| !Arc::ptr_eq(d, &dev)) || run.len() >= MAX_RUN {
                if let Some(d) = run_dev.take() {
                    match self.queue_run(s, &d, std::mem::take(&mut run)) {
                        Ok(n) => accepted += n,
                        Err(r) => return Err(self.batch_refused(accepted, r, Some(job), items)),
                    }
                }
            }
            job.assign_steps(&dev);
            run_dev = Some(dev);
            run.push(job);
        }
        self.jobs.give(slots.drain(..));
        if let Some(d) = run_dev.take() {
            match self.queue_run(s, &d, run) {
                Ok(n) => accepted += n,
                Err(r) => {
                    // The run's refusal comes first; the stopping item is handed back with the rest.
                    return Err(match stop {
                        None => self.batch_refused(accepted, r, None, items),
                        Some(Stop::Job(_, job)) => self.batch_refused(accepted, r, Some(job), items),
                        Some(Stop::Item(_, req, c)) => {
                            self.batch_refused(accepted, r, None, std::iter::once((req, c)).chain(items))
                        }
                    });
                }
            }
        }
        let rejected = match stop {
            None => return Ok(accepted),
            Some(Stop::Item(error, request, _)) => Rejected { error, request },
            Some(Stop::Job(e, job)) => {
                let e = if self.state.load(Ordering::SeqCst) == RUNNING { e } else { Error::ShutDown };
                self.refuse(job, e)
            }
        };
        Err(BatchRejected { accepted, rejected, rest: items.collect() })
    }

    /// The checks and in-flight admission `submit` makes, without blocking.
    fn admit_one(&self, s: &SessionInner, request: &Request) -> Result<()> {
        if self.state.load(Ordering::SeqCst) != RUNNING {
            return Err(Error::ShutDown);
        }
        self.owns(s)?;
        Self::validate(s, request)?;
        let cur = self.in_flight.fetch_add(1, Ordering::SeqCst);
        // The same handshake with shutdown as `submit`'s.
        if self.state.load(Ordering::SeqCst) != RUNNING {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.changed.notify();
            return Err(Error::ShutDown);
        }
        if (cur as usize) >= self.config.max_in_flight || !self.bytes.try_charge(charge_of(request)) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.counters.rejected_busy.inc();
            return Err(Error::Busy);
        }
        Ok(())
    }

    /// Queues a run on `dev` under one lock. What does not fit (the queue
    /// filled up, or the device stopped taking work) is placed one by one as
    /// `submit` would, on another device if one has room; the first that
    /// cannot be placed ends the run.
    fn queue_run(&self, s: &SessionInner, dev: &Arc<DeviceInner>, run: Vec<Job>) -> Result<usize, RunRefused> {
        let mut it = run.into_iter();
        let mut queued = 0usize;
        let mut leftover = None;
        let was_empty = {
            let mut q = lock(&dev.queue);
            let before = q.len();
            if dev.state() == DeviceState::Active {
                let mut bytes = 0;
                for job in it.by_ref() {
                    let (b, prio) = (job.bytes(), job.session.priority);
                    match q.push(prio, job) {
                        Ok(()) => {
                            bytes += b;
                            queued += 1;
                        }
                        Err(j) => {
                            leftover = Some(j);
                            break;
                        }
                    }
                }
                dev.queued.store(q.len(), Ordering::Release);
                dev.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
                // Counted before the driver can complete any of it.
                let n = queued as u64;
                dev.counters.submitted.add(n);
                self.counters.submitted.add(n);
                s.submitted.add(n);
            } else {
                leftover = it.next();
            }
            before == 0 && queued > 0
        };
        if was_empty {
            dev.driver.data_ready();
        }
        if let Some(first) = leftover {
            let mut rest = std::iter::once(first).chain(it);
            while let Some(job) = rest.next() {
                match self.place_and_push(job, false, None) {
                    Ok(()) => {
                        self.counters.submitted.inc();
                        s.submitted.inc();
                        queued += 1;
                    }
                    Err((e, job)) => {
                        let e = if self.state.load(Ordering::SeqCst) == RUNNING { e } else { Error::ShutDown };
                        return Err((e, job, rest.collect(), queued));
                    }
                }
            }
        }
        Ok(queued)
    }

    /// Gives an admitted job back unqueued: its sequence number is skipped,
    /// it leaves the in-flight count, and its request and completion return.
    pub(crate) fn hand_back(&self, job: Job) -> (Request, Completion) {
        if let Some(seq) = job.seq {
            self.deliver_ordered(&job.session, seq, None);
        }
        self.bytes.release(job.charged);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify();
        let (data, slot) = job.into_parts();
        self.jobs.give(std::iter::once(slot));
        (data.request, data.completion)
    }

    /// Refuses an admitted job with `error`.
    fn refuse(&self, job: Job, error: Error) -> Rejected {
        if error == Error::Busy {
            self.counters.rejected_busy.inc();
        }
        let (request, _) = self.hand_back(job);
        Rejected { error, request }
    }

    /// The batch's refusal for a run that failed: the refused request, then
    /// the rest of the run, `next` (admitted, not yet queued) and `items`.
    fn batch_refused(
        &self,
        accepted: usize,
        (error, job, run_rest, queued): RunRefused,
        next: Option<Job>,
        items: impl Iterator<Item = (Request, Completion)>,
    ) -> BatchRejected {
        let rejected = self.refuse(job, error);
        let mut rest: Vec<(Request, Completion)> =
            run_rest.into_iter().chain(next).map(|j| self.hand_back(j)).collect();
        rest.extend(items);
        BatchRejected { accepted: accepted + queued, rejected, rest }
    }
}
