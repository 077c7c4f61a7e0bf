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
/// while it worked from being lost. A signal wakes the condition variable
/// only when a worker sleeps on it: a notify is a futex call even with no
/// waiter, and under load the worker spins for work instead of sleeping.
#[derive(Default)]
pub(crate) struct Wakeup {
    state: Mutex<Flags>,
    cv: Condvar,
}

#[derive(Default)]
struct Flags {
    ready: bool,
    stop: bool,
    /// Workers blocked in `wait` (set and cleared under the lock).
    sleeping: usize,
}

impl Wakeup {
    /// Work is (or may be) waiting: wakes one worker.
    pub(crate) fn signal(&self) {
        let sleeping = {
            let mut f = lock(&self.state);
            f.ready = true;
            f.sleeping
        };
        // A worker not yet asleep checks `ready` under the lock before it
        // blocks, so it cannot miss this signal.
        if sleeping > 0 {
            self.cv.notify_one();
        }
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
            f.sleeping += 1;
            f = self.cv.wait(f).unwrap_or_else(|p| p.into_inner());
            f.sleeping -= 1;
        }
        if f.stop && !f.ready {
            return false;
        }
        f.ready = false;
        true
    }
}
