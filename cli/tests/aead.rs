//! `acrypto enc -a <aead> ... [--aad HEX] [-d]` against libcrypto (through
//! `tests/common/aead_ref.c`): the output is the ciphertext and the tag; an
//! open that does not verify writes nothing, and leaves an `-o` file as it
//! was.

#[path = "../../tests/common/mod.rs"]
mod common;

use acrypto::{Algorithm, Op, OpKind};
use common::openssl::{aead_batch, AeadAnswer, AeadJob};
use common::rng;
use std::process::Command;

fn run(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acrypto"));
    c.env("ACRYPTO_DEVICES", "soft:2").args(args);
    common::run_with_input(c, input).expect("spawn acrypto")
}

#[test]
fn seal_and_open_agree_with_libcrypto() {
    let mut r = rng::seeded("cli aead");
    for alg in Algorithm::all().filter(|a| a.kind() == OpKind::Aead) {
        for len in [0usize, 1, 16, 100, 70_000] {
            let key = rng::bytes(&mut r, alg.key_len().unwrap());
            let nonce = rng::bytes(&mut r, 12);
            let aad = rng::bytes(&mut r, len % 29);
            let pt = rng::bytes(&mut r, len);
            let (k, n, a) = (hex::encode(&key), hex::encode(&nonce), hex::encode(&aad));
            let name = alg.to_string();
            let mut args = vec!["enc", "-a", &name, "-K", &k, "--iv", &n];
            if !aad.is_empty() {
                args.extend(["--aad", &a]);
            }
            let out = run(&args, &pt);
            assert!(out.status.success(), "{alg} seal: {}", String::from_utf8_lossy(&out.stderr));
            let job = AeadJob { alg, op: Op::Encrypt, key: &key, nonce: &nonce, aad: &aad, data: &pt, tag: &[] };
            let AeadAnswer::Sealed(ct, tag) = aead_batch(&[job]).remove(0) else { panic!("libcrypto did not seal") };
            assert_eq!(out.stdout, [ct.clone(), tag.clone()].concat(), "{alg} {len} bytes: not libcrypto's ct||tag");
            // -d gives the plaintext back.
            let mut dargs = args.clone();
            dargs.push("-d");
            let back = run(&dargs, &out.stdout);
            assert!(back.status.success(), "{alg} open: {}", String::from_utf8_lossy(&back.stderr));
            assert_eq!(back.stdout, pt, "{alg} {len} bytes: round trip");
            // A flipped bit anywhere fails and writes nothing.
            for bit in [0, out.stdout.len() * 8 - 1, (out.stdout.len() * 8) / 2] {
                let mut bad = out.stdout.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                let o = run(&dargs, &bad);
                assert!(!o.status.success(), "{alg}: a flipped bit {bit} opened");
                assert!(o.stdout.is_empty(), "{alg}: output written on a failed open");
                assert!(String::from_utf8_lossy(&o.stderr).contains("authentication failed"), "{alg}");
            }
        }
    }
}

#[test]
fn failed_open_leaves_the_output_file_and_no_temporary() {
    let dir = std::env::temp_dir().join(format!("acrypto-aead-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("plain.txt");
    std::fs::write(&out_path, b"precious").unwrap();
    let key = "00".repeat(32);
    let nonce = "11".repeat(12);
    let p = out_path.to_str().unwrap();
    let sealed = run(&["enc", "-a", "aes-256-gcm", "-K", &key, "--iv", &nonce, "--aad", "abcd"], b"secret text");
    assert!(sealed.status.success());
    // Wrong AAD: fails, the file is as it was, nothing else in the directory.
    let o =
        run(&["enc", "-d", "-a", "aes-256-gcm", "-K", &key, "--iv", &nonce, "--aad", "abce", "-o", p], &sealed.stdout);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&out_path).unwrap(), b"precious");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "a temporary file was left");
    // The right AAD replaces it.
    let o =
        run(&["enc", "-d", "-a", "aes-256-gcm", "-K", &key, "--iv", &nonce, "--aad", "abcd", "-o", p], &sealed.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out_path).unwrap(), b"secret text");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_are_usage_errors() {
    let key = "00".repeat(16);
    // No nonce, a nonce of another length, --aad on a non-AEAD cipher, a short input on -d.
    for (args, input, want) in [
        (vec!["enc", "-a", "aes-128-gcm", "-K", &key], &b"x"[..], "needs --iv"),
        (vec!["enc", "-a", "aes-128-gcm", "-K", &key, "--iv", "00112233"], &b"x"[..], "12-byte nonces"),
        (vec!["enc", "-a", "aes-128-ctr", "-K", &key, "--iv", &key, "--aad", "00"], &b"x"[..], "AEAD algorithms only"),
    ] {
        let o = run(&args, input);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(want), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stdout.is_empty());
    }
    let n = "00".repeat(12);
    let o = run(&["enc", "-d", "-a", "aes-128-gcm", "-K", &key, "--iv", &n], &[0; 15]);
    assert!(!o.status.success() && o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("16-byte tag"));
}

/// One AEAD request takes at most 1 GiB of plaintext (the CLI's
/// `MAX_INPUT`): a longer input, sealing or opening, is an error that names
/// the limit, and an `-o` file is left as it was. The inputs are sparse
/// files one byte past the limit (the tag on top when opening).
#[test]
fn an_input_beyond_one_request_is_an_error_naming_the_limit() {
    const MAX_INPUT: u64 = 1 << 30;
    let dir = std::env::temp_dir().join(format!("acrypto-aead-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("out");
    std::fs::write(&out_path, b"precious").unwrap();
    let key = "00".repeat(16);
    let nonce = "11".repeat(12);
    for (decrypt, len) in [(false, MAX_INPUT + 1), (true, MAX_INPUT + 16 + 1)] {
        let in_path = dir.join("in");
        std::fs::File::create(&in_path).unwrap().set_len(len).unwrap();
        let mut args = vec!["enc", "-a", "aes-128-gcm", "-K", &key, "--iv", &nonce];
        if decrypt {
            args.push("-d");
        }
        args.extend(["-i", in_path.to_str().unwrap(), "-o", out_path.to_str().unwrap()]);
        let o = run(&args, b"");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "decrypt={decrypt}: {len} bytes were taken");
        assert!(err.contains("input too long") && err.contains(&MAX_INPUT.to_string()), "decrypt={decrypt}: {err}");
        assert_eq!(std::fs::read(&out_path).unwrap(), b"precious", "decrypt={decrypt}: the output file changed");
        std::fs::remove_file(&in_path).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "a temporary file was left");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
