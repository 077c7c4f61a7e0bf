//! The `acrypto` command: argument parsing, errors, and shared helpers.

mod bench;
mod devices;
mod enc;
mod hash;
mod rand;
mod selftest;

use acrypto::{Algorithm, Engine, OpKind};
use clap::{Parser, Subcommand};
use std::fmt::Display;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// acrypto: an asynchronous crypto framework for Linux.
///
/// Work goes to the devices of an engine (`--devices soft:4`, or the
/// ACRYPTO_DEVICES environment variable; default: one software device per
/// CPU core). Exit status: 0 success, 1 failure, 2 bad command line.
#[derive(Parser, Debug)]
#[command(name = "acrypto", version, about, long_about)]
struct Cli {
    /// Devices the engine builds, e.g. `soft:4` (default: ACRYPTO_DEVICES, else `soft` = one per core).
    #[arg(long, global = true, value_name = "SPEC")]
    devices: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List the engine's devices: driver, state, capabilities, counters.
    Devices(devices::DevicesArgs),
    /// Known-answer tests of every algorithm on every device.
    Selftest(selftest::SelftestArgs),
    /// Encrypt (or with -d decrypt) a stream, byte-compatible with `openssl enc -K -iv`.
    Enc(enc::EncArgs),
    /// Decrypt a stream (`enc -d`).
    Dec(enc::EncArgs),
    /// HMAC of a stream in lowercase hex (as `openssl mac -digest SHA1 -macopt hexkey:KEY HMAC`).
    Mac(hash::MacArgs),
    /// Digest of a stream in lowercase hex (as `openssl dgst`).
    Digest(hash::DigestArgs),
    /// N random bytes from the engine's rng devices.
    Rand(rand::RandArgs),
    /// Async throughput and latency next to direct synchronous calls, same run.
    Bench(bench::BenchArgs),
}

/// An error for the user: one line, and the exit status.
#[derive(Debug)]
pub struct CliError {
    msg: String,
    code: u8,
}

impl CliError {
    /// A failure (exit 1) with a message.
    pub fn new(msg: impl Display) -> Self {
        CliError { msg: one_line(&msg.to_string()), code: 1 }
    }
    /// A failure that prints nothing (the reader of our output went away).
    fn quiet() -> Self {
        CliError { msg: String::new(), code: 1 }
    }
}

impl From<acrypto::Error> for CliError {
    fn from(e: acrypto::Error) -> Self {
        CliError::new(e)
    }
}

impl From<acrypto::Rejected> for CliError {
    fn from(r: acrypto::Rejected) -> Self {
        CliError::new(r.error)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::quiet()
        } else {
            CliError::new(e)
        }
    }
}

/// Result of a command.
pub type CliResult<T> = Result<T, CliError>;

/// Builds a [`CliError`] from a format string.
macro_rules! fail {
    ($($t:tt)*) => { $crate::cli::CliError::new(format!($($t)*)) };
}
pub(crate) use fail;

/// Adds what was being done to an error.
pub trait Context<T> {
    /// `what: error`.
    fn ctx(self, what: impl Display) -> CliResult<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl Display) -> CliResult<T> {
        self.map_err(|e| if e.kind() == io::ErrorKind::BrokenPipe { CliError::quiet() } else { fail!("{what}: {e}") })
    }
}

/// `s` on one line (newlines become "; ").
pub fn one_line(s: &str) -> String {
    s.trim().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Parses, runs, and maps the outcome to an exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                return ExitCode::from(2);
            }
            // clap's message is several lines: the error (up to the first
            // blank line), then usage and tips. Keep the error, on one line.
            let text = e.render().to_string();
            let head = text.split("\n\n").next().unwrap_or("bad command line");
            let head = head.strip_prefix("error: ").unwrap_or(head);
            eprintln!("acrypto: {} (see acrypto --help)", head.split_whitespace().collect::<Vec<_>>().join(" "));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.msg.is_empty() {
                eprintln!("acrypto: {}", e.msg);
            }
            ExitCode::from(e.code)
        }
    }
}

fn run(cli: Cli) -> CliResult<()> {
    let spec = cli.devices.clone().unwrap_or_else(acrypto::drivers::spec::from_env);
    let engine =
        || -> CliResult<Engine> { acrypto::engine_from_spec(&spec).map_err(|e| fail!("devices '{spec}': {e}")) };
    match cli.cmd {
        Cmd::Devices(a) => devices::run(&engine()?, &a),
        Cmd::Selftest(a) => selftest::run(&engine()?, &a),
        Cmd::Enc(a) => {
            let d = a.decrypt;
            enc::run(&engine()?, &a, d)
        }
        Cmd::Dec(a) => enc::run(&engine()?, &a, true),
        Cmd::Mac(a) => hash::mac(&engine()?, &a),
        Cmd::Digest(a) => hash::digest(&engine()?, &a),
        Cmd::Rand(a) => rand::run(&engine()?, &a),
        Cmd::Bench(a) => bench::run(&engine()?, &spec, &a),
    }
}

