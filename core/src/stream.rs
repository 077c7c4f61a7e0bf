//! Streams: a message of any length as an ordered sequence of requests on
//! one session, whose state carries from one request to the next.
//!
//! Design (DESIGN.md §3, Streams):
//!
//! - A [`Stream`] is opened on a one-step session. It has at most one
//!   request in flight: each `update` is one ordinary request, and the next
//!   one is built only after it completed.
//! - **Cipher streams** (`cbc`, `ecb`, `ctr`) need no state in any device:
//!   the stream keeps the partial block (< 16 bytes) and the next IV (CBC:
//!   the last ciphertext block; CTR: the IV advanced by the blocks done), and
//!   sends whole blocks as plain requests, so any device continues them.
//!   CTR's partial block goes out with `finish`; a CBC or ECB stream whose
//!   length is not a multiple of 16 fails `finish` with `InvalidLength`
//!   (padding is the caller's, as for one-shot requests). XTS has no stream
//!   form (each data unit is one request).
//! - **Hash and HMAC streams** carry the device's exported state with each
//!   request, in [`Request::stream`]: the state to continue from
//!   ([`StreamPart::state`], never changed by the device) and, written by
//!   the device, the state after this request ([`StreamPart::next`]). A
//!   state belongs to a *family* ([`StreamState::family`]): the software
//!   device's is `soft` (the RustCrypto hasher itself, which any software
//!   device continues); a kernel device's is its export blob or its AF_ALG
//!   operation socket. The engine gives a stream request only to a device
//!   whose [`Driver::stream_family`](crate::Driver::stream_family) for the
//!   algorithm is the state's family (any streaming device for the first
//!   request). Because the input state is never changed, the engine's
//!   retry of a failed step on another device of the family starts from
//!   the same state: a device that breaks mid-stream costs a retry, and
//!   when no device of the family is left the update fails with a clear
//!   error. An update either happens completely or not at all: after a
//!   failed update the stream is as it was before it, and the caller may
//!   repeat the update or drop the stream. Never a wrong digest.
//! - The last request of a hash stream (`finish`/`verify`) carries
//!   `last = true`: the device finalizes into the tag, or verifies the
//!   caller's tag (sessions with [`Op::Verify`]).
//! - Memory per stream: the state (a hasher, an IV) and < 1 block, plus
//!   the one request in flight, whose buffer is reused.
//!
//! The stream is a state machine the caller drives: [`Stream::update`],
//! [`Stream::finish`] and [`Stream::verify`] block (a software device that
//! is idle runs them on the calling thread); the `begin_*`/`end_*` pairs
//! build the request and take its result, for callers that submit it
//! themselves (callbacks, completion queues, futures).

use crate::alg::{Algorithm, CipherMode, Op, OpKind};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::session::Session;
use crate::sync::Arc;
use std::any::Any;
use std::fmt;

/// AES block size.
const BLOCK: usize = 16;

/// A device's exported stream state: what a device of the same family
/// needs to continue a hash or HMAC stream. Immutable and cheap to clone
/// (shared).
#[derive(Clone)]
pub struct StreamState {
    family: Arc<str>,
    alg: Algorithm,
    inner: Arc<dyn Any + Send + Sync>,
}

impl StreamState {
    /// A state of `family` for `alg`, holding the driver's value.
    pub fn new<T: Any + Send + Sync>(family: &str, alg: Algorithm, state: T) -> Self {
        StreamState { family: Arc::from(family), alg, inner: Arc::new(state) }
    }
    /// The family: only a device whose `stream_family` is this continues it.
    pub fn family(&self) -> &str {
        &self.family
    }
    /// The algorithm it is a state of.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
    /// The driver's value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }
}

/// Names only: a state may be derived from a key.
impl fmt::Debug for StreamState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamState").field("family", &self.family).field("alg", &self.alg).finish()
    }
}

