//! Multi-buffer AES-128-CBC encryption by lane count, without the engine:
//! `drivers::multibuffer::cbc_encrypt_lanes` over N independent 1504-byte
//! chains under one key, next to the single-stream `cbc` crate on the same
//! buffers, in the same run (this is how the lane count was chosen).
//!
//! `cargo run --release --example multibuffer_lanes [SECONDS]`

use acrypto::drivers::multibuffer::{cbc_encrypt_lanes, LANES};
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockEncryptMut, KeyInit, KeyIvInit};
use std::time::Instant;

const SIZE: usize = 1504;

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0.5);
    let key = [7u8; 16];
    let iv = [1u8; 16];
    let cipher = aes::Aes128::new_from_slice(&key).expect("16-byte key");
    let mut buf = vec![5u8; SIZE];
    let single = measure(secs, || {
        cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .expect("key and iv")
            .encrypt_padded_mut::<NoPadding>(&mut buf, SIZE)
            .expect("whole blocks");
        SIZE
    });
    println!("single stream (cbc crate): {single:.0} MB/s");
    let mut lanes = 1;
    while lanes <= LANES {
        let mut bufs: Vec<Vec<u8>> = (0..lanes).map(|_| vec![5u8; SIZE]).collect();
        let mb = measure(secs, || {
            cbc_encrypt_lanes(&cipher, bufs.iter_mut().map(|b| (iv, b.as_mut_slice())).collect());
            lanes * SIZE
        });
        println!("{lanes:>2} lanes: {mb:.0} MB/s ({:.2}x single stream)", mb / single);
        lanes *= 2;
    }
}

/// MB/s of `f` (which returns the bytes it processed) run for `secs`.
fn measure(secs: f64, mut f: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut bytes = 0usize;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..16 {
            bytes += f();
        }
    }
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}
