//! Known-answer tests: every public vector under `tests/vectors/` through the
//! software primitives directly, and through the engine on every software
//! device, on both the inline path (`Engine::run`) and the queued path
//! (`Engine::submit_pending`).

mod common;

use acrypto::drivers::crypto::apply_step;
use acrypto::{Algorithm, CipherMode, DigestKind, Engine, Error, Op, Request, SessionBuilder, Step};
use common::vectors::{self, Case};
use std::collections::BTreeMap;

/// Software devices the engine tests run on.
const DEVICES: usize = 3;

/// The request a case starts from.
fn request(c: &Case) -> Request {
    let r = Request::new(c.input.clone()).with_iv(&c.iv);
    if c.op == Op::Verify {
        r.with_tag(&c.expected)
    } else {
        r
    }
}

/// The same request with the expected tag changed in its last byte.
fn tampered(c: &Case) -> Request {
    let mut tag = c.expected.clone();
    *tag.last_mut().unwrap() ^= 0x01;
    Request::new(c.input.clone()).with_tag(&tag)
}

/// Checks a finished request against the case.
fn check(c: &Case, res: Result<Request, Error>) -> Result<(), String> {
    let r = res.map_err(|e| format!("{c:?}: {e}"))?;
    let ok = match c.op {
        Op::Encrypt | Op::Decrypt => r.output() == c.expected.as_slice(),
        Op::Digest => c.tag_matches(&r.tag) && r.tag.len() == c.alg.digest_len(),
        Op::Verify => true,
        Op::Generate | Op::Sign | Op::Derive => unreachable!("no such symmetric case"),
    };
    if ok {
        Ok(())
    } else {
        let got = if c.alg.kind() == acrypto::OpKind::Cipher { r.output() } else { &r.tag };
        Err(format!("{c:?}: got {}, want {}", common::hex(got), common::hex(&c.expected)))
    }
}

/// Panics listing the first failures, if any.
fn report(what: &str, failures: Vec<String>, total: usize) {
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(10).map(String::as_str).collect();
        panic!("{what}: {} of {total} checks failed; first:\n{}", failures.len(), shown.join("\n"));
    }
    println!("{what}: {total} checks passed");
}

/// The number of cases expected from the files, per algorithm and operation.
/// Records: AESAVS cbc and ecb 588/720/830 per key size; ctr 3 (RFC 3686) + 2
/// (SP 800-38A) per key size; XTSGenAES128 800 byte-aligned + 3 (IEEE 1619),
/// XTSGenAES256 600 byte-aligned; SHAVS 64 + 65 + 2 (FIPS 180-2 examples) per
/// digest; HMAC 7 + 1 (RFC 2202) and 6 + 1 (RFC 4231). Each cipher record
/// yields an encrypt and a decrypt case, each HMAC record a digest and a
/// verify case.
fn expected_counts() -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    let mut put = |alg: Algorithm, ops: &[Op], n: usize| {
        for op in ops {
            m.insert(format!("{alg} {op:?}"), n);
        }
    };
    let both = [Op::Encrypt, Op::Decrypt];
    for (bits, n) in [(128, 588), (192, 720), (256, 830)] {
        put(Algorithm::Aes { key_bits: bits, mode: CipherMode::Cbc }, &both, n);
        put(Algorithm::Aes { key_bits: bits, mode: CipherMode::Ecb }, &both, n);
        put(Algorithm::Aes { key_bits: bits, mode: CipherMode::Ctr }, &both, 5);
    }
    put(Algorithm::Aes { key_bits: 128, mode: CipherMode::Xts }, &both, 803);
    put(Algorithm::Aes { key_bits: 256, mode: CipherMode::Xts }, &both, 600);
    put(Algorithm::Digest(DigestKind::Sha1), &[Op::Digest], 131);
    put(Algorithm::Digest(DigestKind::Sha256), &[Op::Digest], 131);
    put(Algorithm::Hmac(DigestKind::Sha1), &[Op::Digest, Op::Verify], 8);
    put(Algorithm::Hmac(DigestKind::Sha256), &[Op::Digest, Op::Verify], 7);
    m
}

/// Total of [`expected_counts`]: 11680 cases.
const TOTAL_CASES: usize = 11680;

#[test]
fn vector_files_yield_the_expected_cases() {
    let cases = vectors::all_cases();
    let got: BTreeMap<String, usize> = vectors::count_by_alg(&cases).into_iter().collect();
    assert_eq!(got, expected_counts());
    assert_eq!(cases.len(), TOTAL_CASES);
    assert_eq!(expected_counts().values().sum::<usize>(), TOTAL_CASES);
    // Skipped: XTS data units of 130, 140 and 250 bits; no SHAVS message of
    // an odd bit length is in the byte-oriented files.
    assert_eq!(vectors::xts_cases().1, 600);
    assert_eq!(vectors::digest_cases().1, 0);
    // Ciphertext stealing is covered (200-bit XTS data units) and so are
    // truncated tags (RFC 2202 / RFC 4231 case 5).
    assert!(cases
        .iter()
        .any(|c| matches!(c.alg, Algorithm::Aes { mode: CipherMode::Xts, .. }) && !c.input.len().is_multiple_of(16)));
    assert_eq!(cases.iter().filter(|c| c.is_truncated()).count(), 4);
    // Every algorithm but rng has vectors (AEAD's are in tests/aead.rs,
    // the asymmetric ones' in tests/asym.rs).
    for alg in Algorithm::all()
        .filter(|a| *a != Algorithm::Rng && !matches!(a.kind(), acrypto::OpKind::Aead | acrypto::OpKind::Asym))
    {
        assert!(cases.iter().any(|c| c.alg == alg), "no vectors for {alg}");
    }
}

