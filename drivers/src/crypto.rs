//! The primitives behind the software device, one route step at a time.
//!
//! Every primitive comes from a RustCrypto crate (`aes`, `cbc`, `ecb`,
//! `ctr`, `xts-mode`, `hmac`, `sha1`, `sha2`) or from `getrandom`; nothing
//! here implements a primitive itself. Semantics follow OpenSSL's names:
//!
//! - `aes-*-cbc`, `aes-*-ecb`: no padding; the data is a multiple of 16 bytes.
//! - `aes-*-ctr`: a 128-bit big-endian counter starting at the IV; any length.
//! - `aes-*-xts`: the key is two AES keys (data key, then tweak key); the IV is
//!   the raw 16-byte tweak block, as OpenSSL takes it; at least 16 bytes of
//!   data, with ciphertext stealing when the length is not a multiple of 16.
//! - `sha1`, `sha256`: the digest of the data into the request's tag.
//! - `hmac-*`: `Digest` writes the full MAC into the tag; `Verify` compares the
//!   MAC, truncated to the tag's length, with the tag in constant time.
//! - `rng`: fills the data buffer with bytes from the OS.
//! - a hash or HMAC request with [`Request::stream`] set continues a
//!   stream ([`crate::stream`]).
//!
//! Ciphers work in place on [`Request::current_mut`]. Keys are expanded
//! once per session and kept with the session's key ([`crate::schedule`]);
//! nothing is allocated per call.
//!
//! Every mismatch (operation, key, IV, data or tag length) is an [`Error`],
//! never a panic, even though the engine validates most of it before a
//! request reaches a device.

use crate::schedule::{schedule_for, KeyedMac, Schedule};
use acrypto_core::alg::MIN_VERIFY_TAG;
use acrypto_core::{Algorithm, CipherMode, DigestKind, Error, Op, Request, Step};
use aes::cipher::block_padding::NoPadding;
use aes::cipher::consts::U16;
use aes::cipher::crypto_common::InnerInit;
use aes::cipher::{
    BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, BlockSizeUser, InnerIvInit, StreamCipher,
};
use hmac::digest::FixedOutputReset;
use hmac::Mac;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// AES block size in bytes.
const BLOCK: usize = 16;

/// Runs one route step on a request.
pub fn apply_step(step: &Step, req: &mut Request) -> Result<(), Error> {
    let alg = step.alg;
    if !step.op.fits(alg) {
        return Err(Error::InvalidArgument(format!("{:?} does not apply to {alg}", step.op)));
    }
    // `Step::new` checks the key too, but a step's fields are public.
    alg.check_key(step.key.bytes())?;
    if alg.kind() == acrypto_core::OpKind::Aead {
        return crate::aead::apply(step, req);
    }
    if alg.kind() == acrypto_core::OpKind::Asym {
        return crate::asym::apply(step, req);
    }
    let mut scratch = None;
    let sched = schedule_for(alg, &step.key, &mut scratch)?;
    if req.stream.is_some() {
        return crate::stream::apply(step, sched, req);
    }
    match alg {
        Algorithm::Aes { mode, .. } => {
            alg.check_iv(&req.iv)?;
            alg.check_data_len(req.current().len())?;
            // The IV is copied out so that the data can be borrowed mutably.
            let mut iv = [0u8; BLOCK];
            if mode != CipherMode::Ecb {
                iv.copy_from_slice(&req.iv);
            }
            let encrypt = step.op == Op::Encrypt;
            let data = req.current_mut().as_mut_slice();
            match sched {
                Schedule::Aes128(c) => aes_mode(mode, encrypt, c, &iv, data),
                Schedule::Aes192(c) => aes_mode(mode, encrypt, c, &iv, data),
                Schedule::Aes256(c) => aes_mode(mode, encrypt, c, &iv, data),
                Schedule::Xts128(k1, k2) => xts(encrypt, k1, k2, &iv, data),
                Schedule::Xts256(k1, k2) => xts(encrypt, k1, k2, &iv, data),
                _ => Err(key_error("aes")),
            }
        }
        Algorithm::Digest(DigestKind::Sha1) => {
            let d = Sha1::digest(req.current());
            set_tag(&mut req.tag, &d);
            Ok(())
        }
        Algorithm::Digest(DigestKind::Sha256) => {
            let d = Sha256::digest(req.current());
            set_tag(&mut req.tag, &d);
            Ok(())
        }
        Algorithm::Hmac(_) => match sched {
            Schedule::HmacSha1(m) => hmac_step(alg, step.op, m, req),
            Schedule::HmacSha256(m) => hmac_step(alg, step.op, m, req),
            _ => Err(key_error("hmac")),
        },
        Algorithm::Rng => {
            getrandom::getrandom(req.current_mut()).map_err(|e| Error::DeviceFailure(format!("getrandom: {e}")))
        }
        Algorithm::AesGcm { .. } | Algorithm::ChaCha20Poly1305 => crate::aead::apply(step, req),
        Algorithm::Rsa { .. } | Algorithm::Ecdsa(_) | Algorithm::X25519 | Algorithm::EcdhP256 => {
            crate::asym::apply(step, req)
        }
    }
}

