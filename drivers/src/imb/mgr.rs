//! One ipsec-mb job manager (`IMB_MGR`), owned by one worker, and the
//! key material it expands once per session.

use super::loader::Library;
use super::sys::{self, IMB_ARCH, IMB_JOB, IMB_MGR};
use acrypto_core::{Algorithm, DigestKind, Error, Result};
use std::ffi::c_void;
use std::ptr::NonNull;
use zeroize::Zeroize;

type JobFn = unsafe extern "C" fn(*mut IMB_MGR) -> *mut IMB_JOB;
type KeyexpFn = unsafe extern "C" fn(*const c_void, *mut c_void, *mut c_void);
type OneBlockFn = unsafe extern "C" fn(*const c_void, *mut c_void);
type HashFn = unsafe extern "C" fn(*const c_void, u64, *mut c_void);
type GcmPreFn = unsafe extern "C" fn(*const c_void, *mut sys::gcm_key_data);

/// A job manager initialised for the best architecture the library finds
/// (`init_mb_mgr_auto`), with the entry points the device uses checked
/// present once, so no call site needs to.
pub(crate) struct Mgr {
    lib: &'static Library,
    ptr: NonNull<IMB_MGR>,
    arch: IMB_ARCH,
    get_next_job: JobFn,
    submit_job: JobFn,
    get_completed_job: JobFn,
    flush_job: JobFn,
    keyexp: [KeyexpFn; 3],
    sha1_one_block: OneBlockFn,
    sha256_one_block: OneBlockFn,
    sha1: HashFn,
    sha256: HashFn,
    gcm_pre: [GcmPreFn; 3],
}

// SAFETY: an IMB_MGR is plain memory with no thread affinity; the library
// requires only that one thread uses a manager at a time, which `&mut
// self` on every job call ensures (the Mgr moves into its worker).
unsafe impl Send for Mgr {}

fn missing(what: &str) -> Error {
    Error::Unsupported(format!("imb: the library's manager has no {what}"))
}

impl Mgr {
    /// Allocates and initialises a manager.
    pub(crate) fn new(lib: &'static Library) -> Result<Mgr> {
        // SAFETY: alloc_mb_mgr(0) allocates a manager with every extension
        // allowed; it returns NULL on failure, checked here.
        let raw = unsafe { (lib.alloc_mb_mgr)(0) };
        let ptr = NonNull::new(raw).ok_or_else(|| Error::DeviceFailure("imb: alloc_mb_mgr failed".into()))?;
        let mut arch: IMB_ARCH = sys::IMB_ARCH_NONE;
        // SAFETY: `ptr` is a manager from alloc_mb_mgr, not yet shared;
        // `arch` is a valid out pointer for the call.
        unsafe { (lib.init_mb_mgr_auto)(ptr.as_ptr(), &mut arch) };
        // SAFETY: the manager is initialised (or left with its function
        // pointers NULL, which the checks below refuse); reading its fields
        // is reading plain memory this thread owns.
        let m = unsafe { ptr.as_ref() };
        // SAFETY: imb_get_errno reads the manager's error field.
        let err = unsafe { (lib.imb_get_errno)(ptr.as_ptr()) };
        let fail = |e: Error| {
            // SAFETY: the manager came from alloc_mb_mgr and is freed once.
            unsafe { (lib.free_mb_mgr)(ptr.as_ptr()) };
            e
        };
        if arch == sys::IMB_ARCH_NONE || err != 0 {
            return Err(fail(Error::Unsupported(format!("imb: init_mb_mgr_auto failed: {}", lib.strerror(err)))));
        }
        macro_rules! f {
            ($field:ident) => {
                match m.$field {
                    Some(f) => f,
                    None => return Err(fail(missing(stringify!($field)))),
                }
            };
        }
        Ok(Mgr {
            lib,
            ptr,
            arch,
            get_next_job: f!(get_next_job),
            submit_job: f!(submit_job),
            get_completed_job: f!(get_completed_job),
            flush_job: f!(flush_job),
            keyexp: [f!(keyexp_128), f!(keyexp_192), f!(keyexp_256)],
            sha1_one_block: f!(sha1_one_block),
            sha256_one_block: f!(sha256_one_block),
            sha1: f!(sha1),
            sha256: f!(sha256),
            gcm_pre: [f!(gcm128_pre), f!(gcm192_pre), f!(gcm256_pre)],
        })
    }

