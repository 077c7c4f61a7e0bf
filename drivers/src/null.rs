//! The null device: a measuring tool, never a default.
//!
//! It claims every algorithm and completes every request at once with
//! `Ok`, leaving the buffers as they are, so what a benchmark measures on
//! it is the engine's own cost per request: admission, balancing, queueing,
//! dequeuing, completion and delivery. It has no thread: when the engine
//! says `data_ready`, it takes the whole queue in batches on the calling
//! thread (the submitter, after the queue lock is released) and completes
//! it there, so no thread hop is measured either. Its output is not
//! encrypted: never use it for data.

use acrypto_core::{Algorithm, Capability, DeviceHandle, Driver, Request, Result, Step, Work};
use std::sync::{Mutex, PoisonError};

/// Queue length the null device asks for.
pub const NULL_QUEUE_LEN: usize = 4096;
/// Most items it takes from its queue at once.
pub const NULL_BATCH: usize = 256;

thread_local!(static SCRATCH: std::cell::RefCell<Vec<Work>> = const { std::cell::RefCell::new(Vec::new()) });

/// A device that completes every request at once, untouched.
pub struct NullDevice {
    name: String,
    handle: Mutex<Option<DeviceHandle>>,
}

impl NullDevice {
    /// A null device named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NullDevice { name: name.into(), handle: Mutex::new(None) }
    }

    fn handle(&self) -> Option<DeviceHandle> {
        self.handle.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Driver for NullDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn driver(&self) -> &str {
        "null"
    }

    /// It claims every algorithm, AAD included (it computes nothing).
    fn mac_over_aad(&self, _alg: Algorithm) -> bool {
        true
    }

    fn capabilities(&self) -> Vec<Capability> {
        Algorithm::all().map(|a| Capability::new(a, NULL_QUEUE_LEN)).collect()
    }

    fn attach(&self, device: DeviceHandle) {
        *self.handle.lock().unwrap_or_else(PoisonError::into_inner) = Some(device);
    }

    fn data_ready(&self) {
        let Some(dev) = self.handle() else { return };
        // The batch buffer is the thread's, reused, so taking work allocates
        // nothing; a delivery that submits again on this thread (and so
        // comes back here) uses a fresh one.
        let mut batch = SCRATCH.with(|s| s.try_borrow_mut().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default());
        while dev.dequeue_into(NULL_BATCH, &mut batch) > 0 {
            Work::complete_all(batch.drain(..).map(|w| (w, Ok(()))));
        }
        SCRATCH.with(|s| {
            if let Ok(mut v) = s.try_borrow_mut() {
                if v.capacity() < batch.capacity() {
                    *v = batch;
                }
            }
        });
    }

    fn run_inline(&self, _steps: &[Step], _request: &mut Request) -> Option<Result<()>> {
        Some(Ok(()))
    }

    fn detach(&self) {
        self.handle.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}
