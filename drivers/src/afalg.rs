//! The afalg device: the kernel crypto API through AF_ALG sockets
//! (`skcipher`, `hash` and `aead` types), for machines without the acrypto
//! module.
//!
//! One device covers every acrypto algorithm the kernel offers through
//! AF_ALG (probed at creation): `cbc(aes)`, `ecb(aes)`, `ctr(aes)`,
//! `xts(aes)`, `sha1`, `sha256`, `hmac(sha1)`, `hmac(sha256)`, `gcm(aes)`,
//! `rfc7539(chacha20,poly1305)`; the kernel picks its highest-priority
//! driver for each. Random numbers are not
//! offered (`algif_rng` is rarely loaded; the soft device has `getrandom`).
//!
//! Worker threads (two by default) take batches from the device queue. Each
//! worker keeps its own sockets: per (algorithm, key) a bound transform
//! socket with the key set and one accepted operation socket, least
//! recently used first out beyond [`SOCKETS_PER_WORKER`]. A step is one
//! `sendmsg` (operation and IV as control messages for ciphers) and one
//! `read` of the result, in place on [`Request::current_mut`] for ciphers and
//! into the tag for digests. HMAC verify computes the MAC in the kernel and
//! compares it here in constant time.
//!
//! AEAD: an `aead` socket per (algorithm, tag length, key), the tag length
//! set with `ALG_SET_AEAD_AUTHSIZE`. A seal sends AAD ‖ plaintext with
//! `ALG_SET_AEAD_ASSOCLEN` and reads AAD ‖ ciphertext ‖ tag; an open sends
//! AAD ‖ ciphertext ‖ tag and reads AAD ‖ plaintext. The result is read into
//! a scratch buffer and copied to the request only when the kernel accepted
//! the tag: on `EBADMSG` the request keeps its ciphertext (as the soft
//! device does) and the scratch buffer is wiped. AF_ALG is synchronous per socket, so
//! the parallelism is the number of workers.
//!
//! **Streams** (hash and HMAC): the state is an operation socket holding
//! the running hash, its data sent with `MSG_MORE` ([`AfalgState`]); the
//! family is the device's name, so only this device continues it (any of
//! its workers). A state is never written once made: an update `accept()`s
//! a copy of it (AF_ALG's `accept` on an operation socket clones the hash
//! state, `crypto_ahash_export`/`import` in the kernel), sends the data to
//! the copy, and the copy is the next state; the finish reads the digest
//! from a copy. So a failed update leaves the stream's state as it was, a
//! duplicated stream (which shares the state) continues independently,
//! and memory is one socket per open stream (two during an update).

