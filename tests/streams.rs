//! Streams on the software devices: random split points over random
//! messages give the one-shot result for every hash, HMAC and cipher mode;
//! a device that fails or breaks mid-stream gives the right digest or a
//! clear error, never a wrong one; bad uses are clear errors.
//!
//! The one-shot results come from the engine's ordinary requests on a
//! software device, which the known-answer vectors (`tests/kat.rs`) and the
//! OpenSSL cross-checks (`tests/crosscheck.rs`) prove.

mod common;

use acrypto::drivers::crypto::apply_steps;
use acrypto::drivers::stream::soft_family;
use acrypto::{
    soft_devices, Algorithm, Capability, CipherMode, DeviceHandle, Driver, Engine, Error, Op, OpKind, Request,
    SessionBuilder, Step, StreamState, Work,
};
use common::rng::{bytes, len_in, seeded};
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

fn soft_engine(n: usize) -> Engine {
    let mut b = Engine::builder();
    for d in soft_devices(n) {
        b = b.device(d);
    }
    b.build().unwrap()
}

/// Every algorithm with a stream form.
fn streamable() -> Vec<Algorithm> {
    Algorithm::all()
        .filter(|a| match a {
            Algorithm::Aes { mode, .. } => *mode != CipherMode::Xts,
            _ => matches!(a.kind(), OpKind::Hash | OpKind::Mac),
        })
        .collect()
}

fn key_for(rng: &mut StdRng, alg: Algorithm) -> Vec<u8> {
    match alg.key_len() {
        Some(n) => bytes(rng, n),
        None => {
            let n = len_in(rng, 0, 100);
            bytes(rng, n)
        }
    }
}

/// Cuts `len` into random pieces, some of them empty.
fn splits(rng: &mut StdRng, len: usize) -> Vec<std::ops::Range<usize>> {
    let mut v = Vec::new();
    let mut at = 0;
    while at < len {
        let n = match rng.gen_range(0..6) {
            0 => 0,
            1 => rng.gen_range(1..16),
            2 => 16 * rng.gen_range(1..4),
            _ => rng.gen_range(1..=len - at),
        }
        .min(len - at);
        v.push(at..at + n);
        at += n;
    }
    if rng.gen_bool(0.5) {
        v.push(len..len);
    }
    v
}

/// The message length: ciphers without CTR take whole blocks.
fn message_len(rng: &mut StdRng, alg: Algorithm) -> usize {
    let n = len_in(rng, 0, 5000);
    match alg {
        Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ecb, .. } => n - n % 16,
        _ => n,
    }
}

fn ops(alg: Algorithm) -> Vec<Op> {
    match alg.kind() {
        OpKind::Cipher => vec![Op::Encrypt, Op::Decrypt],
        _ => vec![Op::Digest],
    }
}

#[test]
fn random_split_points_equal_one_shot_for_every_algorithm() {
    let mut rng = seeded("streams-random-splits");
    // One device, and three (updates of one stream then run on different devices).
    for devices in [1, 3] {
        let e = soft_engine(devices);
        let mut cases = 0;
        for alg in streamable() {
            for op in ops(alg) {
                for _ in 0..12 {
                    let key = key_for(&mut rng, alg);
                    let s = e.session(SessionBuilder::new().step(alg, op, &key)).unwrap();
                    let msg = {
                        let n = message_len(&mut rng, alg);
                        bytes(&mut rng, n)
                    };
                    let iv = bytes(&mut rng, alg.iv_len());
                    let want = e.run(&s, Request::new(msg.clone()).with_iv(&iv)).unwrap();
                    let mut st = e.stream(&s, &iv).unwrap();
                    let mut out = Vec::new();
                    for r in splits(&mut rng, msg.len()) {
                        let before = out.len();
                        let max = st.max_output(r.len());
                        st.update(&msg[r], &mut out).unwrap();
                        assert!(out.len() - before <= max, "{alg}: output beyond max_output");
                    }
                    let tag = st.finish(&mut out).unwrap();
                    assert!(st.is_finished());
                    match alg.kind() {
                        OpKind::Cipher => {
                            assert_eq!(out, want.data, "{alg} {op:?} len {}", msg.len());
                            assert!(tag.is_empty());
                        }
                        _ => {
                            assert_eq!(tag, want.tag, "{alg} len {}", msg.len());
                            assert!(out.is_empty());
                        }
                    }
                    cases += 1;
                }
            }
        }
        println!("{devices} device(s): {cases} streams equal their one-shot results");
    }
}

