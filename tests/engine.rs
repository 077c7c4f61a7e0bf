//! The engine's behaviour: routing, priority, ordering, completion modes,
//! binding, rehash, removal, shutdown, backpressure.
//!
//! The expected outputs are computed with the same RustCrypto crates the
//! scripted and soft devices run: these tests prove the engine's logic, and
//! the known-answer (`tests/kat.rs`) and OpenSSL (`tests/crosscheck.rs`)
//! tests prove the primitives.
//!
//! No test sleeps to let another thread get somewhere: a gated device's
//! worker reports the item it holds (`Shared::held`), and the tests wait for
//! states the engine exposes (`support::wait_until`), so each asserts one
//! outcome however the threads are scheduled.

mod support;

use acrypto::{
    Algorithm, Completion, CompletionQueue, Done, Engine, Error, Op, RemoveMode, Request, RoundRobin, SessionBuilder,
    ShutdownMode,
};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::*;

/// `acrypto-core`'s queue: after this many items in a row from the highest
/// level while a lower one waits, one lower item is served (queue.rs).
const AGING_QUANTUM: usize = 16;
/// The `user` of the item a gated worker takes first and holds, so that
/// everything submitted after it is queued before the worker takes more.
const PLUG: u64 = u64::MAX;

const KEY16: [u8; 16] = *b"0123456789abcdef";
const IV: [u8; 16] = [7u8; 16];

/// AES-128-CBC and HMAC-SHA1 "by hand" use the crates the devices use: they
/// check that the engine ran the right steps on the right data, not the
/// primitives (see the module comment).
fn cbc_encrypt_by_hand(key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    use cbc::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
    let mut buf = data.to_vec();
    cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
        .unwrap()
        .encrypt_padded_mut::<NoPadding>(&mut buf, data.len())
        .unwrap();
    buf
}

fn hmac_sha1_by_hand(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn only(algs: &[Algorithm]) -> Script {
    Script { algs: algs.to_vec(), ..Script::default() }
}

#[test]
fn two_step_route_on_two_devices_equals_steps_by_hand() {
    let cipher = Scripted::new("cipher", only(&[AES128]));
    let mac = Scripted::new("mac", only(&[HMAC_SHA1]));
    let (cs, ms) = (cipher.shared.clone(), mac.shared.clone());
    let e = Engine::builder().device(cipher).device(mac).build().unwrap();
    let mac_key = b"an hmac key of some length".to_vec();
    let s = e
        .session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).step(HMAC_SHA1, Op::Digest, &mac_key))
        .unwrap();
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let calls = Arc::new(AtomicUsize::new(0));
    let got = Arc::new(Mutex::new(None));
    let (c2, g2) = (calls.clone(), got.clone());
    e.submit_with(&s, Request::new(data.clone()).with_iv(&IV), move |d: Done| {
        c2.fetch_add(1, Ordering::SeqCst);
        *g2.lock().unwrap() = Some(d);
    })
    .unwrap();
    e.wait_idle().unwrap();
    e.shutdown(ShutdownMode::Drain); // flushes the completion worker
    assert_eq!(calls.load(Ordering::SeqCst), 1, "callback runs exactly once");
    let d = got.lock().unwrap().take().unwrap();
    let r = d.into_result().unwrap();
    let ct = cbc_encrypt_by_hand(&KEY16, &IV, &data);
    assert_eq!(r.data, ct);
    assert_eq!(r.tag, hmac_sha1_by_hand(&mac_key, &ct));
    // Each device ran exactly its step.
    assert_eq!(cs.processed.load(Ordering::SeqCst), 1);
    assert_eq!(ms.processed.load(Ordering::SeqCst), 1);
}

