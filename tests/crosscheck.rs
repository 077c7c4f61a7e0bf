//! Cross-checks against an independent implementation, as FreeBSD's
//! cryptocheck does: random keys, IVs and lengths for every algorithm on
//! every software device, compared with the `openssl` command line (and, for
//! XTS, with OpenSSL's libcrypto through `tests/common/xts_ref.c`).
//!
//! Each random case is computed once by OpenSSL and then by every device,
//! half of them on the inline path (`Engine::run`) and half on the queued
//! path (`Engine::submit_pending`), and by the primitive directly. The seed
//! is printed; set `ACRYPTO_TEST_SEED` to replay a run.

mod common;

use acrypto::drivers::crypto::apply_step;
use acrypto::{Algorithm, CipherMode, DigestKind, Engine, Error, Op, OpKind, Request, SessionBuilder, Step};
use common::openssl::{self, XtsJob};
use common::rng;
use rand::rngs::StdRng;
use rand::Rng;

/// Software devices.
const DEVICES: usize = 3;

fn engine() -> Engine {
    let e = acrypto::soft_engine(DEVICES).expect("soft engine");
    assert_eq!(e.devices().len(), DEVICES);
    e
}

thread_local! {
    /// Requests `on_device` sent, in this test (each test has its thread).
    static SENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Each device ran an equal share of what `on_device` sent in this test.
fn assert_equal_shares(e: &Engine) {
    let sent = SENT.with(|s| s.get());
    assert!(sent > 0 && sent.is_multiple_of(DEVICES as u64), "{sent} requests sent");
    common::assert_each_device_ran(e, sent / DEVICES as u64);
}

/// Runs `req` on a one-step session bound to `device`, alternating between
/// the inline and the queued path with `n`.
fn on_device(e: &Engine, device: &str, step: &Step, req: Request, n: usize) -> Result<Request, Error> {
    SENT.with(|s| s.set(s.get() + 1));
    let s = e.session(SessionBuilder::new().push(step.clone()).bind(device))?;
    if n.is_multiple_of(2) {
        e.run(&s, req)
    } else {
        e.submit_pending(&s, req).map_err(|r| r.error)?.wait().into_result()
    }
}

/// Runs `req` directly through the primitive.
fn direct(step: &Step, mut req: Request) -> Result<Request, Error> {
    apply_step(step, &mut req).map(|()| req)
}

/// Data lengths to try for an algorithm: the edges the mode allows, a few
/// random ones and a few KB.
fn lengths(alg: Algorithm, r: &mut StdRng) -> Vec<usize> {
    let mut v: Vec<usize> = match alg {
        Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ecb, .. } => {
            vec![0, 16, 32, 48, 16 * rng::len_in(r, 4, 64), 4096, 16384]
        }
        Algorithm::Aes { mode: CipherMode::Ctr, .. } => {
            vec![0, 1, 15, 16, 17, 31, 33, rng::len_in(r, 34, 1000), 4095, 4096 + rng::len_in(r, 1, 15)]
        }
        Algorithm::Aes { mode: CipherMode::Xts, .. } => {
            vec![16, 17, 31, 32, 33, 47, rng::len_in(r, 48, 1000), 512, 4096, 4096 + rng::len_in(r, 1, 15)]
        }
        _ => vec![0, 1, 55, 56, 63, 64, 65, rng::len_in(r, 66, 1000), 4096, 10_000],
    };
    // A few more random lengths the mode allows.
    for _ in 0..4 {
        let n = rng::len_in(r, 0, 3000);
        v.push(match alg {
            Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ecb, .. } => n / 16 * 16,
            Algorithm::Aes { mode: CipherMode::Xts, .. } => n.max(16),
            _ => n,
        });
    }
    v
}

