//! The NBD protocol (the NBD project's `doc/proto.md`): the transmission
//! phase the kernel's nbd driver speaks over its socket, and the fixed
//! newstyle handshake that comes before it for `--listen` clients.
//!
//! Requests are read by one thread and handed to a pool of workers, so
//! many are in flight and replies go out in whatever order they finish
//! (each reply carries its request's handle). Flush and FUA writes are
//! synced before their reply.

use crate::volume::{IoError, Volume, MAX_IO};
use std::io::{self, Read, Write};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::thread;

/// Request magic.
pub const REQUEST_MAGIC: u32 = 0x2560_9513;
/// Simple reply magic.
pub const REPLY_MAGIC: u32 = 0x6744_6698;
/// Commands.
pub const CMD_READ: u16 = 0;
/// Write.
pub const CMD_WRITE: u16 = 1;
/// Disconnect.
pub const CMD_DISC: u16 = 2;
/// Flush.
pub const CMD_FLUSH: u16 = 3;
/// Command flag: force unit access.
pub const CMD_FLAG_FUA: u16 = 1;
/// Transmission flags: has flags, can flush, can FUA.
pub const FLAG_HAS_FLAGS: u16 = 1;
/// The server takes flush.
pub const FLAG_SEND_FLUSH: u16 = 1 << 2;
/// The server takes FUA.
pub const FLAG_SEND_FUA: u16 = 1 << 3;
/// The server handles requests out of order... (multiple connections).
pub const FLAG_CAN_MULTI_CONN: u16 = 1 << 8;
/// What this server offers.
pub const TRANSMISSION_FLAGS: u16 = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA;

/// Handshake magics.
pub const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
/// "IHAVEOPT".
pub const IHAVEOPT: u64 = 0x4948_4156_454F_5054;
/// Option reply magic.
pub const OPT_REPLY_MAGIC: u64 = 0x3_e889_0455_65a9;
/// Handshake flags: fixed newstyle, no zeroes.
pub const HS_FIXED_NEWSTYLE: u16 = 1;
/// Omit the 124 zero bytes after NBD_OPT_EXPORT_NAME.
pub const HS_NO_ZEROES: u16 = 2;
/// Options.
pub const OPT_EXPORT_NAME: u32 = 1;
/// Abort.
pub const OPT_ABORT: u32 = 2;
/// List exports.
pub const OPT_LIST: u32 = 3;
/// Info.
pub const OPT_INFO: u32 = 6;
/// Go.
pub const OPT_GO: u32 = 7;
/// Option replies.
pub const REP_ACK: u32 = 1;
/// An export in a list.
pub const REP_SERVER: u32 = 2;
/// Info.
pub const REP_INFO: u32 = 3;
/// Unsupported option.
pub const REP_ERR_UNSUP: u32 = 0x8000_0001;
/// Invalid option.
pub const REP_ERR_INVALID: u32 = 0x8000_0003;
/// Unknown export.
pub const REP_ERR_UNKNOWN: u32 = 0x8000_0006;
/// Info types.
pub const INFO_EXPORT: u16 = 0;
/// Block size constraints.
pub const INFO_BLOCK_SIZE: u16 = 3;

/// Workers per connection: requests in flight at once.
pub const WORKERS: usize = 16;

/// One request of the transmission phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Command flags.
    pub flags: u16,
    /// Command.
    pub cmd: u16,
    /// The client's handle, echoed in the reply.
    pub handle: u64,
    /// Byte offset.
    pub from: u64,
    /// Length.
    pub len: u32,
}

impl Header {
    /// Parses the 28 bytes of a request.
    ///
    /// # Errors
    /// `InvalidData` for a bad magic.
    pub fn parse(b: &[u8; 28]) -> io::Result<Header> {
        let magic = u32::from_be_bytes(b[0..4].try_into().unwrap_or_default());
        if magic != REQUEST_MAGIC {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad NBD request magic {magic:#x}")));
        }
        Ok(Header {
            flags: u16::from_be_bytes([b[4], b[5]]),
            cmd: u16::from_be_bytes([b[6], b[7]]),
            handle: u64::from_be_bytes(b[8..16].try_into().unwrap_or_default()),
            from: u64::from_be_bytes(b[16..24].try_into().unwrap_or_default()),
            len: u32::from_be_bytes(b[24..28].try_into().unwrap_or_default()),
        })
    }

    /// The 28 bytes of this request (for clients and tests).
    pub fn encode(&self) -> [u8; 28] {
        let mut b = [0u8; 28];
        b[0..4].copy_from_slice(&REQUEST_MAGIC.to_be_bytes());
        b[4..6].copy_from_slice(&self.flags.to_be_bytes());
        b[6..8].copy_from_slice(&self.cmd.to_be_bytes());
        b[8..16].copy_from_slice(&self.handle.to_be_bytes());
        b[16..24].copy_from_slice(&self.from.to_be_bytes());
        b[24..28].copy_from_slice(&self.len.to_be_bytes());
        b
    }
}

/// The 16 bytes of a simple reply.
pub fn reply_header(error: u32, handle: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&REPLY_MAGIC.to_be_bytes());
    b[4..8].copy_from_slice(&error.to_be_bytes());
    b[8..16].copy_from_slice(&handle.to_be_bytes());
    b
}