#[test]
fn verify_then_decrypt_stops_at_a_bad_tag() {
    let cipher = Scripted::new("cipher", only(&[AES128]));
    let mac = Scripted::new("mac", only(&[HMAC_SHA1]));
    let cs = cipher.shared.clone();
    let e = Engine::builder().device(cipher).device(mac).build().unwrap();
    let mk = [9u8; 20];
    let pt: Vec<u8> = (0..64).collect();
    let ct = cbc_encrypt_by_hand(&KEY16, &IV, &pt);
    let tag = hmac_sha1_by_hand(&mk, &ct);
    let s =
        e.session(SessionBuilder::new().step(HMAC_SHA1, Op::Verify, &mk).step(AES128, Op::Decrypt, &KEY16)).unwrap();
    // Truncated tag (HMAC-SHA1-96, as IPsec uses it).
    let ok = e.run(&s, Request::new(ct.clone()).with_iv(&IV).with_tag(&tag[..12])).unwrap();
    assert_eq!(ok.data, pt);
    assert_eq!(cs.processed.load(Ordering::SeqCst), 1);
    let mut bad = tag.clone();
    bad[3] ^= 1;
    let err = e.run(&s, Request::new(ct.clone()).with_iv(&IV).with_tag(&bad)).unwrap_err();
    assert_eq!(err, Error::VerifyFailed);
    assert_eq!(cs.processed.load(Ordering::SeqCst), 1, "decrypt must not run after a failed verify");
    // A too-short tag is refused at submission.
    let rej = e.submit_pending(&s, Request::new(ct).with_iv(&IV).with_tag(&tag[..4])).unwrap_err();
    assert!(matches!(rej.error, Error::InvalidLength(_)));
}

#[test]
fn a_device_that_can_do_the_whole_route_takes_it_in_one_go() {
    let both = Scripted::new("both", only(&[AES128, HMAC_SHA1]));
    let bs = both.shared.clone();
    let e = Engine::builder().device(both).build().unwrap();
    let s = e
        .session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).step(HMAC_SHA1, Op::Digest, &[1; 8]))
        .unwrap();
    let r = e.submit_pending(&s, Request::new(vec![0; 32]).with_iv(&IV)).unwrap().wait().into_result().unwrap();
    assert_eq!(r.tag.len(), 20);
    assert_eq!(bs.processed.load(Ordering::SeqCst), 1);
    assert_eq!(e.device("both").unwrap().stats.submitted, 1);
}

/// A gated device with batch 1 whose worker holds a first item (`PLUG`): what
/// is submitted next is all queued before the worker takes any of it, and the
/// worker then takes one item at a time, in the queue's order.
fn plugged(e: &Engine, s: &acrypto::Session, ds: &Shared) {
    e.submit_with(s, Request::new(vec![0; 16]).with_iv(&IV).with_user(PLUG), |_| {}).unwrap();
    assert_eq!(ds.held(), PLUG);
}

/// One gated device recording the order it takes items in, and two sessions
/// on it: priority 0 (low) and priority 7 (high).
fn priority_pair() -> (Engine, Arc<Shared>, acrypto::Session, acrypto::Session) {
    let dev = Scripted::gated("dev", Script { queue_len: 4096, batch: 1, ..only(&[AES128]) });
    let ds = dev.shared.clone();
    ds.record_order.store(true, Ordering::SeqCst);
    let e = Engine::builder().device(dev).build().unwrap();
    let low = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).priority(0)).unwrap();
    let high = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).priority(7)).unwrap();
    (e, ds, low, high)
}

#[test]
fn high_priority_comes_out_first_under_a_saturating_low_priority_load() {
    let (e, ds, low, high) = priority_pair();
    plugged(&e, &low, &ds);
    for i in 0..2000 {
        e.submit_with(&low, Request::new(vec![0; 16]).with_iv(&IV).with_user(i), |_| {}).unwrap();
    }
    for i in 0..40 {
        e.submit_with(&high, Request::new(vec![0; 16]).with_iv(&IV).with_user(10_000 + i), |_| {}).unwrap();
    }
    ds.open();
    e.wait_idle().unwrap();
    // The highs first, in FIFO order, but for one aged low item after every
    // AGING_QUANTUM of them; then the lows, in FIFO order.
    let q = AGING_QUANTUM as u64;
    let mut want = vec![PLUG];
    want.extend(10_000..10_000 + q);
    want.push(0);
    want.extend(10_000 + q..10_000 + 2 * q);
    want.push(1);
    want.extend(10_000 + 2 * q..10_040);
    want.extend(2..2000);
    assert_eq!(ds.order(), want);
}