/// Parses an algorithm name and checks it is of the kind a command takes.
pub fn parse_alg(name: &str, kinds: &[OpKind], what: &str) -> CliResult<Algorithm> {
    let alg: Algorithm = name.parse().map_err(|_| {
        let known: Vec<String> =
            Algorithm::all().filter(|a| kinds.contains(&a.kind())).map(|a| a.to_string()).collect();
        fail!("unknown algorithm '{name}' (known {what}s: {})", known.join(", "))
    })?;
    if !kinds.contains(&alg.kind()) {
        let known: Vec<String> =
            Algorithm::all().filter(|a| kinds.contains(&a.kind())).map(|a| a.to_string()).collect();
        return Err(fail!("{alg} is not a {what} (use one of: {})", known.join(", ")));
    }
    Ok(alg)
}

/// Decodes hex given for `what`; the value is not echoed (it may be a key).
pub fn parse_hex(what: &str, s: &str) -> CliResult<Vec<u8>> {
    let s = s.trim();
    if let Some(i) = s.find(|c: char| !c.is_ascii_hexdigit()) {
        return Err(fail!("{what}: not hex (bad character at position {})", i + 1));
    }
    if !s.len().is_multiple_of(2) {
        return Err(fail!("{what}: odd number of hex digits ({})", s.len()));
    }
    hex::decode(s).map_err(|e| fail!("{what}: {e}"))
}

/// Where input comes from: a file, or stdin (`-` or none).
pub fn open_input(path: Option<&PathBuf>) -> CliResult<(Box<dyn Read + Send>, Option<u64>)> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let f = File::open(p).ctx(format!("cannot open {}", p.display()))?;
            let meta = f.metadata().ctx(format!("cannot read {}", p.display()))?;
            if meta.is_dir() {
                return Err(fail!("cannot read {}: is a directory", p.display()));
            }
            let len = meta.is_file().then_some(meta.len());
            Ok((Box::new(f), len))
        }
        _ => {
            // A redirected regular file has a size; a pipe has none.
            let len = std::fs::metadata("/proc/self/fd/0").ok().filter(|m| m.is_file()).map(|m| m.len());
            Ok((Box::new(io::stdin()), len))
        }
    }
}

/// Where output goes: a file (created or truncated), or stdout.
pub struct Output {
    w: io::BufWriter<Box<dyn Write>>,
    path: Option<PathBuf>,
}

impl Output {
    /// Opens `path`, or stdout for `None` or `-`.
    pub fn open(path: Option<&PathBuf>) -> CliResult<Self> {
        let (w, path): (Box<dyn Write>, _) = match path {
            Some(p) if p.as_os_str() != "-" => {
                (Box::new(File::create(p).ctx(format!("cannot create {}", p.display()))?), Some(p.clone()))
            }
            _ => (Box::new(io::stdout()), None),
        };
        Ok(Output { w: io::BufWriter::with_capacity(1 << 18, w), path })
    }

    /// Writes all of `b`.
    pub fn write(&mut self, b: &[u8]) -> CliResult<()> {
        self.w.write_all(b).ctx("write error")
    }

    /// Flushes; on success the output is complete.
    pub fn finish(mut self) -> CliResult<()> {
        self.w.flush().ctx("write error")?;
        self.path = None;
        Ok(())
    }
}

impl Drop for Output {
    /// A command that failed leaves no partial output file behind.
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub fn fill(r: &mut dyn Read, buf: &mut [u8]) -> CliResult<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail!("read error: {e}")),
        }
    }
    Ok(n)
}

/// A progress bar on stderr, shown only when stderr is a terminal and the
/// input is large (from the start when its size is known, else once that
/// much has gone through).
pub struct Progress {
    bar: indicatif::ProgressBar,
    tty: bool,
    shown: bool,
    done: u64,
}

/// Inputs at least this large get a progress bar.
const PROGRESS_MIN: u64 = 16 << 20;

impl Progress {
    /// For an input of `len` bytes, if known.
    pub fn new(len: Option<u64>) -> Self {
        use std::io::IsTerminal;
        let tty = io::stderr().is_terminal();
        let bar = match len {
            Some(n) => indicatif::ProgressBar::with_draw_target(Some(n), indicatif::ProgressDrawTarget::hidden()),
            None => indicatif::ProgressBar::hidden(),
        };
        let style = match len {
            Some(_) => "{bytes}/{total_bytes} [{bar:30}] {binary_bytes_per_sec} eta {eta}",
            None => "{bytes} {binary_bytes_per_sec} {elapsed}",
        };
        if let Ok(s) = indicatif::ProgressStyle::with_template(style) {
            bar.set_style(s.progress_chars("=> "));
        }
        let mut p = Progress { bar, tty, shown: false, done: 0 };
        if len.is_some_and(|n| n >= PROGRESS_MIN) {
            p.show();
        }
        p
    }

    fn show(&mut self) {
        if self.tty && !self.shown {
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.shown = true;
        }
    }

    /// `n` more bytes went through.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        if self.done >= PROGRESS_MIN {
            self.show();
        }
        self.bar.inc(n);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Lower-case names for enums printed with `Debug` (`Active` → `active`).
pub fn lower(d: impl std::fmt::Debug) -> String {
    format!("{d:?}").to_ascii_lowercase()
}

/// Prints JSON to stdout (pretty, one document).
pub fn print_json(v: &serde_json::Value) -> CliResult<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(|e| fail!("write error: {e}"))?;
    writeln!(out).ctx("write error")
}

/// Prints one line to stdout.
pub fn print_line(s: &str) -> CliResult<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{s}").ctx("write error")?;
    out.flush().ctx("write error")
}
