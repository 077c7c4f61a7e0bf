//! The ESP route (aes-128-cbc encrypt, then hmac-sha1 over the ciphertext)
//! through the engine on one imb device, three ways, with 128 requests in
//! flight, `BENCH_SECS` seconds (default 1) per point, at 64 to 16384 bytes:
//!
//! - fused: the device takes both steps and runs them as one chained
//!   ipsec-mb job (the default);
//! - two jobs: the same device with fusion off runs the steps as two jobs
//!   on its manager, one after the other;
//! - two submissions: the caller submits the encryption, then the MAC of
//!   its output as a second request (two trips through the engine).
//!
//! Needs `libIPSec_MB.so.1`. `tests/bench/imb.sh` runs it next to the
//! library driven directly.

use acrypto::drivers::imb::ImbDevice;
use acrypto::{Algorithm, CipherMode, DigestKind, Engine, Op, Pending, Request, Session, SessionBuilder};
use std::collections::VecDeque;
use std::time::Instant;

const WINDOW: usize = 128;

/// Requests per second of `s` (and, if given, `then` on each output).
fn rate(e: &Engine, s: &Session, then: Option<&Session>, size: usize, secs: f64) -> Result<f64, acrypto::Error> {
    let iv = [9u8; 16];
    let start = Instant::now();
    let mut window: VecDeque<(Pending, bool)> = VecDeque::new();
    let mut done = 0u64;
    let submit = |w: &mut VecDeque<(Pending, bool)>, s: &Session, r: Request, second: bool| {
        let p = Pending::new();
        e.submit_blocking(s, r, p.completion()).map_err(|x| x.error)?;
        w.push_back((p, second));
        Ok::<(), acrypto::Error>(())
    };
    loop {
        let running = start.elapsed().as_secs_f64() < secs;
        while running && window.len() < WINDOW {
            submit(&mut window, s, Request::new(vec![0x5a; size]).with_iv(&iv), false)?;
        }
        let Some((p, second)) = window.pop_front() else { break };
        let d = p.wait();
        d.status?;
        match then {
            Some(t) if !second => submit(&mut window, t, Request::new(d.request.data), true)?,
            _ => done += 1,
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let cbc = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    let mac = Algorithm::Hmac(DigestKind::Sha1);
    let (ck, mk) = ([7u8; 16], [5u8; 20]);
    let fused = Engine::builder().device(ImbDevice::new("imb")?).build()?;
    let unfused = Engine::builder().device(ImbDevice::new("imb")?.fuse(false)).build()?;
    let route = SessionBuilder::new().step(cbc, Op::Encrypt, &ck).step(mac, Op::Digest, &mk);
    let (sf, su) = (fused.session(route.clone())?, unfused.session(route)?);
    let enc = fused.session(SessionBuilder::new().step(cbc, Op::Encrypt, &ck))?;
    let auth = fused.session(SessionBuilder::new().step(mac, Op::Digest, &mk))?;
    println!("ESP route {cbc} + {mac} on one imb device, window {WINDOW}, {secs} s per point (MB/s)");
    println!(
        "{:>7} {:>10} {:>10} {:>10} {:>14} {:>14}",
        "bytes", "fused", "two jobs", "two subm.", "fused/2 jobs", "fused/2 subm."
    );
    for size in [64usize, 256, 1504, 4096, 16384] {
        let mb = |r: f64| r * size as f64 / 1e6;
        let f = mb(rate(&fused, &sf, None, size, secs)?);
        let u = mb(rate(&unfused, &su, None, size, secs)?);
        let t = mb(rate(&fused, &enc, Some(&auth), size, secs)?);
        println!("{size:>7} {f:>10.1} {u:>10.1} {t:>10.1} {:>14.2} {:>14.2}", f / u, f / t);
    }
    Ok(())
}
