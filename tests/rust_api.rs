//! The Rust API as a library user meets it: reusing requests, one owner per
//! `Pending`, blocking calls from inside a DIRECT callback, sessions of
//! another engine, sessions after shutdown, routes that would lose a result.

use acrypto::{soft_engine, Algorithm, Engine, Error, Op, Request, Session, SessionBuilder};
use aes::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KEY: [u8; 16] = [7; 16];
const MAC_KEY: &[u8] = b"a mac key of some length";
const IV: [u8; 16] = [9; 16];

fn alg(name: &str) -> Algorithm {
    name.parse().unwrap()
}

fn cbc(data: &[u8]) -> Vec<u8> {
    let mut buf = data.to_vec();
    cbc::Encryptor::<aes::Aes128>::new(&KEY.into(), &IV.into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, data.len())
        .unwrap();
    buf
}

fn ctr(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    ctr::Ctr128BE::<aes::Aes128>::new(&KEY.into(), &IV.into()).apply_keystream(&mut v);
    v
}

fn hmac(data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(MAC_KEY).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Fresh data for round `i` (a multiple of 16 bytes, different each round).
fn data(i: usize) -> Vec<u8> {
    (0..64 + 16 * i).map(|j| (j * 31 + i * 7) as u8).collect()
}

struct Routes {
    cbc: Session,
    ctr: Session,
    mac: Session,
    cbc_then_mac: Session,
}

fn routes(e: &Engine) -> Routes {
    Routes {
        cbc: e.session(SessionBuilder::new().step(alg("aes-128-cbc"), Op::Encrypt, &KEY)).unwrap(),
        ctr: e.session(SessionBuilder::new().step(alg("aes-128-ctr"), Op::Encrypt, &KEY)).unwrap(),
        mac: e.session(SessionBuilder::new().step(alg("hmac-sha256"), Op::Digest, MAC_KEY)).unwrap(),
        cbc_then_mac: e
            .session(SessionBuilder::new().step(alg("aes-128-cbc"), Op::Encrypt, &KEY).step(
                alg("hmac-sha256"),
                Op::Digest,
                MAC_KEY,
            ))
            .unwrap(),
    }
}

/// Runs `r` on `s` by `run` or by `submit_pending`.
fn go(e: &Engine, s: &Session, r: Request, pending: bool) -> Request {
    if pending {
        e.submit_pending(s, r).unwrap().wait().into_result().unwrap()
    } else {
        e.run(s, r).unwrap()
    }
}

#[test]
fn a_reused_request_is_correct_in_every_shape() {
    let e = soft_engine(2).unwrap();
    let rt = routes(&e);
    for pending in [false, true] {
        // In place.
        let mut r = Request::new(Vec::new()).with_iv(&IV);
        for i in 0..4 {
            r.data = data(i);
            r = go(&e, &rt.cbc, r, pending);
            assert_eq!(r.data, cbc(&data(i)), "in place, round {i}, pending {pending}");
        }
        // Separate output: every round encrypts the new data, not the last output.
        let mut r = Request::new(Vec::new()).with_iv(&IV).with_output(Vec::new());
        for i in 0..4 {
            r.data = data(i);
            r = go(&e, &rt.cbc, r, pending);
            assert_eq!(r.data, data(i), "separate output leaves data alone");
            assert_eq!(r.output(), cbc(&data(i)).as_slice(), "separate output, round {i}, pending {pending}");
        }
        // With a tag: cipher into a separate output, MAC over the ciphertext.
        let mut r = Request::new(Vec::new()).with_iv(&IV).with_output(Vec::new());
        for i in 0..4 {
            r.data = data(i);
            r = go(&e, &rt.cbc_then_mac, r, pending);
            let ct = cbc(&data(i));
            assert_eq!(r.output(), ct.as_slice(), "cipher+mac output, round {i}");
            assert_eq!(r.tag, hmac(&ct), "cipher+mac tag, round {i}, pending {pending}");
        }
        // Across algorithms: one request through cbc, ctr and a MAC in turn.
        let mut r = Request::new(Vec::new()).with_iv(&IV).with_output(Vec::new());
        for i in 0..6 {
            r.data = data(i);
            match i % 3 {
                0 => {
                    r = go(&e, &rt.cbc, r, pending);
                    assert_eq!(r.output(), cbc(&data(i)).as_slice(), "cbc round {i}");
                }
                1 => {
                    r = go(&e, &rt.ctr, r, pending);
                    assert_eq!(r.output(), ctr(&data(i)).as_slice(), "ctr round {i}");
                }
                _ => {
                    r = go(&e, &rt.mac, r, pending);
                    assert_eq!(r.tag, hmac(&data(i)), "mac round {i}: the MAC is over data, not the last output");
                }
            }
        }
    }
}

#[test]
fn requests_with_equal_public_fields_are_equal() {
    let e = soft_engine(1).unwrap();
    let rt = routes(&e);
    let done = e.run(&rt.cbc, Request::new(data(1)).with_iv(&IV).with_output(Vec::new())).unwrap();
    let fresh =
        Request::new(done.data.clone()).with_iv(&done.iv).with_output(done.out.clone().unwrap()).with_user(done.user);
    assert_eq!(done, fresh);
    assert_ne!(done, fresh.clone().with_user(1));
}

/// Compiles only while `Pending` is not `Clone`: with a `Clone` impl the
/// call below is ambiguous (two impls apply).
#[test]
fn pending_has_one_owner() {
    trait AmbiguousIfClone<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfClone<()> for T {}
    #[allow(dead_code)]
    struct IsClone;
    impl<T: Clone> AmbiguousIfClone<IsClone> for T {}
    <acrypto::Pending as AmbiguousIfClone<_>>::check();

    // The one owner is woken: awaited on another thread, it resolves.
    let e = soft_engine(1).unwrap();
    let rt = routes(&e);
    let p = e.submit_pending(&rt.cbc, Request::new(data(2)).with_iv(&IV)).unwrap();
    let t = std::thread::spawn(move || block_on(p));
    let d = t.join().unwrap();
    assert_eq!(d.into_result().unwrap().data, cbc(&data(2)));
}

/// A minimal executor: polls `f` on this thread, parking between wakes.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn blocking_calls_inside_a_direct_callback_are_refused_at_once() {
    // One device: the callback runs on the thread that would have to run
    // the nested request.
    let e = soft_engine(1).unwrap();
    let direct = e.session(SessionBuilder::new().step(alg("aes-128-cbc"), Op::Encrypt, &KEY).direct(true)).unwrap();
    let (tx, rx) = mpsc::channel();
    let (e2, s2) = (e.clone(), direct.clone());
    e.submit_with(&direct, Request::new(data(0)).with_iv(&IV), move |done| {
        assert!(done.status.is_ok());
        let run = e2.run(&s2, Request::new(data(1)).with_iv(&IV)).map(|_| ());
        let idle = e2.wait_idle();
        let blocking = e2
            .submit_blocking(&s2, Request::new(data(1)).with_iv(&IV), acrypto::Completion::callback(|_| {}))
            .map_err(|r| r.error);
        // A non-blocking submission is fine from here.
        let plain = e2.submit_with(&s2, Request::new(data(1)).with_iv(&IV), |_| {}).map_err(|r| r.error);
        tx.send((run, idle, blocking, plain)).unwrap();
    })
    .unwrap();
    let (run, idle, blocking, plain) =
        rx.recv_timeout(Duration::from_secs(1)).expect("the callback returned within 1 s");
    assert!(matches!(run, Err(Error::WouldDeadlock(_))), "{run:?}");
    assert!(matches!(idle, Err(Error::WouldDeadlock(_))), "{idle:?}");
    assert!(matches!(blocking, Err(Error::WouldDeadlock(_))), "{blocking:?}");
    assert_eq!(plain, Ok(()));
    // And the engine is not stuck afterwards.
    let t = Instant::now();
    e.wait_idle().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(e.run(&direct, Request::new(data(3)).with_iv(&IV)).unwrap().data, cbc(&data(3)));
}

