//! The `acrypto` command: argument parsing, errors, and shared helpers.

mod aead;
mod asym_kats;
mod bench;
mod devices;
mod disk;
mod enc;
mod esp;
mod hash;
mod pkey;
mod rand;
mod selftest;

use acrypto::{Algorithm, Engine, OpKind, Session, SessionBuilder};
use clap::{Parser, Subcommand};
use std::fmt::Display;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// acrypto: an asynchronous crypto framework for Linux.
///
/// Work goes to the devices of an engine (`--devices soft:4`, or the
/// ACRYPTO_DEVICES environment variable; default: one software device per
/// CPU core). Exit status: 0 success, 1 the work failed, 2 an error in what was typed.
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
    /// List the engine's devices: driver, class, state, queue bound, capabilities.
    Devices(devices::DevicesArgs),
    /// Known-answer tests of every algorithm on every device.
    Selftest(selftest::SelftestArgs),
    /// Encrypt (or with -d decrypt) a stream, byte-compatible with `openssl enc -K -iv`.
    Enc(enc::EncArgs),
    /// Decrypt a stream (`enc -d`).
    Dec(enc::CipherArgs),
    /// HMAC of a stream in lowercase hex (as `openssl mac -digest SHA1 -macopt hexkey:KEY HMAC`).
    Mac(hash::MacArgs),
    /// Digest of a stream in lowercase hex (as `openssl dgst`).
    Digest(hash::DigestArgs),
    /// Public-key sign, verify, encrypt, decrypt and derive, as `openssl pkeyutl` (input of -sign/-verify: a SHA-256 digest).
    Pkeyutl(pkey::PkeyutlArgs),
    /// Sign or verify a message with SHA-256, as `openssl dgst -sha256 -sign KEY` / `-verify PUB -signature SIG`.
    Dgst(pkey::DgstArgs),
    /// N random bytes from the engine's rng devices.
    Rand(rand::RandArgs),
    /// Async throughput and latency next to direct synchronous calls, same run.
    Bench(bench::BenchArgs),
    /// The dm-crypt port: an encrypted block device (/dev/nbdN or NBD over TCP), as cryptsetup plain.
    Disk(disk::DiskArgs),
    /// The IPsec ESP tunnel endpoint: `up CONFIG`, `down NAME`, `status`.
    Esp(esp::EspArgs),
}

/// An error for the user: one line, and the exit status.
#[derive(Debug)]
pub struct CliError {
    msg: String,
    code: u8,
}

/// Exit status of a failure of the work (bad padding, unreadable file, …).
const EXIT_FAILURE: u8 = 1;
/// Exit status of an error in what the user typed (unknown algorithm, bad
/// hex, wrong key length, a number out of range, …).
const EXIT_USAGE: u8 = 2;

