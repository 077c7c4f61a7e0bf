//! The kernel-backed devices (`kdev:*` over `/dev/acrypto`, and `afalg`)
//! pass the same checks as the software devices, through the engine:
//!
//! - every known-answer vector (`tests/vectors/`, 11680 cases) on every
//!   kernel device that implements its algorithm, queued in windows so that
//!   the kdev submitter hands the kernel real batches; HMAC cases verify too,
//!   and a tampered tag fails;
//! - random cross-checks against OpenSSL (keys, IVs and lengths up to 16 KiB,
//!   so both the module's copy path and its zero-copy path), encrypt and
//!   decrypt, in place and with a separate output buffer; digests and HMACs
//!   with keys up to 192 bytes, verification of full, truncated and flipped
//!   tags;
//! - two-step routes across kernel devices (encrypt on one, HMAC on another);
//! - random numbers from every kernel RNG driver;
//! - AEAD (aes-*-gcm, chacha20-poly1305) on every kernel device that offers
//!   it: NIST CAVP GCM with its FAIL records and the ChaCha20-Poly1305 files
//!   (RFC 8439), random cases against libcrypto (`tests/common/aead_ref.c`),
//!   and tampering (a flipped bit of tag, AAD, ciphertext or nonce fails to
//!   open and leaves the output buffer holding the ciphertext).
//!
//! The devices exist only where the acrypto module is loaded (and AF_ALG is
//! there): `tests/vm/run.sh` runs this binary inside its VM with
//! `ACRYPTO_REQUIRE_KERNEL=1`, which makes a missing device a failure.
//! Elsewhere the test says it skipped. Each device's outcome is printed as a
//! `RESULT PASS|FAIL` line, which the VM harness counts.
//!
//! OpenSSL's answers for the cross-checks come from the `openssl` command
//! line (and libcrypto for XTS, `tests/common/xts_ref.c`). Spawning openssl
//! hundreds of times under an emulated CPU is slow, so the VM harness makes
//! them on the host first (`write_openssl_reference`, with
//! `ACRYPTO_KDEV_REFERENCE_OUT=FILE`) and hands the file to the guest run
//! (`ACRYPTO_KDEV_REFERENCE=FILE`); without it they are computed here.

mod common;

use acrypto::drivers::{afalg, kdev};
use acrypto::{
    Algorithm, CipherMode, Completion, DeviceInfo, DigestKind, Driver, Engine, Error, Op, OpKind, Pending, Request,
    RsaPadding, Session, SessionBuilder, Step,
};
use common::openssl::{self, AeadAnswer, AeadJob, XtsJob};
use common::rng;
use common::vectors::{self, Case};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Requests in flight per device while running the vectors.
const WINDOW: usize = 192;

fn required() -> bool {
    std::env::var("ACRYPTO_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

/// Set once the skipped drivers were listed.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The engine with every kernel device there is, or why there is none.
fn kernel_engine() -> Option<Engine> {
    // The test harness prints "test NAME ... " without a newline first.
    println!();
    let mut drivers: Vec<Arc<dyn Driver>> = Vec::new();
    match kdev::probe_all() {
        Ok(p) => {
            let show = !QUIET.swap(true, std::sync::atomic::Ordering::SeqCst);
            for (name, why) in p.skipped.iter().filter(|_| show) {
                println!("  note: kdev: kernel driver {name} left out: {why}");
            }
            assert!(
                !required() || !p.devices.is_empty(),
                "ACRYPTO_REQUIRE_KERNEL=1 but /dev/acrypto has no usable driver"
            );
            drivers.extend(p.devices.into_iter().map(|d| Arc::new(d) as Arc<dyn Driver>));
        }
        Err(e) => {
            assert!(!required(), "ACRYPTO_REQUIRE_KERNEL=1 but kdev is unavailable: {e}");
            println!("skipped kdev: {e}");
        }
    }
    match afalg::AfalgDevice::new("afalg") {
        Ok(d) => drivers.push(Arc::new(d)),
        Err(e) => {
            assert!(!required(), "ACRYPTO_REQUIRE_KERNEL=1 but AF_ALG is unavailable: {e}");
            println!("skipped afalg: {e}");
        }
    }
    if drivers.is_empty() {
        println!("skipped: no kernel device here (load kmod-c/acrypto.ko, or run tests/vm/run.sh)");
        return None;
    }
    let mut b = Engine::builder().max_in_flight(1 << 16);
    for d in drivers {
        b = b.device_arc(d);
    }
    let e = b.build().expect("engine with kernel devices");
    // The device list once per process.
    static LISTED: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    LISTED.call_once(|| first = true);
    for d in e.devices().into_iter().filter(|_| first) {
        let algs: Vec<String> = d.capabilities.iter().map(|c| c.alg.to_string()).collect();
        println!("  note: device {} ({:?}): {}", d.name, d.class, algs.join(" "));
    }
    Some(e)
}

fn supports(d: &DeviceInfo, alg: Algorithm) -> bool {
    d.capabilities.iter().any(|c| c.alg == alg)
}

/// Failures and checks of one device.
#[derive(Default)]
struct Tally {
    checks: usize,
    /// Checks of requests above the module's max_buffer (must fail cleanly).
    over_limit: usize,
    /// Hashes above max_buffer, which kdev sends in pieces (must be right).
    in_pieces: usize,
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }
}

/// What a finished request must look like.
enum Want {
    Output(Vec<u8>),
    /// The tag starts with these bytes and has this length (the digest's).
    Tag(Vec<u8>, usize),
    Ok,
    Err(Error),
    /// A device fault (a request above the module's max_buffer).
    Fault,
    /// Random bytes of this length, not all zero.
    Random(usize),
    /// An AEAD seal: this ciphertext and a 16-byte tag starting with these bytes.
    Sealed(Vec<u8>, Vec<u8>),
    /// An AEAD open that fails to verify: the output holds exactly this
    /// ciphertext (no plaintext released) and the data is untouched.
    Rejected(Vec<u8>),
}

struct Check {
    what: String,
    input: Vec<u8>,
    separate: bool,
    want: Want,
}

/// Submits requests on one device with at most [`WINDOW`] in flight and
/// checks each as it finishes.
struct Window<'e> {
    engine: &'e Engine,
    inflight: VecDeque<(Check, Pending)>,
    tally: Tally,
    /// Longest request the device takes (the module's max_buffer for kdev).
    max_len: usize,
}

impl<'e> Window<'e> {
    fn new(engine: &'e Engine, dev: &DeviceInfo) -> Self {
        let max_len = match dev.driver.as_str() {
            "kdev" => kdev::limits().map_or(usize::MAX, |l| l.max_buffer),
            _ => usize::MAX,
        };
        Window { engine, inflight: VecDeque::new(), tally: Tally::default(), max_len }
    }

    fn push(&mut self, s: &Session, req: Request, mut check: Check) {
        // The module's buffer holds an AEAD's AAD too.
        // kdev cuts hashes into pieces of max_buffer (sealed states between).
        let hash = s.steps().iter().all(|st| matches!(st.alg.kind(), OpKind::Hash | OpKind::Mac));
        if req.len() + req.aad.len() > self.max_len && hash {
            self.tally.in_pieces += 1;
        } else if req.len() + req.aad.len() > self.max_len {
            // Above the module's max_buffer: a clean device fault.
            check.want = Want::Fault;
            self.tally.over_limit += 1;
        }
        while self.inflight.len() >= WINDOW {
            self.finish_one();
        }
        let p = Pending::new();
        match self.engine.submit_blocking(s, req, p.completion()) {
            Ok(()) => self.inflight.push_back((check, p)),
            Err(r) => self.tally.fail(format!("{}: refused: {}", check.what, r.error)),
        }
    }

