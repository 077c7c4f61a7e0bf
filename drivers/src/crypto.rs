//! The primitives behind the software device (RustCrypto crates only).
//! Placeholder until the real implementation lands.

use acrypto_core::{Error, Request, Step};

/// Runs one route step on a request.
pub fn apply_step(step: &Step, _req: &mut Request) -> Result<(), Error> {
    Err(Error::Unsupported(step.alg.to_string()))
}

/// Runs route steps in order.
pub fn apply_steps(steps: &[Step], req: &mut Request) -> Result<(), Error> {
    steps.iter().try_for_each(|s| apply_step(s, req))
}
