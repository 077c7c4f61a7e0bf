//! `acrypto mac` and `acrypto digest`.
//!
//! The engine computes a digest or MAC in one request over the whole
//! message (core has no multi-part hash state that could be carried from
//! one request to the next). So: an input that ends within
//! [`ENGINE_LIMIT`] bytes is one request through the engine; a longer input
//! is streamed through the same RustCrypto primitives the software devices
//! use (`sha1`, `sha2`, `hmac`), on this thread, in fixed-size blocks, so
//! memory stays bounded whatever the input size. `--json` says which path
//! computed the value.
//!
//! The input is read until it ends, never by the size the file system
//! reports: files under /proc and /sys say 0 bytes, and a file may grow
//! while it is read.

use super::{fail, fill, open_input, parse_alg, parse_hex, print_json, CliResult, Context, Progress};
use acrypto::{Algorithm, DigestKind, Engine, Op, OpKind, Request, SessionBuilder};
use clap::Args;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;

/// Inputs up to this size go through the engine as one request.
pub const ENGINE_LIMIT: usize = 16 << 20;
/// Block size of the streamed path.
const STREAM_BLOCK: usize = 1 << 20;

/// Arguments of `mac`.
#[derive(Args, Debug)]
pub struct MacArgs {
    /// hmac-sha1 or hmac-sha256.
    #[arg(short = 'a', long = "alg", value_name = "ALG")]
    alg: String,
    /// Key in hex (any length, including none).
    #[arg(short = 'K', long = "key", value_name = "HEX")]
    key: String,
    #[command(flatten)]
    pub common: HashCommon,
}

/// Arguments of `digest`.
#[derive(Args, Debug)]
pub struct DigestArgs {
    /// sha1 or sha256.
    #[arg(short = 'a', long = "alg", value_name = "ALG")]
    alg: String,
    #[command(flatten)]
    pub common: HashCommon,
}

#[derive(Args, Debug)]
pub struct HashCommon {
    /// Input file (default: stdin).
    #[arg(short = 'i', long = "in", value_name = "IN")]
    pub input: Option<PathBuf>,
    /// Run on this device only. Inputs over 16 MiB are streamed on this thread, not on a
    /// device, so with --device they are refused.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// Print a JSON object instead of the hex value.
    #[arg(long)]
    json: bool,
}

/// Runs `mac`.
pub fn mac(engine: &Engine, a: &MacArgs) -> CliResult<()> {
    let alg = parse_alg(&a.alg, &[OpKind::Mac], "MAC")?;
    let key = parse_hex("--key", &a.key)?;
    compute(engine, alg, &key, &a.common)
}

/// Runs `digest`.
pub fn digest(engine: &Engine, a: &DigestArgs) -> CliResult<()> {
    let alg = parse_alg(&a.alg, &[OpKind::Hash], "digest")?;
    compute(engine, alg, &[], &a.common)
}

/// A streamed digest or MAC, one type for the four algorithms.
enum Streamed {
    Sha1(Sha1),
    Sha256(Sha256),
    HmacSha1(Hmac<Sha1>),
    HmacSha256(Hmac<Sha256>),
}

impl Streamed {
    fn new(alg: Algorithm, key: &[u8]) -> CliResult<Self> {
        let bad_key = |_| fail!("invalid key for {alg}");
        Ok(match alg {
            Algorithm::Digest(DigestKind::Sha1) => Streamed::Sha1(Sha1::new()),
            Algorithm::Digest(DigestKind::Sha256) => Streamed::Sha256(Sha256::new()),
            Algorithm::Hmac(DigestKind::Sha1) => {
                Streamed::HmacSha1(<Hmac<Sha1> as Mac>::new_from_slice(key).map_err(bad_key)?)
            }
            Algorithm::Hmac(DigestKind::Sha256) => {
                Streamed::HmacSha256(<Hmac<Sha256> as Mac>::new_from_slice(key).map_err(bad_key)?)
            }
            _ => return Err(fail!("{alg} is not a digest or MAC")),
        })
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Streamed::Sha1(h) => Digest::update(h, b),
            Streamed::Sha256(h) => Digest::update(h, b),
            Streamed::HmacSha1(m) => m.update(b),
            Streamed::HmacSha256(m) => m.update(b),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Streamed::Sha1(h) => h.finalize().to_vec(),
            Streamed::Sha256(h) => h.finalize().to_vec(),
            Streamed::HmacSha1(m) => m.finalize().into_bytes().to_vec(),
            Streamed::HmacSha256(m) => m.finalize().into_bytes().to_vec(),
        }
    }
}

fn compute(engine: &Engine, alg: Algorithm, key: &[u8], c: &HashCommon) -> CliResult<()> {
    let session = super::session(engine, SessionBuilder::new().step(alg, Op::Digest, key), c.device.as_deref())?;
    let input = open_input(c.input.as_ref())?;
    let (mut input, len) = (input.reader, input.len);
    let mut progress = Progress::new(len);
    // Read up to the limit plus one byte, to know whether the input ends
    // within it (the size the file system reports is only a hint).
    let mut buf = Vec::with_capacity(len.map_or(1 << 16, |n| n as usize).min(ENGINE_LIMIT) + 1);
    let n = (&mut input).take(ENGINE_LIMIT as u64 + 1).read_to_end(&mut buf).ctx("read error")?;
    progress.inc(n as u64);
    let (tag, path, total) = if n <= ENGINE_LIMIT {
        let done = engine.run(&session, Request::new(buf))?;
        (done.tag, "engine", n as u64)
    } else {
        if let Some(d) = &c.device {
            return Err(fail!(
                "--device {d}: inputs over {ENGINE_LIMIT} bytes are streamed on this thread, not on a device \
                 (run without --device)"
            ));
        }
        let mut h = Streamed::new(alg, key)?;
        h.update(&buf);
        let mut total = n as u64;
        buf.resize(STREAM_BLOCK, 0);
        loop {
            let k = fill(&mut input as &mut dyn Read, &mut buf)?;
            h.update(&buf[..k]);
            total += k as u64;
            progress.inc(k as u64);
            if k < buf.len() {
                break;
            }
        }
        (h.finish(), "streamed", total)
    };
    drop(progress);
    let hex = hex::encode(&tag);
    if c.json {
        print_json(&serde_json::json!({
            "algorithm": alg.to_string(),
            "bytes": total,
            "value": hex,
            "computed_by": path,
        }))
    } else {
        super::print_line(&hex)
    }
}
