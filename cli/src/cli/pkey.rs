//! `acrypto pkeyutl` and `acrypto dgst -sign/-verify`: the asymmetric
//! operations with the options of `openssl pkeyutl` and `openssl dgst`
//! (single-dash long options as OpenSSL spells them are accepted).
//!
//! - `pkeyutl -sign/-verify`: the input is a SHA-256 digest (as `openssl
//!   pkeyutl -pkeyopt digest:sha256` takes it); `dgst -sha256 -sign` hashes
//!   the message itself.
//! - Keys: PEM (`PRIVATE KEY`, `PUBLIC KEY`) or DER, PKCS#8 or
//!   SubjectPublicKeyInfo; the algorithm follows from the key (and for RSA
//!   from `-pkeyopt rsa_padding_mode:pkcs1|pss|oaep`, default pkcs1).
//! - A key may instead be a reference to a key that stays in a device, as
//!   `openssl` takes one with a pkcs11 provider: `-inkey 'pkcs11:object=LABEL'`
//!   (RFC 7512; with `--devices pkcs11:MODULE.so?pin-source=FILE`). The
//!   algorithm is the first of the key's kind the device accepts (RSA
//!   2048/3072/4096 with the padding asked for, ECDSA P-256/P-384, ECDH
//!   P-256): the device checks the object's type and size.
//! - A signature that does not verify prints OpenSSL's failure line and
//!   exits 1.

use super::{fail, open_input, usage, CliResult, Output};
use acrypto::drivers::asym::{describe, pem_to_der, KeyType};
use acrypto::{Algorithm, EcCurve, Engine, Error, Op, Request, RsaPadding, SessionBuilder};
use clap::Args;
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Arguments of `pkeyutl`.
#[derive(Args, Debug)]
pub struct PkeyutlArgs {
    /// Sign the input (a SHA-256 digest).
    #[arg(long)]
    sign: bool,
    /// Verify the signature in -sigfile over the input (a SHA-256 digest).
    #[arg(long)]
    verify: bool,
    /// Encrypt the input with an RSA public key.
    #[arg(long)]
    encrypt: bool,
    /// Decrypt the input with an RSA private key.
    #[arg(long)]
    decrypt: bool,
    /// Derive a shared secret with -peerkey.
    #[arg(long)]
    derive: bool,
    /// The key (PEM or DER), or a key reference (`pkcs11:object=LABEL`).
    #[arg(long, value_name = "FILE|URI")]
    inkey: PathBuf,
    /// The key is a public key (accepted for OpenSSL compatibility; the key says what it is).
    #[arg(long)]
    pubin: bool,
    /// PEM or DER (accepted; the format is recognised).
    #[arg(long, value_name = "FORM")]
    keyform: Option<String>,
    /// The peer's public key for -derive (PEM or DER).
    #[arg(long, value_name = "FILE")]
    peerkey: Option<PathBuf>,
    /// PEM or DER (accepted; the format is recognised).
    #[arg(long, value_name = "FORM")]
    peerform: Option<String>,
    /// The signature to verify.
    #[arg(long, value_name = "FILE")]
    sigfile: Option<PathBuf>,
    /// Options as `openssl pkeyutl -pkeyopt`: rsa_padding_mode:pkcs1|pss|oaep, digest:sha256, …
    #[arg(long, value_name = "OPT:VALUE")]
    pkeyopt: Vec<String>,
    /// Input file (default: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Output file (default: stdout).
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Run on this device only.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
}

/// Arguments of `dgst` (signing and verifying; plain digests are `digest`).
#[derive(Args, Debug)]
pub struct DgstArgs {
    /// SHA-256 (the only digest of the asymmetric algorithms).
    #[arg(long)]
    sha256: bool,
    /// Sign with this private key.
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Verify with this public key.
    #[arg(long, value_name = "KEY")]
    verify: Option<PathBuf>,
    /// Verify with this private key's public half.
    #[arg(long, value_name = "KEY")]
    prverify: Option<PathBuf>,
    /// The signature to verify.
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
    /// PEM or DER (accepted; the format is recognised).
    #[arg(long, value_name = "FORM")]
    keyform: Option<String>,
    /// Signature options as `openssl dgst -sigopt`: rsa_padding_mode:pkcs1|pss.
    #[arg(long, value_name = "OPT:VALUE")]
    sigopt: Vec<String>,
    /// Output file (default: stdout).
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Run on this device only.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// The message (default: stdin).
    pub file: Option<PathBuf>,
}

