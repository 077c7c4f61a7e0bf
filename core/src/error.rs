//! The one error type of acrypto.

use thiserror::Error;

/// Everything that can go wrong, from submission to completion.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// No registered, working device offers what the request needs.
    #[error("no device can perform {0}")]
    NoDevice(String),
    /// Every capable device queue is full (or the engine's in-flight limit is
    /// reached); try again later or submit with blocking.
    #[error("all capable device queues are full")]
    Busy,
    /// A key of the wrong length or shape for its algorithm.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A buffer, IV or tag of the wrong length.
    #[error("invalid length: {0}")]
    InvalidLength(String),
    /// An argument that is not valid for the operation.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An algorithm or operation nobody implements.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The device (bound, or the last one able to do the work) is broken or gone.
    #[error("device broken: {0}")]
    DeviceBroken(String),
    /// A device failed this piece of work; the engine retries it elsewhere
    /// unless the session is bound to the device.
    #[error("device failure: {0}")]
    DeviceFailure(String),
    /// The request was canceled (engine shutdown or device removal).
    #[error("request canceled")]
    Canceled,
    /// A MAC did not verify.
    #[error("authentication failed: tag mismatch")]
    VerifyFailed,
    /// Bad PKCS#7 padding on decryption.
    #[error("bad padding")]
    BadPadding,
    /// The engine is shutting down and accepts no more work.
    #[error("engine is shut down")]
    ShutDown,
    /// A device or balancer of that name already exists, or similar.
    #[error("already exists: {0}")]
    Exists(String),
    /// A named device does not exist.
    #[error("no such device: {0}")]
    NoSuchDevice(String),
    /// A blocking call (`run`, `submit_blocking`, `wait_idle`) made from
    /// inside a completion the engine delivers on its own thread (a DIRECT
    /// callback): it could wait for itself forever, so it is refused.
    #[error("would deadlock: {0}")]
    WouldDeadlock(String),
    /// Anything else a driver reports.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Whether the engine may retry work that failed with this error on
    /// another device (faults of the device, not of the request).
    pub fn is_device_fault(&self) -> bool {
        matches!(self, Error::DeviceFailure(_) | Error::DeviceBroken(_))
    }
}

/// Result with acrypto's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;
