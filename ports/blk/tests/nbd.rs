//! The port on the host: sectors on disk as dm-crypt lays them out
//! (checked against the RustCrypto reference with dm-crypt's IV rules
//! written out here), and the NBD protocol over a socketpair and TCP with
//! a test client: pipelined requests answered out of order, flush, FUA,
//! out-of-range and unaligned I/O, the newstyle handshake.

use acrypto_blk::nbd::{self, Header, CMD_DISC, CMD_FLAG_FUA, CMD_FLUSH, CMD_READ, CMD_WRITE, REPLY_MAGIC};
use acrypto_blk::{CipherSpec, Volume};
use aes::cipher::{block_padding::NoPadding, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

fn temp(name: &str, len: u64) -> (PathBuf, File) {
    let p = std::env::temp_dir().join(format!("acrypto-blk-{}-{name}", std::process::id()));
    let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
    f.set_len(len).unwrap();
    (p, f)
}

struct Case {
    cipher: &'static str,
    key_bytes: usize,
    sector: u32,
    large: bool,
    offset: u64,
    skip: u64,
}

fn spec(c: &Case, key: &[u8]) -> CipherSpec {
    CipherSpec {
        cipher: c.cipher.into(),
        key: Zeroizing::new(key.to_vec()),
        data_offset: c.offset * 512,
        size: None,
        sector_size: c.sector,
        iv_offset: c.skip,
        iv_large_sectors: c.large,
    }
}

/// dm-crypt's IV of data sector `i`, written out from dm-crypt.c.
fn reference_iv(c: &Case, key: &[u8], i: u64) -> [u8; 16] {
    let units = u64::from(c.sector / 512);
    let mut n = i * units + c.skip;
    if c.large {
        n /= units;
    }
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&n.to_le_bytes());
    if c.cipher.contains("essiv") {
        let salt = Sha256::digest(key);
        let aes = aes::Aes256::new_from_slice(&salt).unwrap();
        aes.encrypt_block((&mut iv).into());
    }
    iv
}

fn reference_encrypt(c: &Case, key: &[u8], i: u64, sector: &mut [u8]) {
    let iv = reference_iv(c, key, i);
    if c.cipher.contains("xts") {
        let h = key.len() / 2;
        if h == 16 {
            let x = xts_mode::Xts128::new(
                aes::Aes128::new_from_slice(&key[..h]).unwrap(),
                aes::Aes128::new_from_slice(&key[h..]).unwrap(),
            );
            x.encrypt_sector(sector, iv);
        } else {
            let x = xts_mode::Xts128::new(
                aes::Aes256::new_from_slice(&key[..h]).unwrap(),
                aes::Aes256::new_from_slice(&key[h..]).unwrap(),
            );
            x.encrypt_sector(sector, iv);
        }
    } else {
        let len = sector.len();
        match key.len() {
            16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
                .unwrap()
                .encrypt_padded_mut::<NoPadding>(sector, len)
                .map(|_| ())
                .unwrap(),
            32 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
                .unwrap()
                .encrypt_padded_mut::<NoPadding>(sector, len)
                .map(|_| ())
                .unwrap(),
            _ => unreachable!(),
        }
    }
}

fn engine() -> acrypto::Engine {
    acrypto::soft_engine(2).unwrap()
}

const CASES: &[Case] = &[
    Case { cipher: "aes-xts-plain64", key_bytes: 64, sector: 512, large: false, offset: 0, skip: 0 },
    Case { cipher: "aes-xts-plain64", key_bytes: 32, sector: 4096, large: false, offset: 8, skip: 16 },
    Case { cipher: "aes-xts-plain64", key_bytes: 64, sector: 4096, large: true, offset: 3, skip: 24 },
    Case { cipher: "aes-cbc-essiv:sha256", key_bytes: 32, sector: 512, large: false, offset: 1, skip: 7 },
    Case { cipher: "aes-cbc-essiv:sha256", key_bytes: 16, sector: 4096, large: true, offset: 0, skip: 8 },
    Case { cipher: "aes-cbc-plain64", key_bytes: 32, sector: 4096, large: false, offset: 2, skip: 0 },
    Case { cipher: "aes-cbc-plain64", key_bytes: 32, sector: 512, large: false, offset: 0, skip: 1 << 40 },
];