/// OpenSSL spells long options with one dash (`-sign`, `-inkey`): for the
/// commands that follow it, `-word` becomes `--word`.
pub fn openssl_style(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut in_cmd = false;
    for a in args {
        if !in_cmd && (a == "pkeyutl" || a == "dgst") {
            in_cmd = true;
            out.push(a);
            continue;
        }
        let single = a.len() > 2
            && a.starts_with('-')
            && !a.starts_with("--")
            && a[1..].starts_with(|c: char| c.is_ascii_alphabetic());
        out.push(if in_cmd && single { format!("-{a}") } else { a });
    }
    out
}

fn read_file(p: &Path, what: &str) -> CliResult<Zeroizing<Vec<u8>>> {
    std::fs::read(p).map(Zeroizing::new).map_err(|e| fail!("cannot read {what} {}: {e}", p.display()))
}

/// A key file's DER (PEM is recognised by its armour).
fn load_key(p: &Path) -> CliResult<Zeroizing<Vec<u8>>> {
    let bytes = read_file(p, "key")?;
    if bytes.starts_with(b"-----BEGIN")
        || bytes.iter().take(64).all(|b| b.is_ascii()) && bytes.windows(10).any(|w| w == b"-----BEGIN")
    {
        pem_to_der(&bytes).map_err(|e| usage!("{}: {e}", p.display()))
    } else {
        Ok(bytes)
    }
}

fn read_input(p: Option<&PathBuf>) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    open_input(p)?.reader.read_to_end(&mut buf).map_err(|e| fail!("cannot read input: {e}"))?;
    Ok(buf)
}

/// A key as the command line names it: a file's DER, or a reference to a
/// key a device holds.
enum KeyArg {
    Der(Zeroizing<Vec<u8>>),
    Reference(String),
}

/// The scheme of the key references the CLI passes on (RFC 7512).
const REFERENCE_SCHEME: &str = "pkcs11:";

fn key_arg(p: &Path) -> CliResult<KeyArg> {
    match p.to_str() {
        Some(t) if t.starts_with(REFERENCE_SCHEME) => Ok(KeyArg::Reference(t.to_string())),
        _ => load_key(p).map(KeyArg::Der),
    }
}

/// The session of a reference key for `op`: the first algorithm the
/// device that holds the key accepts it for.
fn reference_session(
    engine: &Engine,
    op: Op,
    pad: Option<RsaPadding>,
    uri: &str,
    device: Option<&str>,
) -> CliResult<acrypto::Session> {
    let mut candidates: Vec<Algorithm> = Vec::new();
    for bits in [2048, 3072, 4096] {
        candidates.push(Algorithm::Rsa { bits, padding: pad.unwrap_or(RsaPadding::Pkcs1) });
    }
    if op == Op::Derive {
        candidates.push(Algorithm::EcdhP256);
    } else {
        candidates.extend([Algorithm::Ecdsa(EcCurve::P256), Algorithm::Ecdsa(EcCurve::P384)]);
    }
    let mut why = None;
    for alg in candidates.into_iter().filter(|a| op.fits(*a)) {
        let sb = SessionBuilder::new().step_reference(alg, op, uri);
        match super::session(engine, sb, device) {
            Ok(s) => return Ok(s),
            // Not held anywhere: no other algorithm changes that.
            Err(e) if e.msg.contains("no device holds it") || e.msg.contains("does not hold") => {
                return Err(usage!("{}", e.msg))
            }
            Err(e) => {
                why.get_or_insert(e.msg);
            }
        }
    }
    Err(usage!(
        "{uri}: no {} key of a supported kind for {}: {}",
        if op.needs_private_key() { "private" } else { "public" },
        format!("{op:?}").to_lowercase(),
        why.unwrap_or_default()
    ))
}

/// Runs one request with `key` (a file's key of type `alg`, or a reference).
fn run_key(
    engine: &Engine,
    key: &KeyArg,
    op: Op,
    pad: Option<RsaPadding>,
    req: Request,
    device: Option<&str>,
) -> CliResult<Result<Request, Error>> {
    match key {
        KeyArg::Der(der) => {
            let (kind, _) = describe(der).map_err(|e| usage!("{e}"))?;
            let alg = algorithm(kind, op, pad)?;
            run_one(engine, alg, op, der, req, device)
        }
        KeyArg::Reference(uri) => {
            let s = reference_session(engine, op, pad, uri, device)?;
            Ok(engine.run(&s, req))
        }
    }
}

