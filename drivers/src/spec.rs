//! Device specifications: which devices an engine builds.
//!
//! A specification is a comma-separated list of `KIND[:COUNT]` items; today
//! the kind is `soft` (`soft` alone means one device per CPU core).

use crate::soft::SoftDevice;
use acrypto_core::{Driver, Error, Result};
use std::sync::Arc;

/// The environment variable that chooses the default engine's devices.
pub const ENV_DEVICES: &str = "ACRYPTO_DEVICES";

/// One device per CPU core.
pub fn default_soft_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Parses a specification into drivers.
pub fn parse(spec: &str) -> Result<Vec<Arc<dyn Driver>>> {
    let mut out: Vec<Arc<dyn Driver>> = Vec::new();
    let mut soft = 0usize;
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (kind, count) = match item.split_once(':') {
            Some((k, c)) => {
                let n: usize =
                    c.parse().map_err(|_| Error::InvalidArgument(format!("bad device count in '{item}'")))?;
                if n == 0 || n > 1024 {
                    return Err(Error::InvalidArgument(format!("device count in '{item}' must be 1..=1024")));
                }
                (k, Some(n))
            }
            None => (item, None),
        };
        match kind {
            "soft" => {
                for _ in 0..count.unwrap_or_else(default_soft_count) {
                    out.push(Arc::new(SoftDevice::new(format!("soft{soft}"))));
                    soft += 1;
                }
            }
            other => {
                return Err(Error::InvalidArgument(format!("unknown device kind '{other}' (known: soft)")));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidArgument(format!("device specification '{spec}' names no device")));
    }
    Ok(out)
}

/// The specification from `ACRYPTO_DEVICES`, or `soft` (one per core).
pub fn from_env() -> String {
    std::env::var(ENV_DEVICES).unwrap_or_else(|_| "soft".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_rejects_garbage() {
        assert_eq!(parse("soft:3").unwrap().len(), 3);
        assert_eq!(parse("soft:1, soft:2").unwrap().len(), 3);
        assert_eq!(parse("soft").unwrap().len(), default_soft_count());
        assert!(parse("").is_err());
        assert!(parse("soft:0").is_err());
        assert!(parse("soft:x").is_err());
        assert!(parse("hifn:1").is_err());
        let names: Vec<_> = parse("soft:2").unwrap().iter().map(|d| d.name().to_string()).collect();
        assert_eq!(names, ["soft0", "soft1"]);
    }
}
