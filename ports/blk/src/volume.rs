//! The backing file and its data segment: bounds, sector alignment, and
//! the sync that flush and FUA need.

use crate::crypt::SectorCipher;
use crate::spec::CipherSpec;
use acrypto::Engine;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Largest single read or write the port takes (the kernel's nbd sends
/// at most its `max_sectors`, far less).
pub const MAX_IO: u32 = 32 << 20;

/// An open encrypted volume: reads decrypt, writes encrypt, only inside
/// the data segment.
#[derive(Debug)]
pub struct Volume {
    file: File,
    data_offset: u64,
    size: u64,
    cipher: SectorCipher,
}

/// Why an I/O was refused; maps onto NBD's error numbers.
#[derive(Debug, PartialEq, Eq)]
pub enum IoError {
    /// Not whole sectors, or past the end of a read (NBD `EINVAL`).
    Invalid(String),
    /// A write past the end (NBD `ENOSPC`).
    NoSpace,
    /// The backing file or the engine failed (NBD `EIO`).
    Failed(String),
}

impl IoError {
    /// The errno NBD replies with.
    pub fn errno(&self) -> u32 {
        match self {
            IoError::Invalid(_) => libc::EINVAL as u32,
            IoError::NoSpace => libc::ENOSPC as u32,
            IoError::Failed(_) => libc::EIO as u32,
        }
    }
}

impl Volume {
    /// Opens the data segment of `spec` in `file` on `engine`.
    ///
    /// # Errors
    /// A one-line message: a bad spec, an engine that cannot do the
    /// cipher, a backing file too small for the offset (or the size), or
    /// a segment that is not a whole number of sectors.
    pub fn open(file: File, spec: &CipherSpec, engine: Engine) -> Result<Volume, String> {
        let cipher = SectorCipher::new(engine, spec)?;
        let len = file.metadata().map_err(|e| format!("backing file: {e}"))?.len();
        let len = if len == 0 { block_device_size(&file).unwrap_or(0) } else { len };
        if spec.data_offset >= len {
            return Err(format!(
                "backing file ({len} bytes) is too small for the data offset ({} bytes)",
                spec.data_offset
            ));
        }
        let size = match spec.size {
            Some(s) if spec.data_offset.checked_add(s).is_none_or(|end| end > len) => {
                return Err(format!(
                    "backing file ({len} bytes) is too small for a data segment of {s} bytes at offset {}",
                    spec.data_offset
                ));
            }
            Some(s) => s,
            None => len - spec.data_offset,
        };
        if size == 0 || !size.is_multiple_of(u64::from(spec.sector_size)) {
            return Err(format!(
                "data segment of {size} bytes is not a whole number of {}-byte sectors",
                spec.sector_size
            ));
        }
        Ok(Volume { file, data_offset: spec.data_offset, size, cipher })
    }

    /// Size of the data segment in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Encryption sector size in bytes.
    pub fn sector_size(&self) -> u32 {
        self.cipher.sector_size()
    }

    fn check(&self, from: u64, len: u32) -> Result<(), IoError> {
        let ss = u64::from(self.sector_size());
        if !from.is_multiple_of(ss) || !u64::from(len).is_multiple_of(ss) {
            return Err(IoError::Invalid(format!("offset {from} length {len} not aligned to {ss}-byte sectors")));
        }
        if len > MAX_IO {
            return Err(IoError::Invalid(format!("length {len} over the limit of {MAX_IO}")));
        }
        Ok(())
    }

    fn in_range(&self, from: u64, len: u32) -> bool {
        from.checked_add(u64::from(len)).is_some_and(|end| end <= self.size)
    }

    /// Reads and decrypts `len` bytes at `from` in the data segment.
    ///
    /// # Errors
    /// See [`IoError`].
    pub fn read(&self, from: u64, len: u32) -> Result<Vec<u8>, IoError> {
        self.check(from, len)?;
        if !self.in_range(from, len) {
            return Err(IoError::Invalid(format!("read of {len} bytes at {from} past the end ({})", self.size)));
        }
        let mut buf = vec![0u8; len as usize];
        self.file.read_exact_at(&mut buf, self.data_offset + from).map_err(|e| IoError::Failed(e.to_string()))?;
        let first = from / u64::from(self.sector_size());
        self.cipher.decrypt(first, buf).map_err(|e| IoError::Failed(e.to_string()))
    }

    /// Encrypts and writes `data` at `from`; with `fua`, synced before it
    /// returns.
    ///
    /// # Errors
    /// See [`IoError`]; nothing is written on error before the write.
    pub fn write(&self, from: u64, data: Vec<u8>, fua: bool) -> Result<(), IoError> {
        let len = u32::try_from(data.len()).map_err(|_| IoError::Invalid("write too long".into()))?;
        self.check(from, len)?;
        if !self.in_range(from, len) {
            return Err(IoError::NoSpace);
        }
        let first = from / u64::from(self.sector_size());
        let ct = self.cipher.encrypt(first, data).map_err(|e| IoError::Failed(e.to_string()))?;
        self.file.write_all_at(&ct, self.data_offset + from).map_err(|e| IoError::Failed(e.to_string()))?;
        if fua {
            self.flush().map_err(|e| IoError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    /// Drops the volume's keys (zeroized) once the I/O in progress has
    /// finished; every later read or write fails with `EIO`. See
    /// [`SectorCipher::shred`].
    pub fn shred(&self) {
        self.cipher.shred();
    }

    /// Syncs the backing file's data to stable storage.
    ///
    /// # Errors
    /// The sync's.
    pub fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The size of a block device (a backing file's metadata says 0).
fn block_device_size(f: &File) -> Option<u64> {
    use std::os::unix::fs::FileTypeExt;
    if !f.metadata().ok()?.file_type().is_block_device() {
        return None;
    }
    let mut f2 = f.try_clone().ok()?;
    io::Seek::seek(&mut f2, io::SeekFrom::End(0)).ok()
}
