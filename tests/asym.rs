//! Asymmetric operations (RSA PKCS#1 v1.5 / PSS / OAEP, ECDSA P-256 and
//! P-384, X25519, ECDH P-256) through the engine on the software devices:
//! NIST CAVP FIPS 186 signature verification vectors, RFC 7748, a
//! cross-check against the `openssl` command line on fresh keys and random
//! messages (both ways), and bad input.
//!
//! Vectors: `tests/vectors/{rsa,ecdsa,x25519}/` (trimmed, see
//! `tests/vectors/SOURCES.md`). The CAVP files give raw key numbers; the
//! test wraps them in SubjectPublicKeyInfo DER with a small DER writer of
//! its own (so the driver's DER parsing is checked against it too).

mod common;

use acrypto::{Algorithm, EcCurve, Engine, Error, Op, Request, RsaPadding, Session, SessionBuilder};
use common::asym_vectors::{bit_string, der_uint, records, rsa_sigver, seq, vector};
use common::openssl::{openssl_ok, p, Dir};
use common::rng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::process::Command;

fn engine() -> Engine {
    Engine::builder()
        .device(acrypto::SoftDevice::new("soft0"))
        .device(acrypto::SoftDevice::new("soft1"))
        .build()
        .unwrap()
}

fn session(e: &Engine, alg: Algorithm, op: Op, key: &[u8]) -> Result<Session, Error> {
    e.session(SessionBuilder::new().step(alg, op, key))
}

/// Runs `r` inline and queued; both must agree on the status.
fn both(e: &Engine, s: &Session, r: Request) -> Result<Request, Error> {
    let inline = e.run(s, r.clone());
    let done = e.submit_pending(s, r).map_err(|x| x.error).unwrap().wait();
    match (inline, done.status) {
        (Ok(_), Ok(())) => Ok(done.request),
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "inline and queued errors differ");
            Err(b)
        }
        (a, b) => panic!("inline {a:?} but queued {b:?}"),
    }
}

const RSA2048: Algorithm = Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 };

// ---- keys of the vectors, as DER (tests/common/asym_vectors.rs writes RSA's) ----

/// id-ecPublicKey SubjectPublicKeyInfo of an uncompressed point.
fn ec_spki(curve: EcCurve, x: &[u8], y: &[u8]) -> Vec<u8> {
    let ec = hex::decode("06072a8648ce3d0201").unwrap();
    let named = match curve {
        EcCurve::P256 => hex::decode("06082a8648ce3d030107").unwrap(),
        EcCurve::P384 => hex::decode("06052b81040022").unwrap(),
    };
    let point = [&[4u8][..], x, y].concat();
    seq(&[seq(&[ec, named]), bit_string(&point)])
}

const X25519_PKCS8_PREFIX: &str = "302e020100300506032b656e04220420";
const X25519_SPKI_PREFIX: &str = "302a300506032b656e032100";

fn x25519_private(k: &[u8]) -> Vec<u8> {
    [hex::decode(X25519_PKCS8_PREFIX).unwrap(), k.to_vec()].concat()
}

fn x25519_public(u: &[u8]) -> Vec<u8> {
    [hex::decode(X25519_SPKI_PREFIX).unwrap(), u.to_vec()].concat()
}

// ---- vector files ----

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Runs the SigVer records of one RSA file. A record's expected result is
/// "P" or "F (reason)"; an F record may also be refused at session time
/// only when its reason is a changed public exponent.
fn run_rsa_sigver(file: &str, padding: RsaPadding) -> (usize, usize) {
    let e = engine();
    let (mut pass, mut fail) = (0, 0);
    for r in rsa_sigver(file) {
        let (bits, msg, sig) = (r.bits, r.msg, r.sig);
        let alg = Algorithm::Rsa { bits, padding };
        let s = match session(&e, alg, Op::Verify, &r.spki) {
            Ok(s) => s,
            Err(Error::InvalidKey(m)) => {
                assert!(!r.pass && r.e_changed, "{file}: key refused: {m}: {}", r.result);
                fail += 1;
                continue;
            }
            Err(x) => panic!("{file}: {x}"),
        };
        let got = both(&e, &s, Request::new(msg.clone()).with_tag(&sig));
        if r.pass {
            got.unwrap_or_else(|x| panic!("{file} {bits}: a passing record failed: {x}"));
            // The same through a prehashed request.
            both(&e, &s, Request::new(Sha256::digest(&msg).to_vec()).with_prehashed(true).with_tag(&sig)).unwrap();
            pass += 1;
        } else {
            assert_eq!(got.err(), Some(Error::VerifyFailed), "{file} {bits}: {}", r.result);
            fail += 1;
        }
    }
    (pass, fail)
}