#[test]
fn vectors_through_the_primitives() {
    let cases = vectors::all_cases();
    let mut failures = Vec::new();
    let mut checks = 0;
    for c in &cases {
        let step = Step::new(c.alg, c.op, &c.key).unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let mut r = request(c);
        let res = apply_step(&step, &mut r).map(|()| r);
        checks += 1;
        failures.extend(check(c, res).err());
        if c.op == Op::Verify {
            let mut bad = tampered(c);
            checks += 1;
            if apply_step(&step, &mut bad) != Err(Error::VerifyFailed) {
                failures.push(format!("{c:?}: a tampered tag verified"));
            }
        }
        // The separate-output path gives the same answer and leaves the input alone.
        if c.alg.kind() == acrypto::OpKind::Cipher {
            let mut r = request(c).with_output(Vec::new());
            checks += 1;
            let res = apply_step(&step, &mut r).map(|()| r);
            match res {
                Ok(r) if r.data != c.input => failures.push(format!("{c:?}: input changed with a separate output")),
                res => failures.extend(check(c, res).err()),
            }
        }
    }
    report("primitives", failures, checks);
}

fn engine() -> Engine {
    let e = acrypto::soft_engine(DEVICES).expect("soft engine");
    assert_eq!(e.devices().len(), DEVICES);
    e
}

fn session(e: &Engine, c: &Case, device: &str) -> acrypto::Session {
    e.session(SessionBuilder::new().step(c.alg, c.op, &c.key).bind(device))
        .unwrap_or_else(|err| panic!("{c:?} on {device}: session: {err}"))
}

#[test]
fn vectors_through_the_engine_run() {
    let e = engine();
    let cases = vectors::all_cases();
    let mut failures = Vec::new();
    let mut checks = 0;
    for d in e.devices() {
        for c in &cases {
            let s = session(&e, c, &d.name);
            checks += 1;
            failures.extend(check(c, e.run(&s, request(c))).err().map(|m| format!("{}: {m}", d.name)));
            if c.op == Op::Verify {
                checks += 1;
                match e.run(&s, tampered(c)) {
                    Err(Error::VerifyFailed) => {}
                    other => failures.push(format!("{}: {c:?}: tampered tag gave {other:?}", d.name)),
                }
            }
        }
    }
    report("engine run", failures, checks);
    assert_eq!(checks, DEVICES * (TOTAL_CASES + 15));
    common::assert_each_device_ran(&e, (TOTAL_CASES + 15) as u64);
    for d in e.devices() {
        assert_eq!(d.stats.completed_err, 15, "{}: the tampered tags fail", d.name);
    }
}

#[test]
fn vectors_through_the_engine_queue() {
    /// Requests in flight at once per device.
    const WINDOW: usize = 32;
    let e = engine();
    let cases = vectors::all_cases();
    let mut failures = Vec::new();
    let mut checks = 0;
    for d in e.devices() {
        for chunk in cases.chunks(WINDOW) {
            let mut pending = Vec::with_capacity(chunk.len());
            for c in chunk {
                let s = session(&e, c, &d.name);
                let mut req = request(c);
                // Busy only means the queue is full: wait for what is in flight.
                let p = loop {
                    match e.submit_pending(&s, req) {
                        Ok(p) => break p,
                        Err(rej) if rej.error == Error::Busy && !pending.is_empty() => {
                            req = rej.request;
                            let (c, p): (&Case, acrypto::Pending) = pending.remove(0);
                            checks += 1;
                            failures.extend(check(c, p.wait().into_result()).err());
                        }
                        Err(rej) => panic!("{}: {c:?}: submit: {}", d.name, rej.error),
                    }
                };
                pending.push((c, p));
            }
            for (c, p) in pending {
                checks += 1;
                failures.extend(check(c, p.wait().into_result()).err().map(|m| format!("{}: {m}", d.name)));
            }
        }
    }
    report("engine queue", failures, checks);
    assert_eq!(checks, DEVICES * TOTAL_CASES);
    common::assert_each_device_ran(&e, TOTAL_CASES as u64);
    let st = e.stats();
    println!("{st:?}");
}

/// The vectors transcribed by hand (SP 800-38A CTR, IEEE 1619 XTS, the FIPS
/// 180-2 examples, the truncated HMAC cases) agree with OpenSSL, so a typo
/// in a transcription cannot pass as a vector.
#[test]
fn transcribed_vectors_agree_with_openssl() {
    let hand = ["sp800-38a.txt", "ieee1619-2007.txt", "fips180-examples.txt", "rfc-truncated.txt"];
    let cases: Vec<Case> = vectors::all_cases()
        .into_iter()
        .filter(|c| hand.iter().any(|h| c.source.contains(h)) && c.op != Op::Verify)
        .collect();
    // 12 ctr + 6 xts + 4 digest + 2 hmac.
    assert_eq!(cases.len(), 24);
    for c in &cases {
        let got = common::openssl::reference(c.alg, c.op, &c.key, &c.iv, &c.input);
        assert!(got.starts_with(&c.expected), "{c:?}: OpenSSL gives {}", common::hex(&got));
    }
}
