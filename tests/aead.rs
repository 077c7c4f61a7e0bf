//! AEAD (aes-128/192/256-gcm, chacha20-poly1305): NIST CAVP GCM vectors
//! (encrypt and decrypt, with their FAIL cases), the RFC 8439 /
//! ChaCha20-Poly1305 vectors, a cross-check against libcrypto on random
//! keys, nonces, AAD and lengths, and tampering, through the engine on the
//! software devices (inline and queued), plus the rules for devices that
//! lack AEAD (the kernel-backed ones today).
//!
//! The vector files are in `tests/vectors/aes-gcm/` (trimmed, see
//! `tests/vectors/SOURCES.md`) and `tests/vectors/chacha20-poly1305/`.

mod common;
mod support;

use acrypto::{Algorithm, Engine, Error, Op, OpKind, Request, Session, SessionBuilder};
use common::aead_vectors::{chacha_cases, gcm_cases, Case};
use common::openssl::{aead_batch, AeadAnswer, AeadJob};
use common::rng;
use support::{Script, Scripted};

fn engine() -> Engine {
    Engine::builder()
        .device(acrypto::SoftDevice::new("soft0"))
        .device(acrypto::SoftDevice::new("soft1"))
        .build()
        .unwrap()
}

fn session(e: &Engine, alg: Algorithm, op: Op, key: &[u8]) -> Session {
    e.session(SessionBuilder::new().step(alg, op, key)).unwrap()
}

/// Runs a request inline and queued; both answers must agree.
fn both(e: &Engine, s: &Session, r: Request) -> Result<Request, (Error, Request)> {
    let inline = e.run(s, r.clone());
    let done = e.submit_pending(s, r).map_err(|x| (x.error, x.request)).unwrap().wait();
    match (inline, done.status) {
        (Ok(a), Ok(())) => {
            assert_eq!(a.output(), done.request.output(), "inline and queued outputs differ");
            assert_eq!(a.tag, done.request.tag, "inline and queued tags differ");
            Ok(done.request)
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "inline and queued errors differ");
            Err((b, done.request))
        }
        (a, b) => panic!("inline {a:?} but queued {b:?}"),
    }
}

