//! The PKCS#11 device (`pkcs11:`) on a SoftHSM2 token made in a temporary
//! directory: its capabilities, the CAVP / FIPS 186 signature vectors and
//! the AES / SHA / HMAC known answers for what the token offers, cross-checks
//! with the `openssl` command line both ways, a key generated inside the
//! token and used by reference, a bound session beside soft devices, and
//! bad input. (The token disappearing mid-run is `tests/pkcs11_removal.rs`:
//! it finalises the module, which every test of a process shares.)
//!
//! Without SoftHSM2 every test says so and passes, unless
//! `ACRYPTO_REQUIRE_PKCS11=1` (CI sets it; `tests/setup.sh` installs it).

mod common;

use acrypto::drivers::pkcs11::{self, Pkcs11Device, Pkcs11Spec};
use acrypto::{
    Algorithm, DigestKind, EcCurve, Engine, Error, Op, OpKind, Request, RsaPadding, Session, SessionBuilder,
};
use common::asym_vectors::{bit_string, der_uint, records, rsa_sigver, seq, vector};
use common::openssl::{openssl_ok, p, Dir};
use common::{rng, softhsm, vectors};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};

/// An engine of the shared token's device (`pkcs11`) and `soft` soft devices.
fn engine(soft: usize) -> Engine {
    let t = softhsm::shared();
    let spec = if soft == 0 { t.spec() } else { format!("{},soft:{soft}", t.spec()) };
    acrypto::engine_from_spec(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn on_token(e: &Engine, alg: Algorithm, op: Op, key: &[u8]) -> Result<Session, Error> {
    e.session(SessionBuilder::new().step(alg, op, key).bind("pkcs11"))
}

fn run(e: &Engine, s: &Session, r: Request) -> Result<Request, Error> {
    e.submit_pending(s, r).map_err(|x| x.error)?.wait().into_result()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn ec_spki(curve: EcCurve, x: &[u8], y: &[u8]) -> Vec<u8> {
    let ec = h("06072a8648ce3d0201");
    let named = match curve {
        EcCurve::P256 => h("06082a8648ce3d030107"),
        EcCurve::P384 => h("06052b81040022"),
    };
    seq(&[seq(&[ec, named]), bit_string(&[&[4u8][..], x, y].concat())])
}

fn offers(e: &Engine, alg: Algorithm) -> bool {
    e.devices().iter().any(|d| d.name == "pkcs11" && d.capabilities.iter().any(|c| c.alg == alg))
}

#[test]
fn the_device_names_its_token_and_offers_what_softhsm_lists() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(0);
    let d = &e.devices()[0];
    assert_eq!((d.name.as_str(), d.driver.as_str()), ("pkcs11", "pkcs11"));
    let detail = d.detail.clone().unwrap();
    assert!(detail.contains(softhsm::LABEL) && detail.contains("SoftHSM"), "{detail}");
    let caps: Vec<String> = d.capabilities.iter().map(|c| c.alg.to_string()).collect();
    println!("SoftHSM2 capabilities: {}", caps.join(" "));
    for want in [
        "aes-128-cbc",
        "aes-256-ecb",
        "aes-128-gcm",
        "sha1",
        "sha256",
        "hmac-sha256",
        "rsa2048-pkcs1",
        "rsa4096-pss",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdh-p256",
        "rng",
    ] {
        assert!(caps.iter().any(|c| c == want), "{want} not offered: {caps:?}");
    }
    // Nothing the token cannot do.
    for gone in ["aes-128-xts", "x25519", "chacha20-poly1305"] {
        assert!(!caps.iter().any(|c| c == gone), "{gone} offered");
    }
    for c in &d.capabilities {
        assert!(pkcs11::candidate_algorithms().any(|a| a == c.alg), "{}", c.alg);
    }
    // Random bytes from the token.
    let s = e.session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[])).unwrap();
    let a = run(&e, &s, Request::new(vec![0; 64])).unwrap().data;
    let b = run(&e, &s, Request::new(vec![0; 64])).unwrap().data;
    assert_ne!(a, b);
    assert_ne!(a, vec![0; 64]);
}

