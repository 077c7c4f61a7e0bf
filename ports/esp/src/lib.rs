//! acrypto-esp: the IPsec ESP port (DESIGN.md §7a).
//!
//! A tunnel-mode ESP endpoint (RFC 4303) in user space whose per-packet crypto
//! runs through the acrypto engine in batches, interoperating with Linux xfrm:
//! ESP in UDP (RFC 3948) by default, raw ESP as an option; SAs and policies
//! with the parameters of `ip xfrm state` / `ip xfrm policy`.
//!
//! - [`codec`]: the ESP packet format around the crypto.
//! - [`replay`]: the anti-replay window.
//! - [`config`]: the TOML configuration.
//! - [`endpoint`]: SAs, sessions, counters, one batch through the engine.
//! - [`tunnel`]: the TUN device, the socket and the loop.

pub mod codec;
pub mod config;
pub mod endpoint;
pub mod mmsg;
pub mod replay;
pub mod tunnel;

pub use config::Config;
pub use endpoint::Endpoint;
