//! Which kernel crypto drivers are backed by a device, not the CPU.
//!
//! The kernel says it for some drivers (`CRYPTO_ALG_KERN_DRIVER_ONLY`, which
//! the module reports as `ACRYPTO_DEV_F_HW`), but many device drivers never
//! set that flag: QEMU's virtio-crypto (`virtio_crypto_aes_cbc`) does not. The
//! other test is structural: a driver is hardware when the kernel module that
//! registered it (`module` in `/proc/crypto`) drives devices, that is, a bus
//! driver belongs to it, or to a module that uses it (QAT's algorithms live
//! in `intel_qat`, its PCI drivers in `qat_4xxx` and friends, which hold
//! `intel_qat`). sysfs shows both: `/sys/module/M/drivers/BUS:NAME` for a
//! driver registered with its owner, `/sys/bus/BUS/drivers/M` for one named
//! after its module (virtio drivers of Linux 6.1 register without an owner),
//! and `/sys/module/M/holders/` for the modules that use M. CPU
//! implementations (`aesni_intel`, `*_generic`, `cryptd`, the built-in
//! `kernel`) register no bus driver.

use std::path::Path;

/// The sysfs root this machine has.
pub const SYSFS: &str = "/sys";

/// Whether kernel module `module` (or a module that holds it) drives
/// devices, as seen in the sysfs tree at `sys`. A name that is not a module
/// name (empty, `kernel` for built-in code, path characters) is never
/// hardware.
pub fn module_drives_devices(sys: &Path, module: &str) -> bool {
    if !is_module_name(module) || module == "kernel" {
        return false;
    }
    if owns_bus_driver(sys, module) {
        return true;
    }
    let holders = sys.join("module").join(module).join("holders");
    let Ok(entries) = std::fs::read_dir(holders) else { return false };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .any(|h| is_module_name(&h) && owns_bus_driver(sys, &h))
}

/// A module name as sysfs spells it: letters, digits, `_` and `-`.
fn is_module_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `/sys/module/M/drivers/` lists a driver, or some `/sys/bus/*/drivers/M`
/// exists.
fn owns_bus_driver(sys: &Path, module: &str) -> bool {
    let listed = std::fs::read_dir(sys.join("module").join(module).join("drivers"))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if listed {
        return true;
    }
    let Ok(buses) = std::fs::read_dir(sys.join("bus")) else { return false };
    buses.flatten().any(|bus| bus.path().join("drivers").join(module).is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A sysfs tree with virtio_crypto (a virtio driver without an owner),
    /// qat (algorithms in intel_qat, the PCI driver in qat_4xxx that holds
    /// it), ccp (a driver listed under its module) and CPU modules.
    fn tree() -> tempdir::Dir {
        let d = tempdir::Dir::new();
        let p = d.path();
        for dir in [
            "bus/virtio/drivers/virtio_crypto",
            "bus/virtio/drivers/9pnet_virtio",
            "bus/pci/drivers/4xxx",
            "module/virtio_crypto",
            "module/aesni_intel/holders",
            "module/cryptd/holders/aesni_intel",
            "module/intel_qat/holders/qat_4xxx",
            "module/qat_4xxx/drivers/pci:4xxx",
            "module/ccp/drivers/pci:ccp",
            "module/sha512_generic",
        ] {
            fs::create_dir_all(p.join(dir)).unwrap();
        }
        d
    }

    #[test]
    fn device_drivers_are_hardware_cpu_code_is_not() {
        let d = tree();
        let s = d.path();
        assert!(module_drives_devices(s, "virtio_crypto"));
        assert!(module_drives_devices(s, "intel_qat"));
        assert!(module_drives_devices(s, "qat_4xxx"));
        assert!(module_drives_devices(s, "ccp"));
        assert!(!module_drives_devices(s, "aesni_intel"));
        assert!(!module_drives_devices(s, "cryptd"));
        assert!(!module_drives_devices(s, "sha512_generic"));
        assert!(!module_drives_devices(s, "kernel"));
        assert!(!module_drives_devices(s, "absent"));
        assert!(!module_drives_devices(s, ""));
        assert!(!module_drives_devices(s, "../bus/virtio/drivers/virtio_crypto"));
    }

    /// A scratch directory, removed on drop.
    mod tempdir {
        use std::path::{Path, PathBuf};
        pub struct Dir(PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "acrypto-hw-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
