//! The engine's fast path: batch submission (one queue lock and one
//! `data_ready` per run of requests bound for a device), batched
//! completion, and the null device.

use acrypto::drivers::NullDevice;
use acrypto::{
    Algorithm, Capability, Carry, Completion, CompletionQueue, DeviceHandle, Driver, Engine, Error, Op, Request,
    SessionBuilder, Work,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A driver without a thread: it counts `data_ready` calls and completes
/// what is queued when the test says so, recording each batch's size.
struct Recorder {
    name: String,
    queue_len: usize,
    handle: Mutex<Option<DeviceHandle>>,
    ready_calls: Arc<AtomicUsize>,
    batches: Arc<Mutex<Vec<usize>>>,
}

impl Recorder {
    fn new(name: &str, queue_len: usize) -> Self {
        Recorder {
            name: name.into(),
            queue_len,
            handle: Mutex::new(None),
            ready_calls: Arc::default(),
            batches: Arc::default(),
        }
    }
}

impl Driver for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    fn driver(&self) -> &str {
        "recorder"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(Algorithm::Rng, self.queue_len)]
    }
    fn attach(&self, d: DeviceHandle) {
        *self.handle.lock().unwrap() = Some(d);
    }
    fn data_ready(&self) {
        self.ready_calls.fetch_add(1, Ordering::SeqCst);
    }
    fn detach(&self) {
        self.handle.lock().unwrap().take();
    }
}

/// Completes everything queued on `h`, one dequeue at a time, filling each
/// request's data with its `user` byte.
fn drain(h: &DeviceHandle, batches: &Mutex<Vec<usize>>) {
    loop {
        let work = h.dequeue_batch(1000);
        if work.is_empty() {
            return;
        }
        batches.lock().unwrap().push(work.len());
        Work::complete_all(work.into_iter().map(|mut w| {
            let (_, r) = w.parts();
            let b = r.user as u8;
            r.data.iter_mut().for_each(|x| *x = b);
            (w, Ok(()))
        }));
    }
}

fn rng_requests(n: usize, cq: &CompletionQueue) -> Vec<(Request, Completion)> {
    (0..n).map(|i| (Request::new(vec![0; 8]).with_user(i as u64), Completion::Queue(cq.clone()))).collect()
}

#[test]
fn a_batch_is_queued_under_one_lock_with_one_data_ready() {
    let rec = Recorder::new("rec", 1024);
    let (calls, batches) = (rec.ready_calls.clone(), rec.batches.clone());
    let rec = Arc::new(rec);
    let e = Engine::builder().device_arc(rec.clone()).build().unwrap();
    let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    let cq = CompletionQueue::new();
    assert_eq!(e.submit_batch(&s, rng_requests(100, &cq)).unwrap(), 100);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one data_ready for the whole batch");
    let h = rec.handle.lock().unwrap().clone().unwrap();
    drain(&h, &batches);
    assert_eq!(*batches.lock().unwrap(), [100], "the driver takes the batch in one dequeue");
    let done = cq.poll(1000);
    assert_eq!(done.len(), 100);
    // Delivered in submission order, each with its own result.
    for (i, d) in done.into_iter().enumerate() {
        assert_eq!(d.request.user, i as u64);
        assert_eq!(d.into_result().unwrap().data, vec![i as u8; 8]);
    }
    let st = e.stats();
    assert_eq!((st.submitted, st.completed_ok, st.in_flight), (100, 100, 0));
}

#[test]
fn a_batch_stops_at_a_full_queue_and_hands_back_the_rest() {
    let rec = Arc::new(Recorder::new("rec", 4));
    let batches = rec.batches.clone();
    let e = Engine::builder().device_arc(rec.clone()).build().unwrap();
    let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    let cq = CompletionQueue::new();
    let err = e.submit_batch(&s, rng_requests(10, &cq)).unwrap_err();
    assert_eq!(err.accepted, 4);
    assert_eq!(err.rejected.error, Error::Busy);
    assert_eq!(err.rejected.request.user, 4);
    let rest: Vec<u64> = err.rest.iter().map(|(r, _)| r.user).collect();
    assert_eq!(rest, [5, 6, 7, 8, 9]);
    let st = e.stats();
    assert_eq!((st.submitted, st.in_flight, st.rejected_busy), (4, 4, 1));
    // The handed-back completions still work: resubmit them once there is room.
    let h = rec.handle.lock().unwrap().clone().unwrap();
    drain(&h, &batches);
    let mut rest = err.rest;
    rest.truncate(4);
    assert_eq!(e.submit_batch(&s, rest).unwrap(), 4);
    drain(&h, &batches);
    let users: Vec<u64> = cq.poll(100).into_iter().map(|d| d.request.user).collect();
    assert_eq!(users, [0, 1, 2, 3, 5, 6, 7, 8]);
    let st = e.stats();
    assert_eq!(st.submitted, st.completed_ok + st.completed_err + st.in_flight);
    assert_eq!(st.in_flight, 0);
}

