//! `acrypto disk open|close|status|format`: the dm-crypt port. A volume's sectors
//! are encrypted through the engine and served as `/dev/nbdN` (the
//! kernel's nbd driver over a socketpair) or, with `--listen`, to NBD
//! clients over TCP. The options mean what they mean to `cryptsetup open
//! --type plain` (and, for `--type luks2`, `cryptsetup open` of a LUKS2
//! volume), so either can open what the other wrote. `format` writes a
//! LUKS2 header that cryptsetup accepts.
//!
//! `open` returns once the device is live and keeps serving in the
//! background (`--foreground` stays). Each open volume has a state file
//! `NAME.json` in the run directory (`ACRYPTO_RUN_DIR`, default
//! `/run/acrypto/disk`), with the server's log `NAME.log` beside it.

use super::{fail, print_json, usage, CliError, CliResult, Context};
use acrypto::Engine;
use acrypto_blk::{kernel, luks2};
use acrypto_blk::{CipherSpec, Volume};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Set in the environment of the background server: print `ready` on
/// stdout once the device is live.
const READY_ENV: &str = "ACRYPTO_DISK_READY";
/// Set in the environment of the background server: the LUKS2 passphrase
/// comes on stdin (the parent asked for it on the terminal).
const PASS_ENV: &str = "ACRYPTO_DISK_PASSPHRASE_STDIN";

/// Arguments of `disk`.
#[derive(Args, Debug)]
pub struct DiskArgs {
    #[command(subcommand)]
    cmd: DiskCmd,
}

#[derive(Subcommand, Debug)]
enum DiskCmd {
    /// Open BACKING as the encrypted device NAME (as `cryptsetup open --type plain`).
    Open(OpenArgs),
    /// Flush and disconnect the device NAME; its server syncs the backing file and exits.
    Close(CloseArgs),
    /// The open devices.
    Status(StatusArgs),
    /// Write a LUKS2 header on BACKING (as `cryptsetup luksFormat --type luks2`); its data is lost.
    Format(FormatArgs),
}

/// Arguments of `disk open`.
#[derive(Args, Debug)]
pub struct OpenArgs {
    /// The backing file or block device holding the ciphertext.
    #[arg(value_name = "BACKING")]
    backing: PathBuf,
    /// A name for the open volume (letters, digits, '.', '_', '-').
    #[arg(value_name = "NAME")]
    name: String,
    /// Volume type: plain (dm-crypt without a header) or luks2 (cipher and layout from the header).
    #[arg(long = "type", short = 'M', value_name = "TYPE", default_value = "plain")]
    kind: String,
    /// Cipher, as dm-crypt names it: aes-xts-plain64, aes-cbc-essiv:sha256, aes-cbc-plain64.
    #[arg(long, short = 'c', value_name = "CIPHER", default_value = "aes-cbc-essiv:sha256")]
    cipher: String,
    /// Key size in bits (xts: 256 or 512; cbc: 128, 192 or 256).
    #[arg(long = "key-size", short = 's', value_name = "BITS", default_value_t = 256)]
    key_size: u32,
    /// plain: the raw key, the first key-size/8 bytes of this file. luks2: the passphrase, the
    /// whole file (default: asked on the terminal).
    #[arg(long = "key-file", short = 'd', value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Encryption sector size in bytes: 512, 1024, 2048 or 4096.
    #[arg(long = "sector-size", value_name = "BYTES", default_value_t = 512)]
    sector_size: u32,
    /// IVs count sectors of --sector-size instead of 512-byte units.
    #[arg(long = "iv-large-sectors")]
    iv_large_sectors: bool,
    /// Start of the data in the backing file, in 512-byte sectors.
    #[arg(long, short = 'o', value_name = "SECTORS", default_value_t = 0)]
    offset: u64,
    /// Added to the sector number of every IV, in 512-byte sectors.
    #[arg(long, short = 'p', value_name = "SECTORS", default_value_t = 0)]
    skip: u64,
    /// Size of the device in 512-byte sectors (default: to the end of the backing file).
    #[arg(long, short = 'b', value_name = "SECTORS")]
    size: Option<u64>,
    /// The nbd device to use (default: the first free one).
    #[arg(long, value_name = "DEVICE", conflicts_with = "listen")]
    nbd: Option<PathBuf>,
    /// Serve the NBD protocol (newstyle) on this TCP address instead of a local /dev/nbdN.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Stay in the foreground until the device is closed.
    #[arg(long)]
    foreground: bool,
}

