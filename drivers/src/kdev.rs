//! The kdev devices: the kernel's crypto drivers through `/dev/acrypto`
//! (the module in `kmod-c/`, ABI in `include/uapi/linux/acrypto.h`).
//!
//! Every kernel driver of an algorithm the module serves (`cbc-aes-aesni`,
//! `cbc(aes-generic)`, `cryptd(...)` wrappers, `sha256-avx2`, a HIFN or
//! PadLock driver where present, …) becomes one acrypto device named
//! `kdev:DRIVER`, class [`DeviceClass::Kernel`] (or
//! [`DeviceClass::Accelerator`] when a device backs it, see [`crate::hardware`]), whose
//! capabilities are the acrypto algorithms that driver implements (probed
//! at creation: a session is allocated and keyed for each).
//!
//! **Enumeration** is the kernel's own list, `/proc/crypto` (the module has
//! no enumeration ioctl: it would need crypto internals): every tested,
//! non-internal driver whose `name` the ABI serves. One unbound session per
//! algorithm is opened first, so that the kernel instantiates the templates
//! it would pick (`cbc(aes-generic)`, …), which `/proc/crypto` lists only
//! once used; plus the module's `get_random_bytes` pseudo driver.
//!
//! **One fd per device.** Each device opens `/dev/acrypto` for itself, so
//! the module's per-fd limits (`max_sessions`, `max_inflight`) apply per
//! device and one device's completions never wake another's reader. Each
//! device runs two threads: a *submitter* that takes batches from the
//! device queue and hands them to the kernel with one `ACRYPTO_IOC_SUBMIT`
//! per batch (never more than `max_inflight` unread), and a *reader* that
//! blocks in `read()` for `struct acrypto_completion` records while work is
//! in flight and completes each request.
//!
//! **Sessions.** A kernel session holds one key, so one is allocated lazily
//! per (algorithm, key) and cached; when the fd's `max_sessions` is reached
//! the least recently used one is freed (`CRYPTO_SESSION_FREE` lets its
//! requests in flight finish). All are freed when the fd closes on detach.
//!
//! **Buffers.** A [`Request`](acrypto_core::Request) owns its `Vec`s; the [`Work`] holding it is
//! kept in the device's in-flight table, untouched, from the submit ioctl
//! until its completion record has been read, as the ABI requires (the
//! module copies small results by that `read()`, and runs large ciphers on
//! the pinned pages). Cipher steps run in place on
//! [`Request::current_mut`](acrypto_core::Request::current_mut); digests land in the tag.
//!
//! **HMAC verify**: the kernel computes the MAC into a scratch buffer and
//! the comparison with the expected (possibly truncated) tag is done here in
//! constant time. HMAC keys longer than the module's 128-byte limit are
//! hashed first, as HMAC itself does with keys longer than a block.
//!
//! **Streams** (hash and HMAC, [`acrypto_core::stream`]): the state is the
//! module's sealed export (`ACRYPTO_DEV_REQ_EXPORT`/`_CONTINUE`, see the
//! uapi header), held in the stream's [`StreamState`] with the device and
//! kernel session that made it. The family is the device's name
//! (`kdev:DRIVER`): the module accepts a state only on the fd and session
//! that made it, so no other device continues it, and a device that breaks
//! mid-stream makes the next update fail with a clear error. A session
//! stays cached (never evicted) while a state of it lives. A hash step
//! longer than `max_buffer` (a stream update, or a one-shot digest) goes
//! to the kernel in pieces of `max_buffer`, each continuing from the
//! sealed state of the one before.
//!
//! Any other request longer than the module's `max_buffer` fails with
//! [`Error::DeviceFailure`] (so an engine with other devices retries it
//! there). Kernel errors become [`Error`]s; an answer that makes no sense (an
//! unknown completion tag, a short result) marks the device broken.

use crate::uapi::*;
use crate::worker::lock;
use acrypto_core::alg::{AEAD_NONCE_LEN, AEAD_TAG_LEN, MIN_VERIFY_TAG};
use acrypto_core::{
    Algorithm, Capability, CipherMode, DeviceClass, DeviceHandle, DigestKind, Driver, Error, Op, OpKind, Result,
    RsaPadding, StreamState, Work,
};
use nix::errno::Errno;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use zeroize::Zeroizing;

/// Where the module's device lives.
pub const DEVICE_PATH: &str = "/dev/acrypto";
/// Most requests one submit ioctl carries.
pub const DEFAULT_BATCH: usize = 64;

nix::ioctl_readwrite!(ioc_session_alloc, ACRYPTO_IOC_MAGIC, 0x40, acrypto_session_alloc);
nix::ioctl_write_ptr!(ioc_fill_data, ACRYPTO_IOC_MAGIC, 0x41, acrypto_fill_data);
nix::ioctl_write_ptr!(ioc_session_free, ACRYPTO_IOC_MAGIC, 0x43, acrypto_session_free);
nix::ioctl_readwrite!(ioc_submit, ACRYPTO_IOC_MAGIC, 0x48, acrypto_submit);
nix::ioctl_read!(ioc_info, ACRYPTO_IOC_MAGIC, 0x4b, acrypto_info);

/// The kernel's list of crypto drivers.
pub const PROC_CRYPTO: &str = "/proc/crypto";

const REQUEST_SIZE: usize = std::mem::size_of::<acrypto_request>();
const COMPLETION_SIZE: usize = std::mem::size_of::<acrypto_completion>();
/// Completion records one `read()` takes at most.
const READ_RECORDS: usize = 64;

/// An errno from the kernel as an acrypto error: what the request did wrong
/// stays a request error; anything else is a device failure.
pub(crate) fn errno_error(what: &str, e: Errno) -> Error {
    match e {
        Errno::EINVAL => Error::InvalidArgument(format!("{what}: the kernel refused it ({e})")),
        Errno::EMSGSIZE | Errno::ENOSPC => Error::InvalidLength(format!("{what}: {e}")),
        Errno::EBADMSG => Error::VerifyFailed,
        _ => Error::DeviceFailure(format!("{what}: {e}")),
    }
}

/// A NUL-terminated byte string constant of the header.
fn c_str_const(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or_default()).into_owned()
}

fn set_name(dst: &mut [core::ffi::c_char], name: &str) -> Result<()> {
    if name.len() >= dst.len() {
        return Err(Error::InvalidArgument(format!("kernel driver name '{name}' is too long")));
    }
    for (d, s) in dst.iter_mut().zip(name.bytes()) {
        *d = s as core::ffi::c_char;
    }
    Ok(())
}

/// HMAC key as the kernel gets it: keys longer than `limit` are replaced by
/// their digest (RFC 2104: a key longer than the block is hashed first, so
/// the MAC is the same).
pub(crate) fn hmac_key(d: DigestKind, key: &[u8], limit: usize) -> Zeroizing<Vec<u8>> {
    use sha2::Digest;
    if key.len() <= limit {
        return Zeroizing::new(key.to_vec());
    }
    Zeroizing::new(match d {
        DigestKind::Sha1 => sha1::Sha1::digest(key).to_vec(),
        DigestKind::Sha256 => sha2::Sha256::digest(key).to_vec(),
    })
}

/// Checks a verify tag's length and compares it, in constant time, with the
/// leftmost bytes of the computed MAC.
pub(crate) fn verify_tag(alg: Algorithm, mac: &[u8], tag: &[u8]) -> Result<()> {
    use subtle::ConstantTimeEq;
    if tag.len() > mac.len() {
        return Err(Error::InvalidLength(format!("{alg} verify takes at most {} bytes", mac.len())));
    }
    if bool::from(mac[..tag.len()].ct_eq(tag)) {
        Ok(())
    } else {
        Err(Error::VerifyFailed)
    }
}

/// Checks a verify step's tag length before any work is done.
pub(crate) fn check_verify_len(alg: Algorithm, tag: &[u8]) -> Result<()> {
    let n = tag.len();
    if !(MIN_VERIFY_TAG..=alg.digest_len()).contains(&n) {
        return Err(Error::InvalidLength(format!(
            "{alg} verify takes a tag of {MIN_VERIFY_TAG} to {} bytes, got {n}",
            alg.digest_len()
        )));
    }
    Ok(())
}

