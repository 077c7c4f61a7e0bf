//! Two endpoints back to back through the engine's software devices, for
//! each transform: packets both ways, and tampered, replayed, truncated,
//! unknown-SPI and out-of-policy packets dropped and counted.

use acrypto_esp::{Config, Endpoint};

const A: &str = "192.0.2.1";
const B: &str = "192.0.2.2";

/// One side's configuration: out SA `o`, in SA `i`, with `enc` / `aead`
/// lines from `alg` for each.
fn config(local: &str, remote: &str, out_spi: u32, in_spi: u32, alg: &dyn Fn(u32) -> String) -> Config {
    let (lnet, rnet) =
        if local == A { ("198.51.100.0/24", "203.0.113.0/24") } else { ("203.0.113.0/24", "198.51.100.0/24") };
    let text = format!(
        r#"name = "t"
[tun]
name = "t0"
address = "{lnet}"
[outer]
local = "{local}"
remote = "{remote}"
[[state]]
src = "{local}"
dst = "{remote}"
spi = {out_spi}
{}
[[state]]
src = "{remote}"
dst = "{local}"
spi = {in_spi}
replay-window = 64
{}
[[policy]]
src = "{lnet}"
dst = "{rnet}"
dir = "out"
tmpl = {{ spi = {out_spi} }}
[[policy]]
src = "{rnet}"
dst = "{lnet}"
dir = "in"
tmpl = {{ spi = {in_spi} }}
"#,
        alg(out_spi),
        alg(in_spi)
    );
    Config::parse(&text).unwrap()
}

/// An IPv4/UDP packet from `src` to `dst` with `n` payload bytes.
fn ipv4(src: [u8; 4], dst: [u8; 4], n: usize, tag: u8) -> Vec<u8> {
    let total = 20 + 8 + n;
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let mut sum: u32 = p.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    p[10..12].copy_from_slice(&ck.to_be_bytes());
    p.extend_from_slice(&[0x30, 0x39, 0x30, 0x39, ((8 + n) >> 8) as u8, (8 + n) as u8, 0, 0]);
    p.extend((0..n).map(|i| tag.wrapping_add(i as u8)));
    p
}

fn pair(alg: &dyn Fn(u32) -> String) -> (Endpoint, Endpoint) {
    let engine = acrypto::soft_engine(2).unwrap();
    let a = Endpoint::new(&config(A, B, 0x1001, 0x2001, alg), engine.clone()).unwrap();
    let b = Endpoint::new(&config(B, A, 0x2001, 0x1001, alg), engine).unwrap();
    (a, b)
}

fn cbc_sha1(spi: u32) -> String {
    let k = spi as u8;
    format!(
        "enc = {{ alg = \"cbc(aes)\", key = \"0x{}\" }}\nauth-trunc = {{ alg = \"hmac(sha1)\", key = \"0x{}\", bits = 96 }}",
        hex::encode([k; 16]),
        hex::encode([k ^ 0x55; 20])
    )
}
fn cbc_sha256(spi: u32) -> String {
    let k = spi as u8;
    format!(
        "enc = {{ alg = \"cbc(aes)\", key = \"0x{}\" }}\nauth-trunc = {{ alg = \"hmac(sha256)\", key = \"0x{}\", bits = 128 }}",
        hex::encode([k; 32]),
        hex::encode([k ^ 0x55; 32])
    )
}
fn gcm(spi: u32) -> String {
    let k = spi as u8;
    format!("aead = {{ alg = \"rfc4106(gcm(aes))\", key = \"0x{}\", bits = 128 }}", hex::encode([k; 20]))
}