/// Arguments of `disk close`.
#[derive(Args, Debug)]
pub struct CloseArgs {
    /// The name given to `open`.
    #[arg(value_name = "NAME")]
    name: String,
}

/// Arguments of `disk format`.
#[derive(Args, Debug)]
pub struct FormatArgs {
    /// The file or block device to format.
    #[arg(value_name = "BACKING")]
    backing: PathBuf,
    /// Header type: luks2.
    #[arg(long = "type", short = 'M', value_name = "TYPE", default_value = "luks2")]
    kind: String,
    /// Data cipher: aes-xts-plain64, aes-cbc-essiv:sha256, aes-cbc-plain64.
    #[arg(long, short = 'c', value_name = "CIPHER", default_value = "aes-xts-plain64")]
    cipher: String,
    /// Volume key size in bits.
    #[arg(long = "key-size", short = 's', value_name = "BITS", default_value_t = 512)]
    key_size: u32,
    /// The passphrase: the whole file (default: asked twice on the terminal).
    #[arg(long = "key-file", short = 'd', value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Encryption sector size in bytes: 512 or 4096 (or 1024, 2048).
    #[arg(long = "sector-size", value_name = "BYTES", default_value_t = 512)]
    sector_size: u32,
    /// Keyslot key derivation: pbkdf2, argon2id or argon2i.
    #[arg(long, value_name = "KIND", default_value = "argon2id")]
    pbkdf: String,
    /// PBKDF2 iterations or Argon2 passes (no benchmark: fixed defaults otherwise).
    #[arg(long = "pbkdf-force-iterations", value_name = "N")]
    pbkdf_force_iterations: Option<u32>,
    /// Argon2 memory in KiB.
    #[arg(long = "pbkdf-memory", value_name = "KIB")]
    pbkdf_memory: Option<u32>,
    /// Argon2 lanes.
    #[arg(long = "pbkdf-parallel", value_name = "N")]
    pbkdf_parallel: Option<u32>,
}

/// Arguments of `disk status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Only this volume.
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// A JSON array of objects.
    #[arg(long)]
    json: bool,
}

/// Runs `disk`; `engine` builds the engine (only the server needs one).
pub fn run(a: &DiskArgs, engine: impl FnOnce() -> CliResult<Engine>) -> CliResult<()> {
    match &a.cmd {
        DiskCmd::Open(o) => open(o, engine),
        DiskCmd::Close(c) => close(&c.name),
        DiskCmd::Status(s) => status(s),
        DiskCmd::Format(f) => format(f),
    }
}

fn run_dir() -> PathBuf {
    std::env::var_os("ACRYPTO_RUN_DIR").map_or_else(|| PathBuf::from("/run/acrypto/disk"), PathBuf::from)
}

fn check_name(name: &str) -> CliResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(usage!("bad volume name '{name}' (letters, digits, '.', '_', '-'; at most 64)"))
    }
}

fn pid_alive(pid: u64) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// The state of an open volume, if its server still runs.
fn state(name: &str) -> Option<Value> {
    let s: Value = serde_json::from_str(&fs::read_to_string(run_dir().join(format!("{name}.json"))).ok()?).ok()?;
    s["pid"].as_u64().filter(|&p| pid_alive(p)).map(|_| s)
}

