//! acrypto-drivers: the crypto devices of acrypto.
//!
//! - [`soft`]: CPU worker threads running RustCrypto primitives.
//! - [`crypto`]: the primitives themselves, one route step at a time.
//! - [`spec`]: device specifications such as `soft:4`, as the CLI and the
//!   `ACRYPTO_DEVICES` environment variable give them.

pub mod crypto;
pub mod soft;
pub mod spec;

pub use soft::{soft_devices, SoftDevice};
