//! Each built-in balancer, and a custom one, choosing devices in an engine.
//! Devices are gated so that where work was queued can be read off.

mod support;

use acrypto::{
    Affinity, AffinityKey, Balancer, Candidate, DeviceClass, Engine, Failover, LeastLoaded, Op, RateAware, Request,
    RoundRobin, SessionBuilder, SizeThreshold, WorkInfo,
};
use std::sync::{Arc, Mutex};
use support::*;

const KEY: [u8; 16] = [3; 16];

fn gated(name: &str, script: Script) -> (Scripted, Arc<Shared>) {
    // Batch 1: a gated worker holds at most one item out of its queue.
    let d = Scripted::gated(name, Script { algs: vec![AES128CTR], batch: 1, ..script });
    d.shared.record_order.store(true, std::sync::atomic::Ordering::SeqCst);
    let s = d.shared.clone();
    (d, s)
}

fn engine_with(b: impl Balancer + 'static, devs: Vec<Scripted>) -> Engine {
    let mut eb = Engine::builder().balancer(b);
    for d in devs {
        eb = eb.device(d);
    }
    eb.build().unwrap()
}

/// Items queued or held per device, in registration order.
fn placed(e: &Engine) -> Vec<u64> {
    e.devices().iter().map(|d| d.stats.submitted).collect()
}

/// The status of every completion, by `user`. Collected here and asserted by
/// `finish`: a panic inside a completion callback is caught by the engine
/// and would prove nothing.
type Statuses = Arc<Mutex<Vec<(u64, acrypto::Result<()>)>>>;

fn submit(e: &Engine, s: &acrypto::Session, done: &Statuses, len: usize, user: u64) {
    let done = done.clone();
    e.submit_with(s, Request::new(vec![0; len]).with_iv(&[0; 16]).with_user(user), move |d| {
        done.lock().unwrap().push((d.request.user, d.status));
    })
    .unwrap();
}

/// Opens the gates, waits, and checks that each of the `n` requests
/// submitted completed once and successfully.
fn finish(e: &Engine, shared: &[Arc<Shared>], done: &Statuses, n: u64) {
    shared.iter().for_each(|s| s.open());
    e.wait_idle().unwrap();
    e.shutdown(acrypto::ShutdownMode::Drain); // flushes the completion workers
    let mut got = done.lock().unwrap().clone();
    got.sort_by_key(|(u, _)| *u);
    let users: Vec<u64> = got.iter().map(|(u, _)| *u).collect();
    let mut want: Vec<u64> = users.clone();
    want.dedup();
    assert_eq!(users, want, "a request completed twice");
    assert_eq!(got.len() as u64, n, "completions");
    for (u, st) in &got {
        assert_eq!(st, &Ok(()), "request {u}");
    }
}

#[test]
fn round_robin_takes_turns() {
    let (devs, shared): (Vec<_>, Vec<_>) = (0..3).map(|i| gated(&format!("d{i}"), Script::default())).unzip();
    let e = engine_with(RoundRobin::default(), devs);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    let done = Statuses::default();
    for i in 0..30 {
        submit(&e, &s, &done, 16, i);
    }
    assert_eq!(placed(&e), vec![10, 10, 10]);
    finish(&e, &shared, &done, 30);
    for (k, sh) in shared.iter().enumerate() {
        assert_eq!(sh.order(), (0..10).map(|i| 3 * i + k as u64).collect::<Vec<_>>(), "d{k}");
    }
}

#[test]
fn least_loaded_evens_out_queues() {
    let (devs, shared): (Vec<_>, Vec<_>) = (0..2).map(|i| gated(&format!("d{i}"), Script::default())).unzip();
    let e = engine_with(LeastLoaded, devs);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    let done = Statuses::default();
    for i in 0..40 {
        submit(&e, &s, &done, 16, i);
    }
    let p = placed(&e);
    assert_eq!(p.iter().sum::<u64>(), 40);
    assert!(p[0].abs_diff(p[1]) <= 2, "{p:?}");
    finish(&e, &shared, &done, 40);
}

#[test]
fn affinity_keeps_each_session_on_one_device() {
    let (devs, shared): (Vec<_>, Vec<_>) = (0..4).map(|i| gated(&format!("d{i}"), Script::default())).unzip();
    let e = engine_with(Affinity(AffinityKey::Session), devs);
    let sessions: Vec<_> =
        (0..6).map(|_| e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap()).collect();
    let done = Statuses::default();
    for round in 0..20 {
        for (k, s) in sessions.iter().enumerate() {
            submit(&e, s, &done, 16, (k as u64) << 32 | round);
        }
    }
    finish(&e, &shared, &done, 120);
    for k in 0..6u64 {
        let homes: Vec<usize> =
            shared.iter().enumerate().filter(|(_, s)| s.order().iter().any(|u| u >> 32 == k)).map(|(i, _)| i).collect();
        assert_eq!(homes.len(), 1, "session {k} ran on devices {homes:?}");
    }
    // Six sessions over four devices do not all land on one.
    assert!(shared.iter().filter(|s| !s.order().is_empty()).count() > 1);
}

