//! `acrypto enc` / `dec`: a stream through a cipher, as many requests in
//! flight with bounded memory, written in order.
//!
//! Byte-compatible with `openssl enc -ALG -K KEY -iv IV [-d] [-nopad]` for
//! cbc, ecb and ctr: PKCS#7 padding by default for cbc and ecb (`--nopad`
//! turns it off), none for ctr and xts.
//!
//! How the stream is cut into requests (each chunk its own request):
//! - ctr: chunks of `--chunk` bytes (a multiple of 16); chunk k's counter
//!   block is the IV plus (offset / 16), a 128-bit big-endian addition, so
//!   chunks are independent and run in parallel.
//! - cbc decryption: each chunk's IV is the last ciphertext block of the
//!   chunk before it (known from the input), so chunks run in parallel.
//! - cbc encryption: one chain; each chunk's IV is the last ciphertext block
//!   of the chunk before it, so chunks run one after another.
//! - ecb: independent chunks, in parallel.
//! - xts: the stream is a sequence of data units of `--sector-size` bytes
//!   (default 4096). The last unit holds what is left: 16 to sector-size
//!   bytes, or, when fewer than 16 bytes are left over, those bytes joined to
//!   the unit before it (so up to sector-size + 15 bytes); a last unit that
//!   is not a multiple of 16 uses ciphertext stealing. The input must have at
//!   least 16 bytes (or none). Unit n
//!   is encrypted with the tweak IV + n, a 128-bit little-endian addition
//!   (with IV = 0 this is dm-crypt's `plain64` IV: the sector number, little
//!   endian). Units run in parallel.
//!
//! Completions go through a completion queue and a reorder buffer keyed by
//! chunk number, so output is written in input order.

use super::{fail, fill, open_input, parse_alg, parse_hex, usage, CliResult, Output, Progress};
use acrypto::{Algorithm, CipherMode, Completion, CompletionQueue, Engine, Op, OpKind, Request, SessionBuilder};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

const BLOCK: usize = 16;

/// Most bytes of request buffers in flight (the window of parallel
/// requests is cut to fit, but holds at least one).
const IN_FLIGHT_BYTES: usize = 16 << 20;
/// Most requests in flight (`--in-flight`).
const MAX_IN_FLIGHT: i64 = 1024;
/// Largest `--chunk` and `--sector-size`.
const MAX_CHUNK: i64 = 16 << 20;

/// Arguments of `enc`: those of `dec`, and `-d`.
#[derive(Args, Debug)]
pub struct EncArgs {
    #[command(flatten)]
    pub cipher: CipherArgs,
    /// Decrypt.
    #[arg(short = 'd', long = "decrypt")]
    pub decrypt: bool,
}

/// Arguments of `dec` (and, with `-d`, of `enc`).
#[derive(Args, Debug)]
pub struct CipherArgs {
    /// Cipher, as OpenSSL names it: aes-{128,192,256}-{cbc,ecb,ctr}, aes-{128,256}-xts; or an AEAD,
    /// aes-{128,192,256}-gcm or chacha20-poly1305 (the output is the ciphertext and the 16-byte tag;
    /// -d verifies before it writes anything; at most 1 GiB, one request).
    #[arg(short = 'a', long = "alg", alias = "cipher", value_name = "ALG")]
    alg: String,
    /// Key in hex (exactly the cipher's key length; xts: both keys, 32 or 64 bytes).
    #[arg(short = 'K', long = "key", value_name = "HEX")]
    key: String,
    /// IV in hex, 16 bytes (for xts the initial tweak; unused by ecb; AEAD: the 12-byte nonce).
    #[arg(long = "iv", value_name = "HEX")]
    iv: Option<String>,
    /// AEAD associated data in hex (authenticated, not encrypted).
    #[arg(long = "aad", value_name = "HEX")]
    aad: Option<String>,
    /// No PKCS#7 padding for cbc and ecb (the input must be a multiple of 16 bytes).
    #[arg(long)]
    nopad: bool,
    /// Run on this device only (e.g. soft0).
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// Input file (default: stdin).
    #[arg(short = 'i', long = "in", value_name = "IN")]
    pub input: Option<PathBuf>,
    /// Output file (default: stdout). A regular file is replaced only when the command succeeds
    /// (a failure leaves it as it was); a device or FIFO is written directly.
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// xts data unit size in bytes, a multiple of 16 from 16 to 16777216. Unit n is encrypted with
    /// the tweak IV + n (128-bit little endian, dm-crypt's plain64 when IV is 0); a tail under 16
    /// bytes joins the last unit.
    #[arg(long, value_name = "BYTES", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(16..=MAX_CHUNK))]
    sector_size: u32,
    /// Bytes per request for cbc, ecb and ctr, 16 to 16777216 (rounded up to a multiple of 16).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 10,
          value_parser = clap::value_parser!(u32).range(16..=MAX_CHUNK))]
    chunk: u32,
    /// Most requests in flight, 1 to 1024 (default: 8 per device); cut so that at most 16 MiB
    /// of buffers are in flight (at least one request).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_IN_FLIGHT))]
    in_flight: Option<u32>,
}