#[test]
fn cavp_rsa_pkcs1_sigver() {
    let (p, f) = run_rsa_sigver("rsa/SigVer15_186-3.rsp", RsaPadding::Pkcs1);
    println!("SigVer15 SHA-256: {p} pass, {f} fail records");
    assert_eq!((p, f), (6, 30));
}

#[test]
fn cavp_rsa_pss_sigver() {
    let (p, f) = run_rsa_sigver("rsa/SigVerPSS_186-3.rsp", RsaPadding::Pss);
    println!("SigVerPSS SHA-256: {p} pass, {f} fail records");
    assert_eq!((p, f), (6, 30));
}

#[test]
fn cavp_ecdsa_sigver() {
    let e = engine();
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
        // The signature as OpenSSL writes it: DER ECDSA-Sig-Value.
        let sig = seq(&[der_uint(&h(&r.f["R"])), der_uint(&h(&r.f["S"]))]);
        let msg = h(&r.f["Msg"]);
        let got = match session(&e, alg, Op::Verify, &spki) {
            Ok(s) => both(&e, &s, Request::new(msg).with_tag(&sig)),
            // "Q changed" may give a point off the curve.
            Err(Error::InvalidKey(m)) => {
                assert!(r.f["Result"].contains("Q changed"), "key refused: {m}: {}", r.f["Result"]);
                Err(Error::VerifyFailed)
            }
            Err(x) => panic!("{x}"),
        };
        if expect_ok {
            got.unwrap_or_else(|x| panic!("{alg}: passing record failed: {x}"));
        } else {
            assert_eq!(got.err(), Some(Error::VerifyFailed), "{alg}: {}", r.f["Result"]);
        }
        *counts.entry((alg.to_string(), expect_ok)).or_insert(0) += 1;
    }
    println!("{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 30);
    assert!(counts.iter().all(|(_, n)| *n > 0) && counts.len() == 4, "{counts:?}");
}

fn x25519(e: &Engine, k: &[u8], u: &[u8]) -> Vec<u8> {
    let s = session(e, Algorithm::X25519, Op::Derive, &x25519_private(k)).unwrap();
    both(e, &s, Request::new(x25519_public(u))).unwrap().data
}

