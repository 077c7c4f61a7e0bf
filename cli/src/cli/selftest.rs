//! `acrypto selftest`: known answers for every algorithm on every device,
//! as the kernel's testmgr runs them when a driver registers.
//!
//! The answers are embedded (the binary does not read `tests/vectors`):
//! - AES-CBC, AES-ECB: NIST CAVP AESAVS multi-block message tests,
//!   `CBCMMT{128,192,256}.rsp` / `ECBMMT{128,192,256}.rsp`, COUNT = 0 and 1.
//! - AES-CTR: NIST SP 800-38A, Appendix F.5.1, F.5.3, F.5.5.
//! - AES-XTS: IEEE Std 1619-2007 Annex B vectors 2 and 3 (XTS-AES-128);
//!   NIST CAVP `XTSGenAES256.rsp` (tweak as hex string) COUNT = 1 and 2.
//! - HMAC-SHA1: RFC 2202 section 3, test cases 1 and 2.
//! - HMAC-SHA256: RFC 4231 section 4, test cases 1 and 2.
//! - SHA-1, SHA-256: FIPS 180-2 Appendices A and B ("abc" and the 448-bit message).
//! - AES-GCM: NIST CAVP `gcmEncryptExtIV{128,192,256}.rsp`, the first case
//!   with a 96-bit IV, 128-bit PT, AAD and tag.
//! - ChaCha20-Poly1305: RFC 8439 section 2.8.2.
//! - RSA (PKCS#1 v1.5, PSS, OAEP; 2048, 3072, 4096), ECDSA P-256 and
//!   P-384, ECDH P-256: answers of OpenSSL on keys made for the table
//!   (`asym_kats.rs`); X25519: RFC 7748 section 5.2.
//! - rng: no known answer; two 64-byte draws must differ and not be all zero.
//!
//! Each cipher case runs encrypt and decrypt, each MAC case digest and
//! verify, each AEAD case seal, open and an open with a flipped tag bit, each through both the blocking inline path (`Engine::run`) and the
//! queued asynchronous path (`submit_pending`), on a session bound to the
//! device under test.

use super::asym_kats::{AsymKat, ASYM_KATS};
use super::{fail, lower, print_json, CliResult};
use acrypto::{Algorithm, Engine, Op, OpKind, Request, Session, SessionBuilder};
use clap::Args;
use serde_json::json;

