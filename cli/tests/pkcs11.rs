//! The command line with a PKCS#11 token (SoftHSM2 in a temporary
//! directory): `--devices pkcs11:MODULE?pin-source=FILE` lists the token's
//! capabilities, and `pkeyutl` / `dgst` take a key reference
//! (`-inkey 'pkcs11:object=LABEL'`) as `openssl` does with a pkcs11
//! provider; what the token signs verifies with `openssl`, and the reverse.
//!
//! Without SoftHSM2 every test says so and passes, unless
//! `ACRYPTO_REQUIRE_PKCS11=1` (CI sets it).

#[path = "../../tests/common/mod.rs"]
mod common;

use common::softhsm::{self, Token};
use std::process::{Command, Output};

fn run(t: &Token, prog: &str, args: &[&str]) -> Output {
    let mut c = if prog == "acrypto" {
        let mut c = Command::new(env!("CARGO_BIN_EXE_acrypto"));
        c.arg("--devices").arg(format!("{},soft:1", t.spec()));
        c
    } else {
        Command::new(prog)
    };
    c.env("SOFTHSM2_CONF", &t.conf).args(args);
    c.output().unwrap_or_else(|e| panic!("cannot run {prog}: {e}"))
}

fn ok(t: &Token, prog: &str, args: &[&str]) -> Vec<u8> {
    let o = run(t, prog, args);
    assert!(o.status.success(), "{prog} {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn f(t: &Token, name: &str) -> String {
    t.dir.join(name).to_str().unwrap().to_string()
}

/// A key pair from openssl imported into the token under `label`
/// (`softhsm2-util --import`: a private and a public object); returns
/// the PEM paths.
fn imported(t: &Token, label: &str, genargs: &[&str]) -> (String, String) {
    let (k, p) = (f(t, &format!("{label}.pem")), f(t, &format!("{label}.pub.pem")));
    let mut a = vec!["genpkey"];
    a.extend_from_slice(genargs);
    a.extend(["-out", &k]);
    ok(t, "openssl", &a);
    ok(t, "openssl", &["pkey", "-in", &k, "-pubout", "-out", &p]);
    let id = hex_id(label);
    ok(
        t,
        "softhsm2-util",
        &["--import", &k, "--token", softhsm::LABEL, "--label", label, "--id", &id, "--pin", softhsm::PIN],
    );
    (k, p)
}

fn hex_id(label: &str) -> String {
    label.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn devices_lists_the_token_and_its_capabilities() {
    if !softhsm::have() {
        return;
    }
    let t = Token::new("cli-dev");
    let out = String::from_utf8(ok(&t, "acrypto", &["devices"])).unwrap();
    let block = out.split("\n\n").find(|b| b.starts_with("pkcs11 ")).unwrap_or_else(|| panic!("{out}"));
    assert!(block.contains("driver pkcs11"), "{block}");
    assert!(block.contains(softhsm::LABEL) && block.contains("SoftHSM"), "{block}");
    for alg in ["rsa2048-pkcs1", "ecdsa-p256", "sha256", "aes-128-cbc", "rng"] {
        assert!(block.contains(alg), "{alg} missing: {block}");
    }
    assert!(!block.contains("x25519"), "{block}");
    let j: serde_json::Value = serde_json::from_slice(&ok(&t, "acrypto", &["devices", "--json"])).unwrap();
    assert!(j.to_string().contains("\"pkcs11\""), "{j}");
}

#[test]
fn pkeyutl_and_dgst_sign_with_a_key_that_stays_in_the_token() {
    if !softhsm::have() {
        return;
    }
    let t = Token::new("cli-sign");
    let msg = f(&t, "msg");
    std::fs::write(&msg, (0..5000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>()).unwrap();
    let digest = f(&t, "digest");
    std::fs::write(&digest, ok(&t, "openssl", &["dgst", "-sha256", "-binary", &msg])).unwrap();
    let sig = f(&t, "sig");
    for (label, genargs, opts) in [
        ("rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..], &[][..]),
        (
            "rsapss",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"][..],
            &["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest"][..],
        ),
        ("ec", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..], &[][..]),
        ("ec384", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..], &[][..]),
    ] {
        let (key, pubk) = imported(&t, label, genargs);
        let uri = format!("pkcs11:object={label}");
        // pkeyutl -sign over a digest: openssl verifies it.
        let mut a = vec!["pkeyutl", "-sign", "-inkey", &uri, "-in", &digest, "-out", &sig];
        a.extend_from_slice(opts);
        ok(&t, "acrypto", &a);
        let mut v = vec![
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            &pubk,
            "-in",
            &digest,
            "-sigfile",
            &sig,
            "-pkeyopt",
            "digest:sha256",
        ];
        v.extend_from_slice(opts);
        let out = ok(&t, "openssl", &v);
        assert!(String::from_utf8_lossy(&out).contains("Signature Verified Successfully"), "{label}");
        if label == "rsa" {
            // PKCS#1 v1.5: byte for byte openssl's signature with the same key.
            let theirs =
                ok(&t, "openssl", &["pkeyutl", "-sign", "-inkey", &key, "-in", &digest, "-pkeyopt", "digest:sha256"]);
            assert_eq!(std::fs::read(&sig).unwrap(), theirs);
        }
        // dgst -sha256 -sign hashes the message.
        let mut a = vec!["dgst", "-sha256", "-sign", &uri, "-out", &sig];
        let sigopts: Vec<&str> = opts.iter().map(|o| if *o == "-pkeyopt" { "-sigopt" } else { o }).collect();
        a.extend_from_slice(&sigopts);
        a.push(&msg);
        ok(&t, "acrypto", &a);
        let mut v = vec!["dgst", "-sha256", "-verify", &pubk, "-signature", &sig];
        v.extend_from_slice(&sigopts);
        v.push(&msg);
        assert!(String::from_utf8_lossy(&ok(&t, "openssl", &v)).contains("Verified OK"), "{label}");
        // openssl signs; the token's public key object verifies (by id this time).
        let mut s = vec!["dgst", "-sha256", "-sign", &key, "-out", &sig];
        s.extend_from_slice(&sigopts);
        s.push(&msg);
        ok(&t, "openssl", &s);
        let by_id = format!(
            "pkcs11:id=%{}",
            hex_id(label).as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("%")
        );
        let mut v = vec!["dgst", "-sha256", "-verify", &by_id, "-signature", &sig];
        v.extend_from_slice(&sigopts);
        v.push(&msg);
        assert!(String::from_utf8_lossy(&ok(&t, "acrypto", &v)).contains("Verified OK"), "{label}");
        // A changed message fails as openssl's does: exit 1 and its line.
        let bad = f(&t, "bad");
        std::fs::write(&bad, b"another message").unwrap();
        let mut v = vec!["dgst", "-sha256", "-verify", &uri, "-signature", &sig];
        v.extend_from_slice(&sigopts);
        v.push(&bad);
        let o = run(&t, "acrypto", &v);
        assert_eq!(o.status.code(), Some(1), "{label}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("Verification failure"));
    }
}

#[test]
fn a_reference_that_names_no_key_is_a_usage_error() {
    if !softhsm::have() {
        return;
    }
    let t = Token::new("cli-bad");
    let digest = f(&t, "digest");
    std::fs::write(&digest, [7u8; 32]).unwrap();
    let o = run(&t, "acrypto", &["pkeyutl", "-sign", "-inkey", "pkcs11:object=nothing", "-in", &digest]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing") && err.contains("no device holds it"), "{err}");
    assert!(o.stdout.is_empty());
    // A wrong PIN is refused when the engine is built, naming the PIN.
    std::fs::write(&t.pin_file, "0000\n").unwrap();
    let o = run(&t, "acrypto", &["devices"]);
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("PIN") && err.contains("incorrect"), "{err}");
}
