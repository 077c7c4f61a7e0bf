//! The software device: one CPU worker thread per device, taking batches
//! from the device queue and running them with RustCrypto primitives.

use crate::crypto::apply_steps;
use crate::multibuffer;
use crate::worker::{lock, Wakeup};
use acrypto_core::{Algorithm, Capability, DeviceClass, DeviceHandle, Driver, Request, Result, Step, Work};
use smallvec::SmallVec;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Queue length a software device asks for by default.
pub const DEFAULT_QUEUE_LEN: usize = 4096;
/// Most items a worker takes from its queue at once.
pub const DEFAULT_BATCH: usize = 32;

/// A software crypto device backed by one worker thread.
pub struct SoftDevice {
    name: String,
    queue_len: usize,
    batch: usize,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    wake: Wakeup,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl SoftDevice {
    /// A software device with the default queue length and batch size.
    pub fn new(name: impl Into<String>) -> Self {
        SoftDevice { name: name.into(), queue_len: DEFAULT_QUEUE_LEN, batch: DEFAULT_BATCH, shared: Arc::default() }
    }

    /// Sets the queue length it asks for.
    pub fn queue_len(mut self, n: usize) -> Self {
        self.queue_len = n.max(1);
        self
    }

    /// Sets how many items the worker takes at once.
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    /// The algorithms the software device implements.
    pub fn algorithms() -> impl Iterator<Item = Algorithm> {
        Algorithm::all()
    }
}

/// `n` software devices named `soft0`, `soft1`, …
pub fn soft_devices(n: usize) -> Vec<SoftDevice> {
    (0..n).map(|i| SoftDevice::new(format!("soft{i}"))).collect()
}

/// The work a worker holds: requests taken from the queue, with how far
/// each one's lane has got, and reused buffers.
#[derive(Default)]
struct Held {
    work: Vec<Work>,
    progress: Vec<multibuffer::Progress>,
    keep_work: Vec<Work>,
    keep_progress: Vec<multibuffer::Progress>,
    finished: Vec<(Work, Result<()>)>,
    scratch: multibuffer::RoundScratch,
    statuses: Vec<Option<Result<()>>>,
}

impl Held {
    /// Runs one round: CBC encryptions under a shared key as multi-buffer
    /// lanes, the rest one by one (every item is independent, so a failure
    /// of one does not touch the others). The lanes stop early when some
    /// have finished and the queue has work to take their place; what is
    /// not finished stays held for the next round, the rest completes now.
    fn run_round(&mut self, dev: &DeviceHandle) {
        self.progress.resize(self.work.len(), multibuffer::Progress::default());
        {
            // On the stack for a batch of the default size (no allocation
            // per round).
            let mut items: SmallVec<[(&[Step], &mut Request); DEFAULT_BATCH]> =
                self.work.iter_mut().map(|w| w.parts()).collect();
            let stop = &mut |_| dev.queued() > 0;
            multibuffer::run_round_with(&mut items, &mut self.progress, stop, &mut self.scratch, &mut self.statuses);
        }
        for ((w, p), st) in self.work.drain(..).zip(self.progress.drain(..)).zip(self.statuses.drain(..)) {
            match st {
                Some(st) => self.finished.push((w, st)),
                None => {
                    self.keep_work.push(w);
                    self.keep_progress.push(p);
                }
            }
        }
        std::mem::swap(&mut self.work, &mut self.keep_work);
        std::mem::swap(&mut self.progress, &mut self.keep_progress);
        Work::complete_all(self.finished.drain(..));
    }
}

fn worker(shared: Arc<Shared>, dev: DeviceHandle, batch: usize) {
    let mut held = Held::default();
    loop {
        // Under load more work arrives within microseconds: look for it
        // before paying for a sleep and a wake.
        if acrypto_core::spin_until(&mut || dev.queued() > 0) {
            shared.wake.clear();
        } else if !shared.wake.wait() {
            return;
        }
        // data_ready fires only when the queue goes from empty to non-empty,
        // so take work until the queue is empty (and nothing is held part
        // way) before sleeping again. Each round fills the free places
        // from the queue; it never waits for more.
        loop {
            let room = batch.saturating_sub(held.work.len());
            dev.dequeue_into(room, &mut held.work);
            if held.work.is_empty() {
                break;
            }
            held.run_round(&dev);
        }
    }
}

impl Driver for SoftDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn driver(&self) -> &str {
        "soft"
    }

    fn capabilities(&self) -> Vec<Capability> {
        Self::algorithms().map(|a| Capability::new(a, self.queue_len)).collect()
    }

    fn class(&self) -> DeviceClass {
        DeviceClass::Cpu
    }

    fn stream_family(&self, alg: Algorithm) -> Option<String> {
        crate::stream::soft_family(alg)
    }

    /// Every software MAC step covers the request's AAD (`crypto::apply_step`).
    fn mac_over_aad(&self, alg: Algorithm) -> bool {
        alg.kind() == acrypto_core::OpKind::Mac
    }

    fn attach(&self, dev: DeviceHandle) {
        let shared = self.shared.clone();
        let batch = self.batch;
        let handle = dev.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("acrypto-{}", self.name))
            .spawn(move || worker(shared, handle, batch));
        match spawned {
            Ok(t) => *lock(&self.shared.thread) = Some(t),
            // Without its worker the device cannot run queued work.
            Err(e) => dev.mark_broken(&format!("cannot start worker thread: {e}")),
        }
    }

    fn data_ready(&self) {
        self.shared.wake.signal();
    }

    /// Parses an asymmetric step's DER key once per session.
    fn prepare(&self, step: &Step) -> Result<()> {
        if step.alg.kind() == acrypto_core::OpKind::Asym {
            crate::asym::prepare(step)?;
        }
        Ok(())
    }

    fn run_inline(&self, steps: &[Step], request: &mut Request) -> Option<Result<()>> {
        Some(apply_steps(steps, request))
    }

    fn detach(&self) {
        self.shared.wake.stop();
        if let Some(t) = lock(&self.shared.thread).take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}
