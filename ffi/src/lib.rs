//! acrypto-ffi: the C ABI of acrypto (DESIGN.md §6).
//!
//! Every `extern "C"` function of `libacrypto` lives in this crate and
//! follows one recipe, as rustls-ffi does: check every pointer for NULL,
//! validate every enum (taken as `uint32_t`) and length, run the body under
//! `ffi_guard!` so that no panic crosses the boundary, write
//! out-parameters only on success, and return an [`acrypto_status`].
//!
//! - [`engine`]: engines, configuration, devices, statistics.
//! - [`session`]: sessions, requests, submission, callbacks, completion
//!   queues (with an eventfd for epoll), pending handles, synchronous runs.
//! - [`stream`]: streams: a message of any length, update by update.
//! - [`provider`]: C-registered devices (the OCF-bridge idea) and work items.
//! - [`balancer`]: a custom balancer written in C.
//!
//! `include/acrypto.h` is generated from this crate by cbindgen
//! (`ffi/cbindgen.toml`); `ffi/tests/header.rs` fails when it is stale.
#![allow(non_camel_case_types)]
#![warn(missing_docs)]
// Every unsafe block says why it is sound (DESIGN.md §11).
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod balancer;
pub mod engine;
pub mod last_error;
pub mod provider;
pub mod session;
pub mod stream;

use acrypto_core::{Algorithm, Error, Op};
use std::ffi::{c_char, CStr};
use std::sync::atomic::{AtomicU32, Ordering};

/// The result of every fallible acrypto call.
///
/// Functions return it as `acrypto_status` (a `uint32_t`);
/// [`acrypto_strerror`] names it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument is not valid (bad enum value, bad flags, bad name...).
    InvalidArgument = 2,
    /// A key of the wrong length or shape for its algorithm.
    InvalidKey = 3,
    /// A buffer, IV or tag of the wrong length, or a length beyond the limits.
    InvalidLength = 4,
    /// An algorithm or operation nobody implements.
    Unsupported = 5,
    /// No registered, working device can do the work.
    NoDevice = 6,
    /// Every capable queue is full, or the engine's in-flight limit is reached.
    Busy = 7,
    /// The bound device (or the last capable one) is broken or gone.
    DeviceBroken = 8,
    /// A device failed the work.
    DeviceFailure = 9,
    /// The request was canceled (shutdown or device removal).
    Canceled = 10,
    /// A MAC did not verify.
    VerifyFailed = 11,
    /// Bad padding.
    BadPadding = 12,
    /// The engine is shut down.
    ShutDown = 13,
    /// A device of that name already exists.
    Exists = 14,
    /// No device of that name.
    NoSuchDevice = 15,
    /// An internal error.
    Internal = 16,
    /// A panic inside acrypto was caught at the boundary; the call failed.
    Panic = 17,
    /// A caller's buffer is too small for the result.
    BufferTooSmall = 18,
    /// A system call failed (eventfd, read, write).
    Io = 19,
    /// Nothing to report yet (a pending request has not finished).
    NotReady = 20,
    /// A blocking call (`acrypto_engine_wait_idle`, `acrypto_engine_free`,
    /// a blocking submit or run on a DIRECT session) made from inside a
    /// callback of the same engine: it would wait for itself, so it was
    /// refused and did nothing.
    WouldDeadlock = 21,
}

impl acrypto_status {
    const ALL: [acrypto_status; 22] = [
        acrypto_status::Ok,
        acrypto_status::NullArgument,
        acrypto_status::InvalidArgument,
        acrypto_status::InvalidKey,
        acrypto_status::InvalidLength,
        acrypto_status::Unsupported,
        acrypto_status::NoDevice,
        acrypto_status::Busy,
        acrypto_status::DeviceBroken,
        acrypto_status::DeviceFailure,
        acrypto_status::Canceled,
        acrypto_status::VerifyFailed,
        acrypto_status::BadPadding,
        acrypto_status::ShutDown,
        acrypto_status::Exists,
        acrypto_status::NoSuchDevice,
        acrypto_status::Internal,
        acrypto_status::Panic,
        acrypto_status::BufferTooSmall,
        acrypto_status::Io,
        acrypto_status::NotReady,
        acrypto_status::WouldDeadlock,
    ];

