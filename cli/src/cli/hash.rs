//! `acrypto mac` and `acrypto digest`.
//!
//! Every input streams through the engine: a [`Stream`](acrypto::Stream)
//! on a one-step session, fed in [`CHUNK`]-byte updates, so memory stays
//! bounded (one chunk and the device's running state) whatever the input
//! size, and `--device` holds for inputs of any length. The device keeps
//! the running hash between updates as exported state (DESIGN.md §3,
//! Streams), so a device that breaks mid-way is replaced by another of the
//! same kind, or the command fails with a clear error.
//!
//! The input is read until it ends, never by the size the file system
//! reports: files under /proc and /sys say 0 bytes, and a file may grow
//! while it is read.

use super::{fill, open_input, parse_alg, parse_hex, print_json, CliResult, Progress};
use acrypto::{Algorithm, Engine, Op, OpKind, SessionBuilder};
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

/// Bytes per update (one request).
pub const CHUNK: usize = 1 << 20;

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
    /// Run on this device only (it must keep stream state for the algorithm).
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

fn compute(engine: &Engine, alg: Algorithm, key: &[u8], c: &HashCommon) -> CliResult<()> {
    let session = super::session(engine, SessionBuilder::new().step(alg, Op::Digest, key), c.device.as_deref())?;
    let mut stream = engine.stream(&session, &[])?;
    let input = open_input(c.input.as_ref())?;
    let (mut input, len) = (input.reader, input.len);
    let mut progress = Progress::new(len);
    let mut buf = vec![0u8; CHUNK];
    let (mut total, mut requests) = (0u64, 0u64);
    loop {
        let k = fill(&mut input as &mut dyn Read, &mut buf)?;
        if k > 0 {
            stream.update(&buf[..k], &mut Vec::new())?;
            requests += 1;
        }
        total += k as u64;
        progress.inc(k as u64);
        if k < buf.len() {
            break;
        }
    }
    let tag = stream.finish(&mut Vec::new())?;
    drop(progress);
    let hex = hex::encode(&tag);
    if c.json {
        print_json(&serde_json::json!({
            "algorithm": alg.to_string(),
            "bytes": total,
            "value": hex,
            "computed_by": "engine",
            "requests": requests + 1,
        }))
    } else {
        super::print_line(&hex)
    }
}