#[test]
fn a_bad_request_stops_a_batch_after_the_good_ones_before_it() {
    let e = Engine::builder().device(NullDevice::new("null")).build().unwrap();
    let key = [7u8; 16];
    let alg: Algorithm = "aes-128-cbc".parse().unwrap();
    let s = e.session(SessionBuilder::new().step(alg, Op::Encrypt, &key)).unwrap();
    let cq = CompletionQueue::new();
    let mut items: Vec<(Request, Completion)> = (0..6)
        .map(|i| (Request::new(vec![1; 32]).with_iv(&[0; 16]).with_user(i), Completion::Queue(cq.clone())))
        .collect();
    items[3].0.data.push(0); // 33 bytes: not whole blocks
    let err = e.submit_batch(&s, items).unwrap_err();
    assert_eq!(err.accepted, 3);
    assert!(matches!(err.rejected.error, Error::InvalidLength(_)), "{:?}", err.rejected.error);
    assert_eq!(err.rejected.request.data.len(), 33, "the refused request comes back untouched");
    assert_eq!(err.rest.len(), 2);
    e.wait_idle().unwrap();
    let users: Vec<u64> = cq.poll(100).into_iter().map(|d| d.request.user).collect();
    assert_eq!(users, [0, 1, 2]);
}

#[test]
fn a_batch_spreads_over_devices() {
    let (a, b) = (Arc::new(Recorder::new("a", 1024)), Arc::new(Recorder::new("b", 1024)));
    let e = Engine::builder().device_arc(a.clone()).device_arc(b.clone()).build().unwrap();
    let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    let cq = CompletionQueue::new();
    assert_eq!(e.submit_batch(&s, rng_requests(64, &cq)).unwrap(), 64);
    let queued: Vec<usize> = e.devices().iter().map(|d| d.stats.queue_depth).collect();
    assert_eq!(queued.iter().sum::<usize>(), 64);
    assert!(queued.iter().all(|&q| q >= 16), "least-loaded sees what the batch already chose: {queued:?}");
    for r in [&a, &b] {
        let h = r.handle.lock().unwrap().clone().unwrap();
        drain(&h, &r.batches);
    }
    assert_eq!(cq.poll(100).len(), 64);
    assert_eq!(e.stats().in_flight, 0);
}

#[test]
fn the_null_device_completes_at_once_and_touches_nothing() {
    let e = acrypto::engine_from_spec("null:2").unwrap();
    assert!(e.devices().iter().all(|d| d.driver == "null"));
    let alg: Algorithm = "aes-128-cbc".parse().unwrap();
    let s = e.session(SessionBuilder::new().step(alg, Op::Encrypt, &[3; 16])).unwrap();
    let cq = CompletionQueue::new();
    for round in 0..50 {
        let items: Vec<(Request, Completion)> = (0..37)
            .map(|i| (Request::new(vec![i as u8; 64]).with_iv(&[0; 16]).with_user(i), Completion::Queue(cq.clone())))
            .collect();
        assert_eq!(e.submit_batch(&s, items).unwrap(), 37);
        // Completed within the submission: nothing waits.
        let done = cq.poll(100);
        assert_eq!(done.len(), 37, "round {round}");
        for d in done {
            let u = d.request.user as u8;
            assert_eq!(d.into_result().unwrap().data, vec![u; 64]);
        }
    }
    let p = e.submit_pending(&s, Request::new(vec![9; 16]).with_iv(&[0; 16])).unwrap();
    assert_eq!(p.wait().into_result().unwrap().data, vec![9; 16]);
    assert_eq!(e.run(&s, Request::new(vec![8; 16]).with_iv(&[0; 16])).unwrap().data, vec![8; 16]);
    let st = e.stats();
    assert_eq!((st.submitted, st.completed_ok, st.in_flight), (50 * 37 + 2, 50 * 37 + 2, 0));
}

