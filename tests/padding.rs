//! The facade's PKCS#7 padding helpers (issue 18 item 7): padded data
//! encrypted by the engine equals `openssl enc` with its default padding,
//! `openssl enc`'s output decrypted by the engine unpads to the input, and
//! bad padding is `BadPadding` with the data left as it was.

mod common;

use acrypto::{pkcs7_pad, pkcs7_unpad, Algorithm, CipherMode, Error, Op, Request, SessionBuilder};
use std::process::Command;

const KEY: [u8; 16] = [0x2b; 16];
const IV: [u8; 16] = [0x0f; 16];

fn openssl_enc(decrypt: bool, data: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new("openssl");
    cmd.args(["enc", "-aes-128-cbc", "-K", &common::hex(&KEY), "-iv", &common::hex(&IV)]);
    if decrypt {
        cmd.arg("-d");
    }
    let out = common::run_with_input(cmd, data).expect("openssl runs");
    assert!(out.status.success(), "openssl enc: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn padded_cbc_equals_openssl_enc_both_ways() {
    let e = acrypto::soft_engine(1).unwrap();
    let aes = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    let enc = e.session(SessionBuilder::new().step(aes, Op::Encrypt, &KEY)).unwrap();
    let dec = e.session(SessionBuilder::new().step(aes, Op::Decrypt, &KEY)).unwrap();
    let mut lengths: Vec<usize> = (0..=48).collect();
    lengths.push(1500);
    for n in lengths {
        let plain: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        // Unpadded, the engine refuses what is not whole blocks.
        if n % 16 != 0 {
            let err = e.run(&enc, Request::new(plain.clone()).with_iv(&IV)).unwrap_err();
            assert!(matches!(err, Error::InvalidLength(_)), "{n}: {err:?}");
        }
        let mut padded = plain.clone();
        pkcs7_pad(&mut padded);
        assert_eq!(padded.len(), (n / 16 + 1) * 16, "{n}");
        let sealed = e.run(&enc, Request::new(padded).with_iv(&IV)).unwrap().data;
        assert_eq!(sealed, openssl_enc(false, &plain), "{n} bytes: engine + pkcs7_pad vs openssl enc");
        let mut opened = e.run(&dec, Request::new(openssl_enc(false, &plain)).with_iv(&IV)).unwrap().data;
        pkcs7_unpad(&mut opened).unwrap();
        assert_eq!(opened, plain, "{n} bytes: openssl enc, engine, pkcs7_unpad");
    }
    // openssl enc -d agrees with what the engine sealed.
    let mut p = b"PAY ALICE $0100.00".to_vec();
    pkcs7_pad(&mut p);
    let sealed = e.run(&enc, Request::new(p).with_iv(&IV)).unwrap().data;
    assert_eq!(openssl_enc(true, &sealed), b"PAY ALICE $0100.00");
}

#[test]
fn bad_padding_is_refused_and_changes_nothing() {
    let mut bad_cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![1; 15],
        vec![1; 17],
        [vec![9; 15], vec![0]].concat(),
        [vec![9; 15], vec![17]].concat(),
        [vec![9; 13], vec![3, 2, 3]].concat(),
        [vec![9; 16], vec![9; 15], vec![0x20]].concat(),
    ];
    for case in bad_cases.iter_mut() {
        let before = case.clone();
        assert_eq!(pkcs7_unpad(case), Err(Error::BadPadding), "{before:?}");
        assert_eq!(*case, before, "a refused unpad leaves the data alone");
    }
    let mut full = vec![16u8; 16];
    pkcs7_unpad(&mut full).unwrap();
    assert!(full.is_empty());
    let mut one = [vec![5; 15], vec![1]].concat();
    pkcs7_unpad(&mut one).unwrap();
    assert_eq!(one, vec![5; 15]);
}