use crate::kdev::{check_verify_len, errno_error, verify_tag, KeyBytes};
use crate::worker::{lock, Wakeup};
use acrypto_core::alg::{AEAD_NONCE_LEN, AEAD_TAG_LEN};
use acrypto_core::{
    Algorithm, Capability, CipherMode, DeviceClass, DeviceHandle, DigestKind, Driver, Error, Op, OpKind, Request,
    Result, Step, StreamState, Work,
};
use nix::errno::Errno;
use nix::sys::socket::{
    accept, bind, send, sendmsg, setsockopt, socket,
    sockopt::{AlgSetAeadAuthSize, AlgSetKey},
    AddressFamily, AlgAddr, ControlMessage, MsgFlags, SockFlag, SockType,
};
use std::collections::HashMap;
use std::fs::File;
use std::io::{IoSlice, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use zeroize::Zeroizing;

/// Queue length the device asks for.
pub const DEFAULT_QUEUE_LEN: usize = 1024;
/// Most items a worker takes at once.
pub const DEFAULT_BATCH: usize = 32;
/// Default number of worker threads.
pub const DEFAULT_WORKERS: usize = 2;
/// Transform sockets one worker keeps open.
pub const SOCKETS_PER_WORKER: usize = 64;

/// The AF_ALG type and name of an algorithm (`None`: not through AF_ALG).
pub fn kernel_name(alg: Algorithm) -> Option<(&'static str, &'static str)> {
    Some(match alg {
        Algorithm::Aes { mode: CipherMode::Cbc, .. } => ("skcipher", "cbc(aes)"),
        Algorithm::Aes { mode: CipherMode::Ecb, .. } => ("skcipher", "ecb(aes)"),
        Algorithm::Aes { mode: CipherMode::Ctr, .. } => ("skcipher", "ctr(aes)"),
        Algorithm::Aes { mode: CipherMode::Xts, .. } => ("skcipher", "xts(aes)"),
        Algorithm::Digest(DigestKind::Sha1) => ("hash", "sha1"),
        Algorithm::Digest(DigestKind::Sha256) => ("hash", "sha256"),
        Algorithm::Hmac(DigestKind::Sha1) => ("hash", "hmac(sha1)"),
        Algorithm::Hmac(DigestKind::Sha256) => ("hash", "hmac(sha256)"),
        // AF_ALG has no akcipher or kpp interface in mainline Linux: the
        // asymmetric algorithms are not offered through it.
        Algorithm::Rng | Algorithm::Rsa { .. } | Algorithm::Ecdsa(_) | Algorithm::X25519 | Algorithm::EcdhP256 => {
            return None
        }
        Algorithm::AesGcm { .. } => ("aead", "gcm(aes)"),
        Algorithm::ChaCha20Poly1305 => ("aead", "rfc7539(chacha20,poly1305)"),
    })
}

/// An afalg stream state: an operation socket with the running hash.
pub struct AfalgState {
    op: File,
    /// The device ([`AfalgDevice`]'s number) that made it.
    device: u64,
}

/// Process-wide device numbers.
static NEXT_DEVICE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Reads exactly `buf.len()` bytes of result from an operation socket.
fn read_exact_from(op: &mut File, buf: &mut [u8], what: &str) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match op.read(&mut buf[got..]) {
            Ok(0) => return Err(Error::DeviceFailure(format!("{what}: AF_ALG gave {got} of {} bytes", buf.len()))),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
                return Err(errno_error(what, errno));
            }
        }
    }
    Ok(())
}

/// A new operation socket from `fd`: a fresh one from a transform socket,
/// or a copy of the hash state of an operation socket.
fn accept_op(fd: i32, what: &str) -> Result<File> {
    let raw = loop {
        match accept(fd) {
            Err(Errno::EINTR) => continue,
            r => break r.map_err(|e| errno_error(&format!("{what}: accept"), e))?,
        }
    };
    // SAFETY: `accept` just returned `raw`, a new fd that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(raw) }))
}

/// Sends all of `data` to a hash operation socket, more to follow.
fn send_more(op: &File, data: &[u8], what: &str) -> Result<()> {
    let mut off = 0;
    while off < data.len() {
        // nix names no MSG_MORE: the kernel's flag as is.
        match send(op.as_raw_fd(), &data[off..], MsgFlags::from_bits_retain(libc::MSG_MORE)) {
            Ok(0) => return Err(Error::DeviceFailure(format!("{what}: AF_ALG took no bytes"))),
            Ok(n) => off += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(errno_error(what, e)),
        }
    }
    Ok(())
}

/// A transform socket with its key and one operation socket.
struct Tfm {
    ctrl: OwnedFd,
    op: File,
    last_use: u64,
}