#[test]
fn aging_serves_low_priority_under_a_high_priority_load_that_would_starve_it() {
    let (e, ds, low, high) = priority_pair();
    plugged(&e, &high, &ds);
    // 40 lows behind 800 highs: strict priority would run every high first.
    for i in 0..40 {
        e.submit_with(&low, Request::new(vec![0; 16]).with_iv(&IV).with_user(i), |_| {}).unwrap();
    }
    for i in 0..800 {
        e.submit_with(&high, Request::new(vec![0; 16]).with_iv(&IV).with_user(10_000 + i), |_| {}).unwrap();
    }
    ds.open();
    e.wait_idle().unwrap();
    let order = ds.order();
    let lows: Vec<usize> = order.iter().enumerate().filter(|(_, u)| **u < 10_000).map(|(i, _)| i).collect();
    // Every low runs after exactly AGING_QUANTUM highs, long before the highs end.
    let want: Vec<usize> = (1..=40).map(|k| k * (AGING_QUANTUM + 1)).collect();
    assert_eq!(lows, want, "positions of the low priority items");
    assert_eq!(order.len(), 841);
    assert_eq!(order.iter().filter(|u| **u < 10_000).copied().collect::<Vec<_>>(), (0..40).collect::<Vec<_>>());
}

#[test]
fn ordered_sessions_complete_in_submission_order() {
    let mut b = Engine::builder().balancer(RoundRobin::default());
    for i in 0..4 {
        b = b.device(Scripted::new(&format!("d{i}"), Script { batch: 1 + i, ..only(&[AES128CTR]) }));
    }
    let e = b.build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY16).ordered(true)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for i in 0..2000u64 {
        let len = if i % 3 == 0 { 16384 } else { 16 };
        let s2 = seen.clone();
        e.submit_blocking(
            &s,
            Request::new(vec![0; len]).with_iv(&IV).with_user(i),
            Completion::callback(move |d| s2.lock().unwrap().push(d.request.user)),
        )
        .unwrap();
    }
    e.wait_idle().unwrap();
    e.shutdown(ShutdownMode::Drain);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, (0..2000).collect::<Vec<_>>());
}

#[test]
fn direct_completion_runs_on_the_device_thread_and_deferred_does_not() {
    let dev = Scripted::new("dev", only(&[AES128]));
    let ds = dev.shared.clone();
    let e = Engine::builder().device(dev).build().unwrap();
    for direct in [true, false] {
        let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).direct(direct)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        e.submit_with(&s, Request::new(vec![0; 16]).with_iv(&IV), move |_| {
            tx.send(std::thread::current().id()).unwrap();
        })
        .unwrap();
        let tid = rx.recv().unwrap();
        let worker = ds.worker_threads.lock().unwrap()[0];
        assert_eq!(tid == worker, direct, "direct={direct}");
    }
}