/// The module's limits (`ACRYPTO_IOC_INFO`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sessions per fd.
    pub max_sessions: usize,
    /// Batch requests per fd submitted and not yet read.
    pub max_inflight: usize,
    /// Largest source or destination of one request.
    pub max_buffer: usize,
}

/// The kernel algorithm names the module serves, and the acrypto
/// algorithms each can do.
const SERVED: &[(&str, &[Algorithm])] = {
    use Algorithm::{Aes, Digest, Hmac};
    use CipherMode::{Cbc, Ctr, Ecb, Xts};
    use DigestKind::{Sha1, Sha256};
    &[
        (
            "ecb(aes)",
            &[Aes { key_bits: 128, mode: Ecb }, Aes { key_bits: 192, mode: Ecb }, Aes { key_bits: 256, mode: Ecb }],
        ),
        (
            "cbc(aes)",
            &[Aes { key_bits: 128, mode: Cbc }, Aes { key_bits: 192, mode: Cbc }, Aes { key_bits: 256, mode: Cbc }],
        ),
        (
            "ctr(aes)",
            &[Aes { key_bits: 128, mode: Ctr }, Aes { key_bits: 192, mode: Ctr }, Aes { key_bits: 256, mode: Ctr }],
        ),
        ("xts(aes)", &[Aes { key_bits: 128, mode: Xts }, Aes { key_bits: 256, mode: Xts }]),
        ("sha1", &[Digest(Sha1)]),
        ("sha256", &[Digest(Sha256)]),
        ("hmac(sha1)", &[Hmac(Sha1)]),
        ("hmac(sha256)", &[Hmac(Sha256)]),
        ("stdrng", &[Algorithm::Rng]),
        // RSA with PKCS#1 v1.5 over SHA-256 (the DigestInfo is the
        // kernel's): sign, verify, encrypt, decrypt. Drivers registered
        // under "pkcs1pad(rsa)" alone (virtio-pkcs1-rsa: no signatures,
        // and a few wrong ciphertexts, tests/vm/t_akcipher.c) are not used.
        (
            "pkcs1pad(rsa,sha256)",
            &[
                Algorithm::Rsa { bits: 2048, padding: RsaPadding::Pkcs1 },
                Algorithm::Rsa { bits: 3072, padding: RsaPadding::Pkcs1 },
                Algorithm::Rsa { bits: 4096, padding: RsaPadding::Pkcs1 },
            ],
        ),
        (
            "gcm(aes)",
            &[
                Algorithm::AesGcm { key_bits: 128 },
                Algorithm::AesGcm { key_bits: 192 },
                Algorithm::AesGcm { key_bits: 256 },
            ],
        ),
        ("rfc7539(chacha20,poly1305)", &[Algorithm::ChaCha20Poly1305]),
    ]
};

/// One kernel driver a session can bind to (from `/proc/crypto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelDriver {
    /// `cra_driver_name`, e.g. `cbc-aes-aesni`.
    pub driver: String,
    /// `cra_name`, e.g. `cbc(aes)`.
    pub alg_name: String,
    /// `cra_priority`.
    pub priority: u32,
    /// Completes through a callback (`async : yes`).
    pub is_async: bool,
    /// The kernel module that registered it (`module` in `/proc/crypto`;
    /// `kernel` for built-in code).
    pub module: String,
    /// Backed by a device: its module drives devices (see
    /// [`crate::hardware`]), known at enumeration, or the module flags it
    /// (`ACRYPTO_DEV_F_HW` of a session bound to it), known once a session
    /// was allocated.
    pub hardware: bool,
}

impl KernelDriver {
    /// Whether it is backed by a device rather than the CPU.
    pub fn is_hardware(&self) -> bool {
        self.hardware
    }

    /// The acrypto algorithms this driver could do (before probing).
    pub fn candidate_algorithms(&self) -> Vec<Algorithm> {
        SERVED.iter().find(|(n, _)| *n == self.alg_name).map(|(_, a)| a.to_vec()).unwrap_or_default()
    }
}

/// The drivers of the names the module serves in `/proc/crypto`'s text:
/// blank-line separated `key : value` blocks; only tested
/// (`selftest : passed`), non-internal ones, each driver once, in the
/// kernel's order.
pub fn parse_proc_crypto(text: &str) -> Vec<KernelDriver> {
    let mut out: Vec<KernelDriver> = Vec::new();
    for block in text.split("\n\n") {
        let mut name = "";
        let mut driver = "";
        let mut module = "";
        let mut priority = 0;
        let (mut tested, mut internal, mut is_async) = (false, false, false);
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            let v = v.trim();
            match k.trim() {
                "name" => name = v,
                "driver" => driver = v,
                "module" => module = v,
                "priority" => priority = v.parse().unwrap_or(0),
                "selftest" => tested = v == "passed",
                "internal" => internal = v == "yes",
                "async" => is_async = v == "yes",
                _ => {}
            }
        }
        if driver.is_empty() || !tested || internal || !SERVED.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if out.iter().any(|d| d.driver == driver) {
            continue;
        }
        out.push(KernelDriver {
            driver: driver.to_string(),
            alg_name: name.to_string(),
            module: module.to_string(),
            priority,
            is_async,
            hardware: false,
        });
    }
    out
}

/// The (operation, type, mode) triple of an algorithm.
fn triple(alg: Algorithm) -> (u32, u32, u32) {
    let digest_type = |d| match d {
        DigestKind::Sha1 => ACRYPTO_DEV_TYPE_SHA1,
        DigestKind::Sha256 => ACRYPTO_DEV_TYPE_SHA256,
    };
    match alg {
        Algorithm::Aes { key_bits, mode } => {
            let t = match key_bits {
                128 => ACRYPTO_DEV_TYPE_AES_128,
                192 => ACRYPTO_DEV_TYPE_AES_192,
                _ => ACRYPTO_DEV_TYPE_AES_256,
            };
            let m = match mode {
                CipherMode::Ecb => ACRYPTO_DEV_MODE_ECB,
                CipherMode::Cbc => ACRYPTO_DEV_MODE_CBC,
                CipherMode::Ctr => ACRYPTO_DEV_MODE_CTR,
                CipherMode::Xts => ACRYPTO_DEV_MODE_XTS,
            };
            (ACRYPTO_DEV_OP_ENCRYPT, t, m)
        }
        Algorithm::Digest(d) => (ACRYPTO_DEV_OP_HASH, digest_type(d), ACRYPTO_DEV_MODE_NONE),
        Algorithm::Hmac(d) => (ACRYPTO_DEV_OP_HMAC, digest_type(d), ACRYPTO_DEV_MODE_NONE),
        Algorithm::Rng => (ACRYPTO_DEV_OP_RNG, ACRYPTO_DEV_TYPE_RNG, ACRYPTO_DEV_MODE_NONE),
        Algorithm::AesGcm { key_bits } => {
            let t = match key_bits {
                128 => ACRYPTO_DEV_TYPE_AES_128,
                192 => ACRYPTO_DEV_TYPE_AES_192,
                _ => ACRYPTO_DEV_TYPE_AES_256,
            };
            (ACRYPTO_DEV_OP_ENCRYPT, t, ACRYPTO_DEV_MODE_GCM)
        }
        Algorithm::ChaCha20Poly1305 => (ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_CHACHA20, ACRYPTO_DEV_MODE_POLY1305),
        // One session does all four operations (the request names it).
        Algorithm::Rsa { padding: RsaPadding::Pkcs1, .. } => {
            (ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_RSA, ACRYPTO_DEV_MODE_PKCS1_SHA256)
        }
        // Not served by the module (Linux 6.1 has no PSS, OAEP, ECDSA or
        // key agreement akcipher): no triple, which the module refuses
        // with EINVAL. `prepare` refuses these steps before a session is
        // asked for.
        Algorithm::Rsa { .. } | Algorithm::Ecdsa(_) | Algorithm::X25519 | Algorithm::EcdhP256 => (0, 0, 0),
    }
}

/// An open `/dev/acrypto`.
struct Fd(File);