    /// The architecture the library chose: `sse`, `avx`, `avx2`, `avx512`.
    pub(crate) fn arch_name(&self) -> &'static str {
        arch_name(self.arch)
    }

    pub(crate) fn arch(&self) -> IMB_ARCH {
        self.arch
    }

    /// The library's last error on this manager, as text.
    pub(crate) fn last_error(&self) -> String {
        // SAFETY: imb_get_errno reads the manager's error field.
        let e = unsafe { (self.lib.imb_get_errno)(self.ptr.as_ptr()) };
        self.lib.strerror(e)
    }

    /// The next free job of the manager (`IMB_GET_NEXT_JOB`); never NULL
    /// for an initialised manager.
    pub(crate) fn next_job(&mut self) -> *mut IMB_JOB {
        // SAFETY: the manager is initialised and used by this thread only.
        unsafe { (self.get_next_job)(self.ptr.as_ptr()) }
    }

    /// Submits the job `next_job` gave (`IMB_SUBMIT_JOB`): returns a
    /// completed job, or NULL.
    ///
    /// # Safety
    /// The job's pointers must stay valid until the job comes back.
    pub(crate) unsafe fn submit(&mut self) -> *mut IMB_JOB {
        // SAFETY: as the caller promises; the manager is this thread's.
        unsafe { (self.submit_job)(self.ptr.as_ptr()) }
    }

    /// A further completed job, or NULL (`IMB_GET_COMPLETED_JOB`).
    pub(crate) fn completed(&mut self) -> *mut IMB_JOB {
        // SAFETY: the manager is initialised and used by this thread only.
        unsafe { (self.get_completed_job)(self.ptr.as_ptr()) }
    }

    /// Completes the earliest job in flight, or NULL if none
    /// (`IMB_FLUSH_JOB`).
    pub(crate) fn flush(&mut self) -> *mut IMB_JOB {
        // SAFETY: the manager is initialised and used by this thread only;
        // the buffers of the jobs in flight are held by the worker.
        unsafe { (self.flush_job)(self.ptr.as_ptr()) }
    }

    /// Expands a step's key for the library: AES round keys, HMAC inner
    /// and outer pad states, or the GCM key with its GHASH powers.
    pub(crate) fn expand(&self, alg: Algorithm, key: &[u8]) -> Result<ImbKey> {
        alg.check_key(key)?;
        let size_index = |bits: u16| match bits {
            128 => Ok(0),
            192 => Ok(1),
            256 => Ok(2),
            b => Err(Error::InvalidKey(format!("AES has no {b}-bit key"))),
        };
        let x = match alg {
            Algorithm::Aes { key_bits, .. } => {
                let i = size_index(key_bits)?;
                let mut r = Box::new(AesRounds { enc: [0; 240], dec: [0; 240] });
                // SAFETY: `key` holds key_bits/8 bytes (checked above);
                // both outputs are 240-byte, 64-byte-aligned buffers, the
                // most any AES key expands to (15 round keys).
                unsafe { (self.keyexp[i])(key.as_ptr().cast(), r.enc.as_mut_ptr().cast(), r.dec.as_mut_ptr().cast()) };
                Expanded::Aes(r)
            }
            Algorithm::Hmac(d) => {
                let (one_block, hash): (OneBlockFn, HashFn) = match d {
                    DigestKind::Sha1 => (self.sha1_one_block, self.sha1),
                    DigestKind::Sha256 => (self.sha256_one_block, self.sha256),
                };
                // RFC 2104: a key longer than the block is hashed first.
                let mut k = zeroize::Zeroizing::new([0u8; HMAC_BLOCK]);
                if key.len() > HMAC_BLOCK {
                    // SAFETY: `key` is key.len() readable bytes; the output
                    // holds 64 bytes, more than either digest.
                    unsafe { hash(key.as_ptr().cast(), key.len() as u64, k.as_mut_ptr().cast()) };
                    k[d.output_len()..].fill(0);
                } else {
                    k[..key.len()].copy_from_slice(key);
                }
                let mut p = Box::new(HmacPads { ipad: [0; 64], opad: [0; 64] });
                let mut block = zeroize::Zeroizing::new([0u8; HMAC_BLOCK]);
                for (pad, out) in [(0x36u8, p.ipad.as_mut_ptr()), (0x5c, p.opad.as_mut_ptr())] {
                    for (b, kb) in block.iter_mut().zip(k.iter()) {
                        *b = kb ^ pad;
                    }
                    // SAFETY: `block` is one 64-byte hash block; `out` is a
                    // 64-byte buffer, larger than the state it receives
                    // (20 or 32 bytes).
                    unsafe { one_block(block.as_ptr().cast(), out.cast()) };
                }
                Expanded::Hmac(p)
            }
            Algorithm::AesGcm { key_bits } => {
                let i = size_index(key_bits)?;
                let mut g = Box::new(GcmKey(sys::gcm_key_data::default()));
                // SAFETY: `key` holds key_bits/8 bytes; `g.0` is a whole,
                // 64-byte-aligned gcm_key_data for the library to fill.
                unsafe { (self.gcm_pre[i])(key.as_ptr().cast(), &mut g.0) };
                Expanded::Gcm(g)
            }
            _ => return Err(Error::InvalidArgument(format!("{alg} has no ipsec-mb key schedule"))),
        };
        Ok(ImbKey { alg, arch: self.arch, x })
    }
}

