//! The LUKS2 binary header (4096 bytes) and its JSON area, both copies.
//!
//! Layout (all integers big-endian), from the LUKS2 on-disk format document:
//! magic[6] version:u16 hdr_size:u64 seqid:u64 label[48] checksum_alg[32]
//! salt[64] uuid[40] subsystem[48] hdr_offset:u64 pad[184] csum[64] pad[3584],
//! followed by the JSON area (hdr_size - 4096 bytes, a NUL-terminated JSON
//! text). The checksum is the `checksum_alg` hash of the whole hdr_size bytes
//! with the csum field zeroed.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::kdf::hash;
use super::Error;

pub const BIN_SIZE: usize = 4096;
pub const MAGIC_1ST: &[u8; 6] = b"LUKS\xba\xbe";
pub const MAGIC_2ND: &[u8; 6] = b"SKUL\xba\xbe";
const OFF_VERSION: usize = 6;
const OFF_HDR_SIZE: usize = 8;
const OFF_SEQID: usize = 16;
const OFF_LABEL: usize = 24;
const OFF_CSUM_ALG: usize = 72;
const OFF_SALT: usize = 104;
const OFF_UUID: usize = 168;
const OFF_SUBSYSTEM: usize = 208;
const OFF_HDR_OFFSET: usize = 256;
const OFF_CSUM: usize = 448;
const CSUM_LEN: usize = 64;

/// The header sizes the format allows (binary header + JSON area), which are
/// also the offsets where a secondary header may sit.
pub const HDR_SIZES: [u64; 9] = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000];

