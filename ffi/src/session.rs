//! Sessions and requests: submission with a callback, to a completion
//! queue (with an eventfd for epoll), with a pending handle, in batches,
//! or synchronously.
//!
//! Buffers: a request's input (data, IV, expected tag) is copied in when it
//! is submitted; its results (output, tag) are copied out to the caller's
//! pointers when it completes: right before the callback runs, when the
//! completion is polled from a queue, or when a pending handle is waited
//! on. So output pointers must stay valid until then, and input pointers
//! only during the submitting call.

use crate::engine::acrypto_engine;
use crate::{
    acrypto_status, alg_from_u32, bytes, ffi_guard, maybe_panic, name, non_null, op_from_u32, put, status_of, tri,
    ACRYPTO_MAX_DATA_LEN, ACRYPTO_MAX_KEY_LEN, ACRYPTO_MAX_TAG_LEN, ACRYPTO_REQUEST_PREHASHED, PANIC_IN_COMPLETION,
};
use acrypto_core::{
    Algorithm, Carry, Completion, CompletionQueue, Done, EcCurve, Engine, Op, OpKind, Pending, Request, Session,
    SessionBuilder, Step, PRIORITY_LEVELS,
};
use std::ffi::{c_char, c_int, c_void};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Session flag: run callbacks in the completing context (a device's
/// thread) instead of on a completion worker. Such callbacks must be short
/// and must not block on the engine.
pub const ACRYPTO_SESSION_DIRECT: u32 = 1;
/// Session flag: deliver completions in submission order.
pub const ACRYPTO_SESSION_ORDERED: u32 = 2;
/// Session flag: each step's `key` is not key material but the text of a
/// reference to a key that stays in a device (an RFC 7512 URI such as
/// `pkcs11:object=LABEL`; `key_len` bytes, no NUL needed). A step with a
/// reference runs only on the device that holds the key (the session binds
/// it there; `ACRYPTO_STATUS_NO_DEVICE` when none does). Steps with
/// `key_len` 0 (digests, rng) take no key as usual.
pub const ACRYPTO_SESSION_KEY_REFERENCE: u32 = 4;
/// Submit flag: wait for room instead of failing with `ACRYPTO_STATUS_BUSY`.
pub const ACRYPTO_SUBMIT_BLOCK: u32 = 1;
/// Most steps in a route.
pub const ACRYPTO_MAX_STEPS: usize = 8;

/// One step of a route.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_step {
    /// An `acrypto_alg`.
    pub alg: u32,
    /// An `acrypto_op` that fits the algorithm.
    pub op: u32,
    /// The key (copied in; NULL when `key_len` is 0).
    pub key: *const u8,
    /// Key length in bytes: the AES key size (twice that for XTS), any
    /// length up to 4096 for HMAC, 0 for digests and rng.
    pub key_len: usize,
    /// A device name this step must run on, or NULL.
    pub device: *const c_char,
}

/// A session: a route of steps with keys, a priority and flags. Created by
/// `acrypto_session_new`, released by `acrypto_session_free`. Any number
/// of threads may submit on one session at once.
pub struct acrypto_session {
    pub(crate) session: Session,
    pub(crate) engine: Engine,
    shape: Shape,
    pub(crate) deliveries: Arc<Deliveries>,
}

/// What a route does to a request's buffers.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// A cipher or rng step writes the output buffer.
    writes_out: bool,
    /// A digest step writes the tag (of this many bytes).
    writes_tag: Option<usize>,
    /// A verify step reads the tag.
    reads_tag: bool,
    /// The route generates random bytes (data may be NULL).
    rng: bool,
    /// The route has an AEAD step (it takes associated data).
    aead: bool,
    /// The route is one asymmetric step (it takes the prehashed flag, and
    /// its output may be longer than its input).
    asym: bool,
    /// For an asymmetric step: the least `out_len`, whatever the input
    /// length (an RSA ciphertext is the modulus size, a plaintext at most
    /// the modulus size less 11, a shared secret 32 bytes). Checked at
    /// submission only (not carried with the completion).
    out_min: usize,
}

impl Shape {
    const WRITES_OUT: usize = 1;
    const READS_TAG: usize = 2;
    const RNG: usize = 4;
    const WRITES_TAG: usize = 8;
    const AEAD: usize = 16;

    /// One word: flags in the low byte, the tag length above.
    fn to_word(self) -> usize {
        let flag = |b: bool, f: usize| if b { f } else { 0 };
        flag(self.writes_out, Self::WRITES_OUT)
            | flag(self.reads_tag, Self::READS_TAG)
            | flag(self.rng, Self::RNG)
            | flag(self.aead, Self::AEAD)
            | self.writes_tag.map_or(0, |n| Self::WRITES_TAG | (n << 8))
    }

    fn from_word(w: usize) -> Shape {
        Shape {
            writes_out: w & Self::WRITES_OUT != 0,
            writes_tag: (w & Self::WRITES_TAG != 0).then_some(w >> 8),
            reads_tag: w & Self::READS_TAG != 0,
            rng: w & Self::RNG != 0,
            aead: w & Self::AEAD != 0,
            asym: false,
            out_min: 0,
        }
    }

