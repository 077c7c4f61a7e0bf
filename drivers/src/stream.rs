//! Hash and HMAC stream state of the software device.
//!
//! The state is the RustCrypto hasher itself (`Sha1`, `Sha256`, or the
//! keyed `Hmac`), which is `Clone`: a device continues a stream by cloning
//! the state it is given (never changing it), absorbing the request's data
//! and returning the clone as the next state, or finalizing it. Any
//! software device of the process continues any software stream: the
//! family is [`SOFT_FAMILY`]. HMAC states hold key-derived material and
//! are wiped on drop ([`KeyedMac`]).

use crate::schedule::{KeyedMac, Schedule};
use acrypto_core::alg::MIN_VERIFY_TAG;
use acrypto_core::{Algorithm, DigestKind, Error, Op, OpKind, Request, Step, StreamState};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The stream state family of the software device.
pub const SOFT_FAMILY: &str = "soft";

/// The family a software device names for `alg`: hashes and MACs stream.
pub fn soft_family(alg: Algorithm) -> Option<String> {
    matches!(alg.kind(), OpKind::Hash | OpKind::Mac).then(|| SOFT_FAMILY.to_string())
}

/// A running hash or HMAC.
#[derive(Clone)]
enum Running {
    Sha1(Sha1),
    Sha256(Sha256),
    HmacSha1(KeyedMac<Hmac<Sha1>>),
    HmacSha256(KeyedMac<Hmac<Sha256>>),
}

impl Running {
    fn fresh(alg: Algorithm, sched: &Schedule) -> Result<Running, Error> {
        Ok(match (alg, sched) {
            (Algorithm::Digest(DigestKind::Sha1), _) => Running::Sha1(Sha1::new()),
            (Algorithm::Digest(DigestKind::Sha256), _) => Running::Sha256(Sha256::new()),
            (Algorithm::Hmac(DigestKind::Sha1), Schedule::HmacSha1(m)) => Running::HmacSha1(m.clone()),
            (Algorithm::Hmac(DigestKind::Sha256), Schedule::HmacSha256(m)) => Running::HmacSha256(m.clone()),
            _ => return Err(Error::InvalidArgument(format!("{alg} has no software stream state"))),
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Running::Sha1(h) => Digest::update(h, data),
            Running::Sha256(h) => Digest::update(h, data),
            Running::HmacSha1(m) => Mac::update(&mut m.0, data),
            Running::HmacSha256(m) => Mac::update(&mut m.0, data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            Running::Sha1(h) => h.finalize().to_vec(),
            Running::Sha256(h) => h.finalize().to_vec(),
            Running::HmacSha1(m) => m.0.clone().finalize().into_bytes().to_vec(),
            Running::HmacSha256(m) => m.0.clone().finalize().into_bytes().to_vec(),
        }
    }
}

/// Runs one request of a hash or HMAC stream (its `stream` is set).
pub fn apply(step: &Step, sched: &Schedule, req: &mut Request) -> Result<(), Error> {
    let alg = step.alg;
    let Some(part) = &req.stream else {
        return Err(Error::InvalidArgument("not a stream request".into()));
    };
    let last = part.last;
    if last && step.op == Op::Verify && !(MIN_VERIFY_TAG..=alg.digest_len()).contains(&req.tag.len()) {
        return Err(Error::InvalidLength(format!(
            "{alg} verify takes a tag of {MIN_VERIFY_TAG} to {} bytes, got {}",
            alg.digest_len(),
            req.tag.len()
        )));
    }
    let mut running = match part.state_for(SOFT_FAMILY, alg)? {
        None => Running::fresh(alg, sched)?,
        Some(s) => s
            .get::<Running>()
            .ok_or_else(|| Error::InvalidArgument(format!("a {alg} stream state that is not the software device's")))?
            .clone(),
    };
    running.update(req.current());
    if !last {
        if let Some(p) = req.stream.as_mut() {
            p.next = Some(StreamState::new(SOFT_FAMILY, alg, running));
        }
        return Ok(());
    }
    let full = zeroize::Zeroizing::new(running.finalize());
    crate::crypto::finish_tag(step.op, alg, &full, req)
}
