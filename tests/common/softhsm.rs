//! A SoftHSM2 token in a temporary directory, for the pkcs11 device's tests.
//!
//! Without the module (`libsofthsm2.so`) or `softhsm2-util` a test says so
//! and passes, unless `ACRYPTO_REQUIRE_PKCS11=1` (CI sets it; `tests/setup.sh`
//! installs `softhsm2`), as the imb device's tests do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian and Ubuntu install the module.
pub const MODULES: &[&str] = &["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];

/// The token's label and PINs.
pub const LABEL: &str = "acrypto-test";
pub const PIN: &str = "4321";
pub const SO_PIN: &str = "87654321";

/// The module's path, or why there is none.
pub fn module() -> Result<&'static str, String> {
    let m = MODULES.iter().copied().find(|p| Path::new(p).exists());
    let util = Command::new("softhsm2-util").arg("--version").output().is_ok_and(|o| o.status.success());
    match (m, util) {
        (Some(m), true) => Ok(m),
        _ => Err(format!("SoftHSM2 is not installed (no {} or no softhsm2-util; run tests/setup.sh)", MODULES[0])),
    }
}

/// Whether SoftHSM2 is here; panics if it must be and is not.
pub fn have() -> bool {
    match module() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var("ACRYPTO_REQUIRE_PKCS11").map_or(true, |v| v != "1"),
                "ACRYPTO_REQUIRE_PKCS11=1 but {e}"
            );
            println!("skipped: {e}");
            false
        }
    }
}

/// A token directory with its conf and PIN files.
pub struct Token {
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub pin_file: PathBuf,
    pub module: &'static str,
}

impl Token {
    /// A fresh token in a new temporary directory (`softhsm2-util --init-token`).
    pub fn new(tag: &str) -> Token {
        let module = module().expect("softhsm2");
        let dir = std::env::temp_dir().join(format!(
            "acrypto-softhsm-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
        )
        .unwrap();
        let pin_file = dir.join("pin");
        std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        let o = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN])
            .output()
            .unwrap();
        assert!(o.status.success(), "softhsm2-util --init-token: {}", String::from_utf8_lossy(&o.stderr));
        Token { dir, conf, pin_file, module }
    }

    /// The device specification of this token, logged in.
    pub fn spec(&self) -> String {
        format!("pkcs11:{}?pin-source={}", self.module, self.pin_file.display())
    }
}

/// The process's token: SoftHSM2 reads `SOFTHSM2_CONF` once, at
/// `C_Initialize`, so every test of a binary shares one token.
pub fn shared() -> &'static Token {
    static T: OnceLock<Token> = OnceLock::new();
    T.get_or_init(|| {
        let t = Token::new("shared");
        std::env::set_var("SOFTHSM2_CONF", &t.conf);
        t
    })
}