    fn of(steps: &[Step]) -> Shape {
        let kinds = |k: OpKind| steps.iter().any(|s| s.alg.kind() == k);
        // An asymmetric step runs alone (the engine refuses it chained).
        if let [s] = steps {
            if s.alg.kind() == OpKind::Asym {
                return Shape::of_asym(s.alg, s.op);
            }
        }
        Shape {
            asym: false,
            out_min: 0,
            writes_out: kinds(OpKind::Cipher) || kinds(OpKind::Rng) || kinds(OpKind::Aead),
            writes_tag: steps.iter().rev().find_map(|s| match (s.alg.kind(), s.op) {
                (_, Op::Digest) => Some(s.alg.digest_len()),
                (OpKind::Aead, Op::Encrypt) => Some(s.alg.tag_len()),
                _ => None,
            }),
            reads_tag: steps
                .iter()
                .any(|s| s.op == Op::Verify || (s.alg.kind() == OpKind::Aead && s.op == Op::Decrypt)),
            rng: kinds(OpKind::Rng),
            aead: kinds(OpKind::Aead),
        }
    }
}

impl Shape {
    fn of_asym(alg: Algorithm, op: Op) -> Shape {
        let modulus = match alg {
            Algorithm::Rsa { bits, .. } => usize::from(bits) / 8,
            _ => 0,
        };
        // The longest DER ECDSA-Sig-Value: two INTEGERs one byte longer
        // than the order, with their headers and the SEQUENCE's.
        let sig_max = match alg {
            Algorithm::Ecdsa(EcCurve::P256) => 72,
            Algorithm::Ecdsa(EcCurve::P384) => 104,
            _ => modulus,
        };
        Shape {
            writes_out: matches!(op, Op::Encrypt | Op::Decrypt | Op::Derive),
            writes_tag: (op == Op::Sign).then_some(sig_max),
            reads_tag: op == Op::Verify,
            rng: false,
            aead: false,
            asym: true,
            out_min: match op {
                Op::Encrypt => modulus,
                // The longest plaintext (PKCS#1 v1.5; OAEP's is shorter).
                Op::Decrypt => modulus.saturating_sub(11),
                Op::Derive => 32,
                _ => 0,
            },
        }
    }
}

/// Creates a session on an engine. `steps` is the route (1 to 8 steps,
/// run in order: e.g. aes-128-cbc encrypt then hmac-sha1 digest); keys are
/// copied in and zeroized when the session and its last request are gone.
/// `priority` is 0 (lowest) to 7; `flags` is a mix of
/// `ACRYPTO_SESSION_DIRECT`, `ACRYPTO_SESSION_ORDERED` and
/// `ACRYPTO_SESSION_KEY_REFERENCE` (keys are references); `bind` names a
/// device every step runs on, or is NULL. Fails when no device can do a
/// step. The session keeps the engine's resources alive but
/// `acrypto_engine_free` still shuts the engine down.
///
/// # Safety
/// `engine` is NULL or live; `steps` is NULL or points to `n_steps` steps
/// whose keys and device names are valid for this call; `bind` is NULL or
/// NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_new(
    engine: *const acrypto_engine,
    steps: *const acrypto_step,
    n_steps: usize,
    priority: u32,
    flags: u32,
    bind: *const c_char,
    out: *mut *mut acrypto_session,
) -> acrypto_status {
    ffi_guard!({
        non_null!(engine, steps, out);
        if n_steps == 0 || n_steps > ACRYPTO_MAX_STEPS {
            return acrypto_status::InvalidArgument;
        }
        let known = ACRYPTO_SESSION_DIRECT | ACRYPTO_SESSION_ORDERED | ACRYPTO_SESSION_KEY_REFERENCE;
        if priority as usize >= PRIORITY_LEVELS || flags & !known != 0 {
            return acrypto_status::InvalidArgument;
        }
        // SAFETY: non-NULL, and C promises n_steps (at most 8) steps.
        let c_steps = unsafe { std::slice::from_raw_parts(steps, n_steps) };
        let mut b = SessionBuilder::new()
            .priority(priority as u8)
            .direct(flags & ACRYPTO_SESSION_DIRECT != 0)
            .ordered(flags & ACRYPTO_SESSION_ORDERED != 0);
        for s in c_steps {
            let alg = tri!(alg_from_u32(s.alg));
            let op = tri!(op_from_u32(s.op));
            // SAFETY: C promises key_len readable bytes at key.
            let key = tri!(unsafe { bytes(s.key, s.key_len, ACRYPTO_MAX_KEY_LEN) });
            let mut step = if flags & ACRYPTO_SESSION_KEY_REFERENCE != 0 && !key.is_empty() {
                let Ok(text) = std::str::from_utf8(key) else {
                    return acrypto_status::InvalidKey;
                };
                tri!(Step::with_reference(alg, op, text))
            } else {
                tri!(Step::new(alg, op, key))
            };
            if !s.device.is_null() {
                // SAFETY: non-NULL and NUL-terminated by the caller's promise.
                step = step.on_device(tri!(unsafe { name(s.device) }));
            }
            b = b.push(step);
        }
        if !bind.is_null() {
            // SAFETY: non-NULL and NUL-terminated by the caller's promise.
            b = b.bind(tri!(unsafe { name(bind) }));
        }
        // SAFETY: engine checked non-NULL; C promises it live.
        let ce = unsafe { &*engine };
        let session = tri!(ce.engine.session(b));
        let shape = Shape::of(session.steps());
        let s = acrypto_session { session, engine: ce.engine.clone(), shape, deliveries: ce.deliveries.clone() };
        // SAFETY: out checked non-NULL.
        unsafe { put(out, Box::into_raw(Box::new(s))) };
        acrypto_status::Ok
    })
}

