//! The engine's own cost per request, on the null device: `N` sha1
//! requests of 16 bytes submitted one at a time (`single`) or in batches
//! of 64 (`batch`) to a completion queue and polled back, on one thread.
//! Prints the wall-clock ns per request. Under
//! `valgrind --tool=callgrind`, two runs with different `N` give the
//! instructions per request (the difference over the difference of `N`).
//!
//! `cargo run --release --example null_cost -- single|batch N`

use acrypto::drivers::NullDevice;
use acrypto::{Algorithm, Completion, CompletionQueue, Engine, Op, Request, SessionBuilder};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let batch = args.get(1).map(String::as_str) == Some("batch");
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let e = Engine::builder().device(NullDevice::new("null")).completion_workers(0).build().expect("engine");
    let alg: Algorithm = "sha1".parse().expect("sha1");
    let s = e.session(SessionBuilder::new().step(alg, Op::Digest, &[])).expect("session");
    let cq = CompletionQueue::new();
    let mut reqs: Vec<Request> = (0..64).map(|_| Request::new(vec![7; 16])).collect();
    let mut got = Vec::with_capacity(64);
    let start = Instant::now();
    let mut done = 0;
    while done < n {
        let k = if batch { 64.min(n - done) } else { 1 };
        if batch {
            let items = reqs.drain(..k).map(|r| (r, Completion::Queue(cq.clone())));
            e.submit_batch(&s, items).expect("submit_batch");
        } else {
            let r = reqs.pop().expect("a request");
            e.submit(&s, r, Completion::Queue(cq.clone())).expect("submit");
        }
        got.clear();
        cq.poll_carried(64, false, &mut got);
        done += got.len();
        reqs.extend(got.drain(..).map(|(d, _)| d.request));
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{} submission: {n} requests, {ns:.0} ns per request", if batch { "batch" } else { "single" });
}