fn read_key(path: &Path, bits: u32) -> CliResult<Zeroizing<Vec<u8>>> {
    if bits == 0 || !bits.is_multiple_of(8) {
        return Err(usage!("--key-size {bits}: not a whole number of bytes"));
    }
    let n = (bits / 8) as usize;
    let mut key = Zeroizing::new(vec![0u8; n]);
    let mut f = File::open(path).ctx(format_args!("key file {}", path.display()))?;
    let mut got = 0;
    while got < n {
        match f.read(&mut key[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => return Err(fail!("key file {}: {e}", path.display())),
        }
    }
    if got < n {
        return Err(fail!("key file {} holds {got} bytes, the key needs {n} (--key-size {bits})", path.display()));
    }
    Ok(key)
}

/// A passphrase: the whole key file, or asked on the terminal (`twice`
/// for a new one), without echo.
fn passphrase(key_file: Option<&Path>, twice: bool) -> CliResult<Zeroizing<Vec<u8>>> {
    if let Some(p) = key_file {
        let pass = Zeroizing::new(fs::read(p).ctx(format_args!("key file {}", p.display()))?);
        if pass.is_empty() {
            return Err(fail!("key file {} is empty", p.display()));
        }
        return Ok(pass);
    }
    let ask = |prompt: &str| -> CliResult<Zeroizing<Vec<u8>>> {
        let tty = || OpenOptions::new().read(true).write(true).open("/dev/tty");
        let mut t = tty().map_err(|_| usage!("no --key-file and no terminal to ask for the passphrase"))?;
        let stty =
            |arg: &str| Command::new("stty").arg(arg).stdin(tty().ok().map_or_else(Stdio::null, Stdio::from)).status();
        std::io::Write::write_all(&mut t, prompt.as_bytes()).ctx("terminal")?;
        let _ = stty("-echo");
        let mut line = Zeroizing::new(String::new());
        let r = BufReader::new(&mut t).read_line(&mut line);
        let _ = stty("echo");
        let _ = std::io::Write::write_all(&mut t, b"\n");
        r.ctx("read the passphrase")?;
        let pass = Zeroizing::new(line.trim_end_matches(['\n', '\r']).as_bytes().to_vec());
        if pass.is_empty() {
            return Err(fail!("empty passphrase"));
        }
        Ok(pass)
    };
    let pass = ask("Enter passphrase: ")?;
    if twice && ask("Verify passphrase: ")? != pass {
        return Err(fail!("passphrases do not match"));
    }
    Ok(pass)
}

/// The spec of a LUKS2 volume: its header opened with the passphrase.
fn luks2_spec(o: &OpenArgs, pass: &[u8]) -> CliResult<(CipherSpec, String)> {
    let file = File::open(&o.backing).ctx(format_args!("{}", o.backing.display()))?;
    let mut v = luks2::open(&file, pass).map_err(|e| fail!("{}: {e}", o.backing.display()))?;
    let spec = CipherSpec {
        cipher: std::mem::take(&mut v.cipher),
        key: std::mem::take(&mut v.key),
        data_offset: v.offset,
        size: v.size,
        sector_size: v.sector_size,
        iv_offset: v.iv_tweak,
        iv_large_sectors: v.iv_large_sectors,
    };
    spec.check().map_err(CliError::new)?;
    Ok((spec, v.uuid.clone()))
}

fn spec_of(o: &OpenArgs) -> CliResult<CipherSpec> {
    acrypto_blk::spec::parse_cipher(&o.cipher).map_err(CliError::usage)?;
    let key_file = o.key_file.as_deref().ok_or_else(|| usage!("--type plain needs --key-file (the raw key)"))?;
    let key = read_key(key_file, o.key_size)?;
    let spec = CipherSpec {
        cipher: o.cipher.clone(),
        key,
        data_offset: o.offset.checked_mul(512).ok_or_else(|| usage!("--offset {} too large", o.offset))?,
        size: o.size.map(|s| s.checked_mul(512).ok_or_else(|| usage!("--size {s} too large"))).transpose()?,
        sector_size: o.sector_size,
        iv_offset: o.skip,
        iv_large_sectors: o.iv_large_sectors,
    };
    spec.check().map_err(CliError::usage)?;
    Ok(spec)
}

fn open(o: &OpenArgs, engine: impl FnOnce() -> CliResult<Engine>) -> CliResult<()> {
    check_name(&o.name)?;
    if state(&o.name).is_some() {
        return Err(fail!("volume '{}' is already open (acrypto disk status {})", o.name, o.name));
    }
    if !["plain", "luks2"].contains(&o.kind.as_str()) {
        return Err(usage!("--type {}: unsupported (plain, luks2)", o.kind));
    }
    let mut uuid = None;
    let spec = if o.kind == "luks2" {
        let pass = if std::env::var_os(PASS_ENV).is_some() {
            let mut p = Zeroizing::new(Vec::new());
            std::io::stdin().read_to_end(&mut p).ctx("passphrase from the parent")?;
            p
        } else {
            passphrase(o.key_file.as_deref(), false)?
        };
        if !o.foreground {
            // The header is opened once, by the server (a KDF is slow).
            let piped = o.key_file.is_none().then_some(pass);
            return spawn_server(o, piped);
        }
        let (spec, id) = luks2_spec(o, &pass)?;
        uuid = Some(id);
        spec
    } else {
        let spec = spec_of(o)?;
        if !o.foreground {
            drop(spec);
            return spawn_server(o, None);
        }
        spec
    };
    let file =
        OpenOptions::new().read(true).write(true).open(&o.backing).ctx(format_args!("{}", o.backing.display()))?;
    let engine = engine()?;
    let vol = Arc::new(Volume::open(file, &spec, engine.clone()).map_err(CliError::new)?);
    let dir = run_dir();
    fs::create_dir_all(&dir).ctx(format_args!("run directory {}", dir.display()))?;
    let state_path = dir.join(format!("{}.json", o.name));
    let mut st = json!({
        "name": o.name,
        "type": o.kind,
        "uuid": uuid,
        "backing": fs::canonicalize(&o.backing).unwrap_or_else(|_| o.backing.clone()).display().to_string(),
        "cipher": spec.cipher,
        "key_size": spec.key.len() * 8,
        "sector_size": spec.sector_size,
        "iv_large_sectors": spec.iv_large_sectors,
        "offset": spec.data_offset / 512,
        "skip": spec.iv_offset,
        "size": vol.size(),
        "pid": std::process::id(),
        "devices": devices_json(&engine),
    });
    drop(spec);
    let state = Arc::new(StateFile { path: state_path.clone(), value: Mutex::new(None) });
    let write_state = |st: &Value| state.publish(st.clone()).ctx(format_args!("{}", state_path.display()));
    let ready = |what: &str| {
        if std::env::var_os(READY_ENV).is_some() {
            println!("ready {what}");
        } else {
            println!("{what}");
        }
    };
    let result = if let Some(addr) = &o.listen {
        let l = std::net::TcpListener::bind(addr).ctx(format_args!("listen {addr}"))?;
        let local = l.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| addr.clone());
        st["listen"] = json!(local);
        write_state(&st)?;
        // A stop signal (`disk close` sends SIGTERM) syncs what clients
        // wrote without a flush before the server exits.
        let (v, sf) = (vol.clone(), state.clone());
        acrypto_blk::on_stop_signal(move |sig| {
            // The key goes (zeroized) before the process does, after the
            // I/O in progress; then what was written is synced.
            v.shred();
            let synced = v.flush();
            sf.remove();
            match synced {
                Ok(()) => {
                    eprintln!("acrypto: signal {sig}: backing file synced, server stopped");
                    std::process::exit(0)
                }
                Err(e) => {
                    eprintln!("acrypto: signal {sig}: syncing the backing file failed: {e}");
                    std::process::exit(1)
                }
            }
        })
        .ctx("stop signal handler")?;
        ready(&local);
        state.refresh_devices(engine.clone());
        acrypto_blk::nbd::listen(l, vol).map_err(|e| fail!("listen {local}: {e}"))
    } else {
        let att = kernel::attach(vol, o.nbd.as_deref()).map_err(CliError::new)?;
        st["device"] = json!(att.dev.display().to_string());
        if let Err(e) = write_state(&st) {
            let _ = kernel::disconnect(&att.dev);
            let _ = att.wait();
            return Err(e);
        }
        // A stop signal disconnects the device: the transmission loop ends,
        // the backing file is synced and the key dropped as for `disk close`.
        let dev = att.dev.clone();
        let handler = acrypto_blk::on_stop_signal(move |sig| {
            eprintln!("acrypto: signal {sig}: disconnecting {}", dev.display());
            let _ = kernel::disconnect(&dev);
        });
        if let Err(e) = handler {
            let _ = kernel::disconnect(&att.dev);
            let _ = att.wait();
            return Err(fail!("stop signal handler: {e}"));
        }
        ready(&att.dev.display().to_string());
        state.refresh_devices(engine.clone());
        att.wait().map_err(|e| fail!("{}: {e}", o.name))
    };
    state.remove();
    result
}