/// Runs route steps in order, stopping at the first error.
pub fn apply_steps(steps: &[Step], req: &mut Request) -> Result<(), Error> {
    steps.iter().try_for_each(|s| apply_step(s, req))
}

/// Replaces the tag with `value`, reusing the tag's allocation.
fn set_tag(tag: &mut Vec<u8>, value: &[u8]) {
    tag.clear();
    tag.extend_from_slice(value);
}

fn key_error(alg: &str) -> Error {
    Error::InvalidKey(format!("{alg}: key of the wrong length"))
}

/// One AES mode (not XTS) over `data` in place, with an expanded key.
/// Lengths were checked by the caller; the crates' own checks are mapped
/// to errors all the same.
fn aes_mode<C>(mode: CipherMode, encrypt: bool, cipher: &C, iv: &[u8; BLOCK], data: &mut [u8]) -> Result<(), Error>
where
    C: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncrypt + BlockDecrypt,
{
    let whole_blocks = || {
        if data.len().is_multiple_of(BLOCK) {
            Ok(())
        } else {
            Err(Error::InvalidLength(format!("{} bytes is not a multiple of {BLOCK}", data.len())))
        }
    };
    let pad_error = || Error::InvalidLength("data is not a multiple of the block size".into());
    let iv = iv.into();
    match mode {
        CipherMode::Cbc => {
            whole_blocks()?;
            let len = data.len();
            if encrypt {
                cbc::Encryptor::<&C>::inner_iv_init(cipher, iv)
                    .encrypt_padded_mut::<NoPadding>(data, len)
                    .map_err(|_| pad_error())?;
            } else {
                cbc::Decryptor::<&C>::inner_iv_init(cipher, iv)
                    .decrypt_padded_mut::<NoPadding>(data)
                    .map_err(|_| pad_error())?;
            }
            Ok(())
        }
        CipherMode::Ecb => {
            whole_blocks()?;
            let len = data.len();
            if encrypt {
                ecb::Encryptor::<&C>::inner_init(cipher)
                    .encrypt_padded_mut::<NoPadding>(data, len)
                    .map_err(|_| pad_error())?;
            } else {
                ecb::Decryptor::<&C>::inner_init(cipher)
                    .decrypt_padded_mut::<NoPadding>(data)
                    .map_err(|_| pad_error())?;
            }
            Ok(())
        }
        CipherMode::Ctr => {
            // Encryption and decryption are the same keystream XOR.
            ctr::Ctr128BE::<&C>::from_core(ctr::CtrCore::inner_iv_init(cipher, iv))
                .try_apply_keystream(data)
                .map_err(|_| Error::InvalidLength("ctr: data longer than the counter space".into()))
        }
        CipherMode::Xts => Err(key_error("xts")),
    }
}

/// AES-XTS over one sector in place, with expanded data and tweak keys.
fn xts<C>(encrypt: bool, k1: &C, k2: &C, iv: &[u8; BLOCK], data: &mut [u8]) -> Result<(), Error>
where
    C: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncrypt + BlockDecrypt,
{
    if data.len() < BLOCK {
        return Err(Error::InvalidLength(format!("xts needs at least {BLOCK} bytes, got {}", data.len())));
    }
    let xts = xts_mode::Xts128::new(k1, k2);
    if encrypt {
        xts.encrypt_sector(data, *iv);
    } else {
        xts.decrypt_sector(data, *iv);
    }
    Ok(())
}