    /// The status of a `u32` from C, if it names one.
    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }

    fn message(self) -> &'static CStr {
        match self {
            acrypto_status::Ok => c"success",
            acrypto_status::NullArgument => c"a required pointer argument was NULL",
            acrypto_status::InvalidArgument => c"invalid argument",
            acrypto_status::InvalidKey => c"invalid key",
            acrypto_status::InvalidLength => c"invalid length",
            acrypto_status::Unsupported => c"unsupported algorithm or operation",
            acrypto_status::NoDevice => c"no device can perform the work",
            acrypto_status::Busy => c"all capable device queues are full",
            acrypto_status::DeviceBroken => c"device broken",
            acrypto_status::DeviceFailure => c"device failure",
            acrypto_status::Canceled => c"request canceled",
            acrypto_status::VerifyFailed => c"authentication failed: tag mismatch",
            acrypto_status::BadPadding => c"bad padding",
            acrypto_status::ShutDown => c"engine is shut down",
            acrypto_status::Exists => c"already exists",
            acrypto_status::NoSuchDevice => c"no such device",
            acrypto_status::Internal => c"internal error",
            acrypto_status::Panic => c"a panic inside acrypto was caught",
            acrypto_status::BufferTooSmall => c"buffer too small",
            acrypto_status::Io => c"system call failed",
            acrypto_status::NotReady => c"not finished yet",
            acrypto_status::WouldDeadlock => c"refused: called from inside a callback, it would wait for itself",
        }
    }
}

/// A core error's status; its message becomes the thread's last error
/// (see [`last_error::acrypto_last_error`]).
impl From<&Error> for acrypto_status {
    fn from(e: &Error) -> Self {
        last_error::set(&e.to_string());
        match e {
            Error::NoDevice(_) => acrypto_status::NoDevice,
            Error::Busy => acrypto_status::Busy,
            Error::InvalidKey(_) => acrypto_status::InvalidKey,
            Error::InvalidLength(_) => acrypto_status::InvalidLength,
            Error::InvalidArgument(_) => acrypto_status::InvalidArgument,
            Error::Unsupported(_) => acrypto_status::Unsupported,
            Error::DeviceBroken(_) => acrypto_status::DeviceBroken,
            Error::DeviceFailure(_) => acrypto_status::DeviceFailure,
            Error::Canceled => acrypto_status::Canceled,
            Error::VerifyFailed => acrypto_status::VerifyFailed,
            Error::BadPadding => acrypto_status::BadPadding,
            Error::ShutDown => acrypto_status::ShutDown,
            Error::Exists(_) => acrypto_status::Exists,
            Error::NoSuchDevice(_) => acrypto_status::NoSuchDevice,
            Error::WouldDeadlock(_) => acrypto_status::WouldDeadlock,
            _ => acrypto_status::Internal,
        }
    }
}

impl From<Error> for acrypto_status {
    fn from(e: Error) -> Self {
        (&e).into()
    }
}

