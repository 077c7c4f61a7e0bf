//! The running tunnel: the TUN device, the outer socket (ESP in UDP or raw
//! ESP), and the loop that reads what is ready on both (up to the batch
//! size each, never waiting for more), passes it to the [`Endpoint`] as one
//! batch, and writes the results (the ESP packets with one `sendmmsg`).
//! The status file is rewritten a few times a second.

use crate::config::{Config, Encap};
use crate::endpoint::{Endpoint, Global, SaStatus};
use crate::mmsg::{send_all, RecvBatch};
use acrypto::Engine;
use serde::Serialize;
use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What `acrypto esp status` reads.
#[derive(Debug, Serialize)]
pub struct Status<'a> {
    /// The tunnel's name.
    pub name: &'a str,
    /// The process serving it.
    pub pid: u32,
    /// TUN device.
    pub tun: &'a str,
    /// Outer local address.
    pub local: String,
    /// Outer remote address.
    pub remote: String,
    /// "espinudp SPORT DPORT" or "esp".
    pub encap: String,
    /// Largest batch.
    pub batch: usize,
    /// Batches processed.
    pub batches: u64,
    /// Packets in them.
    pub batched_packets: u64,
    /// Drops belonging to no SA.
    pub global: &'a Global,
    /// Outbound packets the socket refused.
    pub send_errors: u64,
    /// Per SA.
    pub sas: Vec<SaStatus>,
}

/// The pid and status files of tunnel `name` under `dir`.
pub fn files(dir: &str, name: &str) -> (PathBuf, PathBuf) {
    let d = Path::new(dir);
    (d.join(format!("{name}.pid")), d.join(format!("{name}.json")))
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGTERM and SIGINT stop [`run`] (it checks between batches).
pub fn stop_on_signals() -> &'static AtomicBool {
    for s in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; no SA_RESTART, so poll() returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
    &STOP
}

enum Outer {
    Udp(UdpSocket),
    Raw(OwnedFd),
}

impl Outer {
    fn fd(&self) -> RawFd {
        match self {
            Outer::Udp(s) => s.as_raw_fd(),
            Outer::Raw(f) => f.as_raw_fd(),
        }
    }
}

fn sockaddr(a: std::net::Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(a).to_be() },
        sin_zero: [0; 8],
    }
}

fn raw_socket(cfg: &Config) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::IPPROTO_ESP) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    for (f, a) in [(0, cfg.local), (1, cfg.remote)] {
        let sa = sockaddr(a);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_in of `len` bytes for the call.
        let r = unsafe {
            let p = (&sa as *const libc::sockaddr_in).cast();
            if f == 0 {
                libc::bind(fd.as_raw_fd(), p, len)
            } else {
                libc::connect(fd.as_raw_fd(), p, len)
            }
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fd)
}

fn mask(len: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) })
}

/// Writes `s` to `path` atomically (a temporary file, then rename).
fn write_atomic(path: &Path, s: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, s)?;
    std::fs::rename(tmp, path)
}

