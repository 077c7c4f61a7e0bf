//! The `acrypto` binary, run as a user runs it, against the `openssl`
//! command (and libcrypto through `xts_ref` for XTS, which `openssl enc`
//! refuses). Seeded: `ACRYPTO_TEST_SEED` replays a failing run.

#[path = "../../tests/common/mod.rs"]
mod common;

use acrypto::{Algorithm, CipherMode, DigestKind, Op};
use common::{openssl, rng};
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::process::{Command, Stdio};

const SIZES: [usize; 7] = [0, 1, 15, 16, 17, 4095, (1 << 20) + 3];
const BIG: usize = 64 << 20;
/// Most memory a command may hold while streaming [`BIG`] bytes (it holds
/// about 5 MiB of buffers for enc, 1 MiB for mac and digest).
const MEM_BOUND: u64 = 40 << 20;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acrypto"));
    c.env("ACRYPTO_DEVICES", "soft:2");
    c
}

struct Out {
    ok: bool,
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `cmd` with `input` on stdin.
fn pipe(cmd: Command, input: &[u8]) -> Out {
    let out = common::run_with_input(cmd, input).expect("spawn");
    Out {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn acrypto(args: &[&str], input: &[u8]) -> Out {
    let mut c = bin();
    c.args(args);
    pipe(c, input)
}

/// Runs the binary and insists on success with nothing on stderr.
fn ok(args: &[&str], input: &[u8]) -> Vec<u8> {
    let o = acrypto(args, input);
    assert!(o.ok && o.stderr.is_empty(), "acrypto {} failed: {}", redact(args), o.stderr);
    o.stdout
}

fn redact(args: &[&str]) -> String {
    args.iter()
        .map(|a| if a.len() > 24 { format!("{}…", &a[..24]) } else { a.to_string() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `openssl enc` with padding unless `nopad`.
fn openssl_enc(alg: Algorithm, key: &[u8], iv: &[u8], decrypt: bool, nopad: bool, data: &[u8]) -> Vec<u8> {
    let mut c = Command::new("openssl");
    c.args(["enc", &format!("-{alg}"), "-K", &hex::encode(key)]);
    if alg.iv_len() > 0 {
        c.args(["-iv", &hex::encode(iv)]);
    }
    if decrypt {
        c.arg("-d");
    }
    if nopad {
        c.arg("-nopad");
    }
    let o = pipe(c, data);
    assert!(o.ok, "openssl enc -{alg} failed: {}", o.stderr);
    o.stdout
}

fn ciphers(mode: CipherMode) -> Vec<Algorithm> {
    Algorithm::all().filter(|a| matches!(a, Algorithm::Aes { mode: m, .. } if *m == mode)).collect()
}

fn key_for(r: &mut rand::rngs::StdRng, alg: Algorithm) -> Vec<u8> {
    let n = alg.key_len().unwrap();
    if matches!(alg, Algorithm::Aes { mode: CipherMode::Xts, .. }) {
        rng::xts_key(r, n)
    } else {
        rng::bytes(r, n)
    }
}

#[test]
fn cbc_ecb_ctr_match_openssl_enc_with_and_without_padding() {
    let mut r = rng::seeded("cli ciphers");
    for mode in [CipherMode::Cbc, CipherMode::Ecb, CipherMode::Ctr] {
        for alg in ciphers(mode) {
            for (i, &n) in SIZES.iter().enumerate() {
                let (key, iv, data) = (key_for(&mut r, alg), rng::bytes(&mut r, 16), rng::bytes(&mut r, n));
                let (k, v, a) = (hex::encode(&key), hex::encode(&iv), alg.to_string());
                let mine = ok(&["enc", "-a", &a, "-K", &k, "--iv", &v], &data);
                let theirs = openssl_enc(alg, &key, &iv, false, false, &data);
                assert!(mine == theirs, "{alg} {n} bytes: enc differs from openssl");
                // `dec` and `enc -d` are the same command.
                let back = if i % 2 == 0 {
                    ok(&["dec", "-a", &a, "-K", &k, "--iv", &v], &theirs)
                } else {
                    ok(&["enc", "-d", "-a", &a, "-K", &k, "--iv", &v], &theirs)
                };
                assert!(back == data, "{alg} {n} bytes: dec of openssl's ciphertext is not the plaintext");
                if mode == CipherMode::Ctr || n % 16 == 0 {
                    let mine = ok(&["enc", "-a", &a, "-K", &k, "--iv", &v, "--nopad"], &data);
                    let theirs = openssl_enc(alg, &key, &iv, false, true, &data);
                    assert!(mine == theirs, "{alg} {n} bytes --nopad: enc differs from openssl");
                    let back = ok(&["dec", "-a", &a, "-K", &k, "--iv", &v, "--nopad"], &theirs);
                    assert!(back == data, "{alg} {n} bytes --nopad: dec differs");
                }
            }
        }
    }
}

/// What `acrypto enc` computes for xts, from libcrypto one data unit at a
/// time: units of `sector` bytes, a tail under 16 bytes joined to the unit
/// before it, unit k with the tweak iv + k (128-bit little endian).
fn xts_reference(op: Op, key: &[u8], iv: &[u8], data: &[u8], sector: usize) -> Vec<u8> {
    let mut units: Vec<&[u8]> = data.chunks(sector).collect();
    if units.len() > 1 && units.last().unwrap().len() < 16 {
        let tail = units.pop().unwrap().len();
        let start = (units.len() - 1) * sector;
        *units.last_mut().unwrap() = &data[start..start + sector + tail];
    }
    let base = u128::from_le_bytes(iv.try_into().unwrap());
    let tweaks: Vec<[u8; 16]> = (0..units.len()).map(|k| base.wrapping_add(k as u128).to_le_bytes()).collect();
    let jobs: Vec<openssl::XtsJob> =
        units.iter().zip(&tweaks).map(|(u, t)| openssl::XtsJob { op, key, tweak: t, data: u }).collect();
    if jobs.is_empty() {
        return Vec::new();
    }
    openssl::xts_batch(&jobs).into_iter().flat_map(|o| o.expect("libcrypto refused an xts unit")).collect()
}

#[test]
fn xts_matches_libcrypto_unit_by_unit() {
    let mut r = rng::seeded("cli xts");
    let sizes = [0, 16, 17, 4095, 4096, 4096 + 15, 4096 + 16, 3 * 4096 + 1, (1 << 20) + 3];
    for alg in ciphers(CipherMode::Xts) {
        for &n in &sizes {
            for sector in [4096usize, 512] {
                let (key, iv, data) = (key_for(&mut r, alg), rng::bytes(&mut r, 16), rng::bytes(&mut r, n));
                let (k, v, a, s) = (hex::encode(&key), hex::encode(&iv), alg.to_string(), sector.to_string());
                let mine = ok(&["enc", "-a", &a, "-K", &k, "--iv", &v, "--sector-size", &s], &data);
                let theirs = xts_reference(Op::Encrypt, &key, &iv, &data, sector);
                assert!(mine == theirs, "{alg} {n} bytes, sector {sector}: differs from libcrypto");
                let back = ok(&["dec", "-a", &a, "-K", &k, "--iv", &v, "--sector-size", &s], &mine);
                assert!(back == data, "{alg} {n} bytes, sector {sector}: round trip");
            }
        }
        // Fewer than 16 bytes is not an xts input.
        for n in [1, 15] {
            let key = format!("{}{}", "00".repeat(alg.key_len().unwrap() / 2), "11".repeat(alg.key_len().unwrap() / 2));
            let o = acrypto(&["enc", "-a", &alg.to_string(), "-K", &key, "--iv", &"00".repeat(16)], &vec![0; n]);
            assert!(!o.ok, "{alg} accepted {n} bytes");
        }
    }
}

#[test]
fn mac_and_digest_match_openssl() {
    let mut r = rng::seeded("cli mac digest");
    for d in [DigestKind::Sha1, DigestKind::Sha256] {
        let (mac, dig) = (Algorithm::Hmac(d).to_string(), Algorithm::Digest(d).to_string());
        for &n in &SIZES {
            let data = rng::bytes(&mut r, n);
            let got = ok(&["digest", "-a", &dig, "-i", "-"], &data);
            assert_eq!(String::from_utf8(got).unwrap(), format!("{}\n", hex::encode(openssl::digest(d, &data))));
            for klen in [0, 1, 20, 64, 100] {
                let key = rng::bytes(&mut r, klen);
                let got = ok(&["mac", "-a", &mac, "-K", &hex::encode(&key)], &data);
                let want = hex::encode(openssl::hmac(d, &key, &data));
                assert_eq!(String::from_utf8(got).unwrap(), format!("{want}\n"), "{mac} key {klen} data {n}");
            }
        }
    }
    // Around a multiple of the 1 MiB update: every input streams through
    // the engine, one request per MiB and one to finish.
    let chunk = 1 << 20;
    for n in [16 * chunk, 16 * chunk + 1] {
        let data = rng::bytes(&mut r, n);
        let j: Value = serde_json::from_slice(&ok(&["digest", "-a", "sha256", "--json"], &data)).unwrap();
        assert_eq!(j["value"], hex::encode(Sha256::digest(&data)));
        assert_eq!(j["bytes"], n);
        assert_eq!(j["computed_by"], "engine");
        assert_eq!(j["requests"], n.div_ceil(chunk) + 1);
    }
}

/// Feeds `len` seeded random bytes to `cmd` while hashing its output;
/// returns (sha256 of input, sha256 of output, the first `keep` bytes of
/// output, its last `keep` bytes). Nothing holds the whole stream.
fn stream(cmd: Command, seed: &str, len: usize, keep: usize) -> ([u8; 32], [u8; 32], Vec<u8>, Vec<u8>) {
    let (i, o, head, tail, _) = stream_peak(cmd, seed, len, keep);
    (i, o, head, tail)
}

/// The peak resident set of a running process, in bytes (Linux `VmHWM`).
fn peak_rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// [`stream`], also returning the command's peak resident set as last seen
/// while it ran.
fn stream_peak(mut cmd: Command, seed: &str, len: usize, keep: usize) -> ([u8; 32], [u8; 32], Vec<u8>, Vec<u8>, u64) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let mut peak = 0;
    let mut stdin = child.stdin.take().unwrap();
    let mut r = rng::seeded(seed);
    let feeder = std::thread::spawn(move || {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len());
            r.fill_bytes(&mut buf[..n]);
            h.update(&buf[..n]);
            if stdin.write_all(&buf[..n]).is_err() {
                break;
            }
            left -= n;
        }
        <[u8; 32]>::from(h.finalize())
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (mut h, mut head, mut tail) = (Sha256::new(), Vec::new(), Vec::new());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        peak = peak_rss(pid).unwrap_or(peak).max(peak);
        h.update(&buf[..n]);
        if head.len() < keep {
            let k = (keep - head.len()).min(n);
            head.extend_from_slice(&buf[..k]);
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 2 * keep.max(1 << 16) {
            tail.drain(..tail.len() - keep);
        }
    }
    let status = child.wait().unwrap();
    let errs = errs.join().unwrap();
    assert!(status.success() && errs.is_empty(), "{cmd:?} failed: {errs}");
    let input = feeder.join().unwrap();
    let t = tail.len().saturating_sub(keep);
    (input, h.finalize().into(), head, tail[t..].to_vec(), peak)
}

/// `openssl enc` on the generated stream, piped into `acrypto dec`.
fn openssl_into_dec(alg: Algorithm, key: &str, iv: &str, seed: &str) -> ([u8; 32], [u8; 32]) {
    let mut sh = Command::new("bash");
    let acr = env!("CARGO_BIN_EXE_acrypto");
    let ossl_iv = if alg.iv_len() > 0 { format!("-iv {iv}") } else { String::new() };
    sh.arg("-c")
        .arg(format!("set -o pipefail; openssl enc -{alg} -K {key} {ossl_iv} | {acr} dec -a {alg} -K {key} --iv {iv}"));
    sh.env("ACRYPTO_DEVICES", "soft:2");
    let (i, o, _, _) = stream(sh, seed, BIG, 0);
    (i, o)
}

#[test]
fn streamed_64_mib_every_algorithm_and_key_size() {
    let mut r = rng::seeded("cli 64 MiB keys");
    // AEAD input is one request (it cannot be streamed): tested on its own.
    // Asymmetric input is one digest or value (cli/tests/pkeyutl.rs).
    for alg in Algorithm::all()
        .filter(|a| !matches!(a.kind(), acrypto::OpKind::Rng | acrypto::OpKind::Aead | acrypto::OpKind::Asym))
    {
        let seed = format!("cli 64 MiB {alg}");
        let a = alg.to_string();
        match alg {
            Algorithm::Aes { mode: CipherMode::Xts, .. } => {
                let (key, iv) = (hex::encode(key_for(&mut r, alg)), hex::encode(rng::bytes(&mut r, 16)));
                let mut c = bin();
                c.args(["enc", "-a", &a, "-K", &key, "--iv", &iv]);
                let (_, _, head, tail, peak) = stream_peak(c, &seed, BIG, 2 * 4096);
                assert!(peak < MEM_BOUND, "{alg}: peak RSS {peak} bytes for a 64 MiB stream");
                // The first two units and the last two, against libcrypto.
                let mut g = rng::seeded(&seed);
                let mut plain_head = vec![0u8; 2 * 4096];
                g.fill_bytes(&mut plain_head);
                let (k, v) = (hex::decode(&key).unwrap(), hex::decode(&iv).unwrap());
                assert!(head == xts_reference(Op::Encrypt, &k, &v, &plain_head, 4096), "{alg}: first units");
                let mut g = rng::seeded(&seed);
                let mut all_but_tail = vec![0u8; 1 << 20];
                let mut plain_tail = Vec::new();
                for i in 0..64 {
                    g.fill_bytes(&mut all_but_tail);
                    if i == 63 {
                        plain_tail = all_but_tail[(1 << 20) - 2 * 4096..].to_vec();
                    }
                }
                // Unit numbers continue from the stream's start: tweak iv + (BIG/4096 - 2).
                let base = u128::from_le_bytes(v.as_slice().try_into().unwrap()) + (BIG / 4096 - 2) as u128;
                let want = xts_reference(Op::Encrypt, &k, &base.to_le_bytes(), &plain_tail, 4096);
                assert!(tail == want, "{alg}: last units");
                // And the whole stream round-trips.
                let mut sh = Command::new("bash");
                let acr = env!("CARGO_BIN_EXE_acrypto");
                sh.arg("-c").arg(format!(
                    "set -o pipefail; {acr} enc -a {a} -K {key} --iv {iv} | {acr} dec -a {a} -K {key} --iv {iv}"
                ));
                sh.env("ACRYPTO_DEVICES", "soft:2");
                let (i, o, _, _) = stream(sh, &seed, BIG, 0);
                assert_eq!(i, o, "{alg}: 64 MiB round trip");
            }
            Algorithm::Aes { .. } => {
                let (key, iv) = (hex::encode(key_for(&mut r, alg)), hex::encode(rng::bytes(&mut r, 16)));
                let mut c = bin();
                c.args(["enc", "-a", &a, "-K", &key, "--iv", &iv]);
                let (_, mine, _, _, peak) = stream_peak(c, &seed, BIG, 0);
                assert!(peak < MEM_BOUND, "{alg}: peak RSS {peak} bytes for a 64 MiB stream");
                let mut c = Command::new("openssl");
                c.args(["enc", &format!("-{a}"), "-K", &key]);
                if alg.iv_len() > 0 {
                    c.args(["-iv", &iv]);
                }
                let (_, theirs, _, _) = stream(c, &seed, BIG, 0);
                assert_eq!(mine, theirs, "{alg}: 64 MiB enc differs from openssl");
                let (i, o) = openssl_into_dec(alg, &key, &iv, &seed);
                assert_eq!(i, o, "{alg}: 64 MiB dec of openssl's ciphertext");
            }
            Algorithm::Hmac(d) | Algorithm::Digest(d) => {
                let key = hex::encode(rng::bytes(&mut r, 32));
                let mut mine = bin();
                let mut theirs = Command::new("openssl");
                let name = format!("{d:?}").to_ascii_uppercase();
                if matches!(alg, Algorithm::Hmac(_)) {
                    mine.args(["mac", "-a", &a, "-K", &key]);
                    theirs.args(["mac", "-digest", &name, "-macopt", &format!("hexkey:{key}"), "-binary", "HMAC"]);
                } else {
                    mine.args(["digest", "-a", &a]);
                    theirs.args(["dgst", &format!("-{a}"), "-binary"]);
                }
                let (m, peak) = stream_small(mine, &seed);
                assert!(peak < MEM_BOUND, "{alg}: peak RSS {peak} bytes for a 64 MiB stream");
                let (t, _) = stream_small(theirs, &seed);
                assert_eq!(String::from_utf8(m).unwrap().trim(), hex::encode(t), "{alg}: 64 MiB");
            }
            Algorithm::Rng
            | Algorithm::AesGcm { .. }
            | Algorithm::ChaCha20Poly1305
            | Algorithm::Rsa { .. }
            | Algorithm::Ecdsa(_)
            | Algorithm::X25519
            | Algorithm::EcdhP256 => unreachable!(),
        }
    }
}

/// Streams 64 MiB through `cmd` and returns its (small) output and its
/// peak resident set as last seen while it ran.
fn stream_small(mut cmd: Command, seed: &str) -> (Vec<u8>, u64) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut r = rng::seeded(seed);
    let pid = child.id();
    let feeder = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let mut peak = 0;
        for _ in 0..BIG >> 20 {
            r.fill_bytes(&mut buf);
            stdin.write_all(&buf).unwrap();
            peak = peak_rss(pid).unwrap_or(peak).max(peak);
        }
        peak
    });
    let out = child.wait_with_output().unwrap();
    let peak = feeder.join().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    (out.stdout, peak)
}

/// Exactly one line on stderr, starting `acrypto: `, and exit status `code`.
fn assert_one_line_error_code(args: &[&str], input: &[u8], what: &str, code: i32) -> String {
    let o = acrypto(args, input);
    assert!(!o.ok, "{what}: acrypto {} succeeded", redact(args));
    assert_eq!(o.code, Some(code), "{what}: acrypto {}: {}", redact(args), o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: stderr is not one line: {:?}", o.stderr);
    assert!(lines[0].starts_with("acrypto: "), "{what}: {:?}", lines[0]);
    assert!(!o.stderr.contains("panicked") && !o.stderr.contains("internal error"), "{what}: {}", o.stderr);
    lines[0].to_string()
}

const K16: &str = "00112233445566778899aabbccddeeff";
const IV16: &str = "000102030405060708090a0b0c0d0e0f";

/// Splits a command line at spaces; `$K` is [`K16`], `$IV` is [`IV16`],
/// `$E` an empty argument.
fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(|w| w.replace("$K", K16).replace("$IV", IV16).replace("$E", "")).collect()
}

#[test]
fn bad_input_gives_one_line_and_the_documented_status() {
    // A ciphertext whose last plaintext byte is 0: never valid PKCS#7.
    let bad_pad = openssl_enc(
        "aes-128-cbc".parse().unwrap(),
        &hex::decode(K16).unwrap(),
        &hex::decode(IV16).unwrap(),
        false,
        true,
        &[0u8; 32],
    );
    let cbc = "-a aes-128-cbc -K $K --iv $IV";
    let ctr = "-a aes-128-ctr -K $K --iv $IV";
    let xts_key = format!("{K16}{}", "ff".repeat(16));
    // Exit 2: an error in what the user typed.
    let usage: Vec<(String, Vec<u8>, &str)> = vec![
        ("enc -a aes-999-cbc -K $K --iv $IV".into(), vec![], "unknown algorithm"),
        ("enc -a sha1 -K $K".into(), vec![], "not a cipher"),
        ("enc -a aes-128-cbc -K zz112233445566778899aabbccddeeff --iv $IV".into(), vec![], "bad hex key"),
        ("enc -a aes-128-cbc -K 0011223 --iv $IV".into(), vec![], "odd hex key"),
        ("enc -a aes-128-cbc -K 00112233445566778899aabbccddee --iv $IV".into(), vec![], "short key"),
        ("enc -a aes-256-cbc -K $K --iv $IV".into(), vec![], "key of the wrong size"),
        ("enc -a aes-128-xts -K $K$K --iv $IV".into(), vec![0; 32], "xts key halves equal"),
        ("enc -a aes-128-cbc -K $K --iv 0001".into(), vec![], "short iv"),
        ("enc -a aes-128-cbc -K $K --iv xyz".into(), vec![], "bad hex iv"),
        ("enc -a aes-128-ctr -K $K".into(), vec![], "missing iv"),
        (format!("enc -a aes-128-xts -K {xts_key} --iv $IV --sector-size 24"), vec![0; 32], "sector size not x16"),
        (format!("enc -a aes-128-xts -K {xts_key} --iv $IV --sector-size 0"), vec![0; 32], "sector size 0"),
        (format!("enc {ctr} --device nosuch9"), vec![1], "unknown device"),
        (format!("enc {ctr} --device $E"), vec![1], "empty device name"),
        ("mac -a sha1 -K 00".into(), vec![], "mac of a digest"),
        ("mac -a hmac-md5 -K 00".into(), vec![], "unknown mac"),
        ("mac -a hmac-sha1 -K 0g".into(), vec![], "mac bad hex key"),
        ("mac -a hmac-sha1 -K 0".into(), vec![], "mac odd hex key"),
        ("digest -a hmac-sha1".into(), vec![], "digest of a mac"),
        ("digest -a md5".into(), vec![], "unknown digest"),
        ("digest -a sha1 --device nosuch".into(), vec![], "digest unknown device"),
        ("devices --devices hifn:1".into(), vec![], "unknown device kind"),
        ("devices --devices foo".into(), vec![], "--devices foo"),
        ("devices --devices soft:0".into(), vec![], "zero devices"),
        ("bench -a nope --seconds 0.01".into(), vec![], "bench unknown algorithm"),
        ("bench --sizes 0 --seconds 0.01".into(), vec![], "bench size 0"),
        ("bench --seconds 0".into(), vec![], "bench 0 seconds"),
        ("bench --batch 0 --seconds 0.01".into(), vec![], "bench batch 0"),
        ("selftest --device nosuch".into(), vec![], "selftest unknown device"),
        ("rand many".into(), vec![], "rand count not a number"),
        ("rand 2000000 --json".into(), vec![], "rand --json too large"),
        ("rand 16 --device nosuch".into(), vec![], "rand unknown device"),
        ("enc -K $K".into(), vec![], "usage: missing -a"),
        ("frobnicate".into(), vec![], "usage: unknown command"),
        ("dec -d -a aes-128-cbc -K $K --iv $IV".into(), vec![], "dec takes no -d"),
    ];
    // Exit 1: the work failed.
    let failure: Vec<(String, Vec<u8>, &str)> = vec![
        (format!("dec {cbc}"), vec![0; 17], "truncated ciphertext"),
        (format!("dec {cbc}"), bad_pad, "bad padding"),
        (format!("dec {cbc}"), vec![], "empty ciphertext"),
        (format!("enc {cbc} --nopad"), vec![0; 17], "nopad needs whole blocks"),
        (format!("enc -a aes-128-xts -K {xts_key} --iv $IV"), vec![0; 15], "xts under 16 bytes"),
        (format!("enc {cbc} -i /nonexistent/acrypto-input"), vec![], "unreadable file"),
        (format!("enc {cbc} -i /"), vec![], "a directory as input"),
        (format!("enc {cbc} -o /nonexistent/dir/out"), vec![1], "unwritable output"),
        (format!("enc {cbc} -o /"), vec![1], "a directory as output"),
        (format!("enc {cbc} -o /dev/full"), vec![1], "output device full"),
        ("mac -a hmac-sha1 -K 00 -i /nonexistent/x".into(), vec![], "mac unreadable file"),
        ("digest -a sha1 -i /".into(), vec![], "digest of a directory"),
    ];
    for (cases, code) in [(usage, 2), (failure, 1)] {
        for (line, input, what) in &cases {
            let args = words(line);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let msg = assert_one_line_error_code(&args, input, what, code);
            assert!(!msg.contains(K16), "{what}: the key appears in the error: {msg}");
        }
    }
}

#[test]
fn numbers_out_of_range_are_refused_with_the_range() {
    let ctr = "enc -a aes-128-ctr -K $K --iv $IV";
    for (extra, range) in [
        ("--chunk 0", "16..=16777216"),
        ("--chunk 15", "16..=16777216"),
        ("--chunk 16777217", "16..=16777216"),
        ("--chunk=-1", "16..=16777216"),
        ("--in-flight 0", "1..=1024"),
        ("--in-flight 1025", "1..=1024"),
        ("--in-flight 1000000000", "1..=1024"),
        ("--sector-size 0", "16..=16777216"),
        ("--sector-size 33554432", "16..=16777216"),
    ] {
        let args = words(&format!("{ctr} {extra}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let msg = assert_one_line_error_code(&args, b"x", extra, 2);
        assert!(msg.contains(range), "{extra}: the message does not give the range {range}: {msg}");
    }
    let xts = format!("enc -a aes-128-xts -K {K16}{} --iv $IV --sector-size 100", "ff".repeat(16));
    let args = words(&xts);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let msg = assert_one_line_error_code(&args, &[0; 32], "sector size 100", 2);
    assert!(msg.contains("multiple of 16 from 16 to 16777216"), "{msg}");
    // The limits themselves are accepted and give openssl's answer.
    let mut r = rng::seeded("cli limits");
    let (key, iv, data) = (rng::bytes(&mut r, 16), rng::bytes(&mut r, 16), rng::bytes(&mut r, 100_003));
    let theirs = openssl_enc("aes-128-ctr".parse().unwrap(), &key, &iv, false, false, &data);
    for extra in [["--chunk", "16"], ["--chunk", "16777216"], ["--in-flight", "1"], ["--in-flight", "1024"]] {
        let (k, v) = (hex::encode(&key), hex::encode(&iv));
        let args = [&["enc", "-a", "aes-128-ctr", "-K", &k, "--iv", &v][..], &extra[..]].concat();
        assert!(ok(&args, &data) == theirs, "{extra:?}");
    }
}

#[test]
fn memory_is_bounded_by_bytes_whatever_the_window() {
    // The most requests, the smallest and the largest chunks: the buffers in
    // flight stay within 16 MiB (plus read-ahead and the output buffer).
    let k = "00112233445566778899aabbccddeeff";
    for extra in [["--chunk", "16"], ["--chunk", "16777216"], ["--chunk", "65536"]] {
        let mut c = bin();
        c.args(["enc", "-a", "aes-128-ctr", "-K", k, "--iv", k, "--in-flight", "1024"]).args(extra);
        let len = if extra[1] == "16" { 10 << 20 } else { BIG };
        let (_, _, _, _, peak) = stream_peak(c, "cli memory bound", len, 0);
        let bound = if extra[1] == "16777216" { 80 << 20 } else { MEM_BOUND };
        assert!(peak < bound, "{extra:?}: peak RSS {peak} bytes");
    }
}

/// A scratch directory of its own for one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Names in `dir` that look like a left-over temporary output file.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".acrypto-"))
        .collect()
}

#[test]
fn a_failed_command_leaves_the_output_path_as_it_was() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = scratch("out");
    let fail_dec = |out: &std::path::Path, what: &str| {
        let o = out.to_str().unwrap();
        // 4096 + 17 bytes is not whole blocks: fails after writing 4096 bytes.
        assert_one_line_error_code(
            &["dec", "-a", "aes-128-cbc", "-K", K16, "--iv", K16, "--chunk", "16", "-o", o],
            &[7u8; 4096 + 17],
            what,
            1,
        );
    };
    let enc_ok = |out: &std::path::Path, data: &[u8]| {
        ok(&["enc", "-a", "aes-128-ctr", "-K", K16, "--iv", K16, "-o", out.to_str().unwrap()], data);
    };
    let ctr = |data: &[u8]| {
        openssl_enc(
            "aes-128-ctr".parse().unwrap(),
            &hex::decode(K16).unwrap(),
            &hex::decode(K16).unwrap(),
            false,
            false,
            data,
        )
    };

    // A new file: not created.
    let new = dir.join("new");
    fail_dec(&new, "new file");
    assert!(!new.exists(), "partial output left behind");
    enc_ok(&new, b"hello");
    assert!(std::fs::read(&new).unwrap() == ctr(b"hello"));

    // An existing file: content and mode untouched; on success replaced, mode kept.
    let keep = dir.join("keep.txt");
    std::fs::write(&keep, b"precious data\n").unwrap();
    std::fs::set_permissions(&keep, std::fs::Permissions::from_mode(0o640)).unwrap();
    fail_dec(&keep, "existing file");
    assert_eq!(std::fs::read(&keep).unwrap(), b"precious data\n", "existing file changed by a failed command");
    enc_ok(&keep, b"new content");
    assert!(std::fs::read(&keep).unwrap() == ctr(b"new content"));
    assert_eq!(std::fs::metadata(&keep).unwrap().permissions().mode() & 0o777, 0o640, "mode not kept");

    // A symbolic link: link and target untouched; on success the target is
    // written through the link, which stays a link (as `openssl enc -out`).
    let target = dir.join("target");
    let link = dir.join("link");
    std::fs::write(&target, b"target data").unwrap();
    std::os::unix::fs::symlink("target", &link).unwrap();
    fail_dec(&link, "symlink");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "symlink removed");
    assert_eq!(std::fs::read(&target).unwrap(), b"target data", "symlink target changed");
    enc_ok(&link, b"through the link");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "symlink replaced");
    assert!(std::fs::read(&target).unwrap() == ctr(b"through the link"));
    // A dangling link creates its target.
    let dangling = dir.join("dangling");
    std::os::unix::fs::symlink("created", &dangling).unwrap();
    fail_dec(&dangling, "dangling symlink");
    assert!(!dir.join("created").exists());
    enc_ok(&dangling, b"made");
    assert!(std::fs::read(dir.join("created")).unwrap() == ctr(b"made"));

