//! include/acrypto.h is generated from this crate by cbindgen and
//! committed; this test regenerates it and fails when the committed one
//! is stale. Regenerate with:
//!
//!     ACRYPTO_BLESS=1 cargo test -p acrypto-ffi --test header

use std::path::Path;

#[test]
fn committed_header_matches_cbindgen_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen cannot generate the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = dir.join("../include/acrypto.h");
    if std::env::var_os("ACRYPTO_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/acrypto.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != fresh {
        let c = String::from_utf8_lossy(&committed);
        let f = String::from_utf8_lossy(&fresh);
        let first =
            c.lines().zip(f.lines()).position(|(a, b)| a != b).unwrap_or(c.lines().count().min(f.lines().count()));
        panic!(
            "include/acrypto.h is stale (first difference at line {}); regenerate it with \
             ACRYPTO_BLESS=1 cargo test -p acrypto-ffi --test header",
            first + 1
        );
    }
}