/// The error a C driver's completion status stands for.
pub(crate) fn status_to_error(s: acrypto_status) -> Result<(), Error> {
    let msg = || s.message().to_string_lossy().into_owned();
    match s {
        acrypto_status::Ok => Ok(()),
        acrypto_status::NoDevice => Err(Error::NoDevice(msg())),
        acrypto_status::Busy => Err(Error::Busy),
        acrypto_status::InvalidKey => Err(Error::InvalidKey(msg())),
        acrypto_status::InvalidLength | acrypto_status::BufferTooSmall => Err(Error::InvalidLength(msg())),
        acrypto_status::InvalidArgument | acrypto_status::NullArgument => Err(Error::InvalidArgument(msg())),
        acrypto_status::Unsupported => Err(Error::Unsupported(msg())),
        acrypto_status::DeviceBroken => Err(Error::DeviceBroken(msg())),
        acrypto_status::DeviceFailure | acrypto_status::Io | acrypto_status::NotReady => {
            Err(Error::DeviceFailure(msg()))
        }
        acrypto_status::Canceled => Err(Error::Canceled),
        acrypto_status::VerifyFailed => Err(Error::VerifyFailed),
        acrypto_status::BadPadding => Err(Error::BadPadding),
        acrypto_status::ShutDown => Err(Error::ShutDown),
        acrypto_status::Exists => Err(Error::Exists(msg())),
        acrypto_status::NoSuchDevice => Err(Error::NoSuchDevice(msg())),
        acrypto_status::Internal | acrypto_status::Panic => Err(Error::Internal(msg())),
        acrypto_status::WouldDeadlock => Err(Error::WouldDeadlock(msg())),
    }
}

/// The status of a result.
pub(crate) fn status_of(r: &Result<(), Error>) -> acrypto_status {
    match r {
        Ok(()) => acrypto_status::Ok,
        Err(e) => e.into(),
    }
}

/// Runs an export's body, turning a panic into [`acrypto_status::Panic`]:
/// no panic crosses the C boundary. Every export returning a status uses it.
macro_rules! ffi_guard {
    ($body:block) => {{
        let r = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| -> $crate::acrypto_status {
            $crate::maybe_panic($crate::PANIC_IN_EXPORT);
            $body
        }));
        match r {
            Ok(s) => s,
            Err(_) => $crate::acrypto_status::Panic,
        }
    }};
}
pub(crate) use ffi_guard;

/// Like [`ffi_guard!`] for exports that return a value instead of a status
/// (the value given on panic comes second).
macro_rules! ffi_guard_or {
    ($body:block, $on_panic:expr) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $on_panic,
        }
    }};
}

/// Returns `NullArgument` from the enclosing guard when a pointer is NULL.
macro_rules! non_null {
    ($($p:expr),+) => {
        $(if $p.is_null() {
            return $crate::acrypto_status::NullArgument;
        })+
    };
}
pub(crate) use non_null;

/// Returns the status of an error from the enclosing guard.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::acrypto_status::from(e),
        }
    };
}
pub(crate) use tri;

/// The largest data buffer a request may carry (1 GiB). Lengths above it
/// fail with `ACRYPTO_STATUS_INVALID_LENGTH` before any pointer is read.
pub const ACRYPTO_MAX_DATA_LEN: usize = 1 << 30;
/// The largest key a step may carry, in bytes.
pub const ACRYPTO_MAX_KEY_LEN: usize = 4096;
/// The largest IV or tag a request may carry, in bytes (a tag holds an
/// RSA-4096 signature).
pub const ACRYPTO_MAX_TAG_LEN: usize = 512;
/// `acrypto_request.flags`: the data of a sign or verify step is already
/// the SHA-256 digest of the message (32 bytes).
pub const ACRYPTO_REQUEST_PREHASHED: u32 = 1;
/// The largest name (device, driver, balancer) in bytes, without the NUL.
pub const ACRYPTO_MAX_NAME_LEN: usize = 63;