#[test]
fn known_answers_for_the_symmetric_mechanisms() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(0);
    let (mut ran, mut skipped) = (0usize, 0usize);
    for c in vectors::all_cases() {
        if !offers(&e, c.alg) {
            skipped += 1;
            continue;
        }
        let s = match on_token(&e, c.alg, c.op, &c.key) {
            Ok(s) => s,
            Err(x) => panic!("{c:?}: {x}"),
        };
        let mut r = Request::new(c.input.clone()).with_iv(&c.iv);
        if c.op == Op::Verify {
            r = r.with_tag(&c.expected);
        }
        match run(&e, &s, r) {
            Ok(out) => match c.alg.kind() {
                OpKind::Hash | OpKind::Mac if c.op == Op::Digest => assert!(c.tag_matches(&out.tag), "{c:?}"),
                OpKind::Mac => {}
                _ => assert_eq!(out.data, c.expected, "{c:?}"),
            },
            Err(Error::DeviceFailure(m)) if matches!(c.alg, Algorithm::Hmac(_)) && c.key.len() < c.alg.digest_len() => {
                // SoftHSM2 takes HMAC keys of at least the digest's length
                // only: a device fault (unbound work would be retried on
                // another device), not a wrong answer.
                assert!(m.contains("KeySizeRange"), "{m}");
                skipped += 1;
                continue;
            }
            Err(x) => panic!("{c:?}: {x}"),
        }
        if c.op == Op::Verify {
            let mut bad = c.expected.clone();
            bad[0] ^= 1;
            let r = Request::new(c.input.clone()).with_tag(&bad);
            assert_eq!(run(&e, &s, r).err(), Some(Error::VerifyFailed), "{c:?}");
        }
        ran += 1;
    }
    println!("{ran} known answers on the token, {skipped} not offered or refused by it");
    assert!(ran > 100, "{ran}");
}

fn run_rsa_sigver(e: &Engine, file: &str, padding: RsaPadding) -> (usize, usize) {
    let (mut pass, mut fail) = (0, 0);
    for r in rsa_sigver(file) {
        let alg = Algorithm::Rsa { bits: r.bits, padding };
        let s = match on_token(e, alg, Op::Verify, &r.spki) {
            Ok(s) => s,
            Err(Error::InvalidKey(m)) => {
                assert!(!r.pass && r.e_changed, "{file}: key refused: {m}: {}", r.result);
                fail += 1;
                continue;
            }
            Err(x) => panic!("{file}: {x}"),
        };
        let got = run(e, &s, Request::new(r.msg.clone()).with_tag(&r.sig));
        if r.pass {
            got.unwrap_or_else(|x| panic!("{file} {}: a passing record failed: {x}", r.bits));
            let digest = Sha256::digest(&r.msg).to_vec();
            run(e, &s, Request::new(digest).with_prehashed(true).with_tag(&r.sig)).unwrap();
            pass += 1;
        } else {
            assert_eq!(got.err(), Some(Error::VerifyFailed), "{file} {}: {}", r.bits, r.result);
            fail += 1;
        }
    }
    (pass, fail)
}

#[test]
fn cavp_rsa_pkcs1_sigver_on_the_token() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(0);
    assert_eq!(run_rsa_sigver(&e, "rsa/SigVer15_186-3.rsp", RsaPadding::Pkcs1), (6, 30));
}

#[test]
fn cavp_rsa_pss_sigver_needs_the_salt_length_the_token_is_given() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    // PKCS#11 fixes the PSS salt length in the mechanism; the device gives
    // 32 (SHA-256's length, what acrypto and `openssl -pkeyopt
    // rsa_pss_saltlen:digest` use). The CAVP records have 10-byte salts:
    // on the token every one of them fails to verify, the passing ones
    // included (the soft device verifies them: tests/asym.rs).
    let e = engine(0);
    assert_eq!(run_rsa_sigver_all_fail(&e, "rsa/SigVerPSS_186-3.rsp"), 36);
}

fn run_rsa_sigver_all_fail(e: &Engine, file: &str) -> usize {
    let mut n = 0;
    for r in rsa_sigver(file) {
        let alg = Algorithm::Rsa { bits: r.bits, padding: RsaPadding::Pss };
        let Ok(s) = on_token(e, alg, Op::Verify, &r.spki) else {
            n += 1;
            continue;
        };
        let got = run(e, &s, Request::new(r.msg.clone()).with_tag(&r.sig));
        assert_eq!(got.err(), Some(Error::VerifyFailed), "{}", r.result);
        n += 1;
    }
    n
}

