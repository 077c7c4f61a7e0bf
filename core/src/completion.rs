//! How a finished request reaches its owner: a callback (direct, or
//! deferred to a completion worker), a polled completion queue, a blocking
//! wait, or a Rust `Future` (no runtime needed).

use crate::request::Done;
use crate::sync::{lock, wait, Arc, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A callback run once with the finished request.
pub type Callback = Box<dyn FnOnce(Done) + Send + 'static>;

/// Where a request's completion goes.
pub enum Completion {
    /// Call this once. Runs on a completion worker unless the session is
    /// DIRECT, in which case it runs in the completing context.
    Callback(Callback),
    /// Push onto this queue for the application to poll.
    Queue(CompletionQueue),
    /// Push onto this queue with data handed back beside the request
    /// ([`CompletionQueue::poll_carried`]); a C binding keeps its output
    /// pointers there, so it needs no queue of its own.
    QueueCarry(CompletionQueue, Carry),
    /// Fill a [`Pending`]'s slot (blocking wait and `Future`); made by
    /// [`Pending::completion`].
    Slot(SlotHandle),
}

impl Completion {
    /// A callback completion.
    pub fn callback(f: impl FnOnce(Done) + Send + 'static) -> Self {
        Completion::Callback(Box::new(f))
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Completion::Callback(_) => f.write_str("Completion::Callback"),
            Completion::Queue(_) => f.write_str("Completion::Queue"),
            Completion::QueueCarry(..) => f.write_str("Completion::QueueCarry"),
            Completion::Slot(_) => f.write_str("Completion::Slot"),
        }
    }
}

/// A finished request on its way to delivery.
pub(crate) struct Finished {
    pub(crate) done: Done,
    pub(crate) completion: Completion,
}

/// Checks `ready` for a short while before a caller goes to sleep: a wait
/// is usually short under load, and a futex sleep and wake cost more than
/// the work of a small request. Spins a little, then yields the CPU (so a
/// worker sharing it runs), then gives up. Not under loom, where a spin
/// only multiplies the states explored.
pub fn spin_until(ready: &mut impl FnMut() -> bool) -> bool {
    #[cfg(not(acrypto_loom))]
    for i in 0..SPIN_ROUNDS {
        if ready() {
            return true;
        }
        if i < SPIN_ROUNDS / 4 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    ready()
}

#[cfg(not(acrypto_loom))]
const SPIN_ROUNDS: u32 = 256;

/// Wakes sleepers on a condition only when someone sleeps: a notify with no
/// waiter costs one atomic load instead of a futex call. A sleeper is a
/// blocked thread or a task's `Waker` (woken once, at the next notify).
#[derive(Default)]
pub(crate) struct Waiters {
    count: AtomicUsize,
    lock: Mutex<()>,
    cv: Condvar,
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    /// Sleeps until `ready()` holds. `ready` is checked under the lock after
    /// registering as a waiter, and notifiers change state before calling
    /// [`notify`](Self::notify), so no wakeup is lost.
    pub(crate) fn wait_until(&self, mut ready: impl FnMut() -> bool) {
        if spin_until(&mut ready) {
            return;
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        let mut g = lock(&self.lock);
        while !ready() {
            g = wait(&self.cv, g);
        }
        drop(g);
        self.count.fetch_sub(1, Ordering::AcqRel);
    }

    /// Wakes `w` at the next notify. The caller checks its condition again
    /// after registering (a change before the registration is seen by that
    /// check, one after it notifies).
    pub(crate) fn register(&self, w: &Waker) {
        let mut ws = lock(&self.wakers);
        ws.push(w.clone());
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn notify(&self) {
        // A read-modify-write, not a load: it reads the latest count, so a
        // waiter that registered before it is seen (and one that registers
        // after it sees the state change), under acquire/release alone.
        if self.count.fetch_add(0, Ordering::AcqRel) > 0 {
            {
                let _g = lock(&self.lock);
                self.cv.notify_all();
            }
            let woken = std::mem::take(&mut *lock(&self.wakers));
            if !woken.is_empty() {
                self.count.fetch_sub(woken.len(), Ordering::AcqRel);
                woken.into_iter().for_each(Waker::wake);
            }
        }
    }
}

/// Plain data a completion carries beside its request, handed back
/// untouched with it by [`CompletionQueue::poll_carried`]: no allocation,
/// no meaning to the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carry(pub [usize; 6]);

/// Runs on a queue's emptiness changes; see [`CompletionQueue::set_notifier`].
type Notifier = Arc<dyn Fn(bool) + Send + Sync>;

/// A queue of finished requests that the application drains (for event
/// loops). Cheap to clone. An optional notifier runs on every change
/// between empty and non-empty (the C API uses it to keep a file
/// descriptor readable exactly while completions wait).
#[derive(Clone, Default)]
pub struct CompletionQueue(Arc<CqInner>);

#[derive(Default)]
struct CqInner {
    items: Mutex<CqItems>,
    ready: Waiters,
}

#[derive(Default)]
struct CqItems {
    list: VecDeque<(Done, Carry)>,
    notifier: Option<Notifier>,
    /// Set by [`CompletionQueue::close`]: later completions are dropped.
    closed: bool,
}

impl CqItems {
    /// Takes up to `max`; tells the notifier (under the lock) if that
    /// empties the queue.
    fn take(&mut self, max: usize) -> std::collections::vec_deque::Drain<'_, (Done, Carry)> {
        let n = max.min(self.list.len());
        if n > 0 && n == self.list.len() {
            if let Some(f) = &self.notifier {
                f(false);
            }
        }
        self.list.drain(..n)
    }
}

impl fmt::Debug for CompletionQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompletionQueue({} waiting)", self.len())
    }
}

