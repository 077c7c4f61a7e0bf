//! `recvmmsg` / `sendmmsg` on a connected socket: a whole batch of
//! datagrams in one system call each way.

use std::io;
use std::os::fd::RawFd;

/// Receive buffers for up to `n` datagrams of up to `size` bytes.
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    count: usize,
}

impl RecvBatch {
    /// Room for `n` datagrams of `size` bytes.
    pub fn new(n: usize, size: usize) -> Self {
        RecvBatch { bufs: vec![vec![0; size]; n], lens: vec![0; n], count: 0 }
    }

    /// Receives up to `max` datagrams without blocking; returns how many
    /// (0 when none is waiting).
    ///
    /// # Errors
    /// The system call's error, other than "would block" and EINTR.
    pub fn recv(&mut self, fd: RawFd, max: usize) -> io::Result<usize> {
        self.count = 0;
        let n = max.min(self.bufs.len());
        let mut iovs: Vec<libc::iovec> = self.bufs[..n]
            .iter_mut()
            .map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() })
            .collect();
        // SAFETY: an all-zero mmsghdr is valid (null name, no control data).
        let mut msgs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
        for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `msgs` holds `n` headers whose iovecs point into buffers
        // owned by `self.bufs` and live for the call; the kernel writes at
        // most `iov_len` bytes into each.
        let r = unsafe { libc::recvmmsg(fd, msgs.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            self.count = 0;
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        self.count = r as usize;
        for (i, m) in msgs.iter().take(self.count).enumerate() {
            // A datagram longer than the buffer is cut: marked as empty so
            // it is dropped as truncated rather than parsed short.
            let trunc = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            self.lens[i] = if trunc { 0 } else { m.msg_len as usize };
        }
        Ok(self.count)
    }

    /// The datagrams of the last `recv`.
    pub fn packets(&self) -> impl Iterator<Item = &[u8]> {
        self.bufs.iter().zip(&self.lens).take(self.count).map(|(b, &l)| &b[..l])
    }
}

/// Sends every packet of `pkts` on the connected socket `fd`, as few
/// `sendmmsg` calls as the kernel allows (one, unless it takes part).
/// Returns how many were sent; a packet the kernel refuses (e.g. no route)
/// is skipped and counted by the caller as the difference.
///
/// # Errors
/// Only errors other than EAGAIN/EINTR/ECONNREFUSED and similar transient
/// ones, which end the batch.
pub fn send_all(fd: RawFd, pkts: &[Vec<u8>]) -> io::Result<usize> {
    let mut iovs: Vec<libc::iovec> =
        pkts.iter().map(|p| libc::iovec { iov_base: p.as_ptr() as *mut _, iov_len: p.len() }).collect();
    // SAFETY: an all-zero mmsghdr is valid (null name, no control data).
    let mut msgs: Vec<libc::mmsghdr> = (0..pkts.len()).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut sent = 0;
    let mut at = 0;
    while at < msgs.len() {
        // SAFETY: `msgs[at..]` are valid headers whose iovecs point at the
        // packets, which outlive the call; the kernel only reads them.
        let r = unsafe { libc::sendmmsg(fd, msgs[at..].as_mut_ptr(), (msgs.len() - at) as u32, 0) };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                // A refused or unroutable packet: skip it, keep the rest.
                Some(libc::ECONNREFUSED | libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EMSGSIZE | libc::ENOBUFS) => {
                    at += 1
                }
                Some(libc::EAGAIN) => {
                    wait_writable(fd);
                }
                _ => return Err(e),
            }
            continue;
        }
        sent += r as usize;
        at += r as usize;
    }
    Ok(sent)
}

fn wait_writable(fd: RawFd) {
    let mut p = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut p, 1, 100) };
}