#[test]
fn rfc7748_x25519() {
    let e = engine();
    let recs = records(&vector("x25519/rfc7748.txt"));
    assert_eq!(recs.len(), 0, "the file has COUNT records without Result");
    let text = vector("x25519/rfc7748.txt");
    let mut n = 0;
    for block in text.split("\n\n").filter(|b| b.contains("OUTPUT_U")) {
        let get =
            |k: &str| block.lines().find_map(|l| l.strip_prefix(&format!("{k} = "))).map(|v| h(v.trim())).unwrap();
        assert_eq!(x25519(&e, &get("INPUT_SCALAR"), &get("INPUT_U")), get("OUTPUT_U"));
        n += 1;
    }
    assert_eq!(n, 3);
    // RFC 7748 section 5.2, the iterated function (transcribed): after
    // one and after 1000 iterations of k, u = X25519(k, u), k.
    let (mut k, mut u) = (h(&format!("09{}", "00".repeat(31))), h(&format!("09{}", "00".repeat(31))));
    for i in 1..=1000 {
        let out = x25519(&e, &k, &u);
        u = std::mem::replace(&mut k, out);
        if i == 1 {
            assert_eq!(hex::encode(&k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
        }
    }
    assert_eq!(hex::encode(&k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

// ---- openssl cross-checks ----

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl").args(args).output().expect("openssl (run tests/setup.sh)")
}

/// A fresh key pair from `openssl genpkey`: (PKCS#8 private DER, SPKI DER).
fn genpkey(dir: &Dir, name: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let key = dir.path(&format!("{name}.der"));
    let pubk = dir.path(&format!("{name}.pub.der"));
    let k = key.to_str().unwrap();
    let pem = dir.path(&format!("{name}.pem"));
    let mut a = vec!["genpkey"];
    a.extend_from_slice(args);
    a.extend(["-out", pem.to_str().unwrap()]);
    openssl_ok(&a);
    // genpkey's DER output is the traditional form for some key types:
    // PKCS#8 DER comes from `pkcs8 -topk8`.
    openssl_ok(&["pkcs8", "-topk8", "-nocrypt", "-in", pem.to_str().unwrap(), "-outform", "DER", "-out", k]);
    openssl_ok(&["pkey", "-inform", "DER", "-in", k, "-pubout", "-outform", "DER", "-out", pubk.to_str().unwrap()]);
    (std::fs::read(&key).unwrap(), std::fs::read(&pubk).unwrap())
}

fn pkeyopts(alg: Algorithm) -> Vec<&'static str> {
    match alg {
        Algorithm::Rsa { padding: RsaPadding::Pss, .. } => {
            vec!["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:auto", "-pkeyopt", "digest:sha256"]
        }
        Algorithm::Rsa { padding: RsaPadding::Oaep, .. } => {
            vec![
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
            ]
        }
        Algorithm::Rsa { .. } => vec!["-pkeyopt", "rsa_padding_mode:pkcs1", "-pkeyopt", "digest:sha256"],
        _ => vec!["-pkeyopt", "digest:sha256"],
    }
}

fn keygen_args(alg: Algorithm) -> Vec<String> {
    match alg {
        Algorithm::Rsa { bits, .. } => {
            vec!["-algorithm".into(), "RSA".into(), "-pkeyopt".into(), format!("rsa_keygen_bits:{bits}")]
        }
        Algorithm::Ecdsa(EcCurve::P256) | Algorithm::EcdhP256 => {
            vec!["-algorithm".into(), "EC".into(), "-pkeyopt".into(), "ec_paramgen_curve:P-256".into()]
        }
        Algorithm::Ecdsa(EcCurve::P384) => {
            vec!["-algorithm".into(), "EC".into(), "-pkeyopt".into(), "ec_paramgen_curve:P-384".into()]
        }
        Algorithm::X25519 => vec!["-algorithm".into(), "X25519".into()],
        a => panic!("{a}"),
    }
}

fn fresh(dir: &Dir, alg: Algorithm, name: &str) -> (Vec<u8>, Vec<u8>) {
    let a = keygen_args(alg);
    genpkey(dir, name, &a.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn signatures_cross_check_with_openssl_both_ways() {
    let e = engine();
    let dir = Dir::new("sig");
    let mut rng = rng::seeded("asym-sig");
    let algs = [
        RSA2048,
        Algorithm::Rsa { bits: 3072, padding: RsaPadding::Pkcs1 },
        Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pss },
        Algorithm::Rsa { bits: 4096, padding: RsaPadding::Pss },
        Algorithm::Ecdsa(EcCurve::P256),
        Algorithm::Ecdsa(EcCurve::P384),
    ];
    let mut checked = 0;
    for alg in algs {
        let (key, pubk) = fresh(&dir, alg, &alg.to_string());
        let key_path = dir.path(&format!("{alg}.der"));
        let pub_path = dir.path(&format!("{alg}.pub.der"));
        let signer = session(&e, alg, Op::Sign, &key).unwrap();
        let verifier = session(&e, alg, Op::Verify, &pubk).unwrap();
        for i in 0..3 {
            let n = rng::len_in(&mut rng, 0, 3000);
            let msg = rng::bytes(&mut rng, n);
            let digest = Sha256::digest(&msg).to_vec();
            let dg = dir.path("digest");
            std::fs::write(&dg, &digest).unwrap();
            // acrypto signs; openssl verifies.
            let ours = both(&e, &signer, Request::new(msg.clone())).unwrap().tag;
            let sig = dir.path("sig");
            std::fs::write(&sig, &ours).unwrap();
            let mut a = vec!["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", p(&pub_path)];
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&dg), "-sigfile", p(&sig)]);
            let o = openssl(&a);
            assert!(o.status.success(), "{alg}: openssl does not verify ours: {}", String::from_utf8_lossy(&o.stderr));
            // openssl signs; acrypto verifies (message and prehashed).
            let mut a = vec!["pkeyutl", "-sign", "-keyform", "DER", "-inkey", p(&key_path)];
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&dg)]);
            let theirs = openssl_ok(&a);
            both(&e, &verifier, Request::new(msg.clone()).with_tag(&theirs)).unwrap();
            both(&e, &verifier, Request::new(digest.clone()).with_prehashed(true).with_tag(&theirs)).unwrap();
            // The private key verifies too (its public half).
            let vpriv = session(&e, alg, Op::Verify, &key).unwrap();
            both(&e, &vpriv, Request::new(msg.clone()).with_tag(&theirs)).unwrap();
            // PKCS#1 v1.5 is deterministic: byte for byte OpenSSL's.
            if matches!(alg, Algorithm::Rsa { padding: RsaPadding::Pkcs1, .. }) {
                assert_eq!(ours, theirs, "{alg}: PKCS#1 v1.5 signature differs from openssl's");
            }
            // A changed message or signature does not verify.
            let mut bad = msg.clone();
            bad.push(i as u8);
            assert_eq!(both(&e, &verifier, Request::new(bad).with_tag(&theirs)).err(), Some(Error::VerifyFailed));
            let mut badsig = theirs.clone();
            let at = badsig.len() / 2;
            badsig[at] ^= 0x10;
            assert_eq!(
                both(&e, &verifier, Request::new(msg.clone()).with_tag(&badsig)).err(),
                Some(Error::VerifyFailed)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}

#[test]
fn rsa_encryption_cross_checks_with_openssl_both_ways() {
    let e = engine();
    let dir = Dir::new("enc");
    let mut rng = rng::seeded("asym-enc");
    for alg in [
        Algorithm::Rsa { bits: 2048, padding: RsaPadding::Oaep },
        Algorithm::Rsa { bits: 3072, padding: RsaPadding::Oaep },
        Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 },
    ] {
        let (key, pubk) = fresh(&dir, alg, &alg.to_string());
        let key_path = dir.path(&format!("{alg}.der"));
        let pub_path = dir.path(&format!("{alg}.pub.der"));
        let enc = session(&e, alg, Op::Encrypt, &pubk).unwrap();
        let dec = session(&e, alg, Op::Decrypt, &key).unwrap();
        let max = match alg {
            Algorithm::Rsa { bits, padding: RsaPadding::Oaep } => usize::from(bits) / 8 - 66,
            Algorithm::Rsa { bits, .. } => usize::from(bits) / 8 - 11,
            _ => unreachable!(),
        };
        for n in [0, 1, rng::len_in(&mut rng, 2, max), max] {
            let msg = rng::bytes(&mut rng, n);
            let inp = dir.path("in");
            // acrypto encrypts; openssl decrypts.
            let ct = both(&e, &enc, Request::new(msg.clone())).unwrap().data;
            assert_eq!(
                ct.len() * 8,
                match alg {
                    Algorithm::Rsa { bits, .. } => usize::from(bits),
                    _ => 0,
                }
            );
            std::fs::write(&inp, &ct).unwrap();
            let mut a = vec!["pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", p(&key_path)];
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&inp)]);
            assert_eq!(openssl_ok(&a), msg, "{alg}: openssl decrypts ours to something else");
            // openssl encrypts; acrypto decrypts.
            std::fs::write(&inp, &msg).unwrap();
            let mut a = vec!["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", p(&pub_path)];
            a.extend(pkeyopts(alg));
            a.extend(["-in", p(&inp)]);
            let theirs = openssl_ok(&a);
            assert_eq!(both(&e, &dec, Request::new(theirs.clone())).unwrap().data, msg);
            // Truncated ciphertext: a clear length error, the data unchanged.
            let short = theirs[..theirs.len() - 1].to_vec();
            let r = Request::new(short.clone()).with_output(Vec::new());
            let done = e.submit_pending(&dec, r).map_err(|x| x.error).unwrap().wait();
            assert!(matches!(done.status, Err(Error::InvalidLength(_))), "{:?}", done.status);
            assert_eq!(done.request.data, short);
            // A tampered OAEP ciphertext is refused (PKCS#1 v1.5 uses
            // implicit rejection: a plaintext, not an error; see asym.rs).
            if matches!(alg, Algorithm::Rsa { padding: RsaPadding::Oaep, .. }) {
                let mut bad = theirs.clone();
                bad[10] ^= 1;
                assert_eq!(both(&e, &dec, Request::new(bad)).err(), Some(Error::BadPadding));
            }
        }
        // Too long a message is refused before any arithmetic.
        assert!(matches!(both(&e, &enc, Request::new(vec![1; max + 1])), Err(Error::InvalidLength(_))));
    }
}

