//! Test drivers: a scripted device that runs real crypto (the software
//! primitives) but can be gated, fail at random, break after a number of
//! items, record the order it ran work in, and run inline or not.
//!
//! The data comes out of the same RustCrypto primitives the soft device
//! uses (`apply_steps`), and the tests compute their expected outputs with
//! those crates too: these tests prove the engine's logic (routing, order,
//! retries, exactly-once delivery), not the primitives. The primitives are
//! proven by the known-answer vectors (`tests/kat.rs`) and the OpenSSL
//! cross-checks (`tests/crosscheck.rs`).
//!
//! A gated device's worker tells the test when it holds work (`held`), so
//! that a test knows what the worker took instead of sleeping and hoping.
#![allow(dead_code)]

use acrypto::drivers::crypto::apply_steps;
use acrypto::{Algorithm, Capability, DeviceClass, DeviceHandle, Driver, Error, Request, Result, Step, Work};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

/// How long a test waits for a hand-off before it fails (a hang is a bug;
/// this is only far beyond any wait a loaded machine needs).
pub const HAND_OFF_TIMEOUT: Duration = Duration::from_secs(120);

/// What a scripted device does.
#[derive(Clone)]
pub struct Script {
    pub algs: Vec<Algorithm>,
    pub queue_len: usize,
    pub batch: usize,
    /// Fail one item in `fail_one_in` with a device fault (0 = never).
    pub fail_one_in: u64,
    /// Mark the device broken after this many items (0 = never).
    pub break_after: u64,
    /// Offer the inline path.
    pub inline: bool,
    pub class: DeviceClass,
    pub rate: Option<u64>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            algs: Algorithm::all().collect(),
            queue_len: 1024,
            batch: 16,
            fail_one_in: 0,
            break_after: 0,
            inline: false,
            class: DeviceClass::Other,
            rate: None,
        }
    }
}

pub struct Shared {
    wake: Mutex<(bool, bool)>, // (ready, stop)
    cv: Condvar,
    gate: Mutex<bool>,
    gate_cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    handle: Mutex<Option<DeviceHandle>>,
    pub processed: AtomicU64,
    pub failed: AtomicU64,
    /// `user` of every request this device ran, in order.
    pub order: Mutex<Vec<u64>>,
    pub record_order: AtomicBool,
    /// Threads that ran inline work.
    pub inline_threads: Mutex<Vec<ThreadId>>,
    /// Threads that ran queued work.
    pub worker_threads: Mutex<Vec<ThreadId>>,
    /// The worker sends the `user` of each item it holds at the closed gate,
    /// before it starts waiting there.
    held_tx: Mutex<Sender<u64>>,
    held_rx: Mutex<Receiver<u64>>,
}

impl Default for Shared {
    fn default() -> Self {
        let (tx, rx) = channel();
        Shared {
            wake: Mutex::default(),
            cv: Condvar::new(),
            gate: Mutex::new(true),
            gate_cv: Condvar::new(),
            thread: Mutex::default(),
            handle: Mutex::default(),
            processed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            order: Mutex::default(),
            record_order: AtomicBool::new(false),
            inline_threads: Mutex::default(),
            worker_threads: Mutex::default(),
            held_tx: Mutex::new(tx),
            held_rx: Mutex::new(rx),
        }
    }
}

pub struct Scripted {
    name: String,
    script: Script,
    pub shared: Arc<Shared>,
}

impl Scripted {
    pub fn new(name: &str, script: Script) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.gate.lock().unwrap() = true;
        Scripted { name: name.into(), script, shared }
    }

    /// A device whose worker waits until `open` is called.
    pub fn gated(name: &str, script: Script) -> Self {
        let d = Self::new(name, script);
        *d.shared.gate.lock().unwrap() = false;
        d
    }
}

impl Shared {
    pub fn open(&self) {
        *self.gate.lock().unwrap() = true;
        self.gate_cv.notify_all();
    }
    pub fn close(&self) {
        *self.gate.lock().unwrap() = false;
    }
    pub fn order(&self) -> Vec<u64> {
        self.order.lock().unwrap().clone()
    }
    /// Waits until the worker holds one more item at the closed gate and
    /// returns its `user`. Each item is reported once, in the order the
    /// worker took them; fails the test after `HAND_OFF_TIMEOUT`.
    pub fn held(&self) -> u64 {
        self.held_rx
            .lock()
            .unwrap()
            .recv_timeout(HAND_OFF_TIMEOUT)
            .expect("the gated worker never took the work it was expected to hold")
    }
    /// Items reported held and not yet collected by `held`.
    pub fn held_now(&self) -> Vec<u64> {
        self.held_rx.lock().unwrap().try_iter().collect()
    }
}