/// The stream part of a hash or HMAC request ([`Request::stream`]).
#[derive(Clone, Debug, Default)]
pub struct StreamPart {
    /// The state to continue from; `None` for the stream's first request
    /// (the device starts a fresh hash, or HMAC from the session's key).
    /// A device never changes it.
    pub state: Option<StreamState>,
    /// Whether this request ends the stream: the device absorbs the data,
    /// then finalizes into the tag (digest) or checks the tag (verify).
    pub last: bool,
    /// Written by the device when an update (`last == false`) succeeds:
    /// the state after this request's data.
    pub next: Option<StreamState>,
}

impl StreamPart {
    /// For a device of `family`: the state to continue from, checked to be
    /// of its family and of `alg` (a clear error otherwise).
    ///
    /// # Errors
    /// `InvalidArgument` when the state is of another family or algorithm.
    pub fn state_for(&self, family: &str, alg: Algorithm) -> Result<Option<&StreamState>> {
        match &self.state {
            Some(s) if s.family() != family || s.alg() != alg => Err(Error::InvalidArgument(format!(
                "a {} stream state of family '{}' cannot be continued by a '{family}' device doing {alg}",
                s.alg(),
                s.family()
            ))),
            s => Ok(s.as_ref()),
        }
    }
}

enum Kind {
    /// Hash or HMAC: the last state a device returned.
    Digest { state: Option<StreamState> },
    /// Cipher: the next IV (unused by ECB) and the partial block.
    Cipher { mode: CipherMode, iv: [u8; BLOCK], partial: Vec<u8> },
}

/// What the request in flight will change once it succeeds.
enum InFlight {
    Update { tail: Vec<u8>, next_iv: Option<[u8; BLOCK]>, blocks: u128 },
    Finish,
}

/// A stream on a one-step session (see the module documentation).
pub struct Stream {
    engine: Engine,
    session: Session,
    alg: Algorithm,
    op: Op,
    kind: Kind,
    in_flight: Option<InFlight>,
    finished: bool,
    /// The data buffer of the last request, reused for the next.
    spare: Vec<u8>,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("session", &self.session.id())
            .field("alg", &self.alg)
            .field("op", &self.op)
            .field("in_flight", &self.in_flight.is_some())
            .field("finished", &self.finished)
            .finish()
    }
}

impl Stream {
    /// Opens a stream; `can_continue(alg)` says whether some device of the
    /// engine keeps stream state for a hash or MAC.
    pub(crate) fn open(
        engine: Engine,
        session: Session,
        iv: &[u8],
        can_continue: impl Fn(Algorithm) -> bool,
    ) -> Result<Stream> {
        let [step] = session.steps() else {
            return Err(Error::Unsupported(format!(
                "a stream runs on a one-step session; this one has {} steps",
                session.steps().len()
            )));
        };
        let (alg, op) = (step.alg, step.op);
        let kind = match alg.kind() {
            OpKind::Hash | OpKind::Mac => {
                if !iv.is_empty() {
                    return Err(Error::InvalidLength(format!("{alg} takes no IV, got {} bytes", iv.len())));
                }
                if !can_continue(alg) {
                    return Err(Error::Unsupported(format!("no device of this engine can continue a {alg} stream")));
                }
                Kind::Digest { state: None }
            }
            OpKind::Cipher => {
                let Algorithm::Aes { mode, .. } = alg else {
                    return Err(Error::Unsupported(format!("{alg} has no stream form")));
                };
                if mode == CipherMode::Xts {
                    return Err(Error::Unsupported(format!(
                        "{alg} has no stream form: each XTS data unit is one request"
                    )));
                }
                alg.check_iv(iv)?;
                let mut next = [0u8; BLOCK];
                if mode != CipherMode::Ecb {
                    next.copy_from_slice(iv);
                }
                Kind::Cipher { mode, iv: next, partial: Vec::with_capacity(BLOCK) }
            }
            OpKind::Aead => {
                return Err(Error::Unsupported(format!("{alg} has no stream form: an AEAD message is one request")))
            }
            OpKind::Rng => return Err(Error::Unsupported("rng has no stream form".into())),
            OpKind::Asym => {
                return Err(Error::Unsupported(format!(
                    "{alg} has no stream form: sign a digest with a prehashed request instead"
                )))
            }
        };
        Ok(Stream { engine, session, alg, op, kind, in_flight: None, finished: false, spare: Vec::new() })
    }