#[test]
fn key_agreement_cross_checks_with_openssl() {
    let e = engine();
    let dir = Dir::new("derive");
    for alg in [Algorithm::X25519, Algorithm::EcdhP256] {
        for round in 0..3 {
            let (ka, pa) = fresh(&dir, alg, &format!("a{round}"));
            let (kb, pb) = fresh(&dir, alg, &format!("b{round}"));
            let sa = session(&e, alg, Op::Derive, &ka).unwrap();
            let sb = session(&e, alg, Op::Derive, &kb).unwrap();
            let ab = both(&e, &sa, Request::new(pb.clone())).unwrap().data;
            let ba = both(&e, &sb, Request::new(pa.clone())).unwrap().data;
            assert_eq!(ab, ba, "{alg}: the two sides disagree");
            assert_eq!(ab.len(), 32);
            let theirs = openssl_ok(&[
                "pkeyutl",
                "-derive",
                "-keyform",
                "DER",
                "-inkey",
                p(&dir.path(&format!("a{round}.der"))),
                "-peerform",
                "DER",
                "-peerkey",
                p(&dir.path(&format!("b{round}.pub.der"))),
            ]);
            assert_eq!(ab, theirs, "{alg}: secret differs from openssl's");
        }
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let e = engine();
    let dir = Dir::new("bad");
    let (rsa_key, rsa_pub) = fresh(&dir, RSA2048, "rsa");
    let (ec_key, ec_pub) = fresh(&dir, Algorithm::Ecdsa(EcCurve::P256), "ec");
    let (x_key, x_pub) = fresh(&dir, Algorithm::X25519, "x");
    let invalid_key = |r: Result<Session, Error>| matches!(r, Err(Error::InvalidKey(_)));
    // Malformed DER: refused when the session is made.
    for bad in [&b""[..], &b"\x30\x03\x02\x01"[..], &rsa_key[..rsa_key.len() / 2], &[0xff; 64][..]] {
        assert!(invalid_key(session(&e, RSA2048, Op::Sign, bad)), "{bad:02x?}");
        assert!(invalid_key(session(&e, RSA2048, Op::Verify, bad)));
        assert!(invalid_key(session(&e, Algorithm::Ecdsa(EcCurve::P256), Op::Sign, bad)));
    }
    // Wrong key type for the operation or algorithm.
    assert!(invalid_key(session(&e, RSA2048, Op::Sign, &rsa_pub)), "sign with a public key");
    assert!(invalid_key(session(&e, RSA2048, Op::Decrypt, &rsa_pub)), "decrypt with a public key");
    assert!(invalid_key(session(&e, RSA2048, Op::Sign, &ec_key)), "RSA sign with an EC key");
    assert!(invalid_key(session(&e, Algorithm::Ecdsa(EcCurve::P384), Op::Sign, &ec_key)), "P-384 with a P-256 key");
    assert!(invalid_key(session(&e, Algorithm::Ecdsa(EcCurve::P256), Op::Verify, &rsa_pub)));
    assert!(invalid_key(session(&e, Algorithm::X25519, Op::Derive, &ec_key)));
    assert!(invalid_key(session(&e, Algorithm::X25519, Op::Derive, &x_pub)));
    assert!(
        invalid_key(session(&e, Algorithm::Rsa { bits: 3072, padding: RsaPadding::Pkcs1 }, Op::Sign, &rsa_key)),
        "size"
    );
    // Operations that do not fit the algorithm.
    for (alg, op) in [
        (Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pss }, Op::Encrypt),
        (Algorithm::Rsa { bits: 2048, padding: RsaPadding::Oaep }, Op::Sign),
        (Algorithm::Ecdsa(EcCurve::P256), Op::Derive),
        (Algorithm::X25519, Op::Sign),
        (RSA2048, Op::Digest),
    ] {
        assert!(matches!(session(&e, alg, op, &rsa_key), Err(Error::InvalidArgument(_))), "{alg} {op:?}");
    }
    // An asymmetric step does not chain.
    let chained = SessionBuilder::new().step(RSA2048, Op::Sign, &rsa_key).step(
        Algorithm::Digest(acrypto::DigestKind::Sha256),
        Op::Digest,
        &[],
    );
    assert!(matches!(e.session(chained), Err(Error::InvalidArgument(_))));
    // A prehashed request that is not a digest.
    let s = session(&e, RSA2048, Op::Sign, &rsa_key).unwrap();
    assert!(matches!(both(&e, &s, Request::new(vec![0; 31]).with_prehashed(true)), Err(Error::InvalidLength(_))));
    // A signature that is not a signature.
    let v = session(&e, Algorithm::Ecdsa(EcCurve::P256), Op::Verify, &ec_pub).unwrap();
    for sig in [&b""[..], &b"\x30\x00"[..], &[0x30; 72][..]] {
        assert_eq!(both(&e, &v, Request::new(b"m".to_vec()).with_tag(sig)).err(), Some(Error::VerifyFailed));
    }
    let v = session(&e, RSA2048, Op::Verify, &rsa_pub).unwrap();
    assert_eq!(both(&e, &v, Request::new(b"m".to_vec()).with_tag(&[1; 256])).err(), Some(Error::VerifyFailed));
    assert_eq!(both(&e, &v, Request::new(b"m".to_vec()).with_tag(&[1; 17])).err(), Some(Error::VerifyFailed));
    // A peer key that is not one: refused, the data unchanged.
    let d = session(&e, Algorithm::X25519, Op::Derive, &x_key).unwrap();
    for peer in [&b"junk"[..], &ec_pub[..], &x_pub[..20]] {
        let done = e.submit_pending(&d, Request::new(peer.to_vec())).map_err(|x| x.error).unwrap().wait();
        assert!(matches!(done.status, Err(Error::InvalidArgument(_))), "{:?}", done.status);
        assert_eq!(done.request.data, peer);
    }
    // The all-zero point (a low-order peer) gives no secret.
    assert!(matches!(both(&e, &d, Request::new(x25519_public(&[0; 32]))), Err(Error::InvalidArgument(_))));
    let d = session(&e, Algorithm::EcdhP256, Op::Derive, &ec_key).unwrap();
    assert!(matches!(both(&e, &d, Request::new(x_pub.clone())), Err(Error::InvalidArgument(_))));
}