#[test]
fn a_key_is_expanded_once_and_shared_by_its_clones() {
    use acrypto::Key;
    let k = Key::new(&[1, 2, 3]);
    let made = AtomicUsize::new(0);
    let expand = |b: &[u8]| -> Result<Vec<u8>, ()> {
        made.fetch_add(1, Ordering::SeqCst);
        Ok(b.iter().map(|x| x * 2).collect())
    };
    assert_eq!(k.schedule(expand).unwrap().unwrap(), &vec![2, 4, 6]);
    assert_eq!(k.schedule(expand).unwrap().unwrap(), &vec![2, 4, 6]);
    let clone = k.clone();
    assert!(clone.shares_schedule(&k));
    assert_eq!(clone.schedule(expand).unwrap().unwrap(), &vec![2, 4, 6]);
    assert_eq!(made.load(Ordering::SeqCst), 1, "expanded once for the key and its clones");
    // Another type (another driver's form) gets a slot of its own, up to
    // SCHEDULE_SLOTS; then the caller is told to expand for itself.
    assert_eq!(k.schedule(|_| Ok::<u32, ()>(5)).unwrap(), Some(&5));
    assert_eq!(k.schedule(|_| Ok::<u16, ()>(6)).unwrap(), Some(&6));
    assert_eq!(k.schedule(|_| Ok::<u8, ()>(7)).unwrap(), Some(&7));
    assert_eq!(acrypto::session::SCHEDULE_SLOTS, 4);
    assert_eq!(k.schedule(|_| Ok::<i8, ()>(8)).unwrap(), None);
    assert_eq!(k.schedule(expand).unwrap().unwrap(), &vec![2, 4, 6], "the first form is still there");
    // A failed expansion keeps nothing.
    let fresh = Key::new(&[9]);
    assert_eq!(fresh.schedule(|_| Err::<u8, _>("bad")), Err("bad"));
    assert_eq!(fresh.schedule(|b: &[u8]| Ok::<u8, ()>(b[0])).unwrap(), Some(&9));
    assert!(!Key::new(&[1, 2, 3]).shares_schedule(&k));
}

#[test]
fn the_software_device_keeps_the_schedule_with_the_session() {
    use acrypto::drivers::crypto::apply_step;
    use acrypto::drivers::schedule::Schedule;
    for name in ["aes-128-cbc", "aes-256-xts", "hmac-sha1", "hmac-sha256"] {
        let alg: Algorithm = name.parse().unwrap();
        let key: Vec<u8> = (0..alg.key_len().unwrap_or(20) as u8).collect();
        let op = if name.starts_with("aes") { Op::Encrypt } else { Op::Digest };
        let step = acrypto::Step::new(alg, op, &key).unwrap();
        let mut r = Request::new(vec![5; 32]).with_iv(&vec![0; alg.iv_len()]);
        apply_step(&step, &mut r).unwrap();
        // The slot now holds the software device's schedule for this algorithm.
        let kept = step.key.schedule(|_| -> Result<Schedule, ()> { panic!("{name}: expanded again") }).unwrap();
        assert!(kept.is_some_and(|s| s.fits(alg)), "{name}");
        // A second request gives the same answer as a fresh key would.
        let mut again = Request::new(vec![5; 32]).with_iv(&vec![0; alg.iv_len()]);
        apply_step(&step, &mut again).unwrap();
        let mut fresh = Request::new(vec![5; 32]).with_iv(&vec![0; alg.iv_len()]);
        apply_step(&acrypto::Step::new(alg, op, &key).unwrap(), &mut fresh).unwrap();
        assert_eq!((again.data, again.tag), (fresh.data, fresh.tag), "{name}");
    }
}