#[test]
fn mac_streams_verify_and_refuse_a_wrong_tag() {
    let mut rng = seeded("streams-verify");
    let e = soft_engine(2);
    for alg in streamable().into_iter().filter(|a| a.kind() == OpKind::Mac) {
        for _ in 0..8 {
            let key = key_for(&mut rng, alg);
            let msg = {
                let n = len_in(&mut rng, 0, 3000);
                bytes(&mut rng, n)
            };
            let digest = e.session(SessionBuilder::new().step(alg, Op::Digest, &key)).unwrap();
            let mac = e.run(&digest, Request::new(msg.clone())).unwrap().tag;
            let verify = e.session(SessionBuilder::new().step(alg, Op::Verify, &key)).unwrap();
            let n = len_in(&mut rng, 10, mac.len());
            for flip in [None, Some(rng.gen_range(0..n * 8))] {
                let mut tag = mac[..n].to_vec();
                if let Some(bit) = flip {
                    tag[bit / 8] ^= 1 << (bit % 8);
                }
                let mut st = e.stream(&verify, &[]).unwrap();
                for r in splits(&mut rng, msg.len()) {
                    st.update(&msg[r], &mut Vec::new()).unwrap();
                }
                let got = st.verify(&tag);
                match flip {
                    None => assert_eq!(got, Ok(()), "{alg}: the right tag ({n} bytes)"),
                    Some(_) => assert_eq!(got, Err(Error::VerifyFailed), "{alg}: a flipped bit"),
                }
                assert!(st.is_finished());
            }
            // finish on a verify stream, verify on a digest stream: clear errors.
            let mut st = e.stream(&verify, &[]).unwrap();
            assert!(matches!(st.finish(&mut Vec::new()), Err(Error::InvalidArgument(_))));
            let mut st = e.stream(&digest, &[]).unwrap();
            assert!(matches!(st.verify(&mac), Err(Error::InvalidArgument(_))));
        }
    }
}

