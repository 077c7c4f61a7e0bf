//! OpenSSL as the independent implementation.
//!
//! Ciphers, digests and HMACs go through the `openssl` command line
//! (`openssl enc`, `openssl dgst`, `openssl mac`). The command line refuses
//! XTS ("enc: XTS ciphers not supported", OpenSSL 3.0), so XTS goes through
//! `xts_ref`, a small C program (`tests/common/xts_ref.c`) built once per test
//! binary against the system's libcrypto (`EVP_aes_128_xts`/`EVP_aes_256_xts`);
//! AEAD likewise through `aead_ref` (`tests/common/aead_ref.c`).
//! `tests/setup.sh` installs what both need (`openssl`, `gcc`, `libssl-dev`).

use acrypto::{Algorithm, CipherMode, DigestKind, Op};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Runs a program with `input` on stdin and returns its stdout; panics with
/// its stderr when it fails.
fn pipe(prog: &str, args: &[String], input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(prog);
    cmd.args(args);
    let out =
        super::run_with_input(cmd, input).unwrap_or_else(|e| panic!("cannot run {prog} (run tests/setup.sh): {e}"));
    assert!(out.status.success(), "{prog} {} failed: {}", redact(args).join(" "), String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The arguments with key material shortened, for messages.
fn redact(args: &[String]) -> Vec<String> {
    args.iter().map(|a| if a.len() > 24 { format!("{}…", &a[..24]) } else { a.clone() }).collect()
}

fn openssl(args: &[String], input: &[u8]) -> Vec<u8> {
    pipe("openssl", args, input)
}

/// The `openssl version` line.
pub fn version() -> String {
    String::from_utf8_lossy(&openssl(&["version".to_string()], b"")).trim().to_string()
}

/// `alg` encrypting or decrypting `data` with `openssl enc` (no padding).
/// XTS goes to [`xts`].
pub fn cipher(alg: Algorithm, op: Op, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    let Algorithm::Aes { mode, .. } = alg else { panic!("{alg} is not a cipher") };
    if mode == CipherMode::Xts {
        return xts(op, key, iv, data);
    }
    let mut args = vec!["enc".to_string(), format!("-{alg}"), "-K".into(), hex::encode(key), "-nopad".into()];
    if mode != CipherMode::Ecb {
        args.extend(["-iv".to_string(), hex::encode(iv)]);
    }
    match op {
        Op::Encrypt => {}
        Op::Decrypt => args.push("-d".into()),
        _ => panic!("{op:?} is not a cipher operation"),
    }
    openssl(&args, data)
}

fn digest_name(d: DigestKind) -> &'static str {
    match d {
        DigestKind::Sha1 => "sha1",
        DigestKind::Sha256 => "sha256",
    }
}

/// The digest of `data` with `openssl dgst`.
pub fn digest(d: DigestKind, data: &[u8]) -> Vec<u8> {
    openssl(&["dgst".into(), format!("-{}", digest_name(d)), "-binary".into()], data)
}

/// The HMAC of `data` with `openssl mac`. The key goes as hex, so any
/// length (including none) works.
pub fn hmac(d: DigestKind, key: &[u8], data: &[u8]) -> Vec<u8> {
    let args = [
        "mac".to_string(),
        "-digest".into(),
        digest_name(d).to_ascii_uppercase(),
        "-macopt".into(),
        format!("hexkey:{}", hex::encode(key)),
        "-binary".into(),
        "HMAC".into(),
    ];
    openssl(&args, data)
}

/// Builds `xts_ref` once per test binary.
fn xts_ref_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_ref("xts_ref"))
}

/// Builds `aead_ref` once per test binary.
fn aead_ref_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_ref("aead_ref"))
}

/// Builds `tests/common/NAME.c` against libcrypto (into a unique name, then
/// renamed, so test binaries running at the same time do not collide).
fn build_ref(name: &str) -> PathBuf {
    let src = super::repo_root().join(format!("tests/common/{name}.c"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).unwrap();
    let bin = dir.join(name);
    let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&tmp)
        .arg(&src)
        .arg("-lcrypto")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc} (run tests/setup.sh): {e}"));
    assert!(
        out.status.success(),
        "building {name} failed (run tests/setup.sh for gcc and libssl-dev):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &bin).unwrap();
    bin
}

/// One AEAD job for [`aead_batch`].
pub struct AeadJob<'a> {
    /// An AEAD algorithm.
    pub alg: Algorithm,
    /// Seal (`Encrypt`) or open (`Decrypt`).
    pub op: Op,
    /// The key.
    pub key: &'a [u8],
    /// The nonce.
    pub nonce: &'a [u8],
    /// Associated data.
    pub aad: &'a [u8],
    /// Plaintext (seal) or ciphertext (open).
    pub data: &'a [u8],
    /// The expected tag (open; ignored by seal).
    pub tag: &'a [u8],
}

/// What libcrypto answers to an AEAD job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AeadAnswer {
    /// Seal: ciphertext and 16-byte tag.
    Sealed(Vec<u8>, Vec<u8>),
    /// Open: the tag verified; the plaintext.
    Opened(Vec<u8>),
    /// Open: the tag did not verify.
    Failed,
}

