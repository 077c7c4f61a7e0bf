//! loom models of the engine's concurrency. Run with
//! `RUSTFLAGS="--cfg acrypto_loom" cargo test -p acrypto-core --release --test loom`.
#![cfg(acrypto_loom)]

use acrypto_core::{
    Algorithm, Capability, Completion, DeviceHandle, Driver, Engine, Error, Failover, Op, Pending, Request,
    SessionBuilder, ShutdownMode,
};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// A driver the model drives by hand: no thread of its own. An `eager`
/// one completes its work from `data_ready`, on the submitting thread.
struct Manual {
    name: &'static str,
    eager: bool,
    handle: std::sync::Mutex<Option<DeviceHandle>>,
}

impl Manual {
    fn new(name: &'static str) -> Self {
        Manual { name, eager: false, handle: std::sync::Mutex::new(None) }
    }
    fn eager(name: &'static str) -> Self {
        Manual { name, eager: true, handle: std::sync::Mutex::new(None) }
    }
}

impl Driver for Manual {
    fn name(&self) -> &str {
        self.name
    }
    fn driver(&self) -> &str {
        "manual"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(Algorithm::Rng, 4)]
    }
    fn attach(&self, d: DeviceHandle) {
        *self.handle.lock().unwrap() = Some(d);
    }
    fn data_ready(&self) {
        if self.eager {
            let h = self.handle.lock().unwrap().clone();
            if let Some(h) = h {
                drain(&h);
            }
        }
    }
    fn detach(&self) {
        self.handle.lock().unwrap().take();
    }
}

fn handle(m: &Manual) -> DeviceHandle {
    m.handle.lock().unwrap().clone().unwrap()
}

/// Completes everything queued on a device, successfully.
fn drain(h: &DeviceHandle) -> usize {
    let batch = h.dequeue_batch(8);
    let n = batch.len();
    for w in batch {
        w.complete(Ok(()));
    }
    n
}

fn engine(devs: Vec<std::sync::Arc<Manual>>) -> Engine {
    let mut b = Engine::builder().completion_workers(0).max_in_flight(8).balancer(Failover::new(["a", "b"]));
    for d in devs {
        b = b.device_arc(d);
    }
    b.build().unwrap()
}

fn rng_session(e: &Engine) -> acrypto_core::Session {
    e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap()
}