/// Arguments of `selftest`.
#[derive(Args, Debug)]
pub struct SelftestArgs {
    /// Test only this device.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One known answer: algorithm, key, iv, input, output (data for ciphers,
/// tag for digests and MACs).
struct Kat {
    alg: &'static str,
    key: &'static str,
    iv: &'static str,
    input: &'static str,
    output: &'static str,
    source: &'static str,
}

const ABC: &str = "616263";
const MSG448: &str =
    "6162636462636465636465666465666765666768666768696768696a68696a6b696a6b6c6a6b6c6d6b6c6d6e6c6d6e6f6d6e6f706e6f7071";
const F5_PT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const F5_CTR: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

#[rustfmt::skip]
const KATS: &[Kat] = &[
    Kat { alg: "aes-128-cbc", key: "1f8e4973953f3fb0bd6b16662e9a3c17", iv: "2fe2b333ceda8f98f4a99b40d2cd34a8",
          input: "45cf12964fc824ab76616ae2f4bf0822", output: "0f61c4d44c5147c03c195ad7e2cc12b2", source: "NIST CAVP CBCMMT128 COUNT=0" },
    Kat { alg: "aes-192-cbc", key: "ba75f4d1d9d7cf7f551445d56cc1a8ab2a078e15e049dc2c", iv: "531ce78176401666aa30db94ec4a30eb",
          input: "c51fc276774dad94bcdc1d2891ec8668", output: "70dd95a14ee975e239df36ff4aee1d5d", source: "NIST CAVP CBCMMT192 COUNT=0" },
    Kat { alg: "aes-256-cbc", key: "6ed76d2d97c69fd1339589523931f2a6cff554b15f738f21ec72dd97a7330907", iv: "851e8764776e6796aab722dbb644ace8",
          input: "6282b8c05c5c1530b97d4816ca434762", output: "6acc04142e100a65f51b97adf5172c41", source: "NIST CAVP CBCMMT256 COUNT=0" },
    Kat { alg: "aes-128-ecb", key: "edfdb257cb37cdf182c5455b0c0efebb", iv: "",
          input: "1695fe475421cace3557daca01f445ff", output: "7888beae6e7a426332a7eaa2f808e637", source: "NIST CAVP ECBMMT128 COUNT=0" },
    Kat { alg: "aes-192-ecb", key: "61396c530cc1749a5bab6fbcf906fe672d0c4ab201af4554", iv: "",
          input: "60bcdb9416bac08d7fd0d780353740a5", output: "24f40c4eecd9c49825000fcb4972647a", source: "NIST CAVP ECBMMT192 COUNT=0" },
    Kat { alg: "aes-256-ecb", key: "cc22da787f375711c76302bef0979d8eddf842829c2b99ef3dd04e23e54cc24b", iv: "",
          input: "ccc62c6b0a09a671d64456818db29a4d", output: "df8634ca02b13a125b786e1dce90658b", source: "NIST CAVP ECBMMT256 COUNT=0" },
    Kat { alg: "aes-128-ctr", key: "2b7e151628aed2a6abf7158809cf4f3c", iv: F5_CTR, input: F5_PT,
          output: "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
          source: "NIST SP 800-38A F.5.1" },
    Kat { alg: "aes-192-ctr", key: "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", iv: F5_CTR, input: F5_PT,
          output: "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e941e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
          source: "NIST SP 800-38A F.5.3" },
    Kat { alg: "aes-256-ctr", key: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", iv: F5_CTR, input: F5_PT,
          output: "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
          source: "NIST SP 800-38A F.5.5" },
    Kat { alg: "aes-128-xts", key: "1111111111111111111111111111111122222222222222222222222222222222", iv: "33333333330000000000000000000000",
          input: "4444444444444444444444444444444444444444444444444444444444444444",
          output: "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0", source: "IEEE 1619-2007 vector 2" },
    Kat { alg: "aes-128-xts", key: "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f022222222222222222222222222222222", iv: "33333333330000000000000000000000",
          input: "4444444444444444444444444444444444444444444444444444444444444444",
          output: "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89", source: "IEEE 1619-2007 vector 3" },
    Kat { alg: "aes-256-xts",
          key: "1ea661c58d943a0e4801e42f4b0947149e7f9f8e3e68d0c7505210bd311a0e7cd6e13ffdf2418d8d1911c004cda58da3d619b7e2b9141e58318eea392cf41b08",
          iv: "adf8d92627464ad2f0428e84a9f87564", input: "2eedea52cd8215e1acc647e810bbc3642e87287f8d2e57e36c0a24fbc12a202e",
          output: "cbaad0e2f6cea3f50b37f934d46a9b130b9d54f07e34f36af793e86f73c6d7db", source: "NIST CAVP XTSGenAES256 COUNT=1" },
    Kat { alg: "aes-256-xts",
          key: "e149be00177d76b7c1d85bcbb6b5054ee10b9f51cd73f59e0840628b9e7d854e2e1c0ab0537186a2a7c314bbc5eb23b6876a26bcdbf9e6b758d1cae053c2f278",
          iv: "0ea18818fab95289b1caab4e61349501", input: "f5f101d8e3a7681b1ddb21bd2826b24e32990bca49b39291b5369a9bca277d75",
          output: "5bf2479393cc673306fbb15e72600598e33d4d8a470727ce098730fd80afa959", source: "NIST CAVP XTSGenAES256 COUNT=2" },
    Kat { alg: "hmac-sha1", key: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", iv: "", input: "4869205468657265",
          output: "b617318655057264e28bc0b6fb378c8ef146be00", source: "RFC 2202 test case 1" },
    Kat { alg: "hmac-sha1", key: "4a656665", iv: "", input: "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
          output: "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", source: "RFC 2202 test case 2" },
    Kat { alg: "hmac-sha256", key: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", iv: "", input: "4869205468657265",
          output: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", source: "RFC 4231 test case 1" },
    Kat { alg: "hmac-sha256", key: "4a656665", iv: "", input: "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
          output: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", source: "RFC 4231 test case 2" },
    Kat { alg: "sha1", key: "", iv: "", input: ABC, output: "a9993e364706816aba3e25717850c26c9cd0d89d", source: "FIPS 180-2 A.1" },
    Kat { alg: "sha1", key: "", iv: "", input: MSG448, output: "84983e441c3bd26ebaae4aa1f95129e5e54670f1", source: "FIPS 180-2 A.2" },
    Kat { alg: "sha256", key: "", iv: "", input: ABC,
          output: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", source: "FIPS 180-2 B.1" },
    Kat { alg: "sha256", key: "", iv: "", input: MSG448,
          output: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", source: "FIPS 180-2 B.2" },
];

/// One AEAD known answer.
struct AeadKat {
    alg: &'static str,
    key: &'static str,
    nonce: &'static str,
    aad: &'static str,
    pt: &'static str,
    ct: &'static str,
    tag: &'static str,
    source: &'static str,
}

#[rustfmt::skip]
const AEAD_KATS: &[AeadKat] = &[
    AeadKat { alg: "aes-128-gcm", key: "c939cc13397c1d37de6ae0e1cb7c423c", nonce: "b3d8cc017cbb89b39e0f67e2",
              aad: "24825602bd12a984e0092d3e448eda5f", pt: "c3b3c41f113a31b73d9a5cd432103069",
              ct: "93fe7d9e9bfd10348a5606e5cafa7354", tag: "0032a1dc85f1c9786925a2e71d8272dd",
              source: "NIST CAVP gcmEncryptExtIV128 PTlen=128 AADlen=128 Count=0" },
    AeadKat { alg: "aes-192-gcm", key: "6f44f52c2f62dae4e8684bd2bc7d16ee7c557330305a790d", nonce: "9ae35825d7c7edc9a39a0732",
              aad: "1b4236b846fc2a0f782881ba48a067e9", pt: "37222d30895eb95884bbbbaee4d9cae1",
              ct: "a54b5da33fc1196a8ef31a5321bfcaeb", tag: "1c198086450ae1834dd6c2636796bce2",
              source: "NIST CAVP gcmEncryptExtIV192 PTlen=128 AADlen=128 Count=0" },
    AeadKat { alg: "aes-256-gcm", key: "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
              nonce: "ac93a1a6145299bde902f21a", aad: "1e0889016f67601c8ebea4943bc23ad6", pt: "2d71bcfa914e4ac045b2aa60955fad24",
              ct: "8995ae2e6df3dbf96fac7b7137bae67f", tag: "eca5aa77d51d4a0a14d9c51e1da474ab",
              source: "NIST CAVP gcmEncryptExtIV256 PTlen=128 AADlen=128 Count=0" },
    AeadKat { alg: "chacha20-poly1305", key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
              nonce: "070000004041424344454647", aad: "50515253c0c1c2c3c4c5c6c7",
              pt: "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f756c642062652069742e",
              ct: "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
              tag: "1ae10b594f09e26a7e902ecbd0600691", source: "RFC 8439 section 2.8.2" },
];

/// Runs one AEAD case on one device: seal, open, and an open with a
/// flipped tag bit that must fail and leave the ciphertext.
fn check_aead(engine: &Engine, dev: &str, alg: Algorithm, k: &AeadKat) -> Result<(), String> {
    let (key, nonce, aad, pt, ct, tag) = (h(k.key), h(k.nonce), h(k.aad), h(k.pt), h(k.ct), h(k.tag));
    let session =
        |op| engine.session(SessionBuilder::new().step(alg, op, &key).bind(dev)).map_err(|e| format!("session: {e}"));
    let got = both_paths(engine, &session(Op::Encrypt)?, Request::new(pt.clone()).with_iv(&nonce).with_aad(&aad))?;
    if got.data != ct || got.tag != tag {
        return Err("seal: wrong ciphertext or tag".into());
    }
    let open = || Request::new(ct.clone()).with_iv(&nonce).with_aad(&aad);
    let got = both_paths(engine, &session(Op::Decrypt)?, open().with_tag(&tag))?;
    if got.data != pt {
        return Err("open: wrong plaintext".into());
    }
    let mut bad = tag.clone();
    bad[0] ^= 1;
    match engine.run(&session(Op::Decrypt)?, open().with_tag(&bad)) {
        Err(acrypto::Error::VerifyFailed) => Ok(()),
        Ok(_) => Err("open accepted a wrong tag".into()),
        Err(e) => Err(format!("open with a wrong tag: {e} (want a verify failure)")),
    }
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("embedded vectors are hex")
}

/// Runs one request both ways: blocking (inline on an idle device) and
/// queued; both must give the same result.
fn both_paths(engine: &Engine, s: &Session, r: Request) -> Result<Request, String> {
    let inline = engine.run(s, r.clone()).map_err(|e| format!("run: {e}"))?;
    let queued = engine
        .submit_pending(s, r)
        .map_err(|e| format!("submit: {}", e.error))?
        .wait()
        .into_result()
        .map_err(|e| format!("queued: {e}"))?;
    if inline.data != queued.data || inline.tag != queued.tag {
        return Err("inline and queued results differ".into());
    }
    Ok(queued)
}

/// Runs one case on one device; `Err` says what went wrong.
fn check(engine: &Engine, dev: &str, alg: Algorithm, k: &Kat) -> Result<(), String> {
    let (key, iv, input, output) = (h(k.key), h(k.iv), h(k.input), h(k.output));
    let session =
        |op| engine.session(SessionBuilder::new().step(alg, op, &key).bind(dev)).map_err(|e| format!("session: {e}"));
    match alg.kind() {
        OpKind::Cipher => {
            let got = both_paths(engine, &session(Op::Encrypt)?, Request::new(input.clone()).with_iv(&iv))?;
            if got.data != output {
                return Err("encrypt: wrong ciphertext".into());
            }
            let got = both_paths(engine, &session(Op::Decrypt)?, Request::new(output).with_iv(&iv))?;
            if got.data != input {
                return Err("decrypt: wrong plaintext".into());
            }
        }
        OpKind::Hash | OpKind::Mac => {
            let got = both_paths(engine, &session(Op::Digest)?, Request::new(input.clone()))?;
            if got.tag != output {
                return Err("wrong digest".into());
            }
            if alg.kind() == OpKind::Mac {
                both_paths(engine, &session(Op::Verify)?, Request::new(input.clone()).with_tag(&output))?;
                let mut bad = output.clone();
                bad[0] ^= 1;
                if both_paths(engine, &session(Op::Verify)?, Request::new(input).with_tag(&bad)).is_ok() {
                    return Err("verify accepted a wrong tag".into());
                }
            }
        }
        OpKind::Rng => unreachable!("rng has no known answer"),
        OpKind::Aead => unreachable!("AEAD cases are AeadKat"),
        OpKind::Asym => unreachable!("asymmetric cases are AsymKat"),
    }
    Ok(())
}

/// Runs one asymmetric case on one device: the known answer, and the
/// check that a damaged input is refused.
fn check_asym(engine: &Engine, dev: &str, alg: Algorithm, k: &AsymKat) -> Result<(), String> {
    let (key, input, output) = (h(k.key), h(k.input), h(k.output));
    let session =
        |op| engine.session(SessionBuilder::new().step(alg, op, &key).bind(dev)).map_err(|e| format!("session: {e}"));
    let flipped = |v: &[u8]| {
        let mut v = v.to_vec();
        let at = v.len() / 2;
        v[at] ^= 1;
        v
    };
    match k.op {
        Op::Sign => {
            let got = both_paths(engine, &session(Op::Sign)?, Request::new(input.clone()).with_prehashed(true))?;
            if got.tag != output {
                return Err("sign: wrong signature".into());
            }
            let v = session(Op::Verify)?;
            both_paths(engine, &v, Request::new(input.clone()).with_prehashed(true).with_tag(&output))?;
            if both_paths(engine, &v, Request::new(input).with_prehashed(true).with_tag(&flipped(&output))).is_ok() {
                return Err("verify accepted a damaged signature".into());
            }
        }
        Op::Verify => {
            let v = session(Op::Verify)?;
            both_paths(engine, &v, Request::new(input.clone()).with_prehashed(true).with_tag(&output))?;
            if both_paths(engine, &v, Request::new(input).with_prehashed(true).with_tag(&flipped(&output))).is_ok() {
                return Err("verify accepted a damaged signature".into());
            }
        }
        Op::Decrypt => {
            let d = session(Op::Decrypt)?;
            if both_paths(engine, &d, Request::new(input.clone()))?.data != output {
                return Err("decrypt: wrong plaintext".into());
            }
            // Our own ciphertext (randomized) decrypts too.
            // (Randomized: one path only, the two would differ.)
            let ct = engine
                .run(&session(Op::Encrypt)?, Request::new(output.clone()))
                .map_err(|e| format!("encrypt: {e}"))?
                .data;
            if both_paths(engine, &d, Request::new(ct))?.data != output {
                return Err("encrypt then decrypt: wrong plaintext".into());
            }
        }
        Op::Derive => {
            if both_paths(engine, &session(Op::Derive)?, Request::new(input))?.data != output {
                return Err("derive: wrong secret".into());
            }
        }
        op => return Err(format!("no check for {op:?}")),
    }
    Ok(())
}

/// The rng health check.
fn check_rng(engine: &Engine, dev: &str) -> Result<(), String> {
    let s = engine
        .session(SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[]).bind(dev))
        .map_err(|e| format!("session: {e}"))?;
    let a = engine.run(&s, Request::new(vec![0; 64])).map_err(|e| format!("run: {e}"))?.data;
    let b = engine
        .submit_pending(&s, Request::new(vec![0; 64]))
        .map_err(|e| format!("submit: {}", e.error))?
        .wait()
        .into_result()
        .map_err(|e| format!("queued: {e}"))?
        .data;
    if a == b || a.iter().all(|&x| x == 0) || b.iter().all(|&x| x == 0) {
        return Err("two draws are equal or all zero".into());
    }
    Ok(())
}

/// Runs `selftest`.
pub fn run(engine: &Engine, a: &SelftestArgs) -> CliResult<()> {
    let mut devs = engine.devices();
    if let Some(d) = &a.device {
        let names: Vec<String> = devs.iter().map(|x| x.name.clone()).collect();
        devs.retain(|x| &x.name == d);
        if devs.is_empty() {
            return Err(super::usage!("no such device: '{d}' (devices: {})", names.join(", ")));
        }
    }
    let mut rows = Vec::new();
    let mut failed = 0usize;
    let mut passed = 0usize;
    for alg in Algorithm::all() {
        let name = alg.to_string();
        let kats: Vec<&Kat> = KATS.iter().filter(|k| k.alg == name).collect();
        for d in &devs {
            if !d.capabilities.iter().any(|c| c.alg == alg) {
                rows.push(json!({"algorithm": name, "device": d.name, "status": "n/a", "cases": 0, "failures": []}));
                continue;
            }
            let mut failures = Vec::new();
            let cases = if alg == Algorithm::Rng {
                if let Err(e) = check_rng(engine, &d.name) {
                    failures.push(format!("health check: {e}"));
                }
                1
            } else if alg.kind() == OpKind::Asym {
                let kats: Vec<&AsymKat> = ASYM_KATS.iter().filter(|k| k.alg == name).collect();
                for k in &kats {
                    if let Err(e) = check_asym(engine, &d.name, alg, k) {
                        failures.push(format!("{}: {e}", k.source));
                    }
                }
                kats.len()
            } else if alg.kind() == OpKind::Aead {
                let kats: Vec<&AeadKat> = AEAD_KATS.iter().filter(|k| k.alg == name).collect();
                for k in &kats {
                    if let Err(e) = check_aead(engine, &d.name, alg, k) {
                        failures.push(format!("{}: {e}", k.source));
                    }
                }
                kats.len()
            } else {
                for k in &kats {
                    if let Err(e) = check(engine, &d.name, alg, k) {
                        failures.push(format!("{}: {e}", k.source));
                    }
                }
                kats.len()
            };
            let ok = failures.is_empty() && cases > 0;
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
            rows.push(json!({
                "algorithm": name, "device": d.name, "status": if ok { "pass" } else { "FAIL" },
                "cases": cases, "failures": failures,
            }));
        }
    }
    if a.json {
        print_json(&json!({
            "devices": devs.iter().map(|d| json!({"name": d.name, "driver": d.driver, "state": lower(d.state)})).collect::<Vec<_>>(),
            "results": rows,
            "passed": passed,
            "failed": failed,
            "ok": failed == 0,
        }))?;
    } else {
        let mut s = format!("{:<13}", "algorithm");
        for d in &devs {
            s += &format!(" {:>7}", d.name);
        }
        s.push('\n');
        for chunk in rows.chunks(devs.len()) {
            s += &format!("{:<13}", chunk[0]["algorithm"].as_str().unwrap_or("?"));
            for r in chunk {
                s += &format!(" {:>7}", r["status"].as_str().unwrap_or("?"));
            }
            s.push('\n');
        }
        for r in &rows {
            for f in r["failures"].as_array().into_iter().flatten() {
                s += &format!("{} on {}: {}\n", r["algorithm"], r["device"], f.as_str().unwrap_or("?"));
            }
        }
        s += &format!("selftest: {passed} algorithm/device pairs pass, {failed} fail");
        super::print_line(&s)?;
    }
    if failed > 0 {
        return Err(fail!("selftest: {failed} algorithm/device pairs failed"));
    }
    Ok(())
}