impl Fd {
    fn open(path: &str) -> Result<Fd> {
        std::fs::OpenOptions::new().read(true).write(true).open(path).map(Fd).map_err(|e| {
            Error::NoSuchDevice(format!(
                "{path}: {e} (is the acrypto module loaded? `insmod kmod-c/acrypto.ko`, and run as root or in the acrypto group)"
            ))
        })
    }

    fn raw(&self) -> i32 {
        self.0.as_raw_fd()
    }

    fn limits(&self) -> Result<Limits> {
        let mut v = acrypto_info::default();
        // SAFETY: `v` is a valid, writable acrypto_info that outlives the call.
        unsafe { ioc_info(self.raw(), &mut v) }.map_err(|e| errno_error("ACRYPTO_IOC_INFO", e))?;
        // The module accepts our request entries (it knows at least their
        // fields) and returns records of the size we read.
        if (v.request_size as usize) < REQUEST_SIZE || v.completion_size as usize != COMPLETION_SIZE {
            return Err(Error::Unsupported(format!(
                "/dev/acrypto takes requests of up to {} B and returns {} B completions; this build needs {} B and {} B",
                v.request_size, v.completion_size, REQUEST_SIZE, COMPLETION_SIZE
            )));
        }
        if v.max_sessions == 0 || v.max_inflight == 0 || v.max_buffer == 0 {
            return Err(Error::DeviceFailure(format!("/dev/acrypto reports zero limits: {v:?}")));
        }
        Ok(Limits {
            max_sessions: v.max_sessions as usize,
            max_inflight: v.max_inflight as usize,
            max_buffer: v.max_buffer as usize,
        })
    }

    /// The drivers sessions can bind to: `/proc/crypto` after one unbound
    /// session per algorithm (which instantiates the kernel's choice), plus
    /// the module's `get_random_bytes`.
    fn enumerate(&self) -> Result<Vec<KernelDriver>> {
        let mut defaults = Vec::new();
        for (_, algs) in SERVED {
            if let Ok(id) = self.alloc_raw("", algs[0], 0) {
                self.free_session(id);
                defaults.push(algs[0]);
            }
        }
        let text =
            std::fs::read_to_string(PROC_CRYPTO).map_err(|e| Error::DeviceFailure(format!("{PROC_CRYPTO}: {e}")))?;
        let mut out = parse_proc_crypto(&text);
        // Many drivers share a module (aesni_intel, kernel): look each up once.
        let mut seen: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
        for d in &mut out {
            d.hardware = *seen.entry(d.module.clone()).or_insert_with(|| {
                crate::hardware::module_drives_devices(std::path::Path::new(crate::hardware::SYSFS), &d.module)
            });
        }
        out.push(KernelDriver {
            driver: c_str_const(ACRYPTO_DEV_GET_RANDOM),
            alg_name: "stdrng".into(),
            module: "acrypto".into(),
            priority: 0,
            is_async: false,
            hardware: false,
        });
        if defaults.is_empty() {
            return Err(Error::DeviceFailure("/dev/acrypto allocates no session of any algorithm".into()));
        }
        Ok(out)
    }

    /// Allocates an unkeyed session for `alg` bound to `driver` (empty: the
    /// kernel's choice); `src_size` 0: batch path only.
    fn alloc_raw(&self, driver: &str, alg: Algorithm, src_size: u32) -> Result<u32> {
        self.alloc_raw_auth(driver, alg, src_size, 0).map(|a| a.id)
    }

    /// As [`Fd::alloc_raw`] with an AEAD tag length (0: the largest).
    fn alloc_raw_auth(&self, driver: &str, alg: Algorithm, src_size: u32, auth_size: u32) -> Result<Allocated> {
        let (operation, type_, mode) = triple(alg);
        let mut a = acrypto_session_alloc { operation, type_, mode, src_size, auth_size, ..Default::default() };
        set_name(&mut a.driver, driver)?;
        // SAFETY: `a` is a valid, writable acrypto_session_alloc that outlives the call.
        unsafe { ioc_session_alloc(self.raw(), &mut a) }.map_err(|e| match e {
            Errno::ENOENT | Errno::EINVAL => {
                Error::Unsupported(format!("kernel driver {driver} cannot do {alg} ({e})"))
            }
            e => errno_error(&format!("CRYPTO_SESSION_ALLOC {alg} on {driver}"), e),
        })?;
        if a.session_id == 0 {
            return Err(Error::DeviceFailure(format!("{driver}: the kernel gave session id 0")));
        }
        Ok(Allocated { id: a.session_id, flags: a.driver_flags, state_size: a.state_size })
    }

    /// Allocates a session for `alg` bound to `driver` and sets its key.
    /// `auth_size`: an AEAD's tag length (0 otherwise).
    /// An RSA key (`OpKind::Asym`) is the kernel's DER (see
    /// [`rsa_kernel_key`]), `public` saying which kind; none: a session
    /// without a key (probing).
    fn alloc_session(
        &self,
        driver: &str,
        alg: Algorithm,
        key: &[u8],
        auth_size: u32,
        public: bool,
    ) -> Result<Allocated> {
        // The batch path only: no synchronous source buffer in the kernel.
        let allocated = self.alloc_raw_auth(driver, alg, 0, auth_size)?;
        let id = allocated.id;
        let keyed = match alg.kind() {
            OpKind::Cipher | OpKind::Mac | OpKind::Aead => true,
            OpKind::Asym => !key.is_empty(),
            _ => false,
        };
        if keyed {
            let f = acrypto_fill_data {
                session_id: id,
                flags: ACRYPTO_DEV_FILL_KEY | if public { ACRYPTO_DEV_FILL_PUBLIC } else { 0 },
                key: key.as_ptr() as u64,
                key_len: key.len() as u32,
                ..Default::default()
            };
            // SAFETY: `f` is valid for the call; it points at `key`, which is
            // readable for `key_len` bytes and outlives the call (the kernel
            // copies it).
            if let Err(e) = unsafe { ioc_fill_data(self.raw(), &f) } {
                self.free_session(id);
                return Err(match e {
                    Errno::EINVAL | Errno::EBADMSG => {
                        Error::InvalidKey(format!("kernel driver {driver} refused the {alg} key"))
                    }
                    e => errno_error(&format!("CRYPTO_FILL_DATA key for {alg} on {driver}"), e),
                });
            }
        }
        Ok(allocated)
    }

    fn free_session(&self, id: u32) {
        let f = acrypto_session_free { session_id: id, __pad: 0 };
        // SAFETY: `f` is a valid acrypto_session_free for the call. A failure
        // (already gone) leaves nothing to clean up.
        let _ = unsafe { ioc_session_free(self.raw(), &f) };
    }
}

/// What `CRYPTO_SESSION_ALLOC` reported.
struct Allocated {
    id: u32,
    /// `ACRYPTO_DEV_F_*` of the bound driver.
    flags: u32,
    /// The sealed stream state's length (0: the session cannot stream).
    state_size: u32,
}

/// The kernel drivers `/dev/acrypto` sessions can bind to.
pub fn enumerate() -> Result<Vec<KernelDriver>> {
    Fd::open(DEVICE_PATH)?.enumerate()
}

/// The module's limits (they are per fd, the same for every fd).
pub fn limits() -> Result<Limits> {
    Fd::open(DEVICE_PATH)?.limits()
}

/// Whether `/dev/acrypto` can be opened.
pub fn available() -> bool {
    Fd::open(DEVICE_PATH).is_ok()
}

/// What [`probe_all`] found: usable devices, and drivers left out with why.
pub struct Probe {
    /// One device per usable kernel driver.
    pub devices: Vec<KdevDevice>,
    /// Drivers that could do none of acrypto's algorithms, with the reason.
    pub skipped: Vec<(String, Error)>,
}

/// One device per kernel driver the module lists that can do at least one
/// acrypto algorithm.
pub fn probe_all() -> Result<Probe> {
    let drivers = enumerate()?;
    let mut seen = std::collections::HashSet::new();
    let mut probe = Probe { devices: Vec::new(), skipped: Vec::new() };
    for d in drivers {
        if !seen.insert(d.driver.clone()) {
            continue;
        }
        match KdevDevice::from_driver(d.clone()) {
            Ok(dev) => probe.devices.push(dev),
            Err(e) => probe.skipped.push((d.driver, e)),
        }
    }
    Ok(probe)
}