#[test]
fn cavp_ecdsa_sigver_on_the_token() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(0);
    let mut counts = std::collections::BTreeMap::new();
    for r in records(&vector("ecdsa/SigVer.rsp")) {
        let curve = match r.section.as_str() {
            "[P-256,SHA-256]" => EcCurve::P256,
            "[P-384,SHA-256]" => EcCurve::P384,
            s => panic!("unexpected section {s}"),
        };
        let alg = Algorithm::Ecdsa(curve);
        let expect_ok = r.f["Result"].starts_with('P');
        let spki = ec_spki(curve, &h(&r.f["Qx"]), &h(&r.f["Qy"]));
        let sig = seq(&[der_uint(&h(&r.f["R"])), der_uint(&h(&r.f["S"]))]);
        let got = match on_token(&e, alg, Op::Verify, &spki) {
            Ok(s) => run(&e, &s, Request::new(h(&r.f["Msg"])).with_tag(&sig)),
            Err(Error::InvalidKey(m)) => {
                assert!(r.f["Result"].contains("Q changed"), "key refused: {m}: {}", r.f["Result"]);
                Err(Error::VerifyFailed)
            }
            Err(x) => panic!("{x}"),
        };
        match got {
            Ok(_) => assert!(expect_ok, "{alg}: a failing record verified: {}", r.f["Result"]),
            // A point off the curve may be refused by the token on import.
            Err(Error::DeviceFailure(m)) if r.f["Result"].contains("Q changed") => println!("refused: {m}"),
            Err(x) => {
                assert!(!expect_ok, "{alg}: a passing record failed: {x}");
                assert_eq!(x, Error::VerifyFailed, "{alg}: {}", r.f["Result"]);
            }
        }
        *counts.entry((alg.to_string(), expect_ok)).or_insert(0) += 1;
    }
    println!("{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 30);
    assert_eq!(counts.len(), 4, "{counts:?}");
}

/// The tests of this file take turns: PKCS#11 login is per process and
/// token, so a device another test holds open (logged in with the right
/// PIN) would make a wrong PIN look accepted (CKR_USER_ALREADY_LOGGED_IN),
/// and under `cargo test` (every test a thread of one process) the binary
/// crashed in SoftHSM2 with several tests' devices open at once.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

// ---- openssl cross-checks ----

/// A fresh key pair (PKCS#8 DER, SPKI DER), written as NAME.der and NAME.pub.der.
fn fresh(dir: &Dir, alg: Algorithm, name: &str) -> (Vec<u8>, Vec<u8>) {
    let gen: Vec<String> = match alg {
        Algorithm::Rsa { bits, .. } => vec!["RSA".into(), format!("rsa_keygen_bits:{bits}")],
        Algorithm::Ecdsa(EcCurve::P256) | Algorithm::EcdhP256 => vec!["EC".into(), "ec_paramgen_curve:P-256".into()],
        Algorithm::Ecdsa(EcCurve::P384) => vec!["EC".into(), "ec_paramgen_curve:P-384".into()],
        a => panic!("{a}"),
    };
    let pem = dir.path(&format!("{name}.pem"));
    let key = dir.path(&format!("{name}.der"));
    let pubk = dir.path(&format!("{name}.pub.der"));
    openssl_ok(&["genpkey", "-algorithm", &gen[0], "-pkeyopt", &gen[1], "-out", p(&pem)]);
    openssl_ok(&["pkcs8", "-topk8", "-nocrypt", "-in", p(&pem), "-outform", "DER", "-out", p(&key)]);
    openssl_ok(&["pkey", "-inform", "DER", "-in", p(&key), "-pubout", "-outform", "DER", "-out", p(&pubk)]);
    (std::fs::read(&key).unwrap(), std::fs::read(&pubk).unwrap())
}

fn pkeyopts(alg: Algorithm) -> Vec<&'static str> {
    match alg {
        // The token's PSS salt is 32 bytes (SHA-256's length).
        Algorithm::Rsa { padding: RsaPadding::Pss, .. } => {
            vec!["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest", "-pkeyopt", "digest:sha256"]
        }
        Algorithm::Rsa { padding: RsaPadding::Oaep, .. } => vec![
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        Algorithm::Rsa { .. } => vec!["-pkeyopt", "rsa_padding_mode:pkcs1", "-pkeyopt", "digest:sha256"],
        _ => vec!["-pkeyopt", "digest:sha256"],
    }
}

