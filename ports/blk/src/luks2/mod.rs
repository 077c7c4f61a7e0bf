//! LUKS2: open a volume with a passphrase (both header copies and their
//! checksums, keyslots with PBKDF2 or Argon2i/Argon2id, the anti-forensic
//! merge, the digest check, the data segment) and format a new one that
//! `cryptsetup` accepts.
//!
//! The format is the cryptsetup project's LUKS2 on-disk format. Bad input
//! (a wrong passphrase, corrupt or truncated headers, an unsupported cipher)
//! is an [`Error`], never a panic, and [`format()`] writes nothing unless every
//! check has passed.

mod disk;
mod kdf;

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

/// Why a LUKS2 operation failed (one line through `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No keyslot opens with this passphrase.
    WrongPassphrase,
    /// Neither header copy is usable (the reason for each is in the text).
    BadHeader(String),
    /// Valid LUKS2 that uses something this implementation does not do.
    Unsupported(String),
    /// Metadata or parameters that are not valid LUKS2.
    Invalid(String),
    /// The backing file is too small for what the header describes.
    TooSmall(String),
    /// Reading, writing or the system random source failed.
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WrongPassphrase => write!(f, "no key available with this passphrase"),
            Error::BadHeader(s) => write!(f, "bad LUKS2 header: {s}"),
            Error::Unsupported(s) => write!(f, "unsupported LUKS2 feature: {s}"),
            Error::Invalid(s) => write!(f, "invalid LUKS2 metadata: {s}"),
            Error::TooSmall(s) => write!(f, "backing file too small: {s}"),
            Error::Io(s) => write!(f, "I/O error: {s}"),
        }
    }
}

impl std::error::Error for Error {}

/// An opened volume: what dm-crypt would be given for the data segment.
pub struct Volume {
    /// The segment's cipher spec as cryptsetup writes it, e.g.
    /// `aes-xts-plain64`, `aes-cbc-essiv:sha256`, `aes-cbc-plain64`.
    pub cipher: String,
    /// The volume (master) key; zeroized when dropped.
    pub key: Zeroizing<Vec<u8>>,
    /// Start of the encrypted data in the backing file, in bytes.
    pub offset: u64,
    /// Length of the data segment in bytes; `None` is "dynamic" (up to the
    /// end of the backing file).
    pub size: Option<u64>,
    /// Encryption sector size in bytes (512..=4096, a power of two).
    pub sector_size: u32,
    /// The segment's `iv_tweak`: dm-crypt's iv_offset, in 512-byte sectors,
    /// added to the sector number before it is scaled to `sector_size`
    /// units. Normally 0.
    pub iv_tweak: u64,
    /// Whether the IV counts sectors in `sector_size` units (dm-crypt's
    /// `iv_large_sectors`). Always false for LUKS2: cryptsetup activates a
    /// LUKS2 segment of any sector size with IVs in 512-byte units (the
    /// large-IV flag is for plain and BitLocker mappings only).
    pub iv_large_sectors: bool,
    /// The header's UUID.
    pub uuid: String,
    /// Which keyslot opened.
    pub keyslot: u32,
}

impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("cipher", &self.cipher)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("offset", &self.offset)
            .field("size", &self.size)
            .field("sector_size", &self.sector_size)
            .field("iv_tweak", &self.iv_tweak)
            .field("iv_large_sectors", &self.iv_large_sectors)
            .field("uuid", &self.uuid)
            .field("keyslot", &self.keyslot)
            .finish()
    }
}

/// The data ciphers the device can run, with their key sizes in bytes.
pub fn cipher_key_sizes(cipher: &str) -> Option<&'static [usize]> {
    match cipher {
        "aes-xts-plain64" => Some(&[32, 64]),
        "aes-cbc-essiv:sha256" | "aes-cbc-plain64" => Some(&[16, 24, 32]),
        _ => None,
    }
}

// ---- JSON helpers: every access says what was missing ----

