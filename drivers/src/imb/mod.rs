//! The ipsec-mb device: Intel's Multi-Buffer Crypto for IPsec library
//! (Debian's `libipsec-mb1`), as DPDK's `aesni_mb` driver uses it.
//!
//! - The library is loaded at run time ([`loader`]): a build, and the
//!   README's commands, need nothing of it; `imb` on a machine without it
//!   is a one-line error naming the Debian package.
//! - Each device has one worker thread with its own job manager
//!   (`IMB_MGR`), set up by `init_mb_mgr_auto` (the architecture it
//!   chose is the device's [`detail`](acrypto_core::Driver::detail)).
//! - The worker keeps the manager full: every request of a dequeued batch
//!   is submitted, the jobs the library returns are completed as they come,
//!   and the manager is flushed only when the device queue is empty (an
//!   idle device gives one-job latency).
//! - Keys are expanded once per session ([`ImbKey`]: AES round keys, HMAC
//!   inner and outer pad states, GCM key with GHASH powers), kept with the
//!   session's key and zeroized on drop.
//! - Route fusion: the engine gives a device the longest run of a route's
//!   steps it can do; AES encrypt then HMAC digest, and HMAC verify then
//!   AES decrypt (the ESP shapes), become one chained job
//!   (`IMB_ORDER_CIPHER_HASH` / `IMB_ORDER_HASH_CIPHER`). Any other run of
//!   steps goes through the manager one job per step.
//! - A request's buffers stay in the request, which the worker holds until
//!   the library gives the job back. MACs are computed in full and
//!   compared in constant time (truncated tags too); an AEAD open, and a
//!   verify-then-decrypt, decrypt into a scratch buffer that replaces the
//!   request's data only once the tag verified, so nothing unverified is
//!   released.
//! - Capabilities: every algorithm the library does that acrypto knows
//!   (AES-128/192/256 CBC, CTR, ECB; AES-GCM; ChaCha20-Poly1305;
//!   HMAC-SHA1/SHA256; SHA1/SHA256), each offered only after a probe job
//!   on the device's own manager gave the answer the software primitives
//!   give.

pub mod loader;
mod mgr;
#[allow(unsafe_op_in_unsafe_fn, unused_qualifications, rustdoc::all, clippy::all)]
pub mod sys;

pub use loader::{available, library, Library};
pub use mgr::ImbKey;

use crate::worker::{lock, Wakeup};
use acrypto_core::alg::MIN_VERIFY_TAG;
use acrypto_core::{
    Algorithm, Capability, CipherMode, DeviceClass, DeviceHandle, DigestKind, Driver, Error, Op, OpKind, Request,
    Result, Step, Work,
};
use mgr::{Expanded, Mgr};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use subtle::ConstantTimeEq;
use sys::IMB_JOB;
use zeroize::Zeroize;

/// Queue length an imb device asks for by default.
pub const DEFAULT_QUEUE_LEN: usize = 4096;
/// Most items the worker takes from its queue at once.
pub const DEFAULT_BATCH: usize = 64;
/// Jobs in flight at most (the manager's own ring).
const SLOTS: usize = sys::IMB_MAX_JOBS as usize;
/// Longest GCM plaintext (SP 800-38D: 2^39 - 256 bits).
const GCM_MAX: u64 = (1 << 36) - 32;

/// The algorithms ipsec-mb 1.3 implements that acrypto knows; each is
/// probed before a device offers it.
pub fn candidate_algorithms() -> impl Iterator<Item = Algorithm> {
    Algorithm::all().filter(|a| match a {
        Algorithm::Aes { mode, .. } => *mode != CipherMode::Xts,
        Algorithm::Rng => false,
        // ipsec-mb has no public-key operations.
        a if a.kind() == OpKind::Asym => false,
        _ => true,
    })
}

/// An ipsec-mb device: one worker thread with one job manager.
pub struct ImbDevice {
    name: String,
    queue_len: usize,
    batch: usize,
    caps: Vec<Algorithm>,
    arch: &'static str,
    cfg: Config,
    mgr: Mutex<Option<Mgr>>,
    shared: Arc<Shared>,
}

#[derive(Clone, Copy)]
struct Config {
    fuse: bool,
    fail_every: u64,
}