#[test]
fn bad_uses_are_clear_errors_and_change_nothing() {
    let e = soft_engine(1);
    let key: Vec<u8> = (0..32).collect();
    let xts = e
        .session(SessionBuilder::new().step(Algorithm::Aes { key_bits: 128, mode: CipherMode::Xts }, Op::Encrypt, &key))
        .unwrap();
    assert!(matches!(e.stream(&xts, &[0; 16]), Err(Error::Unsupported(_))));
    let gcm = e.session(SessionBuilder::new().step(Algorithm::AesGcm { key_bits: 256 }, Op::Encrypt, &key)).unwrap();
    assert!(matches!(e.stream(&gcm, &[0; 12]), Err(Error::Unsupported(_))));
    let sha = Algorithm::Digest(acrypto::DigestKind::Sha256);
    let route = e
        .session(
            SessionBuilder::new()
                .step(Algorithm::Aes { key_bits: 256, mode: CipherMode::Cbc }, Op::Encrypt, &key)
                .step(sha, Op::Digest, &[]),
        )
        .unwrap();
    assert!(matches!(e.stream(&route, &[0; 16]), Err(Error::Unsupported(_))));
    let cbc = e
        .session(SessionBuilder::new().step(Algorithm::Aes { key_bits: 256, mode: CipherMode::Cbc }, Op::Encrypt, &key))
        .unwrap();
    assert!(matches!(e.stream(&cbc, &[0; 15]), Err(Error::InvalidLength(_))));
    let hash = e.session(SessionBuilder::new().step(sha, Op::Digest, &[])).unwrap();
    assert!(matches!(e.stream(&hash, &[0; 16]), Err(Error::InvalidLength(_))));
    // A CBC stream that does not end on a block boundary: an error, and the
    // stream is as it was (the missing byte can still come).
    let mut st = e.stream(&cbc, &[0; 16]).unwrap();
    let mut out = Vec::new();
    st.update(&[1; 31], &mut out).unwrap();
    assert_eq!(out.len(), 16);
    assert!(matches!(st.finish(&mut out), Err(Error::InvalidLength(_))));
    st.update(&[1], &mut out).unwrap();
    st.finish(&mut out).unwrap();
    let want = e.run(&cbc, Request::new(vec![1; 32]).with_iv(&[0; 16])).unwrap();
    assert_eq!(out, want.data);
    // A finished stream takes nothing more.
    assert!(matches!(st.update(&[1; 16], &mut out), Err(Error::InvalidArgument(_))));
    assert!(matches!(st.finish(&mut out), Err(Error::InvalidArgument(_))));
    // An empty hash stream is the digest of the empty message.
    let mut st = e.stream(&hash, &[]).unwrap();
    st.update(&[], &mut out).unwrap();
    let empty = e.run(&hash, Request::new(Vec::new())).unwrap().tag;
    assert_eq!(st.finish(&mut out).unwrap(), empty);
    // A stream request on a route, or a cipher session, is refused.
    let mut r = Request::new(vec![0; 16]).with_iv(&[0; 16]);
    r.stream = Some(Box::default());
    assert!(matches!(e.run(&cbc, r), Err(Error::InvalidArgument(_))));
}