    fn finish_one(&mut self) {
        let Some((c, p)) = self.inflight.pop_front() else { return };
        self.tally.checks += 1;
        let done = p.wait();
        if let Want::Rejected(ct) = &c.want {
            let r = &done.request;
            let bad = match &done.status {
                Err(Error::VerifyFailed) if r.output() == &ct[..] && r.data == *ct => None,
                Err(Error::VerifyFailed) => Some(format!(
                    "verify failed but the output is {} (data {}), not the ciphertext",
                    common::hex(r.output()),
                    common::hex(&r.data)
                )),
                other => Some(format!("expected VerifyFailed, got {other:?}")),
            };
            if let Some(b) = bad {
                self.tally.fail(format!("{}: {b}", c.what));
            }
            return;
        }
        let res = done.status.map(|()| done.request);
        let bad = match (&c.want, res) {
            (Want::Err(e), Err(got)) if *e == got => None,
            (Want::Err(e), other) => Some(format!("expected {e}, got {:?}", other.map(|_| "success"))),
            (Want::Fault, Err(got)) if got.is_device_fault() => None,
            (Want::Fault, other) => Some(format!("expected a device fault, got {:?}", other.map(|_| "success"))),
            (_, Err(e)) => Some(format!("failed: {e}")),
            (Want::Ok, Ok(_)) => None,
            (Want::Output(w), Ok(r)) => {
                if r.output() != &w[..] {
                    Some(format!("output {}, want {}", common::hex(r.output()), common::hex(w)))
                } else if c.separate && r.data != c.input {
                    Some("input changed with a separate output".into())
                } else {
                    None
                }
            }
            (Want::Tag(w, len), Ok(r)) => (!r.tag.starts_with(w) || r.tag.len() != *len).then(|| {
                format!("tag {} ({} bytes), want {} ({len} bytes)", common::hex(&r.tag), r.tag.len(), common::hex(w))
            }),
            (Want::Random(n), Ok(r)) => (r.data.len() != *n || (*n >= 16 && r.data.iter().all(|&b| b == 0)))
                .then(|| format!("{} random bytes, want {n}", r.data.len())),
            (Want::Sealed(ct, tag), Ok(r)) => (r.output() != &ct[..] || r.tag.len() != 16 || !r.tag.starts_with(tag))
                .then(|| {
                    format!(
                        "sealed {} tag {}, want {} tag {}",
                        common::hex(r.output()),
                        common::hex(&r.tag),
                        common::hex(ct),
                        common::hex(tag)
                    )
                }),
            (Want::Rejected(_), Ok(_)) => Some("a tampered open succeeded".into()),
        };
        if let Some(b) = bad {
            self.tally.fail(format!("{}: {b}", c.what));
        }
    }

    fn finish(mut self) -> Tally {
        while !self.inflight.is_empty() {
            self.finish_one();
        }
        self.tally
    }
}

fn session(e: &Engine, step: Step, device: &str) -> Result<Session, Error> {
    e.session(SessionBuilder::new().push(step).bind(device))
}

/// Every vector case of the algorithms `dev` implements.
fn run_vectors(e: &Engine, dev: &DeviceInfo, cases: &[Case], w: &mut Window<'_>) -> usize {
    let mut n = 0;
    for (i, c) in cases.iter().filter(|c| supports(dev, c.alg)).enumerate() {
        n += 1;
        let what = format!("{} {c:?}", dev.name);
        let step = match Step::new(c.alg, c.op, &c.key) {
            Ok(s) => s,
            Err(err) => {
                w.tally.fail(format!("{what}: step: {err}"));
                continue;
            }
        };
        let s = match session(e, step, &dev.name) {
            Ok(s) => s,
            Err(err) => {
                w.tally.fail(format!("{what}: session: {err}"));
                continue;
            }
        };
        let separate = c.alg.kind() == OpKind::Cipher && i % 3 == 2;
        let mut req = Request::new(c.input.clone()).with_iv(&c.iv);
        if separate {
            req = req.with_output(Vec::new());
        }
        let want = match c.op {
            Op::Encrypt | Op::Decrypt => Want::Output(c.expected.clone()),
            Op::Digest => Want::Tag(c.expected.clone(), c.alg.digest_len()),
            _ => Want::Ok,
        };
        if c.op == Op::Verify {
            req = req.with_tag(&c.expected);
            // The same with the last bit flipped must fail.
            let mut bad = c.expected.clone();
            *bad.last_mut().unwrap() ^= 1;
            let treq = Request::new(c.input.clone()).with_tag(&bad);
            let check = Check {
                what: format!("{what} tampered"),
                input: Vec::new(),
                separate: false,
                want: Want::Err(Error::VerifyFailed),
            };
            w.push(&s, treq, check);
        }
        w.push(&s, req, Check { what, input: c.input.clone(), separate, want });
    }
    n
}

/// One random case with OpenSSL's answer.
#[derive(Clone)]
struct RefCase {
    alg: Algorithm,
    op: Op,
    key: Vec<u8>,
    iv: Vec<u8>,
    input: Vec<u8>,
    output: Vec<u8>,
}

fn parse_alg(s: &str) -> Algorithm {
    s.parse().unwrap_or_else(|e| panic!("reference file: {e}"))
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Encrypt => "encrypt",
        Op::Decrypt => "decrypt",
        _ => "digest",
    }
}

/// Lengths for random cases: edges of each mode, blocks, and sizes on both
/// sides of the module's zero-copy threshold (4096).
fn lengths(alg: Algorithm, r: &mut StdRng) -> Vec<usize> {
    match alg {
        Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ecb, .. } => {
            vec![16, 32, 16 * rng::len_in(r, 3, 64), 4080, 4096, 16384]
        }
        Algorithm::Aes { mode: CipherMode::Ctr, .. } => {
            vec![1, 15, 17, rng::len_in(r, 34, 1000), 4095, 4096 + rng::len_in(r, 1, 15), 16384]
        }
        Algorithm::Aes { mode: CipherMode::Xts, .. } => {
            vec![16, 17, 31, rng::len_in(r, 48, 1000), 4096, 4096 + rng::len_in(r, 1, 15), 16384]
        }
        _ => vec![0, 1, 55, 64, 65, rng::len_in(r, 66, 1000), 4096, 10_000],
    }
}

/// Random cases with OpenSSL's answers (computed here; see the module doc).
fn generate_reference() -> Vec<RefCase> {
    let mut out = Vec::new();
    let key_lens = [0usize, 1, 16, 20, 32, 64, 65, 100, 129, 192];
    // AEAD: aead_on_kernel_devices, with libcrypto's answers; RSA: rsa_on_kernel_devices.
    for alg in Algorithm::all()
        .filter(|a| *a != Algorithm::Rng && !matches!(a.kind(), acrypto::OpKind::Aead | acrypto::OpKind::Asym))
    {
        let mut r = rng::seeded(&format!("kernel devices {alg}"));
        let mut xts = Vec::new();
        for (i, n) in lengths(alg, &mut r).into_iter().enumerate() {
            let input = rng::bytes(&mut r, n);
            match alg {
                Algorithm::Aes { mode, .. } => {
                    let key = if mode == CipherMode::Xts {
                        rng::xts_key(&mut r, alg.key_len().unwrap())
                    } else {
                        rng::bytes(&mut r, alg.key_len().unwrap())
                    };
                    let mut iv = rng::bytes(&mut r, alg.iv_len());
                    if mode == CipherMode::Ctr && i == 3 {
                        iv[8..].fill(0xff); // the counter carries across 64 bits
                    }
                    for op in [Op::Encrypt, Op::Decrypt] {
                        let c =
                            RefCase { alg, op, key: key.clone(), iv: iv.clone(), input: input.clone(), output: vec![] };
                        if mode == CipherMode::Xts {
                            xts.push(c);
                        } else {
                            let output = openssl::cipher(alg, op, &key, &iv, &input);
                            out.push(RefCase { output, ..c });
                        }
                    }
                }
                Algorithm::Digest(d) => {
                    let output = openssl::digest(d, &input);
                    out.push(RefCase { alg, op: Op::Digest, key: vec![], iv: vec![], input, output });
                }
                Algorithm::Hmac(d) => {
                    let key = rng::bytes(&mut r, key_lens[i % key_lens.len()]);
                    let output = openssl::hmac(d, &key, &input);
                    out.push(RefCase { alg, op: Op::Digest, key, iv: vec![], input, output });
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
        if !xts.is_empty() {
            let jobs: Vec<XtsJob<'_>> =
                xts.iter().map(|c| XtsJob { op: c.op, key: &c.key, tweak: &c.iv, data: &c.input }).collect();
            let answers = openssl::xts_batch(&jobs);
            for (c, a) in xts.iter().zip(answers) {
                out.push(RefCase { output: a.expect("OpenSSL refused an XTS job"), ..c.clone() });
            }
        }
    }
    out
}

/// Hex, or `-` for nothing.
fn field(b: &[u8]) -> String {
    if b.is_empty() {
        "-".into()
    } else {
        common::hex(b)
    }
}

fn write_reference(cases: &[RefCase]) -> String {
    let mut s = format!("# {}\n", openssl::version());
    for c in cases {
        s.push_str(&format!(
            "{} {} {} {} {} {}\n",
            c.alg,
            op_name(c.op),
            field(&c.key),
            field(&c.iv),
            field(&c.input),
            field(&c.output)
        ));
    }
    s
}

fn read_reference(text: &str) -> Vec<RefCase> {
    let hexf = |s: &str| if s == "-" { Vec::new() } else { hex::decode(s).expect("reference file: hex") };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 6, "reference file: bad line");
            let op = match f[1] {
                "encrypt" => Op::Encrypt,
                "decrypt" => Op::Decrypt,
                _ => Op::Digest,
            };
            RefCase { alg: parse_alg(f[0]), op, key: hexf(f[2]), iv: hexf(f[3]), input: hexf(f[4]), output: hexf(f[5]) }
        })
        .collect()
}

