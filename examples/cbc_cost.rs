//! The multi-buffer CBC path through the engine, for profiling: one
//! software device, one aes-128-cbc session, `N` encryptions of 1504 bytes
//! kept 64 in flight with batched submission to a completion queue.
//! Prints the wall-clock MB/s and ns per request. Under
//! `valgrind --tool=callgrind`, two runs with different `N` give the
//! instructions per request of the whole path (submitter and worker), to
//! set beside the lanes' own cost (`multibuffer_lanes`).
//!
//! `cargo run --release --example cbc_cost -- N`

use acrypto::drivers::SoftDevice;
use acrypto::{Algorithm, Completion, CompletionQueue, Engine, Op, Request, SessionBuilder};
use std::time::Instant;

const SIZE: usize = 1504;
const IN_FLIGHT: usize = 64;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let e = Engine::builder().device(SoftDevice::new("soft0")).build().expect("engine");
    let alg: Algorithm = "aes-128-cbc".parse().expect("aes-128-cbc");
    let s = e.session(SessionBuilder::new().step(alg, Op::Encrypt, &[7; 16])).expect("session");
    let cq = CompletionQueue::new();
    let mut free: Vec<Request> = (0..IN_FLIGHT).map(|_| Request::new(vec![5; SIZE]).with_iv(&[1; 16])).collect();
    let mut got = Vec::with_capacity(IN_FLIGHT);
    let (mut sent, mut done) = (0usize, 0usize);
    let start = Instant::now();
    while done < n {
        let k = free.len().min(n - sent);
        if k > 0 {
            let items = free.drain(..k).map(|r| (r, Completion::Queue(cq.clone())));
            sent += e.submit_batch(&s, items).expect("submit_batch");
        }
        got.clear();
        cq.poll_carried(IN_FLIGHT, true, &mut got);
        done += got.len();
        for (d, _) in got.drain(..) {
            free.push(d.into_result().expect("encrypted"));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "aes-128-cbc {SIZE} B, {IN_FLIGHT} in flight: {n} requests, {:.0} MB/s, {:.0} ns per request",
        (n * SIZE) as f64 / secs / 1e6,
        secs * 1e9 / n as f64
    );
}
