//! Which engines' completion deliveries the current thread is inside of.
//!
//! A completion delivered in the completing context (a DIRECT callback, a
//! completion queue push, a slot fill) runs on a thread the engine needs in
//! order to make progress: a driver's thread, or the thread that finished
//! the work. A call on the same engine from there that blocks until other
//! work completes (`run`, `submit_blocking`, `wait_idle`) could wait for
//! itself forever; the engine refuses it with [`Error::WouldDeadlock`]
//! instead. Deferred callbacks run on completion workers, which the engine
//! does not need for progress, and are not marked.

use crate::error::Error;
use crate::sync::thread_local;
use std::cell::RefCell;

// The engine ids of the deliveries this thread is inside of, innermost last.
// (loom's `thread_local!` takes no `const` initialiser.)
#[cfg(not(acrypto_loom))]
thread_local!(static INSIDE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) });
#[cfg(acrypto_loom)]
thread_local!(static INSIDE: RefCell<Vec<u64>> = RefCell::new(Vec::new()));

/// Marks the current thread as inside a delivery of engine `engine` while
/// it lives.
pub(crate) struct Delivering(());

impl Delivering {
    pub(crate) fn enter(engine: u64) -> Delivering {
        // `try_with`: while a thread's locals are destroyed (an `atexit`
        // handler freeing an engine) nothing is marked, and nothing is
        // popped in `drop` either.
        let _ = INSIDE.try_with(|v| v.borrow_mut().push(engine));
        Delivering(())
    }
}

impl Drop for Delivering {
    fn drop(&mut self) {
        let _ = INSIDE.try_with(|v| {
            v.borrow_mut().pop();
        });
    }
}

/// How many deliveries of engine `engine` the current thread is inside of
/// (none once the thread's locals are gone, e.g. in an `atexit` handler).
pub(crate) fn depth(engine: u64) -> u64 {
    INSIDE.try_with(|v| v.borrow().iter().filter(|&&e| e == engine).count() as u64).unwrap_or(0)
}

/// Refuses a blocking call `what` on engine `engine` from inside one of its
/// deliveries.
pub(crate) fn refuse_inside(engine: u64, what: &str) -> Result<(), Error> {
    if depth(engine) > 0 {
        return Err(Error::WouldDeadlock(format!(
            "{what} called from inside a completion delivered on this engine's own thread \
             (a DIRECT callback or a completing context); it would wait for itself"
        )));
    }
    Ok(())
}