/// A random IV for a cipher case of `n` bytes. For ctr, the first three
/// cases long enough to cross block boundaries (`special`) take counters
/// that carry across the 32- and 64-bit boundaries and wrap the whole 128
/// bits, as OpenSSL's counter does.
fn iv_for(alg: Algorithm, r: &mut StdRng, n: usize, special: &mut usize) -> Vec<u8> {
    let mut iv = rng::bytes(r, alg.iv_len());
    if let Algorithm::Aes { mode: CipherMode::Ctr, .. } = alg {
        if n >= 48 {
            match *special {
                0 => iv.fill(0xff),
                1 => iv[8..].fill(0xff),
                2 => iv[12..].fill(0xff),
                _ => {}
            }
            *special += 1;
        }
    }
    iv
}

fn key_for(alg: Algorithm, r: &mut StdRng) -> Vec<u8> {
    match alg {
        Algorithm::Aes { mode: CipherMode::Xts, .. } => rng::xts_key(r, alg.key_len().unwrap()),
        Algorithm::Hmac(_) => Vec::new(), // chosen per case
        _ => rng::bytes(r, alg.key_len().unwrap()),
    }
}

/// One random cipher case: data, its OpenSSL encryption, and OpenSSL's
/// decryption of other random data.
struct CipherCase {
    key: Vec<u8>,
    iv: Vec<u8>,
    plain: Vec<u8>,
    cipher: Vec<u8>,
    junk: Vec<u8>,
    junk_dec: Vec<u8>,
}

fn cipher_cases(alg: Algorithm, r: &mut StdRng) -> Vec<CipherCase> {
    let mut special = 0;
    let mut cases: Vec<CipherCase> = lengths(alg, r)
        .into_iter()
        .map(|n| CipherCase {
            key: key_for(alg, r),
            iv: iv_for(alg, r, n, &mut special),
            plain: rng::bytes(r, n),
            cipher: Vec::new(),
            junk: rng::bytes(r, n),
            junk_dec: Vec::new(),
        })
        .collect();
    if let Algorithm::Aes { mode: CipherMode::Xts, .. } = alg {
        // One xts_ref process for the whole batch.
        let mut jobs = Vec::new();
        for c in &cases {
            jobs.push(XtsJob { op: Op::Encrypt, key: &c.key, tweak: &c.iv, data: &c.plain });
            jobs.push(XtsJob { op: Op::Decrypt, key: &c.key, tweak: &c.iv, data: &c.junk });
        }
        let mut out = openssl::xts_batch(&jobs).into_iter().map(|o| o.expect("OpenSSL refused an XTS job"));
        let results: Vec<(Vec<u8>, Vec<u8>)> =
            cases.iter().map(|_| (out.next().unwrap(), out.next().unwrap())).collect();
        for (c, (enc, dec)) in cases.iter_mut().zip(results) {
            c.cipher = enc;
            c.junk_dec = dec;
        }
    } else {
        for c in &mut cases {
            c.cipher = openssl::cipher(alg, Op::Encrypt, &c.key, &c.iv, &c.plain);
            c.junk_dec = openssl::cipher(alg, Op::Decrypt, &c.key, &c.iv, &c.junk);
        }
    }
    for c in &cases {
        assert_eq!(c.cipher.len(), c.plain.len(), "{alg}: OpenSSL output length");
    }
    cases
}