fn field<'a>(o: &'a Map<String, Value>, k: &str, ctx: &str) -> Result<&'a Value, Error> {
    o.get(k).ok_or_else(|| Error::Invalid(format!("{ctx}: missing \"{k}\"")))
}
fn object<'a>(v: &'a Value, ctx: &str) -> Result<&'a Map<String, Value>, Error> {
    v.as_object().ok_or_else(|| Error::Invalid(format!("{ctx}: not an object")))
}
fn obj_field<'a>(o: &'a Map<String, Value>, k: &str, ctx: &str) -> Result<&'a Map<String, Value>, Error> {
    object(field(o, k, ctx)?, &format!("{ctx}.{k}"))
}
fn str_field<'a>(o: &'a Map<String, Value>, k: &str, ctx: &str) -> Result<&'a str, Error> {
    field(o, k, ctx)?.as_str().ok_or_else(|| Error::Invalid(format!("{ctx}.{k}: not a string")))
}
/// A JSON number field (LUKS2 keeps small integers as numbers).
fn int_field(o: &Map<String, Value>, k: &str, ctx: &str) -> Result<u64, Error> {
    field(o, k, ctx)?.as_u64().ok_or_else(|| Error::Invalid(format!("{ctx}.{k}: not an unsigned integer")))
}
fn u32_field(o: &Map<String, Value>, k: &str, ctx: &str) -> Result<u32, Error> {
    u32::try_from(int_field(o, k, ctx)?).map_err(|_| Error::Invalid(format!("{ctx}.{k}: out of range")))
}
/// A u64 kept as a decimal string (offsets and sizes).
fn u64str_field(o: &Map<String, Value>, k: &str, ctx: &str) -> Result<u64, Error> {
    str_field(o, k, ctx)?.parse().map_err(|_| Error::Invalid(format!("{ctx}.{k}: not a decimal u64 string")))
}
fn b64_field(o: &Map<String, Value>, k: &str, ctx: &str) -> Result<Vec<u8>, Error> {
    B64.decode(str_field(o, k, ctx)?).map_err(|_| Error::Invalid(format!("{ctx}.{k}: not base64")))
}
fn id_list(o: &Map<String, Value>, k: &str, ctx: &str) -> Result<Vec<String>, Error> {
    field(o, k, ctx)?
        .as_array()
        .ok_or_else(|| Error::Invalid(format!("{ctx}.{k}: not an array")))?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| Error::Invalid(format!("{ctx}.{k}: not a string id"))))
        .collect()
}

/// Limits that keep hostile metadata from making us allocate or spin
/// without bound (cryptsetup's own maxima or above).
const MAX_KEY: usize = 512;
const MAX_STRIPES: usize = 4000 * 16;
const MAX_ARGON_KIB: u32 = 4 * 1024 * 1024;

struct Segment {
    cipher: String,
    offset: u64,
    size: Option<u64>,
    sector_size: u32,
    iv_tweak: u64,
}

fn parse_segment(id: &str, s: &Map<String, Value>) -> Result<Segment, Error> {
    let ctx = format!("segment {id}");
    let kind = str_field(s, "type", &ctx)?;
    if kind != "crypt" {
        return Err(Error::Unsupported(format!("{ctx}: type {kind:?}")));
    }
    if s.contains_key("integrity") {
        return Err(Error::Unsupported(format!("{ctx}: integrity protection")));
    }
    let cipher = str_field(s, "encryption", &ctx)?.to_owned();
    if cipher_key_sizes(&cipher).is_none() {
        return Err(Error::Unsupported(format!(
            "{ctx}: cipher {cipher:?} (aes-xts-plain64, aes-cbc-essiv:sha256, aes-cbc-plain64 are)"
        )));
    }
    let sector_size = u32_field(s, "sector_size", &ctx)?;
    if !(512..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
        return Err(Error::Invalid(format!("{ctx}: sector size {sector_size}")));
    }
    let offset = u64str_field(s, "offset", &ctx)?;
    let size = match str_field(s, "size", &ctx)? {
        "dynamic" => None,
        _ => Some(u64str_field(s, "size", &ctx)?),
    };
    if offset % 512 != 0 || size.is_some_and(|n| n % sector_size as u64 != 0) {
        return Err(Error::Invalid(format!("{ctx}: offset or size not sector-aligned")));
    }
    let iv_tweak = u64str_field(s, "iv_tweak", &ctx)?;
    Ok(Segment { cipher, offset, size, sector_size, iv_tweak })
}