/// An open request whose output goes to a separate buffer (so that the
/// buffer can be inspected after a failure), pre-filled with a marker.
fn open_request(nonce: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Request {
    Request::new(ct.to_vec()).with_iv(nonce).with_aad(aad).with_tag(tag).with_output(vec![0xee; ct.len()])
}

/// After a failed open no plaintext may be anywhere in the request: the
/// output holds the ciphertext, the data is untouched.
fn assert_no_plaintext(what: &str, r: &Request, ct: &[u8], pt: &[u8]) {
    assert_eq!(r.data, ct, "{what}: data changed");
    assert_eq!(r.output(), ct, "{what}: output is not the ciphertext");
    if !pt.is_empty() && pt != ct {
        assert_ne!(r.output(), pt, "{what}: plaintext released");
    }
}

fn run_cases(cases: &[Case]) -> (usize, usize, usize) {
    let e = engine();
    let (mut sealed, mut opened, mut refused) = (0, 0, 0);
    for c in cases {
        let seal = session(&e, c.alg, Op::Encrypt, &c.key);
        let open = session(&e, c.alg, Op::Decrypt, &c.key);
        if c.nonce.len() != 12 {
            // Only 12-byte nonces: a clear Unsupported, nothing touched.
            let r = Request::new(c.pt.clone()).with_iv(&c.nonce).with_aad(&c.aad);
            match e.run(&seal, r) {
                Err(Error::Unsupported(m)) => assert!(m.contains("12-byte nonces"), "{}: {m}", c.source),
                other => panic!("{}: {other:?}", c.source),
            }
            let got = e.submit_pending(&open, open_request(&c.nonce, &c.aad, &c.ct, &c.tag));
            assert!(matches!(got, Err(ref x) if matches!(x.error, Error::Unsupported(_))), "{}", c.source);
            refused += 1;
            continue;
        }
        if c.encrypt {
            let r = Request::new(c.pt.clone()).with_iv(&c.nonce).with_aad(&c.aad);
            let got = both(&e, &seal, r).unwrap_or_else(|(err, _)| panic!("{}: seal: {err}", c.source));
            assert_eq!(got.data, c.ct, "{}: ciphertext", c.source);
            assert_eq!(got.tag.len(), 16, "{}", c.source);
            assert_eq!(got.tag[..c.tag.len()], c.tag[..], "{}: tag", c.source);
            sealed += 1;
        }
        let r = open_request(&c.nonce, &c.aad, &c.ct, &c.tag);
        if c.tag.len() < 12 {
            // 32- and 64-bit GCM tags (SP 800-38D Appendix C) are refused.
            let got = e.submit_pending(&open, r);
            assert!(matches!(got, Err(ref x) if matches!(x.error, Error::InvalidLength(_))), "{}", c.source);
            refused += 1;
            continue;
        }
        match both(&e, &open, r) {
            Ok(got) => {
                assert!(!c.fail, "{}: a FAIL case opened", c.source);
                assert_eq!(got.output(), c.pt, "{}: plaintext", c.source);
            }
            Err((Error::VerifyFailed, got)) => {
                assert!(c.fail, "{}: a valid case failed to open", c.source);
                assert_no_plaintext(&c.source, &got, &c.ct, &c.pt);
            }
            Err((err, _)) => panic!("{}: open: {err}", c.source),
        }
        opened += 1;
    }
    (sealed, opened, refused)
}

#[test]
fn nist_cavp_gcm_encrypt_and_decrypt_with_fail_cases() {
    let cases = gcm_cases();
    // The trimmed files: 406 records each (see SOURCES.md).
    assert_eq!(cases.len(), 6 * 406);
    let fails = cases.iter().filter(|c| c.fail).count();
    assert!(fails >= 3 * 175, "only {fails} FAIL cases");
    let (sealed, opened, refused) = run_cases(&cases);
    println!("CAVP GCM: {sealed} sealed, {opened} opened or refused as FAIL, {refused} refused (IV or tag length)");
    // 96-bit IVs: 3 key sizes x 175 sections x 2 cases, both directions.
    assert_eq!(sealed, 3 * 175 * 2);
    assert!(opened >= 3 * 175 * 2 * 4 / 6, "{opened}");
    assert!(refused > 0);
}

#[test]
fn rfc8439_and_chacha20_poly1305_vectors() {
    let cases = chacha_cases();
    assert_eq!(cases.len(), 66 + 5);
    assert!(cases.iter().any(|c| c.fail));
    // RFC 8439 section 2.8.2 is the first record.
    assert!(cases[0].pt.starts_with(b"Ladies and Gentlemen of the class of '99"));
    let (sealed, opened, refused) = run_cases(&cases);
    assert_eq!((sealed, opened, refused), (70, 71, 0));
}

#[test]
fn random_cases_agree_with_libcrypto() {
    let e = engine();
    let mut r = rng::seeded("aead crosscheck");
    let algs: Vec<Algorithm> = Algorithm::all().filter(|a| a.kind() == OpKind::Aead).collect();
    assert_eq!(algs.len(), 4);
    let mut cases = Vec::new();
    for &alg in &algs {
        for i in 0..40 {
            let key = rng::bytes(&mut r, alg.key_len().unwrap());
            let nonce = rng::bytes(&mut r, 12);
            let alen = [0, 1, 12, 16, 17, rng::len_in(&mut r, 0, 600)][i % 6];
            let dlen = [0, 1, 15, 16, 17, 63, 64, 65, rng::len_in(&mut r, 0, 5000), 70_000][i % 10];
            cases.push((alg, key, nonce, rng::bytes(&mut r, alen), rng::bytes(&mut r, dlen)));
        }
    }
    let jobs: Vec<AeadJob<'_>> = cases
        .iter()
        .map(|(alg, k, n, a, p)| AeadJob { alg: *alg, op: Op::Encrypt, key: k, nonce: n, aad: a, data: p, tag: &[] })
        .collect();
    let theirs = aead_batch(&jobs);
    let mut opens = Vec::new();
    for ((alg, key, nonce, aad, pt), want) in cases.iter().zip(&theirs) {
        let s = session(&e, *alg, Op::Encrypt, key);
        let got = both(&e, &s, Request::new(pt.clone()).with_iv(nonce).with_aad(aad)).unwrap();
        let AeadAnswer::Sealed(ct, tag) = want else { panic!("{alg}: libcrypto did not seal: {want:?}") };
        assert_eq!(&got.data, ct, "{alg} {} bytes: ciphertext differs from libcrypto", pt.len());
        assert_eq!(&got.tag, tag, "{alg} {} bytes: tag differs from libcrypto", pt.len());
        let o = session(&e, *alg, Op::Decrypt, key);
        let back = both(&e, &o, open_request(nonce, aad, ct, tag)).unwrap();
        assert_eq!(back.output(), &pt[..], "{alg}: round trip");
        opens.push((*alg, key, nonce, aad, got.data, got.tag));
    }
    // Our seals open in libcrypto, and a GCM tag truncated to 12..15 bytes
    // opens on both sides.
    let jobs: Vec<AeadJob<'_>> = opens
        .iter()
        .enumerate()
        .map(|(i, (alg, k, n, a, c, t))| {
            let tl = if matches!(alg, Algorithm::AesGcm { .. }) { 12 + i % 5 } else { 16 };
            AeadJob { alg: *alg, op: Op::Decrypt, key: k, nonce: n, aad: a, data: c, tag: &t[..tl] }
        })
        .collect();
    for ((j, ans), (_, _, _, _, _, _)) in jobs.iter().zip(aead_batch(&jobs)).zip(&opens) {
        let AeadAnswer::Opened(pt) = ans else { panic!("{}: libcrypto did not open our seal", j.alg) };
        let o = session(&e, j.alg, Op::Decrypt, j.key);
        let got = both(&e, &o, open_request(j.nonce, j.aad, j.data, j.tag)).unwrap();
        assert_eq!(got.output(), &pt[..], "{}: tag of {} bytes", j.alg, j.tag.len());
    }
}

#[test]
fn tampering_fails_and_releases_no_plaintext() {
    let e = engine();
    let mut r = rng::seeded("aead tamper");
    let mut checked = 0;
    for alg in Algorithm::all().filter(|a| a.kind() == OpKind::Aead) {
        for dlen in [0usize, 1, 16, 33, 1000] {
            let key = rng::bytes(&mut r, alg.key_len().unwrap());
            let nonce = rng::bytes(&mut r, 12);
            let aad = rng::bytes(&mut r, 20);
            let pt = rng::bytes(&mut r, dlen);
            let s = session(&e, alg, Op::Encrypt, &key);
            let sealed = e.run(&s, Request::new(pt.clone()).with_iv(&nonce).with_aad(&aad)).unwrap();
            let (ct, tag) = (sealed.data.clone(), sealed.tag.clone());
            let o = session(&e, alg, Op::Decrypt, &key);
            // The untouched request opens (in place and to a separate buffer).
            let ok = e.run(&o, Request::new(ct.clone()).with_iv(&nonce).with_aad(&aad).with_tag(&tag)).unwrap();
            assert_eq!(ok.data, pt);
            let flip = |v: &[u8], bit: usize| {
                let mut v = v.to_vec();
                v[bit / 8] ^= 1 << (bit % 8);
                v
            };
            let mut variants = vec![
                ("tag", nonce.clone(), aad.clone(), ct.clone(), flip(&tag, r_bit(&mut r, 128))),
                ("tag last bit", nonce.clone(), aad.clone(), ct.clone(), flip(&tag, 127)),
                ("nonce", flip(&nonce, r_bit(&mut r, 96)), aad.clone(), ct.clone(), tag.clone()),
                ("aad", nonce.clone(), flip(&aad, r_bit(&mut r, 160)), ct.clone(), tag.clone()),
                ("aad dropped", nonce.clone(), Vec::new(), ct.clone(), tag.clone()),
            ];
            if dlen > 0 {
                variants.push((
                    "ciphertext",
                    nonce.clone(),
                    aad.clone(),
                    flip(&ct, r_bit(&mut r, dlen * 8)),
                    tag.clone(),
                ));
                variants.push((
                    "ciphertext truncated",
                    nonce.clone(),
                    aad.clone(),
                    ct[..dlen - 1].to_vec(),
                    tag.clone(),
                ));
            }
            for (what, n, a, c, t) in variants {
                let what = format!("{alg} {dlen} bytes, flipped {what}");
                // Separate output buffer.
                match both(&e, &o, open_request(&n, &a, &c, &t)) {
                    Err((Error::VerifyFailed, got)) => assert_no_plaintext(&what, &got, &c, &pt),
                    other => panic!("{what}: {other:?}"),
                }
                // In place.
                match both(&e, &o, Request::new(c.clone()).with_iv(&n).with_aad(&a).with_tag(&t)) {
                    Err((Error::VerifyFailed, got)) => assert_no_plaintext(&what, &got, &c, &pt),
                    other => panic!("{what} (in place): {other:?}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * (5 * 5 + 4 * 2));
}

fn r_bit(r: &mut rand::rngs::StdRng, bits: usize) -> usize {
    rng::len_in(r, 0, bits - 1)
}

#[test]
fn bad_shapes_are_clear_errors_and_change_nothing() {
    let e = engine();
    for alg in Algorithm::all().filter(|a| a.kind() == OpKind::Aead) {
        let key = vec![7u8; alg.key_len().unwrap()];
        // Wrong key lengths.
        for n in [0, alg.key_len().unwrap() - 1, alg.key_len().unwrap() + 1] {
            let err = e.session(SessionBuilder::new().step(alg, Op::Encrypt, &vec![1; n])).unwrap_err();
            assert!(matches!(err, Error::InvalidKey(_)), "{alg} key {n}: {err:?}");
        }
        // Digest and verify do not apply.
        for op in [Op::Digest, Op::Verify, Op::Generate] {
            let err = e.session(SessionBuilder::new().step(alg, op, &key)).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{alg} {op:?}: {err:?}");
        }
        let seal = session(&e, alg, Op::Encrypt, &key);
        let open = session(&e, alg, Op::Decrypt, &key);
        // Nonces: none is invalid; other lengths are Unsupported for GCM,
        // invalid for ChaCha20-Poly1305.
        for n in [0usize, 1, 8, 11, 13, 16, 128] {
            let r = Request::new(vec![1; 32]).with_iv(&vec![2; n]);
            let x = e.submit_pending(&seal, r).unwrap_err();
            let want_unsupported = matches!(alg, Algorithm::AesGcm { .. }) && n > 0;
            assert_eq!(matches!(x.error, Error::Unsupported(_)), want_unsupported, "{alg} nonce {n}: {:?}", x.error);
            assert!(matches!(x.error, Error::Unsupported(_) | Error::InvalidLength(_)), "{alg}: {:?}", x.error);
            assert_eq!(x.request.data, vec![1; 32], "{alg}: request changed");
        }
        // Tags on open: GCM 12..=16, ChaCha20-Poly1305 16.
        for t in [0usize, 4, 8, 11, 12, 15, 17, 32] {
            let ok = if matches!(alg, Algorithm::AesGcm { .. }) { (12..=16).contains(&t) } else { t == 16 };
            let r = Request::new(vec![1; 32]).with_iv(&[0; 12]).with_tag(&vec![0; t]);
            match e.run(&open, r) {
                Err(Error::VerifyFailed) => assert!(ok, "{alg} tag {t}"),
                Err(Error::InvalidLength(m)) => assert!(!ok, "{alg} tag {t}: {m}"),
                other => panic!("{alg} tag {t}: {other:?}"),
            }
        }
    }
}

#[test]
fn routes_with_aead_steps_and_one_key_schedule_per_session() {
    let e = engine();
    let key = [9u8; 32];
    let ctr = Algorithm::Aes { key_bits: 128, mode: acrypto::CipherMode::Ctr };
    let gcm = Algorithm::AesGcm { key_bits: 256 };
    // A route: aes-128-ctr, then an aes-256-gcm seal over its output; and
    // back: the open, then the ctr decryption. The nonce is the request's
    // IV for both steps, so the CTR step takes 16 bytes... which GCM
    // refuses: a route whose steps need different IVs is refused whole.
    let there =
        e.session(SessionBuilder::new().step(ctr, Op::Encrypt, &key[..16]).step(gcm, Op::Encrypt, &key)).unwrap();
    let x = e.submit_pending(&there, Request::new(vec![1; 40]).with_iv(&[0; 16])).unwrap_err();
    assert!(matches!(x.error, Error::Unsupported(_)), "{:?}", x.error);
    // A route of two AEAD steps with the same nonce length works as one.
    let there = e
        .session(SessionBuilder::new().step(Algorithm::ChaCha20Poly1305, Op::Encrypt, &key).step(
            gcm,
            Op::Encrypt,
            &key,
        ))
        .unwrap();
    let pt = b"route through two AEAD steps".to_vec();
    let got = e.run(&there, Request::new(pt.clone()).with_iv(&[3; 12]).with_aad(b"hdr")).unwrap();
    let c1 = e
        .run(
            &session(&e, Algorithm::ChaCha20Poly1305, Op::Encrypt, &key),
            Request::new(pt.clone()).with_iv(&[3; 12]).with_aad(b"hdr"),
        )
        .unwrap();
    let c2 =
        e.run(&session(&e, gcm, Op::Encrypt, &key), Request::new(c1.data).with_iv(&[3; 12]).with_aad(b"hdr")).unwrap();
    assert_eq!((&got.data, &got.tag), (&c2.data, &c2.tag));
    // Many requests on one session (the kept schedule) equal fresh sessions.
    let seal = session(&e, Algorithm::ChaCha20Poly1305, Op::Encrypt, &key);
    for i in 0..20u8 {
        let r = Request::new(vec![i; i as usize * 7]).with_iv(&[i; 12]).with_aad(&[i; 3]);
        let a = e.run(&seal, r.clone()).unwrap();
        let b = e.run(&session(&e, Algorithm::ChaCha20Poly1305, Op::Encrypt, &key), r).unwrap();
        assert_eq!((a.data, a.tag), (b.data, b.tag));
    }
}

/// A device without AEAD (as kdev and afalg are today) never gets AEAD
/// work: the route skips it, and a session bound to it is refused.
#[test]
fn devices_without_aead_get_none() {
    let no_aead: Vec<Algorithm> = Algorithm::all().filter(|a| a.kind() != OpKind::Aead).collect();
    let kernelish = Scripted::new("kernelish", Script { algs: no_aead.clone(), ..Default::default() });
    let shared = kernelish.shared.clone();
    let e = Engine::builder().device(kernelish).device(acrypto::SoftDevice::new("soft0")).build().unwrap();
    let alg = Algorithm::AesGcm { key_bits: 128 };
    let s = session(&e, alg, Op::Encrypt, &[1; 16]);
    for _ in 0..50 {
        e.run(&s, Request::new(vec![0; 64]).with_iv(&[0; 12])).unwrap();
    }
    assert_eq!(shared.processed.load(std::sync::atomic::Ordering::SeqCst), 0, "AEAD work reached a device without it");
    let err = e.session(SessionBuilder::new().step(alg, Op::Encrypt, &[1; 16]).bind("kernelish")).unwrap_err();
    assert!(matches!(err, Error::NoDevice(_) | Error::Unsupported(_)), "{err:?}");
    // With only such a device, AEAD has no device at all.
    let only = Scripted::new("only", Script { algs: no_aead, ..Default::default() });
    let e = Engine::builder().device(only).build().unwrap();
    let err = e.session(SessionBuilder::new().step(alg, Op::Encrypt, &[1; 16])).unwrap_err();
    assert!(matches!(err, Error::NoDevice(_)), "{err:?}");
}

/// The kernel-backed devices answer AEAD with a clear Unsupported when
/// handed such a step anyway (the engine never routes it to them).
#[test]
fn kernel_devices_name_the_kernel_aeads() {
    use acrypto::drivers::afalg;
    // afalg binds aead sockets of these names (tests/kernel_devices.rs runs
    // them in the VM, with kdev's drivers of the same names).
    for alg in Algorithm::all().filter(|a| a.kind() == OpKind::Aead) {
        let want = if alg == Algorithm::ChaCha20Poly1305 { "rfc7539(chacha20,poly1305)" } else { "gcm(aes)" };
        assert_eq!(afalg::kernel_name(alg), Some(("aead", want)), "{alg}");
    }
}
