//! A crypto device that is not the CPU, through the engine: QEMU's
//! virtio-crypto PCI device (`kdev:virtio_crypto_aes_cbc`, driven by the
//! kernel's `virtio_crypto` module), which the VM harness gives its guest.
//!
//! - it is listed as an accelerator, and the CPU drivers (`aesni`, generic
//!   code) are not;
//! - a route that encrypts on the accelerator and MACs on a software device
//!   gives the right bytes (the original's "encrypt on one device, MAC on
//!   another"), and back;
//! - with a software device beside it, the size-threshold balancer sends
//!   small requests to the CPU and large ones to the accelerator, read off
//!   per-device statistics, every output correct; the rate-aware balancer's
//!   placement is printed.
//!
//! The known answers and OpenSSL cross-checks of a session bound to it run in
//! `tests/kernel_devices.rs`, which covers every kernel device.
//! The device exists only in the VM: `tests/vm/run.sh` runs this binary there
//! with `ACRYPTO_REQUIRE_ACCEL=1`, which makes a missing device a failure;
//! elsewhere the tests say they skipped. Each test prints a `RESULT` line.

use acrypto::drivers::crypto::apply_steps;
use acrypto::drivers::{kdev, SoftDevice};
use acrypto::{
    Algorithm, Balancer, CipherMode, DeviceClass, DigestKind, Driver, Engine, Op, RateAware, Request, SessionBuilder,
    SizeThreshold, Step,
};
use std::sync::{Arc, Mutex};

/// The accelerator's device name.
const ACCEL: &str = "kdev:virtio_crypto_aes_cbc";

fn required() -> bool {
    std::env::var("ACRYPTO_REQUIRE_ACCEL").is_ok_and(|v| v == "1")
}

/// Every kdev device, or None (skipped) where there is no accelerator.
fn kdev_devices() -> Option<Vec<kdev::KdevDevice>> {
    println!();
    let probe = match kdev::probe_all() {
        Ok(p) => p,
        Err(e) => {
            assert!(!required(), "ACRYPTO_REQUIRE_ACCEL=1 but kdev is unavailable: {e}");
            println!("skipped: kdev unavailable: {e}");
            return None;
        }
    };
    if !probe.devices.iter().any(|d| d.name() == ACCEL) {
        assert!(!required(), "ACRYPTO_REQUIRE_ACCEL=1 but there is no {ACCEL}");
        println!("skipped: no {ACCEL}");
        return None;
    }
    Some(probe.devices)
}

/// The accelerator and `soft0`, under `balancer`.
fn accel_and_soft(balancer: impl Balancer + 'static) -> Option<Engine> {
    let accel = kdev_devices()?.into_iter().find(|d| d.name() == ACCEL)?;
    Some(Engine::builder().balancer(balancer).device(accel).device(SoftDevice::new("soft0")).build().unwrap())
}

fn result(ok: bool, what: &str) {
    println!("RESULT {} accelerator: {what}", if ok { "PASS" } else { "FAIL" });
    assert!(ok, "{what}");
}

/// Deterministic bytes for a test case.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn accelerator_is_classified_and_cpu_drivers_are_not() {
    let Some(devs) = kdev_devices() else { return };
    let mut seen = Vec::new();
    let mut ok = true;
    for d in &devs {
        let k = d.kernel_driver();
        let class = d.class();
        seen.push(format!("{} ({}, module {}): {class:?}", d.name(), k.alg_name, k.module));
        let cpu_code = k.driver.contains("aesni")
            || k.driver.contains("generic")
            || k.driver.starts_with("cryptd(")
            || k.module == "kernel"
            || k.module == "aesni_intel";
        if d.name() == ACCEL {
            ok &= class == DeviceClass::Accelerator && k.module == "virtio_crypto";
        } else if cpu_code {
            ok &= class == DeviceClass::Kernel;
        }
    }
    for s in &seen {
        println!("  note: {s}");
    }
    // The CPU drivers this guest always has were among those checked.
    ok &= devs.iter().any(|d| d.name() == "kdev:cbc-aes-aesni" && d.class() == DeviceClass::Kernel);
    result(ok, "virtio_crypto_aes_cbc is an accelerator; aesni and generic drivers are not");
}

