//! Overload: submit far beyond capacity. `Busy` appears, refused requests
//! come back intact, memory stays bounded, nothing accepted is lost.

mod support;

use acrypto::{Engine, Error, Op, Request, SessionBuilder};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use support::*;

/// RSS is the whole process's and the test harness runs tests in parallel:
/// each test that measures it holds this lock, so that one test's buffers
/// are not counted as another's growth.
static RSS_MEASURE: Mutex<()> = Mutex::new(());

fn measure_alone() -> MutexGuard<'static, ()> {
    RSS_MEASURE.lock().unwrap_or_else(|e| e.into_inner())
}

/// An engine of `n` gated scripted devices `d0`.. (closed until opened
/// through the returned handles), built from `builder`.
fn gated_engine(n: usize, script: &Script, mut builder: acrypto::EngineBuilder) -> (Engine, Vec<Arc<Shared>>) {
    let devs: Vec<_> = (0..n).map(|i| Scripted::gated(&format!("d{i}"), script.clone())).collect();
    let shared = devs.iter().map(|d| d.shared.clone()).collect();
    for d in devs {
        builder = builder.device(d);
    }
    (builder.build().unwrap(), shared)
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn far_beyond_capacity_busy_appears_memory_stays_bounded_nothing_is_lost() {
    let _alone = measure_alone();
    const ATTEMPTS: u64 = 300_000;
    const SIZE: usize = 4096;
    const MAX_IN_FLIGHT: usize = 600;
    let script = Script { algs: vec![AES128CTR], queue_len: 256, batch: 8, ..Script::default() };
    // The byte limit also bounds callbacks that completed but wait for a
    // starved completion worker (they leave the in-flight count at once).
    let builder = Engine::builder().max_in_flight(MAX_IN_FLIGHT).max_in_flight_bytes(8 << 20);
    let (e, shared) = gated_engine(3, &script, builder);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &[1; 16])).unwrap();
    let seen: Arc<Vec<AtomicU8>> = Arc::new((0..ATTEMPTS).map(|_| AtomicU8::new(0)).collect());
    let rss_before = rss_kib();
    let (mut accepted, mut busy, mut peak_in_flight, mut peak_queued) = (0u64, 0u64, 0u64, 0usize);
    for i in 0..ATTEMPTS {
        if i == ATTEMPTS / 4 {
            // The devices start working only after the queues filled up.
            shared.iter().for_each(|s| s.open());
        }
        let seen2 = seen.clone();
        let data = vec![(i % 256) as u8; SIZE];
        match e.submit_with(&s, Request::new(data).with_iv(&[0; 16]).with_user(i), move |d| {
            seen2[d.request.user as usize].fetch_add(1, Ordering::SeqCst);
        }) {
            Ok(()) => accepted += 1,
            Err(rej) => {
                assert_eq!(rej.error, Error::Busy);
                assert_eq!(rej.request.data, vec![(i % 256) as u8; SIZE], "refused requests come back intact");
                assert_eq!(rej.request.user, i);
                busy += 1;
            }
        }
        if i % 97 == 0 {
            let st = e.stats();
            peak_in_flight = peak_in_flight.max(st.in_flight);
            peak_queued = peak_queued.max(st.queue_depth);
        }
    }
    e.wait_idle().unwrap();
    let rss_after = rss_kib();
    e.shutdown(acrypto::ShutdownMode::Drain);
    let st = e.stats();
    assert!(busy > 0, "Busy must appear");
    assert_eq!(accepted + busy, ATTEMPTS);
    assert_eq!(st.submitted, accepted);
    assert_eq!(st.rejected_busy, busy);
    assert_eq!(st.completed_ok, accepted);
    assert!(peak_in_flight <= MAX_IN_FLIGHT as u64, "in flight peaked at {peak_in_flight}");
    assert!(peak_queued <= 3 * 256, "queues peaked at {peak_queued}");
    for (i, c) in seen.iter().enumerate() {
        let n = c.load(Ordering::SeqCst);
        assert!(n <= 1, "request {i} completed {n} times");
    }
    let completed = seen.iter().filter(|c| c.load(Ordering::SeqCst) == 1).count() as u64;
    assert_eq!(completed, accepted, "every accepted request completed");
    // 300k attempts of 4 KiB would be 1.2 GB if anything piled up; the
    // bound allows ~2.4 MB of payload in flight.
    let grown = rss_after.saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
    println!("overload: {accepted} accepted, {busy} busy, peak in flight {peak_in_flight}, RSS +{grown} KiB");
}