/// Enqueue and dequeue against mark-broken and rehash: the request lands on
/// `a` or moves to `b`, or `a`'s driver took it first; either way it
/// completes exactly once and the counters add up.
#[test]
fn enqueue_dequeue_against_mark_broken_and_rehash() {
    loom::model(|| {
        let a = std::sync::Arc::new(Manual::new("a"));
        let b = std::sync::Arc::new(Manual::new("b"));
        let e = engine(vec![a.clone(), b.clone()]);
        let (ha, hb) = (handle(&a), handle(&b));
        let s = rng_session(&e);
        let calls = Arc::new(AtomicUsize::new(0));

        let breaker = {
            let ha = ha.clone();
            thread::spawn(move || ha.mark_broken("model"))
        };
        let driver_a = thread::spawn(move || {
            drain(&ha);
        });
        let c = calls.clone();
        e.submit(
            &s,
            Request::new(vec![0; 4]),
            Completion::callback(move |d| {
                assert!(d.status.is_ok());
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        breaker.join().unwrap();
        driver_a.join().unwrap();
        drain(&hb);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let st = e.stats();
        assert_eq!((st.submitted, st.completed_ok, st.completed_err, st.in_flight), (1, 1, 0, 0));
        assert_eq!(e.device("a").unwrap().stats.queue_depth, 0);
    });
}

/// A completion racing with the drop of the session and of a waiter's
/// handle, on an ORDERED session: the kept waiter still gets its result,
/// in order, exactly once.
#[test]
fn completion_against_session_drop() {
    loom::model(|| {
        let a = std::sync::Arc::new(Manual::new("a"));
        let e = engine(vec![a.clone()]);
        let ha = handle(&a);
        let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[]).ordered(true)).unwrap();
        let p1 = e.submit_pending(&s, Request::new(vec![0; 4]).with_user(1)).unwrap();
        let p2 = e.submit_pending(&s, Request::new(vec![0; 4]).with_user(2)).unwrap();
        let driver = thread::spawn(move || {
            drain(&ha);
        });
        let dropper = thread::spawn(move || {
            drop(s);
            drop(p1);
        });
        let d = p2.wait();
        assert_eq!(d.request.user, 2);
        assert!(d.status.is_ok());
        driver.join().unwrap();
        dropper.join().unwrap();
        let st = e.stats();
        assert_eq!((st.submitted, st.completed_ok, st.in_flight), (2, 2, 0));
    });
}

/// Shutdown (cancel) with work queued and a driver taking it at the same
/// time: the request completes exactly once, Ok or Canceled; the engine
/// refuses new work afterwards.
#[test]
fn shutdown_with_work_in_flight() {
    loom::model(|| {
        let a = std::sync::Arc::new(Manual::new("a"));
        let e = engine(vec![a.clone()]);
        let ha = handle(&a);
        let s = rng_session(&e);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        e.submit(
            &s,
            Request::new(vec![0; 4]),
            Completion::callback(move |d| {
                assert!(d.status.is_ok() || d.status == Err(Error::Canceled));
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        let e2 = e.clone();
        let stopper = thread::spawn(move || e2.shutdown(ShutdownMode::Cancel));
        let driver = thread::spawn(move || {
            drain(&ha);
        });
        stopper.join().unwrap();
        driver.join().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let rej = e.submit(&s, Request::new(vec![0; 4]), Pending::new().completion()).unwrap_err();
        assert_eq!(rej.error, Error::ShutDown);
    });
}

/// Shutdown (drain) against a concurrent submit: accepted work completes
/// Ok before shutdown returns, refused work is refused with ShutDown;
/// nothing is lost.
#[test]
fn drain_shutdown_against_submit() {
    loom::model(|| {
        let a = std::sync::Arc::new(Manual::eager("a"));
        let e = engine(vec![a.clone()]);
        let s = rng_session(&e);
        let calls = Arc::new(AtomicUsize::new(0));
        let submitter = {
            let (e, s, c) = (e.clone(), s.clone(), calls.clone());
            thread::spawn(move || {
                let r = e.submit(
                    &s,
                    Request::new(vec![0; 4]),
                    Completion::callback(move |d| {
                        assert!(d.status.is_ok());
                        c.fetch_add(1, Ordering::SeqCst);
                    }),
                );
                match r {
                    Ok(()) => 1,
                    Err(rej) => {
                        assert_eq!(rej.error, Error::ShutDown);
                        0
                    }
                }
            })
        };
        e.shutdown(ShutdownMode::Drain);
        let after_shutdown = calls.load(Ordering::SeqCst);
        let accepted = submitter.join().unwrap();
        // Drain: whatever was accepted had completed when shutdown returned.
        assert_eq!(after_shutdown, accepted);
        assert_eq!(e.stats().in_flight, 0);
    });
}

/// ORDERED delivery with completions on three devices at once: whichever
/// thread completes last, callbacks run in submission order.
#[test]
fn ordered_delivery_across_devices() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let devs: Vec<_> = ["a", "b", "c"].map(|n| std::sync::Arc::new(Manual::new(n))).into_iter().collect();
        let mut b =
            Engine::builder().completion_workers(0).max_in_flight(8).balancer(acrypto_core::RoundRobin::default());
        for d in &devs {
            b = b.device_arc(d.clone());
        }
        let e = b.build().unwrap();
        let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[]).ordered(true)).unwrap();
        let seen = Arc::new(loom::sync::Mutex::new(Vec::new()));
        for i in 0..3u64 {
            let seen = seen.clone();
            e.submit(
                &s,
                Request::new(vec![0; 4]).with_user(i),
                Completion::callback(move |d| {
                    seen.lock().unwrap().push(d.request.user);
                }),
            )
            .unwrap();
        }
        let drivers: Vec<_> = devs
            .iter()
            .map(|d| {
                let h = handle(d);
                thread::spawn(move || {
                    drain(&h);
                })
            })
            .collect();
        for t in drivers {
            t.join().unwrap();
        }
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2]);
    });
}