/// Waits until `cond` holds (a state another thread reaches), checking it
/// often; fails the test with `what` after `HAND_OFF_TIMEOUT`. For hand-offs
/// the engine exposes only as state, never as a guess at how long it takes.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < HAND_OFF_TIMEOUT, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn rand_u64() -> u64 {
    use std::cell::Cell;
    thread_local!(static S: Cell<u64> = Cell::new(0x243F_6A88_85A3_08D3 ^ (std::process::id() as u64)));
    S.with(|s| {
        // xorshift64*: test-only fault scheduling, not cryptography.
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

fn run(shared: &Shared, script: &Script, dev: &DeviceHandle, mut w: Work) {
    {
        let mut g = shared.gate.lock().unwrap();
        if !*g {
            let _ = shared.held_tx.lock().unwrap().send(w.request().user);
        }
        let start = Instant::now();
        while !*g {
            if start.elapsed() > HAND_OFF_TIMEOUT {
                // The test failed with the gate closed (the engine's drop then
                // waits for this work): let it finish so that the failure is
                // reported instead of hanging.
                eprintln!("scripted: a gate stayed closed for {HAND_OFF_TIMEOUT:?}; opening it");
                *g = true;
                break;
            }
            g = shared.gate_cv.wait_timeout(g, Duration::from_secs(1)).unwrap().0;
        }
    }
    let n = shared.processed.fetch_add(1, Ordering::SeqCst) + 1;
    if shared.record_order.load(Ordering::Relaxed) {
        shared.order.lock().unwrap().push(w.request().user);
    }
    if script.break_after != 0 && n == script.break_after {
        dev.mark_broken("scripted break");
    }
    if script.break_after != 0 && n >= script.break_after {
        // A broken device fails what it still holds.
        shared.failed.fetch_add(1, Ordering::Relaxed);
        return w.complete(Err(Error::DeviceFailure("scripted: broken".into())));
    }
    if script.fail_one_in != 0 && rand_u64().is_multiple_of(script.fail_one_in) {
        shared.failed.fetch_add(1, Ordering::Relaxed);
        return w.complete(Err(Error::DeviceFailure("scripted: random fault".into())));
    }
    let (steps, req) = w.parts();
    let st = apply_steps(steps, req);
    w.complete(st);
}

impl Driver for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    fn driver(&self) -> &str {
        "scripted"
    }
    fn capabilities(&self) -> Vec<Capability> {
        self.script
            .algs
            .iter()
            .map(|a| Capability { alg: *a, max_queue: self.script.queue_len, rate: self.script.rate })
            .collect()
    }
    fn class(&self) -> DeviceClass {
        self.script.class
    }
    fn attach(&self, dev: DeviceHandle) {
        *self.shared.handle.lock().unwrap() = Some(dev.clone());
        let shared = self.shared.clone();
        let script = self.script.clone();
        let t = std::thread::spawn(move || {
            shared.worker_threads.lock().unwrap().push(std::thread::current().id());
            loop {
                {
                    let mut g = shared.wake.lock().unwrap();
                    while !g.0 && !g.1 {
                        g = shared.cv.wait(g).unwrap();
                    }
                    if g.1 && !g.0 {
                        return;
                    }
                    g.0 = false;
                }
                loop {
                    let batch = dev.dequeue_batch(script.batch);
                    if batch.is_empty() {
                        break;
                    }
                    for w in batch {
                        run(&shared, &script, &dev, w);
                    }
                }
            }
        });
        *self.shared.thread.lock().unwrap() = Some(t);
    }
    fn data_ready(&self) {
        self.shared.wake.lock().unwrap().0 = true;
        self.shared.cv.notify_one();
    }
    fn run_inline(&self, steps: &[Step], request: &mut Request) -> Option<Result<()>> {
        if !self.script.inline {
            return None;
        }
        self.shared.inline_threads.lock().unwrap().push(std::thread::current().id());
        if self.script.fail_one_in == 1 {
            self.shared.failed.fetch_add(1, Ordering::Relaxed);
            return Some(Err(Error::DeviceFailure("scripted: inline fault".into())));
        }
        Some(apply_steps(steps, request))
    }
    fn detach(&self) {
        self.shared.open();
        self.shared.wake.lock().unwrap().1 = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.shared.thread.lock().unwrap().take() {
            let _ = t.join();
        }
        self.shared.handle.lock().unwrap().take();
    }
}

/// Runs a future to completion on this thread (no runtime).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

pub const AES128: Algorithm = Algorithm::Aes { key_bits: 128, mode: acrypto::CipherMode::Cbc };
pub const AES128CTR: Algorithm = Algorithm::Aes { key_bits: 128, mode: acrypto::CipherMode::Ctr };
pub const HMAC_SHA1: Algorithm = Algorithm::Hmac(acrypto::DigestKind::Sha1);