#[test]
fn a_key_slot_of_another_kind_falls_back_to_a_fresh_expansion() {
    use acrypto::drivers::crypto::apply_step;
    let key = [0x42u8; 16];
    let cbc: Algorithm = "aes-128-cbc".parse().unwrap();
    let hmac: Algorithm = "hmac-sha256".parse().unwrap();
    let reference = |alg: Algorithm, op: Op| {
        let mut r = Request::new(vec![7; 48]).with_iv(&vec![1; alg.iv_len()]);
        apply_step(&acrypto::Step::new(alg, op, &key).unwrap(), &mut r).unwrap();
        r
    };
    // The slot holds a foreign type: the step still answers correctly.
    let foreign = acrypto::Step::new(cbc, Op::Encrypt, &key).unwrap();
    assert_eq!(foreign.key.schedule(|_| Ok::<u32, ()>(5)).unwrap(), Some(&5));
    let mut r = Request::new(vec![7; 48]).with_iv(&[1; 16]);
    apply_step(&foreign, &mut r).unwrap();
    assert_eq!(r.data, reference(cbc, Op::Encrypt).data);
    // A clone of an AES key (its slot holds the AES schedule) used for HMAC.
    let aes_step = acrypto::Step::new(cbc, Op::Encrypt, &key).unwrap();
    apply_step(&aes_step, &mut Request::new(vec![0; 16]).with_iv(&[0; 16])).unwrap();
    let mac_step = acrypto::Step { alg: hmac, op: Op::Digest, key: aes_step.key.clone(), device: None };
    let mut m = Request::new(vec![7; 48]);
    apply_step(&mac_step, &mut m).unwrap();
    assert_eq!(m.tag, reference(hmac, Op::Digest).tag);
    // And the AES step still uses its own schedule correctly afterwards.
    let mut again = Request::new(vec![7; 48]).with_iv(&[1; 16]);
    apply_step(&aes_step, &mut again).unwrap();
    assert_eq!(again.data, reference(cbc, Op::Encrypt).data);
}

/// What a queue's notifier saw, in order.
fn recording_notifier(cq: &CompletionQueue) -> Arc<Mutex<Vec<bool>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    cq.set_notifier(move |non_empty| s.lock().unwrap().push(non_empty));
    seen
}

#[test]
fn a_queue_notifier_sees_every_change_between_empty_and_not() {
    let cq = CompletionQueue::new();
    let seen = recording_notifier(&cq);
    let done = |u| acrypto::Done { request: Request::new(vec![]).with_user(u), status: Ok(()) };
    cq.push(done(1), Carry::default());
    cq.push(done(2), Carry::default());
    assert_eq!(*seen.lock().unwrap(), [true], "only the first push makes it non-empty");
    assert_eq!(cq.poll(1).len(), 1);
    assert_eq!(*seen.lock().unwrap(), [true], "one still waits");
    assert_eq!(cq.poll(5).len(), 1);
    assert_eq!(*seen.lock().unwrap(), [true, false]);
    assert!(cq.poll(5).is_empty());
    assert_eq!(*seen.lock().unwrap(), [true, false], "an empty poll changes nothing");
    cq.push(done(3), Carry::default());
    cq.close();
    cq.push(done(4), Carry::default());
    assert_eq!(*seen.lock().unwrap(), [true, false, true, false], "close empties it; later pushes are dropped");
    assert!(cq.is_empty());
    // A notifier set on a queue that already holds completions is told at once.
    let cq = CompletionQueue::new();
    cq.push(done(5), Carry::default());
    assert_eq!(*recording_notifier(&cq).lock().unwrap(), [true]);
}

#[test]
fn a_queue_completion_carries_its_data_through_the_engine_in_order() {
    let e = Engine::builder().device(NullDevice::new("null")).build().unwrap();
    let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    let cq = CompletionQueue::new();
    let seen = recording_notifier(&cq);
    let carry = |i: usize| Carry([i, i + 1, i + 2, i + 3, i + 4, usize::MAX - i]);
    let items = (0..40).map(|i| {
        let c = if i % 5 == 4 { Completion::Queue(cq.clone()) } else { Completion::QueueCarry(cq.clone(), carry(i)) };
        (Request::new(vec![0; 8]).with_user(i as u64), c)
    });
    assert_eq!(e.submit_batch(&s, items).unwrap(), 40);
    e.submit(&s, Request::new(vec![0; 8]).with_user(40), Completion::QueueCarry(cq.clone(), carry(40))).unwrap();
    e.wait_idle().unwrap();
    let mut got = Vec::new();
    assert_eq!(cq.poll_carried(16, false, &mut got), 16);
    assert_eq!(cq.poll_carried(100, true, &mut got), 25);
    assert_eq!(cq.poll_carried(100, false, &mut got), 0);
    for (i, (d, c)) in got.iter().enumerate() {
        assert_eq!(d.request.user, i as u64);
        assert!(d.status.is_ok());
        let want = if i % 5 == 4 && i < 40 { Carry::default() } else { carry(i) };
        assert_eq!(*c, want, "completion {i}");
    }
    // The null device completes each run at once: the queue became
    // non-empty, then the polls emptied it; every change was seen in order.
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 2 && seen.len().is_multiple_of(2), "{seen:?}");
    assert!(seen.iter().enumerate().all(|(i, &v)| v == (i % 2 == 0)), "{seen:?}");
}