#[test]
fn polled_queue_blocking_wait_and_future_all_deliver() {
    let e = acrypto::soft_engine(2).unwrap();
    let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    let cq = CompletionQueue::new();
    for i in 0..100 {
        e.submit(&s, Request::new(vec![0; 32]).with_user(i), Completion::Queue(cq.clone())).unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 100 {
        got.extend(cq.wait(64).into_iter().map(|d| d.request.user));
    }
    got.sort();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert!(cq.poll(10).is_empty());
    let d = e.submit_pending(&s, Request::new(vec![0; 8])).unwrap().wait();
    assert!(d.status.is_ok());
    let fut = e.submit_pending(&s, Request::new(vec![0; 8])).unwrap();
    let d = block_on(fut);
    assert_eq!(d.request.data.len(), 8);
    assert!(d.status.is_ok());
}

#[test]
fn inline_path_runs_on_the_callers_thread_when_the_device_is_idle() {
    let dev = Scripted::new("dev", Script { inline: true, ..only(&[AES128]) });
    let ds = dev.shared.clone();
    let e = Engine::builder().device(dev).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
    let r = e.run(&s, Request::new(vec![1; 48]).with_iv(&IV)).unwrap();
    assert_eq!(r.data, cbc_encrypt_by_hand(&KEY16, &IV, &[1; 48]));
    assert_eq!(*ds.inline_threads.lock().unwrap(), vec![std::thread::current().id()]);
    assert_eq!(ds.processed.load(Ordering::SeqCst), 0, "no thread hop");
    let st = e.stats();
    assert_eq!((st.submitted, st.completed_ok, st.in_flight), (1, 1, 0));
    // A busy device (its worker holds an item) sends the caller through the
    // queue instead.
    ds.close();
    let gated = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
    e.submit_with(&gated, Request::new(vec![0; 16]).with_iv(&IV).with_user(1), |_| {}).unwrap();
    assert_eq!(ds.held(), 1);
    let e2 = e.clone();
    let t = std::thread::spawn(move || e2.run(&gated, Request::new(vec![2; 16]).with_iv(&IV)).unwrap());
    wait_until("the caller's request is queued", || t.is_finished() || e.device("dev").unwrap().stats.queue_depth == 1);
    ds.open();
    t.join().unwrap();
    assert_eq!(ds.inline_threads.lock().unwrap().len(), 1);
    assert_eq!(ds.processed.load(Ordering::SeqCst), 2);
}

#[test]
fn an_inline_device_fault_is_retried_through_a_queue_and_counted_once() {
    // Registered first, so the inline path claims it; it fails everything.
    let flaky = Scripted::new("flaky", Script { inline: true, fail_one_in: 1, ..only(&[AES128]) });
    let good = Scripted::new("good", only(&[AES128]));
    let (fs, gs) = (flaky.shared.clone(), good.shared.clone());
    let e = Engine::builder().device(flaky).device(good).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
    let r = e.run(&s, Request::new(vec![5; 32]).with_iv(&IV)).unwrap();
    assert_eq!(r.data, cbc_encrypt_by_hand(&KEY16, &IV, &[5; 32]));
    assert!(fs.failed.load(Ordering::SeqCst) >= 1);
    assert_eq!(gs.processed.load(Ordering::SeqCst), 1);
    let st = e.stats();
    assert_eq!((st.submitted, st.completed_ok, st.completed_err, st.in_flight), (1, 1, 0, 0));
    assert_eq!((s.submitted(), s.completed()), (1, 1));
    assert!(e.device("flaky").unwrap().stats.completed_err >= 1);
}

#[test]
fn bound_sessions_stay_on_their_device_and_fail_clearly_when_it_breaks() {
    let a = Scripted::gated("a", Script { batch: 1, ..only(&[AES128]) });
    let b = Scripted::new("b", only(&[AES128]));
    let (as_, bs) = (a.shared.clone(), b.shared.clone());
    let e = Engine::builder().device(a).device(b).build().unwrap();
    let bound = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).bind("a")).unwrap();
    let free = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).bind("b")).unwrap();
    assert_eq!(
        e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).bind("nope")).unwrap_err(),
        Error::NoSuchDevice("nope".into())
    );
    // p1 is in a's worker's hands, p2 in a's queue, when a breaks.
    let p1 = e.submit_pending(&bound, Request::new(vec![1; 16]).with_iv(&IV).with_user(1)).unwrap();
    assert_eq!(as_.held(), 1);
    let p2 = e.submit_pending(&bound, Request::new(vec![2; 16]).with_iv(&IV).with_user(2)).unwrap();
    e.mark_broken("a", "unplugged").unwrap();
    match p2.wait().status {
        Err(Error::DeviceBroken(m)) => assert!(m.contains("unplugged"), "{m}"),
        other => panic!("expected DeviceBroken for the queued request, got {other:?}"),
    }
    let rej = e.submit_pending(&bound, Request::new(vec![0; 16]).with_iv(&IV)).unwrap_err();
    assert!(matches!(rej.error, Error::DeviceBroken(_)));
    assert_eq!(rej.request.data, vec![0; 16], "refused requests come back untouched");
    e.run(&free, Request::new(vec![0; 16]).with_iv(&IV)).unwrap();
    // What the worker held it finishes.
    as_.open();
    let r1 = p1.wait().into_result().unwrap();
    assert_eq!(r1.data, cbc_encrypt_by_hand(&KEY16, &IV, &[1; 16]));
    assert_eq!(as_.processed.load(Ordering::SeqCst), 1);
    assert_eq!(bs.processed.load(Ordering::SeqCst), 1);
    assert_eq!(e.device("a").unwrap().state, acrypto::DeviceState::Broken);
}