/// A borrowed byte slice from C: NULL is allowed only with length 0.
///
/// # Safety
/// When `len > 0`, `p` must point to `len` readable bytes that stay valid
/// and unmodified for the returned lifetime.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, max: usize) -> Result<&'a [u8], acrypto_status> {
    if len > max {
        return Err(acrypto_status::InvalidLength);
    }
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(acrypto_status::NullArgument);
    }
    // SAFETY: p is non-NULL and the caller promises `len` readable bytes;
    // len is at most 1 GiB, so within isize.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A name from C: non-NULL, UTF-8, 1..=ACRYPTO_MAX_NAME_LEN bytes.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn name<'a>(p: *const c_char) -> Result<&'a str, acrypto_status> {
    if p.is_null() {
        return Err(acrypto_status::NullArgument);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's promise.
    let s = unsafe { CStr::from_ptr(p) };
    let s = s.to_str().map_err(|_| acrypto_status::InvalidArgument)?;
    if s.is_empty() || s.len() > ACRYPTO_MAX_NAME_LEN {
        return Err(acrypto_status::InvalidArgument);
    }
    Ok(s)
}

/// A text argument from C (no length limit beyond 4 KiB).
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn text<'a>(p: *const c_char) -> Result<&'a str, acrypto_status> {
    if p.is_null() {
        return Err(acrypto_status::NullArgument);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's promise.
    let s = unsafe { CStr::from_ptr(p) };
    let s = s.to_str().map_err(|_| acrypto_status::InvalidArgument)?;
    if s.len() > 4096 {
        return Err(acrypto_status::InvalidLength);
    }
    Ok(s)
}

/// Copies `s` into a fixed C char array, truncated, NUL-terminated.
pub(crate) fn fill_name(dst: &mut [c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, b) in dst.iter_mut().zip(s.as_bytes()[..n].iter()) {
        *d = *b as c_char;
    }
    if let Some(d) = dst.get_mut(n) {
        *d = 0;
    }
}

/// Writes an out-parameter.
///
/// # Safety
/// `p` must be non-NULL, aligned and writable.
pub(crate) unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: the caller checked p for NULL; C promised it writable.
    unsafe { p.write(v) }
}

/// Zeroes a buffer's whole allocation (length and spare capacity) and
/// empties it, as `Zeroize` does for a `Vec<u8>`, but at memset speed:
/// `zeroize` writes a byte at a time with volatile stores (about one byte
/// per cycle: 1,700 instructions for a 1,504-byte request, 16,000 for a
/// 16 KiB one), while glibc's `explicit_bzero` is a vectorised memset the
/// compiler may not remove.
pub(crate) fn wipe(v: &mut Vec<u8>) {
    v.clear();
    let cap = v.capacity();
    if cap > 0 {
        // SAFETY: the allocation has cap writable bytes (the spare part
        // uninitialised, which writing bytes to is fine); nothing else
        // refers to it while we hold &mut.
        unsafe { libc::explicit_bzero(v.as_mut_ptr().cast(), cap) };
    }
}

/// Request buffers kept for reuse: a request's input is copied into a
/// `Vec` at submission and freed at delivery, often on another thread,
/// and glibc's allocator then takes its slow paths (a 1,504-byte buffer
/// is past its per-thread cache: about 1,000 instructions per request for
/// the `malloc` and the cross-thread `free`). Delivered buffers, wiped,
/// wait here for the next submission instead. The lock is only ever tried
/// (a busy or poisoned pool means a plain allocation or free), so no
/// thread waits on it, nor a forked child whose parent held it.
static BUF_POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// Buffers the pool keeps at most.
const BUF_POOL_LEN: usize = 64;
/// Largest buffer the pool keeps (bigger ones are freed).
const BUF_POOL_MAX: usize = 64 * 1024;

/// An empty buffer with room for `len` bytes, from the pool when it has one.
pub(crate) fn take_buf(len: usize) -> Vec<u8> {
    if len > 0 && len <= BUF_POOL_MAX {
        if let Ok(mut p) = BUF_POOL.try_lock() {
            if let Some(mut v) = p.pop() {
                drop(p);
                v.reserve(len);
                return v;
            }
        }
    }
    Vec::with_capacity(len)
}

/// Wipes a buffer (see [`wipe`]) and gives it to the pool, or frees it.
pub(crate) fn give_buf(mut v: Vec<u8>) {
    wipe(&mut v);
    let cap = v.capacity();
    if cap == 0 || cap > BUF_POOL_MAX {
        return;
    }
    if let Ok(mut p) = BUF_POOL.try_lock() {
        if p.len() < BUF_POOL_LEN {
            p.push(v);
        }
    }
}

