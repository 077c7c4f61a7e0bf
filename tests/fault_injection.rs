//! Fault injection: over a million requests across five devices, one of
//! which fails at random, one breaks mid-run and one is removed mid-run.
//! Every accepted request completes exactly once, successful outputs are
//! correct, and the counters add up.
//!
//! The expected outputs (`ctr_by_hand`) come from the same RustCrypto crates
//! the scripted devices run (`apply_steps`, as the soft device does): this
//! test proves the engine's logic under faults (nothing lost, duplicated or
//! mixed up), not AES. The primitives are proven against independent
//! answers by the known-answer vectors (`tests/kat.rs`) and the OpenSSL
//! cross-checks (`tests/crosscheck.rs`).

mod support;

use acrypto::{Completion, Engine, Error, Op, RemoveMode, Request, SessionBuilder};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use support::*;

const TOTAL: u64 = 1_000_000;
const KEY: [u8; 16] = [0x2b; 16];

fn input(i: u64) -> (Vec<u8>, [u8; 16]) {
    let len = 16 + (i % 48) as usize;
    let mut iv = [0u8; 16];
    iv[8..].copy_from_slice(&i.to_be_bytes());
    (vec![(i % 251) as u8; len], iv)
}

/// AES-128-CTR with the same crate the devices use: a check of the engine's
/// bookkeeping (each output belongs to its own request), not of AES.
fn ctr_by_hand(data: &[u8], iv: &[u8; 16]) -> Vec<u8> {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let mut out = data.to_vec();
    ctr::Ctr128BE::<aes::Aes128>::new(&KEY.into(), iv.into()).apply_keystream(&mut out);
    out
}

#[test]
fn a_million_requests_through_failing_breaking_and_vanishing_devices() {
    let algs = vec![AES128CTR];
    let base = Script { algs, queue_len: 512, batch: 32, ..Script::default() };
    let random = Scripted::new("random-faults", Script { fail_one_in: 50, ..base.clone() });
    let breaks = Scripted::new("breaks", Script { break_after: 150_000, ..base.clone() });
    let vanishes = Scripted::new("vanishes", base.clone());
    let healthy1 = Scripted::new("healthy1", base.clone());
    let healthy2 = Scripted::new("healthy2", base.clone());
    let shared = [&random, &breaks, &vanishes, &healthy1, &healthy2].map(|d| d.shared.clone());
    let e = Engine::builder()
        .max_in_flight(4096)
        .device(random)
        .device(breaks)
        .device(vanishes)
        .device(healthy1)
        .device(healthy2)
        .build()
        .unwrap();
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();

    let seen: Arc<Vec<AtomicU8>> = Arc::new((0..TOTAL).map(|_| AtomicU8::new(0)).collect());
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let submitted = Arc::new(AtomicU64::new(0));

    let submitters: Vec<_> = (0..2u64)
        .map(|t| {
            let (e, s, seen, ok, failed, wrong, submitted) =
                (e.clone(), s.clone(), seen.clone(), ok.clone(), failed.clone(), wrong.clone(), submitted.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while i < TOTAL {
                    let (data, iv) = input(i);
                    let (seen, ok, failed, wrong) = (seen.clone(), ok.clone(), failed.clone(), wrong.clone());
                    let c = Completion::callback(move |d| {
                        let u = d.request.user;
                        seen[u as usize].fetch_add(1, Ordering::SeqCst);
                        match d.status {
                            Ok(()) => {
                                let (data, iv) = input(u);
                                if d.request.data != ctr_by_hand(&data, &iv) {
                                    wrong.fetch_add(1, Ordering::SeqCst);
                                }
                                ok.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(Error::DeviceFailure(_) | Error::DeviceBroken(_)) => {
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(other) => panic!("unexpected status {other}"),
                        }
                    });
                    e.submit_blocking(&s, Request::new(data).with_iv(&iv).with_user(i), c).unwrap();
                    submitted.fetch_add(1, Ordering::Relaxed);
                    i += 2;
                }
            })
        })
        .collect();

    // Remove one device while the load runs.
    while submitted.load(Ordering::Relaxed) < TOTAL / 3 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    e.remove_device("vanishes", RemoveMode::Migrate).unwrap();
    for t in submitters {
        t.join().unwrap();
    }
    e.wait_idle().unwrap();
    let st = e.stats();
    e.shutdown(acrypto::ShutdownMode::Drain); // runs the last deferred callbacks

    let once = seen.iter().filter(|c| c.load(Ordering::SeqCst) == 1).count() as u64;
    assert_eq!(once, TOTAL, "every accepted request completes exactly once");
    assert_eq!(wrong.load(Ordering::SeqCst), 0, "successful outputs are correct");
    assert_eq!(ok.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst), TOTAL);
    assert_eq!(st.submitted, TOTAL);
    assert_eq!(st.completed_ok, ok.load(Ordering::SeqCst));
    assert_eq!(st.completed_err, failed.load(Ordering::SeqCst));
    assert_eq!(st.in_flight, 0);
    // Retries hide the random faults: with 8 retries, losing one is
    // (1/50)^9-unlikely.
    assert_eq!(failed.load(Ordering::SeqCst), 0);
    // The faults really happened.
    assert!(shared[0].failed.load(Ordering::SeqCst) > 1000);
    assert!(shared[1].processed.load(Ordering::SeqCst) >= 150_000);
    assert!(shared[2].processed.load(Ordering::SeqCst) > 0);
    let runs: u64 = shared.iter().map(|s| s.processed.load(Ordering::SeqCst)).sum();
    let faults: u64 = shared.iter().map(|s| s.failed.load(Ordering::SeqCst)).sum();
    assert_eq!(runs, TOTAL + faults, "every fault was retried exactly once more");
    println!(
        "fault injection: {TOTAL} requests, {} device faults retried, per device {:?}",
        faults,
        shared.iter().map(|s| s.processed.load(Ordering::SeqCst)).collect::<Vec<_>>()
    );
}
