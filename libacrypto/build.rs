//! Gives libacrypto.so its SONAME: the ABI major version, bumped on any
//! incompatible change of include/acrypto.h.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libacrypto.so.0");
    println!("cargo:rerun-if-changed=build.rs");
}