#[test]
fn blocking_calls_from_a_deferred_callback_still_work() {
    let e = soft_engine(1).unwrap();
    let rt = routes(&e);
    let (tx, rx) = mpsc::channel();
    let (e2, s2) = (e.clone(), rt.cbc.clone());
    e.submit_with(&rt.cbc, Request::new(data(0)).with_iv(&IV), move |_| {
        let r = e2.run(&s2, Request::new(data(1)).with_iv(&IV)).map(|r| r.data);
        tx.send((r, e2.wait_idle())).unwrap();
    })
    .unwrap();
    let (r, idle) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(r.unwrap(), cbc(&data(1)));
    assert_eq!(idle, Ok(()));
    // Another engine's blocking calls are fine from inside this one's DIRECT callback.
    let other = soft_engine(1).unwrap();
    let other_s = routes(&other).cbc;
    let direct = e.session(SessionBuilder::new().step(alg("aes-128-cbc"), Op::Encrypt, &KEY).direct(true)).unwrap();
    let (tx, rx) = mpsc::channel();
    e.submit_with(&direct, Request::new(data(0)).with_iv(&IV), move |_| {
        tx.send(other.run(&other_s, Request::new(data(2)).with_iv(&IV)).map(|r| r.data)).unwrap();
    })
    .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap(), cbc(&data(2)));
}

