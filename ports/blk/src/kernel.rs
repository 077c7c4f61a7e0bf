//! The kernel's nbd driver over a socketpair this process sets up
//! (`include/uapi/linux/nbd.h`): no nbd-client, no handshake. One end of
//! the pair goes to the kernel with `NBD_SET_SOCK`; `NBD_DO_IT` runs the
//! device until it is disconnected; the other end is served by
//! [`crate::nbd::serve`].

use crate::nbd::{self, TRANSMISSION_FLAGS};
use crate::volume::Volume;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const fn nbd_io(n: u64) -> u64 {
    (0xab << 8) | n
}
const NBD_SET_SOCK: u64 = nbd_io(0);
const NBD_SET_BLKSIZE: u64 = nbd_io(1);
const NBD_SET_SIZE: u64 = nbd_io(2);
const NBD_DO_IT: u64 = nbd_io(3);
const NBD_CLEAR_SOCK: u64 = nbd_io(4);
const NBD_DISCONNECT: u64 = nbd_io(8);
const NBD_SET_TIMEOUT: u64 = nbd_io(9);
const NBD_SET_FLAGS: u64 = nbd_io(10);

fn ioctl(f: &File, req: u64, arg: u64) -> io::Result<()> {
    // SAFETY: the nbd ioctls used here take an integer argument (no
    // pointer), and `f` is an open file for the duration of the call.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), req as _, arg as libc::c_ulong) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether `/dev/nbdN` (by its sysfs name) has a server attached.
pub fn in_use(dev: &Path) -> bool {
    let name = dev.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Path::new("/sys/block").join(&name).join("pid").exists()
}

/// The nbd devices of this machine, in number order.
pub fn devices() -> Vec<PathBuf> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let k = n.strip_prefix("nbd")?.parse().ok()?;
            Some((k, PathBuf::from("/dev").join(n)))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// An attached device: the kernel side runs in a thread inside
/// `NBD_DO_IT`, the server side in another.
pub struct Attached {
    /// The device node.
    pub dev: PathBuf,
    do_it: thread::JoinHandle<io::Result<()>>,
    server: thread::JoinHandle<io::Result<()>>,
}

/// Attaches `vol` to `dev` (or the first free nbd device) and waits until
/// the device is live.
///
/// # Errors
/// A one-line message: no nbd module, no free device, a device in use,
/// an ioctl refused.
pub fn attach(vol: Arc<Volume>, dev: Option<&Path>) -> Result<Attached, String> {
    let candidates: Vec<PathBuf> = match dev {
        Some(d) => vec![d.to_path_buf()],
        None => {
            let all = devices();
            if all.is_empty() {
                return Err("no nbd devices (is the nbd module loaded? modprobe nbd)".into());
            }
            all.into_iter().filter(|d| !in_use(d)).collect()
        }
    };
    let mut last = String::from("no free nbd device");
    for d in candidates {
        if in_use(&d) {
            last = format!("{}: in use", d.display());
            continue;
        }
        match attach_one(vol.clone(), &d) {
            Ok(a) => return Ok(a),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && dev.is_none() => {
                last = format!("{}: {e}", d.display());
            }
            Err(e) => return Err(format!("{}: {e}", d.display())),
        }
    }
    Err(last)
}

fn attach_one(vol: Arc<Volume>, dev: &Path) -> io::Result<Attached> {
    let f = OpenOptions::new().read(true).write(true).open(dev)?;
    let (ours, theirs) = UnixStream::pair()?;
    ioctl(&f, NBD_SET_BLKSIZE, u64::from(vol.sector_size()))?;
    ioctl(&f, NBD_SET_SIZE, vol.size())?;
    ioctl(&f, NBD_SET_FLAGS, u64::from(TRANSMISSION_FLAGS))?;
    ioctl(&f, NBD_SET_TIMEOUT, 0)?;
    ioctl(&f, NBD_SET_SOCK, theirs.as_raw_fd() as u64)?;
    // The kernel holds its own reference on the socket now.
    drop(theirs);
    let server = thread::spawn(move || nbd::serve(ours, vol));
    let f2 = f.try_clone()?;
    let do_it = thread::spawn(move || {
        let r = ioctl(&f2, NBD_DO_IT, 0);
        let _ = ioctl(&f2, NBD_CLEAR_SOCK, 0);
        r
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !in_use(dev) {
        if do_it.is_finished() || Instant::now() > deadline {
            let r = do_it.join().unwrap_or_else(|_| Err(io::Error::other("NBD_DO_IT panicked")));
            return Err(r.err().unwrap_or_else(|| io::Error::other("the device did not come up")));
        }
        thread::sleep(Duration::from_millis(10));
    }
    drop(f);
    Ok(Attached { dev: dev.to_path_buf(), do_it, server })
}

impl Attached {
    /// Waits until the device is disconnected (by [`disconnect`]) and the
    /// server has answered everything and synced the backing file.
    ///
    /// # Errors
    /// The server's or the device's.
    pub fn wait(self) -> io::Result<()> {
        let d = self.do_it.join().unwrap_or_else(|_| Err(io::Error::other("NBD_DO_IT panicked")));
        let s = self.server.join().unwrap_or_else(|_| Err(io::Error::other("the NBD server panicked")));
        // A disconnect makes NBD_DO_IT return an error on some kernels; the
        // server's outcome (everything answered and synced) is what matters.
        drop(d);
        s
    }
}

/// Flushes `dev`'s cache and disconnects it; its server then syncs and
/// exits.
///
/// # Errors
/// The open, sync or ioctl's.
pub fn disconnect(dev: &Path) -> io::Result<()> {
    let f = OpenOptions::new().read(true).write(true).open(dev)?;
    f.sync_all()?;
    ioctl(&f, NBD_DISCONNECT, 0)
}
