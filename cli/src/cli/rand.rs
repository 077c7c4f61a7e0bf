//! `acrypto rand N`: random bytes from the engine's rng devices.

use super::{print_json, usage, CliResult, Output};
use acrypto::{Algorithm, Completion, CompletionQueue, Engine, Op, Request, SessionBuilder};
use clap::Args;
use std::collections::BTreeMap;

/// Bytes per request.
const CHUNK: usize = 64 << 10;

/// Arguments of `rand`.
#[derive(Args, Debug)]
pub struct RandArgs {
    /// How many bytes.
    #[arg(value_name = "N")]
    n: u64,
    /// Lowercase hex and a newline instead of raw bytes.
    #[arg(long)]
    hex: bool,
    /// A JSON object with the bytes in hex (at most 1 MiB).
    #[arg(long, conflicts_with = "hex")]
    json: bool,
    /// Run on this device only.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
}

/// Runs `rand`.
pub fn run(engine: &Engine, a: &RandArgs) -> CliResult<()> {
    if a.json && a.n > 1 << 20 {
        return Err(usage!("rand --json gives at most 1048576 bytes, asked for {}", a.n));
    }
    let sb = SessionBuilder::new().step(Algorithm::Rng, Op::Generate, &[]).ordered(true);
    let session = super::session(engine, sb, a.device.as_deref())?;
    let mut out = Output::open(None)?;
    let mut collected = Vec::new();
    let window = 4 * engine.devices().len().max(1);
    let cq = CompletionQueue::new();
    let (mut left, mut next, mut to_write, mut in_flight) = (a.n, 0u64, 0u64, 0usize);
    let mut reorder = BTreeMap::new();
    while left > 0 || in_flight > 0 {
        while left > 0 && in_flight < window {
            let n = (left as usize).min(CHUNK);
            left -= n as u64;
            let req = Request::new(vec![0u8; n]).with_user(next);
            engine.submit_blocking(&session, req, Completion::Queue(cq.clone()))?;
            next += 1;
            in_flight += 1;
        }
        for done in cq.wait(window) {
            in_flight -= 1;
            let seq = done.request.user;
            reorder.insert(seq, done.into_result()?.data);
        }
        while let Some(data) = reorder.remove(&to_write) {
            to_write += 1;
            if a.json {
                collected.extend_from_slice(&data);
            } else if a.hex {
                out.write(hex::encode(&data).as_bytes())?;
            } else {
                out.write(&data)?;
            }
        }
    }
    if a.json {
        drop(out);
        return print_json(&serde_json::json!({ "bytes": a.n, "hex": hex::encode(&collected) }));
    }
    if a.hex {
        out.write(b"\n")?;
    }
    out.finish()
}