#[test]
fn a_session_of_another_engine_is_refused() {
    let a = soft_engine(1).unwrap();
    let b = soft_engine(1).unwrap();
    let sa = routes(&a).cbc;
    let sb = routes(&b).cbc;
    assert_ne!(sa.id(), sb.id(), "session ids are unique across engines");
    let foreign = |e: &Error| matches!(e, Error::InvalidArgument(m) if m.contains("another engine"));
    let req = || Request::new(data(0)).with_iv(&IV);
    let err = b.run(&sa, req()).unwrap_err();
    assert!(foreign(&err), "{err:?}");
    let rej = b.submit_pending(&sa, req()).unwrap_err();
    assert!(foreign(&rej.error), "{:?}", rej.error);
    assert_eq!(rej.request, req(), "the refused request comes back untouched");
    let rej = b.submit_batch(&sa, vec![(req(), acrypto::Completion::callback(|_| {}))]).unwrap_err();
    assert!(foreign(&rej.rejected.error));
    assert_eq!(rej.accepted, 0);
    assert_eq!(b.stats().submitted, 0, "nothing was accepted");
    // Each engine still takes its own.
    assert_eq!(a.run(&sa, req()).unwrap().data, cbc(&data(0)));
    assert_eq!(b.run(&sb, req()).unwrap().data, cbc(&data(0)));
}

#[test]
fn a_session_after_shutdown_is_shut_down() {
    let e = soft_engine(1).unwrap();
    e.shutdown(acrypto::ShutdownMode::Drain);
    let err = e.session(SessionBuilder::new().step(alg("sha256"), Op::Digest, &[])).unwrap_err();
    assert_eq!(err, Error::ShutDown);
}

#[test]
fn routes_whose_steps_overwrite_each_others_results_are_refused() {
    let e = soft_engine(1).unwrap();
    let two_digests = SessionBuilder::new().step(alg("sha256"), Op::Digest, &[]).step(alg("sha1"), Op::Digest, &[]);
    let err = e.session(two_digests).unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("both write")), "{err:?}");
    let digest_then_verify =
        SessionBuilder::new().step(alg("sha256"), Op::Digest, &[]).step(alg("hmac-sha256"), Op::Verify, MAC_KEY);
    let err = e.session(digest_then_verify).unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("overwrites")), "{err:?}");
    // One tag writer after a cipher is fine, and so is verify then decrypt.
    let s = e
        .session(SessionBuilder::new().step(alg("aes-128-cbc"), Op::Encrypt, &KEY).step(alg("sha256"), Op::Digest, &[]))
        .unwrap();
    let r = e.run(&s, Request::new(data(0)).with_iv(&IV)).unwrap();
    assert_eq!(r.tag, Sha256::digest(cbc(&data(0))).to_vec());
    e.session(SessionBuilder::new().step(alg("hmac-sha256"), Op::Verify, MAC_KEY).step(
        alg("aes-128-cbc"),
        Op::Decrypt,
        &KEY,
    ))
    .unwrap();
}