    /// A copy of the stream as it is now (OpenSSL's `dupctx`, the TLS
    /// transcript hash): both continue independently from here. Cheap: a
    /// hash state is shared until one of them updates (states are
    /// immutable), a cipher's is an IV and < 1 block.
    ///
    /// # Errors
    /// `InvalidArgument` while an update is in flight (the copy's state
    /// would not be known).
    pub fn try_clone(&self) -> Result<Stream> {
        if self.in_flight.is_some() {
            return Err(Error::InvalidArgument("the stream has an update in flight: copy it after".into()));
        }
        let kind = match &self.kind {
            Kind::Digest { state } => Kind::Digest { state: state.clone() },
            Kind::Cipher { mode, iv, partial } => Kind::Cipher { mode: *mode, iv: *iv, partial: partial.clone() },
        };
        Ok(Stream {
            engine: self.engine.clone(),
            session: self.session.clone(),
            alg: self.alg,
            op: self.op,
            kind,
            in_flight: None,
            finished: self.finished,
            spare: Vec::new(),
        })
    }

    /// The session the stream runs on.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Whether the stream has finished (`finish` or `verify` succeeded, or
    /// verify failed: the stream is over either way).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The most output bytes an update of `len` input bytes can produce
    /// (ciphers: the partial block plus the input, in whole blocks; hashes: 0).
    pub fn max_output(&self, len: usize) -> usize {
        match &self.kind {
            Kind::Digest { .. } => 0,
            Kind::Cipher { partial, .. } => {
                let total = partial.len().saturating_add(len);
                total - total % BLOCK
            }
        }
    }

    /// The most output bytes `finish` can produce (CTR's partial block).
    pub fn max_final_output(&self) -> usize {
        match &self.kind {
            Kind::Cipher { partial, .. } => partial.len(),
            Kind::Digest { .. } => 0,
        }
    }

