//! What the drivers' worker threads share: a poison-tolerant lock and the
//! wake-up signal between a device's `data_ready` and its workers.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks a mutex, ignoring poisoning: a worker that panicked left no
/// half-updated state behind these locks (flags and handles only).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `data_ready` fires only when a device queue goes from empty to
/// non-empty, so a worker woken by it takes work until the queue is empty
/// before it waits again; the flag it clears on waking keeps a signal sent
/// while it worked from being lost.
#[derive(Default)]
pub(crate) struct Wakeup {
    state: Mutex<Flags>,
    cv: Condvar,
}

#[derive(Default)]
struct Flags {
    ready: bool,
    stop: bool,
}

impl Wakeup {
    /// Work is (or may be) waiting: wakes one worker.
    pub(crate) fn signal(&self) {
        lock(&self.state).ready = true;
        self.cv.notify_one();
    }

    /// The device is detaching: wakes every worker to stop.
    pub(crate) fn stop(&self) {
        lock(&self.state).stop = true;
        self.cv.notify_all();
    }

    /// Clears a pending signal (a worker that found work without waiting).
    pub(crate) fn clear(&self) {
        lock(&self.state).ready = false;
    }

    /// Waits for a signal and clears it. `false`: stop, nothing signalled.
    pub(crate) fn wait(&self) -> bool {
        let mut f = lock(&self.state);
        while !f.ready && !f.stop {
            f = self.cv.wait(f).unwrap_or_else(|p| p.into_inner());
        }
        if f.stop && !f.ready {
            return false;
        }
        f.ready = false;
        true
    }
}