/// Try one keyslot: derive its key, decrypt its area, merge the stripes.
fn unlock_keyslot(
    f: &File,
    file_len: u64,
    bounds: (u64, u64),
    id: &str,
    ks: &Map<String, Value>,
    pass: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let ctx = format!("keyslot {id}");
    let key_size = int_field(ks, "key_size", &ctx)? as usize;
    if key_size == 0 || key_size > MAX_KEY {
        return Err(Error::Invalid(format!("{ctx}: key size {key_size}")));
    }
    let af = obj_field(ks, "af", &ctx)?;
    let af_ctx = format!("{ctx}.af");
    if str_field(af, "type", &af_ctx)? != "luks1" {
        return Err(Error::Unsupported(format!("{af_ctx}: type {:?}", str_field(af, "type", &af_ctx)?)));
    }
    let stripes = int_field(af, "stripes", &af_ctx)? as usize;
    if stripes == 0 || stripes > MAX_STRIPES {
        return Err(Error::Invalid(format!("{af_ctx}: {stripes} stripes")));
    }
    let af_hash = str_field(af, "hash", &af_ctx)?;
    kdf::hash(af_hash, &[])?;

    let area = obj_field(ks, "area", &ctx)?;
    let a_ctx = format!("{ctx}.area");
    if str_field(area, "type", &a_ctx)? != "raw" {
        return Err(Error::Unsupported(format!("{a_ctx}: type {:?}", str_field(area, "type", &a_ctx)?)));
    }
    let a_off = u64str_field(area, "offset", &a_ctx)?;
    let a_size = u64str_field(area, "size", &a_ctx)?;
    let a_cipher = str_field(area, "encryption", &a_ctx)?;
    let a_key_size = int_field(area, "key_size", &a_ctx)? as usize;
    if a_key_size == 0 || a_key_size > MAX_KEY {
        return Err(Error::Invalid(format!("{a_ctx}: key size {a_key_size}")));
    }
    let need = kdf::af_size(key_size, stripes).ok_or_else(|| Error::Invalid(format!("{a_ctx}: size overflows")))?;
    let end = a_off.checked_add(a_size).ok_or_else(|| Error::Invalid(format!("{a_ctx}: size overflows")))?;
    if (need as u64) > a_size || a_off < bounds.0 || end > bounds.1 {
        return Err(Error::Invalid(format!("{a_ctx}: outside the keyslots area or too small for its stripes")));
    }
    if end > file_len {
        return Err(Error::TooSmall(format!("{a_ctx} ends at {end}, the file at {file_len}")));
    }

    let kdf_o = obj_field(ks, "kdf", &ctx)?;
    let k_ctx = format!("{ctx}.kdf");
    let salt = b64_field(kdf_o, "salt", &k_ctx)?;
    let mut derived = Zeroizing::new(vec![0u8; a_key_size]);
    match str_field(kdf_o, "type", &k_ctx)? {
        "pbkdf2" => {
            let h = str_field(kdf_o, "hash", &k_ctx)?;
            let it = u32_field(kdf_o, "iterations", &k_ctx)?;
            kdf::pbkdf2(h, pass, &salt, it, &mut derived)?;
        }
        t @ ("argon2i" | "argon2id") => {
            let time = u32_field(kdf_o, "time", &k_ctx)?;
            let mem = u32_field(kdf_o, "memory", &k_ctx)?;
            let cpus = u32_field(kdf_o, "cpus", &k_ctx)?;
            if mem > MAX_ARGON_KIB {
                return Err(Error::Invalid(format!("{k_ctx}: memory {mem} KiB")));
            }
            kdf::argon2(t == "argon2id", pass, &salt, time, mem, cpus, &mut derived)?;
        }
        t => return Err(Error::Unsupported(format!("{k_ctx}: type {t:?}"))),
    }

    let mut buf = Zeroizing::new(vec![0u8; need]);
    f.read_exact_at(&mut buf, a_off).map_err(|e| Error::Io(format!("{a_ctx}: read: {e}")))?;
    kdf::area_crypt(a_cipher, &derived, &mut buf, false)?;
    kdf::af_merge(af_hash, &buf, key_size, stripes)
}

