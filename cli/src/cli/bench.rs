//! `acrypto bench`: throughput and latency of the asynchronous path next to
//! direct synchronous calls of the same primitive, measured in the same run
//! (in the spirit of dpdk-test-crypto-perf's throughput and latency modes).
//!
//! - sync: `drivers::crypto::apply_steps` called in a loop on one thread,
//!   one request at a time (what a synchronous library call costs). Its
//!   latency is the time of one call.
//! - async: `--sessions` sessions, each keeping `--batch` requests in flight
//!   through the engine, completions drained from a completion queue and the
//!   buffers resubmitted. Its latency is submission to completion under that
//!   load (so it includes queueing).
//! - async, one in flight (dpdk's latency mode): one session, one request
//!   at a time through the queued path, for a quarter of the time (at most
//!   0.25 s).
//!
//! - openssl (when the `openssl` command exists and `--openssl off` was
//!   not given): `openssl speed -elapsed -evp ALG -bytes N -seconds S`
//!   (`-hmac DIGEST` for HMACs), one stream on one core, run as a child
//!   process in the same run, divided by wall-clock time like the other
//!   figures; the ratio async ÷ openssl stands next to async ÷ sync.
//! - `--mix`: a saturating priority-0 load (the async load above) with one
//!   priority-7 request at a time on the same devices; its p50/p99 next to
//!   the same requests' p99 on idle devices.
//! - `--submit batch`: the async load hands each session's free requests
//!   to `Engine::submit_batch` in one call instead of one `submit` each.
//! - `--devices null:1`: the null device completes at once, so `ns/req`
//!   is the engine's own cost per request.
//!
//! cbc and ecb sizes that are not a multiple of 16 are rounded up to the next
//! block (xts up to 16 bytes at least), and the output says so.

use super::{fail, parse_alg, print_json, usage, CliResult, Context};
use acrypto::drivers::crypto::apply_steps;
use acrypto::{
    Algorithm, CipherMode, Completion, CompletionQueue, Engine, Error, Op, OpKind, Request, Session, SessionBuilder,
};
use clap::Args;
use serde_json::{json, Value};
use std::time::Instant;

/// `println!` that fails with a [`CliError`](super::CliError) instead of
/// panicking when stdout is closed.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, $($t)*).and_then(|()| out.flush()).ctx("write error")?;
    }};
}

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Algorithms, comma-separated.
    #[arg(short = 'a', long = "alg", value_delimiter = ',', default_value = "aes-128-cbc,hmac-sha1")]
    algs: Vec<String>,
    /// Request sizes in bytes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,256,1500,4096,16384")]
    sizes: Vec<usize>,
    /// Sessions the async load spreads over (default: one per device).
    #[arg(long, value_name = "N")]
    sessions: Option<usize>,
    /// Requests each session keeps in flight.
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch: usize,
    /// Seconds per measurement (each of sync and async, per algorithm and size).
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    seconds: f64,
    /// How the async load submits: one request per `submit` call, or every
    /// free request of the window in one `submit_batch` call.
    #[arg(long, value_enum, default_value = "single")]
    submit: SubmitMode,
    /// Also run `openssl speed` for each figure as a baseline (auto: when
    /// the `openssl` command exists).
    #[arg(long, value_enum, default_value = "auto")]
    openssl: OpensslMode,
    /// Also measure priority: a saturating priority-0 load with a trickle
    /// of priority-7 requests on the same devices.
    #[arg(long)]
    mix: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Whether to run the `openssl speed` baseline.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OpensslMode {
    /// When the `openssl` command is found.
    Auto,
    /// Never.
    Off,
}

/// How the async side hands requests to the engine.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SubmitMode {
    /// `Engine::submit`, one request at a time.
    Single,
    /// `Engine::submit_batch` with every request ready to go.
    Batch,
}

