//! acrypto-core: the engine model of acrypto.
//!
//! An [`Engine`] owns crypto devices (each a [`Driver`] plus a bounded
//! priority queue), a [`Balancer`] that picks devices, and completion
//! workers. A [`Session`] is a route of steps with keys; a [`Request`] owns
//! its buffers and walks the route step by step, possibly across devices,
//! and completes exactly once. See DESIGN.md §3.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alg;
pub mod balancer;
mod budget;
pub mod completion;
pub mod device;
pub mod engine;
pub mod error;
mod identity;
pub mod queue;
mod reentry;
pub mod request;
mod room;
mod route;
pub mod session;
pub mod stats;
pub mod stream;
mod submission;
mod sync;

pub use alg::{Algorithm, Capability, CipherMode, DigestKind, EcCurve, Op, OpKind, RsaPadding};
pub use balancer::{
    Affinity, AffinityKey, Balancer, Candidate, Failover, LeastLoaded, RateAware, RoundRobin, SizeThreshold, WorkInfo,
};
pub use budget::{default_byte_limit, BYTE_LIMIT_ENV};
pub use completion::{spin_until, Carry, Completion, CompletionQueue, Pending, SlotHandle};
pub use device::{DeviceClass, DeviceHandle, DeviceId, DeviceInfo, DeviceState, Driver, Work};
pub use engine::{BatchRejected, Engine, EngineBuilder, EngineConfig, Rejected, RemoveMode, ShutdownMode};
pub use error::{Error, Result};
pub use queue::PRIORITY_LEVELS;
pub use request::{Done, Request};
pub use room::Submission;
pub use session::{Key, Session, SessionBuilder, SessionFlags, Step};
pub use stats::Stats;
pub use stream::{Stream, StreamPart, StreamState};
