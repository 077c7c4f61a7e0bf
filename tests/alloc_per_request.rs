//! The engine's hot path allocates nothing per request beyond the
//! request's own buffers: a counting global allocator watches requests go
//! through the null device (which completes them on the submitting
//! thread), submitted one at a time and in batches, to a completion queue.

use acrypto::drivers::NullDevice;
use acrypto::{Algorithm, Completion, CompletionQueue, Engine, Op, Request, SessionBuilder};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations made on the current thread.
struct Counting;

thread_local!(static ALLOCS: Cell<u64> = const { Cell::new(0) });

// SAFETY: every call goes straight to the system allocator; the count is a
// thread-local Cell with a const initialiser (no allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

const N: usize = 4096;
const BATCH: usize = 64;

#[test]
fn requests_through_the_engine_allocate_nothing_of_their_own() {
    let e = Engine::builder().device(NullDevice::new("null")).completion_workers(0).build().unwrap();
    let s = e.session(SessionBuilder::new().step("sha1".parse::<Algorithm>().unwrap(), Op::Digest, &[])).unwrap();
    let cq = CompletionQueue::new();
    // Buffers made up front: a request's own allocations are not counted.
    let fresh = || -> Vec<Request> { (0..N).map(|i| Request::new(vec![i as u8; 64]).with_user(i as u64)).collect() };
    let mut got = Vec::with_capacity(2 * N);
    let run = |single: bool, reqs: Vec<Request>, got: &mut Vec<_>| -> u64 {
        got.clear();
        let before = allocs();
        if single {
            for r in reqs {
                e.submit(&s, r, Completion::Queue(cq.clone())).unwrap();
                cq.poll_carried(BATCH, false, got);
            }
        } else {
            let mut it = reqs.into_iter().peekable();
            while it.peek().is_some() {
                let items = it.by_ref().take(BATCH).map(|r| (r, Completion::Queue(cq.clone())));
                assert_eq!(e.submit_batch(&s, items).unwrap(), BATCH);
                cq.poll_carried(BATCH, false, got);
            }
        }
        let n = allocs() - before;
        assert_eq!(got.len(), N);
        assert!(got.iter().enumerate().all(|(i, (d, _))| d.status.is_ok() && d.request.user == i as u64));
        n
    };
    // A first round grows the queues and buffers to their working size.
    for single in [true, false] {
        run(single, fresh(), &mut got);
    }
    for single in [true, false] {
        let n = run(single, fresh(), &mut got);
        println!("{} submission: {n} allocations for {N} requests", if single { "single" } else { "batch" });
        // Nothing per request (a box per request alone would be N); a
        // batch's own lists (the run to queue, the completions to deliver)
        // are a few per batch.
        let bound = if single { N / 100 } else { 4 * N / BATCH };
        assert!(n as usize <= bound, "{n} allocations for {N} requests (bound {bound})");
    }
}