impl SubmitMode {
    fn name(self) -> &'static str {
        match self {
            SubmitMode::Single => "single",
            SubmitMode::Batch => "batch",
        }
    }
}

/// One side's figures.
struct Figures {
    ops: u64,
    secs: f64,
    size: usize,
    lat_ns: Vec<u64>,
}

impl Figures {
    fn ops_s(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn mb_s(&self) -> f64 {
        self.ops_s() * self.size as f64 / 1e6
    }
    /// Wall-clock nanoseconds per request (on the null device: what the
    /// engine and this loop cost per request).
    fn ns_per_op(&self) -> f64 {
        if self.ops == 0 {
            return 0.0;
        }
        self.secs * 1e9 / self.ops as f64
    }
    fn quantile_us(&mut self, q: f64) -> f64 {
        if self.lat_ns.is_empty() {
            return 0.0;
        }
        self.lat_ns.sort_unstable();
        let i = ((self.lat_ns.len() as f64 * q).ceil() as usize).clamp(1, self.lat_ns.len()) - 1;
        self.lat_ns[i] as f64 / 1e3
    }
    fn json(&mut self) -> Value {
        json!({
            "ops": self.ops,
            "seconds": self.secs,
            "ops_per_sec": self.ops_s(),
            "mb_per_sec": self.mb_s(),
            "ns_per_request": self.ns_per_op(),
            "latency_p50_us": self.quantile_us(0.5),
            "latency_p99_us": self.quantile_us(0.99),
        })
    }
}

/// The size actually run for `alg` when `size` was asked for, and why.
fn effective_size(alg: Algorithm, size: usize) -> (usize, Option<String>) {
    let eff = match alg {
        Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ecb, .. } => size.div_ceil(16).max(1) * 16,
        Algorithm::Aes { mode: CipherMode::Xts, .. } => size.max(16),
        _ => size,
    };
    let note = (eff != size).then(|| format!("{size} rounded up to {eff} ({alg} needs whole 16-byte blocks)"));
    (eff, note)
}

fn op_of(alg: Algorithm) -> Op {
    match alg.kind() {
        OpKind::Cipher | OpKind::Aead => Op::Encrypt,
        OpKind::Hash | OpKind::Mac => Op::Digest,
        OpKind::Rng => Op::Generate,
        OpKind::Asym if matches!(alg, Algorithm::X25519 | Algorithm::EcdhP256) => Op::Derive,
        OpKind::Asym => Op::Sign,
    }
}

fn request(alg: Algorithm, size: usize) -> Request {
    match op_of(alg) {
        // A TLS handshake signs a transcript hash.
        Op::Sign => Request::new(vec![0x5a; 32]).with_prehashed(true),
        // The peer's public key in, the secret to a separate buffer (so
        // that the request can run again).
        Op::Derive => Request::new(asym_material(alg).map_or_else(Vec::new, |(_, peer)| peer)).with_output(Vec::new()),
        // A TLS 1.3 record: the 12-byte nonce and 5 bytes of AAD (its header).
        _ if alg.kind() == OpKind::Aead => Request::new(vec![0x5a; size]).with_iv(&[0x24; 12]).with_aad(&[0x17; 5]),
        _ => Request::new(vec![0x5a; size]).with_iv(&vec![0x24; alg.iv_len()]),
    }
}

/// The asymmetric benchmarks: `-a` name, algorithm.
const ASYM_BENCHES: &[(&str, Algorithm)] = &[
    ("rsa2048-sign", Algorithm::Rsa { bits: 2048, padding: acrypto::RsaPadding::Pkcs1 }),
    ("rsa3072-sign", Algorithm::Rsa { bits: 3072, padding: acrypto::RsaPadding::Pkcs1 }),
    ("rsa4096-sign", Algorithm::Rsa { bits: 4096, padding: acrypto::RsaPadding::Pkcs1 }),
    ("ecdsa-p256-sign", Algorithm::Ecdsa(acrypto::EcCurve::P256)),
    ("x25519", Algorithm::X25519),
    ("ecdh-p256", Algorithm::EcdhP256),
];

