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

    fn capabilities(&self) -> Vec<Capability> {
        Algorithm::all().map(|a| Capability::new(a, NULL_QUEUE_LEN)).collect()
    }

    fn attach(&self, device: DeviceHandle) {
        *self.handle.lock().unwrap_or_else(PoisonError::into_inner) = Some(device);
    }

    fn data_ready(&self) {
        let Some(dev) = self.handle() else { return };
        loop {
            let batch = dev.dequeue_batch(NULL_BATCH);
            if batch.is_empty() {
                return;
            }
            Work::complete_all(batch.into_iter().map(|w| (w, Ok(()))));
        }
    }

    fn run_inline(&self, _steps: &[Step], _request: &mut Request) -> Option<Result<()>> {
        Some(Ok(()))
    }

    fn detach(&self) {
        self.handle.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}
