//! The reason of the last failure on the calling thread, for C callers:
//! a status code says what kind of failure; this says why (e.g. why a
//! kdev device could not be opened).

use std::cell::RefCell;
use std::ffi::{c_char, CString};

thread_local!(static LAST: RefCell<Option<CString>> = const { RefCell::new(None) });

/// Records `reason` as this thread's last error.
pub(crate) fn set(reason: &str) {
    // A reason never holds a NUL; if one did, it is cut there.
    let bytes: Vec<u8> = reason.bytes().take_while(|&b| b != 0).collect();
    let c = CString::new(bytes).unwrap_or_default();
    // Once the thread's locals are gone (an atexit handler) there is no
    // place to keep it.
    let _ = LAST.try_with(|l| *l.borrow_mut() = Some(c));
}

/// The reason of the most recent failing acrypto call on the calling
/// thread (a NUL-terminated UTF-8 line, such as "no such device: kdev:
/// cannot open /dev/acrypto: No such file or directory"), or NULL if no
/// call on this thread has failed with a reason yet. Successful calls do
/// not clear it. The string belongs to the library and stays valid until
/// the next acrypto call on the same thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn acrypto_last_error() -> *const c_char {
    LAST.try_with(|l| l.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr())).unwrap_or(std::ptr::null())
}
