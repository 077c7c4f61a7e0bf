//! Keys by reference (`Key::reference`, `Step::with_reference`): a step whose
//! key lives inside one device is bound, when the session is made, to the
//! first device that holds it (`Driver::holds`), is prepared only there, and
//! never moves to another device, not even when its device breaks.

use acrypto::{
    Algorithm, Capability, DeviceHandle, Driver, EcCurve, Engine, Error, Op, Request, SessionBuilder, SoftDevice, Step,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const ALG: Algorithm = Algorithm::Ecdsa(EcCurve::P256);
const REF: &str = "vault:object=k1";

/// A device that holds one key by reference; the test completes its work.
struct Vault {
    name: String,
    handle: Mutex<Option<DeviceHandle>>,
    prepared: Arc<AtomicUsize>,
}

impl Vault {
    fn new(name: &str) -> (Vault, Arc<AtomicUsize>) {
        let prepared = Arc::new(AtomicUsize::new(0));
        (Vault { name: name.into(), handle: Mutex::default(), prepared: prepared.clone() }, prepared)
    }
}

impl Driver for Vault {
    fn name(&self) -> &str {
        &self.name
    }
    fn driver(&self) -> &str {
        "vault"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(ALG, 64)]
    }
    fn attach(&self, d: DeviceHandle) {
        *self.handle.lock().unwrap() = Some(d);
    }
    fn data_ready(&self) {}
    fn holds(&self, reference: &str) -> bool {
        reference == REF
    }
    fn prepare(&self, step: &Step) -> acrypto::Result<()> {
        assert_eq!(step.key.as_reference(), Some(REF));
        assert!(step.key.bytes().is_empty());
        self.prepared.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn detach(&self) {
        self.handle.lock().unwrap().take();
    }
}

/// An engine of two soft devices, then the vault (last, so that a
/// balancer's first choice would be a soft device).
fn engine() -> (Engine, DeviceHandle, Arc<AtomicUsize>) {
    let (v, prepared) = Vault::new("vault");
    let v = Arc::new(v);
    let e = Engine::builder()
        .device(SoftDevice::new("soft0"))
        .device(SoftDevice::new("soft1"))
        .device_arc(v.clone() as Arc<dyn Driver>)
        .build()
        .unwrap();
    let h = v.handle.lock().unwrap().clone().expect("attached");
    (e, h, prepared)
}

/// Completes what is queued on the vault with a marker signature.
fn drain(h: &DeviceHandle) -> usize {
    let mut n = 0;
    loop {
        let work = h.dequeue_batch(64);
        if work.is_empty() {
            return n;
        }
        for mut w in work {
            w.parts().1.tag = b"vault".to_vec();
            w.complete(Ok(()));
            n += 1;
        }
    }
}

fn submitted(e: &Engine, name: &str) -> u64 {
    e.devices().into_iter().find(|d| d.name == name).unwrap().stats.submitted
}

#[test]
fn a_reference_step_is_bound_to_the_device_that_holds_it() {
    let (e, h, prepared) = engine();
    let s = e.session(SessionBuilder::new().step_reference(ALG, Op::Sign, REF)).unwrap();
    assert_eq!(s.steps()[0].device.as_deref(), Some("vault"));
    // Prepared there only (the soft devices' DER parser would refuse a
    // key without bytes: the session would not have been made).
    assert_eq!(prepared.load(Ordering::SeqCst), 1);
    let pending: Vec<_> =
        (0..20).map(|i| e.submit_pending(&s, Request::new(vec![i; 10])).map_err(|x| x.error).unwrap()).collect();
    assert_eq!(drain(&h), 20);
    for p in pending {
        assert_eq!(p.wait().into_result().unwrap().tag, b"vault");
    }
    assert_eq!((submitted(&e, "soft0"), submitted(&e, "soft1"), submitted(&e, "vault")), (0, 0, 20));
    // The key's text is not printed (a URI may carry a PIN).
    assert_eq!(format!("{:?}", s.steps()[0].key), "Key(reference)");
}

#[test]
fn a_reference_no_device_holds_is_no_device_naming_it() {
    let (e, _h, prepared) = engine();
    let r = e.session(SessionBuilder::new().step_reference(ALG, Op::Sign, "vault:object=k2?pin-value=1234"));
    match r {
        Err(Error::NoDevice(m)) => {
            assert!(m.contains("vault:object=k2") && m.contains("no device holds it"), "{m}");
            assert!(!m.contains("1234"), "the PIN is shown: {m}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(prepared.load(Ordering::SeqCst), 0);
    assert!(matches!(Step::with_reference(ALG, Op::Sign, ""), Err(Error::InvalidKey(_))));
    assert!(matches!(Step::with_reference(ALG, Op::Encrypt, REF), Err(Error::InvalidArgument(_))));
}

#[test]
fn an_explicit_binding_must_name_a_device_that_holds_the_reference() {
    let (e, _h, _) = engine();
    let r = e.session(SessionBuilder::new().step_reference(ALG, Op::Sign, REF).bind("soft0"));
    assert!(
        matches!(r, Err(Error::InvalidArgument(ref m)) if m.contains("soft0") && m.contains("does not hold")),
        "{r:?}"
    );
    let s = e.session(SessionBuilder::new().step_reference(ALG, Op::Sign, REF).bind("vault")).unwrap();
    assert_eq!(s.steps()[0].device.as_deref(), Some("vault"));
}

#[test]
fn reference_work_never_moves_when_its_device_breaks() {
    let (e, h, _) = engine();
    let s = e.session(SessionBuilder::new().step_reference(ALG, Op::Sign, REF)).unwrap();
    // Queued, then the device breaks: the rehash does not move it.
    let queued: Vec<_> =
        (0..10).map(|i| e.submit_pending(&s, Request::new(vec![i; 10])).map_err(|x| x.error).unwrap()).collect();
    h.mark_broken("pulled out");
    for p in queued {
        let d = p.wait();
        assert!(matches!(d.status, Err(Error::DeviceBroken(_))), "{:?}", d.status);
    }
    // New work is refused, not sent to a soft device.
    match e.submit_pending(&s, Request::new(vec![1; 10])) {
        Err(x) => assert!(matches!(x.error, Error::DeviceBroken(_) | Error::NoDevice(_)), "{:?}", x.error),
        Ok(p) => assert!(matches!(p.wait().status, Err(Error::DeviceBroken(_)))),
    }
    assert_eq!((submitted(&e, "soft0"), submitted(&e, "soft1")), (0, 0));
    // And a broken device holds nothing for new sessions.
    assert!(matches!(e.session(SessionBuilder::new().step_reference(ALG, Op::Sign, REF)), Err(Error::NoDevice(_))));
}
