//! libacrypto: acrypto for C users. This crate only packages
//! [`acrypto_ffi`] (where every `extern "C"` function lives) as
//! `libacrypto.so` (SONAME `libacrypto.so.0`) and `libacrypto.a`; the
//! Makefile beside it installs them with `include/acrypto.h` and
//! `acrypto.pc`.

// Linking the crate in is what exports its `#[no_mangle]` functions.
pub use acrypto_ffi::*;