impl CompletionQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the function run on every change between empty and non-empty:
    /// `f(true)` when a completion arrives in an empty queue, `f(false)`
    /// when a poll or [`close`](Self::close) takes the last one. It runs
    /// under the queue's lock, so the changes reach it in order and none
    /// is lost (it must be short and must not use the queue). Called with
    /// `true` at once if completions already wait.
    pub fn set_notifier(&self, f: impl Fn(bool) + Send + Sync + 'static) {
        let mut q = lock(&self.0.items);
        if !q.list.is_empty() {
            f(true);
        }
        q.notifier = Some(Arc::new(f));
    }

    /// Finished requests waiting.
    pub fn len(&self) -> usize {
        lock(&self.0.items).list.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes up to `max` finished requests without blocking.
    pub fn poll(&self, max: usize) -> Vec<Done> {
        lock(&self.0.items).take(max).map(|(d, _)| d).collect()
    }

    /// Blocks until at least one finished request waits, then takes up to `max`.
    pub fn wait(&self, max: usize) -> Vec<Done> {
        self.0.ready.wait_until(|| !lock(&self.0.items).list.is_empty());
        self.poll(max)
    }

    /// Takes up to `max` finished requests with what each carries
    /// ([`Completion::QueueCarry`]; [`Carry::default`] for
    /// [`Completion::Queue`]), appending them to `out`; blocks first until
    /// one waits if `block`. Returns how many were taken.
    pub fn poll_carried(&self, max: usize, block: bool, out: &mut Vec<(Done, Carry)>) -> usize {
        loop {
            if block {
                self.0.ready.wait_until(|| !lock(&self.0.items).list.is_empty());
            }
            let before = out.len();
            out.extend(lock(&self.0.items).take(max));
            // Another consumer may have emptied it between the wait and the take.
            if !block || out.len() > before || max == 0 {
                return out.len() - before;
            }
        }
    }

    /// Drops every waiting completion and every later one: their requests
    /// are never handed out (their owner went away).
    pub fn close(&self) {
        let mut q = lock(&self.0.items);
        q.closed = true;
        let n = q.list.len();
        q.take(n).for_each(drop);
    }

    /// Appends one finished request (as the engine would deliver it).
    pub fn push(&self, d: Done, carry: Carry) {
        self.push_all(std::iter::once((d, carry)));
    }

    /// A pusher holding the queue's lock until dropped.
    pub(crate) fn pusher(&self) -> QueuePush<'_> {
        let items = lock(&self.0.items);
        let was_empty = items.list.is_empty();
        QueuePush { queue: self, items: Some(items), was_empty }
    }

    /// Whether `other` is this same queue.
    pub(crate) fn same(&self, other: &CompletionQueue) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Appends finished requests under one lock, waking consumers once.
    pub(crate) fn push_all(&self, list: impl IntoIterator<Item = (Done, Carry)>) {
        let was_empty = {
            let mut q = lock(&self.0.items);
            if q.closed {
                return;
            }
            let before = q.list.len();
            q.list.extend(list);
            let was_empty = before == 0 && !q.list.is_empty();
            if was_empty {
                if let Some(f) = &q.notifier {
                    f(true);
                }
            }
            was_empty
        };
        // A consumer sleeps only on an empty queue, so only the push that
        // makes it non-empty needs to wake anyone.
        if was_empty {
            self.0.ready.notify();
        }
    }
}