impl Drop for Mgr {
    fn drop(&mut self) {
        // SAFETY: the manager came from alloc_mb_mgr and is freed once;
        // the worker flushed every job before dropping it.
        unsafe { (self.lib.free_mb_mgr)(self.ptr.as_ptr()) }
    }
}

/// The library's name for an architecture.
pub(crate) fn arch_name(a: IMB_ARCH) -> &'static str {
    match a {
        sys::IMB_ARCH_NOAESNI => "noaesni",
        sys::IMB_ARCH_SSE => "sse",
        sys::IMB_ARCH_AVX => "avx",
        sys::IMB_ARCH_AVX2 => "avx2",
        sys::IMB_ARCH_AVX512 => "avx512",
        _ => "none",
    }
}

const HMAC_BLOCK: usize = 64;

/// AES round keys for encryption and decryption.
#[repr(C, align(64))]
pub(crate) struct AesRounds {
    pub(crate) enc: [u8; 240],
    pub(crate) dec: [u8; 240],
}

/// HMAC: the hash states after the key XOR ipad and XOR opad blocks.
#[repr(C, align(64))]
pub(crate) struct HmacPads {
    pub(crate) ipad: [u8; 64],
    pub(crate) opad: [u8; 64],
}

/// The GCM key: round keys and GHASH key powers, in the layout of the
/// architecture that made it.
#[repr(C, align(64))]
pub(crate) struct GcmKey(pub(crate) sys::gcm_key_data);

pub(crate) enum Expanded {
    Aes(Box<AesRounds>),
    Hmac(Box<HmacPads>),
    Gcm(Box<GcmKey>),
}

/// A step's key as ipsec-mb takes it, made once per session and kept with
/// the session's key ([`acrypto_core::Key::schedule`]). Zeroized on drop.
pub struct ImbKey {
    pub(crate) alg: Algorithm,
    pub(crate) arch: IMB_ARCH,
    pub(crate) x: Expanded,
}

impl ImbKey {
    /// Whether this expansion serves `alg` on a manager of `arch` (the GCM
    /// key layout depends on the architecture).
    pub(crate) fn fits(&self, alg: Algorithm, arch: IMB_ARCH) -> bool {
        let same_alg = match (self.alg, alg) {
            // One AES schedule serves every mode of a key size.
            (Algorithm::Aes { key_bits: a, .. }, Algorithm::Aes { key_bits: b, .. }) => a == b,
            (a, b) => a == b,
        };
        same_alg && self.arch == arch
    }
}

impl Drop for ImbKey {
    fn drop(&mut self) {
        match &mut self.x {
            Expanded::Aes(r) => {
                r.enc.zeroize();
                r.dec.zeroize();
            }
            Expanded::Hmac(p) => {
                p.ipad.zeroize();
                p.opad.zeroize();
            }
            // SAFETY: gcm_key_data is arrays of bytes (and unions of them):
            // no pointers, no drop glue, all-zero is a valid value; it is
            // not used after this.
            Expanded::Gcm(g) => unsafe { zeroize::zeroize_flat_type(&mut g.0 as *mut sys::gcm_key_data) },
        }
    }
}