/// The recipe of every `_free` export: NULL is fine; otherwise the handle
/// is taken back from C and `finish` releases it, with no panic crossing
/// the boundary.
///
/// # Safety
/// `p` is NULL or came from `Box::into_raw` and was not freed yet; no other
/// thread uses it any more.
pub(crate) unsafe fn free_handle<T>(p: *mut T, finish: impl FnOnce(Box<T>)) {
    if p.is_null() {
        return;
    }
    // SAFETY: the caller promises p came from Box::into_raw and is freed once.
    let b = unsafe { Box::from_raw(p) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || finish(b)));
}

/// Algorithms, as C sees them: the index into `Algorithm::ALL`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_alg {
    /// aes-128-cbc (16-byte key and IV; data a multiple of 16 bytes).
    Aes_128_Cbc = 0,
    /// aes-192-cbc.
    Aes_192_Cbc = 1,
    /// aes-256-cbc.
    Aes_256_Cbc = 2,
    /// aes-128-ecb (no IV; data a multiple of 16 bytes).
    Aes_128_Ecb = 3,
    /// aes-192-ecb.
    Aes_192_Ecb = 4,
    /// aes-256-ecb.
    Aes_256_Ecb = 5,
    /// aes-128-ctr (128-bit big-endian counter from the IV; any length).
    Aes_128_Ctr = 6,
    /// aes-192-ctr.
    Aes_192_Ctr = 7,
    /// aes-256-ctr.
    Aes_256_Ctr = 8,
    /// aes-128-xts (32-byte key; the IV is the tweak; at least 16 bytes).
    Aes_128_Xts = 9,
    /// aes-256-xts (64-byte key).
    Aes_256_Xts = 10,
    /// hmac-sha1 (any key length; 20-byte tag).
    HmacSha1 = 11,
    /// hmac-sha256 (32-byte tag).
    HmacSha256 = 12,
    /// sha1 (no key; 20-byte tag).
    Sha1 = 13,
    /// sha256 (32-byte tag).
    Sha256 = 14,
    /// rng: fills the output with random bytes (no key, no input read).
    Rng = 15,
    /// aes-128-gcm (AEAD: 16-byte key, 12-byte nonce as the IV, AAD, a
    /// 16-byte tag; open takes tags of 12 to 16 bytes).
    Aes_128_Gcm = 16,
    /// aes-192-gcm.
    Aes_192_Gcm = 17,
    /// aes-256-gcm.
    Aes_256_Gcm = 18,
    /// chacha20-poly1305 (RFC 8439: 32-byte key, 12-byte nonce, 16-byte tag).
    Chacha20Poly1305 = 19,
    /// rsa2048-pkcs1: RSA PKCS#1 v1.5 (sign/verify over SHA-256, or
    /// encrypt/decrypt). Asymmetric keys are DER: PKCS#8 private keys,
    /// SubjectPublicKeyInfo public keys (see `acrypto_request`).
    Rsa2048Pkcs1 = 20,
    /// rsa3072-pkcs1.
    Rsa3072Pkcs1 = 21,
    /// rsa4096-pkcs1.
    Rsa4096Pkcs1 = 22,
    /// rsa2048-pss (RSASSA-PSS, SHA-256).
    Rsa2048Pss = 23,
    /// rsa3072-pss.
    Rsa3072Pss = 24,
    /// rsa4096-pss.
    Rsa4096Pss = 25,
    /// rsa2048-oaep (RSAES-OAEP, SHA-256).
    Rsa2048Oaep = 26,
    /// rsa3072-oaep.
    Rsa3072Oaep = 27,
    /// rsa4096-oaep.
    Rsa4096Oaep = 28,
    /// ecdsa-p256 (SHA-256, DER signatures).
    EcdsaP256 = 29,
    /// ecdsa-p384.
    EcdsaP384 = 30,
    /// x25519 key agreement.
    X25519 = 31,
    /// ecdh-p256 key agreement.
    EcdhP256 = 32,
}