/// Releases a session (NULL is fine). Requests already submitted on it
/// still complete.
///
/// # Safety
/// `session` is NULL or from `acrypto_session_new`, not yet freed, and no
/// other thread uses it any more.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_free(session: *mut acrypto_session) {
    // SAFETY: the caller's contract is free_handle's.
    unsafe { crate::free_handle(session, drop) };
}

pub(crate) fn session_ref<'a>(s: *const acrypto_session) -> &'a acrypto_session {
    // SAFETY: callers check for NULL first; C promises a live session.
    unsafe { &*s }
}

/// One request.
///
/// - `data`, `data_len`: the input, copied in at submission. For an rng
///   route `data` may be NULL: `data_len` random bytes are made.
/// - `out`, `out_len`: where a route with a cipher or rng step writes its
///   result (`data_len` bytes; `out_len` must be at least `data_len`).
///   May equal `data` (in place). Ignored (may be NULL) by routes of
///   digests and MACs only.
/// - `iv`, `iv_len`: the IV (16 bytes for cbc and ctr, the tweak for xts,
///   none for ecb), copied in.
/// - `tag`, `tag_len`: for a digest step, where the digest or MAC is
///   written (`tag_len` at least the digest length); for a verify step,
///   the expected MAC (10 bytes up to the digest length), copied in.
/// - `user`: handed back untouched in the completion.
/// - `aad`, `aad_len`: an AEAD's associated data (authenticated, not
///   encrypted), copied in; NULL and 0 for none. Other algorithms take
///   none (a non-zero `aad_len` is `ACRYPTO_STATUS_INVALID_ARGUMENT`).
/// - `flags`: 0, or `ACRYPTO_REQUEST_PREHASHED` for an asymmetric sign or
///   verify step whose data is the SHA-256 digest of the message.
///
/// Asymmetric steps (one step alone): sign writes the signature to `tag`
/// (`tag_len` at least the largest signature: the modulus size for RSA,
/// 72 bytes for ECDSA P-256, 104 for P-384; the completion's `tag_len`
/// says how long it is); verify reads the signature from `tag` and
/// completes with `ACRYPTO_STATUS_VERIFY_FAILED` when it does not verify;
/// encrypt, decrypt and derive write the result to `out` (`out_len` at
/// least the modulus size for encrypt, the modulus size less 11 for
/// decrypt, 32 bytes for derive; the completion's `out_len` says how long
/// the result is); derive reads the peer's SubjectPublicKeyInfo DER as
/// the data.
///
/// AEAD: `iv` is the 12-byte nonce; a seal writes the 16-byte tag to `tag`
/// (`tag_len` at least 16); an open reads the expected tag from `tag` (12
/// to 16 bytes for GCM, 16 for ChaCha20-Poly1305) and, when it does not
/// verify, completes with `ACRYPTO_STATUS_VERIFY_FAILED` and writes
/// nothing to `out`.
///
/// Limits: `data_len` and `aad_len` at most 1 GiB, `iv_len` and `tag_len`
/// at most 256.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_request {
    /// Input bytes.
    pub data: *const u8,
    /// Input length.
    pub data_len: usize,
    /// Output buffer (ciphers, rng).
    pub out: *mut u8,
    /// Output buffer size.
    pub out_len: usize,
    /// IV or tweak.
    pub iv: *const u8,
    /// IV length.
    pub iv_len: usize,
    /// Tag: output of a digest step, input of a verify step.
    pub tag: *mut u8,
    /// Tag buffer size (digest) or expected tag length (verify).
    pub tag_len: usize,
    /// The caller's cookie.
    pub user: *mut c_void,
    /// AEAD associated data.
    pub aad: *const u8,
    /// AEAD associated data length.
    pub aad_len: usize,
    /// `ACRYPTO_REQUEST_PREHASHED` or 0.
    pub flags: u32,
}

/// A finished request, as a callback, a queue poll or a pending wait sees it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_completion {
    /// The request's `user`.
    pub user: *mut c_void,
    /// An `acrypto_status`: `ACRYPTO_STATUS_OK` or why it failed.
    pub status: acrypto_status,
    /// Bytes written to the request's `out` (0 on failure).
    pub out_len: usize,
    /// Bytes written to the request's `tag` (0 on failure or without a
    /// digest step).
    pub tag_len: usize,
}

/// A completion callback. It runs exactly once per accepted request: on a
/// completion worker thread, or for DIRECT sessions on the device's thread.
/// The completion pointer is valid only during the call. A callback may
/// submit more work; it must not free the engine.
pub type acrypto_callback = Option<unsafe extern "C" fn(completion: *const acrypto_completion)>;

/// Where a request's results go, captured at submission.
#[derive(Clone, Copy)]
struct OutPtrs {
    out: *mut u8,
    out_cap: usize,
    tag: *mut u8,
    tag_cap: usize,
    user: *mut c_void,
    shape: Shape,
}