#[test]
fn rehash_moves_queued_work_off_a_broken_device() {
    let a = Scripted::gated("a", Script { batch: 1, ..only(&[AES128]) });
    let as_ = a.shared.clone();
    let e = Engine::builder().device(a).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
    // a's worker holds request 0; a is the only device, so 1..200 queue on it.
    let mut pend = vec![e.submit_pending(&s, Request::new(vec![0; 32]).with_iv(&IV).with_user(0)).unwrap()];
    assert_eq!(as_.held(), 0);
    pend.extend((1..200).map(|i| e.submit_pending(&s, Request::new(vec![i as u8; 32]).with_iv(&IV)).unwrap()));
    assert_eq!(e.device("a").unwrap().stats.queue_depth, 199);
    let b = Scripted::new("b", only(&[AES128]));
    let bs = b.shared.clone();
    e.register(b).unwrap();
    e.mark_broken("a", "test").unwrap();
    assert_eq!(e.device("a").unwrap().stats.queue_depth, 0);
    for (i, p) in pend.drain(1..).enumerate() {
        let r = p.wait().into_result().unwrap();
        assert_eq!(r.data, cbc_encrypt_by_hand(&KEY16, &IV, &[i as u8 + 1; 32]));
    }
    assert_eq!(bs.processed.load(Ordering::SeqCst), 199);
    as_.open();
    let r0 = pend.pop().unwrap().wait().into_result().unwrap();
    assert_eq!(r0.data, cbc_encrypt_by_hand(&KEY16, &IV, &[0; 32]));
    let a_info = e.device("a").unwrap();
    assert_eq!(a_info.stats.moved, 199);
    assert_eq!(a_info.stats.completed_ok, 1, "a broken device gets no new work");
    assert_eq!(as_.processed.load(Ordering::SeqCst), 1);
}

#[test]
fn random_device_faults_are_retried_elsewhere() {
    let flaky = Scripted::new("flaky", Script { fail_one_in: 2, ..only(&[AES128]) });
    let good = Scripted::new("good", only(&[AES128]));
    let e = Engine::builder().balancer(RoundRobin::default()).device(flaky).device(good).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
    for i in 0..500u32 {
        let d = vec![i as u8; 16];
        let r = e.run(&s, Request::new(d.clone()).with_iv(&IV)).unwrap();
        assert_eq!(r.data, cbc_encrypt_by_hand(&KEY16, &IV, &d));
    }
    assert!(e.device("flaky").unwrap().stats.completed_err > 10);
    let st = e.stats();
    assert_eq!((st.completed_ok, st.completed_err), (500, 0));
}

#[test]
fn removal_drains_migrates_or_cancels_as_asked() {
    for mode in [RemoveMode::Drain, RemoveMode::Migrate, RemoveMode::Cancel] {
        let a = Scripted::gated("a", Script { batch: 1, ..only(&[AES128]) });
        let as_ = a.shared.clone();
        let e = Engine::builder().device(a).build().unwrap();
        let sa = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).bind("a")).unwrap();
        let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
        // a's worker holds request 0; 1..20 (bound) and 20..40 (not bound)
        // are queued on a, the only device so far.
        let mut pend = vec![e.submit_pending(&sa, Request::new(vec![0; 16]).with_iv(&IV).with_user(0)).unwrap()];
        assert_eq!(as_.held(), 0);
        pend.extend((1..20).map(|_| e.submit_pending(&sa, Request::new(vec![0; 16]).with_iv(&IV)).unwrap()));
        pend.extend((20..40).map(|_| e.submit_pending(&s, Request::new(vec![0; 16]).with_iv(&IV)).unwrap()));
        assert_eq!(e.device("a").unwrap().stats.queue_depth, 39);
        let b = Scripted::new("b", only(&[AES128]));
        let bs = b.shared.clone();
        e.register(b).unwrap();
        // Removal waits for a's worker: open its gate once removal began.
        let opener = {
            let (e, as_) = (e.clone(), as_.clone());
            std::thread::spawn(move || {
                wait_until("removal began", || e.device("a").is_none_or(|d| d.state == acrypto::DeviceState::Removed));
                as_.open();
            })
        };
        e.remove_device("a", mode).unwrap();
        opener.join().unwrap();
        assert!(e.device("a").is_none());
        let statuses: Vec<_> = pend.into_iter().map(|p| p.wait().status).collect();
        let canceled = Err(Error::Canceled);
        assert_eq!(statuses[0], Ok(()), "{mode:?}: the held request finishes on a");
        match mode {
            RemoveMode::Drain => {
                assert!(statuses.iter().all(|s| s.is_ok()), "{statuses:?}");
                assert_eq!((as_.processed.load(Ordering::SeqCst), bs.processed.load(Ordering::SeqCst)), (40, 0));
            }
            RemoveMode::Migrate => {
                for s in &statuses[1..20] {
                    assert!(matches!(s, Err(Error::DeviceBroken(m)) if m.contains("removed")), "bound: {s:?}");
                }
                assert!(statuses[20..].iter().all(|s| s.is_ok()), "{statuses:?}");
                assert_eq!((as_.processed.load(Ordering::SeqCst), bs.processed.load(Ordering::SeqCst)), (1, 20));
            }
            RemoveMode::Cancel => {
                assert!(statuses[1..].iter().all(|s| *s == canceled), "{statuses:?}");
                assert_eq!((as_.processed.load(Ordering::SeqCst), bs.processed.load(Ordering::SeqCst)), (1, 0));
            }
        }
        let st = e.stats();
        assert_eq!(st.submitted, st.completed_ok + st.completed_err);
        assert_eq!(st.in_flight, 0);
    }
}