/// Number of algorithms (`acrypto_alg` values are `0..ACRYPTO_ALG_COUNT`).
pub const ACRYPTO_ALG_COUNT: u32 = 33;

/// Operations of a route step.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_op {
    /// Cipher: encrypt. AEAD: seal (encrypt, write the tag).
    Encrypt = 0,
    /// Cipher: decrypt. AEAD: open (verify the tag; decrypt only if it does).
    Decrypt = 1,
    /// Hash or MAC: compute into the request's tag.
    Digest = 2,
    /// MAC: compare with the request's tag (truncated tags of 10 bytes or
    /// more are accepted).
    Verify = 3,
    /// Rng: fill the output with random bytes.
    Generate = 4,
    /// Asymmetric: sign the data (or its SHA-256 digest, with
    /// `ACRYPTO_REQUEST_PREHASHED`) into the tag. (Verify: the tag is the
    /// signature to check.)
    Sign = 5,
    /// Asymmetric key agreement: the data is the peer's public key
    /// (SubjectPublicKeyInfo DER); the shared secret is written to `out`.
    Derive = 6,
}

pub(crate) fn alg_from_u32(v: u32) -> Result<Algorithm, acrypto_status> {
    Algorithm::ALL.get(v as usize).copied().ok_or(acrypto_status::InvalidArgument)
}

pub(crate) fn alg_to_u32(a: Algorithm) -> u32 {
    Algorithm::ALL.iter().position(|x| *x == a).map_or(u32::MAX, |i| i as u32)
}

pub(crate) fn op_from_u32(v: u32) -> Result<Op, acrypto_status> {
    Ok(match v {
        0 => Op::Encrypt,
        1 => Op::Decrypt,
        2 => Op::Digest,
        3 => Op::Verify,
        4 => Op::Generate,
        5 => Op::Sign,
        6 => Op::Derive,
        _ => return Err(acrypto_status::InvalidArgument),
    })
}

pub(crate) fn op_to_u32(o: Op) -> u32 {
    match o {
        Op::Encrypt => 0,
        Op::Decrypt => 1,
        Op::Digest => 2,
        Op::Verify => 3,
        Op::Generate => 4,
        Op::Sign => 5,
        Op::Derive => 6,
    }
}

/// Names a status (a static, NUL-terminated English string; never NULL).
/// Values that name no status give "unknown status".
#[no_mangle]
pub extern "C" fn acrypto_strerror(status: u32) -> *const c_char {
    ffi_guard_or!(
        {
            match acrypto_status::from_u32(status) {
                Some(s) => s.message().as_ptr(),
                None => c"unknown status".as_ptr(),
            }
        },
        c"unknown status".as_ptr()
    )
}

/// The library version, e.g. "0.1.0" (static, NUL-terminated).
#[no_mangle]
pub extern "C" fn acrypto_version() -> *const c_char {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}

/// The OpenSSL-style name of an algorithm ("aes-128-cbc", "hmac-sha1"...),
/// static and NUL-terminated; NULL for a value that names no algorithm.
#[no_mangle]
pub extern "C" fn acrypto_alg_name(alg: u32) -> *const c_char {
    const NAMES: [&CStr; ACRYPTO_ALG_COUNT as usize] = [
        c"aes-128-cbc",
        c"aes-192-cbc",
        c"aes-256-cbc",
        c"aes-128-ecb",
        c"aes-192-ecb",
        c"aes-256-ecb",
        c"aes-128-ctr",
        c"aes-192-ctr",
        c"aes-256-ctr",
        c"aes-128-xts",
        c"aes-256-xts",
        c"hmac-sha1",
        c"hmac-sha256",
        c"sha1",
        c"sha256",
        c"rng",
        c"aes-128-gcm",
        c"aes-192-gcm",
        c"aes-256-gcm",
        c"chacha20-poly1305",
        c"rsa2048-pkcs1",
        c"rsa3072-pkcs1",
        c"rsa4096-pkcs1",
        c"rsa2048-pss",
        c"rsa3072-pss",
        c"rsa4096-pss",
        c"rsa2048-oaep",
        c"rsa3072-oaep",
        c"rsa4096-oaep",
        c"ecdsa-p256",
        c"ecdsa-p384",
        c"x25519",
        c"ecdh-p256",
    ];
    NAMES.get(alg as usize).map_or(std::ptr::null(), |n| n.as_ptr())
}