impl Tfm {
    /// `auth`: an AEAD's tag length (0 otherwise).
    fn open(alg: Algorithm, auth: usize, key: &[u8]) -> Result<Tfm> {
        let (ty, name) = kernel_name(alg).ok_or_else(|| Error::Unsupported(format!("afalg cannot do {alg}")))?;
        let ctrl = socket(AddressFamily::Alg, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).map_err(|e| {
            Error::Unsupported(format!(
                "AF_ALG is not available: {e} (kernel without CONFIG_CRYPTO_USER_API, or af_alg not loaded)"
            ))
        })?;
        bind(ctrl.as_raw_fd(), &AlgAddr::new(ty, name))
            .map_err(|e| Error::Unsupported(format!("AF_ALG {ty} {name}: {e} (algif_{ty} not loaded?)")))?;
        if alg.kind() != OpKind::Hash {
            setsockopt(&ctrl, AlgSetKey::default(), &key).map_err(|e| match e {
                Errno::EINVAL => Error::InvalidKey(format!("AF_ALG {name} refused the {alg} key")),
                e => errno_error(&format!("AF_ALG {name} setkey"), e),
            })?;
        }
        if alg.kind() == OpKind::Aead {
            setsockopt(&ctrl, AlgSetAeadAuthSize, &auth).map_err(|e| match e {
                Errno::EINVAL => Error::InvalidLength(format!("AF_ALG {name} refused a {auth}-byte tag")),
                e => errno_error(&format!("AF_ALG {name} authsize"), e),
            })?;
        }
        let raw = accept(ctrl.as_raw_fd()).map_err(|e| errno_error(&format!("AF_ALG {name} accept"), e))?;
        // SAFETY: `accept` just returned `raw`, a new fd that nothing else owns.
        let op = File::from(unsafe { OwnedFd::from_raw_fd(raw) });
        Ok(Tfm { ctrl, op, last_use: 0 })
    }

    /// Reads exactly `buf.len()` bytes of result.
    fn read_all(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        read_exact_from(&mut self.op, buf, what)
    }

    fn cipher(&mut self, encrypt: bool, iv: &[u8], data: &mut [u8], what: &str) -> Result<()> {
        let op: libc::c_int = if encrypt { libc::ALG_OP_ENCRYPT } else { libc::ALG_OP_DECRYPT };
        let mut cmsgs = vec![ControlMessage::AlgSetOp(&op)];
        if !iv.is_empty() {
            cmsgs.push(ControlMessage::AlgSetIv(iv));
        }
        let sent = loop {
            match sendmsg::<AlgAddr>(self.op.as_raw_fd(), &[IoSlice::new(data)], &cmsgs, MsgFlags::empty(), None) {
                Err(Errno::EINTR) => continue,
                r => break r.map_err(|e| errno_error(what, e))?,
            }
        };
        if sent != data.len() {
            return Err(Error::DeviceFailure(format!("{what}: AF_ALG took {sent} of {} bytes", data.len())));
        }
        self.read_all(data, what)
    }

    /// One AEAD operation: sends `aad`, `data` and (open) `tag`; reads the
    /// kernel's output (AAD, then ciphertext and tag, or plaintext) into
    /// `out`, which must be exactly as long.
    #[allow(clippy::too_many_arguments)]
    fn aead(
        &mut self,
        encrypt: bool,
        iv: &[u8],
        aad: &[u8],
        data: &[u8],
        tag: &[u8],
        out: &mut [u8],
        what: &str,
    ) -> Result<()> {
        let op: libc::c_int = if encrypt { libc::ALG_OP_ENCRYPT } else { libc::ALG_OP_DECRYPT };
        let assoc = aad.len() as u32;
        let cmsgs =
            [ControlMessage::AlgSetOp(&op), ControlMessage::AlgSetIv(iv), ControlMessage::AlgSetAeadAssoclen(&assoc)];
        let iov = [IoSlice::new(aad), IoSlice::new(data), IoSlice::new(tag)];
        let total = aad.len() + data.len() + tag.len();
        let sent = loop {
            match sendmsg::<AlgAddr>(self.op.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None) {
                Err(Errno::EINTR) => continue,
                r => break r.map_err(|e| errno_error(what, e))?,
            }
        };
        if sent != total {
            return Err(Error::DeviceFailure(format!("{what}: AF_ALG took {sent} of {total} bytes")));
        }
        // The kernel runs the operation once the read asks for the whole
        // output (it waits for more data while the buffer has room left).
        self.read_all(out, what)
    }

    fn digest(&mut self, data: &[u8], out: &mut [u8], what: &str) -> Result<()> {
        let mut off = 0;
        while off < data.len() {
            match send(self.op.as_raw_fd(), &data[off..], MsgFlags::empty()) {
                Ok(0) => return Err(Error::DeviceFailure(format!("{what}: AF_ALG took no bytes"))),
                Ok(n) => off += n,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(errno_error(what, e)),
            }
        }
        self.read_all(out, what)
    }
}

