//! Device specifications: which devices an engine builds.
//!
//! A specification is a comma-separated list of items:
//!
//! - `soft[:COUNT]`: software devices (`soft` alone: one per CPU core);
//! - `kdev`: one device per kernel driver `/dev/acrypto` lists and can use;
//!   `kdev:NAME`: the one for kernel driver `NAME` (e.g. `kdev:cbc-aes-aesni`,
//!   `kdev:cryptd(cbc(aes-generic))`);
//! - `afalg[:COUNT]`: AF_ALG devices (`afalg` alone: one, named `afalg`);
//! - `imb[:COUNT]`: ipsec-mb devices, one worker and one job manager each
//!   (`imb` alone: one, named `imb`); needs `libIPSec_MB.so.1` at run time;
//! - `null[:COUNT]`: null devices (`null` alone: one, named `null`), which
//!   complete every request at once without touching it: a measuring tool
//!   for the engine's own cost (`acrypto bench --devices null:1`), never
//!   for data;
//! - `pkcs11:MODULE.so[?slot=N&token=LABEL&pin-source=FILE]`: the PKCS#11
//!   token in that slot (default: the first slot with a token), logged in
//!   with the user PIN the file holds (none: public objects only); one
//!   device per item, named `pkcs11`, `pkcs11-1`, ...

use crate::afalg::AfalgDevice;
use crate::imb::ImbDevice;
use crate::kdev::{self, KdevDevice};
use crate::null::NullDevice;
use crate::pkcs11::{Pkcs11Device, Pkcs11Spec};
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
    let mut afalg = 0usize;
    let mut null = 0usize;
    let mut imb = 0usize;
    let mut pkcs11 = 0usize;
    for item in split_items(spec) {
        if let Some(rest) = item.strip_prefix("pkcs11:") {
            let name = if pkcs11 == 0 { "pkcs11".to_string() } else { format!("pkcs11-{pkcs11}") };
            out.push(Arc::new(Pkcs11Device::open(name, &Pkcs11Spec::parse(rest)?)?));
            pkcs11 += 1;
            continue;
        }
        if item == "kdev" {
            let probe = kdev::probe_all()?;
            if probe.devices.is_empty() {
                return Err(Error::NoDevice(format!(
                    "kdev: /dev/acrypto lists no usable kernel driver ({} skipped)",
                    probe.skipped.len()
                )));
            }
            out.extend(probe.devices.into_iter().map(|d| Arc::new(d) as Arc<dyn Driver>));
            continue;
        }
        if let Some(name) = item.strip_prefix("kdev:") {
            out.push(Arc::new(KdevDevice::open(name)?));
            continue;
        }
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
            "afalg" => {
                let n = count.unwrap_or(1);
                for _ in 0..n {
                    let name = if count.is_none() { "afalg".to_string() } else { format!("afalg{afalg}") };
                    out.push(Arc::new(AfalgDevice::new(name)?));
                    afalg += 1;
                }
            }
            "imb" => {
                if count.is_none() {
                    out.push(Arc::new(ImbDevice::new("imb")?));
                }
                for _ in 0..count.unwrap_or(0) {
                    out.push(Arc::new(ImbDevice::new(format!("imb{imb}"))?));
                    imb += 1;
                }
            }
            "null" => {
                if count.is_none() {
                    out.push(Arc::new(NullDevice::new("null")));
                }
                for _ in 0..count.unwrap_or(0) {
                    out.push(Arc::new(NullDevice::new(format!("null{null}"))));
                    null += 1;
                }
            }
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown device kind '{other}' (known: soft, kdev, kdev:DRIVER, afalg, imb, null, pkcs11:MODULE)"
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidArgument(format!("device specification '{spec}' names no device")));
    }
    Ok(out)
}

/// Splits at commas that are not inside parentheses (kernel driver names
/// such as `cryptd(cbc(aes-generic))` hold none today, but templates with
/// two arguments would).
fn split_items(spec: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in spec.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth <= 0 => {
                out.push(spec[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(spec[start..].trim());
    out.retain(|s| !s.is_empty());
    out
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
        assert_eq!(
            split_items(" soft:1, kdev:cryptd(cbc(aes-generic)) ,afalg,"),
            ["soft:1", "kdev:cryptd(cbc(aes-generic))", "afalg"]
        );
        let names: Vec<_> = parse("soft:2").unwrap().iter().map(|d| d.name().to_string()).collect();
        assert_eq!(names, ["soft0", "soft1"]);
        let names: Vec<_> = parse("null,null:2").unwrap().iter().map(|d| d.name().to_string()).collect();
        assert_eq!(names, ["null", "null0", "null1"]);
        assert!(parse("null").unwrap().iter().all(|d| d.driver() == "null"));
        assert!(parse("null:0").is_err());
    }

    #[test]
    fn kernel_kinds_fail_clearly_where_unavailable() {
        if !crate::kdev::available() {
            let e = parse("kdev").err().expect("kdev without /dev/acrypto");
            assert!(e.to_string().contains("/dev/acrypto"), "{e}");
            let e = parse("kdev:cbc-aes-aesni").err().expect("kdev:NAME without /dev/acrypto");
            assert!(e.to_string().contains("/dev/acrypto"), "{e}");
        }
        if !crate::afalg::available() {
            let e = parse("afalg").err().expect("afalg without AF_ALG");
            assert!(e.to_string().contains("AF_ALG"), "{e}");
        }
    }
}