#[test]
fn sectors_on_disk_are_dm_crypt_s() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for (k, c) in CASES.iter().enumerate() {
        let mut key = vec![0u8; c.key_bytes];
        rng.fill_bytes(&mut key);
        let size = 64 * 1024u64;
        let (path, f) = temp(&format!("layout{k}"), c.offset * 512 + size);
        let vol = Volume::open(f.try_clone().unwrap(), &spec(c, &key), engine()).unwrap();
        assert_eq!(vol.size(), size);
        let mut plain = vec![0u8; size as usize];
        rng.fill_bytes(&mut plain);
        // Written in two pieces, so a batch starts at a sector other than 0.
        let half = (size / 2) as usize;
        vol.write(0, plain[..half].to_vec(), false).unwrap();
        vol.write(half as u64, plain[half..].to_vec(), true).unwrap();
        let mut disk = vec![0u8; (c.offset * 512 + size) as usize];
        f.read_exact_at(&mut disk, 0).unwrap();
        assert!(disk[..(c.offset * 512) as usize].iter().all(|&b| b == 0), "{}: wrote before the offset", c.cipher);
        let mut want = plain.clone();
        for (i, s) in want.chunks_mut(c.sector as usize).enumerate() {
            reference_encrypt(c, &key, i as u64, s);
        }
        assert!(
            disk[(c.offset * 512) as usize..] == want[..],
            "case {k} {}: ciphertext differs from dm-crypt's",
            c.cipher
        );
        assert_eq!(vol.read(0, size as u32).unwrap(), plain, "case {k}: read back");
        let s = c.sector as u64;
        assert_eq!(vol.read(3 * s, 2 * s as u32).unwrap(), plain[3 * s as usize..5 * s as usize]);
        // Shredded (a stop signal's path): the keys are gone, every I/O
        // fails and nothing more is written.
        vol.shred();
        for r in [vol.read(0, s as u32).map(drop), vol.write(0, vec![0; s as usize], true)] {
            match r {
                Err(acrypto_blk::volume::IoError::Failed(m)) => assert!(m.contains("shredded"), "{m}"),
                other => panic!("case {k}: I/O after shred gave {other:?}"),
            }
        }
        let mut after = vec![0u8; disk.len()];
        f.read_exact_at(&mut after, 0).unwrap();
        assert!(after == disk, "case {k}: a write after shred reached the disk");
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn bad_layouts_are_refused_with_a_message() {
    let key: Vec<u8> = (0..64).collect();
    let c = &CASES[0];
    let (path, f) = temp("small", 4096);
    let mut s = spec(c, &key);
    s.data_offset = 4096;
    let e = Volume::open(f.try_clone().unwrap(), &s, engine()).unwrap_err();
    assert!(e.contains("too small for the data offset"), "{e}");
    s.data_offset = 0;
    s.size = Some(8192);
    let e = Volume::open(f.try_clone().unwrap(), &s, engine()).unwrap_err();
    assert!(e.contains("too small for a data segment"), "{e}");
    s.size = None;
    s.sector_size = 4096;
    s.data_offset = 512;
    f.set_len(8192).unwrap();
    let e = Volume::open(f.try_clone().unwrap(), &s, engine()).unwrap_err();
    assert!(e.contains("not a whole number of 4096-byte sectors"), "{e}");
    std::fs::remove_file(path).unwrap();
}

struct Client<S> {
    s: S,
}

impl<S: Read + Write> Client<S> {
    fn send(&mut self, h: Header, data: &[u8]) {
        self.s.write_all(&h.encode()).unwrap();
        self.s.write_all(data).unwrap();
    }
    fn reply(&mut self) -> (u32, u64) {
        let mut b = [0u8; 16];
        self.s.read_exact(&mut b).unwrap();
        assert_eq!(u32::from_be_bytes(b[0..4].try_into().unwrap()), REPLY_MAGIC);
        (u32::from_be_bytes(b[4..8].try_into().unwrap()), u64::from_be_bytes(b[8..16].try_into().unwrap()))
    }
    fn read_data(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.s.read_exact(&mut v).unwrap();
        v
    }
}

fn h(cmd: u16, flags: u16, handle: u64, from: u64, len: u32) -> Header {
    Header { flags, cmd, handle, from, len }
}

#[test]
fn nbd_over_a_socketpair_pipelined_out_of_order() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let key: Vec<u8> = (100..164).collect();
    let size = 1 << 20;
    let (path, f) = temp("nbd", size);
    let vol = Arc::new(Volume::open(f, &spec(&CASES[0], &key), engine()).unwrap());
    let (ours, theirs) = UnixStream::pair().unwrap();
    let server = std::thread::spawn(move || nbd::serve(theirs, vol));
    let mut c = Client { s: ours };
    // 64 writes of random sizes in flight at once, no reply awaited.
    // What the device holds before: the zeroed backing file, decrypted.
    c.send(h(CMD_READ, 0, 999, 0, size as u32), &[]);
    assert_eq!(c.reply(), (0, 999));
    let mut model = c.read_data(size as usize);
    let mut lens = HashMap::new();
    for handle in 0..64u64 {
        let sectors = rng.gen_range(1..=64u64);
        let from = rng.gen_range(0..(size / 512 - sectors)) * 512;
        let mut d = vec![0u8; (sectors * 512) as usize];
        rng.fill_bytes(&mut d);
        // Overlapping writes in flight together have no order; keep them apart.
        if lens.values().any(|&(f, l): &(u64, u64)| from < f + l && f < from + sectors * 512) {
            continue;
        }
        model[from as usize..(from + sectors * 512) as usize].copy_from_slice(&d);
        lens.insert(handle, (from, sectors * 512));
        let flags = if handle % 7 == 0 { CMD_FLAG_FUA } else { 0 };
        c.send(h(CMD_WRITE, flags, handle, from, d.len() as u32), &d);
    }
    let mut order = Vec::new();
    for _ in 0..lens.len() {
        let (err, handle) = c.reply();
        assert_eq!(err, 0);
        assert!(lens.contains_key(&handle));
        order.push(handle);
    }
    let mut sorted = order.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), lens.len(), "every write answered once");
    c.send(h(CMD_FLUSH, 0, 1000, 0, 0), &[]);
    assert_eq!(c.reply(), (0, 1000));
    // Reads of the whole device in 16 pieces, all in flight.
    let piece = size / 16;
    for k in 0..16 {
        c.send(h(CMD_READ, 0, 2000 + k, k * piece, piece as u32), &[]);
    }
    for _ in 0..16 {
        let (err, handle) = c.reply();
        assert_eq!(err, 0);
        let k = handle - 2000;
        let d = c.read_data(piece as usize);
        assert!(d == model[(k * piece) as usize..((k + 1) * piece) as usize], "piece {k}");
    }
    // Out of range, unaligned, unknown: errors, and the stream goes on.
    c.send(h(CMD_READ, 0, 3000, size - 512, 1024), &[]);
    assert_eq!(c.reply(), (libc::EINVAL as u32, 3000));
    c.send(h(CMD_WRITE, 0, 3001, size, 512), &[9u8; 512]);
    assert_eq!(c.reply(), (libc::ENOSPC as u32, 3001));
    c.send(h(CMD_WRITE, 0, 3002, 100, 512), &[9u8; 512]);
    assert_eq!(c.reply(), (libc::EINVAL as u32, 3002));
    c.send(h(CMD_READ, 0, 3003, u64::MAX - 511, 512), &[]);
    assert_eq!(c.reply(), (libc::EINVAL as u32, 3003));
    c.send(h(4, 0, 3004, 0, 512), &[]);
    assert_eq!(c.reply(), (libc::EINVAL as u32, 3004));
    // Nothing of the refused writes reached the data.
    c.send(h(CMD_READ, 0, 3005, 0, 1024), &[]);
    assert_eq!(c.reply(), (0, 3005));
    assert!(c.read_data(1024) == model[..1024]);
    c.send(h(CMD_DISC, 0, 3006, 0, 0), &[]);
    server.join().unwrap().unwrap();
    std::fs::remove_file(path).unwrap();
}