    // A device: written directly, never removed.
    fail_dec(std::path::Path::new("/dev/full"), "device");
    assert_one_line_error_code(
        &["enc", "-a", "aes-128-ctr", "-K", K16, "--iv", K16, "-o", "/dev/full"],
        b"x",
        "full",
        1,
    );
    let m = std::fs::metadata("/dev/full").expect("/dev/full removed");
    assert!(m.file_type().is_char_device(), "/dev/full is no longer a device");
    ok(&["enc", "-a", "aes-128-ctr", "-K", K16, "--iv", K16, "-o", "/dev/null"], b"x");
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    // A device node of our own, where the sandbox allows mknod.
    let node = dir.join("null-node");
    let made = Command::new("mknod").arg(&node).args(["c", "1", "3"]).output().is_ok_and(|o| o.status.success());
    if made {
        fail_dec(&node, "own device node");
        assert!(std::fs::metadata(&node).unwrap().file_type().is_char_device(), "device node removed");
    } else {
        println!("mknod not allowed here: own device node not tried");
    }

    // A FIFO: written directly (the reader sees the bytes), never removed.
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for fails in [true, false] {
        let f = fifo.clone();
        let reader = std::thread::spawn(move || std::fs::read(&f).unwrap());
        if fails {
            fail_dec(&fifo, "fifo");
        } else {
            enc_ok(&fifo, b"into the fifo");
        }
        let got = reader.join().unwrap();
        if !fails {
            assert!(got == ctr(b"into the fifo"), "fifo reader got the wrong bytes");
        }
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo(), "fifo removed");
    }

    assert_eq!(temp_files(&dir), Vec::<String>::new(), "temporary files left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `bash -c script` with ACRYPTO pointing at the binary; fails the
/// test if it runs longer than `secs`.
fn bash(script: &str, secs: u64) -> Out {
    let mut c = Command::new("bash");
    c.arg("-c").arg(script).env("ACRYPTO", env!("CARGO_BIN_EXE_acrypto")).env("ACRYPTO_DEVICES", "soft:2");
    let mut child = c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let outs = std::thread::spawn(move || {
        let (mut a, mut b) = (Vec::new(), String::new());
        let _ = so.read_to_end(&mut a);
        let _ = se.read_to_string(&mut b);
        (a, b)
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed().as_secs() >= secs {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{script}` still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (stdout, stderr) = outs.join().unwrap();
    Out { ok: status.success(), code: status.code(), stdout, stderr }
}

fn assert_fails_with_one_line(o: &Out, what: &str) {
    assert_eq!(o.code, Some(1), "{what}: {}", o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert!(lines.len() == 1 && lines[0].starts_with("acrypto: "), "{what}: {:?}", o.stderr);
}

#[test]
fn closed_stdin_or_stdout_is_a_failure_and_a_broken_pipe_is_quiet() {
    let o = bash("$ACRYPTO digest -a sha1 <&-", 30);
    assert_fails_with_one_line(&o, "closed stdin");
    assert!(o.stdout.is_empty(), "a digest was printed for a closed stdin");
    let o = bash("$ACRYPTO mac -a hmac-sha1 -K 00 <&-", 30);
    assert_fails_with_one_line(&o, "closed stdin (mac)");
    let o = bash(
        "$ACRYPTO enc -a aes-128-ctr -K 00112233445566778899aabbccddeeff --iv 00112233445566778899aabbccddeeff <&-",
        30,
    );
    assert_fails_with_one_line(&o, "closed stdin (enc)");
    // An input file instead of stdin needs no stdin.
    let o = bash("$ACRYPTO digest -a sha1 -i /dev/null <&-", 30);
    assert!(o.ok && o.stdout == b"da39a3ee5e6b4b0d3255bfef95601890afd80709\n", "{}", o.stderr);
    for cmd in ["digest -a sha1 </dev/null", "rand 16", "devices", "--help", "--version", "enc --help"] {
        let o = bash(&format!("$ACRYPTO {cmd} >&-"), 30);
        assert_fails_with_one_line(&o, &format!("{cmd} >&-"));
        let o = bash(&format!("$ACRYPTO {cmd} >/dev/full"), 30);
        assert_fails_with_one_line(&o, &format!("{cmd} >/dev/full"));
    }
    // Output to a file needs no stdout.
    let dir = scratch("closed");
    let f = dir.join("out");
    let o = bash(&format!("echo -n x | $ACRYPTO enc -a aes-128-ctr -K {K16} --iv {K16} -o {} >&-", f.display()), 30);
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 1);
    // A reader that goes away ends the command quietly, as coreutils do (SIGPIPE).
    for cmd in ["rand 100000000", "rand 10000000 --hex", "enc -a aes-128-ctr -K $K --iv $K </dev/zero"] {
        let script = format!("K={K16}; set -o pipefail; $ACRYPTO {cmd} | head -c 10 >/dev/null");
        let o = bash(&script, 60);
        assert!(o.stderr.is_empty(), "{cmd} | head: {}", o.stderr);
        assert_eq!(o.code, Some(128 + 13), "{cmd} | head: not ended by SIGPIPE");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn input_and_output_the_same_file_is_refused() {
    let dir = scratch("same");
    let x = dir.join("X");
    let content = vec![0x42u8; 100_000];
    let enc = format!("$ACRYPTO enc -a aes-128-ctr -K {K16} --iv {K16}");
    let xs = x.display().to_string();
    std::os::unix::fs::symlink(&x, dir.join("L")).unwrap();
    std::fs::hard_link(
        {
            std::fs::write(&x, &content).unwrap();
            &x
        },
        dir.join("H"),
    )
    .unwrap();
    let (l, h) = (dir.join("L").display().to_string(), dir.join("H").display().to_string());
    for script in [
        format!("{enc} -i {xs} -o {xs}"),
        format!("{enc} -i {xs} >> {xs}"),
        format!("{enc} < {xs} -o {xs}"),
        format!("{enc} < {xs} >> {xs}"),
        format!("{enc} -i {xs} -o {l}"),
        format!("{enc} -i {l} -o {xs}"),
        format!("{enc} -i {xs} -o {h}"),
        format!("$ACRYPTO dec -a aes-128-ctr -K {K16} --iv {K16} -i {xs} -o {xs}"),
    ] {
        let o = bash(&script, 30);
        assert_eq!(o.code, Some(2), "{script}: {}", o.stderr);
        assert!(o.stderr.contains("same file"), "{script}: {}", o.stderr);
        assert!(std::fs::read(&x).unwrap() == content, "{script}: X changed");
    }
    assert_eq!(temp_files(&dir), Vec::<String>::new(), "temporary files left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn digest_reads_to_the_end_whatever_the_size_on_disk_says() {
    use sha1::Sha1;
    let sha1 = |b: &[u8]| hex::encode(Sha1::digest(b));
    // /proc files say 0 bytes.
    let want = std::fs::read("/proc/version").unwrap();
    assert!(want.len() > 1);
    let got = ok(&["digest", "-a", "sha1", "-i", "/proc/version"], b"");
    assert_eq!(String::from_utf8(got).unwrap(), format!("{}\n", sha1(&want)), "-i /proc/version");
    let mut c = bin();
    c.args(["digest", "-a", "sha1"]).stdin(std::fs::File::open("/proc/version").unwrap());
    let o = c.output().unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), format!("{}\n", sha1(&want)), "< /proc/version");
    let got = ok(&["mac", "-a", "hmac-sha256", "-K", "00", "-i", "/proc/version"], b"");
    assert_eq!(String::from_utf8(got).unwrap().trim(), hex::encode(openssl::hmac(DigestKind::Sha256, &[0], &want)));
    // /proc/PID/status of a sleeping process (its status does not change while it sleeps).
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let path = format!("/proc/{}/status", sleeper.id());
    let before = std::fs::read(&path).unwrap();
    let got = ok(&["digest", "-a", "sha256", "--json", "-i", &path], b"");
    let after = std::fs::read(&path).unwrap();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(before, after, "the sleeping process's status changed");
    let j: Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(j["bytes"], before.len(), "{path}");
    assert_eq!(j["value"], hex::encode(Sha256::digest(&before)), "{path}");
}

#[test]
fn digest_of_a_file_that_grows_while_it_is_read() {
    // The command runs under strace, every read of the file delayed by
    // 0.3 s; once strace logged the command's stat of the file (1 MiB then),
    // 2 MiB are appended, before its first read ends. The command must hash
    // all 3 MiB, not stop at the size it saw.
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is missing (tests/setup.sh installs it)");
    }
    let dir = scratch("grow");
    let (f, log) = (dir.join("growing"), dir.join("strace.log"));
    let mut all = vec![1u8; 1 << 20];
    std::fs::write(&f, &all).unwrap();
    let child = Command::new("strace")
        .args(["-f", "-o"])
        .arg(&log)
        .arg("-P")
        .arg(&f)
        .args(["-e", "inject=read:delay_enter=300000"])
        .arg(env!("CARGO_BIN_EXE_acrypto"))
        .args(["digest", "-a", "sha256", "--json", "-i"])
        .arg(&f)
        .env("ACRYPTO_DEVICES", "soft:1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("statx(") {
        assert!(start.elapsed().as_secs() < 30, "strace logged no stat of the file");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let more = vec![2u8; 2 << 20];
    std::fs::OpenOptions::new().append(true).open(&f).unwrap().write_all(&more).unwrap();
    all.extend_from_slice(&more);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["bytes"], all.len(), "the file grew to 3 MiB while it was read");
    assert_eq!(j["value"], hex::encode(Sha256::digest(&all)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The AEADs are benchmarked too (a TLS 1.3 record's nonce and AAD), with
/// every figure measured on both sides.
#[test]
fn bench_takes_the_aeads() {
    let args = ["bench", "-a", "aes-128-gcm,chacha20-poly1305", "--sizes", "64,1504", "--seconds", "0.02", "--json"];
    let j: Value = serde_json::from_slice(&ok(&args, b"")).expect("bench --json is JSON");
    let res = j["results"].as_array().unwrap();
    let names: Vec<&str> = res.iter().map(|r| r["algorithm"].as_str().unwrap()).collect();
    assert_eq!(names, ["aes-128-gcm", "aes-128-gcm", "chacha20-poly1305", "chacha20-poly1305"], "{j}");
    for r in res {
        for side in ["sync", "async"] {
            assert!(r[side]["ops_per_sec"].as_f64().unwrap() > 0.0, "{side} in {r}");
        }
    }
}

#[test]
fn bench_json_holds_baseline_async_and_ratio() {
    let o = ok(
        &[
            "bench",
            "-a",
            "aes-128-cbc,hmac-sha1",
            "--sizes",
            "64,1500",
            "--seconds",
            "0.05",
            "--json",
            "--devices",
            "soft:2",
        ],
        b"",
    );
    let j: Value = serde_json::from_slice(&o).expect("bench --json is JSON");
    assert_eq!(j["device_count"], 2);
    assert!(j["baseline"].as_str().unwrap().contains("synchronous"));
    let res = j["results"].as_array().unwrap();
    assert_eq!(res.len(), 4);
    for r in res {
        for side in ["sync", "async", "async_one_in_flight"] {
            for f in ["mb_per_sec", "ops_per_sec", "latency_p50_us", "latency_p99_us"] {
                assert!(r[side][f].as_f64().unwrap() > 0.0, "{side}.{f} in {r}");
            }
        }
        let ratio = r["ratio"]["throughput"].as_f64().unwrap();
        let want = r["async"]["mb_per_sec"].as_f64().unwrap() / r["sync"]["mb_per_sec"].as_f64().unwrap();
        assert!((ratio - want).abs() < 1e-6 * want.max(1.0), "ratio {ratio} vs {want}");
    }
    assert_eq!(res[1]["size"], 1504, "cbc rounds 1500 up to the block");
    assert_eq!(res[1]["requested_size"], 1500);
    assert!(res[1]["note"].as_str().unwrap().contains("1504"));
    assert_eq!(res[3]["size"], 1500, "hmac takes any size");
    // The table form.
    let t = String::from_utf8(ok(&["bench", "-a", "aes-128-ctr", "--sizes", "64", "--seconds", "0.02"], b"")).unwrap();
    assert!(t.contains("sync MB/s") && t.contains("aes-128-ctr"), "{t}");
}

#[test]
fn selftest_passes_on_every_device() {
    let t = String::from_utf8(ok(&["selftest", "--devices", "soft:3"], b"")).unwrap();
    let pairs = 3 * Algorithm::ALL.len();
    assert!(t.contains(&format!("{pairs} algorithm/device pairs pass, 0 fail")), "{t}");
    let j: Value = serde_json::from_slice(&ok(&["selftest", "--json", "--device", "soft1"], b"")).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["failed"], 0);
    assert_eq!(j["passed"], Algorithm::ALL.len());
    assert!(j["results"].as_array().unwrap().iter().all(|r| r["device"] == "soft1" && r["status"] == "pass"));
}

#[test]
fn devices_json_lists_state_and_capabilities() {
    let j: Value = serde_json::from_slice(&ok(&["devices", "--json", "--devices", "soft:3"], b"")).unwrap();
    let devs = j["devices"].as_array().unwrap();
    assert_eq!(devs.len(), 3);
    for d in devs {
        assert_eq!(d["driver"], "soft");
        assert_eq!(d["state"], "active");
        let caps = d["capabilities"].as_array().unwrap();
        assert_eq!(caps.len(), Algorithm::ALL.len());
        assert!(caps.iter().any(|c| c["algorithm"] == "aes-256-xts" && c["key_bytes"] == 64));
        assert!(caps.iter().any(|c| c["algorithm"] == "hmac-sha1" && c["key_bytes"].is_null()));
        // A fresh engine's counters are always zero: not listed.
        assert!(d.get("stats").is_none(), "{d}");
    }
    // ACRYPTO_DEVICES chooses the devices when --devices is absent.
    let mut c = bin();
    c.env("ACRYPTO_DEVICES", "soft:4").args(["devices", "--json"]);
    let o = pipe(c, b"");
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["devices"].as_array().unwrap().len(), 4);
    let t = String::from_utf8(ok(&["devices"], b"")).unwrap();
    assert!(t.contains("soft0") && t.contains("aes-128-cbc"), "{t}");
    assert!(t.starts_with("2 devices,") && !t.contains("counters"), "{t}");
    let t = String::from_utf8(ok(&["devices", "--devices", "soft:1"], b"")).unwrap();
    assert!(t.starts_with("1 device,"), "{t}");
    assert!(t.contains("rate") && t.contains("iv bytes"), "{t}");
}

#[test]
fn small_ones_help_device_names_and_large_inputs() {
    // `dec` has no -d; `enc` has.
    let h = String::from_utf8(ok(&["dec", "--help"], b"")).unwrap();
    assert!(!h.contains("--decrypt") && !h.contains("-d,"), "{h}");
    let h = String::from_utf8(ok(&["enc", "--help"], b"")).unwrap();
    assert!(h.contains("-d, --decrypt"), "{h}");
    // An empty or unknown device name says which devices there are.
    for name in ["", "soft9"] {
        let msg = assert_one_line_error_code(&["digest", "-a", "sha1", "--device", name], b"", "device name", 2);
        assert!(msg.contains("soft0, soft1"), "{msg}");
    }
    // --device holds for inputs of any size: they stream through the device.
    let data = vec![3u8; (16 << 20) + 1];
    let got = ok(&["digest", "-a", "sha1", "--device", "soft1"], &data);
    assert_eq!(String::from_utf8(got).unwrap().trim(), hex::encode(openssl::digest(DigestKind::Sha1, &data)));
}

#[test]
fn rand_gives_the_bytes_asked_for() {
    assert_eq!(ok(&["rand", "0"], b"").len(), 0);
    let a = ok(&["rand", "100000"], b"");
    let b = ok(&["rand", "100000"], b"");
    assert_eq!(a.len(), 100_000);
    assert_ne!(a, b);
    let h = String::from_utf8(ok(&["rand", "33", "--hex"], b"")).unwrap();
    assert_eq!(h.len(), 67);
    assert!(h.trim_end().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let j: Value = serde_json::from_slice(&ok(&["rand", "16", "--json"], b"")).unwrap();
    assert_eq!(j["hex"].as_str().unwrap().len(), 32);
}

#[test]
fn bound_to_one_device_and_from_files() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (inp, out) =
        (dir.join(format!("cli-in-{}", std::process::id())), dir.join(format!("cli-o-{}", std::process::id())));
    let mut r = rng::seeded("cli files");
    let data = rng::bytes(&mut r, 300_001);
    std::fs::write(&inp, &data).unwrap();
    let (key, iv) = (rng::bytes(&mut r, 32), rng::bytes(&mut r, 16));
    let (k, v) = (hex::encode(&key), hex::encode(&iv));
    let (i, o) = (inp.to_str().unwrap(), out.to_str().unwrap());
    ok(&["enc", "-a", "aes-256-ctr", "-K", &k, "--iv", &v, "--device", "soft1", "-i", i, "-o", o], b"");
    let theirs = openssl_enc("aes-256-ctr".parse().unwrap(), &key, &iv, false, false, &data);
    assert!(std::fs::read(&out).unwrap() == theirs);
    // Small chunks: many requests in flight, written in order.
    let mine =
        ok(&["enc", "-a", "aes-256-ctr", "-K", &k, "--iv", &v, "--chunk", "16", "--in-flight", "64", "-i", i], b"");
    assert!(mine == theirs);
    let theirs = openssl_enc("aes-256-cbc".parse().unwrap(), &key, &iv, false, false, &data);
    let mine = ok(&["dec", "-a", "aes-256-cbc", "-K", &k, "--iv", &v, "--chunk", "32"], &theirs);
    assert!(mine == data);
    // Many devices, many small requests: still in order.
    for alg in ["aes-256-ctr", "aes-256-cbc", "aes-256-ecb"] {
        let theirs = openssl_enc(alg.parse().unwrap(), &key, &iv, false, false, &data);
        let args = ["--devices", "soft:7", "--chunk", "48", "--in-flight", "100", "-a", alg, "-K", &k, "--iv", &v];
        let mine = ok(&[&["enc"][..], &args[..]].concat(), &data);
        assert!(mine == theirs, "{alg} on 7 devices");
        assert!(ok(&[&["dec"][..], &args[..]].concat(), &theirs) == data, "{alg} dec on 7 devices");
    }
    let _ = std::fs::remove_file(&inp);
    let _ = std::fs::remove_file(&out);
}

#[test]
fn progress_bar_only_on_a_terminal_for_large_inputs() {
    // `script` gives the command a pseudo-terminal; without it, skip.
    if Command::new("script").arg("--version").output().is_err() {
        println!("no `script` command: skipped");
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (inp, out) =
        (dir.join(format!("cli-tty-in-{}", std::process::id())), dir.join(format!("cli-tty-o-{}", std::process::id())));
    std::fs::write(&inp, vec![0u8; 32 << 20]).unwrap();
    let k = "00112233445566778899aabbccddeeff";
    let cmd = format!(
        "{} enc -a aes-128-ctr -K {k} --iv {k} -i {} -o {}",
        env!("CARGO_BIN_EXE_acrypto"),
        inp.display(),
        out.display()
    );
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).env("ACRYPTO_DEVICES", "soft:2").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tty = String::from_utf8_lossy(&o.stdout);
    assert!(tty.contains("MiB/"), "no progress bar on the terminal: {tty:?}");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 32 << 20);
    // Not on a pipe (the other tests insist on an empty stderr).
    let o = acrypto(
        &["enc", "-a", "aes-128-ctr", "-K", k, "--iv", k, "-i", inp.to_str().unwrap(), "-o", out.to_str().unwrap()],
        b"",
    );
    assert!(o.ok && o.stderr.is_empty(), "{}", o.stderr);
    let _ = std::fs::remove_file(&inp);
    let _ = std::fs::remove_file(&out);
}

#[test]
fn bench_null_device_batch_openssl_and_mix() {
    let args = [
        "bench",
        "-a",
        "aes-128-cbc",
        "--sizes",
        "64",
        "--seconds",
        "0.05",
        "--json",
        "--devices",
        "null:1",
        "--submit",
        "batch",
        "--mix",
    ];
    let j: Value = serde_json::from_slice(&ok(&args, b"")).expect("bench --json is JSON");
    assert_eq!(j["submit"], "batch");
    assert_eq!(j["device_count"], 1);
    let r = &j["results"][0];
    let ns = r["async"]["ns_per_request"].as_f64().unwrap();
    let ops_s = r["async"]["ops_per_sec"].as_f64().unwrap();
    assert!(ns > 0.0 && (ns * ops_s / 1e9 - 1.0).abs() < 1e-6, "ns/req {ns} vs {ops_s} op/s");
    // The openssl baseline is there when the command is.
    let has_openssl = std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if has_openssl {
        let mb = r["openssl"]["mb_per_sec"].as_f64().unwrap();
        assert!(mb > 0.0);
        assert!(r["openssl"]["command"]
            .as_str()
            .unwrap()
            .starts_with("openssl speed -elapsed -evp aes-128-cbc -bytes 64"));
        let want = r["async"]["mb_per_sec"].as_f64().unwrap() / mb;
        assert!((r["ratio"]["vs_openssl"].as_f64().unwrap() - want).abs() < 1e-6 * want.max(1.0));
    } else {
        assert!(r["openssl"].is_null() && r["ratio"]["vs_openssl"].is_null());
    }
    let mix = &r["mix"];
    for side in ["low_priority_load", "high_priority", "high_priority_idle"] {
        assert!(mix[side]["ops"].as_u64().unwrap() > 0, "{side} in {mix}");
    }
    assert!(mix["p99_vs_idle_p99"].as_f64().unwrap() > 0.0);
    // Without the baseline.
    let args = ["bench", "-a", "sha1", "--sizes", "16", "--seconds", "0.02", "--json", "--openssl", "off"];
    let j: Value = serde_json::from_slice(&ok(&args, b"")).unwrap();
    assert!(j["results"][0]["openssl"].is_null());
}

/// A 1 GiB `digest` streams through the engine with a peak resident set
/// under 64 MiB. The input is generated and piped in (nothing holds it
/// whole); the command's peak resident set is read while it runs, the last
/// time after the whole input was written and before it ends (so the
/// command is alive to be measured).
#[test]
fn digest_of_1_gib_streams_through_the_engine_in_bounded_memory() {
    const GIB: usize = 1 << 30;
    const RSS_BOUND: u64 = 64 << 20;
    let mut c = bin();
    c.args(["digest", "-a", "sha256", "--json"]);
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut r = rng::seeded("cli 1 GiB digest");
    let mut block = rng::bytes(&mut r, 1 << 20);
    let mut h = Sha256::new();
    let mut peak = 0;
    let mut samples = 0;
    for i in 0..(GIB >> 20) as u64 {
        block[..8].copy_from_slice(&i.to_le_bytes());
        h.update(&block);
        stdin.write_all(&block).unwrap();
        if i % 32 == 31 {
            peak = peak.max(peak_rss(pid).expect("the command runs until its input ends"));
            samples += 1;
        }
    }
    peak = peak.max(peak_rss(pid).expect("the command runs until its input ends"));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let errs = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && errs.is_empty(), "digest failed: {errs}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["value"], hex::encode(h.finalize()));
    assert_eq!(j["bytes"], GIB);
    assert_eq!(j["computed_by"], "engine");
    assert_eq!(j["requests"], 1024 + 1);
    assert_eq!(samples, 32);
    println!("1 GiB digest: peak RSS {:.1} MiB", peak as f64 / (1u64 << 20) as f64);
    assert!(peak < RSS_BOUND, "peak RSS {peak} bytes for a 1 GiB digest");
}
