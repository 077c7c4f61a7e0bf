//! The AEAD known answers under `tests/vectors/`: NIST CAVP GCM files and
//! the ChaCha20-Poly1305 files (RFC 8439, BoringSSL, OpenSSL), parsed
//! strictly, for every device's AEAD tests.

use acrypto::Algorithm;

/// One record of a vector file: `NAME = value` (or `NAME= value`) pairs, a
/// bare `FAIL` line as the field `FAIL`.
#[derive(Debug, Default, Clone)]
pub struct Record {
    at: String,
    section: Vec<(String, String)>,
    fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    /// A field as bytes: hex, or a quoted ASCII string.
    fn bytes(&self, k: &str) -> Vec<u8> {
        let v = self.get(k).unwrap_or_else(|| panic!("{}: no {k}", self.at));
        if let Some(q) = v.strip_prefix('"') {
            q.strip_suffix('"').unwrap_or_else(|| panic!("{}: unterminated string", self.at)).as_bytes().to_vec()
        } else {
            hex::decode(v).unwrap_or_else(|e| panic!("{}: {k} is not hex: {e}", self.at))
        }
    }
    fn param(&self, k: &str) -> usize {
        let v = self.section.iter().find(|(n, _)| n == k).unwrap_or_else(|| panic!("{}: no [{k}]", self.at));
        v.1.parse().unwrap()
    }
}

/// Parses a CAVP `.rsp` or a cryptography-vectors `.txt` file strictly.
pub fn records(rel: &str) -> Vec<Record> {
    let text = std::fs::read_to_string(super::vectors::dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut out = Vec::new();
    let mut section: Vec<(String, String)> = Vec::new();
    let mut fresh_section = false;
    let mut cur: Option<Record> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r').trim();
        let at = format!("{rel}:{}", i + 1);
        if line.is_empty() || line.starts_with('#') {
            out.extend(cur.take());
            continue;
        }
        if let Some(h) = line.strip_prefix('[') {
            out.extend(cur.take());
            if !fresh_section {
                section.clear();
                fresh_section = true;
            }
            let (k, v) = h.trim_end_matches(']').split_once('=').unwrap_or_else(|| panic!("{at}: bad header"));
            section.push((k.trim().to_ascii_uppercase(), v.trim().to_string()));
            continue;
        }
        fresh_section = false;
        let r = cur.get_or_insert_with(|| Record { at: at.clone(), section: section.clone(), ..Default::default() });
        if line == "FAIL" {
            r.fields.push(("FAIL".into(), String::new()));
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("{at}: cannot parse '{line}'"));
        r.fields.push((k.trim().to_ascii_uppercase(), v.trim().to_string()));
    }
    out.extend(cur);
    out
}

/// One AEAD known answer.
#[derive(Debug, Clone)]
pub struct Case {
    pub source: String,
    pub alg: Algorithm,
    pub key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub aad: Vec<u8>,
    pub pt: Vec<u8>,
    pub ct: Vec<u8>,
    pub tag: Vec<u8>,
    /// The tag must not verify (CAVP FAIL, OpenSSL CIPHERFINAL_ERROR).
    pub fail: bool,
    /// From an encrypt file (seal and compare; the tag may be truncated).
    pub encrypt: bool,
}

pub fn gcm_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for bits in [128u16, 192, 256] {
        for (file, encrypt) in [(format!("gcmEncryptExtIV{bits}.rsp"), true), (format!("gcmDecrypt{bits}.rsp"), false)]
        {
            let rel = format!("aes-gcm/{file}");
            for r in records(&rel) {
                if r.get("COUNT").is_none() {
                    continue;
                }
                assert_eq!(r.param("KEYLEN"), bits as usize, "{}", r.at);
                let fail = r.get("FAIL").is_some();
                let c = Case {
                    source: format!("{} Count = {}", r.at, r.get("COUNT").unwrap()),
                    alg: Algorithm::AesGcm { key_bits: bits },
                    key: r.bytes("KEY"),
                    nonce: r.bytes("IV"),
                    aad: r.bytes("AAD"),
                    pt: if fail { Vec::new() } else { r.bytes("PT") },
                    ct: r.bytes("CT"),
                    tag: r.bytes("TAG"),
                    fail,
                    encrypt,
                };
                assert_eq!(c.nonce.len() * 8, r.param("IVLEN"), "{}", r.at);
                assert_eq!(c.tag.len() * 8, r.param("TAGLEN"), "{}", r.at);
                assert_eq!(c.ct.len() * 8, r.param("PTLEN"), "{}", r.at);
                out.push(c);
            }
        }
    }
    out
}

pub fn chacha_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (rel, fields) in [
        ("chacha20-poly1305/boringssl.txt", ["KEY", "NONCE", "AD", "IN", "CT", "TAG"]),
        ("chacha20-poly1305/openssl.txt", ["KEY", "IV", "AAD", "PLAINTEXT", "CIPHERTEXT", "TAG"]),
    ] {
        for r in records(rel) {
            let [k, n, a, p, c, t] = fields.map(|f| r.bytes(f));
            let fail = match r.get("RESULT") {
                None => false,
                Some("CIPHERFINAL_ERROR") => true,
                Some(x) => panic!("{}: result {x}", r.at),
            };
            let source = format!("{} COUNT = {}", r.at, r.get("COUNT").unwrap_or("?"));
            out.push(Case {
                source,
                alg: Algorithm::ChaCha20Poly1305,
                key: k,
                nonce: n,
                aad: a,
                pt: p,
                ct: c,
                tag: t,
                fail,
                encrypt: !fail,
            });
        }
    }
    out
}
