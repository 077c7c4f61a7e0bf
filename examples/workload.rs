//! The main job: pushes a routed, prioritised workload through several
//! software devices, prints what happened (per device and per session),
//! then measures the async path against direct synchronous calls to the
//! same primitive, in the same run.
//!
//! `cargo run --release --example workload [-- REQUESTS [SECONDS]]`
//! Devices come from `ACRYPTO_DEVICES` (default: one software device per core).

use acrypto::drivers::crypto::apply_steps;
use acrypto::{Algorithm, CipherMode, Completion, CompletionQueue, DigestKind, Engine, Op, Request, SessionBuilder};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

const AES128CBC: Algorithm = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
const AES128CTR: Algorithm = Algorithm::Aes { key_bits: 128, mode: CipherMode::Ctr };
const AES256XTS: Algorithm = Algorithm::Aes { key_bits: 256, mode: CipherMode::Xts };
const HMAC_SHA1: Algorithm = Algorithm::Hmac(DigestKind::Sha1);
const SHA256: Algorithm = Algorithm::Digest(DigestKind::Sha256);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let requests: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let seconds: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1.0);

    let engine = acrypto::default_engine()?;
    println!("acrypto workload: {} devices, balancer {}", engine.devices().len(), engine.balancer_name());

    // Four kinds of traffic, each a session with its own route and priority.
    let esp = engine.session(
        SessionBuilder::new()
            .step(AES128CBC, Op::Encrypt, &[0x11; 16])
            .step(HMAC_SHA1, Op::Digest, &[0x22; 20])
            .priority(4),
    )?;
    let xts_key: Vec<u8> = (0..64).collect();
    let disk =
        engine.session(SessionBuilder::new().step(AES256XTS, Op::Encrypt, &xts_key).priority(2).ordered(true))?;
    let bulk = engine.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &[0x44; 16]).priority(0))?;
    let interactive = engine.session(SessionBuilder::new().step(SHA256, Op::Digest, &[]).priority(7).direct(true))?;
    let sessions = [
        ("esp cbc+hmac p4", &esp, 1408),
        ("disk xts p2 ordered", &disk, 4096),
        ("bulk ctr p0", &bulk, 16384),
        ("interactive sha256 p7", &interactive, 64),
    ];

    let cq = CompletionQueue::new();
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut outstanding = 0u64;
    for i in 0..requests {
        let k = (i % 4) as usize;
        let (_, s, len) = sessions[k];
        let req = Request::new(vec![(i % 251) as u8; len]).with_iv(if k == 3 { &[] } else { &[7u8; 16] }).with_user(i);
        // The interactive session completes by callback (DIRECT); the rest
        // through a polled completion queue, as an event loop would.
        let c = if k == 3 {
            let f = failed.clone();
            Completion::callback(move |d| {
                if d.status.is_err() {
                    f.fetch_add(1, Ordering::Relaxed);
                }
            })
        } else {
            Completion::Queue(cq.clone())
        };
        engine.submit_blocking(s, req, c)?;
        outstanding += u64::from(k != 3);
        for d in cq.poll(64) {
            outstanding -= 1;
            if d.status.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    while outstanding > 0 {
        for d in cq.wait(256) {
            outstanding -= 1;
            if d.status.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    engine.wait_idle().unwrap();
    let took = start.elapsed();
    let st = engine.stats();
    println!(
        "\n{requests} requests in {:.2} s ({:.0} req/s, {:.1} MB/s); ok {}, failed {} ({} seen by callers), in flight {}",
        took.as_secs_f64(),
        requests as f64 / took.as_secs_f64(),
        st.bytes as f64 / took.as_secs_f64() / 1e6,
        st.completed_ok,
        st.completed_err,
        failed.load(Ordering::Relaxed),
        st.in_flight
    );
    println!(
        "\n{:<8} {:>10} {:>10} {:>8} {:>10} {:>9} {:>9}",
        "device", "submitted", "ok", "errors", "MB", "busy s", "p99 µs"
    );
    for d in engine.devices() {
        let s = &d.stats;
        println!(
            "{:<8} {:>10} {:>10} {:>8} {:>10.1} {:>9.2} {:>9}",
            d.name,
            s.submitted,
            s.completed_ok,
            s.completed_err,
            s.bytes as f64 / 1e6,
            s.busy.as_secs_f64(),
            s.latency_quantile(0.99).map_or(0, |l| l.as_micros())
        );
    }
    println!(
        "\n{:<24} {:>7} {:>10} {:>10} {:>9} {:>9}",
        "session", "bytes", "submitted", "completed", "p50 µs", "p99 µs"
    );
    for (name, s, len) in sessions {
        let q = |q| s.latency_quantile(q).map_or(0, |l| l.as_micros());
        println!("{:<24} {:>7} {:>10} {:>10} {:>9} {:>9}", name, len, s.submitted(), s.completed(), q(0.5), q(0.99));
    }
    assert_eq!(st.submitted, st.completed_ok + st.completed_err, "counters add up");

    // Async against direct synchronous calls, same primitive, same run.
    println!("\nthroughput at 1500 bytes (cbc: 1504, the next block multiple), {seconds} s each");
    println!("sync: direct calls to the primitive on one thread; async: pipelined submissions over all devices");
    println!("{:<12} {:>6} {:>14} {:>14} {:>8}", "algorithm", "bytes", "sync req/s", "async req/s", "ratio");
    for (alg, key, len) in
        [(AES128CBC, vec![0x55u8; 16], 1504), (AES128CTR, vec![0x56; 16], 1500), (HMAC_SHA1, vec![0x66u8; 20], 1500)]
    {
        let op = if alg == HMAC_SHA1 { Op::Digest } else { Op::Encrypt };
        let s = engine.session(SessionBuilder::new().step(alg, op, &key).direct(true))?;
        let iv: &[u8] = if alg == HMAC_SHA1 { &[] } else { &[0u8; 16] };
        let sync = sync_rate(&s, iv, len, seconds);
        let asynch = async_rate(&engine, &s, iv, len, seconds)?;
        println!("{:<12} {:>6} {:>14.0} {:>14.0} {:>7.2}x", alg.to_string(), len, sync, asynch, asynch / sync);
    }
    Ok(())
}

/// Direct synchronous calls to the primitive on this thread.
fn sync_rate(s: &acrypto::Session, iv: &[u8], len: usize, seconds: f64) -> f64 {
    let mut req = Request::new(vec![0u8; len]).with_iv(iv);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..256 {
            apply_steps(s.steps(), &mut req).expect("sync call");
        }
        n += 256;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Pipelined submissions through the engine; buffers are recycled through
/// a completion queue.
fn async_rate(e: &Engine, s: &acrypto::Session, iv: &[u8], len: usize, seconds: f64) -> Result<f64, acrypto::Error> {
    let cq = CompletionQueue::new();
    let window = 64 * e.devices().len().max(1);
    let mut free: Vec<Request> = (0..window).map(|_| Request::new(vec![0u8; len]).with_iv(iv)).collect();
    let start = Instant::now();
    let (mut done, mut inflight) = (0u64, 0usize);
    while start.elapsed().as_secs_f64() < seconds {
        while let Some(r) = free.pop() {
            e.submit(s, r, Completion::Queue(cq.clone())).map_err(|r| r.error)?;
            inflight += 1;
        }
        for d in cq.wait(window) {
            inflight -= 1;
            done += 1;
            free.push(d.into_result()?);
        }
    }
    while inflight > 0 {
        inflight -= cq.wait(window).len();
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}