/// One worker's sockets.
struct SocketCache {
    /// By algorithm, AEAD tag length (0 otherwise) and key.
    tfms: HashMap<(Algorithm, usize, KeyBytes), Tfm>,
    clock: u64,
    /// The device's number and stream family (its name).
    device: u64,
    family: String,
}

impl SocketCache {
    fn new(device: u64, family: &str) -> SocketCache {
        SocketCache { tfms: HashMap::new(), clock: 0, device, family: family.to_string() }
    }

    /// One request of a hash or HMAC stream (see the module documentation).
    fn run_stream(&mut self, step: &Step, req: &mut Request, what: &str) -> Result<()> {
        let alg = step.alg;
        let Some(part) = req.stream.as_deref() else {
            return Err(Error::Internal(format!("{what}: not a stream request")));
        };
        let last = part.last;
        if last && step.op == Op::Verify {
            check_verify_len(alg, &req.tag)?;
        }
        let mut op = match part.state_for(&self.family, alg)? {
            Some(s) => match s.get::<AfalgState>() {
                Some(a) if a.device == self.device => accept_op(a.op.as_raw_fd(), what)?,
                _ => return Err(Error::InvalidArgument(format!("{what}: a stream state made by another device"))),
            },
            None => {
                let ctrl = self.get(alg, 0, step.key.bytes())?.ctrl.as_raw_fd();
                accept_op(ctrl, what)?
            }
        };
        send_more(&op, req.current(), what)?;
        if !last {
            if let Some(p) = req.stream.as_mut() {
                p.next = Some(StreamState::new(&self.family, alg, AfalgState { op, device: self.device }));
            }
            return Ok(());
        }
        let mut mac = Zeroizing::new(vec![0u8; alg.digest_len()]);
        read_exact_from(&mut op, &mut mac, what)?;
        if step.op == Op::Verify {
            verify_tag(alg, &mac, &req.tag)
        } else {
            req.tag = mac.to_vec();
            Ok(())
        }
    }

    fn get(&mut self, alg: Algorithm, auth: usize, key: &[u8]) -> Result<&mut Tfm> {
        self.clock += 1;
        let k = (alg, auth, KeyBytes(key.to_vec()));
        if !self.tfms.contains_key(&k) {
            if self.tfms.len() >= SOCKETS_PER_WORKER {
                if let Some(victim) = self.tfms.iter().min_by_key(|(_, t)| t.last_use).map(|(k, _)| k.clone()) {
                    self.tfms.remove(&victim);
                }
            }
            let t = Tfm::open(alg, auth, key)?;
            self.tfms.insert(k.clone(), t);
        }
        let clock = self.clock;
        let t = self.tfms.get_mut(&k).ok_or_else(|| Error::Internal("afalg socket cache".into()))?;
        t.last_use = clock;
        Ok(t)
    }

    /// Forgets the socket of a step that failed: its state is unknown.
    fn forget(&mut self, alg: Algorithm, auth: usize, key: &[u8]) {
        self.tfms.remove(&(alg, auth, KeyBytes(key.to_vec())));
    }