#[test]
fn rate_aware_sends_more_to_the_faster_device() {
    let (fast, fs) = gated("fast", Script { rate: Some(1_000_000_000), ..Script::default() });
    let (slow, ss) = gated("slow", Script { rate: Some(100_000_000), ..Script::default() });
    let e = engine_with(RateAware::default(), vec![fast, slow]);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    let done = Statuses::default();
    for i in 0..110 {
        submit(&e, &s, &done, 1024, i);
    }
    let p = placed(&e);
    assert!(p[1] > 0 && p[0] >= 8 * p[1], "fast {} slow {}", p[0], p[1]);
    finish(&e, &[fs, ss], &done, 110);
}

#[test]
fn size_threshold_sends_small_work_to_cpus_and_large_to_accelerators() {
    let (cpu, cs) = gated("cpu", Script { class: DeviceClass::Cpu, ..Script::default() });
    let (acc, as_) = gated("accel", Script { class: DeviceClass::Accelerator, ..Script::default() });
    let e = engine_with(SizeThreshold { threshold: 1024 }, vec![cpu, acc]);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    let done = Statuses::default();
    for i in 0..20 {
        submit(&e, &s, &done, if i % 2 == 0 { 64 } else { 16384 }, i);
    }
    finish(&e, &[cs.clone(), as_.clone()], &done, 20);
    assert_eq!(cs.order(), (0..10).map(|i| 2 * i).collect::<Vec<_>>());
    assert_eq!(as_.order(), (0..10).map(|i| 2 * i + 1).collect::<Vec<_>>());
}

#[test]
fn failover_uses_the_primary_until_it_breaks_then_the_backup() {
    let (backup, bs) = gated("backup", Script::default());
    let (primary, ps) = gated("primary", Script::default());
    let e = engine_with(Failover::new(["primary", "backup"]), vec![backup, primary]);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    let done = Statuses::default();
    for i in 0..10 {
        submit(&e, &s, &done, 16, i);
    }
    assert_eq!(placed(&e), vec![0, 10]);
    // The primary's worker holds request 0 when it breaks; 1..10 move.
    assert_eq!(ps.held(), 0);
    e.mark_broken("primary", "test").unwrap();
    for i in 10..20 {
        submit(&e, &s, &done, 16, i);
    }
    finish(&e, &[bs.clone(), ps.clone()], &done, 20);
    assert_eq!(ps.order(), vec![0]);
    let mut on_backup = bs.order();
    on_backup.sort();
    assert_eq!(on_backup, (1..20).collect::<Vec<_>>());
}

/// A custom balancer: always the last capable device, and on rehash the
/// first; proves the trait is all a policy needs.
struct LastThenFirst;

impl Balancer for LastThenFirst {
    fn name(&self) -> &str {
        "last-then-first"
    }
    fn find_device(&self, c: &[Candidate<'_>], _: &WorkInfo) -> Option<usize> {
        Some(c.len() - 1)
    }
    fn rehash(&self, _broken: acrypto::DeviceId, _c: &[Candidate<'_>], _: &WorkInfo) -> Option<usize> {
        Some(0)
    }
}

#[test]
fn a_custom_balancer_decides_placement_and_rehash() {
    let (devs, shared): (Vec<_>, Vec<_>) = (0..3).map(|i| gated(&format!("d{i}"), Script::default())).unzip();
    let e = engine_with(LastThenFirst, devs);
    assert_eq!(e.balancer_name(), "last-then-first");
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    let done = Statuses::default();
    for i in 0..12 {
        submit(&e, &s, &done, 16, i);
    }
    assert_eq!(placed(&e), vec![0, 0, 12]);
    // d2's worker holds request 0; rehash puts the 11 queued on the first
    // remaining candidate, whose worker then takes request 1 and holds it.
    assert_eq!(shared[2].held(), 0);
    e.mark_broken("d2", "test").unwrap();
    assert_eq!(shared[0].held(), 1);
    assert_eq!(e.device("d0").unwrap().stats.queue_depth, 10);
    assert_eq!(e.device("d1").unwrap().stats.submitted, 0);
    finish(&e, &shared, &done, 12);
    assert_eq!(shared[0].order(), (1..12).collect::<Vec<_>>());
    assert_eq!(shared[2].order(), vec![0]);
}