/// One verified header copy: its fields and its parsed JSON.
#[derive(Debug)]
pub struct Header {
    pub hdr_size: u64,
    pub seqid: u64,
    pub uuid: String,
    pub json: serde_json::Value,
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn cstr(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// Read and verify the header copy at `offset` (0 = primary, else secondary).
/// The error is why this copy is not usable.
pub fn read_at(f: &File, file_len: u64, offset: u64) -> Result<Header, String> {
    let want = if offset == 0 { MAGIC_1ST } else { MAGIC_2ND };
    if file_len < offset + BIN_SIZE as u64 {
        return Err("file truncated before the header".into());
    }
    let mut bin = vec![0u8; BIN_SIZE];
    f.read_exact_at(&mut bin, offset).map_err(|e| format!("read: {e}"))?;
    if &bin[..6] != want {
        return Err("no LUKS2 magic".into());
    }
    let version = u16::from_be_bytes([bin[OFF_VERSION], bin[OFF_VERSION + 1]]);
    if version != 2 {
        return Err(format!("version {version}, not LUKS2"));
    }
    let hdr_size = be64(&bin, OFF_HDR_SIZE);
    if !HDR_SIZES.contains(&hdr_size) {
        return Err(format!("invalid header size {hdr_size}"));
    }
    if be64(&bin, OFF_HDR_OFFSET) != offset {
        return Err(format!("header offset field {} does not match its position {offset}", be64(&bin, OFF_HDR_OFFSET)));
    }
    if offset != 0 && offset != hdr_size {
        return Err(format!("secondary header at {offset} but its size is {hdr_size}"));
    }
    if file_len < offset + hdr_size {
        return Err("file truncated inside the header's JSON area".into());
    }
    let mut all = vec![0u8; hdr_size as usize];
    all[..BIN_SIZE].copy_from_slice(&bin);
    f.read_exact_at(&mut all[BIN_SIZE..], offset + BIN_SIZE as u64).map_err(|e| format!("read: {e}"))?;

    let alg = String::from_utf8_lossy(cstr(&bin[OFF_CSUM_ALG..OFF_CSUM_ALG + 32])).into_owned();
    let stored = bin[OFF_CSUM..OFF_CSUM + CSUM_LEN].to_vec();
    all[OFF_CSUM..OFF_CSUM + CSUM_LEN].fill(0);
    let computed = hash(&alg, &[&all]).map_err(|e| format!("checksum: {e}"))?;
    if computed[..] != stored[..computed.len()] || stored[computed.len()..].iter().any(|&b| b != 0) {
        return Err("checksum mismatch".into());
    }
    let json_area = &all[BIN_SIZE..];
    let text = json_area.iter().position(|&c| c == 0).map(|n| &json_area[..n]).ok_or("JSON area not NUL-terminated")?;
    let json: serde_json::Value = serde_json::from_slice(text).map_err(|e| format!("JSON: {e}"))?;
    if !json.is_object() {
        return Err("JSON metadata is not an object".into());
    }
    let uuid = String::from_utf8_lossy(cstr(&bin[OFF_UUID..OFF_UUID + 40])).into_owned();
    Ok(Header { hdr_size, seqid: be64(&bin, OFF_SEQID), uuid, json })
}

/// Read both copies and pick the one to use, as cryptsetup does: the primary
/// at 0 and the secondary at the primary's size (or, with the primary
/// unusable, at each size the format allows); with both valid the higher
/// sequence id wins, the primary on a tie.
pub fn read_best(f: &File) -> Result<Header, Error> {
    let len = f.metadata().map_err(|e| Error::Io(format!("stat: {e}")))?.len();
    let primary = read_at(f, len, 0);
    let secondary = match &primary {
        Ok(p) => read_at(f, len, p.hdr_size),
        Err(_) => {
            // The reason to report is that of a copy whose magic was found.
            let mut found = Err("no LUKS2 magic".to_string());
            let mut informative = false;
            for off in HDR_SIZES {
                match read_at(f, len, off) {
                    Ok(h) => {
                        found = Ok(h);
                        break;
                    }
                    Err(e) if !informative && e != "no LUKS2 magic" && !e.starts_with("file truncated before") => {
                        found = Err(format!("at {off}: {e}"));
                        informative = true;
                    }
                    Err(_) => {}
                }
            }
            found
        }
    };
    match (primary, secondary) {
        (Ok(p), Ok(s)) => Ok(if s.seqid > p.seqid { s } else { p }),
        (Ok(p), Err(_)) => Ok(p),
        (Err(_), Ok(s)) => Ok(s),
        (Err(pe), Err(se)) => {
            if pe == "version 1, not LUKS2" {
                return Err(Error::Unsupported("LUKS1 header (only LUKS2 is supported)".into()));
            }
            if pe == "no LUKS2 magic" && se == "no LUKS2 magic" {
                return Err(Error::BadHeader("not a LUKS2 device (no header magic)".into()));
            }
            Err(Error::BadHeader(format!("no valid LUKS2 header: primary: {pe}; secondary: {se}")))
        }
    }
}

/// Build one header copy (binary header + JSON area) of `hdr_size` bytes.
pub fn build(
    secondary: bool,
    hdr_size: u64,
    seqid: u64,
    uuid: &str,
    salt: &[u8; 64],
    json: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut b = vec![0u8; hdr_size as usize];
    if json.len() >= b.len() - BIN_SIZE {
        return Err(Error::Invalid(format!("JSON metadata of {} bytes does not fit", json.len())));
    }
    b[..6].copy_from_slice(if secondary { MAGIC_2ND } else { MAGIC_1ST });
    b[OFF_VERSION..OFF_VERSION + 2].copy_from_slice(&2u16.to_be_bytes());
    b[OFF_HDR_SIZE..OFF_HDR_SIZE + 8].copy_from_slice(&hdr_size.to_be_bytes());
    b[OFF_SEQID..OFF_SEQID + 8].copy_from_slice(&seqid.to_be_bytes());
    let _ = (OFF_LABEL, OFF_SUBSYSTEM); // label and subsystem stay empty
    b[OFF_CSUM_ALG..OFF_CSUM_ALG + 6].copy_from_slice(b"sha256");
    b[OFF_SALT..OFF_SALT + 64].copy_from_slice(salt);
    b[OFF_UUID..OFF_UUID + uuid.len()].copy_from_slice(uuid.as_bytes());
    let off = if secondary { hdr_size } else { 0 };
    b[OFF_HDR_OFFSET..OFF_HDR_OFFSET + 8].copy_from_slice(&off.to_be_bytes());
    b[BIN_SIZE..BIN_SIZE + json.len()].copy_from_slice(json);
    let csum = hash("sha256", &[&b])?;
    b[OFF_CSUM..OFF_CSUM + csum.len()].copy_from_slice(&csum);
    Ok(b)
}
