//! `acrypto`: the command line of the asynchronous crypto framework.
//!
//! `devices`, `selftest`, `enc`/`dec`, `mac`, `digest`, `rand`, `bench`.
//! Exit status: 0 on success, 1 on failure, 2 on a malformed command line.
//! Every error is one line on stderr, `acrypto: <message>`.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // A panic is a bug, but the user still gets one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("acrypto: internal error: {}{at}", cli::one_line(&msg));
    }));
    match std::panic::catch_unwind(cli::main) {
        Ok(code) => code,
        Err(_) => ExitCode::from(1),
    }
}