impl CliError {
    /// A failure of the work (exit 1) with a message.
    pub fn new(msg: impl Display) -> Self {
        CliError { msg: one_line(&msg.to_string()), code: EXIT_FAILURE }
    }
    /// An error in what the user typed (exit 2) with a message.
    pub fn usage(msg: impl Display) -> Self {
        CliError { msg: one_line(&msg.to_string()), code: EXIT_USAGE }
    }
    /// A failure that prints nothing (the reader of our output went away).
    fn quiet() -> Self {
        CliError { msg: String::new(), code: EXIT_FAILURE }
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

/// Builds a [`CliError`] for an error in what the user typed (exit 2).
macro_rules! usage {
    ($($t:tt)*) => { $crate::cli::CliError::usage(format!($($t)*)) };
}
pub(crate) use usage;

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
    let cli = match Cli::try_parse_from(pkey::openssl_style(std::env::args().collect())) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                // Help that could not be written is a failure (`--help > /dev/full`).
                let written = if crate::stdfds::was_closed(1) {
                    Err(io::Error::from_raw_os_error(libc::EBADF))
                } else {
                    e.print().and_then(|()| io::stdout().flush())
                };
                return match written {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(err) => {
                        eprintln!("acrypto: write error: {}", one_line(&err.to_string()));
                        ExitCode::from(EXIT_FAILURE)
                    }
                };
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                return ExitCode::from(EXIT_USAGE);
            }
            // clap's message is several lines: the error (up to the first
            // blank line), then usage and tips. Keep the error, on one line.
            let text = e.render().to_string();
            let head = text.split("\n\n").next().unwrap_or("bad command line");
            let head = head.strip_prefix("error: ").unwrap_or(head);
            eprintln!("acrypto: {} (see acrypto --help)", head.split_whitespace().collect::<Vec<_>>().join(" "));
            return ExitCode::from(EXIT_USAGE);
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

/// Whether a command reads stdin and whether it writes stdout.
fn stdio_of(cmd: &Cmd) -> (bool, bool) {
    let is_std = |p: Option<&PathBuf>| p.is_none_or(|p| p.as_os_str() == "-");
    match cmd {
        Cmd::Enc(a) => (is_std(a.cipher.input.as_ref()), is_std(a.cipher.output.as_ref())),
        Cmd::Dec(a) => (is_std(a.input.as_ref()), is_std(a.output.as_ref())),
        Cmd::Mac(a) => (is_std(a.common.input.as_ref()), true),
        Cmd::Digest(a) => (is_std(a.common.input.as_ref()), true),
        Cmd::Pkeyutl(a) => (is_std(a_in(a)), true),
        Cmd::Dgst(a) => (is_std(a_file(a)), true),
        Cmd::Devices(_) | Cmd::Selftest(_) | Cmd::Rand(_) | Cmd::Bench(_) | Cmd::Disk(_) | Cmd::Esp(_) => (false, true),
    }
}

fn a_in(a: &pkey::PkeyutlArgs) -> Option<&PathBuf> {
    a.input.as_ref()
}

fn a_file(a: &pkey::DgstArgs) -> Option<&PathBuf> {
    a.file.as_ref()
}

fn run(cli: Cli) -> CliResult<()> {
    // A closed stdin or stdout is not an empty one: fail before any work.
    let (reads, writes) = stdio_of(&cli.cmd);
    if reads && crate::stdfds::was_closed(0) {
        return Err(fail!("cannot read standard input: it is closed"));
    }
    if writes && crate::stdfds::was_closed(1) {
        return Err(fail!("cannot write standard output: it is closed"));
    }
    let spec = cli.devices.clone().unwrap_or_else(acrypto::drivers::spec::from_env);
    let engine = || -> CliResult<Engine> {
        acrypto::engine_from_spec(&spec).map_err(|e| match e {
            // The specification itself is wrong (unknown kind, bad count).
            acrypto::Error::InvalidArgument(_) => usage!("devices '{spec}': {e}"),
            // It names devices this machine cannot build (no kernel module, …).
            _ => fail!("devices '{spec}': {e}"),
        })
    };
    match cli.cmd {
        Cmd::Devices(a) => devices::run(&engine()?, &a),
        Cmd::Selftest(a) => selftest::run(&engine()?, &a),
        Cmd::Enc(a) => enc::run(&engine()?, &a.cipher, a.decrypt),
        Cmd::Dec(a) => enc::run(&engine()?, &a, true),
        Cmd::Mac(a) => hash::mac(&engine()?, &a),
        Cmd::Digest(a) => hash::digest(&engine()?, &a),
        Cmd::Rand(a) => rand::run(&engine()?, &a),
        Cmd::Pkeyutl(a) => pkey::pkeyutl(&engine()?, &a),
        Cmd::Dgst(a) => pkey::dgst(&engine()?, &a),
        Cmd::Bench(a) => bench::run(&engine()?, &spec, &a),
        Cmd::Disk(a) => disk::run(&a, engine),
        Cmd::Esp(a) => esp::run(&a, cli.devices.as_deref()),
    }
}

/// Parses an algorithm name and checks it is of the kind a command takes.
pub fn parse_alg(name: &str, kinds: &[OpKind], what: &str) -> CliResult<Algorithm> {
    let alg: Algorithm = name.parse().map_err(|_| {
        let known: Vec<String> =
            Algorithm::all().filter(|a| kinds.contains(&a.kind())).map(|a| a.to_string()).collect();
        usage!("unknown algorithm '{name}' (known {what}s: {})", known.join(", "))
    })?;
    if !kinds.contains(&alg.kind()) {
        let known: Vec<String> =
            Algorithm::all().filter(|a| kinds.contains(&a.kind())).map(|a| a.to_string()).collect();
        return Err(usage!("{alg} is not a {what} (use one of: {})", known.join(", ")));
    }
    Ok(alg)
}

/// Decodes hex given for `what`; the value is not echoed (it may be a key).
pub fn parse_hex(what: &str, s: &str) -> CliResult<Vec<u8>> {
    let s = s.trim();
    if let Some(i) = s.find(|c: char| !c.is_ascii_hexdigit()) {
        return Err(usage!("{what}: not hex (bad character at position {})", i + 1));
    }
    if !s.len().is_multiple_of(2) {
        return Err(usage!("{what}: odd number of hex digits ({})", s.len()));
    }
    hex::decode(s).map_err(|e| usage!("{what}: {e}"))
}

/// A session from `sb`, bound to `--device NAME` when one was given. A
/// device the engine does not have is an error in what the user typed.
pub fn session(engine: &Engine, mut sb: SessionBuilder, device: Option<&str>) -> CliResult<Session> {
    if let Some(name) = device {
        let names: Vec<String> = engine.devices().into_iter().map(|d| d.name).collect();
        if name.is_empty() {
            return Err(usage!("--device needs a device name (devices: {})", names.join(", ")));
        }
        if !names.iter().any(|n| n == name) {
            return Err(usage!("no such device: '{name}' (devices: {})", names.join(", ")));
        }
        sb = sb.bind(name);
    }
    Ok(engine.session(sb)?)
}

/// A file's identity: device and inode.
pub type FileId = (u64, u64);

fn id_of(m: &fs::Metadata) -> FileId {
    (m.dev(), m.ino())
}

/// Metadata of an open standard stream (fstat of fd 0 or 1).
fn std_meta(fd: std::os::fd::BorrowedFd<'_>) -> Option<fs::Metadata> {
    fd.try_clone_to_owned().ok().map(File::from).and_then(|f| f.metadata().ok())
}

/// An input: a file, or stdin (`-` or none).
pub struct Input {
    /// The bytes.
    pub reader: Box<dyn Read + Send>,
    /// Its size when it is a regular file, for the progress bar only (a
    /// file may grow while it is read, and files under /proc or /sys say 0).
    pub len: Option<u64>,
    /// Device and inode when it is a regular file.
    pub id: Option<FileId>,
}

/// Opens the input: `path`, or stdin for `None` or `-`.
pub fn open_input(path: Option<&PathBuf>) -> CliResult<Input> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let f = File::open(p).ctx(format!("cannot open {}", p.display()))?;
            let meta = f.metadata().ctx(format!("cannot read {}", p.display()))?;
            if meta.is_dir() {
                return Err(fail!("cannot read {}: is a directory", p.display()));
            }
            let (len, id) = if meta.is_file() { (Some(meta.len()), Some(id_of(&meta))) } else { (None, None) };
            Ok(Input { reader: Box::new(f), len, id })
        }
        _ => {
            use std::os::fd::AsFd;
            // A redirected regular file has a size and an identity; a pipe has neither.
            let meta = std_meta(io::stdin().as_fd()).filter(|m| m.is_file());
            Ok(Input {
                reader: Box::new(io::stdin()),
                len: meta.as_ref().map(|m| m.len()),
                id: meta.as_ref().map(id_of),
            })
        }
    }
}

