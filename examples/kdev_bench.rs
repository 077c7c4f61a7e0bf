//! AES-128-CBC encryption through the engine's queued path, bound to a
//! `kdev` device (batch submission to /dev/acrypto) and to `afalg` (AF_ALG
//! sockets, whose `cbc(aes)` is the same kernel driver), with 128 requests
//! in flight, for `BENCH_SECS` seconds (default 1) per point, at 64 to 16384
//! bytes. Needs the acrypto module loaded and AF_ALG; `tests/vm/run.sh
//! bench` runs it in the VM. The VM's CPU is emulated: only the ratios
//! mean anything.

use acrypto::{Algorithm, CipherMode, Op, Pending, Request, SessionBuilder};
use std::collections::VecDeque;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let alg = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    let (engine, kdev_name) = ["kdev:cbc-aes-aesni", "kdev:cbc(aes-generic)"]
        .into_iter()
        .find_map(|n| acrypto::engine_from_spec(&format!("{n},afalg")).ok().map(|e| (e, n)))
        .ok_or("no kdev device for aes-128-cbc next to afalg (is the module loaded?)")?;
    let (key, iv) = ([7u8; 16], [9u8; 16]);
    println!("engine queued path, {alg} encrypt, window 128, {secs}s per point");
    println!("{:>7} {:>22} {:>22} {:>12}", "bytes", format!("{kdev_name} ops/s"), "afalg ops/s", "kdev/afalg");
    for size in [64usize, 256, 1504, 4096, 16384] {
        let mut rates = Vec::new();
        for dev in [kdev_name, "afalg"] {
            let s = engine.session(SessionBuilder::new().step(alg, Op::Encrypt, &key).bind(dev))?;
            let start = Instant::now();
            let mut window: VecDeque<Pending> = VecDeque::new();
            let mut done = 0u64;
            while start.elapsed().as_secs_f64() < secs {
                while window.len() < 128 {
                    let p = Pending::new();
                    engine.submit_blocking(&s, Request::new(vec![0x5a; size]).with_iv(&iv), p.completion())?;
                    window.push_back(p);
                }
                if let Some(p) = window.pop_front() {
                    p.wait().status?;
                    done += 1;
                }
            }
            for p in window {
                p.wait().status?;
                done += 1;
            }
            rates.push(done as f64 / start.elapsed().as_secs_f64());
        }
        println!("{size:>7} {:>22.0} {:>22.0} {:>12.2}", rates[0], rates[1], rates[0] / rates[1]);
    }
    Ok(())
}