/// A device that runs the software primitives and names a stream family,
/// and fails as told: `fail_one_in` items fail *after* the work was done
/// (the worst case for a stream: the state advanced, then the device said
/// it failed), and after `break_after` items it marks itself broken.
struct Flaky {
    name: String,
    family: Option<String>,
    fail_one_in: u64,
    break_after: u64,
    ran: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    shared: Arc<(Mutex<(bool, bool)>, Condvar)>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Flaky {
    fn new(name: &str, family: Option<&str>, fail_one_in: u64, break_after: u64) -> Flaky {
        Flaky {
            name: name.into(),
            family: family.map(String::from),
            fail_one_in,
            break_after,
            ran: Arc::default(),
            failed: Arc::default(),
            shared: Arc::default(),
            thread: Mutex::new(None),
        }
    }
}

fn run_flaky(w: &mut Work, n: u64, fail_one_in: u64, break_after: u64, dev: &DeviceHandle) -> acrypto::Result<()> {
    let (steps, req) = w.parts();
    let st = apply_steps(steps, req);
    if break_after != 0 && n >= break_after {
        dev.mark_broken("flaky: broke mid-stream");
        return Err(Error::DeviceFailure("flaky: broken".into()));
    }
    if fail_one_in != 0 && n.is_multiple_of(fail_one_in) {
        return Err(Error::DeviceFailure("flaky: fault after the work".into()));
    }
    st
}

impl Driver for Flaky {
    fn name(&self) -> &str {
        &self.name
    }
    fn driver(&self) -> &str {
        "flaky"
    }
    fn capabilities(&self) -> Vec<Capability> {
        Algorithm::all().map(|a| Capability::new(a, 64)).collect()
    }
    fn stream_family(&self, alg: Algorithm) -> Option<String> {
        soft_family(alg).and(self.family.clone())
    }
    fn attach(&self, dev: DeviceHandle) {
        let (shared, ran, failed) = (self.shared.clone(), self.ran.clone(), self.failed.clone());
        let (fail_one_in, break_after) = (self.fail_one_in, self.break_after);
        let t = std::thread::spawn(move || loop {
            {
                let (m, cv) = &*shared;
                let mut g = m.lock().unwrap();
                while !g.0 && !g.1 {
                    g = cv.wait(g).unwrap();
                }
                if g.1 && !g.0 {
                    return;
                }
                g.0 = false;
            }
            loop {
                let batch = dev.dequeue_batch(8);
                if batch.is_empty() {
                    break;
                }
                for mut w in batch {
                    let n = ran.fetch_add(1, Ordering::SeqCst) + 1;
                    let st = run_flaky(&mut w, n, fail_one_in, break_after, &dev);
                    if st.is_err() {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                    w.complete(st);
                }
            }
        });
        *self.thread.lock().unwrap() = Some(t);
    }
    fn data_ready(&self) {
        let (m, cv) = &*self.shared;
        m.lock().unwrap().0 = true;
        cv.notify_one();
    }
    fn detach(&self) {
        let (m, cv) = &*self.shared;
        m.lock().unwrap().1 = true;
        cv.notify_one();
        if let Some(t) = self.thread.lock().unwrap().take() {
            let _ = t.join();
        }
    }
}

fn stream_digest(e: &Engine, alg: Algorithm, key: &[u8], msg: &[u8], chunk: usize) -> acrypto::Result<Vec<u8>> {
    let s = e.session(SessionBuilder::new().step(alg, Op::Digest, key))?;
    let mut st = e.stream(&s, &[])?;
    for c in msg.chunks(chunk) {
        st.update(c, &mut Vec::new())?;
    }
    st.finish(&mut Vec::new())
}

#[test]
fn a_device_failing_or_breaking_mid_stream_gives_the_right_digest() {
    let mut rng = seeded("streams-faults");
    let reference = soft_engine(1);
    for alg in streamable().into_iter().filter(|a| matches!(a.kind(), OpKind::Hash | OpKind::Mac)) {
        let key = key_for(&mut rng, alg);
        let msg = bytes(&mut rng, 64 * 1000 + 7);
        let want = stream_digest(&reference, alg, &key, &msg, msg.len()).unwrap();
        let one_shot = reference
            .run(
                &reference.session(SessionBuilder::new().step(alg, Op::Digest, &key)).unwrap(),
                Request::new(msg.clone()),
            )
            .unwrap()
            .tag;
        assert_eq!(want, one_shot);

        // Faults after the work on one in three items, next to a sound device
        // of the same family: every update is retried from the state the
        // request carried, and the digest is right.
        // (The failover balancer sends every first try to the flaky device.)
        let flaky = Flaky::new("flaky", Some("soft"), 3, 0);
        let failed = flaky.failed.clone();
        let e = Engine::builder()
            .balancer(acrypto::Failover::new(["flaky", "soft0"]))
            .device(flaky)
            .device(acrypto::SoftDevice::new("soft0"))
            .build()
            .unwrap();
        assert_eq!(stream_digest(&e, alg, &key, &msg, 1000).unwrap(), want, "{alg}: random faults");
        assert!(failed.load(Ordering::SeqCst) > 0, "{alg}: the flaky device failed some updates");

        // A device that breaks after 20 updates (the one in hand done, then
        // reported failed): the rest of the stream continues on the other
        // device of the family. The failover balancer gives the breaking
        // device every update until it breaks (a load-based one may send it
        // fewer than 20, and then nothing breaks mid-stream).
        let breaking = Flaky::new("breaking", Some("soft"), 0, 20);
        let ran = breaking.ran.clone();
        let e = Engine::builder()
            .balancer(acrypto::Failover::new(["breaking", "soft0"]))
            .device(breaking)
            .device(acrypto::SoftDevice::new("soft0"))
            .build()
            .unwrap();
        assert_eq!(stream_digest(&e, alg, &key, &msg, 1000).unwrap(), want, "{alg}: a device broke mid-stream");
        assert!(ran.load(Ordering::SeqCst) >= 20, "{alg}: the breaking device ran its part");
        let info = e.device("breaking").unwrap();
        assert_eq!(info.state, acrypto::DeviceState::Broken);

        // The only device of the family breaks, and the other device keeps
        // another family: a clear error, and the stream is as it was before
        // the failed update (no wrong digest can come out of it).
        let e = Engine::builder()
            .device(Flaky::new("breaking", Some("soft"), 0, 5))
            .device(Flaky::new("other", Some("other-family"), 0, 0))
            .build()
            .unwrap();
        let s = e.session(SessionBuilder::new().step(alg, Op::Digest, &key)).unwrap();
        let mut st = e.stream(&s, &[]).unwrap();
        let mut err = None;
        for c in msg.chunks(1000) {
            if let Err(x) = st.update(c, &mut Vec::new()) {
                err = Some(x);
                break;
            }
        }
        let err = err.expect("the stream's only device of its family broke");
        assert!(err.is_device_fault(), "{alg}: {err}");
        assert!(!st.is_finished());

        // A device that names no family never gets stream work: with only
        // such a device, opening a stream is refused.
        let e = Engine::builder().device(Flaky::new("plain", None, 0, 0)).build().unwrap();
        let s = e.session(SessionBuilder::new().step(alg, Op::Digest, &key)).unwrap();
        assert!(matches!(e.stream(&s, &[]), Err(Error::Unsupported(_))));
    }
}

#[test]
fn a_state_of_another_family_is_refused_by_the_software_device() {
    let e = soft_engine(1);
    let alg = Algorithm::Digest(acrypto::DigestKind::Sha256);
    let s = e.session(SessionBuilder::new().step(alg, Op::Digest, &[])).unwrap();
    // The engine gives such a request to no device: nothing continues it.
    let mut r = Request::new(vec![1; 10]);
    r.stream = Some(Box::new(acrypto::StreamPart {
        state: Some(StreamState::new("elsewhere", alg, 5u32)),
        last: false,
        next: None,
    }));
    assert!(matches!(e.run(&s, r.clone()), Err(Error::NoDevice(_))));
    // And the software primitives themselves refuse it.
    let step = Step::new(alg, Op::Digest, &[]).unwrap();
    assert!(matches!(apply_steps(&[step], &mut r), Err(Error::InvalidArgument(_))));
}

#[test]
fn a_copy_taken_mid_stream_continues_on_its_own() {
    let mut rng = seeded("streams-copy");
    let e = soft_engine(2);
    for alg in streamable() {
        let key = key_for(&mut rng, alg);
        let op = ops(alg)[0];
        let s = e.session(SessionBuilder::new().step(alg, op, &key)).unwrap();
        let iv = bytes(&mut rng, alg.iv_len());
        let (a, b, c) = (bytes(&mut rng, 48), bytes(&mut rng, 32), bytes(&mut rng, 64));
        let mut first = e.stream(&s, &iv).unwrap();
        let (mut out1, mut out2) = (Vec::new(), Vec::new());
        first.update(&a[..21], &mut out1).unwrap();
        let mut second = first.try_clone().unwrap();
        out2.clone_from(&out1);
        first.update(&a[21..], &mut out1).unwrap();
        first.update(&b, &mut out1).unwrap();
        second.update(&a[21..], &mut out2).unwrap();
        second.update(&c, &mut out2).unwrap();
        let (t1, t2) = (first.finish(&mut out1).unwrap(), second.finish(&mut out2).unwrap());
        for (tail, out, tag) in [(&b, out1, t1), (&c, out2, t2)] {
            let msg: Vec<u8> = a.iter().chain(tail.iter()).copied().collect();
            let want = e.run(&s, Request::new(msg).with_iv(&iv)).unwrap();
            match alg.kind() {
                OpKind::Cipher => assert_eq!(out, want.data, "{alg}"),
                _ => assert_eq!(tag, want.tag, "{alg}"),
            }
        }
    }
}
