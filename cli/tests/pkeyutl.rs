//! `acrypto pkeyutl` and `acrypto dgst -sign/-verify` against the `openssl`
//! command with the same options, on fresh PEM keys from `openssl genpkey`
//! and random messages: deterministic outputs (PKCS#1 v1.5 signatures,
//! derived secrets) are byte for byte OpenSSL's; randomized ones (PSS,
//! ECDSA, OAEP) are checked by the other side; a failed verification
//! prints OpenSSL's line and exits 1; bad keys exit 2 with one line.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let p = std::env::temp_dir().join(format!("acrypto-pkeyutl-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn f(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(prog: &str, args: &[&str]) -> Output {
    let mut c = if prog == "acrypto" { Command::new(env!("CARGO_BIN_EXE_acrypto")) } else { Command::new(prog) };
    c.env("ACRYPTO_DEVICES", "soft:2").args(args);
    c.output().unwrap_or_else(|e| panic!("cannot run {prog}: {e}"))
}

fn ok(prog: &str, args: &[&str]) -> Vec<u8> {
    let o = run(prog, args);
    assert!(o.status.success(), "{prog} {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn read(p: &str) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// A key pair as PEM files: (private, public).
fn keypair(d: &Dir, name: &str, genargs: &[&str]) -> (String, String) {
    let (k, p) = (d.f(&format!("{name}.pem")), d.f(&format!("{name}.pub.pem")));
    let mut a = vec!["genpkey"];
    a.extend_from_slice(genargs);
    a.extend(["-out", &k]);
    ok("openssl", &a);
    ok("openssl", &["pkey", "-in", &k, "-pubout", "-out", &p]);
    (k, p)
}

fn write_random(d: &Dir, name: &str, r: &mut rand::rngs::StdRng, n: usize) -> String {
    let p = d.f(name);
    std::fs::write(&p, rng::bytes(r, n)).unwrap();
    p
}

fn digest_file(d: &Dir, msg: &str) -> String {
    let p = d.f("digest");
    ok("openssl", &["dgst", "-sha256", "-binary", "-out", &p, msg]);
    p
}

#[test]
fn pkeyutl_signatures_match_openssl_both_ways() {
    let d = Dir::new();
    let mut r = rng::seeded("cli pkeyutl sig");
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], &["-pkeyopt", "rsa_padding_mode:pkcs1"]),
        ("pss", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"], &["-pkeyopt", "rsa_padding_mode:pss"]),
        ("p256", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], &[]),
        ("p384", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], &[]),
    ];
    for (name, gen, opts) in cases {
        let (key, pubk) = keypair(&d, name, gen);
        for round in 0..2 {
            let n = rng::len_in(&mut r, 0, 5000);
            let msg = write_random(&d, "msg", &mut r, n);
            let dg = digest_file(&d, &msg);
            let (ours, theirs) = (d.f("ours.sig"), d.f("theirs.sig"));
            let mut a = vec!["pkeyutl", "-sign", "-inkey", &key, "-in", &dg, "-out", &ours];
            a.extend_from_slice(opts);
            ok("acrypto", &a);
            let mut a =
                vec!["pkeyutl", "-sign", "-inkey", &key, "-pkeyopt", "digest:sha256", "-in", &dg, "-out", &theirs];
            a.extend_from_slice(opts);
            ok("openssl", &a);
            if name == "rsa" {
                assert_eq!(read(&ours), read(&theirs), "PKCS#1 v1.5 signatures differ");
            }
            for (prog, sig) in [("openssl", &ours), ("acrypto", &theirs), ("acrypto", &ours)] {
                let mut a = vec!["pkeyutl", "-verify", "-pubin", "-inkey", &pubk, "-in", &dg, "-sigfile", sig];
                a.extend_from_slice(opts);
                if prog == "openssl" {
                    a.extend(["-pkeyopt", "digest:sha256"]);
                }
                let out = ok(prog, &a);
                assert_eq!(String::from_utf8_lossy(&out).trim(), "Signature Verified Successfully", "{prog} {name}");
            }
            // dgst: the message itself.
            let (ours_d, theirs_d) = (d.f("ours.dgst"), d.f("theirs.dgst"));
            let mut sigopt: Vec<&str> = Vec::new();
            if name == "pss" {
                sigopt = vec!["-sigopt", "rsa_padding_mode:pss"];
            }
            let mut a = vec!["dgst", "-sha256", "-sign", &key, "-out", &ours_d];
            a.extend_from_slice(&sigopt);
            a.push(&msg);
            ok("acrypto", &a);
            let mut a = vec!["dgst", "-sha256", "-sign", &key, "-out", &theirs_d];
            a.extend_from_slice(&sigopt);
            a.push(&msg);
            ok("openssl", &a);
            if name == "rsa" {
                assert_eq!(read(&ours_d), read(&theirs_d), "dgst -sign differs");
            }
            for (prog, sig) in [("openssl", &ours_d), ("acrypto", &theirs_d)] {
                let mut a = vec!["dgst", "-sha256", "-verify", &pubk, "-signature", sig];
                a.extend_from_slice(&sigopt);
                a.push(&msg);
                assert_eq!(String::from_utf8_lossy(&ok(prog, &a)).trim(), "Verified OK", "{prog} {name}");
            }
            // A different message: both say so and exit 1.
            std::fs::write(&msg, format!("other {round}")).unwrap();
            for prog in ["openssl", "acrypto"] {
                let mut a = vec!["dgst", "-sha256", "-verify", &pubk, "-signature", &ours_d];
                a.extend_from_slice(&sigopt);
                a.push(&msg);
                let o = run(prog, &a);
                assert_eq!(o.status.code(), Some(1), "{prog} {name}");
                assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "Verification failure", "{prog}");
            }
        }
    }
}