/// How often a server rewrites its state file's device counters.
const STATE_REFRESH: Duration = Duration::from_secs(1);

/// The engine's devices and their counters, for the state file: which
/// devices (software, kernel driver, accelerator) did the volume's work.
fn devices_json(engine: &Engine) -> Value {
    Value::Array(
        engine
            .devices()
            .iter()
            .map(|d| {
                json!({
                    "name": d.name,
                    "driver": d.driver,
                    "class": super::lower(d.class),
                    "state": super::lower(d.state),
                    "completed": d.stats.completed_ok,
                    "failed": d.stats.completed_err,
                    "bytes": d.stats.bytes,
                })
            })
            .collect(),
    )
}

/// An open volume's state file, `NAME.json`: replaced whole (a temporary
/// file renamed over it), so `disk status` never reads half of it; once
/// removed, never written again.
struct StateFile {
    path: PathBuf,
    value: Mutex<Option<Value>>,
}

impl StateFile {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Value>> {
        self.value.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, v: &Value) -> std::io::Result<()> {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.path.with_file_name(format!(".{name}.tmp"));
        fs::write(&tmp, v.to_string())?;
        fs::rename(&tmp, &self.path)
    }

    fn publish(&self, v: Value) -> std::io::Result<()> {
        let mut g = self.lock();
        self.write(&v)?;
        *g = Some(v);
        Ok(())
    }

