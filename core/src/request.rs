//! Requests: one unit of work on a session, owning its buffers.

use crate::error::Error;
use crate::stream::StreamPart;

/// One unit of work. The request owns its buffers and gets them back on
/// completion (the io_uring ownership rule), so no borrow crosses threads.
///
/// - `data`: the input. Ciphers transform it in place unless `out` is set.
/// - `out`: optional separate output buffer; when set, `data` is left as it
///   was and the result of the first transforming step lands in `out`
///   (resized to fit); later steps work on `out`.
/// - `iv`: the IV (16 bytes for cbc and ctr; the tweak for xts; empty for
///   ecb; the 12-byte nonce for an AEAD).
/// - `aad`: associated data, authenticated, not encrypted: an AEAD's, and
///   for a MAC step the bytes authenticated before the data (an authenc
///   route such as ESP's encrypt-then-HMAC puts its header and IV there);
///   ciphers and digests ignore it. Only the software devices take it on
///   a MAC step today.
/// - `tag`: output of a digest/MAC step (resized to the digest length), or
///   the expected MAC for a verify step. AEAD: a seal writes the 16-byte
///   tag; an open reads the expected tag (GCM: 12 to 16 bytes).
///
/// An AEAD open whose tag does not verify fails with
/// [`Error::VerifyFailed`] and releases no plaintext: the output is left
/// as the ciphertext (the tag is checked before anything is decrypted).
/// - `prehashed`: for an asymmetric sign or verify step, the data is
///   already the SHA-256 digest of the message (32 bytes), as a TLS stack
///   signs a handshake hash; otherwise the step hashes the data.
///
/// Asymmetric steps ([`OpKind::Asym`](crate::OpKind::Asym)): sign writes
/// the signature into `tag`; verify checks the signature in `tag`
/// (`VerifyFailed` when it does not verify); encrypt and decrypt replace
/// the data with the ciphertext or plaintext; derive reads the peer's
/// public key (SubjectPublicKeyInfo DER) as the data and replaces it with
/// the shared secret.
/// - `user`: the caller's cookie, untouched.
/// - `stream`: for a hash or HMAC stream, the state to continue from and
///   the state the device returns (see [`crate::stream`]); `None` for a
///   one-shot request. Only devices of the state's family take it.
///
/// A request may be reused: every submission (and `run`) starts a new run,
/// in which the first transforming step reads `data` again, whatever an
/// earlier run left in `out`. Equality compares the public fields only.
#[derive(Default, Clone)]
pub struct Request {
    /// Input (and output when `out` is `None`).
    pub data: Vec<u8>,
    /// Separate output buffer.
    pub out: Option<Vec<u8>>,
    /// IV, tweak or nonce.
    pub iv: Vec<u8>,
    /// AEAD associated data.
    pub aad: Vec<u8>,
    /// Digest/MAC output, or the expected tag for verification.
    pub tag: Vec<u8>,
    /// The caller's cookie.
    pub user: u64,
    /// The data of an asymmetric sign or verify step is a SHA-256 digest.
    pub prehashed: bool,
    /// The stream part of a hash or HMAC stream request (boxed: one-shot
    /// requests stay small).
    pub stream: Option<Box<StreamPart>>,
    /// Whether a step of the current run wrote `out` (so later steps read
    /// it). Per run: cleared when the request is submitted.
    out_written: bool,
}

impl PartialEq for Request {
    fn eq(&self, o: &Self) -> bool {
        self.data == o.data
            && self.out == o.out
            && self.iv == o.iv
            && self.tag == o.tag
            && self.user == o.user
            && self.prehashed == o.prehashed
    }
}

impl Eq for Request {}

/// Lengths only: buffers may hold plaintext, which has no place in logs.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("data_len", &self.data.len())
            .field("out_len", &self.out.as_ref().map(Vec::len))
            .field("iv_len", &self.iv.len())
            .field("aad_len", &self.aad.len())
            .field("tag_len", &self.tag.len())
            .field("user", &self.user)
            .field("stream", &self.stream)
            .finish()
    }
}

impl Request {
    /// A request on `data`, processed in place.
    pub fn new(data: Vec<u8>) -> Self {
        Request { data, ..Default::default() }
    }

    /// Sets the IV (builder style).
    pub fn with_iv(mut self, iv: &[u8]) -> Self {
        self.iv = iv.to_vec();
        self
    }

    /// Sets the AEAD associated data (builder style).
    pub fn with_aad(mut self, aad: &[u8]) -> Self {
        self.aad = aad.to_vec();
        self
    }

    /// Sets the expected tag for verification (builder style).
    pub fn with_tag(mut self, tag: &[u8]) -> Self {
        self.tag = tag.to_vec();
        self
    }

    /// Asks for the output in a separate buffer (reused if it has capacity).
    pub fn with_output(mut self, out: Vec<u8>) -> Self {
        self.out = Some(out);
        self
    }

    /// Marks the data as a SHA-256 digest for a sign or verify step.
    pub fn with_prehashed(mut self, on: bool) -> Self {
        self.prehashed = on;
        self
    }

    /// Sets the caller's cookie.
    pub fn with_user(mut self, user: u64) -> Self {
        self.user = user;
        self
    }

    /// The current contents steps read: `out` once a step has written it,
    /// else `data`.
    pub fn current(&self) -> &[u8] {
        match &self.out {
            Some(o) if self.out_written => o,
            _ => &self.data,
        }
    }

    /// The buffer a transforming step writes in place. With a separate
    /// output, the first call copies `data` into `out`.
    pub fn current_mut(&mut self) -> &mut Vec<u8> {
        match &mut self.out {
            Some(o) => {
                if !self.out_written {
                    o.clear();
                    o.extend_from_slice(&self.data);
                    self.out_written = true;
                }
                o
            }
            None => &mut self.data,
        }
    }

    /// The result: `out` if the request had one, else `data`.
    pub fn output(&self) -> &[u8] {
        match &self.out {
            Some(o) => o,
            None => &self.data,
        }
    }

    /// Starts a new run: the first transforming step will read `data` (the
    /// engine calls this when the request is submitted; a driver test that
    /// runs a request twice by hand calls it between the runs).
    pub fn start_run(&mut self) {
        self.out_written = false;
    }

    /// Bytes the request carries (for statistics and balancing).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the data buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A request that finished: its buffers and its final status.
#[derive(Debug)]
pub struct Done {
    /// The request with its buffers.
    pub request: Request,
    /// `Ok` or the error of the step that failed.
    pub status: Result<(), Error>,
}

impl Done {
    /// The status as a `Result` carrying the request.
    pub fn into_result(self) -> Result<Request, Error> {
        self.status.map(|()| self.request)
    }
}