/// Pushes onto a completion queue under one lock; on drop, tells the
/// notifier and wakes consumers if the pushes made the queue non-empty.
pub(crate) struct QueuePush<'a> {
    queue: &'a CompletionQueue,
    items: Option<MutexGuard<'a, CqItems>>,
    was_empty: bool,
}

impl QueuePush<'_> {
    /// Appends one finished request (dropped if the queue is closed).
    pub(crate) fn push(&mut self, d: Done, carry: Carry) {
        if let Some(q) = self.items.as_mut().filter(|q| !q.closed) {
            q.list.push_back((d, carry));
        }
    }
}

impl Drop for QueuePush<'_> {
    fn drop(&mut self) {
        let Some(q) = self.items.take() else { return };
        let wake = self.was_empty && !q.list.is_empty();
        if wake {
            if let Some(f) = &q.notifier {
                f(true);
            }
        }
        drop(q);
        // A consumer sleeps only on an empty queue, so only the push that
        // makes it non-empty needs to wake anyone.
        if wake {
            self.queue.0.ready.notify();
        }
    }
}

/// A request's completion to wait for, by blocking or as a `Future`.
///
/// One owner: a `Pending` is not `Clone`, so exactly one task waits on it
/// and is woken (share the result, not the handle). Made by
/// `Engine::submit_pending`, or by [`Pending::new`] with
/// [`Pending::completion`] for `Engine::submit`.
#[derive(Default)]
pub struct Pending(Arc<Slot>);

/// The engine's side of a [`Pending`]: where the completion goes.
pub struct SlotHandle(Arc<Slot>);

impl fmt::Debug for SlotHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotHandle")
    }
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Waiters,
}

#[derive(Default)]
struct SlotState {
    done: Option<Done>,
    waker: Option<Waker>,
    filled: bool,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pending(finished: {})", self.is_finished())
    }
}

impl Pending {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The completion that fills this slot, to pass to `Engine::submit`
    /// (for one request: a second completion of the same slot is ignored).
    pub fn completion(&self) -> Completion {
        Completion::Slot(SlotHandle(self.0.clone()))
    }

    /// Whether the request has finished.
    pub fn is_finished(&self) -> bool {
        lock(&self.0.state).filled
    }

    /// Blocks until the request finishes.
    pub fn wait(self) -> Done {
        self.0.ready.wait_until(|| lock(&self.0.state).filled);
        self.try_take().unwrap_or_else(taken_twice)
    }

    /// Takes the result if the request has finished.
    pub fn try_take(&self) -> Option<Done> {
        lock(&self.0.state).done.take()
    }
}

impl SlotHandle {
    /// Fills the slot (as the engine would deliver to it); a second fill is
    /// ignored.
    pub fn fill(&self, d: Done) {
        let waker = {
            let mut s = lock(&self.0.state);
            if s.filled {
                return;
            }
            s.done = Some(d);
            s.filled = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        self.0.ready.notify();
    }
}

/// The result was taken already (`try_take`, then `wait` or `.await`).
fn taken_twice() -> Done {
    Done {
        request: Default::default(),
        status: Err(crate::Error::InvalidArgument("completion already taken (try_take)".into())),
    }
}

impl Future for Pending {
    type Output = Done;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Done> {
        let mut s = lock(&self.0.state);
        if s.filled {
            return Poll::Ready(s.done.take().unwrap_or_else(taken_twice));
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// The queue a completion goes to, with what it carries.
pub(crate) fn queue_of(c: &Completion) -> Option<(&CompletionQueue, Carry)> {
    match c {
        Completion::Queue(q) => Some((q, Carry::default())),
        Completion::QueueCarry(q, carry) => Some((q, *carry)),
        _ => None,
    }
}

pub(crate) fn deliver_now(f: Finished) {
    match f.completion {
        Completion::Callback(cb) => {
            // A panicking callback must not take a driver or worker thread down.
            let done = f.done;
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || cb(done)));
        }
        Completion::Queue(q) => q.push(f.done, Carry::default()),
        Completion::QueueCarry(q, carry) => q.push(f.done, carry),
        Completion::Slot(p) => p.fill(f.done),
    }
}
