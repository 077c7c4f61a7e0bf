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
/// 20 MiB at most: enc about 5, mac and digest a 16 MiB buffer).
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
    // Both sides of the bound between one engine request and the streamed path.
    let limit = 16 << 20;
    for n in [limit, limit + 1] {
        let data = rng::bytes(&mut r, n);
        let j: Value = serde_json::from_slice(&ok(&["digest", "-a", "sha256", "--json"], &data)).unwrap();
        assert_eq!(j["value"], hex::encode(Sha256::digest(&data)));
        assert_eq!(j["bytes"], n);
        assert_eq!(j["computed_by"], if n == limit { "engine" } else { "streamed" });
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
    for alg in Algorithm::all().filter(|a| a.kind() != acrypto::OpKind::Rng) {
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
            Algorithm::Rng => unreachable!(),
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

/// Exactly one line on stderr, starting `acrypto: `, and a failing status.
fn assert_one_line_error(args: &[&str], input: &[u8], what: &str) -> String {
    let o = acrypto(args, input);
    assert!(!o.ok, "{what}: acrypto {} succeeded", redact(args));
    assert!(matches!(o.code, Some(1) | Some(2)), "{what}: exit {:?}", o.code);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: stderr is not one line: {:?}", o.stderr);
    assert!(lines[0].starts_with("acrypto: "), "{what}: {:?}", lines[0]);
    assert!(!o.stderr.contains("panicked") && !o.stderr.contains("internal error"), "{what}: {}", o.stderr);
    lines[0].to_string()
}

#[test]
fn bad_input_gives_one_line_and_a_failing_status() {
    let k16 = "00112233445566778899aabbccddeeff";
    let iv = "000102030405060708090a0b0c0d0e0f";
    let cbc = ["-a", "aes-128-cbc", "-K", k16, "--iv", iv];
    let with = |cmd: &str, extra: &[&'static str]| -> Vec<String> {
        let mut v = vec![cmd.to_string()];
        v.extend(cbc.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    fn a(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    // A ciphertext whose last plaintext byte is 0: never valid PKCS#7.
    let bad_pad = openssl_enc(
        "aes-128-cbc".parse().unwrap(),
        &hex::decode(k16).unwrap(),
        &hex::decode(iv).unwrap(),
        false,
        true,
        &[0u8; 32],
    );
    let cases: Vec<(Vec<String>, Vec<u8>, &str)> = vec![
        (
            vec!["enc".into(), "-a".into(), "aes-999-cbc".into(), "-K".into(), k16.into(), "--iv".into(), iv.into()],
            vec![],
            "unknown algorithm",
        ),
        (vec!["enc".into(), "-a".into(), "sha1".into(), "-K".into(), k16.into()], vec![], "not a cipher"),
        (
            vec![
                "enc".into(),
                "-a".into(),
                "aes-128-cbc".into(),
                "-K".into(),
                "zz112233445566778899aabbccddeeff".into(),
                "--iv".into(),
                iv.into(),
            ],
            vec![],
            "bad hex key",
        ),
        (
            vec![
                "enc".into(),
                "-a".into(),
                "aes-128-cbc".into(),
                "-K".into(),
                "0011223".into(),
                "--iv".into(),
                iv.into(),
            ],
            vec![],
            "odd hex key",
        ),
        (
            vec![
                "enc".into(),
                "-a".into(),
                "aes-128-cbc".into(),
                "-K".into(),
                "00112233445566778899aabbccddee".into(),
                "--iv".into(),
                iv.into(),
            ],
            vec![],
            "short key",
        ),
        (
            vec!["enc".into(), "-a".into(), "aes-256-cbc".into(), "-K".into(), k16.into(), "--iv".into(), iv.into()],
            vec![],
            "key of the wrong size",
        ),
        (
            vec![
                "enc".into(),
                "-a".into(),
                "aes-128-xts".into(),
                "-K".into(),
                format!("{k16}{k16}"),
                "--iv".into(),
                iv.into(),
            ],
            vec![0; 32],
            "xts key halves equal",
        ),
        (
            vec![
                "enc".into(),
                "-a".into(),
                "aes-128-cbc".into(),
                "-K".into(),
                k16.into(),
                "--iv".into(),
                "0001".into(),
            ],
            vec![],
            "short iv",
        ),
        (
            vec!["enc".into(), "-a".into(), "aes-128-cbc".into(), "-K".into(), k16.into(), "--iv".into(), "xyz".into()],
            vec![],
            "bad hex iv",
        ),
        (vec!["enc".into(), "-a".into(), "aes-128-ctr".into(), "-K".into(), k16.into()], vec![], "missing iv"),
        (with("dec", &[]), vec![0; 17], "truncated ciphertext"),
        (with("dec", &[]), bad_pad, "bad padding"),
        (with("dec", &[]), vec![], "empty ciphertext"),
        (with("enc", &["--nopad"]), vec![0; 17], "nopad needs whole blocks"),
        (with("enc", &["-i", "/nonexistent/acrypto-input"]), vec![], "unreadable file"),
        (with("enc", &["-i", "/"]), vec![], "a directory as input"),
        (with("enc", &["-o", "/nonexistent/dir/out"]), vec![1], "unwritable output"),
        (with("enc", &["--device", "nosuch9"]), vec![1], "unknown device"),
        (vec!["mac".into(), "-a".into(), "sha1".into(), "-K".into(), "00".into()], vec![], "mac of a digest"),
        (vec!["mac".into(), "-a".into(), "hmac-md5".into(), "-K".into(), "00".into()], vec![], "unknown mac"),
        (vec!["mac".into(), "-a".into(), "hmac-sha1".into(), "-K".into(), "0g".into()], vec![], "mac bad hex key"),
        (
            vec![
                "mac".into(),
                "-a".into(),
                "hmac-sha1".into(),
                "-K".into(),
                "00".into(),
                "-i".into(),
                "/nonexistent/x".into(),
            ],
            vec![],
            "mac unreadable file",
        ),
        (vec!["digest".into(), "-a".into(), "hmac-sha1".into()], vec![], "digest of a mac"),
        (vec!["digest".into(), "-a".into(), "md5".into()], vec![], "unknown digest"),
        (vec!["devices".into(), "--devices".into(), "hifn:1".into()], vec![], "unknown device kind"),
        (
            vec!["bench".into(), "-a".into(), "nope".into(), "--seconds".into(), "0.01".into()],
            vec![],
            "bench unknown algorithm",
        ),
        (vec!["bench".into(), "--sizes".into(), "0".into(), "--seconds".into(), "0.01".into()], vec![], "bench size 0"),
        (vec!["selftest".into(), "--device".into(), "nosuch".into()], vec![], "selftest unknown device"),
        (vec!["rand".into(), "many".into()], vec![], "rand count not a number"),
        (vec!["enc".into(), "-K".into(), k16.into()], vec![], "usage: missing -a"),
        (vec!["frobnicate".into()], vec![], "usage: unknown command"),
    ];
    for (args, input, what) in &cases {
        let line = assert_one_line_error(&a(args), input, what);
        assert!(!line.contains(k16), "{what}: the key appears in the error: {line}");
    }
}

#[test]
fn a_failed_command_leaves_no_output_file() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-out-{}", std::process::id()));
    let k16 = "00112233445566778899aabbccddeeff";
    let args = ["dec", "-a", "aes-128-cbc", "-K", k16, "--iv", k16, "-o", out.to_str().unwrap()];
    assert_one_line_error(&args, &[7u8; 4096 + 17], "truncated");
    assert!(!out.exists(), "partial output left behind");
    let args = ["enc", "-a", "aes-128-ctr", "-K", k16, "--iv", k16, "-o", out.to_str().unwrap()];
    ok(&args, b"hello");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 5);
    std::fs::remove_file(&out).unwrap();
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
    assert!(t.contains("48 algorithm/device pairs pass, 0 fail"), "{t}");
    let j: Value = serde_json::from_slice(&ok(&["selftest", "--json", "--device", "soft1"], b"")).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["failed"], 0);
    assert_eq!(j["passed"], 16);
    assert!(j["results"].as_array().unwrap().iter().all(|r| r["device"] == "soft1" && r["status"] == "pass"));
}

#[test]
fn devices_json_lists_capabilities_and_counters() {
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
        assert!(d["stats"]["submitted"].is_u64());
    }
    // ACRYPTO_DEVICES chooses the devices when --devices is absent.
    let mut c = bin();
    c.env("ACRYPTO_DEVICES", "soft:4").args(["devices", "--json"]);
    let o = pipe(c, b"");
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["devices"].as_array().unwrap().len(), 4);
    let t = String::from_utf8(ok(&["devices"], b"")).unwrap();
    assert!(t.contains("soft0") && t.contains("aes-128-cbc"), "{t}");
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