/// Adds `n` to a 128-bit big-endian counter block (ctr).
pub fn add_be(iv: &[u8; BLOCK], n: u128) -> [u8; BLOCK] {
    u128::from_be_bytes(*iv).wrapping_add(n).to_be_bytes()
}

/// Adds `n` to a 128-bit little-endian tweak (xts).
pub fn add_le(iv: &[u8; BLOCK], n: u128) -> [u8; BLOCK] {
    u128::from_le_bytes(*iv).wrapping_add(n).to_le_bytes()
}

/// Holds back the last block written, so PKCS#7 padding can be checked and
/// removed once the stream ends.
struct HoldLast {
    held: Vec<u8>,
}

impl HoldLast {
    fn write(&mut self, out: &mut Output, data: &[u8]) -> CliResult<()> {
        if data.len() >= BLOCK {
            out.write(&self.held)?;
            out.write(&data[..data.len() - BLOCK])?;
            self.held.clear();
            self.held.extend_from_slice(&data[data.len() - BLOCK..]);
        } else {
            self.held.extend_from_slice(data);
            if self.held.len() > BLOCK {
                let extra = self.held.len() - BLOCK;
                out.write(&self.held[..extra])?;
                self.held.drain(..extra);
            }
        }
        Ok(())
    }

    /// Checks the padding of the last block and writes what it protects.
    fn finish(self, out: &mut Output) -> CliResult<()> {
        let bad = || fail!("bad decrypt: bad padding (wrong key or IV, or corrupt or truncated data)");
        if self.held.len() != BLOCK {
            return Err(bad());
        }
        let p = self.held[BLOCK - 1] as usize;
        if p == 0 || p > BLOCK || self.held[BLOCK - p..].iter().any(|&b| b as usize != p) {
            return Err(bad());
        }
        out.write(&self.held[..BLOCK - p])
    }
}

/// Cuts the input into requests. For xts it looks one data unit ahead so
/// that a tail shorter than 16 bytes joins the unit before it (which then
/// is up to `sector_size + 15` bytes, with ciphertext stealing).
struct Chunker {
    chunk: usize,
    xts: bool,
    pending: Option<Vec<u8>>,
    eof: bool,
}

impl Chunker {
    /// The next chunk (reusing `buf`) and whether it is the last one;
    /// `None` once the last was handed out. The last chunk may be empty.
    fn next(&mut self, input: &mut dyn Read, mut buf: Vec<u8>) -> CliResult<Option<(Vec<u8>, bool)>> {
        loop {
            if self.eof {
                return Ok(self.pending.take().map(|p| (p, true)));
            }
            buf.resize(self.chunk, 0);
            let n = fill(input, &mut buf)?;
            buf.truncate(n);
            self.eof = n < self.chunk;
            if !self.xts {
                return Ok(Some((buf, self.eof)));
            }
            match self.pending.take() {
                None if self.eof => return Ok(Some((buf, true))),
                None => {
                    self.pending = Some(buf);
                    buf = Vec::new();
                }
                Some(mut p) if self.eof && n < BLOCK => {
                    p.extend_from_slice(&buf);
                    return Ok(Some((p, true)));
                }
                Some(p) => {
                    self.pending = Some(buf);
                    return Ok(Some((p, false)));
                }
            }
        }
    }
}