/// Checks one cipher algorithm on every device and directly.
fn check_cipher(e: &Engine, alg: Algorithm) -> usize {
    let mut r = rng::seeded(&format!("crosscheck {alg}"));
    let cases = cipher_cases(alg, &mut r);
    let mut checks = 0;
    for (i, c) in cases.iter().enumerate() {
        let n = c.plain.len();
        let enc = Step::new(alg, Op::Encrypt, &c.key).unwrap();
        let dec = Step::new(alg, Op::Decrypt, &c.key).unwrap();
        let what = |dev: &str, op: &str| format!("{alg} {op} of {n} bytes on {dev} (case {i})");
        let jobs = [
            (&enc, &c.plain, &c.cipher, "encrypt"),
            (&dec, &c.cipher, &c.plain, "decrypt"),
            (&dec, &c.junk, &c.junk_dec, "decrypt"),
        ];
        for (step, input, want, op) in jobs {
            // Every third case asks for a separate output buffer, which
            // must leave the input as it was.
            let separate = i % 3 == 2;
            let req = || {
                let r = Request::new(input.clone()).with_iv(&c.iv);
                if separate {
                    r.with_output(Vec::with_capacity(n))
                } else {
                    r
                }
            };
            let got = direct(step, req()).unwrap_or_else(|err| panic!("{}: {err}", what("the primitive", op)));
            assert!(got.output() == &want[..], "{}: differs from OpenSSL", what("the primitive", op));
            checks += 1;
            for (k, d) in e.devices().iter().enumerate() {
                let got = on_device(e, &d.name, step, req(), i + k)
                    .unwrap_or_else(|err| panic!("{}: {err}", what(&d.name, op)));
                assert!(got.output() == &want[..], "{}: differs from OpenSSL", what(&d.name, op));
                assert!(!separate || got.data == *input, "{}: input changed", what(&d.name, op));
                checks += 1;
            }
        }
    }
    checks
}