#[test]
fn pkeyutl_encrypt_decrypt_and_derive_match_openssl() {
    let d = Dir::new();
    let mut r = rng::seeded("cli pkeyutl enc");
    let (key, pubk) = keypair(&d, "rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    let oaep =
        ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"];
    for n in [0, 1, 100, 190] {
        let msg = write_random(&d, "msg", &mut r, n);
        let (ct1, ct2) = (d.f("ct1"), d.f("ct2"));
        let mut a = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", &pubk, "-in", &msg, "-out", &ct1];
        a.extend(oaep);
        ok("acrypto", &a);
        let mut a = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", &pubk, "-in", &msg, "-out", &ct2];
        a.extend(oaep);
        ok("openssl", &a);
        for (prog, ct) in [("openssl", &ct1), ("acrypto", &ct2)] {
            let mut a = vec!["pkeyutl", "-decrypt", "-inkey", &key, "-in", ct];
            a.extend(oaep);
            assert_eq!(ok(prog, &a), read(&msg), "{prog} decrypts to something else");
        }
    }
    for (name, gen) in
        [("x", &["-algorithm", "X25519"][..]), ("ec", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..])]
    {
        let (ka, _) = keypair(&d, &format!("{name}a"), gen);
        let (_, pb) = keypair(&d, &format!("{name}b"), gen);
        let ours = ok("acrypto", &["pkeyutl", "-derive", "-inkey", &ka, "-peerkey", &pb]);
        let theirs = ok("openssl", &["pkeyutl", "-derive", "-inkey", &ka, "-peerkey", &pb]);
        assert_eq!(ours, theirs, "{name}: secrets differ");
        assert_eq!(ours.len(), 32);
    }
}

#[test]
fn bad_keys_and_arguments_are_one_line_errors() {
    let d = Dir::new();
    let (key, pubk) = keypair(&d, "ec", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let junk = d.f("junk.pem");
    std::fs::write(&junk, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
    let dg = d.f("dg");
    std::fs::write(&dg, [7u8; 32]).unwrap();
    let short = d.f("short");
    std::fs::write(&short, [7u8; 31]).unwrap();
    let check = |args: &[&str], code: i32, needle: &str| {
        let o = run("acrypto", args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(o.stdout.is_empty());
    };
    check(&["pkeyutl", "-sign", "-inkey", &junk, "-in", &dg], 2, "junk.pem");
    check(&["pkeyutl", "-sign", "-inkey", &pubk, "-in", &dg], 2, "public key");
    check(&["pkeyutl", "-encrypt", "-pubin", "-inkey", &pubk, "-in", &dg], 2, "cannot encrypt");
    check(&["pkeyutl", "-sign", "-inkey", &key, "-in", &short], 1, "32-byte");
    check(&["pkeyutl", "-sign", "-verify", "-inkey", &key, "-in", &dg], 2, "exactly one");
    check(&["pkeyutl", "-sign", "-inkey", &key, "-pkeyopt", "digest:sha1", "-in", &dg], 2, "sha256");
    check(&["pkeyutl", "-sign", "-inkey", &d.f("missing"), "-in", &dg], 1, "cannot read key");
    assert!(Path::new(&key).exists());
}
