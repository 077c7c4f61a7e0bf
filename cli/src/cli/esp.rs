//! `acrypto esp up CONFIG [--foreground] | down NAME | status [--json]`:
//! the IPsec ESP tunnel endpoint (ports/esp).

use super::{fail, usage, CliResult, Context};
use acrypto_esp::tunnel;
use acrypto_esp::Config;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default directory of the pid and status files.
const RUN_DIR: &str = "/run/acrypto-esp";

#[derive(Args, Debug)]
pub struct EspArgs {
    #[command(subcommand)]
    cmd: EspCmd,
}

#[derive(Subcommand, Debug)]
enum EspCmd {
    /// Bring a tunnel up from its TOML file (see ports/esp/example.toml);
    /// returns once it is up and keeps it running in the background.
    Up {
        /// The configuration file.
        config: PathBuf,
        /// Stay in the foreground (stop with Ctrl-C or SIGTERM).
        #[arg(long)]
        foreground: bool,
    },
    /// Stop the tunnel NAME.
    Down {
        /// The tunnel's name (`name` in its configuration).
        name: String,
        /// Where its pid and status files are (the configuration's run_dir).
        #[arg(long, default_value = RUN_DIR)]
        run_dir: PathBuf,
    },
    /// Per-SA counters of the running tunnels: packets, bytes, replay
    /// drops, authentication failures, sequence numbers.
    Status {
        /// JSON (an array, one object per tunnel).
        #[arg(long)]
        json: bool,
        /// Where the pid and status files are.
        #[arg(long, default_value = RUN_DIR)]
        run_dir: PathBuf,
    },
}

pub fn run(a: &EspArgs, spec: Option<&str>) -> CliResult<()> {
    match &a.cmd {
        EspCmd::Up { config, foreground } => up(config, *foreground, spec),
        EspCmd::Down { name, run_dir } => down(name, run_dir),
        EspCmd::Status { json, run_dir } => status(*json, run_dir),
    }
}

fn load(path: &Path) -> CliResult<Config> {
    let text = std::fs::read_to_string(path).ctx(format!("{}", path.display()))?;
    Config::parse(&text).map_err(|e| usage!("{}: {e}", path.display()))
}

fn alive(pid_file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    tunnel::signal(pid, false).ok().map(|()| pid)
}

fn up(path: &Path, foreground: bool, spec: Option<&str>) -> CliResult<()> {
    let cfg = load(path)?;
    let (pid_file, _) = tunnel::files(&cfg.run_dir, &cfg.name);
    if let Some(pid) = alive(&pid_file) {
        return Err(fail!("tunnel {} is already up (pid {pid})", cfg.name));
    }
    if foreground {
        let spec = cfg.devices.clone().or(spec.map(str::to_string)).unwrap_or_else(acrypto::drivers::spec::from_env);
        let engine = acrypto::engine_from_spec(&spec).map_err(|e| fail!("devices '{spec}': {e}"))?;
        let stop = tunnel::stop_on_signals();
        let name = cfg.name.clone();
        tunnel::run(&cfg, engine, stop, || eprintln!("acrypto: esp {name} up"))
            .map_err(|e| fail!("esp {}: {e}", cfg.name))?;
        return Ok(());
    }
    // The background process is this command in the foreground, in its own
    // process group, its output in a log beside the status file.
    std::fs::create_dir_all(&cfg.run_dir).ctx(&cfg.run_dir)?;
    let log_path = Path::new(&cfg.run_dir).join(format!("{}.log", cfg.name));
    let log = std::fs::File::create(&log_path).ctx(log_path.display())?;
    let exe = std::env::current_exe().ctx("the acrypto executable")?;
    let mut cmd = std::process::Command::new(exe);
    if let Some(s) = spec {
        cmd.args(["--devices", s]);
    }
    cmd.args(["esp", "up", "--foreground"]).arg(path);
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().ctx("log")?)
        .stderr(log)
        .spawn()
        .ctx("starting the tunnel process")?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(st) = child.try_wait().ctx("the tunnel process")? {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(fail!("esp {} did not come up ({st}): {}", cfg.name, text.trim()));
        }
        if alive(&pid_file) == Some(child.id()) {
            println!("esp {} up (pid {})", cfg.name, child.id());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(fail!("esp {} did not come up within 60 s (log: {})", cfg.name, log_path.display()))
}

fn down(name: &str, run_dir: &Path) -> CliResult<()> {
    let run_dir = run_dir.to_string_lossy();
    let (pid_file, _) = tunnel::files(&run_dir, name);
    let Some(pid) = alive(&pid_file) else {
        return Err(fail!("tunnel {name} is not up"));
    };
    tunnel::signal(pid, true).ctx(format!("stopping pid {pid}"))?;
    let start = Instant::now();
    while tunnel::signal(pid, false).is_ok() && pid_file.exists() {
        if start.elapsed() > Duration::from_secs(20) {
            return Err(fail!("tunnel {name} (pid {pid}) did not stop within 20 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("esp {name} down");
    Ok(())
}

fn status(json: bool, run_dir: &Path) -> CliResult<()> {
    let mut all = Vec::new();
    if let Ok(rd) = std::fs::read_dir(run_dir) {
        let mut names: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        for p in names {
            let Ok(text) = std::fs::read_to_string(&p) else { continue };
            let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            let pid_file = p.with_extension("pid");
            v["running"] = serde_json::Value::Bool(alive(&pid_file).is_some());
            all.push(v);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        return Ok(());
    }
    if all.is_empty() {
        println!("no tunnels");
        return Ok(());
    }
    for t in &all {
        let s = |k: &str| t[k].as_str().unwrap_or("?").to_string();
        println!(
            "{} ({}) tun {} {} -> {} {}, batches {} of {:.1} packets on average",
            s("name"),
            if t["running"].as_bool() == Some(true) { "up" } else { "down" },
            s("tun"),
            s("local"),
            s("remote"),
            s("encap"),
            t["batches"].as_u64().unwrap_or(0),
            t["batched_packets"].as_u64().unwrap_or(0) as f64 / t["batches"].as_u64().unwrap_or(0).max(1) as f64
        );
        println!(
            "  {:<3} {:<10} {:<36} {:>10} {:>12} {:>7} {:>7} {:>6} {:>10}",
            "dir", "spi", "transform", "packets", "bytes", "replay", "auth", "other", "seq"
        );
        for sa in t["sas"].as_array().into_iter().flatten() {
            let n = |k: &str| sa[k].as_u64().unwrap_or(0);
            println!(
                "  {:<3} {:<10} {:<36} {:>10} {:>12} {:>7} {:>7} {:>6} {:>10}",
                sa["dir"].as_str().unwrap_or("?"),
                sa["spi"].as_str().unwrap_or("?"),
                sa["transform"].as_str().unwrap_or("?"),
                n("packets"),
                n("bytes"),
                n("replay_drops"),
                n("auth_failures"),
                n("other_drops"),
                n("seq")
            );
        }
        println!("  dropped before any SA: {}", t["global"]);
    }
    Ok(())
}