/// HMAC digest or verify from the keyed state; the per-request copy is
/// wiped when it goes.
fn hmac_step<M: Mac + Clone + FixedOutputReset>(
    alg: Algorithm,
    op: Op,
    keyed: &KeyedMac<M>,
    req: &mut Request,
) -> Result<(), Error> {
    if op == Op::Verify {
        let n = req.tag.len();
        if !(MIN_VERIFY_TAG..=alg.digest_len()).contains(&n) {
            return Err(Error::InvalidLength(format!(
                "{alg} verify takes a tag of {MIN_VERIFY_TAG} to {} bytes, got {n}",
                alg.digest_len()
            )));
        }
    }
    let mut mac = keyed.clone();
    // The associated data comes first (an authenc route: ESP's header and
    // IV are authenticated, not encrypted); empty for a plain MAC.
    Mac::update(&mut mac.0, &req.aad);
    Mac::update(&mut mac.0, req.current());
    let full = mac.0.finalize_reset().into_bytes();
    finish_tag(op, alg, &full, req)
}

/// The end of a MAC (or digest) step of `alg` whose full result is `full`:
/// Digest writes it as the tag; Verify compares the leftmost `tag.len()`
/// bytes (checked by the caller to be at most `full.len()`) in constant
/// time.
pub(crate) fn finish_tag(op: Op, alg: Algorithm, full: &[u8], req: &mut Request) -> Result<(), Error> {
    match op {
        Op::Digest => {
            set_tag(&mut req.tag, full);
            Ok(())
        }
        Op::Verify => {
            if bool::from(full[..req.tag.len()].ct_eq(&req.tag)) {
                Ok(())
            } else {
                Err(Error::VerifyFailed)
            }
        }
        _ => Err(Error::InvalidArgument(format!("{op:?} does not apply to {alg}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acrypto_core::Key;

    fn aes(key_bits: u16, mode: CipherMode) -> Algorithm {
        Algorithm::Aes { key_bits, mode }
    }

    /// A step built without `Step::new`'s checks, as a driver might get one.
    fn raw_step(alg: Algorithm, op: Op, key: &[u8]) -> Step {
        Step { alg, op, key: Key::new(key), device: None }
    }

    fn h(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2));
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn run(alg: Algorithm, op: Op, key: &[u8], req: &mut Request) -> Result<(), Error> {
        apply_step(&raw_step(alg, op, key), req)
    }

    #[test]
    fn op_that_does_not_fit_is_invalid_argument() {
        let cases = [
            (aes(128, CipherMode::Cbc), Op::Digest),
            (aes(128, CipherMode::Cbc), Op::Generate),
            (Algorithm::Digest(DigestKind::Sha1), Op::Verify),
            (Algorithm::Digest(DigestKind::Sha1), Op::Encrypt),
            (Algorithm::Hmac(DigestKind::Sha256), Op::Decrypt),
            (Algorithm::Rng, Op::Digest),
        ];
        for (alg, op) in cases {
            let key = vec![1u8; alg.key_len().unwrap_or(16)];
            let mut r = Request::new(vec![0; 16]).with_iv(&[0; 16]);
            assert!(matches!(run(alg, op, &key, &mut r), Err(Error::InvalidArgument(_))), "{alg} {op:?}");
        }
    }

    #[test]
    fn wrong_key_is_invalid_key() {
        for alg in Algorithm::all().filter(|a| a.key_len().is_some()) {
            let n = alg.key_len().unwrap();
            let op = match alg.kind() {
                acrypto_core::OpKind::Cipher | acrypto_core::OpKind::Aead => Op::Encrypt,
                acrypto_core::OpKind::Rng => Op::Generate,
                _ => Op::Digest,
            };
            let mut r = Request::new(vec![0; 32]).with_iv(&vec![0; alg.iv_len()]);
            let e = run(alg, op, &vec![7u8; n + 1], &mut r);
            assert!(matches!(e, Err(Error::InvalidKey(_))), "{alg}: {e:?}");
            if n > 0 {
                let e = run(alg, op, &vec![7u8; n - 1], &mut r);
                assert!(matches!(e, Err(Error::InvalidKey(_))), "{alg}: {e:?}");
            }
        }
        // XTS: both halves equal.
        let mut r = Request::new(vec![0; 32]).with_iv(&[0; 16]);
        assert!(matches!(run(aes(128, CipherMode::Xts), Op::Encrypt, &[5; 32], &mut r), Err(Error::InvalidKey(_))));
        // An AES size that does not exist.
        let mut r = Request::new(vec![0; 32]).with_iv(&[0; 16]);
        assert!(matches!(run(aes(100, CipherMode::Cbc), Op::Encrypt, &[5; 12], &mut r), Err(Error::InvalidKey(_))));
    }

    #[test]
    fn wrong_iv_is_invalid_length() {
        for alg in Algorithm::all().filter(|a| a.kind() == acrypto_core::OpKind::Cipher) {
            let key: Vec<u8> = (0..alg.key_len().unwrap() as u8).collect();
            let bad = if alg.iv_len() == 0 { vec![16] } else { vec![0, 15, 17, 32] };
            for n in bad {
                let mut r = Request::new(vec![0; 32]).with_iv(&vec![0; n]);
                let e = run(alg, Op::Encrypt, &key, &mut r);
                assert!(matches!(e, Err(Error::InvalidLength(_))), "{alg} iv {n}: {e:?}");
                assert_eq!(r.data, vec![0; 32], "{alg}: data touched on error");
            }
        }
    }

    #[test]
    fn wrong_data_length_is_invalid_length() {
        let key32: Vec<u8> = (0..32).collect();
        for (alg, lens) in [
            (aes(128, CipherMode::Cbc), &[1usize, 15, 17, 31][..]),
            (aes(256, CipherMode::Ecb), &[1, 15, 17, 33][..]),
            (aes(128, CipherMode::Xts), &[0, 1, 15][..]),
        ] {
            let key = &key32[..alg.key_len().unwrap()];
            for &n in lens {
                for op in [Op::Encrypt, Op::Decrypt] {
                    let mut r = Request::new(vec![0; n]).with_iv(&vec![0; alg.iv_len()]);
                    let e = run(alg, op, key, &mut r);
                    assert!(matches!(e, Err(Error::InvalidLength(_))), "{alg} {n}: {e:?}");
                }
            }
        }
    }

    #[test]
    fn ctr_takes_any_length_and_round_trips() {
        let alg = aes(192, CipherMode::Ctr);
        let key: Vec<u8> = (0..24).collect();
        // The counter wraps through the whole 128 bits, as in OpenSSL.
        let iv = [0xff; 16];
        for n in [0usize, 1, 15, 16, 17, 100] {
            let plain: Vec<u8> = (0..n as u32).map(|i| i as u8).collect();
            let mut r = Request::new(plain.clone()).with_iv(&iv);
            run(alg, Op::Encrypt, &key, &mut r).unwrap();
            assert_eq!(r.data.len(), n);
            run(alg, Op::Decrypt, &key, &mut r).unwrap();
            assert_eq!(r.data, plain);
        }
    }

    #[test]
    fn known_answers() {
        // SP 800-38A F.5.1, first block.
        let mut r = Request::new(h("6bc1bee22e409f96e93d7e117393172a")).with_iv(&h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"));
        run(aes(128, CipherMode::Ctr), Op::Encrypt, &h("2b7e151628aed2a6abf7158809cf4f3c"), &mut r).unwrap();
        assert_eq!(r.data, h("874d6191b620e3261bef6864990db6ce"));
        // SP 800-38A F.2.1, first block (CBC), through a separate output buffer.
        let mut r = Request::new(h("6bc1bee22e409f96e93d7e117393172a"))
            .with_iv(&h("000102030405060708090a0b0c0d0e0f"))
            .with_output(Vec::new());
        run(aes(128, CipherMode::Cbc), Op::Encrypt, &h("2b7e151628aed2a6abf7158809cf4f3c"), &mut r).unwrap();
        assert_eq!(r.output(), h("7649abac8119b246cee98e9b12e9197d"));
        assert_eq!(r.data, h("6bc1bee22e409f96e93d7e117393172a"));
        // FIPS 180-2 "abc".
        let mut r = Request::new(b"abc".to_vec());
        run(Algorithm::Digest(DigestKind::Sha256), Op::Digest, &[], &mut r).unwrap();
        assert_eq!(r.tag, h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        r.tag = vec![1, 2, 3];
        run(Algorithm::Digest(DigestKind::Sha1), Op::Digest, &[], &mut r).unwrap();
        assert_eq!(r.tag, h("a9993e364706816aba3e25717850c26c9cd0d89d"));
        // RFC 2202 case 2.
        let mut r = Request::new(b"what do ya want for nothing?".to_vec());
        run(Algorithm::Hmac(DigestKind::Sha1), Op::Digest, b"Jefe", &mut r).unwrap();
        assert_eq!(r.tag, h("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));
    }

    #[test]
    fn hmac_verify() {
        let alg = Algorithm::Hmac(DigestKind::Sha256);
        let data = b"what do ya want for nothing?".to_vec();
        let full = h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        for n in [MIN_VERIFY_TAG, 16, 31, 32] {
            let mut r = Request::new(data.clone()).with_tag(&full[..n]);
            run(alg, Op::Verify, b"Jefe", &mut r).unwrap();
            let mut bad = full[..n].to_vec();
            bad[n - 1] ^= 1;
            let mut r = Request::new(data.clone()).with_tag(&bad);
            assert_eq!(run(alg, Op::Verify, b"Jefe", &mut r), Err(Error::VerifyFailed));
        }
        for n in [0, 1, MIN_VERIFY_TAG - 1, 33, 64] {
            let mut r = Request::new(data.clone()).with_tag(&vec![0; n]);
            assert!(matches!(run(alg, Op::Verify, b"Jefe", &mut r), Err(Error::InvalidLength(_))), "tag {n}");
        }
        // A different key does not verify.
        let mut r = Request::new(data).with_tag(&full);
        assert_eq!(run(alg, Op::Verify, b"Jeff", &mut r), Err(Error::VerifyFailed));
    }

    #[test]
    fn rng_fills_and_differs() {
        let mut a = Request::new(vec![0; 64]);
        let mut b = Request::new(vec![0; 64]);
        run(Algorithm::Rng, Op::Generate, &[], &mut a).unwrap();
        run(Algorithm::Rng, Op::Generate, &[], &mut b).unwrap();
        assert_eq!(a.data.len(), 64);
        assert_ne!(a.data, b.data);
        let mut e = Request::new(Vec::new());
        run(Algorithm::Rng, Op::Generate, &[], &mut e).unwrap();
        assert!(e.data.is_empty());
    }

    #[test]
    fn steps_chain_and_stop_at_the_first_error() {
        let key: Vec<u8> = (0..16).collect();
        let steps = [
            Step::new(aes(128, CipherMode::Cbc), Op::Encrypt, &key).unwrap(),
            Step::new(Algorithm::Hmac(DigestKind::Sha1), Op::Digest, b"k").unwrap(),
        ];
        let mut r = Request::new(vec![3; 48]).with_iv(&[9; 16]);
        apply_steps(&steps, &mut r).unwrap();
        let mut want = Request::new(r.data.clone());
        run(Algorithm::Hmac(DigestKind::Sha1), Op::Digest, b"k", &mut want).unwrap();
        assert_eq!(r.tag, want.tag);
        // The cipher step fails on 47 bytes; the MAC step never runs.
        let mut r = Request::new(vec![3; 47]).with_iv(&[9; 16]);
        assert!(matches!(apply_steps(&steps, &mut r), Err(Error::InvalidLength(_))));
        assert!(r.tag.is_empty());
    }

    #[test]
    fn any_shape_of_step_and_request_is_an_answer_not_a_panic() {
        let ops = [Op::Encrypt, Op::Decrypt, Op::Digest, Op::Verify, Op::Generate];
        let mut oks = 0;
        for alg in Algorithm::all().chain([aes(64, CipherMode::Ctr), aes(512, CipherMode::Xts)]) {
            for op in ops {
                for klen in [0usize, 1, 8, 15, 16, 24, 31, 32, 48, 64, 65, 128] {
                    let key: Vec<u8> = (0..klen as u8).collect();
                    for ivlen in [0usize, 8, 16, 17] {
                        for dlen in [0usize, 1, 15, 16, 17, 31, 32, 33] {
                            for tlen in [0usize, 9, 10, 20, 32, 33] {
                                let mut r =
                                    Request::new(vec![0xa5; dlen]).with_iv(&vec![1; ivlen]).with_tag(&vec![2; tlen]);
                                match run(alg, op, &key, &mut r) {
                                    Ok(()) => oks += 1,
                                    Err(
                                        Error::InvalidArgument(_)
                                        | Error::InvalidKey(_)
                                        | Error::InvalidLength(_)
                                        | Error::VerifyFailed,
                                    ) => {}
                                    // GCM with a nonce of another length than 12 bytes.
                                    Err(Error::Unsupported(_)) if matches!(alg, Algorithm::AesGcm { .. }) => {}
                                    Err(e) => panic!("{alg} {op:?}: unexpected {e:?}"),
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(oks > 1000, "only {oks} shapes were accepted");
    }
}