// SAFETY: the pointers are the C caller's, who promised (acrypto.h) they
// stay valid until the completion is delivered, from whichever thread.
unsafe impl Send for OutPtrs {}

impl OutPtrs {
    /// The pointers as plain data for a completion queue to carry (their
    /// provenance exposed, so [`from_carry`](Self::from_carry) may use them).
    fn to_carry(self) -> Carry {
        Carry([
            self.out.expose_provenance(),
            self.out_cap,
            self.tag.expose_provenance(),
            self.tag_cap,
            self.user.expose_provenance(),
            self.shape.to_word(),
        ])
    }

    /// The pointers a completion carried, as `to_carry` made them.
    fn from_carry(c: Carry) -> OutPtrs {
        let [out, out_cap, tag, tag_cap, user, shape] = c.0;
        OutPtrs {
            out: std::ptr::with_exposed_provenance_mut(out),
            out_cap,
            tag: std::ptr::with_exposed_provenance_mut(tag),
            tag_cap,
            user: std::ptr::with_exposed_provenance_mut(user),
            shape: Shape::from_word(shape),
        }
    }

    /// Copies the results out and describes them. A panic here is caught
    /// and reported as `ACRYPTO_STATUS_PANIC` (nothing was written then).
    fn deliver(&self, mut done: Done) -> acrypto_completion {
        let mut c = acrypto_completion { user: self.user, status: status_of(&done.status), out_len: 0, tag_len: 0 };
        if done.status.is_ok() {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                maybe_panic(PANIC_IN_COMPLETION);
                self.copy_out(&done.request)
            }));
            match r {
                Ok((o, t)) => {
                    c.out_len = o;
                    c.tag_len = t;
                }
                Err(_) => c.status = acrypto_status::Panic,
            }
        }
        // Plaintext or ciphertext; no reason to leave it in freed memory.
        crate::give_buf(std::mem::take(&mut done.request.data));
        if let Some(o) = done.request.out.as_mut() {
            crate::wipe(o);
        }
        c
    }

    fn copy_out(&self, r: &Request) -> (usize, usize) {
        let mut o = 0;
        let mut t = 0;
        if self.shape.writes_out {
            let res = r.output();
            // Submission checked out_cap >= data_len, and routes keep lengths.
            o = res.len().min(self.out_cap);
            if o > 0 {
                // SAFETY: out is non-NULL with out_cap writable bytes (checked
                // at submission, kept valid by the caller until now); the
                // source is our own buffer, so they do not overlap.
                unsafe { std::ptr::copy_nonoverlapping(res.as_ptr(), self.out, o) };
            }
        }
        if self.shape.writes_tag.is_some() {
            t = r.tag.len().min(self.tag_cap);
            if t > 0 {
                // SAFETY: tag is non-NULL with tag_cap writable bytes, as for out.
                unsafe { std::ptr::copy_nonoverlapping(r.tag.as_ptr(), self.tag, t) };
            }
        }
        (o, t)
    }
}

/// Validates a C request against a route and copies its inputs in.
///
/// # Safety
/// `r`'s pointers are valid for their lengths (the C caller's promise).
unsafe fn prepare(s: &acrypto_session, r: &acrypto_request) -> Result<(Request, OutPtrs), acrypto_status> {
    let shape = s.shape;
    if r.data_len > ACRYPTO_MAX_DATA_LEN {
        return Err(acrypto_status::InvalidLength);
    }
    let data = if shape.rng && r.data.is_null() {
        vec![0u8; r.data_len]
    } else {
        // SAFETY: the caller's promise on data/data_len.
        let src = unsafe { bytes(r.data, r.data_len, ACRYPTO_MAX_DATA_LEN) }?;
        let mut v = crate::take_buf(src.len());
        v.extend_from_slice(src);
        v
    };
    // SAFETY: the caller's promise on iv/iv_len.
    let iv = unsafe { bytes(r.iv, r.iv_len, ACRYPTO_MAX_TAG_LEN) }?;
    let mut req = Request::new(data).with_iv(iv);
    if r.flags & !ACRYPTO_REQUEST_PREHASHED != 0 || (r.flags != 0 && !shape.asym) {
        return Err(acrypto_status::InvalidArgument);
    }
    req.prehashed = r.flags & ACRYPTO_REQUEST_PREHASHED != 0;
    if r.aad_len > 0 {
        if !shape.aead {
            return Err(acrypto_status::InvalidArgument);
        }
        // SAFETY: the caller's promise on aad/aad_len.
        req = req.with_aad(unsafe { bytes(r.aad, r.aad_len, ACRYPTO_MAX_DATA_LEN) }?);
    }
    if shape.writes_out && (r.data_len > 0 || shape.asym) {
        if r.out.is_null() {
            return Err(acrypto_status::NullArgument);
        }
        let need = if shape.asym { shape.out_min } else { r.data_len };
        if r.out_len < need {
            return Err(acrypto_status::BufferTooSmall);
        }
    }
    if r.tag_len > ACRYPTO_MAX_TAG_LEN {
        return Err(acrypto_status::InvalidLength);
    }
    if let Some(n) = shape.writes_tag {
        if r.tag.is_null() {
            return Err(acrypto_status::NullArgument);
        }
        if r.tag_len < n {
            return Err(acrypto_status::BufferTooSmall);
        }
    }
    if shape.reads_tag {
        // SAFETY: the caller's promise on tag/tag_len.
        let t = unsafe { bytes(r.tag, r.tag_len, ACRYPTO_MAX_TAG_LEN) }?;
        req = req.with_tag(t);
    }
    let ptrs = OutPtrs { out: r.out, out_cap: r.out_len, tag: r.tag, tag_cap: r.tag_len, user: r.user, shape };
    Ok((req, ptrs))
}

