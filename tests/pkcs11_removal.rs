//! The token disappearing mid-run: `C_Finalize` on the module under a
//! pkcs11 device with work queued. The device marks itself broken, its
//! queued unbound work completes on the soft devices, work bound to it
//! fails with `DeviceBroken`, and every request completes exactly once.
//! (Its own test binary: finalising the module ends it for the process.)

mod common;

use acrypto::drivers::pkcs11::Pkcs11Device;
use acrypto::{DeviceState, EcCurve, Engine, Error, Op, Request, SessionBuilder};
use common::softhsm;
use std::process::Command;
use std::time::{Duration, Instant};

/// A fresh key from `openssl genpkey` (PKCS#8 DER, SPKI DER).
fn fresh_key(args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("acrypto-p11-rm-{}-{}", std::process::id(), args.join("")));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("k.pem");
    let der = dir.join("k.der");
    let pubk = dir.join("k.pub.der");
    let run = |a: &[&str]| assert!(Command::new("openssl").args(a).status().unwrap().success(), "{a:?}");
    run(&[&["genpkey"][..], args, &["-out", pem.to_str().unwrap()]].concat());
    run(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    run(&["pkey", "-in", pem.to_str().unwrap(), "-pubout", "-outform", "DER", "-out", pubk.to_str().unwrap()]);
    let out = (std::fs::read(&der).unwrap(), std::fs::read(&pubk).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn finalising_the_module_mid_run_breaks_the_device_and_loses_nothing() {
    if !softhsm::have() {
        return;
    }
    let t = softhsm::shared();
    let spec = acrypto::drivers::pkcs11::Pkcs11Spec::parse(&t.spec()["pkcs11:".len()..]).unwrap();
    let token = std::sync::Arc::new(Pkcs11Device::open("pkcs11", &spec).unwrap());
    let as_driver: std::sync::Arc<dyn acrypto::Driver> = token.clone();
    let e = Engine::builder()
        .device_arc(as_driver)
        .device(acrypto::SoftDevice::new("soft0"))
        .device(acrypto::SoftDevice::new("soft1"))
        .build()
        .unwrap();
    let alg = acrypto::Algorithm::Ecdsa(EcCurve::P256);
    let (key, pubk) = fresh_key(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let unbound = e.session(SessionBuilder::new().step(alg, Op::Sign, &key)).unwrap();
    // The bound work is RSA-3072 (milliseconds each on the token), so the
    // break comes while some of it is still queued.
    let rsa = acrypto::Algorithm::Rsa { bits: 3072, padding: acrypto::RsaPadding::Pkcs1 };
    let (rsa_key, _) = fresh_key(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"]);
    let bound = e.session(SessionBuilder::new().step(rsa, Op::Sign, &rsa_key).bind("pkcs11")).unwrap();
    let verify = e.session(SessionBuilder::new().step(alg, Op::Verify, &pubk).bind("soft0")).unwrap();
    const N: usize = 400;
    let mut pending = Vec::new();
    for i in 0..N {
        let msg = (i as u32).to_be_bytes().repeat(8);
        let s = if i % 4 == 0 { &bound } else { &unbound };
        pending.push((i % 4 == 0, msg.clone(), e.submit_pending(s, Request::new(msg)).map_err(|x| x.error).unwrap()));
    }
    // Pull the token out once it has done some of the work.
    let dev = |n: &str| e.devices().into_iter().find(|d| d.name == n).unwrap();
    let start = Instant::now();
    while dev("pkcs11").stats.completed_ok < 5 {
        assert!(start.elapsed() < Duration::from_secs(60), "the token did no work");
        std::thread::sleep(Duration::from_millis(1));
    }
    token.finalize_module().unwrap();
    let (mut ok_unbound, mut ok_bound, mut failed_bound) = (0, 0, 0);
    for (is_bound, msg, p) in pending {
        let d = p.wait();
        match (is_bound, d.status) {
            (false, Ok(())) => {
                let sig = d.request.tag;
                e.run(&verify, Request::new(msg).with_tag(&sig)).expect("an unbound signature verifies");
                ok_unbound += 1;
            }
            (true, Ok(())) => ok_bound += 1,
            (true, Err(Error::DeviceBroken(m))) => {
                assert!(m.contains("pkcs11"), "{m}");
                failed_bound += 1;
            }
            (b, s) => panic!("bound {b}: {s:?}"),
        }
    }
    let info = dev("pkcs11");
    println!(
        "unbound ok {ok_unbound}, bound ok {ok_bound}, bound failed {failed_bound}; token completed {} ok; broken: {:?}",
        info.stats.completed_ok, info.broken_reason
    );
    assert_eq!(ok_unbound, N - N / 4, "every unbound request completed (on soft after the break)");
    assert_eq!(ok_bound + failed_bound, N / 4);
    assert!(failed_bound > 0, "the break came after all bound work: nothing was tested");
    assert_eq!(info.state, DeviceState::Broken);
    assert!(
        info.broken_reason.clone().unwrap_or_default().contains("CryptokiNotInitialized"),
        "{:?}",
        info.broken_reason
    );
    let stats = e.stats();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.submitted, stats.completed_ok + stats.completed_err);
    // New work bound to the token is refused; unbound work goes to soft.
    let r = e.submit_pending(&bound, Request::new(b"after".to_vec()));
    match r {
        Err(x) => assert!(matches!(x.error, Error::DeviceBroken(_) | Error::NoDevice(_)), "{:?}", x.error),
        Ok(p) => assert!(matches!(p.wait().status, Err(Error::DeviceBroken(_)))),
    }
    e.run(&unbound, Request::new(b"after".to_vec())).unwrap();
}