/// A chunk from the reader thread and whether it is the last one.
type ReadChunk = CliResult<(Vec<u8>, bool)>;

/// Chunks read ahead of the submitting thread, at most (fewer for large
/// chunks, so that they hold at most a quarter of [`IN_FLIGHT_BYTES`]).
const READ_AHEAD: usize = 4;

/// Reads chunks on a thread of their own, so reading overlaps the crypto
/// and the writing (a serial cbc chain gains most). Buffers come back
/// through the second channel for reuse. The thread is not joined: when
/// the command fails it may still sit in a `read`, and ends with the
/// process.
fn spawn_reader(mut chunker: Chunker, mut input: Box<dyn Read + Send>) -> (Receiver<ReadChunk>, Sender<Vec<u8>>) {
    let (tx, rx) = sync_channel((IN_FLIGHT_BYTES / 4 / chunker.chunk).clamp(1, READ_AHEAD));
    let (recycle, free) = channel::<Vec<u8>>();
    std::thread::spawn(move || loop {
        let buf = free.try_recv().unwrap_or_default();
        match chunker.next(&mut input, buf) {
            Ok(Some((b, last))) => {
                if tx.send(Ok((b, last))).is_err() || last {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    });
    (rx, recycle)
}

/// Runs `enc` (or `dec` when `decrypt`).
pub fn run(engine: &Engine, a: &CipherArgs, decrypt: bool) -> CliResult<()> {
    let alg = parse_alg(&a.alg, &[OpKind::Cipher, OpKind::Aead], "cipher")?;
    if alg.kind() == OpKind::Aead {
        let args = super::aead::AeadArgs {
            alg,
            key: &a.key,
            iv: a.iv.as_deref(),
            aad: a.aad.as_deref(),
            device: a.device.as_deref(),
            input: a.input.as_ref(),
            output: a.output.as_ref(),
            decrypt,
        };
        return super::aead::run(engine, &args);
    }
    if a.aad.is_some() {
        return Err(usage!("--aad applies to the AEAD algorithms only, not {alg}"));
    }
    let Algorithm::Aes { mode, .. } = alg else { unreachable!("parse_alg returned a cipher") };
    let key = parse_hex("--key", &a.key)?;
    alg.check_key(&key).map_err(|e| usage!("{e}"))?;
    let iv: [u8; BLOCK] = match (mode, &a.iv) {
        (CipherMode::Ecb, _) => [0; BLOCK],
        (_, None) => return Err(usage!("{alg} needs --iv (16 bytes in hex)")),
        (_, Some(h)) => {
            let v = parse_hex("--iv", h)?;
            v.as_slice()
                .try_into()
                .map_err(|_| usage!("invalid IV: {alg} takes a 16-byte IV, got {} bytes", v.len()))?
        }
    };
    let sector_size = a.sector_size as usize;
    if mode == CipherMode::Xts && !sector_size.is_multiple_of(BLOCK) {
        return Err(usage!("--sector-size must be a multiple of 16 from 16 to 16777216, got {sector_size}"));
    }
    let pad = matches!(mode, CipherMode::Cbc | CipherMode::Ecb) && !a.nopad;
    let op = if decrypt { Op::Decrypt } else { Op::Encrypt };
    let session = super::session(engine, SessionBuilder::new().step(alg, op, &key).ordered(true), a.device.as_deref())?;

    let serial = mode == CipherMode::Cbc && !decrypt;
    let chunk = match mode {
        CipherMode::Xts => sector_size,
        // One chain: bigger requests, fewer round trips.
        _ if serial => (a.chunk as usize).max(256 << 10).div_ceil(BLOCK) * BLOCK,
        _ => (a.chunk as usize).div_ceil(BLOCK) * BLOCK,
    };
    let window = if serial {
        1
    } else {
        let want = a.in_flight.map_or(8 * engine.devices().len().max(1), |n| n as usize);
        want.min(MAX_IN_FLIGHT as usize).min((IN_FLIGHT_BYTES / chunk).max(1))
    };

    let input = open_input(a.input.as_ref())?;
    let mut out = Output::open(a.output.as_ref())?;
    if let (Some(i), Some(o)) = (input.id, out.id()) {
        if i == o {
            let name = |p: Option<&PathBuf>, std: &str| {
                p.filter(|p| p.as_os_str() != "-").map_or(std.to_string(), |p| p.display().to_string())
            };
            return Err(usage!(
                "input and output are the same file ({} and {}): that would destroy it",
                name(a.input.as_ref(), "stdin"),
                name(a.output.as_ref(), "stdout")
            ));
        }
    }
    let (input, len) = (input.reader, input.len);
    let mut progress = Progress::new(len);
    let mut hold = (pad && decrypt).then(|| HoldLast { held: Vec::with_capacity(2 * BLOCK) });

    let cq = CompletionQueue::new();
    let mut reorder: BTreeMap<u64, Request> = BTreeMap::new();
    let (mut next, mut to_write, mut in_flight) = (0u64, 0u64, 0usize);
    let mut offset: u64 = 0;
    // cbc: the IV of the next chunk (the last ciphertext block so far).
    let mut chain = iv;

    let chunker = Chunker { chunk, xts: mode == CipherMode::Xts, pending: None, eof: false };
    let (chunks, recycle) = spawn_reader(chunker, input);
    let mut reading = true;
    loop {
        while reading && in_flight < window {
            let (mut buf, last) = match chunks.recv() {
                Ok(chunk) => chunk?,
                Err(_) => {
                    reading = false;
                    break;
                }
            };
            reading = !last;
            let n = buf.len();
            if n == 0 && (decrypt || !pad) {
                break;
            }
            if last && n % BLOCK != 0 {
                match mode {
                    CipherMode::Cbc | CipherMode::Ecb if decrypt => {
                        return Err(fail!(
                            "bad decrypt: truncated ciphertext ({} bytes is not a multiple of 16)",
                            offset + n as u64
                        ))
                    }
                    CipherMode::Cbc | CipherMode::Ecb if !pad => {
                        return Err(fail!(
                            "data not a multiple of the block length ({} bytes; --nopad needs a multiple of 16)",
                            offset + n as u64
                        ))
                    }
                    CipherMode::Xts if n < BLOCK => {
                        return Err(fail!("xts needs at least 16 bytes of input, got {}", offset + n as u64))
                    }
                    _ => {}
                }
            }
            if last && pad && !decrypt {
                let p = BLOCK - n % BLOCK;
                buf.resize(n + p, p as u8);
            }
            let req_iv: Vec<u8> = match mode {
                CipherMode::Ecb => Vec::new(),
                CipherMode::Ctr => add_be(&iv, (offset / BLOCK as u64) as u128).to_vec(),
                CipherMode::Xts => add_le(&iv, (offset / sector_size as u64) as u128).to_vec(),
                CipherMode::Cbc => {
                    let this = chain.to_vec();
                    if decrypt {
                        chain.copy_from_slice(&buf[buf.len() - BLOCK..]);
                    }
                    this
                }
            };
            offset += n as u64;
            progress.inc(n as u64);
            let req = Request::new(buf).with_iv(&req_iv).with_user(next);
            engine.submit_blocking(&session, req, Completion::Queue(cq.clone()))?;
            next += 1;
            in_flight += 1;
        }
        if in_flight == 0 {
            break;
        }
        for done in cq.wait(window) {
            in_flight -= 1;
            let seq = done.request.user;
            let req = done.into_result()?;
            reorder.insert(seq, req);
        }
        while let Some(req) = reorder.remove(&to_write) {
            if serial {
                let d = &req.data;
                chain.copy_from_slice(&d[d.len() - BLOCK..]);
            }
            match &mut hold {
                Some(h) => h.write(&mut out, &req.data)?,
                None => out.write(&req.data)?,
            }
            let _ = recycle.send(req.data);
            to_write += 1;
        }
    }
    if let Some(h) = hold {
        h.finish(&mut out)?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_carry_across_bytes() {
        let mut iv = [0u8; BLOCK];
        iv[15] = 0xff;
        assert_eq!(add_be(&iv, 1)[14..], [1, 0]);
        assert_eq!(add_be(&[0xff; BLOCK], 1), [0; BLOCK]);
        let mut t = [0u8; BLOCK];
        t[0] = 0xff;
        assert_eq!(add_le(&t, 1)[..2], [0, 1]);
    }
}