#[test]
fn newstyle_handshake_then_transmission_over_tcp() {
    let key = [4u8; 32];
    let c = Case { cipher: "aes-cbc-essiv:sha256", key_bytes: 32, sector: 4096, large: true, offset: 0, skip: 0 };
    let (path, f) = temp("tcp", 1 << 20);
    let vol = Arc::new(Volume::open(f, &spec(&c, &key), engine()).unwrap());
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || nbd::listen(l, vol));
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut hello = [0u8; 18];
    s.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..8], b"NBDMAGIC");
    assert_eq!(&hello[8..16], b"IHAVEOPT");
    assert_eq!(u16::from_be_bytes([hello[16], hello[17]]) & 3, 3);
    s.write_all(&3u32.to_be_bytes()).unwrap();
    let opt = |s: &mut std::net::TcpStream, o: u32, data: &[u8]| {
        let mut m = nbd::IHAVEOPT.to_be_bytes().to_vec();
        m.extend_from_slice(&o.to_be_bytes());
        m.extend_from_slice(&(data.len() as u32).to_be_bytes());
        m.extend_from_slice(data);
        s.write_all(&m).unwrap();
    };
    let rep = |s: &mut std::net::TcpStream| {
        let mut b = [0u8; 20];
        s.read_exact(&mut b).unwrap();
        assert_eq!(u64::from_be_bytes(b[..8].try_into().unwrap()), nbd::OPT_REPLY_MAGIC);
        let kind = u32::from_be_bytes(b[12..16].try_into().unwrap());
        let mut d = vec![0u8; u32::from_be_bytes(b[16..20].try_into().unwrap()) as usize];
        s.read_exact(&mut d).unwrap();
        (kind, d)
    };
    // An option we do not know: unsupported, and the handshake goes on.
    opt(&mut s, 8, &[]);
    assert_eq!(rep(&mut s).0, nbd::REP_ERR_UNSUP);
    let mut go = 0u32.to_be_bytes().to_vec();
    go.extend_from_slice(&0u16.to_be_bytes());
    opt(&mut s, nbd::OPT_GO, &go);
    let (kind, d) = rep(&mut s);
    assert_eq!(kind, nbd::REP_INFO);
    assert_eq!(u64::from_be_bytes(d[2..10].try_into().unwrap()), 1 << 20);
    let (kind, d) = rep(&mut s);
    assert_eq!(kind, nbd::REP_INFO);
    assert_eq!(u32::from_be_bytes(d[2..6].try_into().unwrap()), 4096, "minimum block size is the sector");
    assert_eq!(rep(&mut s).0, nbd::REP_ACK);
    let mut cl = Client { s };
    let data: Vec<u8> = (0..8192).map(|i| (i * 7) as u8).collect();
    cl.send(h(CMD_WRITE, 0, 1, 4096, 8192), &data);
    assert_eq!(cl.reply(), (0, 1));
    cl.send(h(CMD_READ, 0, 2, 4096, 8192), &[]);
    assert_eq!(cl.reply(), (0, 2));
    assert_eq!(cl.read_data(8192), data);
    cl.send(h(CMD_READ, 0, 3, 512, 4096), &[]);
    assert_eq!(cl.reply(), (libc::EINVAL as u32, 3), "unaligned to the 4096-byte sector");
    cl.send(h(CMD_DISC, 0, 4, 0, 0), &[]);
    std::fs::remove_file(path).unwrap();
}