/// Key material as a map key, wiped on drop.
#[derive(PartialEq, Eq, Hash, Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub(crate) struct KeyBytes(pub(crate) Vec<u8>);

/// A cached kernel session.
struct CachedSession {
    id: u32,
    last_use: u64,
    /// The batch being built uses it: not to be evicted before it is submitted.
    batch: u64,
    /// Length of its sealed stream state (0: no streams).
    state_size: usize,
    /// Held by every stream state of the session: the session is not
    /// evicted while one lives (the module refuses a state on any other).
    pin: Arc<()>,
}

/// A kdev stream state: the module's sealed export (see the uapi header,
/// streams), which only the fd and kernel session that made it accept.
struct KdevState {
    blob: Zeroizing<Vec<u8>>,
    /// The device ([`Shared::id`]) and kernel session that made it.
    device: u64,
    session: u32,
    /// Keeps the session cached while the state lives.
    _pin: Arc<()>,
}

/// A stream state family per kernel driver: `kdev:DRIVER`, the device name.
fn kdev_family(name: &str) -> String {
    name.to_string()
}

/// Process-wide device numbers ([`Shared::id`]).
static NEXT_DEVICE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A hash step cut into pieces of at most `max_buffer` bytes, between two
/// pieces: the bytes done and the sealed state after them.
struct Carry {
    done: usize,
    blob: Zeroizing<Vec<u8>>,
}

/// A work whose step `.1` is to be submitted, with its carry.
type Todo = (Work, usize, Option<Carry>);

/// A request the kernel holds: the work (owning the buffers the kernel
/// reads and writes) and what to do with its completion.
struct Slot {
    work: Work,
    /// Index of the step being run, within the work's steps.
    step: usize,
    /// The MAC of a verify step, computed by the kernel.
    scratch: Vec<u8>,
    /// Expected output length.
    out_len: usize,
    /// Hash steps: the state this piece continues from, kept alive until
    /// the submit ioctl copied it; and the bytes done once it completes.
    _carry: Option<Carry>,
    done: usize,
    /// Where the module writes the sealed state after this piece (empty:
    /// the piece finalizes).
    state_out: Zeroizing<Vec<u8>>,
    /// Whether more pieces follow this one.
    more: bool,
    /// The session's pin, for a state made by this piece.
    pin: Option<(u32, Arc<()>)>,
}

#[derive(Default)]
struct State {
    ready: bool,
    stop: bool,
    /// The fd misbehaved: nothing more is submitted (see [`fail_all`]).
    dead: bool,
    /// Accepted by the kernel and not yet read (signed: the reader may count
    /// a completion down before the submitter counted its request up).
    inflight: isize,
    /// Works whose next step (or piece) is to be submitted.
    pending: VecDeque<Todo>,
    slots: HashMap<u64, Slot>,
    next_tag: u64,
    batch_no: u64,
    use_clock: u64,
    /// By algorithm, AEAD tag length (0 otherwise) and key.
    sessions: HashMap<(Algorithm, u32, KeyBytes), CachedSession>,
    handle: Option<DeviceHandle>,
}

struct Shared {
    fd: Fd,
    /// Unique in the process: a stream state names the device that made it.
    id: u64,
    /// The hash and MAC algorithms whose sessions export a stream state.
    streams: Vec<Algorithm>,
    name: String,
    driver: String,
    limits: Limits,
    batch: usize,
    state: Mutex<State>,
    cv: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// One kernel crypto driver as an acrypto device.
pub struct KdevDevice {
    info: KernelDriver,
    algs: Vec<Algorithm>,
    shared: Arc<Shared>,
}

impl KdevDevice {
    /// The device for the kernel driver named `driver` (as [`enumerate`]
    /// lists it).
    /// A template instance not used yet (`cryptd(cbc(aes-generic))`) is
    /// instantiated by binding a session to it, then listed.
    pub fn open(driver: &str) -> Result<KdevDevice> {
        let mut list = enumerate()?;
        if !list.iter().any(|d| d.driver == driver) {
            let fd = Fd::open(DEVICE_PATH)?;
            let made = SERVED.iter().any(|(_, algs)| match fd.alloc_raw(driver, algs[0], 0) {
                Ok(id) => {
                    fd.free_session(id);
                    true
                }
                Err(_) => false,
            });
            if made {
                list = enumerate()?;
            }
        }
        let d = list.into_iter().find(|d| d.driver == driver).ok_or_else(|| {
            Error::NoSuchDevice(format!(
                "kernel driver '{driver}' is not in /proc/crypto for an algorithm /dev/acrypto serves (see `acrypto devices`)"
            ))
        })?;
        Self::from_driver(d)
    }

    /// The device for one enumerated driver: opens its own fd and probes
    /// which algorithms work.
    pub fn from_driver(mut info: KernelDriver) -> Result<KdevDevice> {
        let fd = Fd::open(DEVICE_PATH)?;
        let limits = fd.limits()?;
        let mut algs = Vec::new();
        let mut streams = Vec::new();
        let mut last_err = None;
        for alg in info.candidate_algorithms() {
            // A key whose halves differ (XTS) and of the right length; an
            // RSA session is probed without one.
            let key: Vec<u8> = if alg.kind() == OpKind::Asym {
                Vec::new()
            } else {
                (0..alg.key_len().unwrap_or(16)).map(|i| i as u8 ^ 0x5a).collect()
            };
            let auth = if alg.kind() == OpKind::Aead { AEAD_TAG_LEN as u32 } else { 0 };
            match fd.alloc_session(&info.driver, alg, &key, auth, false) {
                Ok(a) => {
                    fd.free_session(a.id);
                    info.hardware |= a.flags & ACRYPTO_DEV_F_HW != 0;
                    info.is_async |= a.flags & ACRYPTO_DEV_F_ASYNC != 0;
                    algs.push(alg);
                    if a.state_size > 0 && matches!(alg.kind(), OpKind::Hash | OpKind::Mac) {
                        streams.push(alg);
                    }
                }
                Err(e) => last_err = Some(e),
            }
        }
        if algs.is_empty() {
            return Err(last_err.unwrap_or_else(|| {
                Error::Unsupported(format!(
                    "kernel driver {} ({}) does no acrypto algorithm",
                    info.driver, info.alg_name
                ))
            }));
        }
        let name = format!("kdev:{}", info.driver);
        let shared = Arc::new(Shared {
            fd,
            id: NEXT_DEVICE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            streams,
            name,
            driver: info.driver.clone(),
            limits,
            batch: DEFAULT_BATCH.min(limits.max_inflight),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        Ok(KdevDevice { info, algs, shared })
    }

    /// The kernel driver behind it.
    pub fn kernel_driver(&self) -> &KernelDriver {
        &self.info
    }

    /// The module's limits on this device's fd.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }
}

impl Driver for KdevDevice {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn driver(&self) -> &str {
        "kdev"
    }

    fn capabilities(&self) -> Vec<Capability> {
        let q = 4 * self.shared.limits.max_inflight;
        self.algs.iter().map(|&a| Capability::new(a, q)).collect()
    }

    /// An RSA step's key is parsed (and its size checked) when the session
    /// is made, as the soft device does; the kernel gets it per session.
    fn prepare(&self, step: &acrypto_core::Step) -> Result<()> {
        if step.alg.kind() == OpKind::Asym {
            crate::asym::parse_key(step.alg, step.op, step.key.bytes())?;
        }
        Ok(())
    }

    fn class(&self) -> DeviceClass {
        if self.info.is_hardware() {
            DeviceClass::Accelerator
        } else {
            DeviceClass::Kernel
        }
    }

    fn attach(&self, dev: DeviceHandle) {
        lock(&self.shared.state).handle = Some(dev.clone());
        let mut threads = lock(&self.shared.threads);
        for (role, f) in [("submit", submitter as fn(Arc<Shared>)), ("read", reader)] {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new().name(format!("acrypto-kdev-{role}")).spawn(move || f(shared));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    dev.mark_broken(&format!("cannot start the {role} thread: {e}"));
                    return;
                }
            }
        }
    }

    fn data_ready(&self) {
        lock(&self.shared.state).ready = true;
        self.shared.cv.notify_all();
    }

