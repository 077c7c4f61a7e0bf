//! Process-unique ids: every engine and every session gets one, so a
//! session names the engine that made it and no two sessions share an id,
//! whichever engines made them.

use std::sync::atomic::{AtomicU64, Ordering};

// Not a loom primitive: the models check the engine's locking, and an id
// counter has no ordering to check.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A fresh id, never handed out before in this process.
pub(crate) fn next_id() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}