/// Brings the tunnel up and runs it until `stop` is set. `ready` is called
/// once the TUN device, the routes and the socket are up and the status
/// file exists.
///
/// # Errors
/// Setting up the TUN device, a route, the socket or the run directory
/// failed, or the engine refused a session.
pub fn run(cfg: &Config, engine: Engine, stop: &AtomicBool, ready: impl FnOnce()) -> io::Result<()> {
    let mut ep = Endpoint::new(cfg, engine).map_err(io::Error::other)?;
    let mut tc = tun::Configuration::default();
    tc.tun_name(&cfg.tun_name).address(cfg.tun_addr.addr).netmask(mask(cfg.tun_addr.len)).mtu(cfg.mtu as u16).up();
    let dev = tun::create(&tc).map_err(|e| io::Error::other(format!("TUN {}: {e}", cfg.tun_name)))?;
    dev.set_nonblock()?;
    // The remote selectors of the out policies route to the TUN device.
    for p in cfg.policies.iter().filter(|p| p.dir == crate::config::Dir::Out) {
        let dst = format!("{}/{}", p.dst.addr, p.dst.len);
        let st = std::process::Command::new("ip")
            .args(["route", "replace", &dst, "dev", &cfg.tun_name])
            .status()
            .map_err(|e| io::Error::other(format!("ip route replace {dst}: {e}")))?;
        if !st.success() {
            return Err(io::Error::other(format!("ip route replace {dst} dev {} failed", cfg.tun_name)));
        }
    }
    let outer = match cfg.encap {
        Encap::Udp { sport, dport } => {
            let s = UdpSocket::bind((cfg.local, sport))?;
            s.connect((cfg.remote, dport))?;
            s.set_nonblocking(true)?;
            Outer::Udp(s)
        }
        Encap::Raw => Outer::Raw(raw_socket(cfg)?),
    };
    std::fs::create_dir_all(&cfg.run_dir)?;
    let (pid_file, status_file) = files(&cfg.run_dir, &cfg.name);
    let mut send_errors = 0u64;
    let write_status = |ep: &Endpoint, send_errors: u64| {
        let st = Status {
            name: &cfg.name,
            pid: std::process::id(),
            tun: &cfg.tun_name,
            local: cfg.local.to_string(),
            remote: cfg.remote.to_string(),
            encap: match cfg.encap {
                Encap::Udp { sport, dport } => format!("espinudp {sport} {dport}"),
                Encap::Raw => "esp".into(),
            },
            batch: cfg.batch,
            batches: ep.batches,
            batched_packets: ep.batched_packets,
            global: &ep.global,
            send_errors,
            sas: ep.status(),
        };
        let text = serde_json::to_string_pretty(&st).unwrap_or_default();
        let _ = write_atomic(&status_file, &text);
    };
    write_status(&ep, 0);
    write_atomic(&pid_file, &format!("{}\n", std::process::id()))?;
    ready();

    let batch = cfg.batch;
    let buf_len = cfg.mtu as usize + 256;
    let mut rb = RecvBatch::new(batch, buf_len.max(2048));
    let mut tun_bufs = vec![vec![0u8; buf_len]; batch];
    let mut tun_lens = vec![0usize; batch];
    let mut to_net = Vec::with_capacity(batch);
    let mut to_tun = Vec::with_capacity(batch);
    let mut last_status = Instant::now();
    let tun_fd = dev.as_raw_fd();
    let sock_fd = outer.fd();
    let raw = matches!(outer, Outer::Raw(_));
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [
            libc::pollfd { fd: tun_fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: sock_fd, events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: two valid pollfds for the duration of the call.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, 250) };
        if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(io::Error::last_os_error());
        }
        // Whatever is ready, up to `batch` from each side: never waiting for more.
        let mut n_tun = 0;
        if fds[0].revents & libc::POLLIN != 0 {
            while n_tun < batch {
                match dev.recv(&mut tun_bufs[n_tun]) {
                    Ok(n) => {
                        tun_lens[n_tun] = n;
                        n_tun += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        }
        let n_sock = if fds[1].revents & libc::POLLIN != 0 { rb.recv(sock_fd, batch)? } else { 0 };
        if n_tun + n_sock > 0 {
            let outbound: Vec<&[u8]> = tun_bufs.iter().zip(&tun_lens).take(n_tun).map(|(b, &l)| &b[..l]).collect();
            // Only what this round received (the buffers keep the last batch).
            let inbound: Vec<&[u8]> =
                rb.packets().take(n_sock).map(|p| if raw { strip_ip_header(p) } else { p }).collect();
            to_net.clear();
            to_tun.clear();
            ep.process(&outbound, &inbound, &mut to_net, &mut to_tun);
            if !to_net.is_empty() {
                let sent = send_all(sock_fd, &to_net)?;
                send_errors += (to_net.len() - sent) as u64;
            }
            for p in &to_tun {
                let _ = dev.send(p);
            }
        }
        if last_status.elapsed() >= Duration::from_millis(200) {
            write_status(&ep, send_errors);
            last_status = Instant::now();
        }
    }
    write_status(&ep, send_errors);
    let _ = std::fs::remove_file(&pid_file);
    Ok(())
}

/// A raw IPv4 socket delivers the IP header too: what follows it (the ESP
/// packet), or an empty slice (dropped as truncated) when it is malformed.
fn strip_ip_header(p: &[u8]) -> &[u8] {
    match p.first() {
        Some(&b) if b >> 4 == 4 && usize::from(b & 15) * 4 >= 20 && usize::from(b & 15) * 4 <= p.len() => {
            &p[usize::from(b & 15) * 4..]
        }
        _ => &[],
    }
}

/// Sends SIGTERM to `pid` (`None`: only checks it is alive, signal 0).
///
/// # Errors
/// ESRCH when no such process exists, EPERM when it is not ours.
pub fn signal(pid: u32, term: bool) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill(2) on a positive pid has no memory effects.
    let r = unsafe { libc::kill(pid, if term { libc::SIGTERM } else { 0 }) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