/// Looks an algorithm up by its OpenSSL-style name (case-insensitive) and
/// writes its `acrypto_alg` value to `*out`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_alg_from_name(name: *const c_char, out: *mut u32) -> acrypto_status {
    ffi_guard!({
        non_null!(out);
        // SAFETY: NULL or NUL-terminated, by the caller's promise.
        let s = tri!(unsafe { text(name) });
        let alg: Algorithm = tri!(s.parse::<Algorithm>());
        // SAFETY: out checked non-NULL above.
        unsafe { put(out, alg_to_u32(alg)) };
        acrypto_status::Ok
    })
}

/// Where [`acrypto_test_inject_panic`] can make acrypto panic.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_panic_point {
    /// No injected panics (the default).
    None = 0,
    /// The next exported call that returns a status panics inside its guard.
    Export = 1,
    /// The next completion (callback, queue or pending) panics before the
    /// results are copied out; the owner sees `ACRYPTO_STATUS_PANIC`.
    Completion = 2,
    /// The next call into a C balancer panics before it is called; the
    /// engine then places the work itself.
    Balancer = 3,
    /// The next `data_ready` notification to a C driver panics inside
    /// acrypto; the panic is caught and the driver is told all the same.
    DataReady = 4,
}

pub(crate) const PANIC_IN_EXPORT: u32 = 1;
pub(crate) const PANIC_IN_COMPLETION: u32 = 2;
pub(crate) const PANIC_IN_BALANCER: u32 = 3;
pub(crate) const PANIC_IN_DATA_READY: u32 = 4;

static INJECTED_PANIC: AtomicU32 = AtomicU32::new(0);

/// Panics if a test armed this point (once).
pub(crate) fn maybe_panic(point: u32) {
    if INJECTED_PANIC.load(Ordering::Relaxed) == point
        && INJECTED_PANIC.compare_exchange(point, 0, Ordering::SeqCst, Ordering::Relaxed).is_ok()
    {
        panic!("acrypto: panic injected by acrypto_test_inject_panic({point})");
    }
}