    fn ready(&self) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidArgument("the stream has finished".into()));
        }
        if self.in_flight.is_some() {
            return Err(Error::InvalidArgument("the stream has an update in flight: one at a time".into()));
        }
        Ok(())
    }

    fn buffer(&mut self, parts: &[&[u8]]) -> Vec<u8> {
        let mut b = std::mem::take(&mut self.spare);
        b.clear();
        for p in parts {
            b.extend_from_slice(p);
        }
        b
    }

    /// Builds the request for an update of `data` (any length, 0
    /// included). `None` when there is nothing to send yet (no data, or
    /// less than a block for a cipher, which the stream keeps): the update
    /// is then done. Otherwise submit the request on [`session`](Self::session)
    /// and hand its result to [`end_update`](Self::end_update) before
    /// anything else.
    ///
    /// # Errors
    /// `InvalidArgument` when the stream finished or has a request in flight.
    pub fn begin_update(&mut self, data: &[u8]) -> Result<Option<Request>> {
        self.ready()?;
        if data.is_empty() {
            return Ok(None);
        }
        match &mut self.kind {
            Kind::Digest { state } => {
                let part = StreamPart { state: state.clone(), last: false, next: None };
                let mut r = Request::new(self.buffer(&[data]));
                r.stream = Some(Box::new(part));
                self.in_flight = Some(InFlight::Update { tail: Vec::new(), next_iv: None, blocks: 0 });
                Ok(Some(r))
            }
            Kind::Cipher { partial, mode, iv } => {
                let total = partial.len() + data.len();
                let send = total - total % BLOCK;
                if send == 0 {
                    partial.extend_from_slice(data);
                    return Ok(None);
                }
                let (mode, iv) = (*mode, *iv);
                let head = std::mem::take(partial);
                let from_data = send - head.len();
                let tail = data[from_data..].to_vec();
                let buf = self.buffer(&[&head, &data[..from_data]]);
                // Kept until the update succeeds, so that a failed update
                // leaves the stream as it was.
                if let Kind::Cipher { partial, .. } = &mut self.kind {
                    *partial = head;
                }
                let next_iv = match (mode, self.op) {
                    // Decryption chains on the last ciphertext block: the input's.
                    (CipherMode::Cbc, Op::Decrypt) => Some(last_block(&buf)),
                    _ => None,
                };
                let mut r = Request::new(buf);
                if mode != CipherMode::Ecb {
                    r.iv = iv.to_vec();
                }
                self.in_flight = Some(InFlight::Update { tail, next_iv, blocks: (send / BLOCK) as u128 });
                Ok(Some(r))
            }
        }
    }

    /// Takes the result of the request [`begin_update`](Self::begin_update)
    /// built; a cipher's output is appended to `out`.
    ///
    /// # Errors
    /// The request's own error (the stream is then as it was before the
    /// update: repeat it or drop the stream); `Internal` when a device
    /// returned no state; `InvalidArgument` when no update was in flight.
    pub fn end_update(&mut self, result: Result<Request>, out: &mut Vec<u8>) -> Result<()> {
        let Some(InFlight::Update { tail, next_iv, blocks }) = self.in_flight.take() else {
            return Err(Error::InvalidArgument("no update is in flight".into()));
        };
        let mut r = result?;
        match &mut self.kind {
            Kind::Digest { state } => {
                let Some(next) = r.stream.take().and_then(|p| p.next) else {
                    return Err(Error::Internal(format!(
                        "the device returned no {} stream state; the update did not happen",
                        self.alg
                    )));
                };
                if next.alg() != self.alg || state.as_ref().is_some_and(|s| s.family() != next.family()) {
                    return Err(Error::Internal(format!(
                        "the device returned a {} state of family '{}' for a {} stream; the update did not happen",
                        next.alg(),
                        next.family(),
                        self.alg
                    )));
                }
                *state = Some(next);
            }
            Kind::Cipher { mode, iv, partial } => {
                let output = r.output();
                let new_iv = match (*mode, self.op) {
                    (CipherMode::Cbc, Op::Decrypt) => next_iv.unwrap_or(*iv),
                    (CipherMode::Cbc, _) => last_block(output),
                    (CipherMode::Ctr, _) => (u128::from_be_bytes(*iv).wrapping_add(blocks)).to_be_bytes(),
                    _ => *iv,
                };
                out.extend_from_slice(output);
                *iv = new_iv;
                *partial = tail;
            }
        }
        self.spare = std::mem::take(&mut r.data);
        Ok(())
    }

    /// Builds the last request: a hash or MAC's finalization (with the
    /// expected `tag` for a verify session), or a CTR stream's partial
    /// block. `None` when nothing is left to send (a cipher stream whose
    /// data was whole blocks): call [`end_finish`](Self::end_finish) with
    /// `None`.
    ///
    /// # Errors
    /// `InvalidLength` for a CBC or ECB stream that is not whole blocks,
    /// or a tag of the wrong length; `InvalidArgument` for a tag on a
    /// digest session or none on a verify session, a finished stream, or
    /// one with a request in flight.
    pub fn begin_finish(&mut self, tag: Option<&[u8]>) -> Result<Option<Request>> {
        self.ready()?;
        match (self.op, tag) {
            (Op::Verify, None) => {
                return Err(Error::InvalidArgument("a verify stream ends with verify(tag), not finish".into()))
            }
            (Op::Verify, Some(_)) => {}
            (_, Some(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "this {} session computes ({:?}); open the stream on a Verify session to verify",
                    self.alg, self.op
                )))
            }
            _ => {}
        }
        let alg = self.alg;
        let r = match &mut self.kind {
            Kind::Digest { state } => {
                let mut r = Request::new(Vec::new());
                // A stream that never sent data is the one-shot empty message.
                if let Some(s) = state.clone() {
                    r.stream = Some(Box::new(StreamPart { state: Some(s), last: true, next: None }));
                }
                if let Some(t) = tag {
                    r.tag = t.to_vec();
                }
                Some(r)
            }
            Kind::Cipher { partial, .. } if partial.is_empty() => None,
            Kind::Cipher { mode: CipherMode::Ctr, iv, partial } => {
                let (iv, part) = (*iv, std::mem::take(partial));
                let buf = self.buffer(&[&part]);
                if let Kind::Cipher { partial, .. } = &mut self.kind {
                    *partial = part;
                }
                Some(Request::new(buf).with_iv(&iv))
            }
            Kind::Cipher { partial, .. } => {
                return Err(Error::InvalidLength(format!(
                    "{alg} stream ends with {} bytes beyond whole 16-byte blocks",
                    partial.len()
                )))
            }
        };
        self.in_flight = Some(InFlight::Finish);
        Ok(r)
    }

    /// Takes the result of the request [`begin_finish`](Self::begin_finish)
    /// built (`None` when it built none). Returns the digest or MAC (empty
    /// for a verify or a cipher stream); a cipher's last output is appended
    /// to `out`.
    ///
    /// # Errors
    /// The request's error: a device fault leaves the stream as it was
    /// (finish again); `VerifyFailed` ends the stream.
    pub fn end_finish(&mut self, result: Option<Result<Request>>, out: &mut Vec<u8>) -> Result<Vec<u8>> {
        let Some(InFlight::Finish) = self.in_flight.take() else {
            return Err(Error::InvalidArgument("no finish is in flight".into()));
        };
        let Some(result) = result else {
            self.finished = true;
            return Ok(Vec::new());
        };
        let r = match result {
            Ok(r) => r,
            Err(Error::VerifyFailed) => {
                self.finished = true;
                return Err(Error::VerifyFailed);
            }
            Err(e) => return Err(e),
        };
        self.finished = true;
        match &mut self.kind {
            Kind::Digest { state } => {
                *state = None;
                Ok(if self.op == Op::Verify { Vec::new() } else { r.tag })
            }
            Kind::Cipher { partial, .. } => {
                partial.clear();
                out.extend_from_slice(r.output());
                Ok(Vec::new())
            }
        }
    }

    /// Updates with `data` (any length) and waits; a cipher's output is
    /// appended to `out` (at most [`max_output`](Self::max_output) bytes).
    ///
    /// # Errors
    /// As [`begin_update`](Self::begin_update) and
    /// [`end_update`](Self::end_update).
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self.begin_update(data)? {
            None => Ok(()),
            Some(r) => {
                let result = self.engine.run(&self.session, r);
                self.end_update(result, out)
            }
        }
    }

    /// Ends the stream and waits: the digest or MAC (empty for a cipher,
    /// whose last output is appended to `out`).
    ///
    /// # Errors
    /// As [`begin_finish`](Self::begin_finish) and
    /// [`end_finish`](Self::end_finish).
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<Vec<u8>> {
        let r = self.begin_finish(None)?;
        let result = r.map(|r| self.engine.run(&self.session, r));
        self.end_finish(result, out)
    }

    /// Ends a MAC stream on a verify session: `Ok` when `tag` (10 bytes up
    /// to the MAC's length, compared in constant time by the device) is
    /// the MAC of everything streamed.
    ///
    /// # Errors
    /// `VerifyFailed` when it is not; otherwise as [`finish`](Self::finish).
    pub fn verify(&mut self, tag: &[u8]) -> Result<()> {
        let r = self.begin_finish(Some(tag))?;
        let result = r.map(|r| self.engine.run(&self.session, r));
        self.end_finish(result, &mut Vec::new()).map(|_| ())
    }
}

fn last_block(b: &[u8]) -> [u8; BLOCK] {
    let mut iv = [0u8; BLOCK];
    if b.len() >= BLOCK {
        iv.copy_from_slice(&b[b.len() - BLOCK..]);
    }
    iv
}