/// Check a candidate volume key against a pbkdf2 digest.
fn digest_matches(d: &Map<String, Value>, ctx: &str, key: &[u8]) -> Result<bool, Error> {
    let kind = str_field(d, "type", ctx)?;
    if kind != "pbkdf2" {
        return Err(Error::Unsupported(format!("{ctx}: type {kind:?}")));
    }
    let h = str_field(d, "hash", ctx)?;
    let it = u32_field(d, "iterations", ctx)?;
    let salt = b64_field(d, "salt", ctx)?;
    let want = b64_field(d, "digest", ctx)?;
    if want.is_empty() || want.len() > 64 {
        return Err(Error::Invalid(format!("{ctx}: digest of {} bytes", want.len())));
    }
    let mut got = Zeroizing::new(vec![0u8; want.len()]);
    kdf::pbkdf2(h, key, &salt, it, &mut got)?;
    Ok(kdf::ct_eq(&got, &want))
}

/// Open the LUKS2 volume on `backing` with `passphrase`: the volume key and
/// the data segment's parameters. Reads only.
pub fn open(backing: &File, passphrase: &[u8]) -> Result<Volume, Error> {
    let hdr = disk::read_best(backing)?;
    let file_len = backing.metadata().map_err(|e| Error::Io(format!("stat: {e}")))?.len();
    let root = object(&hdr.json, "metadata")?;

    let config = obj_field(root, "config", "metadata")?;
    let json_size = u64str_field(config, "json_size", "config")?;
    if json_size != hdr.hdr_size - disk::BIN_SIZE as u64 {
        return Err(Error::Invalid(format!(
            "config.json_size {json_size} does not match the header size {}",
            hdr.hdr_size
        )));
    }
    let keyslots_size = u64str_field(config, "keyslots_size", "config")?;
    let ks_start = 2 * hdr.hdr_size;
    let ks_end =
        ks_start.checked_add(keyslots_size).ok_or_else(|| Error::Invalid("config.keyslots_size overflows".into()))?;
    if let Some(req) = config.get("requirements") {
        let mandatory = req.get("mandatory").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        if mandatory > 0 {
            return Err(Error::Unsupported(format!("mandatory requirements {}", req["mandatory"])));
        }
    }

    // The one data segment (several mean a reencryption in progress).
    let segments = obj_field(root, "segments", "metadata")?;
    if segments.len() != 1 {
        return Err(Error::Unsupported(format!("{} data segments (reencryption?)", segments.len())));
    }
    let (seg_id, seg_v) = segments.iter().next().ok_or_else(|| Error::Invalid("no data segment".into()))?;
    let seg = parse_segment(seg_id, object(seg_v, &format!("segment {seg_id}"))?)?;
    if seg.offset < ks_end {
        return Err(Error::Invalid(format!("segment {seg_id} starts at {} inside the keyslots area", seg.offset)));
    }
    let data_end = match seg.size {
        Some(n) => seg.offset.checked_add(n).ok_or_else(|| Error::Invalid("segment size overflows".into()))?,
        None => seg
            .offset
            .checked_add(seg.sector_size as u64)
            .ok_or_else(|| Error::Invalid("segment offset overflows".into()))?,
    };
    if file_len < data_end {
        return Err(Error::TooSmall(format!("the data segment needs {data_end} bytes, the file has {file_len}")));
    }

    // The digests of this segment, and the keyslots they cover.
    let digests = obj_field(root, "digests", "metadata")?;
    let mut seg_digests = Vec::new();
    for (id, d) in digests {
        let d = object(d, &format!("digest {id}"))?;
        if id_list(d, "segments", &format!("digest {id}"))?.iter().any(|s| s == seg_id) {
            seg_digests.push((id, d, id_list(d, "keyslots", &format!("digest {id}"))?));
        }
    }
    if seg_digests.is_empty() {
        return Err(Error::Invalid(format!("no digest for segment {seg_id}")));
    }

    // Keyslots in cryptsetup's order: priority high (2) first, then normal
    // (1); priority 0 ("ignore") is skipped in a passphrase search.
    let keyslots = obj_field(root, "keyslots", "metadata")?;
    let mut order: Vec<(u64, u32, &String, &Map<String, Value>)> = Vec::new();
    for (id, ks) in keyslots {
        let ctx = format!("keyslot {id}");
        let ks = object(ks, &ctx)?;
        let num: u32 = id.parse().map_err(|_| Error::Invalid(format!("{ctx}: id is not a number")))?;
        if str_field(ks, "type", &ctx)? != "luks2" {
            continue;
        }
        let prio = match ks.get("priority") {
            None => 1,
            Some(p) => p.as_u64().ok_or_else(|| Error::Invalid(format!("{ctx}.priority: not an integer")))?,
        };
        if prio == 0 || !seg_digests.iter().any(|(_, _, k)| k.contains(id)) {
            continue;
        }
        order.push((prio, num, id, ks));
    }
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    if order.is_empty() {
        return Err(Error::Invalid("no keyslot for the data segment".into()));
    }

    let sizes = cipher_key_sizes(&seg.cipher).unwrap_or(&[]);
    let mut first_err = None;
    for (_, num, id, ks) in order {
        let key = match unlock_keyslot(backing, file_len, (ks_start, ks_end), id, ks, passphrase) {
            Ok(k) => k,
            Err(e) => {
                first_err.get_or_insert(e);
                continue;
            }
        };
        for (d_id, d, d_slots) in &seg_digests {
            if d_slots.contains(id) && digest_matches(d, &format!("digest {d_id}"), &key)? {
                if !sizes.contains(&key.len()) {
                    return Err(Error::Unsupported(format!("{} with a {}-bit key", seg.cipher, key.len() * 8)));
                }
                return Ok(Volume {
                    cipher: seg.cipher,
                    key,
                    offset: seg.offset,
                    size: seg.size,
                    sector_size: seg.sector_size,
                    iv_tweak: seg.iv_tweak,
                    iv_large_sectors: false,
                    uuid: hdr.uuid,
                    keyslot: num,
                });
            }
        }
    }
    // A keyslot that could not even be tried (unsupported KDF...) is the
    // better message when no keyslot matched because of it.
    match first_err {
        Some(e @ (Error::Unsupported(_) | Error::Invalid(_) | Error::TooSmall(_) | Error::Io(_))) => Err(e),
        _ => Err(Error::WrongPassphrase),
    }
}