/// For tests: makes acrypto panic once at `point` (an
/// `acrypto_panic_point`), to prove that no panic reaches C: the panic is
/// caught and reported as `ACRYPTO_STATUS_PANIC`. Not for production use.
#[no_mangle]
pub extern "C" fn acrypto_test_inject_panic(point: u32) -> acrypto_status {
    if point > acrypto_panic_point::DataReady as u32 {
        return acrypto_status::InvalidArgument;
    }
    INJECTED_PANIC.store(point, Ordering::SeqCst);
    acrypto_status::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_enum_values_are_the_core_indices_and_names() {
        assert_eq!(Algorithm::ALL.len() as u32, ACRYPTO_ALG_COUNT);
        let c_enum = [
            acrypto_alg::Aes_128_Cbc,
            acrypto_alg::Aes_192_Cbc,
            acrypto_alg::Aes_256_Cbc,
            acrypto_alg::Aes_128_Ecb,
            acrypto_alg::Aes_192_Ecb,
            acrypto_alg::Aes_256_Ecb,
            acrypto_alg::Aes_128_Ctr,
            acrypto_alg::Aes_192_Ctr,
            acrypto_alg::Aes_256_Ctr,
            acrypto_alg::Aes_128_Xts,
            acrypto_alg::Aes_256_Xts,
            acrypto_alg::HmacSha1,
            acrypto_alg::HmacSha256,
            acrypto_alg::Sha1,
            acrypto_alg::Sha256,
            acrypto_alg::Rng,
            acrypto_alg::Aes_128_Gcm,
            acrypto_alg::Aes_192_Gcm,
            acrypto_alg::Aes_256_Gcm,
            acrypto_alg::Chacha20Poly1305,
            acrypto_alg::Rsa2048Pkcs1,
            acrypto_alg::Rsa3072Pkcs1,
            acrypto_alg::Rsa4096Pkcs1,
            acrypto_alg::Rsa2048Pss,
            acrypto_alg::Rsa3072Pss,
            acrypto_alg::Rsa4096Pss,
            acrypto_alg::Rsa2048Oaep,
            acrypto_alg::Rsa3072Oaep,
            acrypto_alg::Rsa4096Oaep,
            acrypto_alg::EcdsaP256,
            acrypto_alg::EcdsaP384,
            acrypto_alg::X25519,
            acrypto_alg::EcdhP256,
        ];
        assert_eq!(c_enum.len(), Algorithm::ALL.len());
        for (i, (alg, c)) in Algorithm::ALL.iter().zip(c_enum).enumerate() {
            assert_eq!(c as u32, i as u32);
            assert_eq!(alg_from_u32(i as u32), Ok(*alg));
            assert_eq!(alg_to_u32(*alg), i as u32);
            // SAFETY: acrypto_alg_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(acrypto_alg_name(i as u32)) };
            assert_eq!(name.to_str().unwrap(), alg.to_string());
        }
        assert!(acrypto_alg_name(ACRYPTO_ALG_COUNT).is_null());
        assert_eq!(alg_from_u32(ACRYPTO_ALG_COUNT), Err(acrypto_status::InvalidArgument));
    }

    #[test]
    fn ops_round_trip_and_reject_unknown_values() {
        for v in 0..7 {
            assert_eq!(op_to_u32(op_from_u32(v).unwrap()), v);
        }
        assert!(op_from_u32(7).is_err());
        assert!(op_from_u32(u32::MAX).is_err());
    }

    #[test]
    fn every_status_has_a_message_and_errors_map_back() {
        for (i, s) in acrypto_status::ALL.iter().enumerate() {
            assert_eq!(*s as u32, i as u32);
            assert_eq!(acrypto_status::from_u32(i as u32), Some(*s));
            // SAFETY: acrypto_strerror returns a static NUL-terminated string.
            let m = unsafe { CStr::from_ptr(acrypto_strerror(i as u32)) };
            assert!(!m.to_bytes().is_empty());
            // A driver's status becomes an error that maps back to a status
            // of the same family.
            let back = status_of(&status_to_error(*s));
            assert!(
                back == *s
                    || matches!(
                        s,
                        acrypto_status::NullArgument
                            | acrypto_status::BufferTooSmall
                            | acrypto_status::Io
                            | acrypto_status::NotReady
                            | acrypto_status::Panic
                    ),
                "{s:?} -> {back:?}"
            );
        }
        assert_eq!(acrypto_status::from_u32(acrypto_status::ALL.len() as u32), None);
        assert_eq!(acrypto_status::from(Error::Busy), acrypto_status::Busy);
        assert_eq!(acrypto_status::from(Error::VerifyFailed), acrypto_status::VerifyFailed);
    }

    #[test]
    fn a_panic_in_a_guarded_export_is_a_status() {
        let s = ffi_guard!({
            if acrypto_status::Ok == acrypto_status::Ok {
                panic!("boom");
            }
            acrypto_status::Ok
        });
        assert_eq!(s, acrypto_status::Panic);
    }
}