/// The padding from `rsa_padding_mode:…` options (other known options are
/// checked and accepted).
fn padding(opts: &[String], flag: &str) -> CliResult<Option<RsaPadding>> {
    let mut pad = None;
    for o in opts {
        let (k, v) = o.split_once(':').ok_or_else(|| usage!("{flag} {o}: expected NAME:VALUE"))?;
        match (k, v) {
            ("rsa_padding_mode", "pkcs1") => pad = Some(RsaPadding::Pkcs1),
            ("rsa_padding_mode", "pss") => pad = Some(RsaPadding::Pss),
            ("rsa_padding_mode", "oaep") => pad = Some(RsaPadding::Oaep),
            ("digest" | "rsa_oaep_md" | "rsa_mgf1_md", "sha256" | "SHA256" | "SHA2-256") => {}
            ("digest" | "rsa_oaep_md" | "rsa_mgf1_md", d) => {
                return Err(usage!("{flag} {k}:{d}: only sha256 is supported"));
            }
            // Signing uses a 32-byte salt (the digest's length); verifying any.
            ("rsa_pss_saltlen", "digest" | "auto" | "32" | "-1") => {}
            (k, v) => return Err(usage!("{flag} {k}:{v}: not supported")),
        }
    }
    Ok(pad)
}

/// The algorithm a key of `kind` does `op` with.
fn algorithm(kind: KeyType, op: Op, pad: Option<RsaPadding>) -> CliResult<Algorithm> {
    Ok(match kind {
        KeyType::Rsa(bits) => {
            let bits = u16::try_from(bits).ok().filter(|b| [2048, 3072, 4096].contains(b));
            let bits = bits.ok_or_else(|| usage!("RSA keys of 2048, 3072 or 4096 bits are supported"))?;
            let padding = pad.unwrap_or(RsaPadding::Pkcs1);
            Algorithm::Rsa { bits, padding }
        }
        KeyType::P256 if op == Op::Derive => Algorithm::EcdhP256,
        KeyType::P256 => Algorithm::Ecdsa(EcCurve::P256),
        KeyType::P384 => Algorithm::Ecdsa(EcCurve::P384),
        KeyType::X25519 => Algorithm::X25519,
    })
}

/// Runs one asymmetric request; a usage-level key error exits 2.
fn run_one(
    engine: &Engine,
    alg: Algorithm,
    op: Op,
    key: &[u8],
    req: Request,
    device: Option<&str>,
) -> CliResult<Result<Request, Error>> {
    if !op.fits(alg) {
        return Err(usage!("{alg} cannot {}", format!("{op:?}").to_lowercase()));
    }
    let session =
        super::session(engine, SessionBuilder::new().step(alg, op, key), device).map_err(|e| usage!("{}", e.msg))?;
    Ok(engine.run(&session, req))
}

fn write_out(path: Option<&PathBuf>, bytes: &[u8]) -> CliResult<()> {
    let mut out = Output::open(path)?;
    out.write(bytes)?;
    out.finish()
}

/// Reports a verification: OpenSSL's lines, exit 1 on failure.
fn verified(r: Result<Request, Error>, ok_line: &str, bad_line: &str, out: Option<&PathBuf>) -> CliResult<()> {
    match r {
        Ok(_) => write_out(out, format!("{ok_line}\n").as_bytes()),
        Err(Error::VerifyFailed) => {
            write_out(out, format!("{bad_line}\n").as_bytes())?;
            Err(fail!("signature verification failed"))
        }
        Err(e) => Err(fail!("{e}")),
    }
}