#[test]
fn encrypt_on_the_accelerator_mac_on_the_cpu() {
    let Some(e) = accel_and_soft(acrypto::LeastLoaded) else { return };
    let cbc = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    let mac = Algorithm::Hmac(DigestKind::Sha1);
    let mut ok = true;
    for i in 0..16u64 {
        let (key, mkey, iv) = (bytes(i, 16), bytes(100 + i, 20), bytes(200 + i, 16));
        let data = bytes(300 + i, 16 * (1 + (i as usize * 37) % 256));
        let steps = [Step::new(cbc, Op::Encrypt, &key).unwrap(), Step::new(mac, Op::Digest, &mkey).unwrap()];
        let mut want = Request::new(data.clone()).with_iv(&iv);
        apply_steps(&steps, &mut want).unwrap();
        let s = e
            .session(
                SessionBuilder::new().push(steps[0].clone().on_device(ACCEL)).push(steps[1].clone().on_device("soft0")),
            )
            .unwrap();
        let got = e.run(&s, Request::new(data.clone()).with_iv(&iv)).unwrap();
        ok &= got.data == want.data && got.tag == want.tag;
        let back = e
            .session(
                SessionBuilder::new()
                    .push(Step::new(mac, Op::Verify, &mkey).unwrap().on_device("soft0"))
                    .push(Step::new(cbc, Op::Decrypt, &key).unwrap().on_device(ACCEL)),
            )
            .unwrap();
        let plain = e.run(&back, Request::new(want.data.clone()).with_iv(&iv).with_tag(&want.tag)).unwrap();
        ok &= plain.data == data;
    }
    let accel = e.device(ACCEL).unwrap().stats;
    let soft = e.device("soft0").unwrap().stats;
    println!("  note: {ACCEL} completed {}, soft0 completed {}", accel.completed_ok, soft.completed_ok);
    // Each of the 32 requests took one step on each device.
    ok &= accel.completed_ok >= 32 && soft.completed_ok >= 32 && accel.completed_err == 0;
    result(ok, "aes-128-cbc on the accelerator then hmac-sha1 on soft0, and back: right bytes");
}

/// Submits `window` requests of `size` bytes at once, waits for them, checks
/// every output, and returns how many of them each device took
/// (accelerator, soft0) and whether all were right.
fn run_window(e: &Engine, size: usize, window: usize, seed: u64) -> (u64, u64, bool) {
    let cbc = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    let step = Step::new(cbc, Op::Encrypt, &bytes(seed, 16)).unwrap();
    let s = e.session(SessionBuilder::new().push(step.clone())).unwrap();
    let wrong = Arc::new(Mutex::new(0usize));
    let submitted = |name: &str| e.device(name).unwrap().stats.submitted;
    let (a0, s0) = (submitted(ACCEL), submitted("soft0"));
    for j in 0..window as u64 {
        let iv = bytes(seed * 1000 + j, 16);
        let data = bytes(seed * 2000 + j, size);
        let mut want = Request::new(data.clone()).with_iv(&iv);
        apply_steps(std::slice::from_ref(&step), &mut want).unwrap();
        let wrong = wrong.clone();
        e.submit_with(&s, Request::new(data).with_iv(&iv), move |d| {
            if d.status.is_err() || d.request.data != want.data {
                *wrong.lock().unwrap() += 1;
            }
        })
        .unwrap();
    }
    e.wait_idle().unwrap();
    let ok = *wrong.lock().unwrap() == 0;
    (submitted(ACCEL) - a0, submitted("soft0") - s0, ok)
}

/// `rounds` windows of 64-byte requests alternating with windows of 16 KiB
/// ones: where the small and the large requests went, and whether every
/// output was right.
fn windows(e: &Engine, rounds: u64, window: usize) -> ((u64, u64), (u64, u64), bool) {
    let (mut small, mut large, mut ok) = ((0, 0), (0, 0), true);
    for r in 0..rounds {
        let (a, s, o) = run_window(e, 64, window, 2 * r + 1);
        small = (small.0 + a, small.1 + s);
        let (a2, s2, o2) = run_window(e, 16384, window, 2 * r + 2);
        large = (large.0 + a2, large.1 + s2);
        ok &= o && o2;
    }
    (small, large, ok)
}

#[test]
fn size_threshold_sends_small_work_to_the_cpu_and_large_to_the_accelerator() {
    let Some(e) = accel_and_soft(SizeThreshold { threshold: 4096 }) else { return };
    let (small, large, ok) = windows(&e, 4, 32);
    println!(
        "  note: 64 B requests: {} on {ACCEL}, {} on soft0; 16 KiB requests: {} on {ACCEL}, {} on soft0",
        small.0, small.1, large.0, large.1
    );
    result(
        ok && small == (0, 128) && large == (128, 0),
        "size-threshold: 64 B requests all on soft0, 16 KiB requests all on the accelerator, outputs right",
    );
}

#[test]
fn rate_aware_placement_is_reported() {
    let Some(e) = accel_and_soft(RateAware::default()) else { return };
    let (small, large, ok) = windows(&e, 4, 32);
    println!(
        "  note: rate-aware: 64 B requests: {} on {ACCEL}, {} on soft0; 16 KiB requests: {} on {ACCEL}, {} on soft0",
        small.0, small.1, large.0, large.1
    );
    result(
        ok && small.0 + small.1 == 128 && large.0 + large.1 == 128,
        "rate-aware: every request placed once, outputs right",
    );
}