#[test]
fn shutdown_cancels_or_drains_and_everything_completes_once() {
    for mode in [ShutdownMode::Cancel, ShutdownMode::Drain] {
        let a = Scripted::gated("a", Script { batch: 1, ..only(&[AES128]) });
        let as_ = a.shared.clone();
        let e = Engine::builder().device(a).build().unwrap();
        let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
        let counts: Arc<Vec<AtomicU64>> = Arc::new((0..300).map(|_| AtomicU64::new(0)).collect());
        let canceled = Arc::new(AtomicU64::new(0));
        for i in 0..300 {
            let (c, k) = (counts.clone(), canceled.clone());
            e.submit_with(&s, Request::new(vec![0; 16]).with_iv(&IV).with_user(i), move |d| {
                c[d.request.user as usize].fetch_add(1, Ordering::SeqCst);
                if d.status == Err(Error::Canceled) {
                    k.fetch_add(1, Ordering::SeqCst);
                }
            })
            .unwrap();
            if i == 0 {
                // The worker holds request 0; 1..300 stay queued.
                assert_eq!(as_.held(), 0);
            }
        }
        // Shutdown waits for a's worker: open its gate once shutdown began,
        // which the engine shows by refusing work with ShutDown before it
        // looks at the request (an invalid one, so that nothing is added),
        // and, canceling, once the queue was canceled.
        let opener = {
            let (e, s, as_, k) = (e.clone(), s.clone(), as_.clone(), canceled.clone());
            std::thread::spawn(move || {
                wait_until("shutdown began", || {
                    let probe = e.submit_pending(&s, Request::new(vec![0; 15]).with_iv(&IV)).unwrap_err();
                    assert!(matches!(probe.error, Error::ShutDown | Error::InvalidLength(_)), "{:?}", probe.error);
                    probe.error == Error::ShutDown
                });
                if mode == ShutdownMode::Cancel {
                    wait_until("the queue was canceled", || k.load(Ordering::SeqCst) == 299);
                }
                as_.open();
            })
        };
        e.shutdown(mode);
        opener.join().unwrap();
        assert!(counts.iter().all(|c| c.load(Ordering::SeqCst) == 1), "every request completes exactly once");
        match mode {
            ShutdownMode::Cancel => assert_eq!(canceled.load(Ordering::SeqCst), 299),
            ShutdownMode::Drain => assert_eq!(canceled.load(Ordering::SeqCst), 0),
        }
        let expect_processed = if mode == ShutdownMode::Cancel { 1 } else { 300 };
        assert_eq!(as_.processed.load(Ordering::SeqCst), expect_processed);
        let rej = e.submit_pending(&s, Request::new(vec![0; 16]).with_iv(&IV)).unwrap_err();
        assert_eq!(rej.error, Error::ShutDown);
    }
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_changes_nothing() {
    let e = acrypto::soft_engine(1).unwrap();
    assert!(matches!(
        e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &[0; 15])).unwrap_err(),
        Error::InvalidKey(_)
    ));
    assert!(matches!(
        e.session(SessionBuilder::new().step(AES128, Op::Digest, &KEY16)).unwrap_err(),
        Error::InvalidArgument(_)
    ));
    assert!(matches!(e.session(SessionBuilder::new()).unwrap_err(), Error::InvalidArgument(_)));
    assert!(matches!(
        e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16).priority(8)).unwrap_err(),
        Error::InvalidArgument(_)
    ));
    let xts = Algorithm::Aes { key_bits: 128, mode: acrypto::CipherMode::Xts };
    assert!(matches!(
        e.session(SessionBuilder::new().step(xts, Op::Encrypt, &[5; 32])).unwrap_err(),
        Error::InvalidKey(_)
    ));
    let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
    let rej = e.submit_pending(&s, Request::new(vec![1; 17]).with_iv(&IV)).unwrap_err();
    assert!(matches!(rej.error, Error::InvalidLength(_)));
    assert_eq!(rej.request.data, vec![1; 17]);
    let rej = e.submit_pending(&s, Request::new(vec![1; 16]).with_iv(&[0; 8])).unwrap_err();
    assert!(matches!(rej.error, Error::InvalidLength(_)));
    let st = e.stats();
    assert_eq!((st.submitted, st.in_flight), (0, 0));
    assert_eq!(
        "aes-999-cbc".parse::<Algorithm>().unwrap_err(),
        Error::Unsupported("unknown algorithm 'aes-999-cbc'".into())
    );
}

