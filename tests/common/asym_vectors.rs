//! The asymmetric known answers: NIST CAVP FIPS 186-3 RSA signature
//! verification records (`tests/vectors/rsa/`, SHA-256 records) with their
//! public keys written as SubjectPublicKeyInfo DER, and the small DER writer
//! that makes those keys.

use super::repo_root;

/// A DER element: `tag`, its length, `body`.
pub fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|&b| b == 0).collect();
        v.push(0x80 | bytes.len() as u8);
        v.extend(bytes);
    }
    v.extend_from_slice(body);
    v
}

/// A DER INTEGER of the unsigned big-endian `x`.
pub fn der_uint(x: &[u8]) -> Vec<u8> {
    let mut x: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
    if x.is_empty() || x[0] & 0x80 != 0 {
        x.insert(0, 0);
    }
    der(0x02, &x)
}

/// A DER SEQUENCE of `parts`.
pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// A DER BIT STRING of whole bytes.
pub fn bit_string(b: &[u8]) -> Vec<u8> {
    der(0x03, &[&[0u8][..], b].concat())
}

/// The rsaEncryption SubjectPublicKeyInfo of modulus `n`, exponent `e`.
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    let oid = hex::decode("06092a864886f70d010101").unwrap();
    seq(&[seq(&[oid, vec![0x05, 0x00]]), bit_string(&seq(&[der_uint(n), der_uint(e)]))])
}

/// The text of a file under `tests/vectors/`.
pub fn vector(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/vectors").join(rel)).unwrap()
}

/// `key = value` blocks with the section (`[mod = 2048]`, `[P-256,SHA-256]`)
/// and the last `n` seen before them.
pub struct Rec {
    pub section: String,
    pub n: String,
    pub f: std::collections::HashMap<String, String>,
}

/// The records (blocks with a `Result`) of a CAVP `.rsp` text.
pub fn records(text: &str) -> Vec<Rec> {
    let mut out = Vec::new();
    let (mut section, mut n) = (String::new(), String::new());
    for block in text.replace('\r', "").split("\n\n") {
        let mut f = std::collections::HashMap::new();
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if line.starts_with('[') {
                section = line.to_string();
            } else if let Some((k, v)) = line.split_once(" = ") {
                f.insert(k.to_string(), v.to_string());
            }
        }
        if let Some(v) = f.remove("n") {
            n = v;
        }
        if f.contains_key("Result") {
            out.push(Rec { section: section.clone(), n: n.clone(), f });
        }
    }
    out
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// One RSA SigVer record.
pub struct RsaSigVer {
    pub bits: u16,
    /// The public key, SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    pub msg: Vec<u8>,
    pub sig: Vec<u8>,
    /// Result "P": the signature verifies.
    pub pass: bool,
    /// Result "F" because the public exponent was changed (the key itself
    /// may then be refused).
    pub e_changed: bool,
    /// The record's Result line.
    pub result: String,
}

/// The SHA-256 records of an RSA SigVer file (`rsa/SigVer15_186-3.rsp`,
/// `rsa/SigVerPSS_186-3.rsp`).
pub fn rsa_sigver(file: &str) -> Vec<RsaSigVer> {
    records(&vector(file))
        .into_iter()
        .map(|r| {
            let bits = r.section.trim_matches(|c| c == '[' || c == ']').trim_start_matches("mod = ").parse().unwrap();
            assert_eq!(r.f["SHAAlg"], "SHA256", "{file}");
            let result = r.f["Result"].clone();
            RsaSigVer {
                bits,
                spki: rsa_spki(&h(&r.n), &h(&r.f["e"])),
                msg: h(&r.f["Msg"]),
                sig: h(&r.f["S"]),
                pass: result.starts_with('P'),
                e_changed: result.contains("e changed"),
                result,
            }
        })
        .collect()
}
