//! `acrypto enc -a aes-256-gcm|chacha20-poly1305 -K KEY --iv NONCE [--aad HEX] [-d]`:
//! one AEAD request over the whole input.
//!
//! - Seal: writes the ciphertext followed by the 16-byte tag.
//! - Open (`-d`): takes that form, verifies the tag, and writes the
//!   plaintext only if it verifies: the input is read whole, opened as one
//!   request, and nothing is written before the tag was checked (with `-o`
//!   a regular file is written through a temporary file renamed on
//!   success, so a failure leaves it as it was; never a partial plaintext).
//!
//! An AEAD message is one request, so the input is bounded: at most
//! [`MAX_INPUT`] bytes (plus the tag when opening); a longer input is a
//! clear error naming the limit. Messages of any length need a framing of
//! their own (records, each sealed with its own nonce), as TLS and
//! `examples-c/encrypt_file.c` do.

use super::{fail, open_input, parse_hex, usage, CliResult, Context, Output};
use acrypto::{Algorithm, Engine, Error, Op, Request, SessionBuilder};
use std::io::Read;
use std::path::PathBuf;

/// The most plaintext one `enc` AEAD request takes (1 GiB, the C ABI's
/// request limit too).
pub const MAX_INPUT: u64 = 1 << 30;

/// What the AEAD form of `enc` needs from its arguments.
pub struct AeadArgs<'a> {
    pub alg: Algorithm,
    pub key: &'a str,
    pub iv: Option<&'a str>,
    pub aad: Option<&'a str>,
    pub device: Option<&'a str>,
    pub input: Option<&'a PathBuf>,
    pub output: Option<&'a PathBuf>,
    pub decrypt: bool,
}

/// Runs a seal or an open.
pub fn run(engine: &Engine, a: &AeadArgs<'_>) -> CliResult<()> {
    let alg = a.alg;
    let key = parse_hex("--key", a.key)?;
    alg.check_key(&key).map_err(|e| usage!("{e}"))?;
    let nonce = match a.iv {
        None => return Err(usage!("{alg} needs --iv (the {}-byte nonce in hex)", alg.iv_len())),
        Some(h) => parse_hex("--iv", h)?,
    };
    alg.check_iv(&nonce).map_err(|e| usage!("invalid nonce: {e}"))?;
    let aad = match a.aad {
        Some(h) => parse_hex("--aad", h)?,
        None => Vec::new(),
    };
    let op = if a.decrypt { Op::Decrypt } else { Op::Encrypt };
    let session = super::session(engine, SessionBuilder::new().step(alg, op, &key), a.device)?;

    let input = open_input(a.input)?;
    let mut out = Output::open(a.output)?;
    if let (Some(i), Some(o)) = (input.id, out.id()) {
        if i == o {
            return Err(usage!("input and output are the same file: that would destroy it"));
        }
    }
    let tag_len = alg.tag_len();
    let limit = MAX_INPUT + if a.decrypt { tag_len as u64 } else { 0 };
    let mut data = Vec::new();
    input.reader.take(limit + 1).read_to_end(&mut data).ctx("read error")?;
    if data.len() as u64 > limit {
        return Err(fail!(
            "input too long for {alg}: one AEAD request takes at most {MAX_INPUT} bytes of plaintext ({} MiB)",
            MAX_INPUT >> 20
        ));
    }
    let mut req = Request::new(Vec::new()).with_iv(&nonce).with_aad(&aad);
    if a.decrypt {
        if data.len() < tag_len {
            return Err(fail!("input too short for {alg}: {} bytes, less than the {tag_len}-byte tag", data.len()));
        }
        let tag = data.split_off(data.len() - tag_len);
        req = req.with_tag(&tag);
    }
    req.data = data;
    match engine.run(&session, req) {
        Ok(r) => {
            out.write(&r.data)?;
            if !a.decrypt {
                out.write(&r.tag)?;
            }
            out.finish()
        }
        Err(Error::VerifyFailed) => {
            Err(fail!("{alg}: authentication failed (wrong key, nonce, AAD or tag, or altered data); nothing written"))
        }
        Err(e) => Err(fail!("{alg}: {e}")),
    }
}