fn reference() -> Vec<RefCase> {
    match std::env::var("ACRYPTO_KDEV_REFERENCE") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let v = read_reference(&text);
            println!("  note: OpenSSL answers from {path}: {}", text.lines().next().unwrap_or(""));
            v
        }
        Err(_) => generate_reference(),
    }
}

/// The OpenSSL cross-checks on one device.
fn run_crosschecks(e: &Engine, dev: &DeviceInfo, refs: &[RefCase], w: &mut Window<'_>) -> usize {
    let mut n = 0;
    let mut r = rng::seeded(&format!("kernel devices verify {}", dev.name));
    for (i, c) in refs.iter().filter(|c| supports(dev, c.alg)).enumerate() {
        let what = format!("{} {} {:?} {} bytes (cross-check {i})", dev.name, c.alg, c.op, c.input.len());
        let step = Step::new(c.alg, c.op, &c.key).expect("reference step");
        let s = match session(e, step, &dev.name) {
            Ok(s) => s,
            Err(err) => {
                w.tally.fail(format!("{what}: session: {err}"));
                continue;
            }
        };
        n += 1;
        if c.alg.kind() == OpKind::Cipher {
            let separate = i % 2 == 1;
            let mut req = Request::new(c.input.clone()).with_iv(&c.iv);
            if separate {
                req = req.with_output(Vec::with_capacity(c.input.len()));
            }
            w.push(&s, req, Check { what, input: c.input.clone(), separate, want: Want::Output(c.output.clone()) });
            continue;
        }
        w.push(
            &s,
            Request::new(c.input.clone()),
            Check {
                what: what.clone(),
                input: c.input.clone(),
                separate: false,
                want: Want::Tag(c.output.clone(), c.alg.digest_len()),
            },
        );
        if c.alg.kind() != OpKind::Mac {
            continue;
        }
        // Verify OpenSSL's tag, whole and truncated; a flipped bit fails.
        let vs = session(e, Step::new(c.alg, Op::Verify, &c.key).unwrap(), &dev.name).unwrap();
        let t = r.gen_range(acrypto::alg::MIN_VERIFY_TAG..=c.output.len());
        let mut bad = c.output[..t].to_vec();
        let bit = r.gen_range(0..t * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        for (tag, want) in
            [(&c.output[..], Want::Ok), (&c.output[..t], Want::Ok), (&bad[..], Want::Err(Error::VerifyFailed))]
        {
            let check =
                Check { what: format!("{what} verify {} bytes", tag.len()), input: vec![], separate: false, want };
            w.push(&vs, Request::new(c.input.clone()).with_tag(tag), check);
        }
    }
    n
}

/// Random numbers from an RNG device: the lengths asked, and two draws differ.
fn run_rng(e: &Engine, dev: &DeviceInfo, w: &mut Window<'_>) -> usize {
    let s = session(e, Step::new(Algorithm::Rng, Op::Generate, &[]).unwrap(), &dev.name).unwrap();
    for n in [0usize, 1, 16, 17, 1000, 4096, 65536] {
        let check =
            Check { what: format!("{} rng {n}", dev.name), input: vec![], separate: false, want: Want::Random(n) };
        w.push(&s, Request::new(vec![0; n]), check);
    }
    let a = e.run(&s, Request::new(vec![0; 64])).map(|r| r.data);
    let b = e.run(&s, Request::new(vec![0; 64])).map(|r| r.data);
    match (a, b) {
        (Ok(a), Ok(b)) if a != b => {}
        (a, b) => w.tally.fail(format!("{}: two 64-byte draws: {a:?} {b:?}", dev.name)),
    }
    8
}

fn report(name: &str, t: &Tally, summary: &str) -> bool {
    // A label for runs under other module parameters (as the C tests take it).
    let name = format!("{}{name}", std::env::var("T_TAG").unwrap_or_default());
    if t.failures.is_empty() {
        let mut over = if t.over_limit > 0 {
            format!(" ({} above max_buffer, refused cleanly)", t.over_limit)
        } else {
            String::new()
        };
        if t.in_pieces > 0 {
            over.push_str(&format!(" ({} hashes above max_buffer, in pieces)", t.in_pieces));
        }
        println!("RESULT PASS rust {name}: {summary}, {} checks{over}", t.checks);
        true
    } else {
        println!("RESULT FAIL rust {name}: {} of {} checks failed", t.failures.len(), t.checks);
        for f in t.failures.iter().take(8) {
            println!("  note: {f}");
        }
        false
    }
}

/// The kernel devices the guest of `tests/vm/run.sh` must have, each with
/// exactly these algorithms: the AES-NI and generic drivers of Debian's
/// kernel, the template instances `tests/vm/t_kat` binds sessions to (which
/// stay registered once made), random number sources, and AF_ALG with
/// everything but rng. A driver that vanished from the probe, or lost an
/// algorithm, would otherwise shrink the coverage without failing anything.
const WELL_KNOWN: &[(&str, &[&str])] = &[
    ("kdev:cbc-aes-aesni", &["aes-128-cbc", "aes-192-cbc", "aes-256-cbc"]),
    ("kdev:ecb-aes-aesni", &["aes-128-ecb", "aes-192-ecb", "aes-256-ecb"]),
    ("kdev:ctr-aes-aesni", &["aes-128-ctr", "aes-192-ctr", "aes-256-ctr"]),
    ("kdev:xts-aes-aesni", &["aes-128-xts", "aes-256-xts"]),
    ("kdev:cbc(aes-generic)", &["aes-128-cbc", "aes-192-cbc", "aes-256-cbc"]),
    ("kdev:xts(ecb(aes-generic))", &["aes-128-xts", "aes-256-xts"]),
    ("kdev:sha1-generic", &["sha1"]),
    ("kdev:sha256-generic", &["sha256"]),
    ("kdev:hmac(sha1-generic)", &["hmac-sha1"]),
    ("kdev:hmac(sha256-generic)", &["hmac-sha256"]),
    ("kdev:cryptd(cbc(aes-aesni))", &["aes-128-cbc", "aes-192-cbc", "aes-256-cbc"]),
    ("kdev:cryptd(sha256-generic)", &["sha256"]),
    ("kdev:cryptd(hmac(sha256-generic))", &["hmac-sha256"]),
    ("kdev:get_random_bytes", &["rng"]),
    ("kdev:drbg_nopr_hmac_sha256", &["rng"]),
    ("kdev:generic-gcm-aesni", &["aes-128-gcm", "aes-192-gcm", "aes-256-gcm"]),
    ("kdev:gcm_base(ctr(aes-generic),ghash-generic)", &["aes-128-gcm", "aes-192-gcm", "aes-256-gcm"]),
    ("kdev:rfc7539(chacha20-simd,poly1305-simd)", &["chacha20-poly1305"]),
    (
        "afalg",
        &[
            "aes-128-cbc",
            "aes-192-cbc",
            "aes-256-cbc",
            "aes-128-ecb",
            "aes-192-ecb",
            "aes-256-ecb",
            "aes-128-ctr",
            "aes-192-ctr",
            "aes-256-ctr",
            "aes-128-xts",
            "aes-256-xts",
            "hmac-sha1",
            "hmac-sha256",
            "sha1",
            "sha256",
            "aes-128-gcm",
            "aes-192-gcm",
            "aes-256-gcm",
            "chacha20-poly1305",
        ],
    ),
];

/// With `ACRYPTO_REQUIRE_KERNEL=1`, every well-known kernel device is there
/// with exactly its algorithms.
#[test]
fn well_known_kernel_devices_are_all_there() {
    let Some(e) = kernel_engine() else { return };
    if !required() {
        println!("  note: the well-known kernel devices are required only with ACRYPTO_REQUIRE_KERNEL=1");
        return;
    }
    let devs = e.devices();
    let mut missing = Vec::new();
    for (name, algs) in WELL_KNOWN {
        let want: std::collections::BTreeSet<String> = algs.iter().map(|a| a.to_string()).collect();
        match devs.iter().find(|d| d.name == *name) {
            None => missing.push(format!("{name}: no such device")),
            Some(d) => {
                let got: std::collections::BTreeSet<String> =
                    d.capabilities.iter().map(|c| c.alg.to_string()).collect();
                if got != want {
                    missing.push(format!("{name}: offers {got:?}, want {want:?}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "well-known kernel devices:\n{}", missing.join("\n"));
    println!(
        "RESULT PASS {}rust: all {} well-known kernel devices",
        std::env::var("T_TAG").unwrap_or_default(),
        WELL_KNOWN.len()
    );
}

#[test]
fn kernel_devices_pass_vectors_and_openssl_crosschecks() {
    let Some(e) = kernel_engine() else { return };
    let cases = vectors::all_cases();
    let refs = reference();
    let mut ok = true;
    let mut total = 0;
    let start = std::time::Instant::now();
    for dev in e.devices() {
        let t0 = std::time::Instant::now();
        let mut w = Window::new(&e, &dev);
        let v = run_vectors(&e, &dev, &cases, &mut w);
        let x = run_crosschecks(&e, &dev, &refs, &mut w);
        let rngs = if supports(&dev, Algorithm::Rng) { run_rng(&e, &dev, &mut w) } else { 0 };
        let t = w.finish();
        total += t.checks;
        let summary = format!(
            "{v} vector cases, {x} OpenSSL cross-checks, {rngs} rng checks, {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        ok &= report(&dev.name, &t, &summary);
    }
    println!("  note: {total} checks on {} kernel devices in {:.1}s", e.devices().len(), start.elapsed().as_secs_f64());
    assert!(ok, "some kernel device failed (RESULT FAIL lines above)");
}

/// Routes across kernel devices: encrypt on one, HMAC on another (and the
/// reverse direction: verify, then decrypt), equal to the software
/// primitives (themselves checked against OpenSSL by `tests/crosscheck.rs`).
#[test]
fn routes_across_kernel_devices() {
    use acrypto::drivers::crypto::apply_steps;
    let Some(e) = kernel_engine() else { return };
    let devs = e.devices();
    let cbc = Algorithm::Aes { key_bits: 256, mode: CipherMode::Cbc };
    let mac = Algorithm::Hmac(DigestKind::Sha256);
    let ciphers: Vec<&DeviceInfo> = devs.iter().filter(|d| supports(d, cbc)).collect();
    let macs: Vec<&DeviceInfo> = devs.iter().filter(|d| supports(d, mac)).collect();
    if ciphers.is_empty() || macs.is_empty() {
        assert!(!required(), "no kernel device for {cbc} and {mac}");
        return;
    }
    let mut r = rng::seeded("kernel devices routes");
    // Within the module's max_buffer (4096 bytes in the small-limits run).
    let max_blocks = kdev::limits().map_or(512, |l| (l.max_buffer / 16).clamp(1, 512));
    let mut t = Tally::default();
    for i in 0..24 {
        let (c, m) = (ciphers[i % ciphers.len()], macs[(i / ciphers.len()) % macs.len()]);
        let (key, mkey, iv) = (rng::bytes(&mut r, 32), rng::bytes(&mut r, 48), rng::bytes(&mut r, 16));
        let blocks = rng::len_in(&mut r, 1, max_blocks);
        let data = rng::bytes(&mut r, 16 * blocks);
        let steps = [Step::new(cbc, Op::Encrypt, &key).unwrap(), Step::new(mac, Op::Digest, &mkey).unwrap()];
        let mut want = Request::new(data.clone()).with_iv(&iv);
        apply_steps(&steps, &mut want).unwrap();
        let s = e
            .session(
                SessionBuilder::new()
                    .push(steps[0].clone().on_device(&c.name))
                    .push(steps[1].clone().on_device(&m.name)),
            )
            .unwrap();
        t.checks += 1;
        match e.run(&s, Request::new(data.clone()).with_iv(&iv)) {
            Ok(got) if got.data == want.data && got.tag == want.tag => {}
            other => t.fail(format!("route {} -> {}: {:?}", c.name, m.name, other.map(|_| "wrong bytes"))),
        }
        // Back: verify the tag on the MAC device, then decrypt on the cipher device.
        let back = e
            .session(
                SessionBuilder::new()
                    .push(Step::new(mac, Op::Verify, &mkey).unwrap().on_device(&m.name))
                    .push(Step::new(cbc, Op::Decrypt, &key).unwrap().on_device(&c.name)),
            )
            .unwrap();
        t.checks += 1;
        match e.run(&back, Request::new(want.data.clone()).with_iv(&iv).with_tag(&want.tag)) {
            Ok(got) if got.data == data => {}
            other => t.fail(format!("route back {} -> {}: {:?}", m.name, c.name, other.map(|_| "wrong bytes"))),
        }
    }
    assert!(report("routes across kernel devices", &t, "encrypt-then-MAC and verify-then-decrypt"));
}

/// Writes OpenSSL's answers for the cross-checks to
/// `ACRYPTO_KDEV_REFERENCE_OUT` (the VM harness runs this on the host).
#[test]
fn write_openssl_reference() {
    let Ok(path) = std::env::var("ACRYPTO_KDEV_REFERENCE_OUT") else {
        println!("skipped: ACRYPTO_KDEV_REFERENCE_OUT is not set");
        return;
    };
    let cases = generate_reference();
    let text = write_reference(&cases);
    assert_eq!(read_reference(&text).len(), cases.len());
    let by_alg: BTreeMap<String, usize> = cases.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.alg.to_string()).or_default() += 1;
        m
    });
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
    println!("wrote {} cases to {path}: {by_alg:?}", cases.len());
    let aead = generate_aead_reference();
    let text = write_aead_reference(&aead);
    assert_eq!(read_aead_reference(&text).len(), aead.len());
    std::fs::write(format!("{path}.aead"), text).unwrap_or_else(|e| panic!("{path}.aead: {e}"));
    println!("wrote {} AEAD cases to {path}.aead", aead.len());
    let rsa = generate_rsa_reference();
    let text = write_rsa_reference(&rsa);
    assert_eq!(read_rsa_reference(&text).len(), rsa.len());
    std::fs::write(format!("{path}.rsa"), text).unwrap_or_else(|e| panic!("{path}.rsa: {e}"));
    println!("wrote {} RSA cases to {path}.rsa", rsa.len());
}

/// The device specification kinds: `kdev`, `kdev:NAME`, `afalg`, and clear
/// errors for a driver that does not exist.
#[test]
fn spec_kinds_build_kernel_devices() {
    use acrypto::drivers::spec;
    println!();
    if !kdev::available() {
        assert!(!required(), "ACRYPTO_REQUIRE_KERNEL=1 but /dev/acrypto is unavailable");
        println!("skipped: no /dev/acrypto");
        return;
    }
    let mut t = Tally::default();
    let mut check = |what: &str, ok: bool| {
        t.checks += 1;
        if !ok {
            t.fail(what.to_string());
        }
    };
    let all = spec::parse("kdev").map(|v| v.len()).unwrap_or(0);
    check("kdev gives devices", all > 0);
    let one = spec::parse("kdev:cbc-aes-aesni,afalg,soft:1");
    let names: Vec<String> = one.iter().flatten().map(|d| d.name().to_string()).collect();
    check(
        &format!("kdev:cbc-aes-aesni,afalg,soft:1 gives {names:?}"),
        names == ["kdev:cbc-aes-aesni", "afalg", "soft0"],
    );
    let cryptd = spec::parse("kdev:cryptd(cbc(aes-generic))").map(|v| v.len());
    check(&format!("kdev:cryptd(cbc(aes-generic)) gives {cryptd:?}"), cryptd == Ok(1));
    let missing = spec::parse("kdev:no-such-driver").err();
    check(&format!("kdev:no-such-driver gives {missing:?}"), matches!(missing, Some(Error::NoSuchDevice(_))));
    // An engine from a specification works end to end.
    let e = acrypto::engine_from_spec("kdev:cbc-aes-aesni,afalg").unwrap();
    let alg = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    let s = e.session(SessionBuilder::new().push(Step::new(alg, Op::Encrypt, &[1; 16]).unwrap())).unwrap();
    let mut want = Request::new(vec![3; 4096]).with_iv(&[4; 16]);
    acrypto::drivers::crypto::apply_steps(&[Step::new(alg, Op::Encrypt, &[1; 16]).unwrap()], &mut want).unwrap();
    for _ in 0..8 {
        let got = e.run(&s, Request::new(vec![3; 4096]).with_iv(&[4; 16]));
        check("unbound cbc over kdev and afalg", got.is_ok_and(|r| r.data == want.data));
    }
    assert!(report("device specifications kdev, kdev:NAME, afalg", &t, "parse and run"));
}

/// Shutting down or removing kernel devices with work in flight: every
/// request completes exactly once, with its result or `Canceled`, and
/// nothing hangs (the reader waits for the kernel's completions before the
/// buffers are handed back).
#[test]
fn shutdown_and_removal_with_work_in_flight() {
    use acrypto::{RemoveMode, ShutdownMode};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let alg = Algorithm::Aes { key_bits: 256, mode: CipherMode::Ctr };
    let key = [0x11u8; 32];
    let mut want = Request::new(vec![0x22; 8192]).with_iv(&[0x33; 16]);
    acrypto::drivers::crypto::apply_steps(&[Step::new(alg, Op::Encrypt, &key).unwrap()], &mut want).unwrap();
    // Within the module's max_buffer (4096 bytes in the small-limits run).
    let big = kdev::limits().map_or(8192, |l| l.max_buffer.min(8192));
    let mut t = Tally::default();
    for (round, mode) in ["shutdown drain", "shutdown cancel", "remove drain", "remove cancel"].into_iter().enumerate()
    {
        let Some(e) = kernel_engine() else { return };
        let devs: Vec<String> = e.devices().into_iter().filter(|d| supports(d, alg)).map(|d| d.name).collect();
        let (ok, canceled, other) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let n = 600;
        for i in 0..n {
            let s = session(&e, Step::new(alg, Op::Encrypt, &key).unwrap(), &devs[i % devs.len()]).unwrap();
            let (ok, canceled, other, want) = (ok.clone(), canceled.clone(), other.clone(), want.data.clone());
            let size = if i % 2 == 0 { big } else { 64 };
            let req = Request::new(vec![0x22; size]).with_iv(&[0x33; 16]);
            e.submit_blocking(
                &s,
                req,
                Completion::callback(move |d| match d.status {
                    Ok(()) if d.request.data[..] == want[..size] => {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Error::Canceled) => {
                        canceled.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {
                        other.fetch_add(1, Ordering::SeqCst);
                    }
                }),
            )
            .unwrap();
        }
        match round {
            0 => e.shutdown(ShutdownMode::Drain),
            1 => e.shutdown(ShutdownMode::Cancel),
            _ => {
                let rm = if round == 2 { RemoveMode::Drain } else { RemoveMode::Cancel };
                for d in &devs {
                    e.remove_device(d, rm).unwrap();
                }
                e.shutdown(ShutdownMode::Drain);
            }
        }
        let count = || (ok.load(Ordering::SeqCst), canceled.load(Ordering::SeqCst), other.load(Ordering::SeqCst));
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while count().0 + count().1 + count().2 < n && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let (o, c, x) = count();
        t.checks += 1;
        let drained = round == 0 || round == 2;
        if o + c + x != n || x != 0 || (drained && c != 0) {
            t.fail(format!("{mode}: {o} ok, {c} canceled, {x} wrong of {n}"));
        }
        println!("  note: {mode}: {o} ok, {c} canceled of {n} on {} devices", devs.len());
    }
    assert!(report("shutdown and removal with work in flight", &t, "every request completed once"));
}

/// One random AEAD case with libcrypto's seal.
#[derive(Clone)]
struct AeadRef {
    alg: Algorithm,
    key: Vec<u8>,
    nonce: Vec<u8>,
    aad: Vec<u8>,
    pt: Vec<u8>,
    ct: Vec<u8>,
    tag: Vec<u8>,
}

/// Random AEAD cases (lengths on both sides of a page and of the small
/// stage's max_buffer) sealed by libcrypto.
fn generate_aead_reference() -> Vec<AeadRef> {
    let mut out = Vec::new();
    for alg in Algorithm::all().filter(|a| a.kind() == OpKind::Aead) {
        let mut r = rng::seeded(&format!("kernel devices aead {alg}"));
        for (i, n) in
            [0usize, 1, 15, 16, 17, 64, rng::len_in(&mut r, 65, 2000), 4096, 4097, 20_000].into_iter().enumerate()
        {
            let aad_len = [0usize, 1, 13, 16, 20, 64, 300][i % 7];
            out.push(AeadRef {
                alg,
                key: rng::bytes(&mut r, alg.key_len().unwrap()),
                nonce: rng::bytes(&mut r, 12),
                aad: rng::bytes(&mut r, aad_len),
                pt: rng::bytes(&mut r, n),
                ct: Vec::new(),
                tag: Vec::new(),
            });
        }
    }
    let jobs: Vec<AeadJob<'_>> = out
        .iter()
        .map(|c| AeadJob {
            alg: c.alg,
            op: Op::Encrypt,
            key: &c.key,
            nonce: &c.nonce,
            aad: &c.aad,
            data: &c.pt,
            tag: &[],
        })
        .collect();
    let answers = openssl::aead_batch(&jobs);
    for (c, a) in out.iter_mut().zip(answers) {
        match a {
            AeadAnswer::Sealed(ct, tag) => (c.ct, c.tag) = (ct, tag),
            other => panic!("libcrypto seal of {}: {other:?}", c.alg),
        }
    }
    out
}

fn write_aead_reference(cases: &[AeadRef]) -> String {
    let mut s = format!("# {}\n", openssl::version());
    for c in cases {
        let f = [&c.key, &c.nonce, &c.aad, &c.pt, &c.ct, &c.tag].map(|b| field(b)).join(" ");
        s.push_str(&format!("{} {f}\n", c.alg));
    }
    s
}

fn read_aead_reference(text: &str) -> Vec<AeadRef> {
    let hexf = |s: &str| if s == "-" { Vec::new() } else { hex::decode(s).expect("AEAD reference file: hex") };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 7, "AEAD reference file: bad line");
            AeadRef {
                alg: parse_alg(f[0]),
                key: hexf(f[1]),
                nonce: hexf(f[2]),
                aad: hexf(f[3]),
                pt: hexf(f[4]),
                ct: hexf(f[5]),
                tag: hexf(f[6]),
            }
        })
        .collect()
}

/// The AEAD reference: `ACRYPTO_KDEV_REFERENCE` with `.aead` appended (made
/// on the host by `write_openssl_reference`), else made here.
fn aead_reference() -> Vec<AeadRef> {
    match std::env::var("ACRYPTO_KDEV_REFERENCE") {
        Ok(path) => {
            let path = format!("{path}.aead");
            read_aead_reference(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        }
        Err(_) => generate_aead_reference(),
    }
}

/// Flips one bit.
fn flip(v: &[u8], bit: usize) -> Vec<u8> {
    let mut v = v.to_vec();
    v[bit / 8] ^= 1 << (bit % 8);
    v
}

/// AEAD on every kernel device that offers it (kdev's gcm(aes) and
/// rfc7539(chacha20,poly1305) drivers, afalg's aead sockets): known answers,
/// libcrypto cross-checks and tampering, through the engine.
#[test]
fn aead_on_kernel_devices() {
    let Some(e) = kernel_engine() else { return };
    let mut cases = common::aead_vectors::gcm_cases();
    cases.extend(common::aead_vectors::chacha_cases());
    let refs = aead_reference();
    let mut ok = true;
    let mut devices = 0;
    for dev in e.devices() {
        if !dev.capabilities.iter().any(|c| c.alg.kind() == OpKind::Aead) {
            continue;
        }
        devices += 1;
        let t0 = std::time::Instant::now();
        let mut w = Window::new(&e, &dev);
        let mut r = rng::seeded(&format!("kernel devices aead tamper {}", dev.name));
        let (mut kats, mut fails, mut xchecks, mut tampered) = (0, 0, 0, 0);
        let sess = |alg, op, key: &[u8]| session(&e, Step::new(alg, op, key).expect("AEAD step"), &dev.name);
        // Known answers: every record with a 12-byte nonce and a tag acrypto
        // takes (12 to 16 bytes; the others are refused before any device).
        for c in cases.iter().filter(|c| supports(&dev, c.alg) && c.nonce.len() == 12 && c.tag.len() >= 12) {
            let what = format!("{} {}", dev.name, c.source);
            let (Ok(seal), Ok(open)) = (sess(c.alg, Op::Encrypt, &c.key), sess(c.alg, Op::Decrypt, &c.key)) else {
                w.tally.fail(format!("{what}: session"));
                continue;
            };
            if c.encrypt {
                let req = Request::new(c.pt.clone()).with_iv(&c.nonce).with_aad(&c.aad);
                let want = Want::Sealed(c.ct.clone(), c.tag.clone());
                w.push(&seal, req, Check { what: format!("{what} seal"), input: c.pt.clone(), separate: false, want });
            }
            // Opens to a separate buffer, pre-filled, so a failure shows.
            let req = Request::new(c.ct.clone())
                .with_iv(&c.nonce)
                .with_aad(&c.aad)
                .with_tag(&c.tag)
                .with_output(vec![0xee; c.ct.len()]);
            let want = if c.fail { Want::Rejected(c.ct.clone()) } else { Want::Output(c.pt.clone()) };
            fails += usize::from(c.fail);
            w.push(&open, req, Check { what: format!("{what} open"), input: c.ct.clone(), separate: true, want });
            kats += 1;
        }
        // libcrypto's seals: ours equal them, they open, tampered ones do not.
        for c in refs.iter().filter(|c| supports(&dev, c.alg)) {
            let what = format!("{} {} {} bytes, AAD {}", dev.name, c.alg, c.pt.len(), c.aad.len());
            let (Ok(seal), Ok(open)) = (sess(c.alg, Op::Encrypt, &c.key), sess(c.alg, Op::Decrypt, &c.key)) else {
                w.tally.fail(format!("{what}: session"));
                continue;
            };
            let req = Request::new(c.pt.clone()).with_iv(&c.nonce).with_aad(&c.aad);
            let want = Want::Sealed(c.ct.clone(), c.tag.clone());
            w.push(&seal, req, Check { what: format!("{what} seal"), input: c.pt.clone(), separate: false, want });
            let req = Request::new(c.ct.clone()).with_iv(&c.nonce).with_aad(&c.aad).with_tag(&c.tag);
            let want = Want::Output(c.pt.clone());
            w.push(&open, req, Check { what: format!("{what} open"), input: c.ct.clone(), separate: false, want });
            xchecks += 1;
            if c.alg != Algorithm::ChaCha20Poly1305 {
                // A truncated GCM tag opens too (its own tag length in the kernel).
                let t = r.gen_range(12..16);
                let req = Request::new(c.ct.clone()).with_iv(&c.nonce).with_aad(&c.aad).with_tag(&c.tag[..t]);
                let check = Check {
                    what: format!("{what} open, {t}-byte tag"),
                    input: c.ct.clone(),
                    separate: false,
                    want: Want::Output(c.pt.clone()),
                };
                w.push(&open, req, check);
            }
            let mut variants = vec![
                ("tag", c.nonce.clone(), c.aad.clone(), c.ct.clone(), flip(&c.tag, r.gen_range(0..128))),
                ("nonce", flip(&c.nonce, r.gen_range(0..96)), c.aad.clone(), c.ct.clone(), c.tag.clone()),
            ];
            if !c.aad.is_empty() {
                let bit = r.gen_range(0..c.aad.len() * 8);
                variants.push(("aad", c.nonce.clone(), flip(&c.aad, bit), c.ct.clone(), c.tag.clone()));
            }
            if !c.ct.is_empty() {
                let bit = r.gen_range(0..c.ct.len() * 8);
                variants.push(("ciphertext", c.nonce.clone(), c.aad.clone(), flip(&c.ct, bit), c.tag.clone()));
            }
            for (i, (part, n, a, ct, tag)) in variants.into_iter().enumerate() {
                // In place and to a separate, pre-filled buffer.
                let mut req = Request::new(ct.clone()).with_iv(&n).with_aad(&a).with_tag(&tag);
                if i % 2 == 1 {
                    req = req.with_output(vec![0xee; ct.len()]);
                }
                let check = Check {
                    what: format!("{what} flipped {part}"),
                    input: ct.clone(),
                    separate: i % 2 == 1,
                    want: Want::Rejected(ct),
                };
                w.push(&open, req, check);
                tampered += 1;
            }
        }
        let t = w.finish();
        let summary = format!(
            "AEAD: {kats} known answers ({fails} FAIL records), {xchecks} libcrypto cross-checks, {tampered} tampered opens, {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        ok &= report(&format!("{} aead", dev.name), &t, &summary);
    }
    if required() {
        assert!(devices >= 2, "ACRYPTO_REQUIRE_KERNEL=1 but only {devices} kernel devices offer AEAD");
    }
    assert!(ok, "AEAD failed on some kernel device (RESULT FAIL lines above)");
}

/// Piece lengths that add up to `n`, cut at random points (empty pieces
/// and single bytes included).
fn cuts(r: &mut StdRng, n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let c = match r.gen_range(0..6) {
            0 => 0,
            1 => 1,
            2 => r.gen_range(0..=64.min(left)),
            _ => r.gen_range(0..=left),
        };
        out.push(c.min(left));
        left -= c.min(left);
    }
    if out.len() > 1 && r.gen_bool(0.3) {
        out.insert(r.gen_range(0..out.len()), 0);
    }
    out
}

/// Streams `data` through `s` in the pieces `cuts`; the digest or MAC.
fn stream_through(e: &Engine, s: &Session, data: &[u8], cuts: &[usize]) -> Result<Vec<u8>, Error> {
    let mut st = e.stream(s, &[])?;
    let mut off = 0;
    for &c in cuts {
        st.update(&data[off..off + c], &mut Vec::new())?;
        off += c;
    }
    st.finish(&mut Vec::new())
}

/// Hash and HMAC streams on every kernel device that offers them (kdev:
/// the module's sealed states; afalg: MSG_MORE operation sockets): random
/// cuts of OpenSSL's cross-check messages and of a message several times
/// the module's max_buffer give OpenSSL's digest and the one-shot's;
/// verify streams accept the right tag and refuse a flipped one; a copy of
/// a stream (dup) continues on its own.
#[test]
fn streams_on_kernel_devices() {
    let Some(e) = kernel_engine() else { return };
    let refs: Vec<RefCase> =
        reference().into_iter().filter(|c| matches!(c.alg.kind(), OpKind::Hash | OpKind::Mac)).collect();
    let mut r = rng::seeded("kernel streams large");
    let big = rng::bytes(&mut r, 300_000);
    let big_key = rng::bytes(&mut r, 40);
    let mut big_refs = Vec::new();
    for d in [DigestKind::Sha1, DigestKind::Sha256] {
        big_refs.push((Algorithm::Digest(d), Vec::new(), openssl::digest(d, &big)));
        big_refs.push((Algorithm::Hmac(d), big_key.clone(), openssl::hmac(d, &big_key, &big)));
    }
    let mut ok = true;
    let mut devices = 0;
    for dev in e.devices() {
        let algs: Vec<Algorithm> =
            dev.capabilities.iter().map(|c| c.alg).filter(|a| matches!(a.kind(), OpKind::Hash | OpKind::Mac)).collect();
        if algs.is_empty() {
            continue;
        }
        devices += 1;
        let t0 = std::time::Instant::now();
        let mut t = Tally::default();
        let mut r = rng::seeded(&format!("kernel streams {}", dev.name));
        let cases = refs
            .iter()
            .filter(|c| algs.contains(&c.alg))
            .map(|c| (c.alg, c.key.clone(), c.input.clone(), c.output.clone()))
            .chain(
                big_refs.iter().filter(|b| algs.contains(&b.0)).map(|b| (b.0, b.1.clone(), big.clone(), b.2.clone())),
            );
        for (alg, key, input, want) in cases {
            let what = format!("{} {alg} stream of {} bytes", dev.name, input.len());
            let s = match session(&e, Step::new(alg, Op::Digest, &key).expect("step"), &dev.name) {
                Ok(s) => s,
                Err(err) => {
                    t.fail(format!("{what}: session: {err}"));
                    continue;
                }
            };
            for _ in 0..3 {
                let c = cuts(&mut r, input.len());
                t.checks += 1;
                match stream_through(&e, &s, &input, &c) {
                    Ok(tag) if tag == want => {}
                    Ok(tag) => t.fail(format!("{what} in {} pieces: WRONG digest {}", c.len(), common::hex(&tag))),
                    Err(err) => t.fail(format!("{what} in {} pieces: {err}", c.len())),
                }
            }
            t.checks += 1;
            match e.run(&s, Request::new(input.clone())) {
                Ok(q) if q.tag == want => {}
                Ok(_) => t.fail(format!("{what}: the one-shot differs from OpenSSL")),
                Err(err) => t.fail(format!("{what}: one-shot: {err}")),
            }
            // Copies taken half way continue on their own: one that takes
            // the same rest ends right, one that took a byte more does not.
            t.checks += 1;
            let half = input.len() / 2;
            let dup = e.stream(&s, &[]).and_then(|mut a| {
                a.update(&input[..half], &mut Vec::new())?;
                let (mut b, mut c) = (a.try_clone()?, a.try_clone()?);
                b.update(b"x", &mut Vec::new())?;
                for st in [&mut a, &mut b, &mut c] {
                    st.update(&input[half..], &mut Vec::new())?;
                }
                Ok([a.finish(&mut Vec::new())?, b.finish(&mut Vec::new())?, c.finish(&mut Vec::new())?])
            });
            match dup {
                Ok([ta, tb, tc]) if ta == want && tc == want && tb != want => {}
                Ok(_) => t.fail(format!("{what}: copies of a stream did not continue independently")),
                Err(err) => t.fail(format!("{what}: dup: {err}")),
            }
            if alg.kind() == OpKind::Mac {
                let v = match session(&e, Step::new(alg, Op::Verify, &key).expect("step"), &dev.name) {
                    Ok(v) => v,
                    Err(err) => {
                        t.fail(format!("{what}: verify session: {err}"));
                        continue;
                    }
                };
                let c = cuts(&mut r, input.len());
                for (tag, good) in [(want.clone(), true), (flip(&want, 5), false), (want[..12].to_vec(), true)] {
                    t.checks += 1;
                    let got = e.stream(&v, &[]).and_then(|mut st| {
                        let mut off = 0;
                        for &n in &c {
                            st.update(&input[off..off + n], &mut Vec::new())?;
                            off += n;
                        }
                        st.verify(&tag)
                    });
                    match (got, good) {
                        (Ok(()), true) | (Err(Error::VerifyFailed), false) => {}
                        (got, _) => t.fail(format!(
                            "{what}: verify of a {} tag: {got:?}",
                            if good { "good" } else { "flipped" }
                        )),
                    }
                }
            }
        }
        let summary = format!("streams of {} algorithms, {:.1}s", algs.len(), t0.elapsed().as_secs_f64());
        ok &= report(&format!("{} streams", dev.name), &t, &summary);
    }
    assert!(!required() || devices > 0, "no kernel device streams");
    assert!(ok, "streams failed on some kernel device (RESULT FAIL lines above)");
}

/// Cipher streams (CBC, CTR and ECB, both ways) on every kernel device that
/// offers them: the stream keeps the IV and the partial block and sends
/// whole blocks as plain requests, so random cuts of OpenSSL's cross-check
/// messages through one device give OpenSSL's output.
#[test]
fn cipher_streams_on_kernel_devices() {
    let Some(e) = kernel_engine() else { return };
    let streamable =
        |a: Algorithm| matches!(a, Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ctr | CipherMode::Ecb, .. });
    let refs: Vec<RefCase> = reference()
        .into_iter()
        .filter(|c| streamable(c.alg) && matches!(c.op, Op::Encrypt | Op::Decrypt) && !c.input.is_empty())
        .collect();
    let mut ok = true;
    let mut devices = 0;
    for dev in e.devices() {
        let algs: Vec<Algorithm> = dev.capabilities.iter().map(|c| c.alg).filter(|&a| streamable(a)).collect();
        let cases: Vec<&RefCase> = refs.iter().filter(|c| algs.contains(&c.alg)).collect();
        if cases.is_empty() {
            continue;
        }
        devices += 1;
        let mut t = Tally::default();
        let mut r = rng::seeded(&format!("kernel cipher streams {}", dev.name));
        // Each update is one request of the carried partial block and the
        // piece: within the module's max_buffer (4096 in the small stage).
        let cap = match dev.driver.as_str() {
            "kdev" => kdev::limits().map_or(usize::MAX, |l| l.max_buffer.saturating_sub(16).max(16)),
            _ => usize::MAX,
        };
        for c in cases {
            let what = format!("{} {} {:?} stream of {} bytes", dev.name, c.alg, c.op, c.input.len());
            let s = match session(&e, Step::new(c.alg, c.op, &c.key).expect("step"), &dev.name) {
                Ok(s) => s,
                Err(err) => {
                    t.fail(format!("{what}: session: {err}"));
                    continue;
                }
            };
            for _ in 0..3 {
                let pieces: Vec<usize> = cuts(&mut r, c.input.len())
                    .into_iter()
                    .flat_map(|n| {
                        let mut v = vec![cap; n / cap];
                        v.push(n % cap);
                        v
                    })
                    .collect();
                t.checks += 1;
                let got = e.stream(&s, &c.iv).and_then(|mut st| {
                    let (mut out, mut off) = (Vec::new(), 0);
                    for &n in &pieces {
                        st.update(&c.input[off..off + n], &mut out)?;
                        off += n;
                    }
                    st.finish(&mut out)?;
                    Ok(out)
                });
                match got {
                    Ok(out) if out == c.output => {}
                    Ok(out) => t.fail(format!("{what} in {} pieces: WRONG output ({} bytes)", pieces.len(), out.len())),
                    Err(err) => t.fail(format!("{what} in {} pieces: {err}", pieces.len())),
                }
            }
        }
        ok &= report(&format!("{} cipher streams", dev.name), &t, &format!("{} algorithms", algs.len()));
    }
    assert!(!required() || devices > 0, "no kernel device has a cipher stream");
    assert!(ok, "cipher streams failed on some kernel device (RESULT FAIL lines above)");
}

/// A kernel device broken mid-stream: the state is the device's own (a
/// sealed state of its fd, or its AF_ALG socket), so no other device
/// continues it, and the next update fails with a clear error, never a
/// digest; a new stream then runs on the devices left and is right.
#[test]
fn kernel_stream_on_a_device_broken_mid_way() {
    let Some(probe) = kernel_engine() else { return };
    let alg = Algorithm::Digest(DigestKind::Sha256);
    let names: Vec<String> = probe
        .devices()
        .into_iter()
        .filter(|d| supports(d, alg) && (d.name.starts_with("kdev:") || d.name == "afalg"))
        .map(|d| d.name)
        .collect();
    drop(probe);
    let mut r = rng::seeded("kernel stream broken");
    let data = rng::bytes(&mut r, 100_000);
    let want = openssl::digest(DigestKind::Sha256, &data);
    let mut t = Tally::default();
    for victim in &names {
        // Engines of two: the victim and another kernel device of sha256.
        let Some(other) = names.iter().find(|n| *n != victim) else { break };
        let open = |n: &str| -> Arc<dyn Driver> {
            if n == "afalg" {
                Arc::new(afalg::AfalgDevice::new("afalg").expect("afalg"))
            } else {
                Arc::new(kdev::KdevDevice::open(n.trim_start_matches("kdev:")).expect("kdev"))
            }
        };
        let e = Engine::builder().device_arc(open(victim)).device_arc(open(other)).build().expect("engine");
        let s = e.session(SessionBuilder::new().push(Step::new(alg, Op::Digest, &[]).expect("step"))).expect("session");
        let mut st = e.stream(&s, &[]).expect("stream");
        st.update(&data[..40_000], &mut Vec::new()).expect("first update");
        // Whichever device took the first update holds the state: break it.
        let holder = e.devices().into_iter().find(|d| d.stats.completed_ok > 0).map(|d| d.name).expect("holder");
        e.mark_broken(&holder, "broken mid-stream by the test").expect("mark broken");
        let what = format!("{holder} broken mid-stream (other: {})", if holder == *victim { other } else { victim });
        t.checks += 1;
        match st.update(&data[40_000..], &mut Vec::new()).and_then(|()| st.finish(&mut Vec::new())) {
            Ok(tag) if tag == want => println!("  note: {what}: continued elsewhere, right digest"),
            Ok(_) => t.fail(format!("{what}: WRONG digest")),
            Err(err) => {
                let m = err.to_string();
                if m.is_empty() {
                    t.fail(format!("{what}: an error without a message"));
                } else {
                    println!("  note: {what}: clear error: {m}");
                }
            }
        }
        t.checks += 1;
        match stream_through(&e, &s, &data, &[1, 50_000, 0, 49_999]) {
            Ok(tag) if tag == want => {}
            other => t.fail(format!("{what}: a new stream on the device left: {other:?}")),
        }
    }
    assert!(!required() || t.checks > 0, "no pair of kernel sha256 devices");
    assert!(report("streams on a device broken mid-way", &t, &format!("{} devices", names.len())), "see above");
}

// ---- RSA (akcipher) -----------------------------------------------------

/// One RSA answer of OpenSSL's for the kernel devices: a key (PKCS#8 and
/// SubjectPublicKeyInfo DER), a message, OpenSSL's PKCS#1 v1.5 SHA-256
/// signature of it and OpenSSL's PKCS#1 v1.5 ciphertext of it.
struct RsaRef {
    bits: u16,
    private: Vec<u8>,
    public: Vec<u8>,
    msg: Vec<u8>,
    sig: Vec<u8>,
    ct: Vec<u8>,
}

/// Runs the `openssl` command; panics with its error output on failure.
fn openssl_cmd(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut c = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    c.stdin.take().unwrap().write_all(input).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Keys made by `openssl genpkey` (2048 and 3072 bits), random messages,
/// and OpenSSL's signatures and ciphertexts of them (made on the host: key
/// generation is slow on the emulated CPU).
fn generate_rsa_reference() -> Vec<RsaRef> {
    let dir = std::env::temp_dir().join(format!("acrypto-kdev-rsa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = Vec::new();
    for bits in [2048u16, 3072] {
        let mut r = rng::seeded(&format!("kernel devices rsa {bits}"));
        let key = dir.join(format!("rsa{bits}.der"));
        let k = key.to_str().unwrap();
        openssl_cmd(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &format!("rsa_keygen_bits:{bits}"),
                "-outform",
                "DER",
                "-out",
                k,
            ],
            b"",
        );
        // PKCS#8 (genpkey's DER of an RSA key is PKCS#1 in OpenSSL 3.0).
        let private = openssl_cmd(&["pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", k, "-outform", "DER"], b"");
        let public = openssl_cmd(&["pkey", "-inform", "DER", "-in", k, "-pubout", "-outform", "DER"], b"");
        for len in [0usize, 1, 100, rng::len_in(&mut r, 1, 190)] {
            let msg = rng::bytes(&mut r, len);
            let sig = openssl_cmd(&["dgst", "-sha256", "-keyform", "DER", "-sign", k], &msg);
            let ct = openssl_cmd(&["pkeyutl", "-encrypt", "-keyform", "DER", "-inkey", k], &msg);
            out.push(RsaRef { bits, private: private.clone(), public: public.clone(), msg, sig, ct });
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

fn write_rsa_reference(cases: &[RsaRef]) -> String {
    let mut s = format!("# {}\n", openssl::version());
    for c in cases {
        let f = [&c.private, &c.public, &c.msg, &c.sig, &c.ct].map(|b| field(b)).join(" ");
        s.push_str(&format!("{} {f}\n", c.bits));
    }
    s
}

fn read_rsa_reference(text: &str) -> Vec<RsaRef> {
    let hexf = |s: &str| if s == "-" { Vec::new() } else { hex::decode(s).expect("RSA reference file: hex") };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 6, "RSA reference file: bad line");
            RsaRef {
                bits: f[0].parse().expect("RSA reference file: bits"),
                private: hexf(f[1]),
                public: hexf(f[2]),
                msg: hexf(f[3]),
                sig: hexf(f[4]),
                ct: hexf(f[5]),
            }
        })
        .collect()
}

fn rsa_reference() -> Vec<RsaRef> {
    match std::env::var("ACRYPTO_KDEV_REFERENCE") {
        Ok(path) => {
            let path = format!("{path}.rsa");
            read_rsa_reference(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        }
        Err(_) => generate_rsa_reference(),
    }
}

/// RSA PKCS#1 v1.5 over SHA-256 on every kernel device that offers it
/// (`pkcs1pad(rsa,sha256)`: the kernel's generic template in the VM; QAT,
/// CCP, HPRE through it where a machine has them): the CAVP FIPS 186-3
/// SigVer15 SHA-256 records; against OpenSSL on its own keys: our
/// signatures equal OpenSSL's byte for byte (PKCS#1 v1.5 is deterministic),
/// OpenSSL's verify and a flipped bit does not, OpenSSL's ciphertexts
/// decrypt, ours decrypt with the soft device and with the private key
/// here; prehashed requests sign and verify the same; a public key cannot
/// sign; a ciphertext of the wrong length and a malformed key are clear
/// errors.
#[test]
fn rsa_on_kernel_devices() {
    let Some(e) = kernel_engine() else { return };
    let soft = Engine::builder().device(acrypto::drivers::SoftDevice::new("soft0")).build().unwrap();
    let refs = rsa_reference();
    let cavp = common::asym_vectors::rsa_sigver("rsa/SigVer15_186-3.rsp");
    let mut devices = 0;
    let mut ok = true;
    for dev in e.devices() {
        if !dev.capabilities.iter().any(|c| c.alg.kind() == OpKind::Asym) {
            continue;
        }
        devices += 1;
        let t0 = std::time::Instant::now();
        let mut t = Tally::default();
        let mut r = rng::seeded(&format!("kernel devices rsa {}", dev.name));
        let sess = |alg, op, key: &[u8]| session(&e, Step::new(alg, op, key)?, &dev.name);
        let (mut kats, mut xchecks) = (0, 0);
        for c in cavp.iter() {
            let alg = Algorithm::Rsa { bits: c.bits, padding: RsaPadding::Pkcs1 };
            t.checks += 1;
            let what = format!("{} CAVP {} {}", dev.name, c.bits, c.result);
            let s = match sess(alg, Op::Verify, &c.spki) {
                Ok(s) => s,
                Err(Error::InvalidKey(_)) if c.e_changed => continue,
                Err(x) => {
                    t.fail(format!("{what}: session: {x}"));
                    continue;
                }
            };
            let got = e.run(&s, Request::new(c.msg.clone()).with_tag(&c.sig)).map(|_| ());
            match (c.pass, got) {
                (true, Ok(())) | (false, Err(Error::VerifyFailed)) => kats += 1,
                (_, got) => t.fail(format!("{what}: {got:?}")),
            }
        }
        for c in &refs {
            let alg = Algorithm::Rsa { bits: c.bits, padding: RsaPadding::Pkcs1 };
            let what = format!("{} rsa{} {} bytes", dev.name, c.bits, c.msg.len());
            let (Ok(sign), Ok(verify), Ok(pubverify), Ok(enc), Ok(dec)) = (
                sess(alg, Op::Sign, &c.private),
                sess(alg, Op::Verify, &c.private),
                sess(alg, Op::Verify, &c.public),
                sess(alg, Op::Encrypt, &c.public),
                sess(alg, Op::Decrypt, &c.private),
            ) else {
                t.fail(format!("{what}: sessions"));
                continue;
            };
            let mut check = |name: &str, good: bool, detail: String| {
                t.checks += 1;
                if !good {
                    t.fail(format!("{what}: {name}: {detail}"));
                }
            };
            // Signatures: OpenSSL's bytes, also from the SHA-256 digest.
            let got = e.run(&sign, Request::new(c.msg.clone())).map(|q| q.tag);
            check("sign equals openssl", got.as_ref().is_ok_and(|g| *g == c.sig), format!("{got:?}"));
            let digest = <sha2::Sha256 as sha2::Digest>::digest(&c.msg).to_vec();
            let got = e.run(&sign, Request::new(digest.clone()).with_prehashed(true)).map(|q| q.tag);
            check("prehashed sign equals openssl", got.as_ref().is_ok_and(|g| *g == c.sig), format!("{got:?}"));
            for s in [&verify, &pubverify] {
                let got = e.run(s, Request::new(c.msg.clone()).with_tag(&c.sig)).map(|_| ());
                check("openssl's signature verifies", got.is_ok(), format!("{got:?}"));
                let bad = flip(&c.sig, r.gen_range(0..c.sig.len() * 8));
                let got = e.run(s, Request::new(c.msg.clone()).with_tag(&bad)).map(|_| ());
                check("a flipped signature bit fails", got == Err(Error::VerifyFailed), format!("{got:?}"));
            }
            let got = e.run(&pubverify, Request::new(digest).with_prehashed(true).with_tag(&c.sig)).map(|_| ());
            check("prehashed verify", got.is_ok(), format!("{got:?}"));
            let other = [c.msg.clone(), vec![1]].concat();
            let got = e.run(&verify, Request::new(other).with_tag(&c.sig)).map(|_| ());
            check("another message fails", got == Err(Error::VerifyFailed), format!("{got:?}"));
            // Ciphertexts: OpenSSL's decrypt here; ours decrypt here and with the soft device.
            let got = e.run(&dec, Request::new(c.ct.clone())).map(|q| q.data);
            check("openssl's ciphertext decrypts", got.as_ref().is_ok_and(|g| *g == c.msg), format!("{got:?}"));
            let ct = e.run(&enc, Request::new(c.msg.clone())).map(|q| q.data);
            let soft_dec = soft
                .session(SessionBuilder::new().step(alg, Op::Decrypt, &c.private))
                .and_then(|s| soft.run(&s, Request::new(ct.clone().unwrap_or_default())))
                .map(|q| q.data);
            check(
                "our ciphertext decrypts with the soft device",
                ct.as_ref().is_ok_and(|x| x.len() == usize::from(c.bits) / 8)
                    && soft_dec.as_ref().is_ok_and(|g| *g == c.msg),
                format!("{ct:?} -> {soft_dec:?}"),
            );
            let back = ct.clone().and_then(|x| e.run(&dec, Request::new(x))).map(|q| q.data);
            check("and here", back.as_ref().is_ok_and(|g| *g == c.msg), format!("{back:?}"));
            // Bad use: a public key cannot sign; a short ciphertext; a malformed key.
            let got = sess(alg, Op::Sign, &c.public).and_then(|s| e.run(&s, Request::new(c.msg.clone())));
            check("a public key does not sign", matches!(got, Err(Error::InvalidKey(_))), format!("{got:?}"));
            let got = e.run(&dec, Request::new(c.ct[1..].to_vec())).map(|_| ());
            check("a short ciphertext", matches!(got, Err(Error::InvalidLength(_))), format!("{got:?}"));
            let got = sess(alg, Op::Verify, &c.public[..c.public.len() - 9]).map(|_| ());
            check("a truncated key", matches!(got, Err(Error::InvalidKey(_))), format!("{got:?}"));
            xchecks += 1;
        }
        ok &= report(
            &format!("{} rsa", dev.name),
            &t,
            &format!(
                "RSA: {kats} CAVP SigVer15 records, {xchecks} OpenSSL cross-checks, {:.1}s",
                t0.elapsed().as_secs_f64()
            ),
        );
    }
    if required() {
        assert!(devices > 0, "no kernel device offers RSA (pkcs1pad(rsa,sha256))");
    }
    assert!(ok, "RSA failed on a kernel device (RESULT FAIL lines above)");
}
