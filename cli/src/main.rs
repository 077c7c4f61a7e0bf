//! `acrypto`: the command line of the asynchronous crypto framework.
//!
//! `devices`, `selftest`, `enc`/`dec`, `mac`, `digest`, `rand`, `bench`.
//! Exit status: 0 on success, 1 when the work fails, 2 when what the user
//! typed is wrong. Every error is one line on stderr, `acrypto: <message>`.
// Only `stdfds` (the check of closed standard fds before Rust's runtime
// replaces them, and SIGPIPE) holds unsafe code.
#![deny(unsafe_code)]

mod cli;
mod stdfds;

use std::process::ExitCode;

fn main() -> ExitCode {
    stdfds::default_sigpipe();
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
