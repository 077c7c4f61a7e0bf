//! The engine's byte limit (issue 17 item 8): its default, the
//! environment variable, and a request larger than the whole limit. Its
//! own test binary: the test sets an environment variable every engine
//! build reads, so no other test may run beside it.

mod support;

use acrypto::{Engine, Error, Op, Request, SessionBuilder};
use support::*;

/// The byte limit's default is sized to the machine; the environment
/// variable overrides it; a bad value is a clear error; a single request
/// larger than the limit still runs alone.
#[test]
fn the_byte_limit_default_environment_and_oversized_requests() {
    let var = acrypto::BYTE_LIMIT_ENV;
    assert_eq!(var, "ACRYPTO_MAX_IN_FLIGHT_BYTES");
    // Only this test in this binary touches the variable.
    std::env::remove_var(var);
    let e = acrypto::soft_engine(1).unwrap();
    assert_eq!(e.max_in_flight_bytes(), acrypto::default_byte_limit());
    assert!((64 << 20..=1 << 30).contains(&e.max_in_flight_bytes()));
    std::env::set_var(var, "3M");
    assert_eq!(acrypto::soft_engine(1).unwrap().max_in_flight_bytes(), 3 << 20);
    assert_eq!(Engine::builder().max_in_flight_bytes(12345).build().unwrap().max_in_flight_bytes(), 12345);
    std::env::set_var(var, "lots");
    let err = acrypto::soft_engine(1).unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument(m) if m.contains(var)), "{err}");
    std::env::remove_var(var);

    let dev = Scripted::gated("g", Script { algs: vec![AES128CTR], ..Script::default() });
    let gate = dev.shared.clone();
    let e = Engine::builder().max_in_flight_bytes(4096).device(dev).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &[1; 16])).unwrap();
    let big = e.submit_pending(&s, Request::new(vec![7; 65536]).with_iv(&[0; 16])).expect("alone, it is admitted");
    assert_eq!(e.in_flight_bytes(), 65536 + 16);
    let rej = e.submit_pending(&s, Request::new(vec![7; 16]).with_iv(&[0; 16])).unwrap_err();
    assert_eq!(rej.error, Error::Busy, "nothing fits next to it");
    gate.open();
    let d = big.wait();
    assert!(d.status.is_ok(), "{:?}", d.status);
    assert_eq!(d.request.data.len(), 65536);
    e.wait_idle().unwrap();
    assert_eq!(e.in_flight_bytes(), 0);
    assert!(e.submit_pending(&s, Request::new(vec![7; 16]).with_iv(&[0; 16])).unwrap().wait().status.is_ok());
}