#[test]
fn signatures_cross_check_with_openssl_both_ways() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(0);
    let dir = Dir::new("sig");
    let mut rng = rng::seeded("pkcs11-sig");
    let mut checked = 0;
    for alg in [
        Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 },
        Algorithm::Rsa { bits: 3072, padding: RsaPadding::Pss },
        Algorithm::Ecdsa(EcCurve::P256),
        Algorithm::Ecdsa(EcCurve::P384),
    ] {
        let name = alg.to_string();
        let (key, pubk) = fresh(&dir, alg, &name);
        let signer = on_token(&e, alg, Op::Sign, &key).unwrap();
        let verifier = on_token(&e, alg, Op::Verify, &pubk).unwrap();
        for i in 0..3 {
            let n = rng::len_in(&mut rng, 0, 3000);
            let msg = rng::bytes(&mut rng, n);
            let digest = Sha256::digest(&msg).to_vec();
            let dg = dir.path("digest");
            std::fs::write(&dg, &digest).unwrap();
            // The token signs; openssl verifies.
            let ours = run(&e, &signer, Request::new(msg.clone())).unwrap().tag;
            let sig = dir.path("sig");
            std::fs::write(&sig, &ours).unwrap();
            let pub_path = dir.path(&format!("{name}.pub.der"));
            let mut a = vec!["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", p(&pub_path)];
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&dg), "-sigfile", p(&sig)]);
            openssl_ok(&a);
            // openssl signs; the token verifies (message and prehashed).
            let key_path = dir.path(&format!("{name}.der"));
            let mut a = vec!["pkeyutl", "-sign", "-keyform", "DER", "-inkey", p(&key_path)];
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&dg)]);
            let theirs = openssl_ok(&a);
            run(&e, &verifier, Request::new(msg.clone()).with_tag(&theirs)).unwrap();
            run(&e, &verifier, Request::new(digest.clone()).with_prehashed(true).with_tag(&theirs)).unwrap();
            if matches!(alg, Algorithm::Rsa { padding: RsaPadding::Pkcs1, .. }) {
                assert_eq!(ours, theirs, "{alg}: PKCS#1 v1.5 is deterministic");
            }
            // A changed message or signature does not verify: the same error as soft's.
            let mut bad = msg.clone();
            bad.push(i as u8);
            assert_eq!(run(&e, &verifier, Request::new(bad).with_tag(&theirs)).err(), Some(Error::VerifyFailed));
            let mut badsig = theirs.clone();
            let at = badsig.len() / 2;
            badsig[at] ^= 0x10;
            assert_eq!(run(&e, &verifier, Request::new(msg).with_tag(&badsig)).err(), Some(Error::VerifyFailed));
            checked += 1;
        }
        // The imported key is a session object of the token, kept with the key.
        assert!(pkcs11::key_is_on_token(&signer.steps()[0].key), "{alg}");
    }
    assert_eq!(checked, 12);
}

#[test]
fn rsa_encryption_cross_checks_with_openssl_both_ways() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(0);
    let dir = Dir::new("enc");
    let mut rng = rng::seeded("pkcs11-enc");
    let mut algs = vec![Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 }];
    let oaep = Algorithm::Rsa { bits: 2048, padding: RsaPadding::Oaep };
    if offers(&e, oaep) {
        algs.push(oaep);
    } else {
        println!("the token does not take OAEP with SHA-256: not offered");
    }
    for alg in algs {
        let name = alg.to_string();
        let (key, pubk) = fresh(&dir, alg, &name);
        let enc = on_token(&e, alg, Op::Encrypt, &pubk).unwrap();
        let dec = on_token(&e, alg, Op::Decrypt, &key).unwrap();
        let max = if matches!(alg, Algorithm::Rsa { padding: RsaPadding::Oaep, .. }) { 256 - 66 } else { 256 - 11 };
        for n in [1, rng::len_in(&mut rng, 2, max), max] {
            let msg = rng::bytes(&mut rng, n);
            let inp = dir.path("in");
            let ct = run(&e, &enc, Request::new(msg.clone())).unwrap().data;
            assert_eq!(ct.len(), 256);
            std::fs::write(&inp, &ct).unwrap();
            let mut a = vec!["pkeyutl", "-decrypt", "-keyform", "DER", "-inkey"];
            let kp = dir.path(&format!("{name}.der"));
            a.push(p(&kp));
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&inp)]);
            assert_eq!(openssl_ok(&a), msg, "{alg}: openssl decrypts the token's ciphertext");
            std::fs::write(&inp, &msg).unwrap();
            let pp = dir.path(&format!("{name}.pub.der"));
            let mut a = vec!["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", p(&pp)];
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&inp)]);
            let theirs = openssl_ok(&a);
            assert_eq!(run(&e, &dec, Request::new(theirs)).unwrap().data, msg, "{alg}: the token decrypts openssl's");
        }
    }
}