fn both_ways_and_drops(alg: &dyn Fn(u32) -> String, icv: usize, ivl: usize) {
    let (mut a, mut b) = pair(alg);
    let inner: Vec<Vec<u8>> =
        (0..40).map(|i| ipv4([198, 51, 100, 1], [203, 0, 113, 1], i * 37 % 1300, i as u8)).collect();
    let refs: Vec<&[u8]> = inner.iter().map(|p| p.as_slice()).collect();
    let (mut net, mut tun) = (Vec::new(), Vec::new());
    a.process(&refs, &[], &mut net, &mut tun);
    assert_eq!(net.len(), 40);
    for (i, p) in net.iter().enumerate() {
        assert_eq!(&p[..4], &0x1001u32.to_be_bytes());
        assert_eq!(u32::from_be_bytes(p[4..8].try_into().unwrap()), i as u32 + 1, "sequence numbers from 1, in order");
        assert!(!p.windows(16).any(|w| inner[i].len() > 60 && w == &inner[i][40..56]), "plaintext visible");
        assert_eq!((p.len() - 8 - ivl - icv) % if ivl == 16 { 16 } else { 4 }, 0);
    }
    // B receives them in order, then a tampered copy, replays, junk.
    let pkts: Vec<&[u8]> = net.iter().map(|p| p.as_slice()).collect();
    let (mut n2, mut got) = (Vec::new(), Vec::new());
    b.process(&[], &pkts, &mut n2, &mut got);
    assert_eq!(got, inner, "decrypted packets equal the originals, in order");
    let mut tampered = net[3].clone();
    let at = tampered.len() - icv - 5;
    tampered[at] ^= 1;
    let mut bad_icv = net[4].clone();
    *bad_icv.last_mut().unwrap() ^= 0x80;
    let mut other_spi = net[5].clone();
    other_spi[3] ^= 7;
    // A fresh sequence number (1000) on a packet too short for its SA.
    let short = [0, 0, 0x10, 0x01, 0, 0, 0x03, 0xe8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    let junk: Vec<&[u8]> = vec![
        &tampered,
        &bad_icv,
        &net[0],
        &net[39],
        &other_spi,
        &net[6][..7],
        &net[7][..30],
        &short,
        &[0xff],
        &[0, 0, 0, 0, 1],
    ];
    got.clear();
    b.process(&[], &junk, &mut n2, &mut got);
    assert!(got.is_empty() && n2.is_empty());
    let st = b.status();
    let inb = st.iter().find(|s| s.dir == "in").unwrap();
    assert_eq!(inb.counters.packets, 40);
    // tampered 3 and 4 are duplicates too, and so is the cut copy of 8:
    // rejected by the window before anything else
    assert_eq!(inb.counters.replay_drops, 5, "{inb:?}");
    assert_eq!(inb.counters.auth_failures, 0);
    assert_eq!(inb.counters.seq, 40);
    assert_eq!(b.global.unknown_spi, 1);
    assert_eq!(b.global.truncated, 2);
    assert_eq!(b.global.non_esp, 2);
    // Fresh sequence numbers with bad ICVs: authentication failures, and
    // the window does not move.
    let more: Vec<Vec<u8>> = (0..3).map(|i| ipv4([198, 51, 100, 2], [203, 0, 113, 9], 100, i)).collect();
    let mr: Vec<&[u8]> = more.iter().map(|p| p.as_slice()).collect();
    net.clear();
    a.process(&mr, &[], &mut net, &mut tun);
    let mut t0 = net[0].clone();
    t0[20] ^= 0x10;
    let mut t1 = net[1].clone();
    let l = t1.len();
    t1[l - 1] ^= 1;
    got.clear();
    b.process(&[], &[&t0, &t1], &mut n2, &mut got);
    let inb = b.status().into_iter().find(|s| s.dir == "in").unwrap();
    assert_eq!(inb.counters.auth_failures, 2);
    assert_eq!(inb.counters.seq, 40, "a packet that fails its ICV does not move the window");
    // The genuine ones still pass (their numbers were not taken), twice in one batch: once.
    b.process(&[], &[&net[0], &net[1], &net[1], &net[2]], &mut n2, &mut got);
    assert_eq!(got, more);
    let inb = b.status().into_iter().find(|s| s.dir == "in").unwrap();
    assert_eq!(inb.counters.replay_drops, 6);
    assert_eq!(inb.counters.seq, 43);
    // And the other way, B to A; an out-of-policy inner packet is not sent.
    let back = [ipv4([203, 0, 113, 1], [198, 51, 100, 1], 64, 9), ipv4([203, 0, 113, 1], [192, 0, 2, 99], 64, 9)];
    let br: Vec<&[u8]> = back.iter().map(|p| p.as_slice()).collect();
    net.clear();
    b.process(&br, &[], &mut net, &mut tun);
    assert_eq!(net.len(), 1);
    assert_eq!(b.global.no_policy, 1);
    got.clear();
    let nr: Vec<&[u8]> = net.iter().map(|p| p.as_slice()).collect();
    a.process(&[], &nr, &mut n2, &mut got);
    assert_eq!(got, back[..1]);
}

#[test]
fn cbc_aes_hmac_sha1_96() {
    both_ways_and_drops(&cbc_sha1, 12, 16);
}

#[test]
fn cbc_aes_hmac_sha256_128() {
    both_ways_and_drops(&cbc_sha256, 16, 16);
}

#[test]
fn rfc4106_gcm_aes() {
    both_ways_and_drops(&gcm, 16, 8);
}

/// A decrypted packet whose inner addresses are outside the inbound
/// policy never reaches the TUN device.
#[test]
fn inbound_policy_is_enforced() {
    let (_, mut b) = pair(&cbc_sha1);
    // B's in policy for SA 0x1001 takes 198.51.100.0/24 -> 203.0.113.0/24.
    // A sender with that SA's keys and a policy of everything (the example
    // file, keys replaced) sends a packet from 10.9.9.9: it verifies, and
    // is dropped by the policy check.
    let wide = Config::parse(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/example.toml"))
            .unwrap()
            .replace("0x000102030405060708090a0b0c0d0e0f", &format!("0x{}", hex::encode([0x01u8; 16])))
            .replace("0x101112131415161718191a1b1c1d1e1f20212223", &format!("0x{}", hex::encode([0x01u8 ^ 0x55; 20])))
            .replace("src = \"198.51.100.0/24\"\ndst = \"203.0.113.0/24\"", "src = \"0.0.0.0/0\"\ndst = \"0.0.0.0/0\""),
    )
    .unwrap();
    let mut w = Endpoint::new(&wide, acrypto::soft_engine(1).unwrap()).unwrap();
    let stray = ipv4([10, 9, 9, 9], [203, 0, 113, 1], 50, 1);
    let (mut net, mut tun) = (Vec::new(), Vec::new());
    w.process(&[&stray], &[], &mut net, &mut tun);
    assert_eq!(net.len(), 1);
    b.process(&[], &[&net[0]], &mut Vec::new(), &mut tun);
    assert!(tun.is_empty());
    let inb = b.status().into_iter().find(|s| s.dir == "in").unwrap();
    assert_eq!((inb.counters.packets, inb.counters.other_drops), (0, 1), "{inb:?}");
}