    fn run_step(&mut self, step: &Step, req: &mut Request) -> Result<()> {
        let alg = step.alg;
        if !step.op.fits(alg) {
            return Err(Error::InvalidArgument(format!("{:?} does not apply to {alg}", step.op)));
        }
        let key = step.key.bytes();
        alg.check_key(key)?;
        let what = format!("afalg {alg}");
        let r = match alg.kind() {
            // Never in the capability table (`kernel_name`): refused if given.
            OpKind::Asym => {
                return Err(Error::Unsupported(format!("{what}: asymmetric operations are not offered through AF_ALG")))
            }
            OpKind::Cipher => {
                alg.check_iv(&req.iv)?;
                alg.check_data_len(req.current().len())?;
                if req.current().is_empty() {
                    return Ok(());
                }
                let iv = req.iv.clone();
                let tfm = self.get(alg, 0, key)?;
                tfm.cipher(step.op == Op::Encrypt, &iv, req.current_mut(), &what)
            }
            // Not declared (`mac_over_aad`): the engine never sends one.
            OpKind::Mac if !req.aad.is_empty() => {
                return Err(Error::Unsupported(format!("{what}: a MAC step over AAD is not offered")))
            }
            OpKind::Hash | OpKind::Mac if req.stream.is_some() => self.run_stream(step, req, &what),
            OpKind::Hash | OpKind::Mac => {
                if step.op == Op::Verify {
                    check_verify_len(alg, &req.tag)?;
                }
                let mut mac = vec![0u8; alg.digest_len()];
                let tfm = self.get(alg, 0, key)?;
                tfm.digest(req.current(), &mut mac, &what).and_then(|()| {
                    if step.op == Op::Verify {
                        verify_tag(alg, &mac, &req.tag)
                    } else {
                        req.tag = mac;
                        Ok(())
                    }
                })
            }
            OpKind::Rng => Err(Error::Unsupported("afalg does not offer rng".into())),
            OpKind::Aead => return self.run_aead(step, req, &what),
        };
        if matches!(&r, Err(e) if *e != Error::VerifyFailed) {
            self.forget(alg, 0, key);
        }
        r
    }

    fn run_aead(&mut self, step: &Step, req: &mut Request, what: &str) -> Result<()> {
        let alg = step.alg;
        let key = step.key.bytes();
        let open = match step.op {
            Op::Encrypt => false,
            Op::Decrypt => true,
            op => return Err(Error::InvalidArgument(format!("{op:?} does not apply to {alg}"))),
        };
        alg.check_iv(&req.iv)?;
        if req.iv.len() != AEAD_NONCE_LEN {
            return Err(Error::InvalidLength(format!("{alg} takes a {AEAD_NONCE_LEN}-byte nonce")));
        }
        alg.check_tag(step.op, &req.tag)?;
        let auth = if open { req.tag.len() } else { AEAD_TAG_LEN };
        let (iv, aad) = (req.iv.clone(), std::mem::take(&mut req.aad));
        // A separate output holds the ciphertext from here on, so that a
        // failed open leaves it there (as the soft device does).
        let len = req.current_mut().len();
        // Wiped on drop: it holds plaintext that may not have verified.
        let mut out = Zeroizing::new(vec![0u8; aad.len() + len + if open { 0 } else { auth }]);
        let r = match self.get(alg, auth, key) {
            // An open of nothing has no output to read, and a read of 0
            // bytes never reaches the kernel's AEAD code: the tag of sealing
            // nothing (on the same socket, so of the same length) is
            // compared instead, in constant time.
            Ok(tfm) if open && out.is_empty() => {
                let mut sealed = Zeroizing::new(vec![0u8; auth]);
                tfm.aead(true, &iv, &aad, &[], &[], &mut sealed, what).and_then(|()| {
                    use subtle::ConstantTimeEq;
                    if bool::from(sealed.ct_eq(&req.tag)) {
                        Ok(())
                    } else {
                        Err(Error::VerifyFailed)
                    }
                })
            }
            Ok(tfm) => {
                let tag: &[u8] = if open { &req.tag } else { &[] };
                tfm.aead(!open, &iv, &aad, req.current(), tag, &mut out, what)
            }
            Err(e) => Err(e),
        };
        if r.is_ok() {
            let body = &out[aad.len()..];
            req.current_mut().copy_from_slice(&body[..len]);
            if !open {
                req.tag = body[len..].to_vec();
            }
        }
        req.aad = aad;
        if matches!(&r, Err(e) if *e != Error::VerifyFailed) {
            self.forget(alg, auth, key);
        }
        r
    }
}

