//! The ipsec-mb device (`imb`): the known answers, the OpenSSL cross-checks,
//! the multi-buffer lanes and the routes the software device passes, on imb
//! devices; fault handling and failover with soft devices beside it.
//!
//! Without `libIPSec_MB.so.1` every test says so and passes, unless
//! `ACRYPTO_REQUIRE_IMB=1` (CI sets it, and installs libipsec-mb-dev).

mod common;

use acrypto::drivers::crypto::apply_steps;
use acrypto::drivers::imb::{self, ImbDevice};
use acrypto::{
    Algorithm, CipherMode, DigestKind, Engine, Error, Op, OpKind, Pending, Request, SessionBuilder, SoftDevice, Step,
};
use common::aead_vectors::{chacha_cases, gcm_cases};
use common::{openssl, rng, vectors};
use rand::Rng;

/// Whether the library is here; panics if it must be and is not.
fn have_imb() -> bool {
    if imb::available() {
        return true;
    }
    let e = imb::library().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(std::env::var("ACRYPTO_REQUIRE_IMB").map_or(true, |v| v != "1"), "ACRYPTO_REQUIRE_IMB=1 but {e}");
    println!("skipped: {e}");
    false
}

/// An engine of `n` imb devices (`imb0`…).
fn imb_engine(n: usize) -> Engine {
    let mut b = Engine::builder();
    for d in imb::imb_devices(Some(n)).expect("imb devices") {
        b = b.device(d);
    }
    b.build().expect("engine")
}

fn imb_can(alg: Algorithm) -> bool {
    imb::candidate_algorithms().any(|a| a == alg)
}

fn cbc(bits: u16) -> Algorithm {
    Algorithm::Aes { key_bits: bits, mode: CipherMode::Cbc }
}

/// Submits every request at once (so the manager fills), then waits for
/// all: the multi-buffer path with lanes finishing out of order.
fn all_at_once(e: &Engine, work: Vec<(acrypto::Session, Request)>) -> Vec<Result<Request, (Error, Request)>> {
    let pending: Vec<Pending> = work
        .into_iter()
        .map(|(s, r)| e.submit_pending(&s, r).unwrap_or_else(|x| panic!("submit: {}", x.error)))
        .collect();
    pending
        .into_iter()
        .map(|p| {
            let d = p.wait();
            match d.status {
                Ok(()) => Ok(d.request),
                Err(err) => Err((err, d.request)),
            }
        })
        .collect()
}

#[test]
fn devices_name_their_architecture_and_offer_what_probes_passed() {
    if !have_imb() {
        return;
    }
    let e = acrypto::engine_from_spec("imb:2").unwrap();
    let names: Vec<String> = e.devices().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["imb0", "imb1"]);
    let d = &e.devices()[0];
    assert_eq!(d.driver, "imb");
    let detail = d.detail.clone().expect("an imb device tells its architecture");
    assert!(["sse", "avx", "avx2", "avx512"].iter().any(|a| detail.ends_with(a)), "{detail}");
    assert!(detail.starts_with("ipsec-mb 1."), "{detail}");
    for c in &d.capabilities {
        assert!(imb_can(c.alg), "{} offered", c.alg);
    }
    // Everything ipsec-mb 1.3 does of acrypto's list passes its probe on
    // an AES-NI machine (CI's and this one).
    let offered: Vec<Algorithm> = d.capabilities.iter().map(|c| c.alg).collect();
    for alg in imb::candidate_algorithms() {
        assert!(offered.contains(&alg), "{alg} not offered ({detail})");
    }
    assert!(!offered.iter().any(|a| matches!(a, Algorithm::Aes { mode: CipherMode::Xts, .. } | Algorithm::Rng)));
    assert_eq!(acrypto::engine_from_spec("imb").unwrap().devices()[0].name, "imb");
}

#[test]
fn a_missing_library_is_one_clear_line_naming_the_package() {
    let e = imb::Library::open("libIPSec_MB_absent.so.9").err().expect("no such library");
    let m = e.to_string();
    assert!(m.contains("libipsec-mb1") && m.contains("imb"), "{m}");
    assert!(!m.contains('\n'), "{m}");
}