#[derive(Default)]
struct Shared {
    wake: Wakeup,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ImbDevice {
    /// A device named `name`: loads the library (once per process), sets
    /// up its manager and probes which algorithms it offers.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let lib = library()?;
        let (mgr, caps) = probe(Mgr::new(lib)?);
        let arch = mgr.arch_name();
        if caps.is_empty() {
            return Err(Error::Unsupported(format!("imb: ipsec-mb ({arch}) passed no probe")));
        }
        Ok(ImbDevice {
            name: name.into(),
            queue_len: DEFAULT_QUEUE_LEN,
            batch: DEFAULT_BATCH,
            caps,
            arch,
            cfg: Config { fuse: true, fail_every: 0 },
            mgr: Mutex::new(Some(mgr)),
            shared: Arc::default(),
        })
    }

    /// Sets the queue length it asks for.
    pub fn queue_len(mut self, n: usize) -> Self {
        self.queue_len = n.max(1);
        self
    }

    /// Sets how many items the worker takes at once.
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Whether an encrypt-then-MAC or verify-then-decrypt run becomes one
    /// chained job (the default) or one job per step (for measuring what
    /// fusion gains).
    pub fn fuse(mut self, on: bool) -> Self {
        self.cfg.fuse = on;
        self
    }

    /// Fault injection for tests: every `n`th job is submitted with a
    /// cipher mode the library does not know, so the library itself fails
    /// it. 0 (the default) turns it off.
    #[doc(hidden)]
    pub fn fail_every(mut self, n: u64) -> Self {
        self.cfg.fail_every = n;
        self
    }

    /// The architecture the library chose (`sse`, `avx2`, `avx512`, …).
    pub fn arch(&self) -> &'static str {
        self.arch
    }

    /// The algorithms the probes accepted.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.caps
    }
}

/// `n` devices named `imb0`, `imb1`, … (`imb` alone: one named `imb`).
pub fn imb_devices(n: Option<usize>) -> Result<Vec<ImbDevice>> {
    match n {
        None => Ok(vec![ImbDevice::new("imb")?]),
        Some(n) => (0..n).map(|i| ImbDevice::new(format!("imb{i}"))).collect(),
    }
}

impl Driver for ImbDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn driver(&self) -> &str {
        "imb"
    }

    fn capabilities(&self) -> Vec<Capability> {
        self.caps.iter().map(|a| Capability::new(*a, self.queue_len)).collect()
    }

    fn class(&self) -> DeviceClass {
        DeviceClass::Cpu
    }

    fn detail(&self) -> Option<String> {
        Some(format!("ipsec-mb {} {}", library().map(|l| l.version()).unwrap_or("?"), self.arch))
    }

    /// A MAC over AAD runs on the software primitive (see `fill`), which
    /// covers it.
    fn mac_over_aad(&self, alg: Algorithm) -> bool {
        alg.kind() == OpKind::Mac
    }

    fn attach(&self, dev: DeviceHandle) {
        let Some(mgr) = lock(&self.mgr).take() else {
            dev.mark_broken("imb: attached twice");
            return;
        };
        let shared = self.shared.clone();
        let (batch, cfg, name) = (self.batch, self.cfg, self.name.clone());
        let handle = dev.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("acrypto-{}", self.name))
            .spawn(move || Worker::new(mgr, name, cfg).run(&shared, &handle, batch));
        match spawned {
            Ok(t) => *lock(&self.shared.thread) = Some(t),
            Err(e) => dev.mark_broken(&format!("cannot start worker thread: {e}")),
        }
    }

    fn data_ready(&self) {
        self.shared.wake.signal();
    }

    fn detach(&self) {
        self.shared.wake.stop();
        if let Some(t) = lock(&self.shared.thread).take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// Runs one probe per candidate algorithm on `mgr` and keeps those whose
/// answer is the software primitives' answer.
fn probe(mgr: Mgr) -> (Mgr, Vec<Algorithm>) {
    let mut w = Worker::new(mgr, "probe".into(), Config { fuse: true, fail_every: 0 });
    let mut out = Vec::new();
    for alg in candidate_algorithms() {
        let ops: &[Op] = match alg.kind() {
            OpKind::Cipher | OpKind::Aead => &[Op::Encrypt, Op::Decrypt],
            OpKind::Mac => &[Op::Digest, Op::Verify],
            _ => &[Op::Digest],
        };
        let key: Vec<u8> = (0..alg.key_len().unwrap_or(0)).map(|i| (i * 7 + 1) as u8).collect();
        // For CTR, a carry from the counter's last byte into the next.
        let iv: Vec<u8> = (0..alg.iv_len()).map(|i| if i < 15 { 0x10 + i as u8 } else { 0xfe }).collect();
        let data: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(31)).collect();
        let ok = ops.iter().all(|&op| {
            let Ok(step) = Step::new(alg, op, &key) else { return false };
            // AAD for an AEAD only: a MAC over AAD runs on the software
            // primitive (see `fill`), which would prove nothing here.
            let aad: &[u8] = if alg.kind() == OpKind::Aead { b"probe" } else { b"" };
            let mut want = Request::new(data.clone()).with_iv(&iv).with_aad(aad);
            if op == Op::Verify || op == Op::Decrypt {
                // The tag a digest/seal of the data gives.
                let first = if op == Op::Verify { Op::Digest } else { Op::Encrypt };
                let Ok(s) = Step::new(alg, first, &key) else { return false };
                if crate::crypto::apply_step(&s, &mut want).is_err() {
                    return false;
                }
                if op == Op::Verify {
                    want.tag.truncate(12);
                }
            }
            let mut got = want.clone();
            if crate::crypto::apply_step(&step, &mut want).is_err() {
                return false;
            }
            w.run_one(std::slice::from_ref(&step), &mut got).is_ok() && got == want
        });
        if ok {
            out.push(alg);
        }
    }
    (w.mgr, out)
}