    fn stream_family(&self, alg: Algorithm) -> Option<String> {
        self.shared.streams.contains(&alg).then(|| kdev_family(&self.shared.name))
    }

    fn detach(&self) {
        let pending: Vec<Todo> = {
            let mut st = lock(&self.shared.state);
            st.stop = true;
            st.pending.drain(..).collect()
        };
        self.shared.cv.notify_all();
        for (w, _, _) in pending {
            w.complete(Err(Error::Canceled));
        }
        let threads: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
        for t in threads {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
        let mut st = lock(&self.shared.state);
        for (_, s) in st.sessions.drain() {
            self.shared.fd.free_session(s.id);
        }
        st.handle = None;
    }
}

impl Shared {
    /// The kernel session for `alg` with `key`, allocated if needed. `Ok(None)`:
    /// every cached session is used by the batch being built; submit it first.
    fn session(&self, st: &mut State, alg: Algorithm, auth: u32, key: &[u8]) -> Result<Option<SessionRef>> {
        st.use_clock += 1;
        let (clock, batch) = (st.use_clock, st.batch_no);
        let map_key = (alg, auth, KeyBytes(key.to_vec()));
        if let Some(s) = st.sessions.get_mut(&map_key) {
            s.last_use = clock;
            s.batch = batch;
            return Ok(Some(SessionRef { id: s.id, state_size: s.state_size, pin: s.pin.clone() }));
        }
        if st.sessions.len() >= self.limits.max_sessions {
            let victim = st
                .sessions
                .iter()
                .filter(|(_, s)| s.batch != batch && Arc::strong_count(&s.pin) == 1)
                .min_by_key(|(_, s)| s.last_use)
                .map(|(k, _)| (k.0, k.1, k.2.clone()));
            match victim {
                Some(k) => {
                    if let Some(s) = st.sessions.remove(&k) {
                        self.fd.free_session(s.id);
                    }
                }
                None => return Ok(None),
            }
        }
        let (kernel_key, public) = match alg {
            Algorithm::Hmac(d) => (hmac_key(d, key, ACRYPTO_DEV_MAX_KEY_LEN as usize), false),
            Algorithm::Rsa { .. } => rsa_kernel_key(alg, key)?,
            _ => (Zeroizing::new(key.to_vec()), false),
        };
        let a = self.fd.alloc_session(&self.driver, alg, &kernel_key, auth, public)?;
        let pin = Arc::new(());
        let state_size = a.state_size as usize;
        st.sessions.insert(map_key, CachedSession { id: a.id, last_use: clock, batch, state_size, pin: pin.clone() });
        Ok(Some(SessionRef { id: a.id, state_size, pin }))
    }