#[test]
fn many_small_requests_balance_batch_and_count() {
    let e = engine();
    let dir = Dir::new("load");
    let (key, pubk) = fresh(&dir, Algorithm::Ecdsa(EcCurve::P256), "ec");
    let signer = session(&e, Algorithm::Ecdsa(EcCurve::P256), Op::Sign, &key).unwrap();
    let verifier = session(&e, Algorithm::Ecdsa(EcCurve::P256), Op::Verify, &pubk).unwrap();
    let mut rng = rng::seeded("asym-load");
    let msgs: Vec<Vec<u8>> = (0..400)
        .map(|_| {
            let mut m = vec![0; 64];
            rng.fill_bytes(&mut m);
            m
        })
        .collect();
    let reqs: Vec<Request> = msgs.iter().map(|m| Request::new(m.clone())).collect();
    let pending: Vec<_> =
        reqs.into_iter().map(|r| e.submit_pending(&signer, r).map_err(|x| x.error).unwrap()).collect();
    let signed: Vec<Request> = pending.into_iter().map(|p| p.wait().into_result().unwrap()).collect();
    for (m, r) in msgs.iter().zip(&signed) {
        assert_eq!(&r.data, m);
        both(&e, &verifier, Request::new(m.clone()).with_tag(&r.tag)).unwrap();
    }
    e.wait_idle().unwrap();
    let stats = e.stats();
    assert_eq!(stats.completed_err, 0);
    assert!(stats.completed_ok >= 800, "{stats:?}");
    assert_eq!(stats.submitted, stats.completed_ok + stats.completed_err + stats.in_flight);
    for d in e.devices() {
        assert!(d.stats.completed_ok > 0, "{} ran nothing: {:?}", d.name, d.stats);
    }
    assert_eq!(signer.completed(), 400);
}