/// 17.8: the in-flight limit counts requests; the byte limit bounds what
/// they hold. 5,000 requests of 1 MiB against a 64 MiB limit: `Busy`
/// appears, RSS stays near the limit (5 GB if they piled up), every
/// accepted request completes once.
#[test]
fn the_byte_limit_bounds_memory_under_5000_pending_1_mib_requests() {
    let _alone = measure_alone();
    const ATTEMPTS: u64 = 5_000;
    const SIZE: usize = 1 << 20;
    const LIMIT: u64 = 64 << 20;
    let script = Script { algs: vec![AES128CTR], queue_len: 8192, batch: 8, ..Script::default() };
    let (e, shared) = gated_engine(2, &script, Engine::builder().max_in_flight_bytes(LIMIT));
    assert_eq!(e.max_in_flight_bytes(), LIMIT);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &[1; 16])).unwrap();
    let seen: Arc<Vec<AtomicU8>> = Arc::new((0..ATTEMPTS).map(|_| AtomicU8::new(0)).collect());
    let rss_before = rss_kib();
    let (mut accepted, mut busy, mut peak_bytes) = (0u64, 0u64, 0u64);
    for i in 0..ATTEMPTS {
        if i == ATTEMPTS / 2 {
            // Nothing completes in the first half: only the byte limit
            // stands between the submitter and 2.5 GB queued.
            assert!(busy > 0, "Busy must appear before the devices run");
            shared.iter().for_each(|s| s.open());
        }
        let seen2 = seen.clone();
        let data = vec![(i % 251) as u8; SIZE];
        match e.submit_with(&s, Request::new(data).with_iv(&[0; 16]).with_user(i), move |d| {
            seen2[d.request.user as usize].fetch_add(1, Ordering::SeqCst);
        }) {
            Ok(()) => accepted += 1,
            Err(rej) => {
                assert_eq!(rej.error, Error::Busy);
                assert_eq!(rej.request.data.len(), SIZE, "refused requests come back intact");
                assert_eq!(rej.request.user, i);
                busy += 1;
            }
        }
        peak_bytes = peak_bytes.max(e.in_flight_bytes());
    }
    e.wait_idle().unwrap();
    let rss_after = rss_kib();
    e.shutdown(acrypto::ShutdownMode::Drain);
    let st = e.stats();
    assert!(busy > 0);
    assert_eq!(accepted + busy, ATTEMPTS);
    assert_eq!(st.rejected_busy, busy);
    assert_eq!(st.completed_ok, accepted);
    assert_eq!(e.in_flight_bytes(), 0, "every charge was released");
    assert!(peak_bytes <= LIMIT, "bytes in flight peaked at {peak_bytes}");
    for (i, c) in seen.iter().enumerate() {
        let n = c.load(Ordering::SeqCst);
        assert!(n <= 1, "request {i} completed {n} times");
    }
    let completed = seen.iter().filter(|c| c.load(Ordering::SeqCst) == 1).count() as u64;
    assert_eq!(completed, accepted, "every accepted request completed");
    let grown = rss_after.saturating_sub(rss_before);
    assert!(grown < 4 * LIMIT / 1024, "RSS grew by {grown} KiB");
    println!("byte limit: {accepted} accepted, {busy} busy, peak {peak_bytes} bytes in flight, RSS +{grown} KiB");
}

/// Deferred callbacks keep their request's bytes charged until they have
/// run: with the completion worker held inside a callback, completed
/// requests pile up against the byte limit (not in memory without bound),
/// and `Busy` comes; once the worker runs them, the charge is gone.
#[test]
fn bytes_of_callbacks_waiting_for_a_completion_worker_stay_charged() {
    const SIZE: usize = 16 << 10;
    let e = Engine::builder()
        .max_in_flight_bytes(64 << 10)
        .completion_workers(1)
        .device(acrypto::SoftDevice::new("soft0"))
        .build()
        .unwrap();
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &[1; 16])).unwrap();
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    e.submit_with(&s, Request::new(vec![0; 16]).with_iv(&[0; 16]), move |_| {
        entered_tx.send(()).unwrap();
        let _ = hold_rx.recv_timeout(HAND_OFF_TIMEOUT);
    })
    .unwrap();
    entered_rx.recv_timeout(HAND_OFF_TIMEOUT).expect("the worker runs the first callback");
    let mut accepted = 0;
    let busy = loop {
        match e.submit_with(&s, Request::new(vec![0; SIZE]).with_iv(&[0; 16]), |_| {}) {
            Ok(()) => accepted += 1,
            Err(rej) => break rej.error,
        }
        wait_until("the request completed", || e.stats().in_flight == 0);
        assert!(accepted <= 4, "completed callbacks waiting for the worker are not charged");
    };
    assert_eq!(busy, Error::Busy);
    assert!(e.in_flight_bytes() >= accepted * (SIZE as u64), "{} bytes charged", e.in_flight_bytes());
    hold_tx.send(()).unwrap();
    wait_until("the worker ran every callback", || e.in_flight_bytes() == 0);
    assert!(e.submit_with(&s, Request::new(vec![0; SIZE]).with_iv(&[0; 16]), |_| {}).is_ok());
    e.shutdown(acrypto::ShutdownMode::Drain);
}