/// The key derivation of the one keyslot [`format()`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf {
    /// PBKDF2-HMAC-SHA256 with this many iterations.
    Pbkdf2 { iterations: u32 },
    /// Argon2id: `time` passes over `memory_kib` KiB in `lanes` lanes.
    Argon2id { time: u32, memory_kib: u32, lanes: u32 },
    /// Argon2i, the same parameters.
    Argon2i { time: u32, memory_kib: u32, lanes: u32 },
}

impl Pbkdf {
    /// The KDF cryptsetup's options name: `--pbkdf KIND` (pbkdf2, argon2id,
    /// argon2i), `--pbkdf-force-iterations N` (PBKDF2 iterations or Argon2
    /// passes), `--pbkdf-memory KIB`, `--pbkdf-parallel N`. What is not
    /// given takes a fixed default (no benchmark): PBKDF2-SHA256 1000000
    /// iterations; Argon2 4 passes, 65536 KiB, 1 lane.
    pub fn from_options(
        kind: &str,
        force_iterations: Option<u32>,
        memory_kib: Option<u32>,
        parallel: Option<u32>,
    ) -> Result<Pbkdf, Error> {
        let (time, lanes) = (force_iterations.unwrap_or(4), parallel.unwrap_or(1));
        let mem = memory_kib.unwrap_or(64 * 1024);
        match kind {
            "pbkdf2" => {
                if memory_kib.is_some() || parallel.is_some() {
                    return Err(Error::Invalid("--pbkdf-memory and --pbkdf-parallel are for argon2".into()));
                }
                Ok(Pbkdf::Pbkdf2 { iterations: force_iterations.unwrap_or(1_000_000) })
            }
            "argon2id" => Ok(Pbkdf::Argon2id { time, memory_kib: mem, lanes }),
            "argon2i" => Ok(Pbkdf::Argon2i { time, memory_kib: mem, lanes }),
            _ => Err(Error::Unsupported(format!("pbkdf {kind:?} (pbkdf2, argon2id, argon2i are)"))),
        }
    }
}