/// The accelerator's virtio device in sysfs (`virtio1`), bound to
/// `virtio_crypto`.
fn virtio_device() -> Option<String> {
    std::fs::read_dir("/sys/bus/virtio/drivers/virtio_crypto")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .find(|n| n.starts_with("virtio") && n[6..].bytes().all(|b| b.is_ascii_digit()))
}

/// Pulled out mid-run: the virtio device is unbound from its driver while
/// requests are in flight on it. Every request must complete exactly once
/// with the right output (moved to soft0), the kdev device must be broken, a
/// session bound to it must fail with DeviceBroken, and rebinding must give
/// a usable device after re-enumeration. Runs only with
/// `ACRYPTO_ACCEL_UNPLUG=1` (see the closing note for what Linux
/// 6.1 does here).
#[test]
fn pulled_out_mid_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    if std::env::var("ACRYPTO_ACCEL_UNPLUG").map_or(true, |v| v != "1") {
        println!("skipped: ACRYPTO_ACCEL_UNPLUG is not 1");
        return;
    }
    let Some(e) = accel_and_soft(acrypto::Failover::new([ACCEL, "soft0"])) else { return };
    let dev = virtio_device().expect("the virtio-crypto device in sysfs");
    let cbc = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    let step = Step::new(cbc, Op::Encrypt, &bytes(11, 16)).unwrap();
    let s = e.session(SessionBuilder::new().push(step.clone())).unwrap();
    let bound = e.session(SessionBuilder::new().push(step.clone()).bind(ACCEL)).unwrap();
    const N: usize = 3000;
    let done: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let wrong = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let mut unbound_at = None;
    for i in 0..N {
        if i == 300 {
            // Requests are in flight on the accelerator now.
            println!("  note: unbinding {dev} with {} requests in flight", e.stats().in_flight);
            std::fs::write("/sys/bus/virtio/drivers/virtio_crypto/unbind", &dev).expect("unbind");
            unbound_at = Some(std::time::Instant::now());
        }
        let iv = bytes(90_000 + i as u64, 16);
        let data = bytes(80_000 + i as u64, 4096);
        let mut want = Request::new(data.clone()).with_iv(&iv);
        apply_steps(std::slice::from_ref(&step), &mut want).unwrap();
        let (done, wrong, fin) = (done.clone(), wrong.clone(), finished.clone());
        let r = Request::new(data).with_iv(&iv).with_user(i as u64);
        e.submit_with(&s, r, move |d| {
            done[d.request.user as usize].fetch_add(1, Ordering::SeqCst);
            if d.status.is_err() || d.request.data != want.data {
                wrong.fetch_add(1, Ordering::SeqCst);
            }
            fin.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        while i + 1 - finished.load(Ordering::SeqCst) > 64 {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    let t0 = std::time::Instant::now();
    while finished.load(Ordering::SeqCst) < N && t0.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let once = done.iter().all(|c| c.load(Ordering::SeqCst) == 1);
    let info = e.device(ACCEL).unwrap();
    println!(
        "  note: {} of {N} completed ({} wrong) {:?} after the unbind; {ACCEL} {:?} ({:?}), completed {} ok {} err, moved {}; soft0 completed {}",
        finished.load(Ordering::SeqCst),
        wrong.load(Ordering::SeqCst),
        unbound_at.map(|t| t.elapsed()),
        info.state,
        info.broken_reason,
        info.stats.completed_ok,
        info.stats.completed_err,
        info.stats.moved,
        e.device("soft0").unwrap().stats.completed_ok
    );
    let bound_err = e.run(&bound, Request::new(vec![0; 16]).with_iv(&[0; 16])).err();
    println!("  note: a session bound to {ACCEL}: {bound_err:?}");
    let ok = once
        && wrong.load(Ordering::SeqCst) == 0
        && info.state == acrypto::DeviceState::Broken
        && matches!(bound_err, Some(acrypto::Error::DeviceBroken(_)));
    drop(e);
    std::fs::write("/sys/bus/virtio/drivers/virtio_crypto/bind", &dev).expect("bind");
    let back = (0..100).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        kdev::probe_all().ok()?.devices.into_iter().find(|d| d.name() == ACCEL)
    });
    let usable = back.is_some_and(|d| {
        let e = Engine::builder().device(d).build().unwrap();
        let s = e.session(SessionBuilder::new().push(step.clone())).unwrap();
        let mut want = Request::new(vec![5; 64]).with_iv(&[6; 16]);
        apply_steps(std::slice::from_ref(&step), &mut want).unwrap();
        e.run(&s, Request::new(vec![5; 64]).with_iv(&[6; 16])).is_ok_and(|r| r.data == want.data)
    });
    println!("  note: after rebinding, {ACCEL} is back and right: {usable}");
    result(
        ok && usable,
        "pulled out mid-run: every request once and right, device broken, bound session refused, back after rebind",
    );
}