/// A connection that can be split into a reading and a writing half.
pub trait Conn: Read + Write + Send + Sized + 'static {
    /// A second handle on the same connection.
    ///
    /// # Errors
    /// The dup's.
    fn split(&self) -> io::Result<Self>;
}

impl Conn for std::os::unix::net::UnixStream {
    fn split(&self) -> io::Result<Self> {
        self.try_clone()
    }
}

impl Conn for std::net::TcpStream {
    fn split(&self) -> io::Result<Self> {
        self.try_clone()
    }
}

enum Work {
    Read(Header),
    Write(Header, Vec<u8>),
    Flush(Header),
    Refuse(Header, u32),
}

fn send(w: &Mutex<impl Write>, error: u32, handle: u64, data: Option<&[u8]>) -> io::Result<()> {
    let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
    w.write_all(&reply_header(error, handle))?;
    if let Some(d) = data {
        w.write_all(d)?;
    }
    w.flush()
}

fn handle(vol: &Volume, w: &Mutex<impl Write>, work: Work) -> io::Result<()> {
    match work {
        Work::Read(h) => match vol.read(h.from, h.len) {
            Ok(d) => send(w, 0, h.handle, Some(&d)),
            Err(e) => send(w, e.errno(), h.handle, None),
        },
        Work::Write(h, d) => {
            let r = vol.write(h.from, d, h.flags & CMD_FLAG_FUA != 0);
            send(w, r.err().map_or(0, |e: IoError| e.errno()), h.handle, None)
        }
        Work::Flush(h) => {
            let r = vol.flush();
            send(w, if r.is_ok() { 0 } else { libc::EIO as u32 }, h.handle, None)
        }
        Work::Refuse(h, errno) => send(w, errno, h.handle, None),
    }
}

/// Serves the transmission phase on `conn` until the client disconnects
/// (`NBD_CMD_DISC` or end of stream). Requests in flight finish and are
/// answered first; the backing file is synced before it returns.
///
/// # Errors
/// A broken connection or a request with a bad magic.
pub fn serve<C: Conn>(conn: C, vol: Arc<Volume>) -> io::Result<()> {
    let writer = Arc::new(Mutex::new(conn.split()?));
    let mut reader = io::BufReader::new(conn);
    let (tx, rx) = sync_channel::<Work>(WORKERS * 2);
    let rx = Arc::new(Mutex::new(rx));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (rx, vol, writer) = (rx.clone(), vol.clone(), writer.clone());
            thread::spawn(move || -> io::Result<()> {
                loop {
                    let work = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(w) => w,
                        Err(_) => return Ok(()),
                    };
                    handle(&vol, &writer, work)?;
                }
            })
        })
        .collect();
    let result = read_loop(&mut reader, &tx);
    drop(tx);
    let mut worker_err = Ok(());
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => worker_err = Err(e),
            Err(_) => worker_err = Err(io::Error::other("an NBD worker panicked")),
        }
    }
    let synced = vol.flush();
    result.and(worker_err).and(synced)
}