/// A private key (PKCS#8 DER) for an asymmetric benchmark and, for key
/// agreement, the peer's public key: the selftest's (they protect nothing).
fn asym_material(alg: Algorithm) -> Option<(Vec<u8>, Vec<u8>)> {
    use super::asym_kats::ASYM_KATS;
    let name = match alg {
        Algorithm::Ecdsa(acrypto::EcCurve::P256) => "ecdh-p256".to_string(),
        a => a.to_string(),
    };
    let k = ASYM_KATS.iter().find(|k| k.alg == name && matches!(k.op, Op::Sign | Op::Derive))?;
    Some((hex::decode(k.key).ok()?, hex::decode(k.input).ok()?))
}

/// `openssl speed` for an asymmetric benchmark: operations per second
/// (sign/s, or ecdh op/s) and the command line.
fn openssl_speed_asym(alg: Algorithm, secs: f64) -> Option<(f64, String)> {
    let what = match alg {
        Algorithm::Rsa { bits, .. } => format!("rsa{bits}"),
        Algorithm::Ecdsa(acrypto::EcCurve::P256) => "ecdsap256".into(),
        Algorithm::X25519 => "ecdhx25519".into(),
        Algorithm::EcdhP256 => "ecdhp256".into(),
        _ => return None,
    };
    let seconds = secs.ceil().max(1.0) as u64;
    let args = ["speed".to_string(), "-elapsed".into(), "-seconds".into(), seconds.to_string(), what];
    let out = std::process::Command::new("openssl").args(&args).stderr(std::process::Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // The result line: "rsa 2048 bits 0.000712s 0.000021s 1404.5 47619.0",
    // "256 bits ecdsa (nistp256) 0.0000s 0.0001s 30000.0 10000.0",
    // " 253 bits ecdh (X25519)   0.0000s  20000.0": sign/s is the last
    // field but one for signatures, op/s the last for ecdh.
    let line = text.lines().rev().find(|l| l.contains(" bits ") && (l.contains("rsa") || l.contains("ecd")))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let pick = if matches!(alg, Algorithm::X25519 | Algorithm::EcdhP256) { 1 } else { 2 };
    let v: f64 = fields.get(fields.len().checked_sub(pick)?)?.parse().ok()?;
    Some((v, format!("openssl {}", args.join(" "))))
}

/// `bench` for asymmetric operations: operations per second through the
/// engine next to the same-run synchronous call and `openssl speed`.
fn run_asym(
    engine: &Engine,
    a: &BenchArgs,
    algs: &[Algorithm],
    use_openssl: bool,
    nsessions: usize,
) -> CliResult<Value> {
    if !a.json {
        outln!(
            "{:<16} {:>11} {:>11} {:>6} {:>11} {:>8} {:>15} {:>15}",
            "asymmetric",
            "sync op/s",
            "async op/s",
            "ratio",
            "ossl op/s",
            "vs ossl",
            "sync p50/p99us",
            "async p50/p99us"
        );
    }
    let mut rows = Vec::new();
    for &alg in algs {
        let (key, _) = asym_material(alg).ok_or_else(|| fail!("bench: no key for {alg}"))?;
        let sessions = (0..nsessions)
            .map(|_| engine.session(SessionBuilder::new().step(alg, op_of(alg), &key)))
            .collect::<acrypto::Result<Vec<_>>>()?;
        async_side(engine, &sessions, alg, 0, a.batch, (a.seconds / 20.0).min(0.05), a.submit)?;
        let mut sync = sync_side(&sessions[0], alg, 0, a.seconds)?;
        let mut asy = async_side(engine, &sessions, alg, 0, a.batch, a.seconds, a.submit)?;
        let ratio = asy.ops_s() / sync.ops_s();
        let ossl = if use_openssl { openssl_speed_asym(alg, a.seconds) } else { None };
        let vs = ossl.as_ref().map(|(o, _)| asy.ops_s() / o);
        let name = ASYM_BENCHES.iter().find(|(_, x)| *x == alg).map_or(alg.to_string(), |(n, _)| n.to_string());
        if !a.json {
            outln!(
                "{:<16} {:>11.0} {:>11.0} {:>5.2}x {:>11} {:>8} {:>15} {:>15}",
                name,
                sync.ops_s(),
                asy.ops_s(),
                ratio,
                ossl.as_ref().map_or("-".to_string(), |(o, _)| format!("{o:.0}")),
                vs.map_or("-".to_string(), |r| format!("{r:.2}x")),
                format!("{:.1}/{:.1}", sync.quantile_us(0.5), sync.quantile_us(0.99)),
                format!("{:.1}/{:.1}", asy.quantile_us(0.5), asy.quantile_us(0.99)),
            );
        }
        rows.push(json!({
            "benchmark": name,
            "algorithm": alg.to_string(),
            "sync_ops_per_sec": sync.ops_s(),
            "async_ops_per_sec": asy.ops_s(),
            "ratio": ratio,
            "openssl": ossl.as_ref().map(|(o, cmd)| json!({ "ops_per_sec": o, "command": cmd })),
            "vs_openssl": vs,
        }));
    }
    if use_openssl && !a.json {
        outln!("openssl: `openssl speed -elapsed rsaN|ecdsap256|ecdhx25519|ecdhp256` (sign/s or op/s), single process");
    }
    Ok(Value::Array(rows))
}

/// Direct synchronous calls on this thread: throughput for `secs`, then a
/// shorter pass timing every call.
fn sync_side(s: &Session, alg: Algorithm, size: usize, secs: f64) -> CliResult<Figures> {
    let mut req = request(alg, size);
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..64 {
            // A new run each time, as a submission starts one.
            req.start_run();
            apply_steps(s.steps(), &mut req)?;
        }
        ops += 64;
    }
    let took = start.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    let lat_start = Instant::now();
    let lat_secs = (secs / 4.0).min(0.25);
    while lat_start.elapsed().as_secs_f64() < lat_secs || lat.is_empty() {
        let t = Instant::now();
        req.start_run();
        apply_steps(s.steps(), &mut req)?;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    Ok(Figures { ops, secs: took, size, lat_ns: lat })
}

/// Pipelined submissions over several sessions for `secs`.
fn async_side(
    engine: &Engine,
    sessions: &[Session],
    alg: Algorithm,
    size: usize,
    batch: usize,
    secs: f64,
    mode: SubmitMode,
) -> CliResult<Figures> {
    let window = sessions.len() * batch;
    let cq = CompletionQueue::new();
    let mut free: Vec<Request> = (0..window).map(|i| request(alg, size).with_user(i as u64)).collect();
    let mut sent = vec![Instant::now(); window];
    let mut lat = Vec::with_capacity(1 << 16);
    let (mut ops, mut in_flight) = (0u64, 0usize);
    let start = Instant::now();
    let mut took;
    loop {
        took = start.elapsed();
        if took.as_secs_f64() >= secs {
            break;
        }
        match mode {
            SubmitMode::Single => {
                while let Some(r) = free.pop() {
                    let slot = r.user as usize;
                    sent[slot] = Instant::now();
                    match engine.submit(&sessions[slot % sessions.len()], r, Completion::Queue(cq.clone())) {
                        Ok(()) => in_flight += 1,
                        Err(rej) if rej.error == Error::Busy => {
                            free.push(rej.request);
                            break;
                        }
                        Err(rej) => return Err(rej.into()),
                    }
                }
            }
            SubmitMode::Batch => in_flight += submit_batches(engine, sessions, &mut free, &mut sent, &cq)?,
        }
        if in_flight == 0 {
            return Err(fail!("bench: the engine accepts no request (every device busy)"));
        }
        for d in cq.wait(window) {
            let now = Instant::now();
            in_flight -= 1;
            let slot = d.request.user as usize;
            lat.push(now.duration_since(sent[slot]).as_nanos() as u64);
            ops += 1;
            free.push(d.into_result()?);
        }
    }
    while in_flight > 0 {
        for d in cq.wait(window) {
            in_flight -= 1;
            d.into_result()?;
        }
    }
    Ok(Figures { ops, secs: took.as_secs_f64(), size, lat_ns: lat })
}

/// `openssl speed` single-stream throughput of `alg` on `size`-byte
/// buffers, in MB/s, with the command line that measured it. `None` when
/// OpenSSL has no such benchmark (rng) or the command is missing or fails.
fn openssl_speed(alg: Algorithm, size: usize, secs: f64) -> Option<(f64, String)> {
    let what: Vec<String> = match alg {
        Algorithm::Aes { .. } | Algorithm::Digest(_) | Algorithm::AesGcm { .. } | Algorithm::ChaCha20Poly1305 => {
            vec!["-evp".into(), alg.to_string()]
        }
        Algorithm::Hmac(d) => vec!["-hmac".into(), Algorithm::Digest(d).to_string()],
        Algorithm::Rng | Algorithm::Rsa { .. } | Algorithm::Ecdsa(_) | Algorithm::X25519 | Algorithm::EcdhP256 => {
            return None
        }
    };
    // `-seconds` takes whole seconds. `-elapsed` divides by wall-clock time,
    // as every other figure here does (by default `openssl speed` divides
    // by its CPU time, which on a shared machine is not the same thing).
    let seconds = secs.ceil().max(1.0) as u64;
    let mut args = vec!["speed".to_string(), "-elapsed".to_string()];
    args.extend(what);
    args.extend(["-bytes".into(), size.to_string(), "-seconds".into(), seconds.to_string()]);
    let out = std::process::Command::new("openssl").args(&args).stderr(std::process::Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mb = parse_openssl_speed(&String::from_utf8_lossy(&out.stdout))?;
    Some((mb, format!("openssl {}", args.join(" "))))
}

/// The figure of `openssl speed`'s result line (the last line, its last
/// field: thousands of bytes per second with a `k`), in MB/s.
fn parse_openssl_speed(out: &str) -> Option<f64> {
    let line = out.lines().rev().find(|l| !l.trim().is_empty())?;
    let kb: f64 = line.split_whitespace().last()?.strip_suffix('k')?.parse().ok()?;
    Some(kb * 1000.0 / 1e6)
}

/// Priority in latency: a priority-0 load keeps the devices saturated
/// (every session `batch` deep) while one priority-7 request at a time
/// goes through; then the same priority-7 requests on idle devices.
struct Mix {
    load: Figures,
    high: Figures,
    idle: Figures,
}

fn mix_side(
    engine: &Engine,
    alg: Algorithm,
    key: &[u8],
    size: usize,
    a: &BenchArgs,
    low: &[Session],
) -> CliResult<Mix> {
    let high = engine.session(SessionBuilder::new().step(alg, op_of(alg), key).priority(7))?;
    let trickle = |secs: f64| -> CliResult<Figures> {
        let mut req = request(alg, size);
        let mut lat = Vec::new();
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < secs || lat.is_empty() {
            let t = Instant::now();
            let p = engine.submit_pending(&high, req).map_err(|r| r.error)?;
            req = p.wait().into_result()?;
            lat.push(t.elapsed().as_nanos() as u64);
            // A trickle: the next one a little later.
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        Ok(Figures { ops: lat.len() as u64, secs: start.elapsed().as_secs_f64(), size, lat_ns: lat })
    };
    let idle = trickle((a.seconds / 4.0).min(0.25))?;
    let (load, high) = std::thread::scope(|scope| {
        let load = scope.spawn(|| async_side(engine, low, alg, size, a.batch, a.seconds, a.submit));
        // Let the load fill the queues first.
        std::thread::sleep(std::time::Duration::from_secs_f64((a.seconds / 10.0).min(0.05)));
        let high = trickle(a.seconds * 0.8);
        let load = load.join().unwrap_or_else(|_| Err(fail!("bench: the priority-0 load panicked")));
        (load, high)
    });
    Ok(Mix { load: load?, high: high?, idle })
}

/// Submits every free request, one `submit_batch` call per session (a
/// session's requests are the slots `i` with `i % sessions == s`). Returns
/// how many were accepted; refused ones go back to `free`.
fn submit_batches(
    engine: &Engine,
    sessions: &[Session],
    free: &mut Vec<Request>,
    sent: &mut [Instant],
    cq: &CompletionQueue,
) -> CliResult<usize> {
    let now = Instant::now();
    let mut accepted_total = 0;
    if sessions.len() > 1 {
        free.sort_unstable_by_key(|r| r.user as usize % sessions.len());
    }
    let mut rest: Vec<Request> = Vec::new();
    while !free.is_empty() {
        let s = free[0].user as usize % sessions.len();
        let n = free.iter().take_while(|r| r.user as usize % sessions.len() == s).count();
        let items = free.drain(..n).map(|r| {
            sent[r.user as usize] = now;
            (r, Completion::Queue(cq.clone()))
        });
        match engine.submit_batch(&sessions[s], items) {
            Ok(k) => accepted_total += k,
            Err(b) if b.rejected.error == Error::Busy => {
                accepted_total += b.accepted;
                rest.push(b.rejected.request);
                rest.extend(b.rest.into_iter().map(|(r, _)| r));
            }
            Err(b) => return Err(b.rejected.into()),
        }
    }
    free.append(&mut rest);
    Ok(accepted_total)
}

/// Runs `bench`.
pub fn run(engine: &Engine, spec: &str, a: &BenchArgs) -> CliResult<()> {
    if !(a.seconds > 0.0 && a.seconds <= 3600.0) {
        return Err(usage!("--seconds must be above 0 and at most 3600, got {}", a.seconds));
    }
    if a.batch == 0 || a.sessions == Some(0) {
        return Err(usage!("--batch and --sessions must be at least 1"));
    }
    if let Some(s) = a.sizes.iter().find(|&&s| s == 0 || s > 16 << 20) {
        return Err(usage!("sizes must be 1 to 16777216 bytes, got {s}"));
    }
    let (asym_names, names): (Vec<&String>, Vec<&String>) =
        a.algs.iter().partition(|n| ASYM_BENCHES.iter().any(|(b, _)| *b == n.trim()));
    let asym: Vec<Algorithm> =
        asym_names.iter().filter_map(|n| ASYM_BENCHES.iter().find(|(b, _)| *b == n.trim()).map(|(_, x)| *x)).collect();
    let algs = names
        .iter()
        .map(|n| {
            parse_alg(
                n.trim(),
                &[OpKind::Cipher, OpKind::Aead, OpKind::Mac, OpKind::Hash, OpKind::Rng],
                "benchmark algorithm",
            )
            .map_err(|e| {
                let asym: Vec<&str> = ASYM_BENCHES.iter().map(|(b, _)| *b).collect();
                usage!("{} (asymmetric benchmarks: {})", e.msg, asym.join(", "))
            })
        })
        .collect::<CliResult<Vec<_>>>()?;
    let use_openssl = a.openssl == OpensslMode::Auto
        && std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    let ndev = engine.devices().len();
    let nsessions = a.sessions.unwrap_or(ndev.max(1));
    if !a.json {
        outln!(
            "acrypto bench: {ndev} devices ({spec}), {nsessions} sessions x {} in flight, {} submission, {} s per figure",
            a.batch,
            a.submit.name(),
            a.seconds
        );
        outln!("sync: direct call of the primitive on one thread; async: through the engine; ratio = async/sync throughput");
        outln!("latency (us): sync = one call; async = submission to completion under that load; 1-deep = async, one request in flight");
        outln!("ns/req: async wall-clock time per request (on a null device: the engine's own cost per request)");
        if use_openssl {
            outln!("openssl: `openssl speed -elapsed -evp ALG` (hmac: -hmac DIGEST) single stream, same sizes; vs ossl = async/openssl");
        }
        if a.mix {
            outln!(
                "mix: priority-7 requests one at a time under a saturating priority-0 load vs the same on idle devices"
            );
        }
        if !algs.is_empty() {
            outln!(
                "{:<17} {:>6} {:>10} {:>10} {:>6} {:>10} {:>8} {:>11} {:>11} {:>7} {:>15} {:>15} {:>15}",
                "algorithm",
                "bytes",
                "sync MB/s",
                "async MB/s",
                "ratio",
                "ossl MB/s",
                "vs ossl",
                "sync op/s",
                "async op/s",
                "ns/req",
                "sync p50/p99us",
                "async p50/p99us",
                "1-deep p50/p99"
            );
        }
    }
    let mut results = Vec::new();
    let mut notes = Vec::new();
    for &alg in &algs {
        let key: Vec<u8> = match alg.key_len() {
            None => (0..20u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect(),
            Some(n) => (0..n).map(|i| (i as u8).wrapping_mul(37).wrapping_add(11)).collect(),
        };
        let sessions = (0..nsessions)
            .map(|_| engine.session(SessionBuilder::new().step(alg, op_of(alg), &key)))
            .collect::<acrypto::Result<Vec<_>>>()?;
        for &asked in &a.sizes {
            let (size, note) = effective_size(alg, asked);
            // Warm up: worker threads awake, buffers and caches hot.
            async_side(engine, &sessions, alg, size, a.batch, (a.seconds / 20.0).min(0.05), a.submit)?;
            let mut sync = sync_side(&sessions[0], alg, size, a.seconds)?;
            let mut asy = async_side(engine, &sessions, alg, size, a.batch, a.seconds, a.submit)?;
            // Latency mode: one request in flight at a time, through the queue.
            let mut one =
                async_side(engine, &sessions[..1], alg, size, 1, (a.seconds / 4.0).min(0.25), SubmitMode::Single)?;
            let ratio = asy.mb_s() / sync.mb_s();
            let ossl = if use_openssl { openssl_speed(alg, size, a.seconds) } else { None };
            let vs_openssl = ossl.as_ref().map(|(mb, _)| asy.mb_s() / mb);
            let mut mix = if a.mix { Some(mix_side(engine, alg, &key, size, a, &sessions)?) } else { None };
            if !a.json {
                outln!(
                    "{:<17} {:>6} {:>10.1} {:>10.1} {:>5.2}x {:>10} {:>8} {:>11.0} {:>11.0} {:>7.0} {:>15} {:>15} {:>15}",
                    alg.to_string(),
                    if note.is_some() { format!("{size}*") } else { size.to_string() },
                    sync.mb_s(),
                    asy.mb_s(),
                    ratio,
                    ossl.as_ref().map_or("-".to_string(), |(mb, _)| format!("{mb:.1}")),
                    vs_openssl.map_or("-".to_string(), |r| format!("{r:.2}x")),
                    sync.ops_s(),
                    asy.ops_s(),
                    asy.ns_per_op(),
                    format!("{:.1}/{:.1}", sync.quantile_us(0.5), sync.quantile_us(0.99)),
                    format!("{:.1}/{:.1}", asy.quantile_us(0.5), asy.quantile_us(0.99)),
                    format!("{:.1}/{:.1}", one.quantile_us(0.5), one.quantile_us(0.99)),
                );
            }
            if let (Some(m), false) = (mix.as_mut(), a.json) {
                let idle99 = m.idle.quantile_us(0.99);
                outln!(
                    "  mix: priority 7 p50/p99 {:.1}/{:.1} us under priority-0 load ({:.1} MB/s); idle p99 {:.1} us; p99 {:.1}x idle",
                    m.high.quantile_us(0.5),
                    m.high.quantile_us(0.99),
                    m.load.mb_s(),
                    idle99,
                    m.high.quantile_us(0.99) / idle99
                );
            }
            if let Some(n) = &note {
                notes.push(n.clone());
            }
            let (sp50, ap50) = (sync.quantile_us(0.5), asy.quantile_us(0.5));
            let mix_json = mix.as_mut().map(|m| {
                let idle99 = m.idle.quantile_us(0.99);
                json!({
                    "low_priority_load": m.load.json(),
                    "high_priority": m.high.json(),
                    "high_priority_idle": m.idle.json(),
                    "p99_vs_idle_p99": m.high.quantile_us(0.99) / idle99,
                })
            });
            results.push(json!({
                "algorithm": alg.to_string(),
                "size": size,
                "requested_size": asked,
                "note": note,
                "sync": sync.json(),
                "async": asy.json(),
                "async_one_in_flight": one.json(),
                "openssl": ossl.as_ref().map(|(mb, cmd)| json!({ "mb_per_sec": mb, "command": cmd })),
                "mix": mix_json,
                "ratio": {
                    "throughput": ratio,
                    "latency_p50": if sp50 > 0.0 { ap50 / sp50 } else { 0.0 },
                    "vs_openssl": vs_openssl,
                },
            }));
        }
    }
    let asym_results =
        if asym.is_empty() { Value::Array(Vec::new()) } else { run_asym(engine, a, &asym, use_openssl, nsessions)? };
    let st = engine.stats();
    if st.submitted != st.completed_ok + st.completed_err + st.in_flight {
        return Err(fail!("engine counters do not add up: {st:?}"));
    }
    if a.json {
        print_json(&json!({
            "devices": spec,
            "device_count": ndev,
            "sessions": nsessions,
            "batch": a.batch,
            "submit": a.submit.name(),
            "seconds": a.seconds,
            "baseline": "direct synchronous call of the same primitive (drivers::crypto::apply_steps) on one thread",
            "results": results,
            "asymmetric": asym_results,
            "engine": super::devices::stats_json(&st),
        }))
    } else {
        for n in notes {
            outln!("* {n}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_modes_round_up() {
        let cbc: Algorithm = "aes-128-cbc".parse().unwrap();
        assert_eq!(effective_size(cbc, 1500).0, 1504);
        assert!(effective_size(cbc, 4096).1.is_none());
        let ctr: Algorithm = "aes-128-ctr".parse().unwrap();
        assert_eq!(effective_size(ctr, 1500).0, 1500);
    }

    #[test]
    fn every_asymmetric_benchmark_has_a_key() {
        for (name, alg) in ASYM_BENCHES {
            let (key, peer) = asym_material(*alg).unwrap_or_else(|| panic!("{name}"));
            assert!(key.len() > 40, "{name}");
            // Key agreement needs the peer's public key (SubjectPublicKeyInfo DER).
            if op_of(*alg) == Op::Derive {
                assert!(peer.len() > 40, "{name}");
            }
        }
    }

    #[test]
    fn openssl_speed_output_parses() {
        let out = "The 'numbers' are in 1000s of bytes per second processed.\ntype           1504 bytes\nAES-128-CBC    1352697.60k\n\n";
        assert_eq!(parse_openssl_speed(out), Some(1352.6976));
        assert_eq!(parse_openssl_speed("hmac(sha1)      144879.75k"), Some(144.87975));
        assert_eq!(parse_openssl_speed("no figure here"), None);
        assert_eq!(parse_openssl_speed(""), None);
    }
}
