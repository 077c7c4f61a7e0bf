//! A seeded random generator, so that a failing random test can be re-run
//! exactly: the seed comes from `ACRYPTO_TEST_SEED` (decimal) when set, else
//! a fixed default, and is printed (shown by the test harness on failure).

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// The default seed when `ACRYPTO_TEST_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x6163_7279_7074_6f31;

/// The base seed for this run.
pub fn base_seed() -> u64 {
    match std::env::var("ACRYPTO_TEST_SEED") {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("ACRYPTO_TEST_SEED={s:?} is not a decimal u64")),
        Err(_) => DEFAULT_SEED,
    }
}

/// A generator for one test, derived from the base seed and a label (so
/// tests running in parallel, or in another order, draw the same values).
pub fn seeded(label: &str) -> StdRng {
    let base = base_seed();
    // FNV-1a over the label, mixed into the base seed.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    println!("rng '{label}': ACRYPTO_TEST_SEED={base}");
    StdRng::seed_from_u64(base ^ h)
}

/// `n` random bytes.
pub fn bytes(rng: &mut StdRng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

/// A random length in `lo..=hi`.
pub fn len_in(rng: &mut StdRng, lo: usize, hi: usize) -> usize {
    rng.gen_range(lo..=hi)
}

/// An XTS key of `n` bytes whose two halves differ (as XTS requires).
pub fn xts_key(rng: &mut StdRng, n: usize) -> Vec<u8> {
    loop {
        let k = bytes(rng, n);
        if k[..n / 2] != k[n / 2..] {
            return k;
        }
    }
}