#[test]
fn a_panicking_callback_does_not_take_the_device_down() {
    let e = acrypto::soft_engine(1).unwrap();
    let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[]).direct(true)).unwrap();
    e.submit_with(&s, Request::new(vec![0; 4]), |_| panic!("callback panic (expected by the test)")).unwrap();
    e.wait_idle().unwrap();
    let r = e.submit_pending(&s, Request::new(vec![0; 4])).unwrap().wait();
    assert!(r.status.is_ok());
}

#[test]
fn several_engines_live_side_by_side() {
    let e1 = acrypto::soft_engine(1).unwrap();
    let e2 = acrypto::soft_engine(2).unwrap();
    let s1 = e1.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    let s2 = e2.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    e1.run(&s1, Request::new(vec![0; 4])).unwrap();
    e2.run(&s2, Request::new(vec![0; 4])).unwrap();
    assert_eq!(e1.devices().len(), 1);
    assert_eq!(e2.devices().len(), 2);
    assert_eq!(e1.stats().submitted, 1);
    assert_eq!(e2.stats().submitted, 1);
}

#[test]
fn batch_submission_stops_at_the_first_refusal_and_hands_back_the_rest() {
    let dev = Scripted::gated("dev", Script { queue_len: 8, batch: 1, ..only(&[AES128]) });
    let ds = dev.shared.clone();
    let e = Engine::builder().device(dev).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128, Op::Encrypt, &KEY16)).unwrap();
    // The worker holds one item; the queue holds 8 more.
    plugged(&e, &s, &ds);
    let items =
        (0..20u64).map(|i| (Request::new(vec![i as u8; 16]).with_iv(&IV).with_user(i), Completion::callback(|_| {})));
    let refused = e.submit_batch(&s, items).unwrap_err();
    assert_eq!(refused.accepted, 8);
    assert_eq!(refused.rejected.error, Error::Busy);
    assert_eq!(refused.rejected.request.user, 8);
    assert_eq!(refused.rest.len(), 11);
    assert_eq!(refused.rest[0].0.user, 9);
    ds.open();
    e.wait_idle().unwrap();
    let ok = e.submit_batch(&s, (0..5).map(|_| (Request::new(vec![0; 16]).with_iv(&IV), Completion::callback(|_| {}))));
    assert_eq!(ok.unwrap(), 5);
}