/// Counts the requests whose C callback has not returned yet, so that
/// `acrypto_engine_wait_idle` waits for callbacks too: the engine's own
/// `wait_idle` covers completions delivered in the completing context (a
/// queue push, a pending fill) but not callbacks deferred to a completion
/// worker, which a Rust callback may itself wait on.
#[derive(Default)]
pub(crate) struct Deliveries {
    n: AtomicU64,
    /// Threads in `wait_zero`: the last delivery takes the lock and
    /// notifies only when there is one (a `notify_all` is a futex call
    /// even with nobody waiting, one per request whenever the engine's
    /// in-flight count drops to zero, which an ASYNC load does all the time).
    sleepers: AtomicU64,
    /// Taken only to sleep on, and to wake sleepers when `n` reaches 0.
    lock: Mutex<()>,
    cv: Condvar,
}

impl Deliveries {
    pub(crate) fn start(self: &Arc<Self>) -> DeliveryGuard {
        self.n.fetch_add(1, Ordering::SeqCst);
        DeliveryGuard(self.clone())
    }

    /// Whether the calling thread is inside a C callback of these
    /// deliveries (its own delivery would never end while it waits).
    pub(crate) fn inside_callback(&self) -> bool {
        let me = self as *const Deliveries as usize;
        // None once the thread's locals are gone (an atexit handler): no
        // callback is running then.
        IN_CALLBACK.try_with(|v| v.borrow().contains(&me)).unwrap_or(false)
    }