/// Checks one digest or HMAC algorithm on every device and directly,
/// including verification of OpenSSL's tag, full and truncated.
fn check_mac_or_digest(e: &Engine, alg: Algorithm) -> usize {
    let mut r = rng::seeded(&format!("crosscheck {alg}"));
    // HMAC keys from empty to three times the 64-byte block size.
    let key_lens = [0usize, 1, 16, 20, 32, 63, 64, 65, 100, 192];
    let mut checks = 0;
    for (i, n) in lengths(alg, &mut r).into_iter().enumerate() {
        let data = rng::bytes(&mut r, n);
        let (key, want) = match alg {
            Algorithm::Digest(d) => (Vec::new(), openssl::digest(d, &data)),
            Algorithm::Hmac(d) => {
                let key = rng::bytes(&mut r, key_lens[i % key_lens.len()]);
                let want = openssl::hmac(d, &key, &data);
                (key, want)
            }
            _ => unreachable!(),
        };
        assert_eq!(want.len(), alg.digest_len(), "{alg}: OpenSSL tag length");
        let step = Step::new(alg, Op::Digest, &key).unwrap();
        let what = |dev: &str| format!("{alg} of {n} bytes, {}-byte key, on {dev}", key.len());
        let got = direct(&step, Request::new(data.clone())).unwrap();
        assert_eq!(got.tag, want, "{}", what("the primitive"));
        assert_eq!(got.data, data, "{}: data changed", what("the primitive"));
        checks += 1;
        for (k, d) in e.devices().iter().enumerate() {
            let got = on_device(e, &d.name, &step, Request::new(data.clone()), i + k).unwrap();
            assert_eq!(got.tag, want, "{}", what(&d.name));
            checks += 1;
        }
        if alg.kind() != OpKind::Mac {
            continue;
        }
        // Verify OpenSSL's tag, whole and truncated; a flipped bit fails.
        let verify = Step::new(alg, Op::Verify, &key).unwrap();
        let t = r.gen_range(acrypto::alg::MIN_VERIFY_TAG..=want.len());
        let mut bad = want[..t].to_vec();
        let bit = r.gen_range(0..t * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        for (k, d) in e.devices().iter().enumerate() {
            for tag in [&want[..], &want[..t]] {
                let req = Request::new(data.clone()).with_tag(tag);
                on_device(e, &d.name, &verify, req, i + k)
                    .unwrap_or_else(|err| panic!("{}: verify {} bytes: {err}", what(&d.name), tag.len()));
                checks += 1;
            }
            let req = Request::new(data.clone()).with_tag(&bad);
            assert_eq!(
                on_device(e, &d.name, &verify, req, i + k).unwrap_err(),
                Error::VerifyFailed,
                "{}",
                what(&d.name)
            );
            checks += 1;
        }
    }
    checks
}

#[test]
fn ciphers_match_openssl_on_every_device() {
    println!("{}", openssl::version());
    let e = engine();
    let mut checks = 0;
    for alg in Algorithm::all().filter(|a| a.kind() == OpKind::Cipher) {
        let n = check_cipher(&e, alg);
        println!("{alg}: {n} checks");
        checks += n;
    }
    assert!(checks > 1000, "only {checks} checks");
    assert_equal_shares(&e);
}

#[test]
fn digests_and_macs_match_openssl_on_every_device() {
    let e = engine();
    let mut checks = 0;
    for alg in Algorithm::all().filter(|a| matches!(a.kind(), OpKind::Hash | OpKind::Mac)) {
        let n = check_mac_or_digest(&e, alg);
        println!("{alg}: {n} checks");
        checks += n;
    }
    assert!(checks > 300, "only {checks} checks");
    assert_equal_shares(&e);
}

/// A two-step route across two devices (encrypt on one, HMAC the
/// ciphertext on another) equals `openssl enc` followed by `openssl mac`.
#[test]
fn routed_encrypt_then_mac_matches_openssl() {
    let e = engine();
    let names: Vec<String> = e.devices().into_iter().map(|d| d.name).collect();
    let mut r = rng::seeded("crosscheck route");
    let alg = Algorithm::Aes { key_bits: 256, mode: CipherMode::Cbc };
    let mac = Algorithm::Hmac(DigestKind::Sha256);
    for i in 0..6 {
        let (key, mkey, iv) = (rng::bytes(&mut r, 32), rng::bytes(&mut r, 48), rng::bytes(&mut r, 16));
        let n = 16 * rng::len_in(&mut r, 0, 128);
        let data = rng::bytes(&mut r, n);
        let want_ct = openssl::cipher(alg, Op::Encrypt, &key, &iv, &data);
        let want_tag = openssl::hmac(DigestKind::Sha256, &mkey, &want_ct);
        let s = e
            .session(
                SessionBuilder::new()
                    .push(Step::new(alg, Op::Encrypt, &key).unwrap().on_device(&names[i % names.len()]))
                    .push(Step::new(mac, Op::Digest, &mkey).unwrap().on_device(&names[(i + 1) % names.len()])),
            )
            .unwrap();
        let req = Request::new(data).with_iv(&iv);
        let got = if i % 2 == 0 {
            e.run(&s, req)
        } else {
            e.submit_pending(&s, req).map_err(|r| r.error).and_then(|p| p.wait().into_result())
        }
        .unwrap();
        assert_eq!(got.output(), &want_ct[..], "route {i}: ciphertext");
        assert_eq!(got.tag, want_tag, "route {i}: tag");
    }
    // Each device ran the first step of two routes and the second of two.
    common::assert_each_device_ran(&e, 4);
}

#[test]
fn rng_gives_the_length_asked_and_differs() {
    let e = engine();
    let step = Step::new(Algorithm::Rng, Op::Generate, &[]).unwrap();
    for (k, d) in e.devices().iter().enumerate() {
        for (i, n) in [0usize, 1, 16, 17, 1000, 4096].into_iter().enumerate() {
            let got = on_device(&e, &d.name, &step, Request::new(vec![0; n]), i + k).unwrap();
            assert_eq!(got.data.len(), n, "rng on {}", d.name);
        }
        let a = on_device(&e, &d.name, &step, Request::new(vec![0; 64]), k).unwrap().data;
        let b = on_device(&e, &d.name, &step, Request::new(vec![0; 64]), k + 1).unwrap().data;
        assert_ne!(a, b, "two rng draws on {} are equal", d.name);
        assert_ne!(a, vec![0; 64], "rng on {} left zeros", d.name);
    }
    assert_equal_shares(&e);
}