fn read_loop(r: &mut impl Read, tx: &std::sync::mpsc::SyncSender<Work>) -> io::Result<()> {
    loop {
        let mut b = [0u8; 28];
        match r.read_exact(&mut b) {
            Ok(()) => {}
            // The client went away between requests: a disconnect.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let h = Header::parse(&b)?;
        let work = match h.cmd {
            CMD_READ => Work::Read(h),
            CMD_WRITE if h.len > MAX_IO => {
                // Too long to take: drain it so the stream stays in step.
                io::copy(&mut r.take(u64::from(h.len)), &mut io::sink())?;
                Work::Refuse(h, libc::EINVAL as u32)
            }
            CMD_WRITE => {
                let mut d = vec![0u8; h.len as usize];
                r.read_exact(&mut d)?;
                Work::Write(h, d)
            }
            CMD_FLUSH => Work::Flush(h),
            CMD_DISC => return Ok(()),
            _ => Work::Refuse(h, libc::EINVAL as u32),
        };
        if tx.send(work).is_err() {
            return Err(io::Error::other("NBD workers stopped"));
        }
    }
}

/// The fixed newstyle handshake, server side, for a volume exported under
/// any name. Returns once the client chose the export (`NBD_OPT_GO` or
/// `NBD_OPT_EXPORT_NAME`); `Ok(false)` when it aborted or left.
///
/// # Errors
/// A broken connection or a client that does not speak fixed newstyle.
pub fn handshake(c: &mut (impl Read + Write), size: u64, block_size: u32) -> io::Result<bool> {
    let mut hello = Vec::with_capacity(18);
    hello.extend_from_slice(&NBDMAGIC.to_be_bytes());
    hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
    hello.extend_from_slice(&(HS_FIXED_NEWSTYLE | HS_NO_ZEROES).to_be_bytes());
    c.write_all(&hello)?;
    c.flush()?;
    let client_flags = read_u32(c)?;
    if client_flags & u32::from(HS_FIXED_NEWSTYLE) == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "client does not speak fixed newstyle NBD"));
    }
    let no_zeroes = client_flags & u32::from(HS_NO_ZEROES) != 0;
    loop {
        let mut b = [0u8; 16];
        match c.read_exact(&mut b) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        if u64::from_be_bytes(b[0..8].try_into().unwrap_or_default()) != IHAVEOPT {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad NBD option magic"));
        }
        let opt = u32::from_be_bytes(b[8..12].try_into().unwrap_or_default());
        let len = u32::from_be_bytes(b[12..16].try_into().unwrap_or_default());
        if len > 4096 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "NBD option too long"));
        }
        let mut data = vec![0u8; len as usize];
        c.read_exact(&mut data)?;
        match opt {
            OPT_EXPORT_NAME => {
                let mut m = Vec::with_capacity(134);
                m.extend_from_slice(&size.to_be_bytes());
                m.extend_from_slice(&TRANSMISSION_FLAGS.to_be_bytes());
                if !no_zeroes {
                    m.extend_from_slice(&[0u8; 124]);
                }
                c.write_all(&m)?;
                c.flush()?;
                return Ok(true);
            }
            OPT_ABORT => {
                opt_reply(c, opt, REP_ACK, &[])?;
                return Ok(false);
            }
            OPT_LIST => {
                // One export, the default (empty) name.
                opt_reply(c, opt, REP_SERVER, &0u32.to_be_bytes())?;
                opt_reply(c, opt, REP_ACK, &[])?;
            }
            OPT_INFO | OPT_GO => {
                if data.len() < 6
                    || data.len() < 6 + u32::from_be_bytes(data[0..4].try_into().unwrap_or_default()) as usize
                {
                    opt_reply(c, opt, REP_ERR_INVALID, &[])?;
                    continue;
                }
                let mut export = INFO_EXPORT.to_be_bytes().to_vec();
                export.extend_from_slice(&size.to_be_bytes());
                export.extend_from_slice(&TRANSMISSION_FLAGS.to_be_bytes());
                opt_reply(c, opt, REP_INFO, &export)?;
                let mut bs = INFO_BLOCK_SIZE.to_be_bytes().to_vec();
                bs.extend_from_slice(&block_size.to_be_bytes());
                bs.extend_from_slice(&block_size.max(4096).to_be_bytes());
                bs.extend_from_slice(&MAX_IO.to_be_bytes());
                opt_reply(c, opt, REP_INFO, &bs)?;
                opt_reply(c, opt, REP_ACK, &[])?;
                if opt == OPT_GO {
                    return Ok(true);
                }
            }
            _ => opt_reply(c, opt, REP_ERR_UNSUP, &[])?,
        }
    }
}

fn read_u32(c: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    c.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn opt_reply(c: &mut impl Write, opt: u32, kind: u32, data: &[u8]) -> io::Result<()> {
    let mut m = Vec::with_capacity(20 + data.len());
    m.extend_from_slice(&OPT_REPLY_MAGIC.to_be_bytes());
    m.extend_from_slice(&opt.to_be_bytes());
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&(data.len() as u32).to_be_bytes());
    m.extend_from_slice(data);
    c.write_all(&m)?;
    c.flush()
}

/// Serves `vol` on a TCP listener: each client gets the handshake, then
/// the transmission phase, on its own thread. Never returns unless the
/// listener fails.
///
/// # Errors
/// The listener's.
pub fn listen(l: std::net::TcpListener, vol: Arc<Volume>) -> io::Result<()> {
    for c in l.incoming() {
        let mut c = match c {
            Ok(c) => c,
            Err(e) => {
                eprintln!("acrypto: nbd: accept: {e}");
                continue;
            }
        };
        let vol = vol.clone();
        thread::spawn(move || {
            let _ = c.set_nodelay(true);
            let r =
                handshake(&mut c, vol.size(), vol.sector_size()).and_then(|go| if go { serve(c, vol) } else { Ok(()) });
            if let Err(e) = r {
                eprintln!("acrypto: nbd client: {e}");
            }
        });
    }
    Ok(())
}