/// What [`format()`] writes.
#[derive(Debug, Clone)]
pub struct FormatOptions {
    /// Data segment cipher, e.g. `aes-xts-plain64`.
    pub cipher: String,
    /// Volume key size in bits (256 or 512 for XTS; 128, 192, 256 for CBC).
    pub key_size_bits: u32,
    pub pbkdf: Pbkdf,
    /// Iterations of the PBKDF2-SHA256 digest over the volume key.
    pub digest_iterations: u32,
    /// 512 or 4096 (any power of two in between).
    pub sector_size: u32,
}

impl FormatOptions {
    /// cryptsetup's defaults for LUKS2 but the memory (64 MiB) and lanes (1):
    /// 512-byte sectors, Argon2id with 4 passes, a digest of 100000
    /// PBKDF2-SHA256 iterations.
    pub fn new(cipher: &str, key_size_bits: u32) -> Self {
        FormatOptions {
            cipher: cipher.to_owned(),
            key_size_bits,
            pbkdf: Pbkdf::Argon2id { time: 4, memory_kib: 64 * 1024, lanes: 1 },
            digest_iterations: 100_000,
            sector_size: 512,
        }
    }
}

/// Header size (binary + JSON) and data offset as cryptsetup's defaults.
pub const FORMAT_HDR_SIZE: u64 = 0x4000;
pub const FORMAT_DATA_OFFSET: u64 = 16 * 1024 * 1024;
const FORMAT_STRIPES: usize = 4000;
/// The keyslot area is always `aes-xts-plain64` with a 512-bit key.
const AREA_CIPHER: &str = "aes-xts-plain64";
const AREA_KEY: usize = 64;

fn random(n: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    getrandom::getrandom(&mut v).map_err(|e| Error::Io(format!("getrandom: {e}")))?;
    Ok(v)
}

