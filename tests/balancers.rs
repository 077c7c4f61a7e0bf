//! Each built-in balancer, and a custom one, choosing devices in an engine.
//! Devices are gated so that where work was queued can be read off.

mod support;

use acrypto::{
    Affinity, AffinityKey, Balancer, Candidate, DeviceClass, Engine, Failover, LeastLoaded, Op, RateAware, Request,
    RoundRobin, SessionBuilder, SizeThreshold, WorkInfo,
};
use std::sync::Arc;
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

fn submit(e: &Engine, s: &acrypto::Session, len: usize, user: u64) {
    e.submit_with(s, Request::new(vec![0; len]).with_iv(&[0; 16]).with_user(user), |d| assert!(d.status.is_ok()))
        .unwrap();
}

fn finish(e: &Engine, shared: &[Arc<Shared>]) {
    shared.iter().for_each(|s| s.open());
    e.wait_idle();
}

#[test]
fn round_robin_takes_turns() {
    let (devs, shared): (Vec<_>, Vec<_>) = (0..3).map(|i| gated(&format!("d{i}"), Script::default())).unzip();
    let e = engine_with(RoundRobin::default(), devs);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    for i in 0..30 {
        submit(&e, &s, 16, i);
    }
    assert_eq!(placed(&e), vec![10, 10, 10]);
    finish(&e, &shared);
}

#[test]
fn least_loaded_evens_out_queues() {
    let (devs, shared): (Vec<_>, Vec<_>) = (0..2).map(|i| gated(&format!("d{i}"), Script::default())).unzip();
    let e = engine_with(LeastLoaded, devs);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    for i in 0..40 {
        submit(&e, &s, 16, i);
    }
    let p = placed(&e);
    assert_eq!(p.iter().sum::<u64>(), 40);
    assert!(p[0].abs_diff(p[1]) <= 2, "{p:?}");
    finish(&e, &shared);
}

#[test]
fn affinity_keeps_each_session_on_one_device() {
    let (devs, shared): (Vec<_>, Vec<_>) = (0..4).map(|i| gated(&format!("d{i}"), Script::default())).unzip();
    let e = engine_with(Affinity(AffinityKey::Session), devs);
    let sessions: Vec<_> =
        (0..6).map(|_| e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap()).collect();
    for round in 0..20 {
        for (k, s) in sessions.iter().enumerate() {
            submit(&e, s, 16, (k as u64) << 32 | round);
        }
    }
    finish(&e, &shared);
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
    for i in 0..110 {
        submit(&e, &s, 1024, i);
    }
    let p = placed(&e);
    assert!(p[0] >= 8 * p[1], "fast {} slow {}", p[0], p[1]);
    finish(&e, &[fs, ss]);
}

#[test]
fn size_threshold_sends_small_work_to_cpus_and_large_to_accelerators() {
    let (cpu, cs) = gated("cpu", Script { class: DeviceClass::Cpu, ..Script::default() });
    let (acc, as_) = gated("accel", Script { class: DeviceClass::Accelerator, ..Script::default() });
    let e = engine_with(SizeThreshold { threshold: 1024 }, vec![cpu, acc]);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    for i in 0..20 {
        submit(&e, &s, if i % 2 == 0 { 64 } else { 16384 }, i);
    }
    finish(&e, &[cs.clone(), as_.clone()]);
    assert!(cs.order().iter().all(|u| u % 2 == 0) && cs.order().len() == 10);
    assert!(as_.order().iter().all(|u| u % 2 == 1) && as_.order().len() == 10);
}

#[test]
fn failover_uses_the_primary_until_it_breaks_then_the_backup() {
    let (backup, bs) = gated("backup", Script::default());
    let (primary, ps) = gated("primary", Script::default());
    let e = engine_with(Failover::new(["primary", "backup"]), vec![backup, primary]);
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    for i in 0..10 {
        submit(&e, &s, 16, i);
    }
    assert_eq!(placed(&e), vec![0, 10]);
    e.mark_broken("primary", "test").unwrap();
    for i in 10..20 {
        submit(&e, &s, 16, i);
    }
    finish(&e, &[bs.clone(), ps.clone()]);
    // The primary kept at most the one item its worker held; the rest moved.
    assert!(ps.order().len() <= 1);
    assert_eq!(bs.order().len() + ps.order().len(), 20);
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
    for i in 0..12 {
        submit(&e, &s, 16, i);
    }
    assert_eq!(placed(&e), vec![0, 0, 12]);
    e.mark_broken("d2", "test").unwrap();
    // Rehash put the moved work on the first remaining candidate.
    assert!(e.device("d0").unwrap().stats.queue_depth >= 11);
    assert_eq!(e.device("d1").unwrap().stats.queue_depth, 0);
    finish(&e, &shared);
}