    pub(crate) fn wait_zero(&self) {
        let mut g = lock(&self.lock);
        // Registered before `n` is checked, both SeqCst: a last delivery
        // either comes before the check (which then sees 0) or sees the
        // sleeper and notifies under the lock, which we hold from the
        // check until the wait releases it: no wakeup is lost.
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while self.n.load(Ordering::SeqCst) != 0 {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

// The engines (their `Deliveries`, by address) whose C callback the
// calling thread is running, innermost last.
thread_local!(static IN_CALLBACK: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) });

/// Marks the calling thread as inside a C callback of `d` while it lives.
pub(crate) struct InCallback;

impl InCallback {
    pub(crate) fn enter(d: &Deliveries) -> InCallback {
        let _ = IN_CALLBACK.try_with(|v| v.borrow_mut().push(d as *const Deliveries as usize));
        InCallback
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        let _ = IN_CALLBACK.try_with(|v| {
            v.borrow_mut().pop();
        });
    }
}

/// Ends a delivery when dropped: after the completion ran, or when a
/// refused submission drops its completion unrun.
pub(crate) struct DeliveryGuard(pub(crate) Arc<Deliveries>);

impl Drop for DeliveryGuard {
    fn drop(&mut self) {
        if self.0.n.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.sleepers.load(Ordering::SeqCst) != 0 {
            let _g = lock(&self.0.lock);
            self.0.cv.notify_all();
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A completion queue: finished requests wait in it until polled. Its file
/// descriptor (an eventfd) is readable exactly while completions wait, for
/// epoll and poll loops. Created by `acrypto_queue_new`, released by
/// `acrypto_queue_free`. Any threads may submit to it; poll it from one
/// thread at a time.
// It is the engine's own completion queue: each completion carries the
// request's output pointers, and the descriptor follows the queue's
// emptiness through its notifier, which runs under the queue's lock.
pub struct acrypto_queue {
    cq: CompletionQueue,
    fd: c_int,
}

/// Makes the eventfd readable (`true`) or not (`false`).
fn set_readable(fd: &OwnedFd, readable: bool) {
    let mut v: u64 = 1;
    if readable {
        // SAFETY: fd is our open eventfd; we write 8 bytes from a local u64.
        // A full counter (EAGAIN) already means readable.
        let _ = unsafe { libc::write(fd.as_raw_fd(), (&v as *const u64).cast(), 8) };
    } else {
        // SAFETY: fd is our open non-blocking eventfd; we read 8 bytes into
        // a local u64. EAGAIN (already reset) is fine.
        let _ = unsafe { libc::read(fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

/// Creates a completion queue.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_queue_new(out: *mut *mut acrypto_queue) -> acrypto_status {
    ffi_guard!({
        non_null!(out);
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return acrypto_status::Io;
        }
        // SAFETY: fd is a fresh descriptor we own.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let cq = CompletionQueue::new();
        // The notifier owns the descriptor: it closes when the queue and
        // the last request still in flight to it are gone.
        cq.set_notifier(move |readable| set_readable(&owned, readable));
        // SAFETY: out checked non-NULL.
        unsafe { put(out, Box::into_raw(Box::new(acrypto_queue { cq, fd }))) };
        acrypto_status::Ok
    })
}

/// Releases a queue (NULL is fine). Completions still waiting in it, and
/// those of requests still in flight to it, are dropped: their buffers are
/// never written after this returns. The descriptor closes once the last
/// such request has completed.
///
/// # Safety
/// `queue` is NULL or from `acrypto_queue_new`, not yet freed, and no
/// other thread uses it any more.
#[no_mangle]
pub unsafe extern "C" fn acrypto_queue_free(queue: *mut acrypto_queue) {
    // SAFETY: the caller's contract is free_handle's.
    unsafe { crate::free_handle(queue, |q| q.cq.close()) };
}

fn queue_ref<'a>(q: *const acrypto_queue) -> &'a acrypto_queue {
    // SAFETY: callers check for NULL first; C promises a live queue.
    unsafe { &*q }
}

/// Writes the queue's file descriptor to `*out`: readable while
/// completions wait. Do not read or close it; it belongs to the queue.
///
/// # Safety
/// `queue` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_queue_fd(queue: *const acrypto_queue, out: *mut c_int) -> acrypto_status {
    ffi_guard!({
        non_null!(queue, out);
        // SAFETY: out checked non-NULL.
        unsafe { put(out, queue_ref(queue).fd) };
        acrypto_status::Ok
    })
}

fn take(q: &acrypto_queue, out: *mut acrypto_completion, max: usize, block: bool) -> usize {
    let mut batch = Vec::new();
    let n = q.cq.poll_carried(max, block, &mut batch);
    for (i, (done, carry)) in batch.into_iter().enumerate() {
        let c = OutPtrs::from_carry(carry).deliver(done);
        // SAFETY: out has room for max >= n completions (the caller's promise).
        unsafe { out.add(i).write(c) };
    }
    n
}

/// Takes up to `max` finished requests without blocking: copies their
/// results to their buffers, fills `out[0..*n]` and writes the count to
/// `*n` (0 when none waits).
///
/// # Safety
/// `queue` is NULL or live; `out` is NULL or has room for `max`
/// completions; `n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_queue_poll(
    queue: *const acrypto_queue,
    out: *mut acrypto_completion,
    max: usize,
    n: *mut usize,
) -> acrypto_status {
    // SAFETY: the caller's contract is poll_or_wait's.
    unsafe { poll_or_wait(queue, out, max, n, false) }
}

/// `acrypto_queue_poll` (`block` false) and `acrypto_queue_wait` (true).
///
/// # Safety
/// As `acrypto_queue_poll`.
unsafe fn poll_or_wait(
    queue: *const acrypto_queue,
    out: *mut acrypto_completion,
    max: usize,
    n: *mut usize,
    block: bool,
) -> acrypto_status {
    ffi_guard!({
        non_null!(queue, out, n);
        if max == 0 || max > (1 << 20) {
            return acrypto_status::InvalidArgument;
        }
        let k = take(queue_ref(queue), out, max, block);
        // SAFETY: n checked non-NULL.
        unsafe { put(n, k) };
        acrypto_status::Ok
    })
}

/// Like `acrypto_queue_poll`, but blocks until at least one completion
/// waits. Only use it while requests are in flight to the queue.
///
/// # Safety
/// As `acrypto_queue_poll`.
#[no_mangle]
pub unsafe extern "C" fn acrypto_queue_wait(
    queue: *const acrypto_queue,
    out: *mut acrypto_completion,
    max: usize,
    n: *mut usize,
) -> acrypto_status {
    // SAFETY: the caller's contract is poll_or_wait's.
    unsafe { poll_or_wait(queue, out, max, n, true) }
}

/// Where completions of a submission go.
enum Target<'a> {
    Callback(unsafe extern "C" fn(*const acrypto_completion)),
    Queue(&'a acrypto_queue),
    Slot(&'a Pending),
}

/// The completion of one request. A queue or a pending handle is the
/// engine's own, delivered in the completing context (so the engine's
/// `wait_idle` covers it). A C callback is a closure that copies the
/// results out, runs the callback and then ends the delivery (see
/// [`Deliveries`]: the engine does not wait for deferred callbacks).
fn completion_for(s: &acrypto_session, target: &Target<'_>, ptrs: OutPtrs) -> Completion {
    match target {
        Target::Callback(cb) => {
            let cb = *cb;
            let guard = s.deliveries.start();
            Completion::callback(move |done: Done| {
                let c = ptrs.deliver(done);
                {
                    let _inside = InCallback::enter(&guard.0);
                    // SAFETY: cb is the C caller's callback, a valid function
                    // pointer; c lives across the call.
                    unsafe { cb(&c) };
                }
                drop(guard);
            })
        }
        Target::Queue(q) => Completion::QueueCarry(q.cq.clone(), ptrs.to_carry()),
        Target::Slot(p) => p.completion(),
    }
}

fn submit_prepared(
    s: &acrypto_session,
    req: Request,
    ptrs: OutPtrs,
    target: &Target<'_>,
    flags: u32,
) -> acrypto_status {
    let c = completion_for(s, target, ptrs);
    let res = if flags & ACRYPTO_SUBMIT_BLOCK != 0 {
        s.engine.submit_blocking(&s.session, req, c)
    } else {
        s.engine.submit(&s.session, req, c)
    };
    match res {
        Ok(()) => acrypto_status::Ok,
        Err(rej) => acrypto_status::from(&rej.error),
    }
}

fn submit_one(s: &acrypto_session, r: &acrypto_request, target: &Target<'_>, flags: u32) -> acrypto_status {
    if flags & !ACRYPTO_SUBMIT_BLOCK != 0 {
        return acrypto_status::InvalidArgument;
    }
    // SAFETY: the C caller's promise on the request's pointers.
    let (req, ptrs) = tri!(unsafe { prepare(s, r) });
    submit_prepared(s, req, ptrs, target, flags)
}

/// Submits one request; `callback` runs once when it completes, unless
/// this returns an error (then it never runs and the buffers are not
/// touched). `flags`: 0, or `ACRYPTO_SUBMIT_BLOCK` to wait for room
/// instead of failing with `ACRYPTO_STATUS_BUSY`. The request's output
/// buffers must stay valid until the callback has run.
///
/// # Safety
/// `session` is NULL or live; `request` is NULL or a request whose
/// pointers are valid for their lengths; `callback` is NULL or a function.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_submit(
    session: *const acrypto_session,
    request: *const acrypto_request,
    callback: acrypto_callback,
    flags: u32,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, request);
        let Some(cb) = callback else {
            return acrypto_status::NullArgument;
        };
        // SAFETY: request checked non-NULL; C promises it readable.
        let r = unsafe { &*request };
        submit_one(session_ref(session), r, &Target::Callback(cb), flags)
    })
}

/// Submits one request whose completion goes to `queue`. The request's
/// output buffers must stay valid until its completion is polled (or the
/// queue freed).
///
/// # Safety
/// As `acrypto_session_submit`; `queue` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_submit_queue(
    session: *const acrypto_session,
    request: *const acrypto_request,
    queue: *const acrypto_queue,
    flags: u32,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, request, queue);
        // SAFETY: request checked non-NULL; C promises it readable.
        let r = unsafe { &*request };
        submit_one(session_ref(session), r, &Target::Queue(queue_ref(queue)), flags)
    })
}

