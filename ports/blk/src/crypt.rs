//! Sectors through the engine: each read or write becomes one batch of
//! per-sector requests (each its own IV), submitted together and
//! collected from a completion queue in whatever order they finish.

use crate::iv::{essiv_salt, plain64, IvSectors, IV_LEN};
use crate::spec::{CipherSpec, IvMode, Mode};
use acrypto::{
    Algorithm, CipherMode, Completion, CompletionQueue, Engine, Error, Op, Request, Session, SessionBuilder,
};
use std::sync::{PoisonError, RwLock};

/// A volume's cipher on an engine: sessions for both directions (the key
/// is copied into them and zeroized when they drop) and the IV rule.
pub struct SectorCipher {
    engine: Engine,
    /// `None` once shredded: every later I/O fails.
    keys: RwLock<Option<Keys>>,
    ivs: IvSectors,
    sector_size: usize,
}

/// The sessions holding the volume's keys.
struct Keys {
    enc: Session,
    dec: Session,
    /// aes-256-ecb encryption under SHA-256 of the key (essiv only).
    essiv: Option<Session>,
}

impl std::fmt::Debug for SectorCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("SectorCipher")
            .field("ivs", &self.ivs)
            .field("essiv", &keys.as_ref().is_some_and(|k| k.essiv.is_some()))
            .field("shredded", &keys.is_none())
            .finish()
    }
}

impl SectorCipher {
    /// Sessions for `spec` on `engine`.
    ///
    /// # Errors
    /// A one-line message: a bad spec ([`CipherSpec::check`]) or an
    /// engine that cannot do the cipher.
    pub fn new(engine: Engine, spec: &CipherSpec) -> Result<Self, String> {
        let (mode, iv_mode) = spec.check()?;
        let (cm, bits) = match mode {
            Mode::Xts => (CipherMode::Xts, spec.key.len() * 4),
            Mode::Cbc => (CipherMode::Cbc, spec.key.len() * 8),
        };
        let alg = Algorithm::Aes { key_bits: bits as u16, mode: cm };
        let session = |op| {
            engine.session(SessionBuilder::new().step(alg, op, &spec.key)).map_err(|e| format!("{}: {e}", spec.cipher))
        };
        let enc = session(Op::Encrypt)?;
        let dec = session(Op::Decrypt)?;
        let essiv = match iv_mode {
            IvMode::Plain64 => None,
            IvMode::EssivSha256 => {
                let salt = essiv_salt(&spec.key);
                let ecb = Algorithm::Aes { key_bits: 256, mode: CipherMode::Ecb };
                Some(
                    engine
                        .session(SessionBuilder::new().step(ecb, Op::Encrypt, &salt[..]))
                        .map_err(|e| format!("essiv:sha256: {e}"))?,
                )
            }
        };
        Ok(SectorCipher {
            engine,
            keys: RwLock::new(Some(Keys { enc, dec, essiv })),
            ivs: IvSectors { sector_size: spec.sector_size, iv_offset: spec.iv_offset, large: spec.iv_large_sectors },
            sector_size: spec.sector_size as usize,
        })
    }

    /// The encryption sector size in bytes.
    pub fn sector_size(&self) -> u32 {
        self.sector_size as u32
    }

    /// The IVs of `n` sectors from data sector `first`, 16 bytes each, in
    /// order. essiv encrypts all the plain64 blocks in one ECB request.
    ///
    /// # Errors
    /// The engine's, for essiv.
    pub fn ivs(&self, first: u64, n: usize) -> Result<Vec<u8>, Error> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        self.ivs_with(keys.as_ref().ok_or_else(shredded)?, first, n)
    }

    fn ivs_with(&self, keys: &Keys, first: u64, n: usize) -> Result<Vec<u8>, Error> {
        let mut blocks = Vec::with_capacity(n * IV_LEN);
        for i in 0..n as u64 {
            blocks.extend_from_slice(&plain64(self.ivs.number(first.wrapping_add(i))));
        }
        match &keys.essiv {
            None => Ok(blocks),
            Some(s) => Ok(self.engine.run(s, Request::new(blocks))?.data),
        }
    }

    /// Encrypts whole sectors starting at data sector `first`.
    ///
    /// # Errors
    /// `InvalidLength` when `data` is not whole sectors; the engine's;
    /// `InvalidArgument` once the keys were shredded.
    pub fn encrypt(&self, first: u64, data: Vec<u8>) -> Result<Vec<u8>, Error> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let k = keys.as_ref().ok_or_else(shredded)?;
        self.process(k, &k.enc, first, data)
    }

    /// Decrypts whole sectors starting at data sector `first`.
    ///
    /// # Errors
    /// As [`encrypt`](Self::encrypt).
    pub fn decrypt(&self, first: u64, data: Vec<u8>) -> Result<Vec<u8>, Error> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let k = keys.as_ref().ok_or_else(shredded)?;
        self.process(k, &k.dec, first, data)
    }

    /// Drops the sessions, and with them the key (zeroized when the
    /// engine lets go of its last copy), once the I/O in progress has
    /// finished; every later I/O fails. For a server that stops without
    /// unwinding (a stop signal ends the process).
    pub fn shred(&self) {
        let keys = self.keys.write().unwrap_or_else(PoisonError::into_inner).take();
        drop(keys);
        let _ = self.engine.wait_idle();
    }

    fn process(&self, keys: &Keys, s: &Session, first: u64, mut data: Vec<u8>) -> Result<Vec<u8>, Error> {
        let ss = self.sector_size;
        if !data.len().is_multiple_of(ss) {
            return Err(Error::InvalidLength(format!(
                "{} bytes is not a whole number of {ss}-byte sectors",
                data.len()
            )));
        }
        let n = data.len() / ss;
        if n == 0 {
            return Ok(data);
        }
        let ivs = self.ivs_with(keys, first, n)?;
        let cq = CompletionQueue::new();
        let items: Vec<(Request, Completion)> = data
            .chunks(ss)
            .enumerate()
            .map(|(i, c)| {
                let r = Request::new(c.to_vec()).with_iv(&ivs[i * IV_LEN..(i + 1) * IV_LEN]).with_user(i as u64);
                (r, Completion::Queue(cq.clone()))
            })
            .collect();
        let mut submitted = n;
        let mut first_err = None;
        if let Err(b) = self.engine.submit_batch(s, items) {
            // The engine's window is full: the rest goes in as room frees
            // up. Anything else fails the whole I/O, once what was accepted
            // has come back.
            submitted = b.accepted;
            let rest = std::iter::once((b.rejected.request, Completion::Queue(cq.clone()))).chain(b.rest);
            if b.rejected.error == Error::Busy {
                for (r, c) in rest {
                    match self.engine.submit_blocking(s, r, c) {
                        Ok(()) => submitted += 1,
                        Err(e) => {
                            first_err = Some(e.error);
                            break;
                        }
                    }
                }
            } else {
                first_err = Some(b.rejected.error);
            }
        }
        let mut got = 0;
        while got < submitted {
            for d in cq.wait(submitted - got) {
                got += 1;
                let i = d.request.user as usize;
                match d.status {
                    Ok(()) => data[i * ss..(i + 1) * ss].copy_from_slice(d.request.current()),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(data),
        }
    }
}

fn shredded() -> Error {
    Error::InvalidArgument("the volume's keys were shredded (the volume is closing)".into())
}