    /// Rewrites the device counters every [`STATE_REFRESH`] until the file
    /// is removed.
    fn refresh_devices(self: &Arc<Self>, engine: Engine) {
        let me = Arc::downgrade(self);
        std::thread::spawn(move || loop {
            std::thread::sleep(STATE_REFRESH);
            let Some(me) = me.upgrade() else { return };
            let mut g = me.lock();
            let Some(v) = g.as_mut() else { return };
            v["devices"] = devices_json(&engine);
            // A failed rewrite keeps the last good file; the next one retries.
            let _ = me.write(v);
        });
    }

    fn remove(&self) {
        let mut g = self.lock();
        *g = None;
        let _ = fs::remove_file(&self.path);
    }
}

/// Starts this command again with `--foreground` in its own process group
/// and returns once it says the device is live (or passes on its error).
fn spawn_server(o: &OpenArgs, pass: Option<Zeroizing<Vec<u8>>>) -> CliResult<()> {
    let dir = run_dir();
    fs::create_dir_all(&dir).ctx(format_args!("run directory {}", dir.display()))?;
    let log_path = dir.join(format!("{}.log", o.name));
    let log = File::create(&log_path).ctx(format_args!("{}", log_path.display()))?;
    let exe = std::env::current_exe().ctx("own executable")?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    args.push("--foreground".into());
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe);
    cmd.args(args).env(READY_ENV, "1");
    if pass.is_some() {
        cmd.env(PASS_ENV, "1").stdin(Stdio::piped());
    } else {
        cmd.stdin(Stdio::null());
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(log).process_group(0).spawn().ctx("start the server")?;
    if let (Some(p), Some(mut stdin)) = (pass, child.stdin.take()) {
        // Dropped (closed) at once: the server reads to the end.
        let _ = std::io::Write::write_all(&mut stdin, &p);
    }
    let mut line = String::new();
    let out = child.stdout.take().ok_or_else(|| fail!("server has no stdout"))?;
    let _ = BufReader::new(out).read_line(&mut line);
    if let Some(what) = line.trim().strip_prefix("ready ") {
        println!("{what}");
        return Ok(());
    }
    let status = child.wait().ctx("wait for the server")?;
    let log = fs::read_to_string(&log_path).unwrap_or_default();
    let msg = log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let msg = msg.strip_prefix("acrypto: ").unwrap_or(msg);
    let _ = fs::remove_file(&log_path);
    Err(CliError {
        msg: if msg.is_empty() { format!("the server exited ({status})") } else { msg.to_string() },
        code: status.code().and_then(|c| u8::try_from(c).ok()).filter(|&c| c != 0).unwrap_or(1),
    })
}

