//! The one place core takes its synchronisation primitives from.
//!
//! Under `--cfg acrypto_loom` the primitives come from `loom`, so the
//! engine's concurrency can be model-checked (as tokio does with its
//! `crate::loom` module). `Arc` stays `std`'s in both modes: loom's `Arc`
//! cannot hold trait objects, and what the models check is the locking and
//! atomics around it, not reference counting.

pub use std::sync::{Arc, Weak};
// A key's expanded schedule is set once and only read after; loom has no
// `OnceLock`, and the models check the engine's locking, not this cache.
pub(crate) use std::sync::OnceLock;

#[cfg(not(acrypto_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(not(acrypto_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard, RwLock};
#[cfg(not(acrypto_loom))]
pub(crate) use std::thread;
#[cfg(not(acrypto_loom))]
pub(crate) use std::thread_local;

#[cfg(acrypto_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(acrypto_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard, RwLock};
#[cfg(acrypto_loom)]
pub(crate) use loom::thread;
#[cfg(acrypto_loom)]
pub(crate) use loom::thread_local;

/// Locks a mutex, ignoring poisoning: every critical section in core leaves
/// its data consistent before anything that could panic (callbacks run
/// outside locks), so a poisoned lock still guards valid state.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Waits on a condition variable, ignoring poisoning (see [`lock`]).
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(g) {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub(crate) fn read<T>(l: &RwLock<T>) -> loom_or_std::ReadGuard<'_, T> {
    match l.read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub(crate) fn write<T>(l: &RwLock<T>) -> loom_or_std::WriteGuard<'_, T> {
    match l.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub(crate) mod loom_or_std {
    #[cfg(acrypto_loom)]
    pub(crate) use loom::sync::{RwLockReadGuard as ReadGuard, RwLockWriteGuard as WriteGuard};
    #[cfg(not(acrypto_loom))]
    pub(crate) use std::sync::{RwLockReadGuard as ReadGuard, RwLockWriteGuard as WriteGuard};
}