fn submit_many(
    s: &acrypto_session,
    reqs: &[acrypto_request],
    target: &Target<'_>,
    flags: u32,
    accepted: *mut usize,
) -> acrypto_status {
    if flags & !ACRYPTO_SUBMIT_BLOCK != 0 {
        return acrypto_status::InvalidArgument;
    }
    // Check every request first: a bad one refuses the whole batch.
    let mut prepared = Vec::with_capacity(reqs.len());
    for r in reqs {
        // SAFETY: the C caller's promise on each request's pointers.
        prepared.push(tri!(unsafe { prepare(s, r) }));
    }
    let mut n = 0usize;
    let mut status = acrypto_status::Ok;
    if flags & ACRYPTO_SUBMIT_BLOCK == 0 {
        // The engine's batch path: one queue lock per device for the run.
        let items = prepared.into_iter().map(|(req, ptrs)| (req, completion_for(s, target, ptrs)));
        match s.engine.submit_batch(&s.session, items) {
            Ok(k) => n = k,
            Err(rej) => {
                n = rej.accepted;
                status = acrypto_status::from(&rej.rejected.error);
            }
        }
    } else {
        for (req, ptrs) in prepared {
            status = submit_prepared(s, req, ptrs, target, flags);
            if status != acrypto_status::Ok {
                break;
            }
            n += 1;
        }
    }
    // SAFETY: accepted checked non-NULL by the callers.
    unsafe { put(accepted, n) };
    status
}

/// Submits `n` requests in order, each completing through `callback` with
/// its own `user`. Every request's pointers and buffer sizes are checked
/// first; one failing refuses the batch (nothing submitted, `*accepted`
/// not written). Then requests are submitted until one is refused (e.g.
/// `BUSY`, or a length the route does not take): the status says why, and
/// `*accepted` (written once the first check passed, even on error) counts
/// the requests accepted, whose callbacks will run; the rest were not
/// submitted.
///
/// # Safety
/// As `acrypto_session_submit`; `requests` points to `n` requests;
/// `accepted` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_submit_batch(
    session: *const acrypto_session,
    requests: *const acrypto_request,
    n: usize,
    callback: acrypto_callback,
    flags: u32,
    accepted: *mut usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, requests, accepted);
        let Some(cb) = callback else {
            return acrypto_status::NullArgument;
        };
        if n == 0 || n > (1 << 20) {
            return acrypto_status::InvalidArgument;
        }
        // SAFETY: non-NULL; C promises n requests.
        let reqs = unsafe { std::slice::from_raw_parts(requests, n) };
        submit_many(session_ref(session), reqs, &Target::Callback(cb), flags, accepted)
    })
}

/// Like `acrypto_session_submit_batch`, with completions going to `queue`.
///
/// # Safety
/// As `acrypto_session_submit_batch`; `queue` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_submit_batch_queue(
    session: *const acrypto_session,
    requests: *const acrypto_request,
    n: usize,
    queue: *const acrypto_queue,
    flags: u32,
    accepted: *mut usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, requests, queue, accepted);
        if n == 0 || n > (1 << 20) {
            return acrypto_status::InvalidArgument;
        }
        // SAFETY: non-NULL; C promises n requests.
        let reqs = unsafe { std::slice::from_raw_parts(requests, n) };
        submit_many(session_ref(session), reqs, &Target::Queue(queue_ref(queue)), flags, accepted)
    })
}

