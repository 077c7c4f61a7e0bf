//! The codec against ESP packets captured from the Linux kernel's xfrm
//! (`tests/data/kernel-esp.txt`, where they come from is written there):
//! each decrypts, through the engine, to the inner packet the kernel sent,
//! and encrypting that inner packet again with the packet's own IV gives
//! the kernel's packet byte for byte (header, IV, ciphertext, padding,
//! ICV). A flipped bit anywhere fails the ICV.

use acrypto::{Engine, Request};
use acrypto_esp::codec::{self, Transform};
use acrypto_esp::Config;

/// The keys of SA 0x2001 (kernel -> acrypto) in tests/vm/esp.sh.
fn transform(name: &str) -> Transform {
    let key = match name {
        "sha1" => "enc = { alg = \"cbc(aes)\", key = \"0x303132333435363738393a3b3c3d3e3f\" }\nauth-trunc = { alg = \"hmac(sha1)\", key = \"0x404142434445464748494a4b4c4d4e4f50515253\", bits = 96 }",
        "sha256" => "enc = { alg = \"cbc(aes)\", key = \"0x303132333435363738393a3b3c3d3e3f\" }\nauth-trunc = { alg = \"hmac(sha256)\", key = \"0x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\", bits = 128 }",
        "gcm" => "aead = { alg = \"rfc4106(gcm(aes))\", key = \"0xc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3\", bits = 128 }",
        n => panic!("unknown transform {n}"),
    };
    let text = format!(
        "name = \"k\"\n[tun]\nname = \"k0\"\naddress = \"198.51.100.1/24\"\n[outer]\nlocal = \"192.0.2.1\"\nremote = \"192.0.2.2\"\n\
         [[state]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\nspi = 4097\n{key}\n\
         [[state]]\nsrc = \"192.0.2.2\"\ndst = \"192.0.2.1\"\nspi = 8193\n{key}\n\
         [[policy]]\nsrc = \"198.51.100.0/24\"\ndst = \"203.0.113.0/24\"\ndir = \"out\"\ntmpl = {{ spi = 4097 }}\n\
         [[policy]]\nsrc = \"203.0.113.0/24\"\ndst = \"198.51.100.0/24\"\ndir = \"in\"\ntmpl = {{ spi = 8193 }}\n"
    );
    Config::parse(&text).unwrap().inbound[0].transform.clone()
}

fn packets() -> Vec<(String, Vec<u8>)> {
    let text = include_str!("data/kernel-esp.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (t, h) = l.split_once(' ').unwrap();
            (t.to_string(), hex::decode(h.trim()).unwrap())
        })
        .collect()
}

fn open(e: &Engine, t: &Transform, pkt: &[u8]) -> Result<Vec<u8>, acrypto::Error> {
    let s = e.session(t.session(false)).unwrap();
    let r = t.decap_request(pkt).unwrap();
    let r = e.run(&s, r)?;
    let n = codec::check_trailer(&r.data).unwrap();
    Ok(r.data[..n].to_vec())
}

#[test]
fn kernel_packets_decrypt_and_reencrypt_byte_for_byte() {
    let e = acrypto::soft_engine(1).unwrap();
    let pk = packets();
    // Two captured packets of each transform: cbc(aes) + hmac(sha1)-96,
    // cbc(aes) + hmac(sha256)-128 and rfc4106(gcm(aes)).
    for name in ["sha1", "sha256", "gcm"] {
        assert!(pk.iter().filter(|(t, _)| t == name).count() >= 2, "captured {name} packets missing");
    }
    for (name, pkt) in &pk {
        let t = transform(name);
        let (spi, seq) = codec::parse_header(pkt).unwrap();
        assert_eq!(spi, 0x2001);
        let inner = open(&e, &t, pkt).unwrap_or_else(|err| panic!("{name} seq {seq}: {err}"));
        // An IPv4 ICMP echo reply from the kernel side's inner address to ours.
        let (src, dst) = codec::inner_addrs(&inner).unwrap();
        assert_eq!((src.to_string().as_str(), dst.to_string().as_str()), ("203.0.113.1", "198.51.100.1"));
        assert_eq!(inner[9], 1, "ICMP");
        assert_eq!(inner[20], 0, "echo reply");
        // The same inner packet, IV and sequence number through our encapsulation.
        let iv = &pkt[8..8 + t.iv_len()];
        let s = e.session(t.session(true)).unwrap();
        let r: Request = e.run(&s, t.encap_request(spi, seq, iv, &inner)).unwrap();
        let mut again = Vec::new();
        t.encap_finish(&r, &mut again);
        assert_eq!(hex::encode(&again), hex::encode(pkt), "{name} seq {seq}: our packet differs from the kernel's");
        // Every bit is covered by the ICV (header, IV, ciphertext, ICV).
        for bit in (0..pkt.len() * 8).step_by(7) {
            let mut bad = pkt.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            if let Ok(r) = t.decap_request(&bad) {
                let s = e.session(t.session(false)).unwrap();
                assert_eq!(e.run(&s, r).err(), Some(acrypto::Error::VerifyFailed), "{name}: bit {bit}");
            }
        }
    }
}
