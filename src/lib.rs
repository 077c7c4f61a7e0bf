#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use acrypto_core::*;
pub use acrypto_drivers as drivers;
pub use acrypto_drivers::{soft_devices, SoftDevice};
pub use padding::{pkcs7_pad, pkcs7_unpad};

pub mod padding;

/// An engine with `n` software devices (`soft0`…), least-loaded balancing.
///
/// # Errors
/// `InvalidArgument` for a bad `ACRYPTO_MAX_IN_FLIGHT_BYTES`.
pub fn soft_engine(n: usize) -> Result<Engine> {
    let mut b = Engine::builder();
    for d in soft_devices(n) {
        b = b.device(d);
    }
    b.build()
}

/// An engine whose devices come from a specification such as `soft:4`
/// (see [`drivers::spec`]).
///
/// # Errors
/// `InvalidArgument` for a specification that does not parse (unknown
/// kind, bad count); `NoSuchDevice` (with the reason) or `NoDevice` when
/// kernel-backed devices cannot be opened or none is usable; as
/// [`soft_engine`].
pub fn engine_from_spec(spec: &str) -> Result<Engine> {
    let mut b = Engine::builder();
    for d in drivers::spec::parse(spec)? {
        b = b.device_arc(d);
    }
    b.build()
}

/// The default engine: devices from `ACRYPTO_DEVICES`, else one software
/// device per CPU core.
///
/// # Errors
/// As [`engine_from_spec`].
pub fn default_engine() -> Result<Engine> {
    engine_from_spec(&drivers::spec::from_env())
}