/// Runs one request and waits for it (the synchronous convenience call).
/// An idle software device runs it on the calling thread. Returns the
/// request's final status; on success fills `*completion` if it is not NULL.
///
/// # Safety
/// As `acrypto_session_submit`; `completion` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_run(
    session: *const acrypto_session,
    request: *const acrypto_request,
    completion: *mut acrypto_completion,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, request);
        let s = session_ref(session);
        // SAFETY: request checked non-NULL; C promises it and its pointers valid.
        let (req, ptrs) = tri!(unsafe { prepare(s, &*request) });
        let done = match s.engine.run(&s.session, req) {
            Ok(r) => Done { request: r, status: Ok(()) },
            Err(e) => return acrypto_status::from(e),
        };
        let c = ptrs.deliver(done);
        if c.status == acrypto_status::Ok && !completion.is_null() {
            // SAFETY: non-NULL, C promises writable.
            unsafe { put(completion, c) };
        }
        c.status
    })
}

/// A submitted request to wait for: created by
/// `acrypto_session_submit_pending`, released by `acrypto_pending_free`.
/// Use it from one thread at a time.
pub struct acrypto_pending {
    pending: Pending,
    ptrs: OutPtrs,
    taken: bool,
}

/// Submits one request and writes a handle to wait on to `*out`. The
/// request's output buffers must stay valid until `acrypto_pending_wait`
/// (or a successful `acrypto_pending_poll`) returned, or the handle was
/// freed.
///
/// # Safety
/// As `acrypto_session_submit`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_submit_pending(
    session: *const acrypto_session,
    request: *const acrypto_request,
    flags: u32,
    out: *mut *mut acrypto_pending,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, request, out);
        if flags & !ACRYPTO_SUBMIT_BLOCK != 0 {
            return acrypto_status::InvalidArgument;
        }
        let s = session_ref(session);
        // SAFETY: request checked non-NULL; C promises it and its pointers valid.
        let (req, ptrs) = tri!(unsafe { prepare(s, &*request) });
        let pending = Pending::new();
        let st = submit_prepared(s, req, ptrs, &Target::Slot(&pending), flags);
        if st != acrypto_status::Ok {
            return st;
        }
        let h = acrypto_pending { pending, ptrs, taken: false };
        // SAFETY: out checked non-NULL.
        unsafe { put(out, Box::into_raw(Box::new(h))) };
        acrypto_status::Ok
    })
}

fn finish_pending(p: &mut acrypto_pending, done: Done, out: *mut acrypto_completion) -> acrypto_status {
    p.taken = true;
    let c = p.ptrs.deliver(done);
    // SAFETY: out checked non-NULL by the callers.
    unsafe { put(out, c) };
    acrypto_status::Ok
}

/// Blocks until the request finished, copies its results out and writes
/// its completion to `*out` (the request's own status is in
/// `out->status`). A second wait fails with `ACRYPTO_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `pending` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_pending_wait(
    pending: *mut acrypto_pending,
    out: *mut acrypto_completion,
) -> acrypto_status {
    ffi_guard!({
        non_null!(pending, out);
        // SAFETY: non-NULL; C promises a live handle used by one thread.
        let p = unsafe { &mut *pending };
        if p.taken {
            return acrypto_status::InvalidArgument;
        }
        let done = std::mem::take(&mut p.pending).wait();
        finish_pending(p, done, out)
    })
}

/// Like `acrypto_pending_wait` without blocking: `ACRYPTO_STATUS_NOT_READY`
/// while the request runs.
///
/// # Safety
/// As `acrypto_pending_wait`.
#[no_mangle]
pub unsafe extern "C" fn acrypto_pending_poll(
    pending: *mut acrypto_pending,
    out: *mut acrypto_completion,
) -> acrypto_status {
    ffi_guard!({
        non_null!(pending, out);
        // SAFETY: non-NULL; C promises a live handle used by one thread.
        let p = unsafe { &mut *pending };
        if p.taken {
            return acrypto_status::InvalidArgument;
        }
        match p.pending.try_take() {
            Some(done) => finish_pending(p, done, out),
            None => acrypto_status::NotReady,
        }
    })
}

/// Releases a pending handle (NULL is fine). If the request has not been
/// waited for, its results are dropped and its buffers never written.
///
/// # Safety
/// `pending` is NULL or from `acrypto_session_submit_pending`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn acrypto_pending_free(pending: *mut acrypto_pending) {
    // SAFETY: the caller's contract is free_handle's.
    unsafe { crate::free_handle(pending, drop) };
}

/// Writes how many requests were submitted on, and completed on, a session.
///
/// # Safety
/// `session` is NULL or live; `submitted` and `completed` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_session_counts(
    session: *const acrypto_session,
    submitted: *mut u64,
    completed: *mut u64,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, submitted, completed);
        let s = &session_ref(session).session;
        // SAFETY: both checked non-NULL.
        unsafe {
            put(submitted, s.submitted());
            put(completed, s.completed());
        }
        acrypto_status::Ok
    })
}