#[test]
fn ecdh_on_the_token_agrees_with_openssl() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(0);
    let dir = Dir::new("ecdh");
    let alg = Algorithm::EcdhP256;
    let (ka, _) = fresh(&dir, alg, "a");
    let (_, pb) = fresh(&dir, alg, "b");
    let s = on_token(&e, alg, Op::Derive, &ka).unwrap();
    let ours = run(&e, &s, Request::new(pb)).unwrap().data;
    let theirs = openssl_ok(&[
        "pkeyutl",
        "-derive",
        "-keyform",
        "DER",
        "-inkey",
        p(&dir.path("a.der")),
        "-peerform",
        "DER",
        "-peerkey",
        p(&dir.path("b.pub.der")),
    ]);
    assert_eq!(ours, theirs);
}

// ---- keys that stay in the token ----

/// Generates a key pair inside the token (token objects, the private key
/// sensitive and not extractable) with `label`; returns the private key's
/// CKA_EXTRACTABLE as the token reports it.
fn generate_in_token(label: &str, ec: bool) -> bool {
    let t = softhsm::shared();
    let ctx = Pkcs11::new(t.module).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx.get_slots_with_token().unwrap()[0];
    let s = ctx.open_rw_session(slot).unwrap();
    match s.login(UserType::User, Some(&AuthPin::from(softhsm::PIN))) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let id = label.as_bytes().to_vec();
    let common = |v: &mut Vec<Attribute>| {
        v.extend([Attribute::Token(true), Attribute::Label(label.as_bytes().to_vec()), Attribute::Id(id.clone())])
    };
    let (mech, mut public, mut private) = if ec {
        (
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(h("06082a8648ce3d030107")), Attribute::Verify(true)],
            vec![Attribute::Sign(true)],
        )
    } else {
        (
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::ModulusBits(2048u64.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Verify(true),
            ],
            vec![Attribute::Sign(true)],
        )
    };
    common(&mut public);
    common(&mut private);
    private.extend([Attribute::Sensitive(true), Attribute::Extractable(false), Attribute::Private(true)]);
    let (_, key) = s.generate_key_pair(&mech, &public, &private).unwrap();
    let attrs =
        s.get_attributes(key, &[AttributeType::Extractable, AttributeType::Class, AttributeType::KeyType]).unwrap();
    let mut extractable = true;
    for a in attrs {
        match a {
            Attribute::Extractable(x) => extractable = x,
            Attribute::Class(c) => assert_eq!(c, ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(k) => assert_eq!(k, if ec { KeyType::EC } else { KeyType::RSA }),
            _ => {}
        }
    }
    // The value cannot be read out.
    let value = s.get_attributes(key, &[AttributeType::PrivateExponent, AttributeType::Value]);
    assert!(
        value.map_or(true, |v| !v.iter().any(|a| matches!(a, Attribute::PrivateExponent(_) | Attribute::Value(_)))),
        "the token gave out a private value"
    );
    extractable
}