    fn handle(&self) -> Option<DeviceHandle> {
        lock(&self.state).handle.clone()
    }
}

/// An RSA key (PKCS#8 private or SubjectPublicKeyInfo public DER, of the
/// algorithm's size) as the kernel's parsers take it: PKCS#1
/// `RSAPrivateKey` or `RSAPublicKey` DER, and whether it is the public one.
fn rsa_kernel_key(alg: Algorithm, der: &[u8]) -> Result<(Zeroizing<Vec<u8>>, bool)> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    let bad = |e: &dyn std::fmt::Display| Error::InvalidKey(format!("{alg}: {e}"));
    // Verify takes either kind of key: the parser checks type and size.
    match crate::asym::parse_key(alg, Op::Verify, der)? {
        crate::asym::AsymKey::RsaPrivate(k) => {
            let doc = k.to_pkcs1_der().map_err(|e| bad(&e))?;
            Ok((Zeroizing::new(doc.as_bytes().to_vec()), false))
        }
        crate::asym::AsymKey::RsaPublic(k) => {
            let doc = k.to_pkcs1_der().map_err(|e| bad(&e))?;
            Ok((Zeroizing::new(doc.as_bytes().to_vec()), true))
        }
        _ => Err(Error::Internal(format!("kdev: {alg} parsed as another key type"))),
    }
}

/// A cached session as [`Shared::session`] hands it out.
struct SessionRef {
    id: u32,
    state_size: usize,
    pin: Arc<()>,
}

/// What preparing one step gave.
enum Prepared {
    /// A request for the kernel.
    Submit(acrypto_request, Slot),
    /// Nothing for the kernel to do (empty data): the step is done.
    Done(Work, usize),
    /// The step failed before reaching the kernel.
    Failed(Work, Error),
    /// No session slot free in this batch: submit the batch, then retry.
    Later(Work, usize, Option<Carry>),
}

fn prepare(sh: &Shared, st: &mut State, mut work: Work, step_no: usize, carry: Option<Carry>) -> Prepared {
    let step = match work.steps().get(step_no) {
        Some(s) => s.clone(),
        None => return Prepared::Failed(work, Error::Internal("kdev: step index past the route".into())),
    };
    let alg = step.alg;
    if !step.op.fits(alg) {
        return Prepared::Failed(work, Error::InvalidArgument(format!("{:?} does not apply to {alg}", step.op)));
    }
    if let Err(e) = alg.check_key(step.key.bytes()) {
        return Prepared::Failed(work, e);
    }
    if alg.kind() == OpKind::Asym && !matches!(alg, Algorithm::Rsa { padding: RsaPadding::Pkcs1, .. }) {
        // Not in any capability table (SERVED): refused if given anyway.
        return Prepared::Failed(
            work,
            Error::Unsupported(format!("kdev: {alg} is not offered (the kernel's akcipher has RSA PKCS#1 v1.5 only)")),
        );
    }
    let (_, req) = work.parts();
    let len = req.current().len();
    let check = || -> Result<()> {
        if alg.kind() == OpKind::Cipher {
            alg.check_iv(&req.iv)?;
            alg.check_data_len(len)?;
        }
        if alg.kind() == OpKind::Aead {
            alg.check_iv(&req.iv)?;
            if req.iv.len() != AEAD_NONCE_LEN {
                return Err(Error::InvalidLength(format!("{alg} takes a {AEAD_NONCE_LEN}-byte nonce")));
            }
            alg.check_tag(step.op, &req.tag)?;
        }
        if let Some(part) = &req.stream {
            if !sh.streams.contains(&alg) {
                return Err(Error::Unsupported(format!("{}: kdev does not continue {alg} streams", sh.name)));
            }
            if let Some(state) = part.state_for(&kdev_family(&sh.name), alg)? {
                match state.get::<KdevState>() {
                    Some(k) if k.device == sh.id => {}
                    _ => {
                        return Err(Error::InvalidArgument(format!(
                            "{}: a {alg} stream state made by another device",
                            sh.name
                        )))
                    }
                }
            }
        }
        // Not declared (`mac_over_aad`): the engine never sends one.
        if alg.kind() == OpKind::Mac && !req.aad.is_empty() {
            return Err(Error::Unsupported(format!("{}: a {alg} step over AAD is not offered", sh.name)));
        }
        // A stream's updates carry no tag: only its last request verifies.
        if step.op == Op::Verify && alg.kind() != OpKind::Asym && req.stream.as_deref().is_none_or(|p| p.last) {
            check_verify_len(alg, &req.tag)?;
        }
        // The AAD shares the module's buffer with the data. Hashes whose
        // session streams go through in pieces of max_buffer.
        let total = match alg.kind() {
            OpKind::Aead => len + req.aad.len(),
            // Signatures are made over the digest, made here.
            OpKind::Asym if matches!(step.op, Op::Sign | Op::Verify) => 0,
            _ => len,
        };
        let pieces = matches!(alg.kind(), OpKind::Hash | OpKind::Mac) && sh.streams.contains(&alg);
        if total > sh.limits.max_buffer && !pieces {
            return Err(Error::DeviceFailure(format!(
                "{}: {total} bytes exceed the module's max_buffer ({})",
                sh.name, sh.limits.max_buffer
            )));
        }
        Ok(())
    };
    if let Err(e) = check() {
        return Prepared::Failed(work, e);
    }
    if len == 0 && matches!(alg.kind(), OpKind::Cipher | OpKind::Rng) {
        return Prepared::Done(work, step_no);
    }
    // An open's tag length is the session's; a seal writes the full tag.
    let auth = match (alg.kind(), step.op) {
        (OpKind::Aead, Op::Decrypt) => req.tag.len() as u32,
        (OpKind::Aead, _) => AEAD_TAG_LEN as u32,
        _ => 0,
    };
    let sess = match sh.session(st, alg, auth, step.key.bytes()) {
        Ok(Some(s)) => s,
        Ok(None) => return Prepared::Later(work, step_no, carry),
        Err(e) => return Prepared::Failed(work, e),
    };
    let sid = sess.id;
    st.next_tag += 1;
    let tag = st.next_tag;
    let mut q = acrypto_request { tag, session_id: sid, ..Default::default() };
    let mut slot_scratch = Vec::new();
    let out_len;
    let (mut done, mut more, mut state_out, mut pin) = (0, false, Zeroizing::new(Vec::new()), None);
    let (_, req) = work.parts();
    match alg.kind() {
        OpKind::Asym => {
            // RSA PKCS#1 v1.5 (checked above): k bytes per signature and ciphertext.
            let k = match alg {
                Algorithm::Rsa { bits, .. } => usize::from(bits) / 8,
                _ => return Prepared::Failed(work, Error::Unsupported(format!("kdev: {alg} is not offered"))),
            };
            match step.op {
                Op::Sign | Op::Verify => {
                    // The kernel signs a digest: SHA-256 of the data, made
                    // here (or the data, when it is one already).
                    match crate::asym::digest_of(req) {
                        Ok(d) => slot_scratch = d.to_vec(),
                        Err(e) => return Prepared::Failed(work, e),
                    }
                    if step.op == Op::Sign {
                        q.op = ACRYPTO_DEV_OP_SIGN;
                        q.src = slot_scratch.as_ptr() as u64;
                        q.src_len = slot_scratch.len() as u32;
                        req.tag.clear();
                        req.tag.resize(k, 0);
                        q.dst = req.tag.as_mut_ptr() as u64;
                        q.dst_len = k as u32;
                        out_len = k;
                    } else {
                        // A signature of another length cannot verify.
                        if req.tag.len() != k {
                            return Prepared::Failed(work, Error::VerifyFailed);
                        }
                        q.op = ACRYPTO_DEV_OP_VERIFY;
                        q.src = req.tag.as_ptr() as u64;
                        q.src_len = k as u32;
                        q.digest = slot_scratch.as_ptr() as u64;
                        q.digest_len = slot_scratch.len() as u32;
                        out_len = 0;
                    }
                }
                Op::Encrypt | Op::Decrypt => {
                    if step.op == Op::Decrypt && len != k {
                        return Prepared::Failed(
                            work,
                            Error::InvalidLength(format!("{alg} decrypts a {k}-byte ciphertext, got {len} bytes")),
                        );
                    }
                    q.op = if step.op == Op::Encrypt { ACRYPTO_DEV_OP_ENCRYPT } else { ACRYPTO_DEV_OP_DECRYPT };
                    // No pointer without a length (an empty message).
                    if len > 0 {
                        q.src = req.current().as_ptr() as u64;
                    }
                    q.src_len = len as u32;
                    // Out of place: the result replaces the data at the end.
                    slot_scratch = vec![0u8; k];
                    q.dst = slot_scratch.as_mut_ptr() as u64;
                    q.dst_len = k as u32;
                    // A decrypted message is at most k - 11 bytes: checked at the end.
                    out_len = k;
                }
                op => return Prepared::Failed(work, Error::InvalidArgument(format!("{op:?} does not apply to {alg}"))),
            }
        }
        OpKind::Cipher => {
            q.op = if step.op == Op::Encrypt { ACRYPTO_DEV_OP_ENCRYPT } else { ACRYPTO_DEV_OP_DECRYPT };
            // An unused field is zero: no pointer without an IV (ECB).
            q.iv = if req.iv.is_empty() { 0 } else { req.iv.as_ptr() as u64 };
            q.iv_len = req.iv.len() as u32;
            let buf = req.current_mut();
            q.src = buf.as_ptr() as u64;
            q.dst = q.src;
            q.src_len = len as u32;
            q.dst_len = len as u32;
            out_len = len;
        }
        OpKind::Aead => {
            let open = step.op == Op::Decrypt;
            q.op = if open { ACRYPTO_DEV_OP_DECRYPT } else { ACRYPTO_DEV_OP_ENCRYPT };
            q.iv = req.iv.as_ptr() as u64;
            q.iv_len = req.iv.len() as u32;
            // No pointer without a length (the module checks).
            if !req.aad.is_empty() {
                q.aad = req.aad.as_ptr() as u64;
                q.aad_len = req.aad.len() as u32;
            }
            if !open {
                req.tag.clear();
                req.tag.resize(AEAD_TAG_LEN, 0);
            }
            // In for an open (the module copies it at submission), out for a seal.
            q.digest = req.tag.as_mut_ptr() as u64;
            q.digest_len = req.tag.len() as u32;
            // In place; on a bad tag the module writes nothing, so the
            // buffer stays the ciphertext.
            let buf = req.current_mut();
            q.src = buf.as_ptr() as u64;
            q.dst = q.src;
            q.src_len = len as u32;
            q.dst_len = len as u32;
            out_len = len;
        }
        OpKind::Rng => {
            let buf = req.current_mut();
            q.dst = buf.as_mut_ptr() as u64;
            q.dst_len = len as u32;
            out_len = len;
        }
        OpKind::Hash | OpKind::Mac => {
            let dl = alg.digest_len();
            // The piece of the data this request takes, and where its state
            // comes from: the piece before, or the stream's state.
            let from = carry.as_ref().map_or(0, |c| c.done);
            let piece = (len - from.min(len)).min(sh.limits.max_buffer);
            done = from + piece;
            more = done < len;
            q.src = req.current()[from.min(len)..].as_ptr() as u64;
            q.src_len = piece as u32;
            let export_at_end = req.stream.as_deref().is_some_and(|p| !p.last);
            let state_in = match (&carry, req.stream.as_deref().and_then(|p| p.state.as_ref())) {
                (Some(c), _) => Some((c.blob.as_ptr(), c.blob.len(), None)),
                (None, Some(s)) => s.get::<KdevState>().map(|k| (k.blob.as_ptr(), k.blob.len(), Some(k.session))),
                (None, None) => None,
            };
            if let Some((ptr, n, made_by)) = state_in {
                if made_by.is_some_and(|m| m != sid) {
                    return Prepared::Failed(
                        work,
                        Error::InvalidArgument(format!("{}: the {alg} stream state's kernel session is gone", sh.name)),
                    );
                }
                q.flags |= ACRYPTO_DEV_REQ_CONTINUE;
                q.state = ptr as u64;
                q.state_len = n as u32;
            }
            if more || export_at_end {
                if sess.state_size == 0 {
                    return Prepared::Failed(work, Error::Unsupported(format!("{}: {alg} does not stream", sh.name)));
                }
                state_out = Zeroizing::new(vec![0u8; sess.state_size]);
                q.flags |= ACRYPTO_DEV_REQ_EXPORT;
                q.state_out = state_out.as_mut_ptr() as u64;
                q.state_out_len = state_out.len() as u32;
                pin = Some((sid, sess.pin.clone()));
                out_len = state_out.len();
            } else {
                if step.op == Op::Verify {
                    slot_scratch = vec![0u8; dl];
                    q.digest = slot_scratch.as_mut_ptr() as u64;
                } else {
                    req.tag.clear();
                    req.tag.resize(dl, 0);
                    q.digest = req.tag.as_mut_ptr() as u64;
                }
                q.digest_len = dl as u32;
                out_len = dl;
            }
        }
    }
    Prepared::Submit(
        q,
        Slot { work, step: step_no, scratch: slot_scratch, out_len, _carry: carry, done, state_out, more, pin },
    )
}

/// Hands `reqs` (whose slots are already in the table) to the kernel.
/// Refused requests come back with their error.
fn submit(sh: &Shared, reqs: &[acrypto_request]) -> Vec<(u64, Error)> {
    let mut refused = Vec::new();
    let mut start = 0;
    let mut eagain = 0;
    while start < reqs.len() {
        let rest = &reqs[start..];
        let mut s = acrypto_submit {
            reqs: rest.as_ptr() as u64,
            count: rest.len() as u32,
            entry_size: REQUEST_SIZE as u32,
            ..Default::default()
        };
        // SAFETY: `s` is valid and writable for the call; it points at
        // `rest`, `count` initialized acrypto_requests. Their buffers belong
        // to works held in the slot table until their completions are read.
        let r = unsafe { ioc_submit(sh.fd.raw(), &mut s) };
        match r {
            Ok(_) => {
                let n = (s.submitted as usize).min(rest.len());
                lock(&sh.state).inflight += n as isize;
                sh.cv.notify_all();
                if n == 0 {
                    // Accepted nothing without an error: do not spin.
                    refused.push((rest[0].tag, Error::DeviceFailure(format!("{}: submit took nothing", sh.name))));
                    start += 1;
                } else {
                    start += n;
                }
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                // The fd's in-flight window is full: wait for completions.
                // We never exceed it ourselves, so a window that stays full
                // for long (about 10 s) is a fault, not a reason to spin.
                eagain += 1;
                if eagain > 200 {
                    refused.push((rest[0].tag, Error::DeviceFailure(format!("{}: the kernel stays busy", sh.name))));
                    start += 1;
                    continue;
                }
                let mut st = lock(&sh.state);
                if st.inflight > 0 && !st.stop {
                    st = sh
                        .cv
                        .wait_timeout(st, std::time::Duration::from_millis(50))
                        .map_or_else(|p| p.into_inner().0, |r| r.0);
                }
                drop(st);
            }
            Err(e) => {
                refused.push((rest[0].tag, errno_error(&format!("{}: submit", sh.name), e)));
                start += 1;
            }
        }
    }
    refused
}

fn submitter(sh: Arc<Shared>) {
    let Some(handle) = sh.handle() else { return };
    loop {
        let (free, mut todo) = {
            let mut st = lock(&sh.state);
            loop {
                if st.stop {
                    return;
                }
                if st.dead {
                    // Work still arriving (route steps) fails, outside the lock:
                    // completing may call back into this device.
                    let pending: Vec<Todo> = st.pending.drain(..).collect();
                    if pending.is_empty() {
                        st = sh.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                    } else {
                        drop(st);
                        for (w, _, _) in pending {
                            w.complete(Err(Error::DeviceBroken(format!("{}: the kernel fd failed", sh.name))));
                        }
                        st = lock(&sh.state);
                    }
                    continue;
                }
                // Slots hold the requests the kernel has and those being submitted.
                let free = sh.limits.max_inflight.saturating_sub(st.slots.len());
                if free > 0 && (st.ready || !st.pending.is_empty()) {
                    st.ready = false;
                    let n = free.min(sh.batch);
                    let todo: Vec<Todo> = (0..n).map_while(|_| st.pending.pop_front()).collect();
                    break (n, todo);
                }
                st = sh.cv.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        if todo.len() < free {
            todo.extend(handle.dequeue_batch(free - todo.len()).into_iter().map(|w| (w, 0, None)));
        }
        if todo.is_empty() {
            continue;
        }
        let took = todo.len();
        run_batch(&sh, todo);
        if took == free {
            // More may be waiting in the queue.
            lock(&sh.state).ready = true;
        }
    }
}

fn run_batch(sh: &Shared, todo: Vec<Todo>) {
    let mut todo: VecDeque<Todo> = todo.into();
    while !todo.is_empty() {
        let mut reqs = Vec::with_capacity(todo.len());
        let mut finished: Vec<(Work, usize, Option<Error>)> = Vec::new();
        {
            let mut st = lock(&sh.state);
            st.batch_no += 1;
            while let Some((w, step, carry)) = todo.pop_front() {
                match prepare(sh, &mut st, w, step, carry) {
                    Prepared::Submit(q, slot) => {
                        st.slots.insert(q.tag, slot);
                        reqs.push(q);
                    }
                    Prepared::Done(w, step) => finished.push((w, step, None)),
                    Prepared::Failed(w, e) => finished.push((w, 0, Some(e))),
                    Prepared::Later(w, step, carry) => {
                        todo.push_front((w, step, carry));
                        break;
                    }
                }
            }
        }
        if !reqs.is_empty() {
            let refused = submit(sh, &reqs);
            if !refused.is_empty() {
                let mut st = lock(&sh.state);
                for (tag, e) in refused {
                    if let Some(slot) = st.slots.remove(&tag) {
                        finished.push((slot.work, 0, Some(e)));
                    }
                }
            }
        } else if finished.is_empty() && !todo.is_empty() {
            // Not even one request fits the session table: cannot happen
            // with max_sessions >= 1, but never loop forever.
            for (w, _, _) in todo.drain(..) {
                w.complete(Err(Error::DeviceFailure(format!("{}: no kernel session available", sh.name))));
            }
        }
        for (w, step, err) in finished {
            match err {
                Some(e) => w.complete(Err(e)),
                None => step_finished(sh, w, step),
            }
        }
    }
}

/// A step finished without error: next step, or complete.
fn step_finished(sh: &Shared, w: Work, step: usize) {
    if step + 1 < w.steps().len() {
        let mut st = lock(&sh.state);
        if st.stop {
            drop(st);
            w.complete(Err(Error::Canceled));
            return;
        }
        st.pending.push_back((w, step + 1, None));
        drop(st);
        sh.cv.notify_all();
    } else {
        w.complete(Ok(()));
    }
}

/// Completes everything the kernel holds with `e` after the fd misbehaved.
///
/// The kernel may still write into those requests' buffers (a later
/// `read()` copies results out; zero-copy requests write to pinned pages),
/// so the buffers it was given are leaked, never handed back: the requests
/// complete with the error and empty buffers. The device is marked broken
/// and takes no more work.
fn fail_all(sh: &Shared, e: &Error) {
    let slots: Vec<Slot> = {
        let mut st = lock(&sh.state);
        st.inflight = 0;
        st.dead = true;
        st.slots.drain().map(|(_, s)| s).collect()
    };
    sh.cv.notify_all();
    if let Some(h) = sh.handle() {
        h.mark_broken(&e.to_string());
    }
    for mut s in slots {
        let (_, req) = s.work.parts();
        std::mem::forget(std::mem::take(&mut req.data));
        std::mem::forget(req.out.take());
        std::mem::forget(std::mem::take(&mut req.tag));
        std::mem::forget(std::mem::take(&mut s.scratch));
        std::mem::forget(std::mem::take(&mut s.state_out));
        s.work.complete(Err(e.clone()));
    }
}

fn reader(sh: Arc<Shared>) {
    let mut buf = vec![0u8; READ_RECORDS * COMPLETION_SIZE];
    loop {
        {
            let mut st = lock(&sh.state);
            while st.inflight <= 0 && !st.stop && !st.dead {
                st = sh.cv.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            if st.inflight <= 0 || st.dead {
                return;
            }
        }
        let n = match (&sh.fd.0).read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                fail_all(&sh, &Error::DeviceFailure(format!("{}: read: {e}", sh.name)));
                continue;
            }
        };
        if n == 0 {
            // The ABI's read() blocks or fails, never returns 0: this is not
            // the module we know; nothing more can be trusted.
            fail_all(&sh, &Error::DeviceFailure(format!("{}: read returned 0 (end of file)", sh.name)));
            continue;
        }
        if n % COMPLETION_SIZE != 0 {
            fail_all(&sh, &Error::DeviceFailure(format!("{}: read returned {n} bytes, not whole records", sh.name)));
            continue;
        }
        let mut done = Vec::with_capacity(n / COMPLETION_SIZE);
        let mut unknown = 0;
        {
            let mut st = lock(&sh.state);
            for rec in buf[..n].chunks_exact(COMPLETION_SIZE) {
                let tag = u64::from_ne_bytes(rec[0..8].try_into().unwrap_or_default());
                let status = i32::from_ne_bytes(rec[8..12].try_into().unwrap_or_default());
                let out_len = u32::from_ne_bytes(rec[12..16].try_into().unwrap_or_default()) as usize;
                st.inflight -= 1;
                match st.slots.remove(&tag) {
                    Some(slot) => done.push((slot, status, out_len)),
                    None => unknown += 1,
                }
            }
        }
        sh.cv.notify_all();
        for (slot, status, out_len) in done {
            finish_slot(&sh, slot, status, out_len);
        }
        if unknown > 0 {
            if let Some(h) = sh.handle() {
                h.mark_broken(&format!("{}: {unknown} completions for requests never submitted", sh.name));
            }
        }
    }
}

fn finish_slot(sh: &Shared, slot: Slot, status: i32, out_len: usize) {
    let Slot { mut work, step, scratch, out_len: want, _carry, done, state_out, more, pin } = slot;
    let Some(s) = work.steps().get(step).cloned() else {
        work.complete(Err(Error::Internal("kdev: step index past the route".into())));
        return;
    };
    if status != 0 {
        let e = Errno::from_raw(status.saturating_neg());
        let err = errno_error(&format!("{} {} on {}", s.alg, format_op(s.op), sh.name), e);
        work.complete(Err(err));
        return;
    }
    // RSA decrypt: the message's length, at most the ciphertext's.
    let rsa_decrypt = s.alg.kind() == OpKind::Asym && s.op == Op::Decrypt;
    if out_len != want && !(rsa_decrypt && out_len <= want) {
        work.complete(Err(Error::DeviceFailure(format!(
            "{}: the kernel returned {out_len} bytes for {}, {want} expected",
            sh.name, s.alg
        ))));
        return;
    }
    if let Some((session, pin)) = pin {
        if more {
            // The next piece continues from this one's state.
            let mut st = lock(&sh.state);
            if st.stop {
                drop(st);
                work.complete(Err(Error::Canceled));
                return;
            }
            st.pending.push_back((work, step, Some(Carry { done, blob: state_out })));
            drop(st);
            sh.cv.notify_all();
            return;
        }
        let state = KdevState { blob: state_out, device: sh.id, session, _pin: pin };
        let (_, req) = work.parts();
        if let Some(part) = req.stream.as_mut() {
            part.next = Some(StreamState::new(&kdev_family(&sh.name), s.alg, state));
        }
    } else if s.alg.kind() == OpKind::Asym {
        // The module verified (or wrote the signature into the tag); a
        // ciphertext or message replaces the data.
        if matches!(s.op, Op::Encrypt | Op::Decrypt) {
            let plain = Zeroizing::new(scratch);
            let (_, req) = work.parts();
            let buf = req.current_mut();
            buf.clear();
            buf.extend_from_slice(&plain[..out_len]);
        }
    } else if s.op == Op::Verify {
        if let Err(e) = verify_tag(s.alg, &scratch, &work.request().tag) {
            work.complete(Err(e));
            return;
        }
    }
    step_finished(sh, work, step);
}

fn format_op(op: Op) -> &'static str {
    match op {
        Op::Encrypt => "encrypt",
        Op::Decrypt => "decrypt",
        Op::Digest => "digest",
        Op::Verify => "verify",
        Op::Generate => "generate",
        Op::Sign => "sign",
        Op::Derive => "derive",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_abi() {
        assert_eq!(REQUEST_SIZE, ACRYPTO_DEV_REQUEST_SIZE as usize);
        assert!(REQUEST_SIZE > ACRYPTO_DEV_REQUEST_SIZE_VER0 as usize);
        assert_eq!(COMPLETION_SIZE, 24);
        assert_eq!(std::mem::size_of::<acrypto_session_alloc>(), ACRYPTO_DEV_SESSION_ALLOC_SIZE as usize);
        assert_eq!(std::mem::size_of::<acrypto_fill_data>(), ACRYPTO_DEV_FILL_DATA_SIZE as usize);
        assert_eq!(std::mem::size_of::<acrypto_info>(), ACRYPTO_DEV_INFO_SIZE_VER0 as usize);
        assert_eq!(std::mem::size_of::<acrypto_submit>(), ACRYPTO_DEV_SUBMIT_SIZE_VER0 as usize);
        assert_eq!(c_str_const(ACRYPTO_DEV_GET_RANDOM), "get_random_bytes");
    }

    /// Three blocks as /proc/crypto prints them (6.1), plus an internal
    /// one, an untested one, a name the module does not serve and a
    /// duplicate.
    const PROC: &str = "name         : cbc(aes)
driver       : cbc-aes-aesni
module       : aesni_intel
priority     : 400
refcnt       : 1
selftest     : passed
internal     : no
type         : skcipher
async        : yes
blocksize    : 16

name         : __cbc(aes)
driver       : __cbc-aes-aesni
module       : aesni_intel
priority     : 400
refcnt       : 1
selftest     : passed
internal     : yes
type         : skcipher
async        : no

name         : sha256
driver       : sha256-generic
module       : kernel
priority     : 100
refcnt       : 1
selftest     : passed
internal     : no
type         : shash
blocksize    : 64
digestsize   : 32

name         : sha256
driver       : sha256-avx2
module       : sha256_ssse3
priority     : 170
refcnt       : 1
selftest     : unknown
internal     : no
type         : shash

name         : md5
driver       : md5-generic
module       : kernel
priority     : 0
refcnt       : 1
selftest     : passed
internal     : no
type         : shash

name         : cbc(aes)
driver       : cbc-aes-aesni
module       : aesni_intel
priority     : 400
refcnt       : 1
selftest     : passed
internal     : no
type         : skcipher
async        : yes
";

    #[test]
    fn proc_crypto_is_parsed_and_filtered() {
        let d = parse_proc_crypto(PROC);
        let names: Vec<&str> = d.iter().map(|d| d.driver.as_str()).collect();
        assert_eq!(names, ["cbc-aes-aesni", "sha256-generic"]);
        assert_eq!(d[0].alg_name, "cbc(aes)");
        assert_eq!(d[0].priority, 400);
        assert!(d[0].is_async && !d[1].is_async);
        assert_eq!((d[0].module.as_str(), d[1].module.as_str()), ("aesni_intel", "kernel"));
        assert!(!d[0].is_hardware());
        assert!(parse_proc_crypto("").is_empty());
        assert!(parse_proc_crypto("garbage\n\n: :\nname : cbc(aes)\n").is_empty());
    }

    #[test]
    fn candidates_follow_the_kernel_name() {
        let d = |name: &str| KernelDriver {
            driver: "x".into(),
            alg_name: name.into(),
            module: "kernel".into(),
            priority: 0,
            is_async: false,
            hardware: false,
        };
        assert_eq!(d("xts(aes)").candidate_algorithms().len(), 2);
        assert_eq!(d("cbc(aes)").candidate_algorithms().len(), 3);
        assert_eq!(d("hmac(sha256)").candidate_algorithms(), [Algorithm::Hmac(DigestKind::Sha256)]);
        assert_eq!(d("stdrng").candidate_algorithms(), [Algorithm::Rng]);
        assert!(d("md5").candidate_algorithms().is_empty());
        // Every served name maps back to its own triple's algorithms.
        for (name, algs) in SERVED {
            assert_eq!(d(name).candidate_algorithms(), algs.to_vec(), "{name}");
        }
    }

    #[test]
    fn long_hmac_keys_are_hashed_and_tags_compare() {
        assert_eq!(hmac_key(DigestKind::Sha1, &[1; 128], 128).len(), 128);
        assert_eq!(hmac_key(DigestKind::Sha256, &[1; 131], 128).len(), 32);
        let alg = Algorithm::Hmac(DigestKind::Sha1);
        let mac = [7u8; 20];
        assert!(verify_tag(alg, &mac, &[7; 12]).is_ok());
        assert_eq!(verify_tag(alg, &mac, &[6; 12]), Err(Error::VerifyFailed));
        assert!(verify_tag(alg, &mac, &[7; 21]).is_err());
        assert!(check_verify_len(alg, &[0; 9]).is_err());
    }

    #[test]
    fn errno_mapping() {
        assert!(matches!(errno_error("x", Errno::EINVAL), Error::InvalidArgument(_)));
        assert!(matches!(errno_error("x", Errno::EMSGSIZE), Error::InvalidLength(_)));
        assert!(errno_error("x", Errno::EIO).is_device_fault());
    }

    #[test]
    fn missing_device_is_a_clear_error() {
        match Fd::open("/nonexistent/acrypto") {
            Err(Error::NoSuchDevice(m)) => assert!(m.contains("module"), "{m}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