#[test]
fn statistics_add_up() {
    let e = acrypto::soft_engine(3).unwrap();
    let s = e
        .session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY16).step(HMAC_SHA1, Op::Digest, &[1; 20]))
        .unwrap();
    let bad = e.session(SessionBuilder::new().step(HMAC_SHA1, Op::Verify, &[1; 20])).unwrap();
    let mut pend = Vec::new();
    for i in 0..3000usize {
        pend.push(e.submit_pending(&s, Request::new(vec![0; 100 + i % 50]).with_iv(&IV)).unwrap());
    }
    for _ in 0..100 {
        pend.push(e.submit_pending(&bad, Request::new(vec![0; 10]).with_tag(&[0; 20])).unwrap());
    }
    let failed = pend.into_iter().map(acrypto::Pending::wait).filter(|d| d.status.is_err()).count();
    assert_eq!(failed, 100);
    let st = e.stats();
    let payload: u64 = (0..3000u64).map(|i| 100 + i % 50).sum();
    assert_eq!((st.submitted, st.completed_ok, st.completed_err, st.in_flight), (3100, 3000, 100, 0));
    assert_eq!(st.bytes, payload);
    assert_eq!(st.latency_us_log2.iter().sum::<u64>(), 3100);
    assert_eq!(st.queue_depth, 0);
    let devs = e.devices();
    // One device item per request (each device can do the whole route).
    assert_eq!(devs.iter().map(|d| d.stats.submitted).sum::<u64>(), 3100);
    assert_eq!(devs.iter().map(|d| d.stats.completed_ok).sum::<u64>(), 3000);
    assert_eq!(devs.iter().map(|d| d.stats.completed_err).sum::<u64>(), 100);
    assert_eq!(devs.iter().map(|d| d.stats.bytes).sum::<u64>(), payload);
    for d in &devs {
        let ds = &d.stats;
        assert_eq!(ds.submitted, ds.completed_ok + ds.completed_err + ds.in_flight + ds.moved);
        assert_eq!(ds.latency_us_log2.iter().sum::<u64>(), ds.completed_ok + ds.completed_err);
        assert!(ds.submitted == 0 || ds.busy > std::time::Duration::ZERO, "{}: busy time", d.name);
    }
    assert_eq!((s.submitted(), s.completed(), bad.completed()), (3000, 3000, 100));
    assert!(s.latency_quantile(0.99).is_some());
}

/// A MAC step over AAD (an authenc route's, e.g. ESP's header and IV) goes
/// only to a device that declares `mac_over_aad` (the soft device); one
/// that does not (the scripted device, like kdev and afalg) is never given
/// it, however many times the balancer picks, and without a declaring
/// device the request is refused. Without AAD the scripted device takes it.
#[test]
fn mac_step_over_aad_goes_only_to_a_device_that_covers_aad() {
    let plain = Scripted::new("plain", only(&[HMAC_SHA1]));
    let ps = plain.shared.clone();
    let e = Engine::builder()
        .balancer(RoundRobin::default())
        .device(plain)
        .device(acrypto::SoftDevice::new("soft0"))
        .build()
        .unwrap();
    let key = b"an hmac key".to_vec();
    let s = e.session(SessionBuilder::new().step(HMAC_SHA1, Op::Digest, &key)).unwrap();
    let (aad, data) = (b"header and iv".to_vec(), vec![0x5a; 100]);
    let mut whole = aad.clone();
    whole.extend_from_slice(&data);
    for _ in 0..20 {
        let r = e.run(&s, Request::new(data.clone()).with_aad(&aad)).unwrap();
        assert_eq!(r.tag, hmac_sha1_by_hand(&key, &whole));
    }
    assert_eq!(ps.processed.load(Ordering::SeqCst), 0, "the device without mac_over_aad took a MAC over AAD");
    for _ in 0..20 {
        let r = e.run(&s, Request::new(data.clone())).unwrap();
        assert_eq!(r.tag, hmac_sha1_by_hand(&key, &data));
    }
    assert!(ps.processed.load(Ordering::SeqCst) > 0, "round robin never used the scripted device");

    let alone = Scripted::new("alone", only(&[HMAC_SHA1]));
    let als = alone.shared.clone();
    let e = Engine::builder().device(alone).build().unwrap();
    let s = e.session(SessionBuilder::new().step(HMAC_SHA1, Op::Digest, &key)).unwrap();
    let err = e.run(&s, Request::new(data.clone()).with_aad(&aad)).unwrap_err();
    assert!(matches!(err, Error::NoDevice(_) | Error::DeviceBroken(_) | Error::Unsupported(_)), "{err:?}");
    assert_eq!(als.processed.load(Ordering::SeqCst), 0);
    let r = e.run(&s, Request::new(data.clone())).unwrap();
    assert_eq!(r.tag, hmac_sha1_by_hand(&key, &data));
}
