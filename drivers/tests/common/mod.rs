//! What the bindgen staleness tests share (`uapi_bindgen.rs`,
//! `imb_bindgen.rs`): loading libclang, running bindgen, and comparing with
//! (or, with `ACRYPTO_BLESS=1`, rewriting) the committed file.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("drivers/ has a parent").to_path_buf()
}

/// Whether the test must run rather than skip (`ACRYPTO_REQUIRE_LIBCLANG=1`,
/// which CI sets).
pub fn required() -> bool {
    std::env::var("ACRYPTO_REQUIRE_LIBCLANG").is_ok_and(|v| v == "1")
}

/// Whether libclang loads; when it does not, says so (and fails if the test
/// is required).
pub fn libclang_or_skip() -> bool {
    // bindgen loads libclang at run time (its `runtime` feature).
    if clang_sys::load().is_ok() || clang_sys::is_loaded() {
        return true;
    }
    assert!(
        !required(),
        "ACRYPTO_REQUIRE_LIBCLANG=1 but libclang cannot be loaded (apt-get install libclang-dev clang)"
    );
    println!("skipped: no libclang here (apt-get install libclang-dev clang); set ACRYPTO_REQUIRE_LIBCLANG=1 to fail instead");
    false
}

/// What `builder` makes (bindgen's panics and errors as messages).
pub fn generate(builder: bindgen::Builder) -> Result<String, String> {
    let bindings = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.generate()))
        .map_err(|_| "bindgen panicked".to_string())?;
    let bindings = bindings.map_err(|e| format!("bindgen failed: {e}"))?;
    Ok(bindings.to_string())
}

/// Fails when the committed file `committed` (relative to the repository)
/// differs from `fresh`, naming the first differing line and `test`, the
/// test target that regenerates it; with `ACRYPTO_BLESS=1`, rewrites it.
pub fn check_fresh(committed: &str, fresh: &str, test: &str) {
    let path = repo().join(committed);
    if std::env::var("ACRYPTO_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, fresh).unwrap();
        println!("wrote {}", path.display());
        return;
    }
    let old = std::fs::read_to_string(&path).unwrap();
    if old != fresh {
        let line = old.lines().zip(fresh.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!(
            "{} is stale (first difference at line {line}); regenerate with \
             ACRYPTO_BLESS=1 cargo test -p acrypto-drivers --test {test}",
            path.display()
        );
    }
}