/// Follows `p` through symbolic links to the path that is finally written,
/// which need not exist yet (a dangling link creates its target, as
/// `openssl enc -out` does).
fn resolve_links(p: &Path) -> io::Result<PathBuf> {
    let mut p = p.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let t = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if t.is_relative() => dir.join(t),
                    _ => t,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Creates a new temporary file beside `target` (same directory, so the
/// final rename is atomic), with `O_EXCL` and permission bits `mode`
/// (the umask applies).
fn create_temp(target: &Path, mode: u32) -> io::Result<(File, PathBuf)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = target.file_name().ok_or_else(|| io::Error::from_raw_os_error(libc::EISDIR))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    loop {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".acrypto-{}-{}.tmp", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
        let tmp = dir.join(tmp_name);
        match fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Where output goes.
///
/// - stdout (`None` or `-`);
/// - a regular file (existing or not): written to a temporary file in the
///   same directory, renamed over the file only when the command succeeds,
///   so a failed command leaves it exactly as it was (an existing file's
///   permission bits are kept; a new one gets 0666 minus the umask, as
///   `openssl enc -out` creates it). A symbolic link is followed and its
///   target replaced, the link kept;
/// - anything else (a device, a FIFO): opened and written directly, never
///   truncated nor removed.
pub struct Output {
    w: io::BufWriter<Box<dyn Write>>,
    /// (temporary file, final path) of a regular-file output not yet committed.
    commit: Option<(PathBuf, PathBuf)>,
    id: Option<FileId>,
}

impl Output {
    /// Opens `path`, or stdout for `None` or `-`.
    pub fn open(path: Option<&PathBuf>) -> CliResult<Self> {
        let (w, commit, id): (Box<dyn Write>, _, _) = match path {
            Some(p) if p.as_os_str() != "-" => {
                let cannot = |e: io::Error| fail!("cannot create {}: {}", p.display(), e);
                let target = resolve_links(p).map_err(cannot)?;
                match fs::metadata(&target) {
                    Ok(m) if m.is_dir() => return Err(fail!("cannot write {}: is a directory", p.display())),
                    Ok(m) if !m.is_file() => {
                        let f = fs::OpenOptions::new().write(true).open(&target).map_err(cannot)?;
                        (Box::new(f), None, None)
                    }
                    Ok(m) => {
                        let (f, tmp) = create_temp(&target, 0o600).map_err(cannot)?;
                        // Keep the file's permission bits (the temporary file replaces it).
                        if let Err(e) = f.set_permissions(fs::Permissions::from_mode(m.mode() & 0o777)) {
                            let _ = fs::remove_file(&tmp);
                            return Err(cannot(e));
                        }
                        (Box::new(f), Some((tmp, target)), Some(id_of(&m)))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        let (f, tmp) = create_temp(&target, 0o666).map_err(cannot)?;
                        (Box::new(f), Some((tmp, target)), None)
                    }
                    Err(e) => return Err(cannot(e)),
                }
            }
            _ => {
                use std::os::fd::AsFd;
                let id = std_meta(io::stdout().as_fd()).filter(|m| m.is_file()).map(|m| id_of(&m));
                (Box::new(io::stdout()), None, id)
            }
        };
        Ok(Output { w: io::BufWriter::with_capacity(1 << 18, w), commit, id })
    }

    /// Device and inode of the regular file written (an existing file, or
    /// the file stdout is redirected to).
    pub fn id(&self) -> Option<FileId> {
        self.id
    }

    /// Writes all of `b`.
    pub fn write(&mut self, b: &[u8]) -> CliResult<()> {
        self.w.write_all(b).ctx("write error")
    }

    /// Flushes and, for a regular file, puts it in place; on success the
    /// output is complete.
    pub fn finish(mut self) -> CliResult<()> {
        self.w.flush().ctx("write error")?;
        if let Some((tmp, target)) = self.commit.take() {
            if let Err(e) = fs::rename(&tmp, &target) {
                let _ = fs::remove_file(&tmp);
                return Err(fail!("cannot create {}: {e}", target.display()));
            }
        }
        Ok(())
    }
}

impl Drop for Output {
    /// A command that failed removes its temporary file; the output path
    /// itself is never touched.
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.commit.take() {
            let _ = fs::remove_file(tmp);
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
    serde_json::to_writer_pretty(&mut out, v).map_err(io::Error::from).ctx("write error")?;
    writeln!(out).ctx("write error")?;
    out.flush().ctx("write error")
}

/// Prints one line to stdout.
pub fn print_line(s: &str) -> CliResult<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{s}").ctx("write error")?;
    out.flush().ctx("write error")
}