#[test]
fn every_known_answer_on_every_imb_device_queued_and_run() {
    if !have_imb() {
        return;
    }
    const WINDOW: usize = 64;
    let e = imb_engine(2);
    let cases: Vec<_> = vectors::all_cases().into_iter().filter(|c| imb_can(c.alg)).collect();
    // Every case but XTS (1403 records, each both ways).
    assert_eq!(cases.len(), 11680 - 2 * 1403);
    let mut failures = Vec::new();
    let mut checks = 0;
    for d in e.devices() {
        for chunk in cases.chunks(WINDOW) {
            let work: Vec<_> = chunk
                .iter()
                .map(|c| {
                    let s = e.session(SessionBuilder::new().step(c.alg, c.op, &c.key).bind(&d.name)).unwrap();
                    let r = Request::new(c.input.clone()).with_iv(&c.iv);
                    (s, if c.op == Op::Verify { r.with_tag(&c.expected) } else { r })
                })
                .collect();
            for (c, got) in chunk.iter().zip(all_at_once(&e, work)) {
                checks += 1;
                let ok = match (&got, c.op) {
                    (Ok(r), Op::Encrypt | Op::Decrypt) => r.output() == c.expected.as_slice(),
                    (Ok(r), Op::Digest) => c.tag_matches(&r.tag) && r.tag.len() == c.alg.digest_len(),
                    (Ok(_), Op::Verify) => true,
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{}: {c:?}: {:?}", d.name, got.map(|r| common::hex(r.output()))));
                }
            }
        }
        // The inline path (`run`) and tampered tags.
        for c in cases.iter().filter(|c| c.op == Op::Verify) {
            let s = e.session(SessionBuilder::new().step(c.alg, c.op, &c.key).bind(&d.name)).unwrap();
            let mut tag = c.expected.clone();
            *tag.last_mut().unwrap() ^= 1;
            checks += 2;
            if e.run(&s, Request::new(c.input.clone()).with_tag(&c.expected)).is_err() {
                failures.push(format!("{}: {c:?}: did not verify", d.name));
            }
            if e.run(&s, Request::new(c.input.clone()).with_tag(&tag)) != Err(Error::VerifyFailed) {
                failures.push(format!("{}: {c:?}: a tampered tag verified", d.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checks} failed; first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(8)]
    );
    println!("imb known answers: {checks} checks passed");
}

#[test]
fn aead_known_answers_with_fail_cases_release_no_plaintext() {
    if !have_imb() {
        return;
    }
    let e = imb_engine(1);
    let cases: Vec<_> = gcm_cases().into_iter().chain(chacha_cases()).filter(|c| c.nonce.len() == 12).collect();
    let (mut sealed, mut opened, mut refused) = (0, 0, 0);
    for c in &cases {
        let seal = e.session(SessionBuilder::new().step(c.alg, Op::Encrypt, &c.key)).unwrap();
        let open = e.session(SessionBuilder::new().step(c.alg, Op::Decrypt, &c.key)).unwrap();
        if c.encrypt {
            let got = e.run(&seal, Request::new(c.pt.clone()).with_iv(&c.nonce).with_aad(&c.aad)).unwrap();
            assert_eq!(got.data, c.ct, "{}: ciphertext", c.source);
            assert_eq!(got.tag[..c.tag.len()], c.tag[..], "{}: tag", c.source);
            sealed += 1;
        }
        let r = Request::new(c.ct.clone()).with_iv(&c.nonce).with_aad(&c.aad).with_tag(&c.tag).with_output(vec![0xee]);
        let done = e.submit_pending(&open, r);
        if c.tag.len() < 12 {
            assert!(matches!(done, Err(ref x) if matches!(x.error, Error::InvalidLength(_))), "{}", c.source);
            refused += 1;
            continue;
        }
        let d = done.unwrap().wait();
        match d.status {
            Ok(()) => {
                assert!(!c.fail, "{}: a FAIL case opened", c.source);
                assert_eq!(d.request.output(), c.pt, "{}: plaintext", c.source);
            }
            Err(Error::VerifyFailed) => {
                assert!(c.fail, "{}: a valid case failed to open", c.source);
                assert_eq!(d.request.data, c.ct, "{}", c.source);
                assert_eq!(d.request.output(), c.ct, "{}: the output is not the ciphertext", c.source);
            }
            Err(err) => panic!("{}: open: {err}", c.source),
        }
        opened += 1;
    }
    println!("imb AEAD: {sealed} sealed, {opened} opened or refused as FAIL, {refused} refused");
    assert_eq!(sealed, 3 * 175 * 2 + 70);
    assert!(cases.iter().filter(|c| c.fail).count() > 100);
}

/// A random cipher, digest or MAC case with a shape that stresses the
/// edges: lengths around blocks, HMAC keys longer than a block, CTR
/// counters that carry out of 32 and 64 bits.
fn random_case(r: &mut rand::rngs::StdRng, alg: Algorithm, op: Op) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let key_len = match alg {
        Algorithm::Hmac(_) => [0, 1, 20, 63, 64, 65, 131][r.gen_range(0..7)],
        _ => alg.key_len().unwrap_or(0),
    };
    let key = rng::bytes(r, key_len);
    let blocks = [0usize, 1, 2, 3, 7, 8, 9, 16, 63, 94, 257][r.gen_range(0..11)];
    let len = match alg {
        Algorithm::Aes { mode: CipherMode::Ctr, .. } | Algorithm::Hmac(_) | Algorithm::Digest(_) => {
            (blocks * 16 + r.gen_range(0..16)).max(usize::from(op == Op::Verify))
        }
        _ => blocks * 16,
    };
    let mut iv = rng::bytes(r, alg.iv_len());
    if matches!(alg, Algorithm::Aes { mode: CipherMode::Ctr, .. }) && r.gen_bool(0.3) {
        // The low 32 (or 64) bits of the counter about to wrap.
        let from = if r.gen_bool(0.5) { 12 } else { 8 };
        iv[from..].fill(0xff);
        iv[15] = 0xff - r.gen_range(0..4);
    }
    (key, iv, rng::bytes(r, len))
}

#[test]
fn ciphers_digests_and_macs_match_openssl() {
    if !have_imb() {
        return;
    }
    let e = imb_engine(2);
    let mut r = rng::seeded("imb crosscheck");
    let mut n = 0;
    for alg in imb::candidate_algorithms().filter(|a| a.kind() != OpKind::Aead) {
        let ops: &[Op] = if alg.kind() == OpKind::Cipher { &[Op::Encrypt, Op::Decrypt] } else { &[Op::Digest] };
        for &op in ops {
            let cases: Vec<_> = (0..24).map(|_| random_case(&mut r, alg, op)).collect();
            let work: Vec<_> = cases
                .iter()
                .map(|(k, iv, d)| {
                    (e.session(SessionBuilder::new().step(alg, op, k)).unwrap(), Request::new(d.clone()).with_iv(iv))
                })
                .collect();
            for ((k, iv, d), got) in cases.iter().zip(all_at_once(&e, work)) {
                let got = got.unwrap_or_else(|(err, _)| panic!("{alg} {op:?} {} bytes: {err}", d.len()));
                let want = openssl::reference(alg, op, k, iv, d);
                let mine = if alg.kind() == OpKind::Cipher { got.output().to_vec() } else { got.tag.clone() };
                assert_eq!(mine, want, "{alg} {op:?} key {} iv {} data {}", k.len(), common::hex(iv), d.len());
                n += 1;
            }
        }
    }
    println!("imb vs openssl: {n} cases");
}

#[test]
fn aead_matches_libcrypto_and_truncated_gcm_tags_open() {
    if !have_imb() {
        return;
    }
    use openssl::{aead_batch, AeadAnswer, AeadJob};
    let e = imb_engine(1);
    let mut r = rng::seeded("imb aead crosscheck");
    let mut cases = Vec::new();
    for alg in Algorithm::all().filter(|a| a.kind() == OpKind::Aead) {
        for i in 0..30 {
            let key = rng::bytes(&mut r, alg.key_len().unwrap());
            let alen = [0, 1, 12, 16, 17, rng::len_in(&mut r, 0, 600)][i % 6];
            let dlen = [0, 1, 15, 16, 17, 63, 64, 65, rng::len_in(&mut r, 0, 5000), 70_000][i % 10];
            cases.push((alg, key, rng::bytes(&mut r, 12), rng::bytes(&mut r, alen), rng::bytes(&mut r, dlen)));
        }
    }
    let jobs: Vec<AeadJob<'_>> = cases
        .iter()
        .map(|(alg, k, n, a, p)| AeadJob { alg: *alg, op: Op::Encrypt, key: k, nonce: n, aad: a, data: p, tag: &[] })
        .collect();
    let work: Vec<_> = cases
        .iter()
        .map(|(alg, k, n, a, p)| {
            let s = e.session(SessionBuilder::new().step(*alg, Op::Encrypt, k)).unwrap();
            (s, Request::new(p.clone()).with_iv(n).with_aad(a))
        })
        .collect();
    let sealed = all_at_once(&e, work);
    for (i, (want, got)) in aead_batch(&jobs).iter().zip(&sealed).enumerate() {
        let (alg, k, n, a, p) = &cases[i];
        let got = got.as_ref().unwrap_or_else(|(err, _)| panic!("{alg}: {err}"));
        let AeadAnswer::Sealed(ct, tag) = want else { panic!("{alg}: libcrypto did not seal") };
        assert_eq!(&got.data, ct, "{alg} {} bytes", p.len());
        assert_eq!(&got.tag, tag, "{alg} {} bytes", p.len());
        let tl = if matches!(alg, Algorithm::AesGcm { .. }) { 12 + i % 5 } else { 16 };
        let o = e.session(SessionBuilder::new().step(*alg, Op::Decrypt, k)).unwrap();
        let back = e.run(&o, Request::new(ct.clone()).with_iv(n).with_aad(a).with_tag(&tag[..tl])).unwrap();
        assert_eq!(&back.data, p, "{alg}: round trip with a {tl}-byte tag");
        let mut bad = tag[..tl].to_vec();
        bad[i % tl] ^= 0x80;
        let err = e.run(&o, Request::new(ct.clone()).with_iv(n).with_aad(a).with_tag(&bad));
        assert_eq!(err, Err(Error::VerifyFailed), "{alg}: tampered tag");
    }
}

/// Many independent requests (mixed algorithms, keys, lengths, in place
/// and to separate outputs) in flight at once give what the software
/// primitives give one by one.
#[test]
fn full_manager_lanes_equal_the_software_primitives() {
    if !have_imb() {
        return;
    }
    let e = imb_engine(1);
    let mut r = rng::seeded("imb lanes");
    let algs: Vec<Algorithm> = imb::candidate_algorithms().collect();
    let mut work = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1500 {
        let alg = algs[r.gen_range(0..algs.len())];
        let op = if alg.kind() == OpKind::Mac || alg.kind() == OpKind::Hash {
            Op::Digest
        } else if r.gen_bool(0.5) {
            Op::Encrypt
        } else {
            Op::Decrypt
        };
        let (mut key, iv, data) = random_case(&mut r, alg, op);
        if alg.kind() == OpKind::Aead {
            key = rng::bytes(&mut r, alg.key_len().unwrap());
        }
        let iv = if alg.kind() == OpKind::Aead { rng::bytes(&mut r, 12) } else { iv };
        let step = Step::new(alg, op, &key).unwrap();
        let mut req = Request::new(data).with_iv(&iv).with_user(i);
        if alg.kind() == OpKind::Aead && op == Op::Decrypt {
            // An open of a real seal (or of a tampered one).
            let mut sealed = req.clone();
            apply_steps(&[Step::new(alg, Op::Encrypt, &key).unwrap()], &mut sealed).unwrap();
            if r.gen_bool(0.2) {
                sealed.tag[0] ^= 1;
            }
            req = Request::new(sealed.data).with_iv(&iv).with_tag(&sealed.tag).with_user(i);
        }
        if r.gen_bool(0.3) {
            req = req.with_output(Vec::new());
        }
        let mut want = req.clone();
        let status = apply_steps(std::slice::from_ref(&step), &mut want);
        expected.push((status, want));
        work.push((e.session(SessionBuilder::new().push(step)).unwrap(), req));
    }
    for (i, (got, (status, want))) in all_at_once(&e, work).into_iter().zip(expected).enumerate() {
        match (got, status) {
            (Ok(g), Ok(())) => {
                assert_eq!(g.output(), want.output(), "lane {i}");
                assert_eq!(g.tag, want.tag, "lane {i}");
            }
            (Err((a, g)), Err(b)) => {
                assert_eq!(a, b, "lane {i}");
                assert_eq!(g.output(), want.output(), "lane {i}: output after the error");
            }
            (g, s) => panic!("lane {i}: imb {:?}, soft {s:?}", g.map(|_| ()).map_err(|x| x.0)),
        }
    }
}

/// ESP routes (encrypt then MAC; verify then decrypt) run as one chained
/// job give the answers of the same steps on the software device, with
/// fusion and without; a bad tag stops before any plaintext is released.
#[test]
fn esp_routes_fused_and_unfused_match_soft() {
    if !have_imb() {
        return;
    }
    let fused = Engine::builder().device(ImbDevice::new("imb").unwrap()).build().unwrap();
    let unfused = Engine::builder().device(ImbDevice::new("imb").unwrap().fuse(false)).build().unwrap();
    let soft = Engine::builder().device(SoftDevice::new("soft0")).build().unwrap();
    let mut r = rng::seeded("imb esp routes");
    let mut n = 0;
    for bits in [128u16, 192, 256] {
        for mode in [CipherMode::Cbc, CipherMode::Ctr] {
            for d in [DigestKind::Sha1, DigestKind::Sha256] {
                let ck = rng::bytes(&mut r, usize::from(bits / 8));
                let mk = rng::bytes(&mut r, 20 + usize::from(bits % 3 == 0) * 60);
                let c = Algorithm::Aes { key_bits: bits, mode };
                let m = Algorithm::Hmac(d);
                let out = SessionBuilder::new().step(c, Op::Encrypt, &ck).step(m, Op::Digest, &mk);
                let inb = SessionBuilder::new().step(m, Op::Verify, &mk).step(c, Op::Decrypt, &ck);
                for len in [0usize, 16, 64, 1504, 4096] {
                    let plain = rng::bytes(&mut r, len);
                    let iv = rng::bytes(&mut r, 16);
                    let want = soft.run(&soft.session(out.clone()).unwrap(), Request::new(plain.clone()).with_iv(&iv));
                    let want = want.unwrap();
                    for e in [&fused, &unfused] {
                        let got = e.run(&e.session(out.clone()).unwrap(), Request::new(plain.clone()).with_iv(&iv));
                        let got = got.unwrap();
                        assert_eq!(got.data, want.data, "{c} {m} {len}: ciphertext");
                        assert_eq!(got.tag, want.tag, "{c} {m} {len}: tag");
                        // Inbound, with the tag truncated to 12 bytes (ESP's 96-bit ICV).
                        let s = e.session(inb.clone()).unwrap();
                        let req = Request::new(want.data.clone()).with_iv(&iv).with_tag(&want.tag[..12]);
                        let back = e.run(&s, req.clone().with_output(Vec::new())).unwrap();
                        assert_eq!(back.output(), plain, "{c} {m} {len}: decrypted");
                        let mut bad = req.clone();
                        bad.tag[3] ^= 4;
                        let d = e.submit_pending(&s, bad.with_output(vec![0xee; 3])).unwrap().wait();
                        assert_eq!(d.status, Err(Error::VerifyFailed), "{c} {m} {len}");
                        assert_eq!(d.request.data, want.data, "{c} {m} {len}: data touched");
                        assert!(len == 0 || d.request.output() != plain.as_slice(), "plaintext released");
                        n += 1;
                    }
                }
            }
        }
    }
    // A route of three steps: the first is a job of its own, the last two fuse.
    let ck = [7u8; 16];
    let route = SessionBuilder::new()
        .step(Algorithm::Aes { key_bits: 128, mode: CipherMode::Ctr }, Op::Encrypt, &[8; 16])
        .step(cbc(128), Op::Encrypt, &ck)
        .step(Algorithm::Hmac(DigestKind::Sha256), Op::Digest, b"k");
    let want = soft.run(&soft.session(route.clone()).unwrap(), Request::new(vec![1; 96]).with_iv(&[2; 16])).unwrap();
    let got = fused.run(&fused.session(route).unwrap(), Request::new(vec![1; 96]).with_iv(&[2; 16])).unwrap();
    assert_eq!((got.data, got.tag), (want.data, want.tag));
    println!("imb ESP routes: {n} checked");
}

/// Jobs the library itself fails (an invalid cipher mode on every third
/// job) complete with an error and are retried on the soft device unless
/// bound; the answers stay right.
#[test]
fn jobs_the_library_fails_are_retried_elsewhere_unless_bound() {
    if !have_imb() {
        return;
    }
    let e = Engine::builder()
        .device(ImbDevice::new("imb").unwrap().fail_every(3))
        .device(SoftDevice::new("soft0"))
        .build()
        .unwrap();
    let key = [9u8; 16];
    let mut work = Vec::new();
    let mut want = Vec::new();
    for i in 0..300u32 {
        let data: Vec<u8> = (0..64).map(|j| (i + j) as u8).collect();
        let mut w = Request::new(data.clone()).with_iv(&[1; 16]);
        apply_steps(&[Step::new(cbc(128), Op::Encrypt, &key).unwrap()], &mut w).unwrap();
        want.push(w.data);
        let s = e.session(SessionBuilder::new().step(cbc(128), Op::Encrypt, &key)).unwrap();
        work.push((s, Request::new(data).with_iv(&[1; 16])));
    }
    for (got, want) in all_at_once(&e, work).into_iter().zip(want) {
        assert_eq!(got.unwrap().data, want);
    }
    e.wait_idle().unwrap();
    let imb_stats = e.device("imb").unwrap().stats;
    assert!(imb_stats.completed_err >= 50, "{imb_stats:?}");
    assert!(imb_stats.completed_ok >= 100, "{imb_stats:?}");
    // Bound to imb: the library's failure is the request's status.
    let s = e.session(SessionBuilder::new().step(cbc(128), Op::Encrypt, &key).bind("imb")).unwrap();
    let errs: Vec<Error> =
        (0..30).filter_map(|_| e.run(&s, Request::new(vec![0; 32]).with_iv(&[0; 16])).err()).collect();
    assert!(errs.len() >= 9, "{errs:?}");
    for err in errs {
        assert!(matches!(&err, Error::DeviceFailure(m) if m.contains("ipsec-mb failed the job")), "{err}");
    }
}

/// imb beside soft devices: unbound work spreads over both kinds; when
/// the imb device breaks, what it held and everything after runs on soft.
#[test]
fn imb_and_soft_balance_and_fail_over() {
    if !have_imb() {
        return;
    }
    let e = Engine::builder().device(ImbDevice::new("imb0").unwrap()).device(SoftDevice::new("soft0")).build().unwrap();
    let key = [3u8; 32];
    let alg = Algorithm::AesGcm { key_bits: 256 };
    let s = e.session(SessionBuilder::new().step(alg, Op::Encrypt, &key)).unwrap();
    let step = Step::new(alg, Op::Encrypt, &key).unwrap();
    let round = |n: u64| {
        let work: Vec<_> =
            (0..n).map(|i| (s.clone(), Request::new(vec![i as u8; 1504]).with_iv(&[i as u8; 12]))).collect();
        for (i, got) in all_at_once(&e, work).into_iter().enumerate() {
            let mut w = Request::new(vec![i as u8; 1504]).with_iv(&[i as u8; 12]);
            apply_steps(std::slice::from_ref(&step), &mut w).unwrap();
            let got = got.unwrap_or_else(|(err, _)| panic!("request {i}: {err}"));
            assert_eq!((got.data, got.tag), (w.data, w.tag), "request {i}");
        }
    };
    round(2000);
    e.wait_idle().unwrap();
    let (a, b) = (e.device("imb0").unwrap().stats, e.device("soft0").unwrap().stats);
    assert!(a.completed_ok > 0 && b.completed_ok > 0, "imb {a:?} soft {b:?}");
    assert_eq!(a.completed_ok + b.completed_ok, 2000);
    e.mark_broken("imb0", "test: pulled").unwrap();
    round(500);
    e.wait_idle().unwrap();
    let b2 = e.device("soft0").unwrap().stats;
    assert_eq!(b2.completed_ok - b.completed_ok, 500, "after the break everything runs on soft");
}

#[test]
fn bad_requests_are_clear_errors_and_change_nothing() {
    if !have_imb() {
        return;
    }
    let e = imb_engine(1);
    let s = e.session(SessionBuilder::new().step(cbc(128), Op::Encrypt, &[1; 16]).bind("imb0")).unwrap();
    let r = Request::new(vec![5; 17]).with_iv(&[0; 16]);
    assert!(matches!(e.run(&s, r.clone()), Err(Error::InvalidLength(_))));
    let d = e.submit_pending(&s, Request::new(vec![5; 32]).with_iv(&[0; 15]));
    let got = match d {
        Ok(p) => p.wait().status,
        Err(x) => Err(x.error),
    };
    assert!(matches!(got, Err(Error::InvalidLength(_))), "{got:?}");
    let m = e.session(SessionBuilder::new().step(Algorithm::Hmac(DigestKind::Sha1), Op::Verify, b"k")).unwrap();
    let got = e.run(&m, Request::new(vec![1; 8]).with_tag(&[0; 9]));
    assert!(matches!(got, Err(Error::InvalidLength(_))), "{got:?}");
    // XTS and rng are not offered: the engine says no device can do them.
    let x = Algorithm::Aes { key_bits: 128, mode: CipherMode::Xts };
    let xs = e.session(SessionBuilder::new().step(x, Op::Encrypt, &(0..32).collect::<Vec<u8>>()));
    let got = xs.and_then(|xs| e.run(&xs, Request::new(vec![0; 32]).with_iv(&[0; 16])));
    assert!(got.is_err());
}