/// Runs many AEAD jobs through one `aead_ref` process (`tests/common/aead_ref.c`,
/// `EVP_aes_*_gcm` and `EVP_chacha20_poly1305`); panics on a job libcrypto
/// calls malformed.
pub fn aead_batch(jobs: &[AeadJob<'_>]) -> Vec<AeadAnswer> {
    let f = |b: &[u8]| if b.is_empty() { "-".to_string() } else { hex::encode(b) };
    let mut input = String::new();
    for j in jobs {
        let dir = match j.op {
            Op::Encrypt => 's',
            Op::Decrypt => 'o',
            op => panic!("{op:?} is not an AEAD operation"),
        };
        input += &format!("{dir} {} {} {} {} {} {}\n", j.alg, f(j.key), f(j.nonce), f(j.aad), f(j.data), f(j.tag));
    }
    let bin = aead_ref_binary().to_string_lossy().into_owned();
    let out = pipe(&bin, &[], input.as_bytes());
    let lines: Vec<String> = BufReader::new(&out[..]).lines().map(Result::unwrap).collect();
    assert_eq!(lines.len(), jobs.len(), "aead_ref answered {} of {} jobs", lines.len(), jobs.len());
    let unhex = |s: &str| if s == "-" { Vec::new() } else { hex::decode(s).expect("aead_ref output is hex") };
    lines
        .iter()
        .zip(jobs)
        .map(|(l, j)| match (l.as_str(), j.op) {
            ("ERR", _) => panic!("libcrypto refused the {} job", j.alg),
            ("FAIL", _) => AeadAnswer::Failed,
            (l, Op::Encrypt) => {
                let (c, t) = l.split_once(' ').expect("aead_ref seal answer");
                AeadAnswer::Sealed(unhex(c), unhex(t))
            }
            (l, _) => AeadAnswer::Opened(unhex(l)),
        })
        .collect()
}

/// One XTS job for [`xts_batch`].
pub struct XtsJob<'a> {
    /// Encrypt or decrypt.
    pub op: Op,
    /// Both XTS keys (32 or 64 bytes).
    pub key: &'a [u8],
    /// The 16-byte tweak.
    pub tweak: &'a [u8],
    /// The data unit.
    pub data: &'a [u8],
}

/// Runs many XTS jobs through one `xts_ref` process. `None` where OpenSSL
/// refused the job.
pub fn xts_batch(jobs: &[XtsJob<'_>]) -> Vec<Option<Vec<u8>>> {
    let mut input = String::new();
    for j in jobs {
        let dir = match j.op {
            Op::Encrypt => 'e',
            Op::Decrypt => 'd',
            op => panic!("{op:?} is not a cipher operation"),
        };
        input.push_str(&format!("{dir} {} {} {}\n", hex::encode(j.key), hex::encode(j.tweak), hex::encode(j.data)));
    }
    let bin = xts_ref_binary().to_str().unwrap().to_string();
    let out = pipe(&bin, &[], input.as_bytes());
    let lines: Vec<String> = BufReader::new(&out[..]).lines().map(Result::unwrap).collect();
    assert_eq!(lines.len(), jobs.len(), "xts_ref answered {} of {} jobs", lines.len(), jobs.len());
    lines.iter().map(|l| if l == "ERR" { None } else { Some(hex::decode(l).expect("xts_ref output is hex")) }).collect()
}

/// One XTS operation through OpenSSL's libcrypto; panics if OpenSSL refuses.
pub fn xts(op: Op, key: &[u8], tweak: &[u8], data: &[u8]) -> Vec<u8> {
    xts_batch(&[XtsJob { op, key, tweak, data }]).remove(0).expect("OpenSSL refused the XTS job")
}

/// What OpenSSL computes for `alg`/`op` over `data`: the output data for
/// ciphers, the tag for digests and MACs.
pub fn reference(alg: Algorithm, op: Op, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    match alg {
        Algorithm::Aes { .. } => cipher(alg, op, key, iv, data),
        Algorithm::Digest(d) => digest(d, data),
        Algorithm::Hmac(d) => hmac(d, key, data),
        Algorithm::Rng => panic!("rng has no reference"),
        Algorithm::AesGcm { .. } | Algorithm::ChaCha20Poly1305 => panic!("{alg}: use aead_batch"),
        Algorithm::Rsa { .. } | Algorithm::Ecdsa(_) | Algorithm::X25519 | Algorithm::EcdhP256 => {
            panic!("{alg}: see tests/asym.rs")
        }
    }
}

/// A temporary directory for key and signature files handed to the
/// `openssl` command, removed on drop.
pub struct Dir(PathBuf);

impl Dir {
    /// A fresh directory whose name carries `label`.
    pub fn new(label: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("acrypto-{label}-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A path as the `&str` argument the command takes.
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `openssl ARGS` and returns its output; panics with its stderr if
/// it fails.
pub fn openssl_ok(args: &[&str]) -> Vec<u8> {
    let o = Command::new("openssl").args(args).output().expect("openssl (run tests/setup.sh)");
    assert!(o.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
    o.stdout
}