fn format(f: &FormatArgs) -> CliResult<()> {
    if f.kind != "luks2" {
        return Err(usage!("--type {}: unsupported (luks2)", f.kind));
    }
    let pbkdf = luks2::Pbkdf::from_options(&f.pbkdf, f.pbkdf_force_iterations, f.pbkdf_memory, f.pbkdf_parallel)
        .map_err(CliError::usage)?;
    let opts =
        luks2::FormatOptions { sector_size: f.sector_size, pbkdf, ..luks2::FormatOptions::new(&f.cipher, f.key_size) };
    let pass = passphrase(f.key_file.as_deref(), true)?;
    let file =
        OpenOptions::new().read(true).write(true).open(&f.backing).ctx(format_args!("{}", f.backing.display()))?;
    luks2::format(&file, &pass, &opts).map_err(|e| fail!("{}: {e}", f.backing.display()))
}

fn close(name: &str) -> CliResult<()> {
    check_name(name)?;
    let st = state(name).ok_or_else(|| fail!("no open volume '{name}'"))?;
    let pid = st["pid"].as_u64().unwrap_or(0);
    if let Some(dev) = st["device"].as_str() {
        kernel::disconnect(Path::new(dev)).ctx(format_args!("disconnect {dev}"))?;
    } else {
        acrypto_blk::terminate(pid as i32).ctx(format_args!("stop the server of '{name}' (pid {pid})"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while pid_alive(pid) {
        if Instant::now() > deadline {
            return Err(fail!("the server of '{name}' (pid {pid}) did not exit"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = fs::remove_file(run_dir().join(format!("{name}.json")));
    let _ = fs::remove_file(run_dir().join(format!("{name}.log")));
    Ok(())
}

fn status(a: &StatusArgs) -> CliResult<()> {
    let mut names: Vec<String> = fs::read_dir(run_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".json").map(str::to_string))
        .collect();
    names.sort();
    if let Some(n) = &a.name {
        check_name(n)?;
        names.retain(|x| x == n);
    }
    let open: Vec<Value> = names.iter().filter_map(|n| state(n)).collect();
    if let (Some(n), true) = (&a.name, open.is_empty()) {
        return Err(fail!("no open volume '{n}'"));
    }
    if a.json {
        return print_json(&Value::Array(open));
    }
    for s in &open {
        let at =
            s["device"].as_str().map(str::to_string).or_else(|| s["listen"].as_str().map(|l| format!("nbd://{l}")));
        println!(
            "{}: {} {} {}-bit, {} bytes, sector {}{}, offset {} skip {}, backing {}, pid {}",
            s["name"].as_str().unwrap_or("?"),
            at.unwrap_or_default(),
            s["cipher"].as_str().unwrap_or("?"),
            s["key_size"],
            s["size"],
            s["sector_size"],
            if s["iv_large_sectors"] == json!(true) { " (large IV sectors)" } else { "" },
            s["offset"],
            s["skip"],
            s["backing"].as_str().unwrap_or("?"),
            s["pid"],
        );
        let devs: Vec<String> = s["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                format!(
                    "{} ({}, {}): {} requests, {} bytes",
                    d["name"].as_str().unwrap_or("?"),
                    d["class"].as_str().unwrap_or("?"),
                    d["state"].as_str().unwrap_or("?"),
                    d["completed"],
                    d["bytes"]
                )
            })
            .collect();
        if !devs.is_empty() {
            println!("  devices: {}", devs.join("; "));
        }
    }
    Ok(())
}