/// What one job of a run of steps does.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// AES cbc/ecb/ctr over the data, in place.
    Cipher(usize),
    /// sha1/sha256 of the data into the tag.
    Hash(usize),
    /// HMAC digest (into the tag) or verify (against it).
    Mac(usize),
    /// AES-GCM or ChaCha20-Poly1305 seal or open.
    Aead(usize),
    /// AES encrypt then HMAC digest over the ciphertext: one chained job.
    EncMac(usize, usize),
    /// HMAC verify over the ciphertext then AES decrypt: one chained job.
    MacDec(usize, usize),
}

impl Stage {
    fn end(self) -> usize {
        match self {
            Stage::Cipher(i) | Stage::Hash(i) | Stage::Mac(i) | Stage::Aead(i) => i + 1,
            Stage::EncMac(_, j) | Stage::MacDec(_, j) => j + 1,
        }
    }
}

fn is_block_cipher(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ctr | CipherMode::Ecb, .. })
}

/// Whether a CTR step's counter would carry out of its low 32 bits within
/// the request: ipsec-mb's counter (RFC 3686's 32-bit block counter)
/// carries only within them, acrypto's (OpenSSL's) through all 128, so
/// such a request (about one in 4 million for random IVs and 16 KiB
/// requests) runs on the software primitive instead.
fn ctr_carries_past_32_bits(step: &Step, req: &Request) -> bool {
    if !matches!(step.alg, Algorithm::Aes { mode: CipherMode::Ctr, .. }) || req.iv.len() != 16 {
        return false;
    }
    let mut low = [0u8; 4];
    low.copy_from_slice(&req.iv[12..]);
    let blocks = req.current().len().div_ceil(16) as u64;
    blocks > 0 && u64::from(u32::from_be_bytes(low)) + (blocks - 1) > u64::from(u32::MAX)
}

/// The stage that starts at step `i`.
fn plan(steps: &[Step], i: usize, fuse: bool, req: &Request) -> Result<Stage> {
    let s = &steps[i];
    let next = steps.get(i + 1);
    if fuse && !steps[i..].iter().take(2).any(|s| ctr_carries_past_32_bits(s, req)) {
        if let Some(n) = next {
            if is_block_cipher(s.alg)
                && s.op == Op::Encrypt
                && matches!(n.alg, Algorithm::Hmac(_))
                && n.op == Op::Digest
            {
                return Ok(Stage::EncMac(i, i + 1));
            }
            if matches!(s.alg, Algorithm::Hmac(_))
                && s.op == Op::Verify
                && is_block_cipher(n.alg)
                && n.op == Op::Decrypt
            {
                return Ok(Stage::MacDec(i, i + 1));
            }
        }
    }
    Ok(match s.alg {
        a if is_block_cipher(a) => Stage::Cipher(i),
        Algorithm::Digest(_) => Stage::Hash(i),
        Algorithm::Hmac(_) => Stage::Mac(i),
        Algorithm::AesGcm { .. } | Algorithm::ChaCha20Poly1305 => Stage::Aead(i),
        a => return Err(Error::Unsupported(format!("imb cannot do {a}"))),
    })
}