#[test]
fn a_key_generated_in_the_token_signs_by_label_and_never_leaves_it() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    for (label, alg) in [
        ("gen-rsa", Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 }),
        ("gen-ec", Algorithm::Ecdsa(EcCurve::P256)),
    ] {
        assert!(!generate_in_token(label, matches!(alg, Algorithm::Ecdsa(_))), "{label}: CKA_EXTRACTABLE is true");
        let e = engine(2);
        let uri = format!("pkcs11:token={};object={label}", softhsm::LABEL);
        // Unbound: the session binds the step to the token that holds the key.
        let signer = e.session(SessionBuilder::new().step_reference(alg, Op::Sign, &uri)).unwrap();
        assert_eq!(signer.steps()[0].device.as_deref(), Some("pkcs11"));
        let by_id = e
            .session(SessionBuilder::new().step_reference(alg, Op::Verify, &format!("pkcs11:id=%{}", hex_pct(label))))
            .unwrap();
        for n in [0usize, 1, 100, 5000] {
            let msg = vec![n as u8; n];
            let sig = run(&e, &signer, Request::new(msg.clone())).unwrap().tag;
            run(&e, &by_id, Request::new(msg.clone()).with_tag(&sig)).unwrap();
            let mut bad = sig.clone();
            let at = bad.len() - 3;
            bad[at] ^= 4;
            assert_eq!(run(&e, &by_id, Request::new(msg).with_tag(&bad)).err(), Some(Error::VerifyFailed));
        }
        // Only the token ran them.
        for d in e.devices() {
            if d.name != "pkcs11" {
                assert_eq!(d.stats.submitted, 0, "{} got token work", d.name);
            }
        }
        // A step bound to a soft device cannot use the reference.
        let r = e.session(SessionBuilder::new().step_reference(alg, Op::Sign, &uri).bind("soft0"));
        assert!(matches!(r, Err(Error::InvalidArgument(ref m)) if m.contains("does not hold")), "{r:?}");
        // The wrong operation class: a reference to a private key for encryption
        // finds no public key of that algorithm's type when the types differ.
        if let Algorithm::Ecdsa(_) = alg {
            let r = e.session(SessionBuilder::new().step_reference(
                Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 },
                Op::Sign,
                &uri,
            ));
            assert!(matches!(r, Err(Error::InvalidKey(ref m)) if m.contains("type")), "wrong key type: {r:?}");
        }
    }
}

/// `id=` of a label's bytes, percent-encoded.
fn hex_pct(label: &str) -> String {
    label.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join("%")
}

#[test]
fn a_bound_token_session_works_while_other_work_balances_over_soft() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(2);
    let dir = Dir::new("bal");
    let alg = Algorithm::Ecdsa(EcCurve::P256);
    let (key, pubk) = fresh(&dir, alg, "k");
    let token = on_token(&e, alg, Op::Sign, &key).unwrap();
    // Work the token cannot do goes to the soft devices only.
    let xts = e
        .session(SessionBuilder::new().step(
            Algorithm::Aes { key_bits: 128, mode: acrypto::CipherMode::Xts },
            Op::Encrypt,
            &[7; 32].iter().enumerate().map(|(i, b)| b + i as u8).collect::<Vec<_>>(),
        ))
        .unwrap();
    let verify_soft = e.session(SessionBuilder::new().step(alg, Op::Verify, &pubk).bind("soft1")).unwrap();
    let mut pending = Vec::new();
    for i in 0..200u32 {
        let msg = i.to_be_bytes().repeat(16);
        pending.push((0, msg.clone(), e.submit_pending(&token, Request::new(msg)).map_err(|x| x.error).unwrap()));
        let data = vec![i as u8; 4096];
        pending.push((
            1,
            data.clone(),
            e.submit_pending(&xts, Request::new(data).with_iv(&[i as u8; 16])).map_err(|x| x.error).unwrap(),
        ));
    }
    let mut sigs = Vec::new();
    for (kind, input, p) in pending {
        let r = p.wait().into_result().unwrap();
        if kind == 0 {
            sigs.push((input, r.tag));
        } else {
            assert_ne!(r.data, input);
        }
    }
    // The token's signatures verify elsewhere.
    for (msg, sig) in sigs {
        run(&e, &verify_soft, Request::new(msg).with_tag(&sig)).unwrap();
    }
    let by = |n: &str| e.devices().into_iter().find(|d| d.name == n).unwrap().stats;
    assert_eq!(by("pkcs11").completed_ok, 200);
    assert!(by("soft0").completed_ok > 0 && by("soft1").completed_ok > 0, "both soft devices took xts work");
    assert_eq!(by("soft0").completed_ok + by("soft1").completed_ok, 400);
}

// ---- bad input ----