fn uuid_v4() -> Result<String, Error> {
    let mut b = random(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

/// Format `backing` as a LUKS2 volume with one keyslot (0) for
/// `passphrase`, a new random volume key, and a data segment from 16 MiB to
/// the end of the file. Checks everything before writing; writes both header
/// copies, wipes the keyslots area, and syncs.
pub fn format(backing: &File, passphrase: &[u8], params: &FormatOptions) -> Result<(), Error> {
    format_with_key(backing, passphrase, params, None)
}

/// [`format()`] with a given volume key instead of a random one.
pub fn format_with_key(
    backing: &File,
    passphrase: &[u8],
    params: &FormatOptions,
    volume_key: Option<&[u8]>,
) -> Result<(), Error> {
    let key_size = params.key_size_bits as usize / 8;
    let sizes = cipher_key_sizes(&params.cipher).ok_or_else(|| {
        Error::Unsupported(format!(
            "cipher {:?} (aes-xts-plain64, aes-cbc-essiv:sha256, aes-cbc-plain64 are)",
            params.cipher
        ))
    })?;
    if !params.key_size_bits.is_multiple_of(8) || !sizes.contains(&key_size) {
        return Err(Error::Unsupported(format!("{} with a {}-bit key", params.cipher, params.key_size_bits)));
    }
    if volume_key.is_some_and(|k| k.len() != key_size) {
        return Err(Error::Invalid("volume key length does not match the key size".into()));
    }
    let ss = params.sector_size;
    if !(512..=4096).contains(&ss) || !ss.is_power_of_two() {
        return Err(Error::Invalid(format!("sector size {ss} (512..4096, a power of two)")));
    }
    if params.digest_iterations < 1000 {
        return Err(Error::Invalid("digest iterations below 1000 (cryptsetup's minimum)".into()));
    }
    if passphrase.is_empty() {
        return Err(Error::Invalid("empty passphrase".into()));
    }
    match params.pbkdf {
        Pbkdf::Pbkdf2 { iterations } if iterations < 1000 => {
            return Err(Error::Invalid("pbkdf2 iterations below 1000 (cryptsetup's minimum)".into()))
        }
        Pbkdf::Argon2id { time, memory_kib, lanes } | Pbkdf::Argon2i { time, memory_kib, lanes }
            if time < 4 || !(32..=MAX_ARGON_KIB).contains(&memory_kib) || !(1..=4).contains(&lanes) =>
        {
            // cryptsetup refuses time < 4, memory < 32 KiB, more than 4 lanes... its limits
            return Err(Error::Invalid(format!(
                "argon2 time {time} (>= 4), memory {memory_kib} KiB (32..4194304), lanes {lanes} (1..4)"
            )));
        }
        _ => {}
    }
    let file_len = backing.metadata().map_err(|e| Error::Io(format!("stat: {e}")))?.len();
    if file_len < FORMAT_DATA_OFFSET + ss as u64 {
        return Err(Error::TooSmall(format!(
            "{file_len} bytes; LUKS2 needs {} for the header and keyslots plus one sector",
            FORMAT_DATA_OFFSET
        )));
    }

    let vk = match volume_key {
        Some(k) => Zeroizing::new(k.to_vec()),
        None => random(key_size)?,
    };
    let area_off = 2 * FORMAT_HDR_SIZE;
    let keyslots_size = FORMAT_DATA_OFFSET - area_off;
    let af_len = kdf::af_size(key_size, FORMAT_STRIPES).ok_or_else(|| Error::Invalid("AF size".into()))?;
    let area_size = (af_len as u64).div_ceil(4096) * 4096;

    // Keyslot 0.
    let ks_salt = random(32)?;
    let mut slot_key = Zeroizing::new(vec![0u8; AREA_KEY]);
    let kdf_json = match params.pbkdf {
        Pbkdf::Pbkdf2 { iterations } => {
            kdf::pbkdf2("sha256", passphrase, &ks_salt, iterations, &mut slot_key)?;
            json!({"type": "pbkdf2", "hash": "sha256", "iterations": iterations, "salt": B64.encode(&*ks_salt)})
        }
        Pbkdf::Argon2id { time, memory_kib, lanes } | Pbkdf::Argon2i { time, memory_kib, lanes } => {
            let id = matches!(params.pbkdf, Pbkdf::Argon2id { .. });
            kdf::argon2(id, passphrase, &ks_salt, time, memory_kib, lanes, &mut slot_key)?;
            json!({"type": if id { "argon2id" } else { "argon2i" }, "time": time, "memory": memory_kib,
                   "cpus": lanes, "salt": B64.encode(&*ks_salt)})
        }
    };
    let mut area = kdf::af_split("sha256", &vk, FORMAT_STRIPES)?;
    kdf::area_crypt(AREA_CIPHER, &slot_key, &mut area, true)?;

    // Digest.
    let d_salt = random(32)?;
    let mut digest = vec![0u8; 32];
    kdf::pbkdf2("sha256", &vk, &d_salt, params.digest_iterations, &mut digest)?;

    let meta = json!({
        "keyslots": {"0": {
            "type": "luks2", "key_size": key_size,
            "af": {"type": "luks1", "stripes": FORMAT_STRIPES, "hash": "sha256"},
            "area": {"type": "raw", "offset": area_off.to_string(), "size": area_size.to_string(),
                     "encryption": AREA_CIPHER, "key_size": AREA_KEY},
            "kdf": kdf_json,
        }},
        "tokens": {},
        "segments": {"0": {
            "type": "crypt", "offset": FORMAT_DATA_OFFSET.to_string(), "size": "dynamic",
            "iv_tweak": "0", "encryption": params.cipher, "sector_size": ss,
        }},
        "digests": {"0": {
            "type": "pbkdf2", "keyslots": ["0"], "segments": ["0"], "hash": "sha256",
            "iterations": params.digest_iterations, "salt": B64.encode(&*d_salt), "digest": B64.encode(&digest),
        }},
        "config": {"json_size": (FORMAT_HDR_SIZE - disk::BIN_SIZE as u64).to_string(),
                   "keyslots_size": keyslots_size.to_string()},
    });
    let text = serde_json::to_vec(&meta).map_err(|e| Error::Invalid(format!("JSON: {e}")))?;
    let uuid = uuid_v4()?;
    let mut salt1 = [0u8; 64];
    let mut salt2 = [0u8; 64];
    getrandom::getrandom(&mut salt1).map_err(|e| Error::Io(format!("getrandom: {e}")))?;
    getrandom::getrandom(&mut salt2).map_err(|e| Error::Io(format!("getrandom: {e}")))?;
    let h1 = disk::build(false, FORMAT_HDR_SIZE, 1, &uuid, &salt1, &text)?;
    let h2 = disk::build(true, FORMAT_HDR_SIZE, 1, &uuid, &salt2, &text)?;

    // Everything checked and built: now write. The keyslots area is wiped
    // (with the new keyslot in place) in one buffer.
    let mut ks_area = Zeroizing::new(vec![0u8; keyslots_size as usize]);
    ks_area[..area.len()].copy_from_slice(&area);
    let w = |buf: &[u8], at: u64| backing.write_all_at(buf, at).map_err(|e| Error::Io(format!("write at {at}: {e}")));
    w(&ks_area, area_off)?;
    w(&h2, FORMAT_HDR_SIZE)?;
    w(&h1, 0)?;
    backing.sync_all().map_err(|e| Error::Io(format!("sync: {e}")))
}

#[cfg(test)]
mod tests {
    use super::kdf;

    #[test]
    fn af_split_then_merge_gives_the_key_back() {
        let key: Vec<u8> = (0..64u8).collect();
        for (hash, stripes) in [("sha256", 4000), ("sha1", 7), ("sha512", 3), ("sha256", 1)] {
            let split = kdf::af_split(hash, &key, stripes).unwrap();
            assert_eq!(split.len(), kdf::af_size(64, stripes).unwrap());
            assert_eq!(&kdf::af_merge(hash, &split, 64, stripes).unwrap()[..], &key[..]);
            let mut bad = split.clone();
            bad[0] ^= 1;
            if stripes > 1 {
                assert_ne!(&kdf::af_merge(hash, &bad, 64, stripes).unwrap()[..], &key[..]);
            }
        }
    }

    #[test]
    fn pbkdf_from_cryptsetup_options() {
        use super::Pbkdf;
        assert_eq!(Pbkdf::from_options("pbkdf2", Some(2000), None, None), Ok(Pbkdf::Pbkdf2 { iterations: 2000 }));
        assert_eq!(Pbkdf::from_options("pbkdf2", None, None, None), Ok(Pbkdf::Pbkdf2 { iterations: 1_000_000 }));
        assert_eq!(
            Pbkdf::from_options("argon2id", None, Some(1024), Some(2)),
            Ok(Pbkdf::Argon2id { time: 4, memory_kib: 1024, lanes: 2 })
        );
        assert_eq!(
            Pbkdf::from_options("argon2i", Some(5), None, None),
            Ok(Pbkdf::Argon2i { time: 5, memory_kib: 65536, lanes: 1 })
        );
        assert!(Pbkdf::from_options("pbkdf2", None, Some(1024), None).is_err());
        assert!(Pbkdf::from_options("pbkdf2", None, Some(65536), None).is_err());
        assert!(Pbkdf::from_options("pbkdf2", None, None, Some(1)).is_err());
        assert!(Pbkdf::from_options("scrypt", None, None, None).unwrap_err().to_string().contains("scrypt"));
    }

    #[test]
    fn area_cipher_round_trips_and_refuses_others() {
        let key = [7u8; 64];
        let mut buf = vec![0x5au8; 2048];
        kdf::area_crypt("aes-xts-plain64", &key, &mut buf, true).unwrap();
        assert_ne!(buf, vec![0x5au8; 2048]);
        // Sector i's tweak is i: sectors of equal plaintext differ.
        assert_ne!(buf[..512], buf[512..1024]);
        kdf::area_crypt("aes-xts-plain64", &key, &mut buf, false).unwrap();
        assert_eq!(buf, vec![0x5au8; 2048]);
        assert!(kdf::area_crypt("twofish-xts-plain64", &key, &mut buf, false).is_err());
    }
}