/// Runs `pkeyutl`.
pub fn pkeyutl(engine: &Engine, a: &PkeyutlArgs) -> CliResult<()> {
    let ops: Vec<Op> = [
        (a.sign, Op::Sign),
        (a.verify, Op::Verify),
        (a.encrypt, Op::Encrypt),
        (a.decrypt, Op::Decrypt),
        (a.derive, Op::Derive),
    ]
    .into_iter()
    .filter_map(|(on, op)| on.then_some(op))
    .collect();
    let [op] = ops[..] else {
        return Err(usage!("pkeyutl needs exactly one of -sign, -verify, -encrypt, -decrypt, -derive"));
    };
    let key = key_arg(&a.inkey)?;
    if let KeyArg::Der(der) = &key {
        let (kind, private) = describe(der).map_err(|e| usage!("{}: {e}", a.inkey.display()))?;
        if a.pubin && private {
            return Err(usage!("-pubin: {} is a private key", a.inkey.display()));
        }
        if op.needs_private_key() && !private {
            return Err(usage!(
                "-{}: {} is a public key; a private key is needed",
                format!("{op:?}").to_lowercase(),
                a.inkey.display()
            ));
        }
        // Refuses an operation the key's algorithm does not do.
        let alg = algorithm(kind, op, padding(&a.pkeyopt, "-pkeyopt")?)?;
        if !op.fits(alg) {
            return Err(usage!("{alg} cannot {}", format!("{op:?}").to_lowercase()));
        }
    }
    let pad = padding(&a.pkeyopt, "-pkeyopt")?;
    let device = a.device.as_deref();
    match op {
        Op::Derive => {
            let peer = a.peerkey.as_ref().ok_or_else(|| usage!("-derive needs -peerkey"))?;
            let peer = load_key(peer)?;
            let secret = Zeroizing::new(
                run_key(engine, &key, op, pad, Request::new(peer.to_vec()), device)?.map_err(|e| fail!("{e}"))?.data,
            );
            write_out(a.output.as_ref(), &secret)
        }
        Op::Sign | Op::Verify => {
            let digest = read_input(a.input.as_ref())?;
            let mut req = Request::new(digest).with_prehashed(true);
            if op == Op::Verify {
                let sig = a.sigfile.as_ref().ok_or_else(|| usage!("-verify needs -sigfile"))?;
                req = req.with_tag(&read_file(sig, "signature")?);
                let r = run_key(engine, &key, op, pad, req, device)?;
                return verified(
                    r,
                    "Signature Verified Successfully",
                    "Signature Verification Failure",
                    a.output.as_ref(),
                );
            }
            let r = run_key(engine, &key, op, pad, req, device)?.map_err(|e| fail!("{e}"))?;
            write_out(a.output.as_ref(), &r.tag)
        }
        _ => {
            let data = Zeroizing::new(read_input(a.input.as_ref())?);
            let r = run_key(engine, &key, op, pad, Request::new(data.to_vec()), device)?.map_err(|e| fail!("{e}"))?;
            let out = Zeroizing::new(r.data);
            write_out(a.output.as_ref(), &out)
        }
    }
}

/// Runs `dgst -sign` / `-verify` / `-prverify`.
pub fn dgst(engine: &Engine, a: &DgstArgs) -> CliResult<()> {
    let (key_path, op) = match (&a.sign, &a.verify, &a.prverify) {
        (Some(k), None, None) => (k, Op::Sign),
        (None, Some(k), None) | (None, None, Some(k)) => (k, Op::Verify),
        _ => {
            return Err(usage!(
                "dgst needs one of -sign KEY, -verify KEY, -prverify KEY (plain digests: acrypto digest)"
            ))
        }
    };
    let key = key_arg(key_path)?;
    let pad = padding(&a.sigopt, "-sigopt")?;
    if pad == Some(RsaPadding::Oaep) {
        return Err(usage!("-sigopt rsa_padding_mode:oaep is an encryption padding"));
    }
    if let KeyArg::Der(der) = &key {
        let (kind, private) = describe(der).map_err(|e| usage!("{}: {e}", key_path.display()))?;
        if op == Op::Sign && !private {
            return Err(usage!("-sign: {} is a public key", key_path.display()));
        }
        let alg = algorithm(kind, op, pad)?;
        if !op.fits(alg) {
            return Err(usage!("{alg} cannot {}", format!("{op:?}").to_lowercase()));
        }
    }
    let msg = read_input(a.file.as_ref())?;
    let device = a.device.as_deref();
    if op == Op::Verify {
        let sig = a.signature.as_ref().ok_or_else(|| usage!("-verify needs -signature FILE"))?;
        let req = Request::new(msg).with_tag(&read_file(sig, "signature")?);
        let r = run_key(engine, &key, op, pad, req, device)?;
        return verified(r, "Verified OK", "Verification failure", a.output.as_ref());
    }
    let r = run_key(engine, &key, op, pad, Request::new(msg), device)?.map_err(|e| fail!("{e}"))?;
    write_out(a.output.as_ref(), &r.tag)
}
