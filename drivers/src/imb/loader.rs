//! Loading `libIPSec_MB.so.1` at run time (`dlopen`), so that a build and
//! a machine without the library lose only the `imb` device.
//!
//! Only the library's entry points that are not in the manager are looked
//! up here (allocating, initialising and freeing a manager, its error
//! strings, its version); everything else is reached through the
//! manager's own function pointers, as the library's `IMB_*` macros do.

use super::sys::{IMB_ARCH, IMB_MGR};
use acrypto_core::{Error, Result};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// The library's file name (its soname).
pub const LIBRARY: &str = "libIPSec_MB.so.1";
/// The Debian package that installs it.
pub const PACKAGE: &str = "libipsec-mb1";

type AllocFn = unsafe extern "C" fn(u64) -> *mut IMB_MGR;
type FreeFn = unsafe extern "C" fn(*mut IMB_MGR);
type InitAutoFn = unsafe extern "C" fn(*mut IMB_MGR, *mut IMB_ARCH);
type ErrnoFn = unsafe extern "C" fn(*mut IMB_MGR) -> c_int;
type StrerrorFn = unsafe extern "C" fn(c_int) -> *const c_char;
type VersionFn = unsafe extern "C" fn() -> *const c_char;

/// The loaded library: its entry points. Never unloaded (the handle is
/// kept for the life of the process, as the managers it made may be).
pub struct Library {
    pub(crate) alloc_mb_mgr: AllocFn,
    pub(crate) free_mb_mgr: FreeFn,
    pub(crate) init_mb_mgr_auto: InitAutoFn,
    pub(crate) imb_get_errno: ErrnoFn,
    imb_get_strerror: StrerrorFn,
    version: String,
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by the
    // C library, valid until the next dl* call on this thread; it is
    // copied at once.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".to_string()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

impl Library {
    /// Opens the library `file` (a soname or a path) and looks up its
    /// entry points. The error is one line naming the Debian package.
    pub fn open(file: &str) -> Result<Library> {
        let missing = |why: String| {
            Error::Unsupported(format!("imb: cannot load {file} (install the Debian package {PACKAGE}): {why}"))
        };
        let name = std::ffi::CString::new(file).map_err(|_| missing("a NUL in the file name".into()))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call;
        // loading ipsec-mb runs no initialiser with preconditions.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(missing(dlerror()));
        }
        let sym = |s: &CStr| -> Result<*mut c_void> {
            // SAFETY: `handle` is a live handle from dlopen (never closed);
            // `s` is NUL-terminated.
            let p = unsafe { libc::dlsym(handle, s.as_ptr()) };
            if p.is_null() {
                Err(missing(format!("no symbol {}", s.to_string_lossy())))
            } else {
                Ok(p)
            }
        };
        // SAFETY: each symbol is the library's exported function of that
        // name, whose C prototype in intel-ipsec-mb.h (1.3) is the type it
        // is converted to; function and data pointers have one size here.
        let lib = unsafe {
            Library {
                alloc_mb_mgr: std::mem::transmute::<*mut c_void, AllocFn>(sym(c"alloc_mb_mgr")?),
                free_mb_mgr: std::mem::transmute::<*mut c_void, FreeFn>(sym(c"free_mb_mgr")?),
                init_mb_mgr_auto: std::mem::transmute::<*mut c_void, InitAutoFn>(sym(c"init_mb_mgr_auto")?),
                imb_get_errno: std::mem::transmute::<*mut c_void, ErrnoFn>(sym(c"imb_get_errno")?),
                imb_get_strerror: std::mem::transmute::<*mut c_void, StrerrorFn>(sym(c"imb_get_strerror")?),
                version: {
                    let v = std::mem::transmute::<*mut c_void, VersionFn>(sym(c"imb_get_version_str")?)();
                    if v.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(v).to_string_lossy().into_owned()
                    }
                },
            }
        };
        Ok(lib)
    }

    /// The library's version string, e.g. `1.3.0`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The library's text for an error number.
    pub fn strerror(&self, errnum: c_int) -> String {
        // SAFETY: imb_get_strerror takes any int and returns NULL or a
        // pointer to a static NUL-terminated string.
        unsafe {
            let s = (self.imb_get_strerror)(errnum);
            if s.is_null() {
                format!("error {errnum}")
            } else {
                CStr::from_ptr(s).to_string_lossy().into_owned()
            }
        }
    }
}

/// The process's library, loaded on first use (`libIPSec_MB.so.1`).
pub fn library() -> Result<&'static Library> {
    static LIB: OnceLock<std::result::Result<Library, Error>> = OnceLock::new();
    LIB.get_or_init(|| Library::open(LIBRARY)).as_ref().map_err(Clone::clone)
}

/// Whether the library can be loaded here.
pub fn available() -> bool {
    library().is_ok()
}