#[test]
fn bad_input_is_a_clear_error() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let e = engine(1);
    let dir = Dir::new("bad");
    let rsa = Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 };
    let (rsa_key, rsa_pub) = fresh(&dir, rsa, "rsa");
    let (ec_key, _) = fresh(&dir, Algorithm::Ecdsa(EcCurve::P256), "ec");
    let invalid_key = |r: Result<Session, Error>| matches!(r, Err(Error::InvalidKey(_)));
    for bad in [&b"\x30\x03\x02\x01"[..], &rsa_key[..rsa_key.len() / 2], &[0xff; 64][..]] {
        assert!(invalid_key(on_token(&e, rsa, Op::Sign, bad)), "malformed DER {bad:02x?}");
        assert!(invalid_key(on_token(&e, Algorithm::Ecdsa(EcCurve::P256), Op::Sign, bad)));
    }
    assert!(invalid_key(on_token(&e, rsa, Op::Sign, &rsa_pub)), "sign with a public key");
    assert!(invalid_key(on_token(&e, rsa, Op::Sign, &ec_key)), "RSA with an EC key");
    assert!(invalid_key(on_token(&e, Algorithm::Ecdsa(EcCurve::P384), Op::Sign, &ec_key)), "P-384 with a P-256 key");
    // A signature that does not verify, and one that is not even DER.
    let v = on_token(&e, Algorithm::Ecdsa(EcCurve::P256), Op::Verify, &ec_key).unwrap();
    assert_eq!(run(&e, &v, Request::new(b"m".to_vec()).with_tag(&[0x30, 0x02, 0x01])).err(), Some(Error::VerifyFailed));
    let s = on_token(&e, rsa, Op::Verify, &rsa_pub).unwrap();
    assert_eq!(run(&e, &s, Request::new(b"m".to_vec()).with_tag(&[1; 256])).err(), Some(Error::VerifyFailed));
    assert_eq!(run(&e, &s, Request::new(b"m".to_vec()).with_tag(&[1; 7])).err(), Some(Error::VerifyFailed));
    // A reference that names no object: no device holds it (the soft
    // device's DER parser never sees it).
    let r = e.session(SessionBuilder::new().step_reference(rsa, Op::Sign, "pkcs11:object=no-such-key"));
    match r {
        Err(Error::NoDevice(m)) => assert!(m.contains("no-such-key") && m.contains("no device holds it"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A reference to another token.
    let r = e.session(SessionBuilder::new().step_reference(rsa, Op::Sign, "pkcs11:token=other;object=gen-rsa"));
    assert!(matches!(r, Err(Error::NoDevice(_))), "{r:?}");
}

#[test]
fn a_wrong_pin_is_refused_naming_the_pin() {
    let _serial = serial();
    if !softhsm::have() {
        return;
    }
    let t = softhsm::shared();
    let bad = t.dir.join("bad-pin");
    std::fs::write(&bad, "0000\n").unwrap();
    let spec = Pkcs11Spec::parse(&format!("{}?pin-source={}", t.module, bad.display())).unwrap();
    match Pkcs11Device::open("pkcs11", &spec) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("PIN") && m.contains("incorrect"), "{m}"),
        other => panic!("{other:?}"),
    }
    let missing = Pkcs11Spec::parse(&format!("{}?pin-source=/nonexistent/pin", t.module)).unwrap();
    assert!(
        matches!(Pkcs11Device::open("pkcs11", &missing), Err(Error::InvalidArgument(ref m)) if m.contains("PIN file"))
    );
    // No such slot, no such module.
    let noslot = Pkcs11Spec::parse(&format!("{}?slot=999999", t.module)).unwrap();
    assert!(matches!(Pkcs11Device::open("pkcs11", &noslot), Err(Error::NoDevice(_))));
    let nomod = Pkcs11Spec::parse("/nonexistent/libnothing.so").unwrap();
    assert!(matches!(Pkcs11Device::open("pkcs11", &nomod), Err(Error::NoDevice(ref m)) if m.contains("cannot load")));
    // By token label, without a PIN: public operations only.
    let by_label = acrypto::engine_from_spec(&format!("pkcs11:{}?token={}", t.module, softhsm::LABEL)).unwrap();
    assert!(by_label.devices()[0].detail.clone().unwrap().contains("public objects only"));
    let _ = DigestKind::Sha1;
}