/// Checks a step against the request as the software device does, so a
/// bad request gets the same clear error and the library never sees it.
fn check(step: &Step, req: &Request) -> Result<()> {
    let alg = step.alg;
    if !step.op.fits(alg) {
        return Err(Error::InvalidArgument(format!("{:?} does not apply to {alg}", step.op)));
    }
    alg.check_key(step.key.bytes())?;
    match alg.kind() {
        OpKind::Cipher => {
            alg.check_iv(&req.iv)?;
            alg.check_data_len(req.current().len())?;
        }
        OpKind::Aead => {
            alg.check_iv(&req.iv)?;
            alg.check_tag(step.op, &req.tag)?;
            if matches!(alg, Algorithm::AesGcm { .. }) && req.current().len() as u64 > GCM_MAX {
                return Err(Error::InvalidLength(format!("{alg} takes at most {GCM_MAX} bytes")));
            }
        }
        OpKind::Mac if step.op == Op::Verify => {
            let n = req.tag.len();
            if !(MIN_VERIFY_TAG..=alg.digest_len()).contains(&n) {
                return Err(Error::InvalidLength(format!(
                    "{alg} verify takes a tag of {MIN_VERIFY_TAG} to {} bytes, got {n}",
                    alg.digest_len()
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

/// A key expanded for one request because the session's key slot holds
/// another driver's expansion; freed when the slot is.
struct OwnedKey(*mut ImbKey);

impl Drop for OwnedKey {
    fn drop(&mut self) {
        // SAFETY: made by Box::into_raw in `key_for` and dropped once, after
        // the job that used it came back.
        drop(unsafe { Box::from_raw(self.0) })
    }
}

/// What a slot holds: engine work, or a probe's steps and request.
enum Item {
    Work(Work),
    Own(Vec<Step>, Request),
}

impl Item {
    fn parts(&mut self) -> (&[Step], &mut Request) {
        match self {
            Item::Work(w) => w.parts(),
            Item::Own(s, r) => (s, r),
        }
    }
}

/// One request in the worker's hands.
#[derive(Default)]
struct Slot {
    item: Option<Item>,
    /// The stage in flight.
    stage: Option<Stage>,
    /// Where a verified decryption lands before it replaces the data.
    scratch: Vec<u8>,
    /// The full MAC or tag the library computed, for a verify.
    mac: Vec<u8>,
    own: Vec<OwnedKey>,
}

struct Worker {
    mgr: Mgr,
    name: String,
    cfg: Config,
    slots: Vec<Slot>,
    free: Vec<usize>,
    in_flight: usize,
    jobs: u64,
    /// Slots whose next stage is to be submitted.
    again: Vec<usize>,
    /// Finished items and their status.
    done: Vec<(Item, Result<()>)>,
}

impl Worker {
    fn new(mgr: Mgr, name: String, cfg: Config) -> Worker {
        let slots = (0..SLOTS).map(|_| Slot { mac: vec![0; 32], ..Slot::default() }).collect();
        Worker {
            mgr,
            name,
            cfg,
            slots,
            free: (0..SLOTS).rev().collect(),
            in_flight: 0,
            jobs: 0,
            again: Vec::new(),
            done: Vec::new(),
        }
    }

    fn run(mut self, shared: &Shared, dev: &DeviceHandle, batch: usize) {
        loop {
            if acrypto_core::spin_until(&mut || dev.queued() > 0) {
                shared.wake.clear();
            } else if !shared.wake.wait() {
                // Nothing is in flight here (the queue was empty and the
                // manager flushed), so the manager may go.
                self.flush_all();
                self.deliver();
                return;
            }
            // Take work until the queue is empty; only then flush.
            loop {
                let work = dev.dequeue_batch(batch);
                if work.is_empty() {
                    self.flush_all();
                    self.deliver();
                    if dev.queued() == 0 {
                        break;
                    }
                    continue;
                }
                for w in work {
                    self.start(Item::Work(w));
                }
                self.deliver();
            }
        }
    }

    /// Runs one request to its end on this manager (probes).
    fn run_one(&mut self, steps: &[Step], req: &mut Request) -> Result<()> {
        self.start(Item::Own(steps.to_vec(), std::mem::take(req)));
        self.flush_all();
        let mut result = Err(Error::DeviceFailure("imb: probe lost".into()));
        for (item, status) in self.done.drain(..) {
            if let Item::Own(_, r) = item {
                *req = r;
                result = status;
            }
        }
        result
    }

    /// Completes what finished, in one go.
    fn deliver(&mut self) {
        if self.done.is_empty() {
            return;
        }
        let done = std::mem::take(&mut self.done);
        Work::complete_all(done.into_iter().filter_map(|(item, st)| match item {
            Item::Work(w) => Some((w, st)),
            Item::Own(..) => None,
        }));
    }

    fn start(&mut self, mut item: Item) {
        if item.parts().0.is_empty() {
            self.done.push((item, Ok(())));
            return;
        }
        while self.free.is_empty() {
            // Every slot is in the manager: complete the earliest job.
            let j = self.mgr.flush();
            if j.is_null() {
                // Cannot happen (a slot is freed when its job returns);
                // refuse the work rather than lose it.
                self.done.push((item, Err(Error::DeviceFailure(format!("{}: no free job slot", self.name)))));
                return;
            }
            self.returned(j);
        }
        let Some(idx) = self.free.pop() else { return };
        let slot = &mut self.slots[idx];
        slot.item = Some(item);
        slot.stage = None;
        self.again.push(idx);
        self.drain_again();
    }

    fn drain_again(&mut self) {
        while let Some(idx) = self.again.pop() {
            self.submit_next(idx);
        }
    }

    fn finish(&mut self, idx: usize, status: Result<()>) {
        let slot = &mut self.slots[idx];
        slot.own.clear();
        slot.stage = None;
        if let Some(item) = slot.item.take() {
            self.done.push((item, status));
        }
        self.free.push(idx);
    }

    /// Submits the next stage of the slot's request (or finishes it).
    fn submit_next(&mut self, idx: usize) {
        let pos = self.slots[idx].stage.map_or(0, Stage::end);
        let fuse = self.cfg.fuse;
        let planned = {
            let Some(item) = self.slots[idx].item.as_mut() else { return };
            let (steps, req) = item.parts();
            if pos >= steps.len() {
                None
            } else {
                Some(plan(steps, pos, fuse, req))
            }
        };
        let stage = match planned {
            None => return self.finish(idx, Ok(())),
            Some(Err(e)) => return self.finish(idx, Err(e)),
            Some(Ok(s)) => s,
        };
        self.slots[idx].stage = Some(stage);
        let job = self.mgr.next_job();
        // SAFETY: next_job returns the manager's next free job, a valid
        // IMB_JOB this thread may write until it submits it.
        let job = unsafe { &mut *job };
        // The slot is taken out while the job is filled (its heap buffers,
        // which the job points into, do not move with it).
        let mut slot = std::mem::take(&mut self.slots[idx]);
        let filled = fill(&self.mgr, &mut slot, stage, job);
        self.slots[idx] = slot;
        match filled {
            Err(e) => self.finish(idx, Err(e)),
            // Nothing for the library to do (no data): the stage is done.
            Ok(false) => self.again.push(idx),
            Ok(true) => {
                self.jobs += 1;
                if self.cfg.fail_every > 0 && self.jobs.is_multiple_of(self.cfg.fail_every) {
                    job.cipher_mode = sys::IMB_CIPHER_NUM;
                }
                job.user_data = idx as *mut std::ffi::c_void;
                self.in_flight += 1;
                // SAFETY: every pointer `fill` stored points into the slot's
                // request (its Vec buffers), the slot's scratch and MAC
                // buffers, or a key schedule kept by the session the request
                // holds (or by the slot): all stay where they are, untouched,
                // until the job comes back and `returned` takes the slot.
                let mut j = unsafe { self.mgr.submit() };
                while !j.is_null() {
                    self.returned(j);
                    j = self.mgr.completed();
                }
            }
        }
    }

    fn flush_all(&mut self) {
        loop {
            while self.in_flight > 0 {
                let j = self.mgr.flush();
                if j.is_null() {
                    break;
                }
                self.returned(j);
            }
            if self.again.is_empty() {
                break;
            }
            self.drain_again();
        }
    }
}

/// The expanded key of `step`, kept with the session's key (or, when that
/// slot holds another driver's expansion, made for this request and kept in
/// `own` until the job is back).
fn key_for(mgr: &Mgr, own: &mut Vec<OwnedKey>, step: &Step) -> Result<*const ImbKey> {
    let (alg, arch) = (step.alg, mgr.arch());
    match step.key.schedule(|k| mgr.expand(alg, k))? {
        Some(k) if k.fits(alg, arch) => Ok(k as *const ImbKey),
        _ => {
            let p = Box::into_raw(Box::new(mgr.expand(alg, step.key.bytes())?));
            own.push(OwnedKey(p));
            Ok(p)
        }
    }
}

/// Fills `job` for `stage` of the slot's request. `Ok(false)`: nothing to
/// submit (a cipher over no data). Every pointer stored is a heap buffer
/// of the request (data, IV, AAD, tag), of the slot (scratch, MAC) or a key
/// schedule kept with the session or the slot: none moves when the slot
/// does.
fn fill(mgr: &Mgr, slot: &mut Slot, stage: Stage, job: &mut IMB_JOB) -> Result<bool> {
    *job = IMB_JOB::default();
    let Slot { item, scratch, mac, own, .. } = slot;
    let Some(item) = item.as_mut() else {
        return Err(Error::DeviceFailure("imb: empty slot".into()));
    };
    let (steps, req) = item.parts();
    let (first, second) = match stage {
        Stage::Cipher(i) | Stage::Hash(i) | Stage::Mac(i) | Stage::Aead(i) => (i, None),
        Stage::EncMac(i, j) | Stage::MacDec(i, j) => (i, Some(j)),
    };
    check(&steps[first], req)?;
    if let Some(j) = second {
        check(&steps[j], req)?;
    }
    let len = req.current().len();
    let last = second.unwrap_or(first);
    // ipsec-mb refuses to MAC or hash an empty message (and a cipher over
    // nothing has nothing to do): those run on the software primitive. So
    // does a MAC over associated data and the message (an authenc route such
    // as ESP's, whose HMAC covers the header and IV given as `aad`): one
    // ipsec-mb job MACs one contiguous buffer.
    let mac_with_aad = !req.aad.is_empty() && matches!(stage, Stage::Mac(_) | Stage::EncMac(..) | Stage::MacDec(..));
    if (len == 0 && !matches!(stage, Stage::Aead(_))) || mac_with_aad {
        crate::crypto::apply_steps(&steps[first..=last], req)?;
        return Ok(false);
    }
    // Only stages that write in place make the output buffer current (a
    // digest leaves it alone; a decryption that must verify first lands in
    // the scratch buffer and replaces the data once it has).
    let in_place = match stage {
        Stage::Cipher(_) | Stage::EncMac(..) => true,
        Stage::Aead(i) => steps[i].op == Op::Encrypt,
        Stage::Hash(_) | Stage::Mac(_) | Stage::MacDec(..) => false,
    };
    let data = if in_place { req.current_mut().as_mut_ptr() } else { req.current().as_ptr().cast_mut() };
    job.__bindgen_anon_1.src = data;
    job.__bindgen_anon_2.dst = data;
    job.__bindgen_anon_3.cipher_start_src_offset_in_bytes = 0;
    job.__bindgen_anon_4.msg_len_to_cipher_in_bytes = len as u64;
    job.hash_start_src_offset_in_bytes = 0;
    job.__bindgen_anon_5.msg_len_to_hash_in_bytes = len as u64;
    job.cipher_mode = sys::IMB_CIPHER_NULL;
    job.hash_alg = sys::IMB_AUTH_NULL;
    job.chain_order = sys::IMB_ORDER_CIPHER_HASH;
    job.cipher_direction = sys::IMB_DIR_ENCRYPT;
    match stage {
        Stage::Cipher(i) => {
            if ctr_carries_past_32_bits(&steps[i], req) {
                crate::crypto::apply_step(&steps[i], req)?;
                return Ok(false);
            }
            cipher(mgr, own, &steps[i], req, job)?;
        }
        Stage::Hash(i) => {
            let alg = steps[i].alg;
            job.hash_alg = match alg {
                Algorithm::Digest(DigestKind::Sha1) => sys::IMB_AUTH_SHA_1,
                _ => sys::IMB_AUTH_SHA_256,
            };
            req.tag.resize(alg.digest_len(), 0);
            job.auth_tag_output = req.tag.as_mut_ptr();
            job.auth_tag_output_len_in_bytes = alg.digest_len() as u64;
        }
        Stage::Mac(i) => hmac(mgr, own, mac, &steps[i], req, job)?,
        Stage::EncMac(i, j) => {
            cipher(mgr, own, &steps[i], req, job)?;
            hmac(mgr, own, mac, &steps[j], req, job)?;
            job.chain_order = sys::IMB_ORDER_CIPHER_HASH;
        }
        Stage::MacDec(i, j) => {
            hmac(mgr, own, mac, &steps[i], req, job)?;
            cipher(mgr, own, &steps[j], req, job)?;
            scratch.clear();
            scratch.resize(len, 0);
            job.__bindgen_anon_2.dst = scratch.as_mut_ptr();
            job.chain_order = sys::IMB_ORDER_HASH_CIPHER;
        }
        Stage::Aead(i) => {
            let step = &steps[i];
            match step.alg {
                Algorithm::AesGcm { key_bits } => {
                    let key = key_for(mgr, own, step)?;
                    // SAFETY: `key` points to a live ImbKey (kept with the
                    // session's key or in `own`).
                    let Expanded::Gcm(g) = (unsafe { &(*key).x }) else {
                        return Err(Error::DeviceFailure("imb: GCM key of another kind".into()));
                    };
                    let k: *const sys::gcm_key_data = &g.0;
                    job.enc_keys = k.cast();
                    job.dec_keys = k.cast();
                    job.key_len_in_bytes = u64::from(key_bits / 8);
                    job.cipher_mode = sys::IMB_CIPHER_GCM;
                    job.hash_alg = sys::IMB_AUTH_AES_GMAC;
                    job.u.GCM.aad = req.aad.as_ptr().cast();
                    job.u.GCM.aad_len_in_bytes = req.aad.len() as u64;
                }
                _ => {
                    let key = step.key.bytes();
                    job.enc_keys = key.as_ptr().cast();
                    job.dec_keys = key.as_ptr().cast();
                    job.key_len_in_bytes = key.len() as u64;
                    job.cipher_mode = sys::IMB_CIPHER_CHACHA20_POLY1305;
                    job.hash_alg = sys::IMB_AUTH_CHACHA20_POLY1305;
                    job.u.CHACHA20_POLY1305.aad = req.aad.as_ptr().cast();
                    job.u.CHACHA20_POLY1305.aad_len_in_bytes = req.aad.len() as u64;
                }
            }
            job.iv = req.iv.as_ptr();
            job.iv_len_in_bytes = req.iv.len() as u64;
            job.auth_tag_output_len_in_bytes = 16;
            if step.op == Op::Decrypt {
                job.cipher_direction = sys::IMB_DIR_DECRYPT;
                job.chain_order = sys::IMB_ORDER_HASH_CIPHER;
                scratch.clear();
                scratch.resize(len, 0);
                job.__bindgen_anon_2.dst = scratch.as_mut_ptr();
                job.auth_tag_output = mac.as_mut_ptr();
            } else {
                req.tag.resize(16, 0);
                job.auth_tag_output = req.tag.as_mut_ptr();
            }
        }
    }
    Ok(true)
}

/// The cipher half of a job: AES cbc/ecb/ctr with the session's expanded key.
fn cipher(mgr: &Mgr, own: &mut Vec<OwnedKey>, step: &Step, req: &Request, job: &mut IMB_JOB) -> Result<()> {
    let Algorithm::Aes { key_bits, mode } = step.alg else {
        return Err(Error::Unsupported(format!("imb cipher {}", step.alg)));
    };
    let key = key_for(mgr, own, step)?;
    // SAFETY: `key` points to a live ImbKey (kept with the session's key or
    // in `own`).
    let Expanded::Aes(r) = (unsafe { &(*key).x }) else {
        return Err(Error::DeviceFailure("imb: AES key of another kind".into()));
    };
    job.enc_keys = r.enc.as_ptr().cast();
    job.dec_keys = r.dec.as_ptr().cast();
    job.key_len_in_bytes = u64::from(key_bits / 8);
    job.cipher_mode = match mode {
        CipherMode::Cbc => sys::IMB_CIPHER_CBC,
        CipherMode::Ecb => sys::IMB_CIPHER_ECB,
        _ => sys::IMB_CIPHER_CNTR,
    };
    let enc = step.op == Op::Encrypt;
    job.cipher_direction = if enc { sys::IMB_DIR_ENCRYPT } else { sys::IMB_DIR_DECRYPT };
    job.chain_order = if enc { sys::IMB_ORDER_CIPHER_HASH } else { sys::IMB_ORDER_HASH_CIPHER };
    job.iv = req.iv.as_ptr();
    job.iv_len_in_bytes = req.iv.len() as u64;
    Ok(())
}

/// The HMAC half of a job: digest into the request's tag, or into the
/// slot's MAC buffer for a verify.
fn hmac(
    mgr: &Mgr,
    own: &mut Vec<OwnedKey>,
    mac: &mut [u8],
    step: &Step,
    req: &mut Request,
    job: &mut IMB_JOB,
) -> Result<()> {
    let alg = step.alg;
    let key = key_for(mgr, own, step)?;
    // SAFETY: `key` points to a live ImbKey (kept with the session's key or
    // in `own`).
    let Expanded::Hmac(p) = (unsafe { &(*key).x }) else {
        return Err(Error::DeviceFailure("imb: HMAC key of another kind".into()));
    };
    job.hash_alg = match alg {
        Algorithm::Hmac(DigestKind::Sha1) => sys::IMB_AUTH_HMAC_SHA_1,
        _ => sys::IMB_AUTH_HMAC_SHA_256,
    };
    job.u.HMAC._hashed_auth_key_xor_ipad = p.ipad.as_ptr();
    job.u.HMAC._hashed_auth_key_xor_opad = p.opad.as_ptr();
    job.auth_tag_output_len_in_bytes = alg.digest_len() as u64;
    if step.op == Op::Verify {
        job.auth_tag_output = mac.as_mut_ptr();
    } else {
        req.tag.resize(alg.digest_len(), 0);
        job.auth_tag_output = req.tag.as_mut_ptr();
    }
    Ok(())
}

impl Worker {
    /// A job came back from the library: check it, finish its stage, and
    /// queue the request's next stage (or finish the request).
    fn returned(&mut self, job: *mut IMB_JOB) {
        // SAFETY: the library returns jobs it was given, complete; this
        // thread reads it before the next call on the manager reuses it.
        let job = unsafe { &*job };
        let idx = job.user_data as usize;
        self.in_flight = self.in_flight.saturating_sub(1);
        if idx >= self.slots.len() {
            return;
        }
        let status = job.status;
        let Some(stage) = self.slots[idx].stage else { return self.finish(idx, Ok(())) };
        if status != sys::IMB_STATUS_COMPLETED {
            let why = self.mgr.last_error();
            return self.finish(
                idx,
                Err(Error::DeviceFailure(format!("{}: ipsec-mb failed the job (status {status}): {why}", self.name))),
            );
        }
        let Slot { item, scratch, mac, .. } = &mut self.slots[idx];
        let Some(item) = item.as_mut() else { return };
        let (steps, req) = item.parts();
        // A verified decryption replaces the data; what the scratch holds
        // then is ciphertext, or plaintext that did not verify: wiped
        // either way.
        // An AEAD open that fails leaves the output as the ciphertext (as
        // the software device's does); a failed verify-then-decrypt stops
        // at the verify, before the output is touched.
        let mut open = |full: &[u8], req: &mut Request, aead: bool| {
            let ok = tag_ok(full, &req.tag);
            if ok.is_ok() {
                std::mem::swap(req.current_mut(), scratch);
            } else if aead {
                req.current_mut();
            }
            scratch.zeroize();
            ok
        };
        let verdict = match stage {
            Stage::Mac(i) if steps[i].op == Op::Verify => tag_ok(mac, &req.tag),
            Stage::MacDec(..) => open(mac, req, false),
            Stage::Aead(i) if steps[i].op == Op::Decrypt => open(&mac[..16], req, true),
            _ => Ok(()),
        };
        match verdict {
            Ok(()) => self.again.push(idx),
            Err(e) => self.finish(idx, Err(e)),
        }
    }
}

/// Constant-time comparison of the leftmost `tag.len()` bytes of `full`.
fn tag_ok(full: &[u8], tag: &[u8]) -> Result<()> {
    if tag.len() <= full.len() && bool::from(full[..tag.len()].ct_eq(tag)) {
        Ok(())
    } else {
        Err(Error::VerifyFailed)
    }
}