#[derive(Default)]
struct Shared {
    wake: Wakeup,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The AF_ALG device.
pub struct AfalgDevice {
    name: String,
    /// Names the device in its stream states.
    id: u64,
    algs: Vec<Algorithm>,
    workers: usize,
    batch: usize,
    shared: Arc<Shared>,
}

/// Whether AF_ALG sockets can be made here.
pub fn available() -> bool {
    socket(AddressFamily::Alg, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).is_ok()
}

impl AfalgDevice {
    /// Probes which algorithms the kernel offers through AF_ALG. Fails when
    /// AF_ALG is unavailable or offers none of acrypto's algorithms.
    pub fn new(name: impl Into<String>) -> Result<AfalgDevice> {
        let name = name.into();
        let mut algs = Vec::new();
        let mut first_err = None;
        for alg in Algorithm::all().filter(|a| kernel_name(*a).is_some()) {
            let key: Vec<u8> = (0..alg.key_len().unwrap_or(16)).map(|i| i as u8 ^ 0x5a).collect();
            let auth = if alg.kind() == OpKind::Aead { AEAD_TAG_LEN } else { 0 };
            match Tfm::open(alg, auth, &key) {
                Ok(_) => algs.push(alg),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        if algs.is_empty() {
            return Err(first_err.unwrap_or_else(|| Error::Unsupported("AF_ALG offers no acrypto algorithm".into())));
        }
        let id = NEXT_DEVICE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(AfalgDevice { name, id, algs, workers: DEFAULT_WORKERS, batch: DEFAULT_BATCH, shared: Arc::default() })
    }

    /// Sets the number of worker threads.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// The algorithms found.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algs
    }
}

fn worker(shared: Arc<Shared>, dev: DeviceHandle, batch: usize, id: u64, family: String) {
    let mut cache = SocketCache::new(id, &family);
    loop {
        if !shared.wake.wait() {
            return;
        }
        loop {
            let work: Vec<Work> = dev.dequeue_batch(batch);
            if work.is_empty() {
                break;
            }
            // Another worker may share the rest of the queue.
            if work.len() == batch {
                shared.wake.signal();
            }
            for mut w in work {
                let (steps, req) = w.parts();
                let status = steps.iter().try_for_each(|s| cache.run_step(s, req));
                w.complete(status);
            }
        }
    }
}

impl Driver for AfalgDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn driver(&self) -> &str {
        "afalg"
    }

    fn capabilities(&self) -> Vec<Capability> {
        self.algs.iter().map(|&a| Capability::new(a, DEFAULT_QUEUE_LEN)).collect()
    }

    fn class(&self) -> DeviceClass {
        DeviceClass::Kernel
    }

    fn attach(&self, dev: DeviceHandle) {
        let mut threads = lock(&self.shared.threads);
        for i in 0..self.workers {
            let (shared, handle, batch) = (self.shared.clone(), dev.clone(), self.batch);
            let (id, family) = (self.id, self.name.clone());
            match std::thread::Builder::new()
                .name(format!("acrypto-{}-{i}", self.name))
                .spawn(move || worker(shared, handle, batch, id, family))
            {
                Ok(t) => threads.push(t),
                Err(e) => {
                    dev.mark_broken(&format!("cannot start worker thread: {e}"));
                    return;
                }
            }
        }
    }

    fn data_ready(&self) {
        self.shared.wake.signal();
    }

    fn stream_family(&self, alg: Algorithm) -> Option<String> {
        (matches!(alg.kind(), OpKind::Hash | OpKind::Mac) && self.algs.contains(&alg)).then(|| self.name.clone())
    }

    fn detach(&self) {
        self.shared.wake.stop();
        let threads: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
        for t in threads {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_but_rng_has_a_kernel_name() {
        assert_eq!(kernel_name(Algorithm::ChaCha20Poly1305), Some(("aead", "rfc7539(chacha20,poly1305)")));
        for alg in Algorithm::all() {
            let none = alg == Algorithm::Rng || alg.kind() == OpKind::Asym;
            assert_eq!(kernel_name(alg).is_none(), none, "{alg}");
        }
    }

    #[test]
    fn unavailable_afalg_is_a_clear_error() {
        if available() {
            println!("AF_ALG is available here; nothing to check");
            return;
        }
        match AfalgDevice::new("afalg") {
            Err(Error::Unsupported(m)) => assert!(m.contains("AF_ALG"), "{m}"),
            other => panic!("{:?}", other.map(|d| d.algs)),
        }
    }
}
