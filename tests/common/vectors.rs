//! Parsers for the public test vectors under `tests/vectors/` (see
//! `tests/vectors/SOURCES.md` for where each file comes from).
//!
//! All the files share one shape, that of NIST CAVP `.rsp` files: `#`
//! comments, `[SECTION]` headers, and records of `NAME = value` lines
//! separated by blank lines. The parser is strict: a line it does not
//! understand, a missing field or a bad length panics with the file and line,
//! so a damaged file cannot silently yield fewer cases.

use acrypto::{Algorithm, CipherMode, DigestKind, Op};
use std::fmt;
use std::path::PathBuf;

/// One known-answer case.
///
/// For ciphers `expected` is the output data. For digests and MACs it is the
/// tag, possibly truncated: a computed tag matches when it starts with
/// `expected` (see [`Case::tag_matches`]). For [`Op::Verify`] the request
/// carries `expected` as its tag and must verify.
#[derive(Clone, PartialEq, Eq)]
pub struct Case {
    /// File, section and record, e.g. `aes-cbc/CBCMMT128.rsp [ENCRYPT] COUNT = 3 (decrypt)`.
    pub source: String,
    /// The algorithm.
    pub alg: Algorithm,
    /// The operation.
    pub op: Op,
    /// The key (empty for digests).
    pub key: Vec<u8>,
    /// The IV or XTS tweak (empty when the algorithm takes none).
    pub iv: Vec<u8>,
    /// The input data.
    pub input: Vec<u8>,
    /// The expected output data or tag.
    pub expected: Vec<u8>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} [{}] ({} bytes in)", self.alg, self.op, self.source, self.input.len())
    }
}

impl Case {
    /// Whether a computed tag matches this case's (possibly truncated) tag.
    pub fn tag_matches(&self, tag: &[u8]) -> bool {
        !self.expected.is_empty() && tag.len() >= self.expected.len() && tag[..self.expected.len()] == self.expected[..]
    }

    /// Whether `expected` is a truncated tag.
    pub fn is_truncated(&self) -> bool {
        self.alg.digest_len() != 0 && self.expected.len() < self.alg.digest_len()
    }
}

/// The directory holding the vector files.
pub fn dir() -> PathBuf {
    super::repo_root().join("tests").join("vectors")
}

/// One record of a vector file.
#[derive(Debug)]
struct Record {
    /// `file:line` of the record's first line.
    at: String,
    /// The enclosing `[SECTION]`, without brackets ("" before any).
    section: String,
    /// `NAME = value` pairs, names upper-cased.
    fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_else(|| panic!("{}: record has no {name}", self.at))
    }

    fn hex(&self, name: &str) -> Vec<u8> {
        let v = self.text(name);
        hex::decode(v).unwrap_or_else(|e| panic!("{}: {name} is not hex: {e}", self.at))
    }

    fn number(&self, name: &str) -> usize {
        let v = self.text(name);
        v.parse().unwrap_or_else(|_| panic!("{}: {name} = {v} is not a number", self.at))
    }

    /// `COUNT = n` or the position, for naming the case.
    fn label(&self) -> String {
        match self.get("COUNT") {
            Some(c) => format!("COUNT = {c}"),
            None => self.at.rsplit(':').next().map(|l| format!("line {l}")).unwrap_or_default(),
        }
    }

    fn source(&self, rel: &str) -> String {
        if self.section.is_empty() {
            format!("{rel} {}", self.label())
        } else {
            format!("{rel} [{}] {}", self.section, self.label())
        }
    }
}

fn records(rel: &str, text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut cur: Option<Record> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            out.extend(cur.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[') {
            out.extend(cur.take());
            let s = s.strip_suffix(']').unwrap_or_else(|| panic!("{rel}:{}: unclosed section", i + 1));
            section = s.trim().to_string();
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("{rel}:{}: cannot parse {line:?}", i + 1));
        let rec = cur.get_or_insert_with(|| Record {
            at: format!("{rel}:{}", i + 1),
            section: section.clone(),
            fields: Vec::new(),
        });
        rec.fields.push((k.trim().to_ascii_uppercase(), v.trim().to_string()));
    }
    out.extend(cur);
    out
}

fn read(rel: &str) -> String {
    let path = dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The vector files of one kind, relative to [`dir`], sorted.
fn files(sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir().join(sub))
        .unwrap_or_else(|e| panic!("{}/{sub}: {e}", dir().display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".rsp") || n.ends_with(".txt"))
        .map(|n| format!("{sub}/{n}"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no vector files in {sub}");
    v
}

fn aes(key_bits: usize, mode: CipherMode, at: &str) -> Algorithm {
    assert!(matches!(key_bits, 128 | 192 | 256), "{at}: no AES-{key_bits}");
    Algorithm::Aes { key_bits: key_bits as u16, mode }
}

/// Both directions of one cipher record.
fn cipher_pair(source: String, alg: Algorithm, key: Vec<u8>, iv: Vec<u8>, pt: Vec<u8>, ct: Vec<u8>) -> [Case; 2] {
    assert_eq!(pt.len(), ct.len(), "{source}: plaintext and ciphertext lengths differ");
    [
        Case {
            source: format!("{source} (encrypt)"),
            alg,
            op: Op::Encrypt,
            key: key.clone(),
            iv: iv.clone(),
            input: pt.clone(),
            expected: ct.clone(),
        },
        Case { source: format!("{source} (decrypt)"), alg, op: Op::Decrypt, key, iv, input: ct, expected: pt },
    ]
}

/// NIST CAVP AESAVS files (GFSbox, KeySbox, VarKey, VarTxt, MMT) for cbc
/// and ecb, and the counter-mode files (same field names). Every record, in
/// an `[ENCRYPT]` or a `[DECRYPT]` section, yields an encrypt and a decrypt
/// case.
pub fn aes_cases(sub: &str, mode: CipherMode) -> Vec<Case> {
    let mut out = Vec::new();
    for rel in files(sub) {
        for r in records(&rel, &read(&rel)) {
            assert!(r.section == "ENCRYPT" || r.section == "DECRYPT", "{}: section [{}]", r.at, r.section);
            let key = r.hex("KEY");
            let alg = aes(key.len() * 8, mode, &r.at);
            let iv = if mode == CipherMode::Ecb { Vec::new() } else { r.hex("IV") };
            assert_eq!(iv.len(), alg.iv_len(), "{}: IV length", r.at);
            out.extend(cipher_pair(r.source(&rel), alg, key, iv, r.hex("PLAINTEXT"), r.hex("CIPHERTEXT")));
        }
    }
    out
}

/// NIST CAVP XTSGenAES files (the "tweak as 128-bit hex string" variant) and
/// the IEEE 1619 vectors written in the same shape. Data units whose length
/// in bits is not a multiple of 8 are skipped (acrypto works on bytes);
/// returns the cases and the number skipped.
pub fn xts_cases() -> (Vec<Case>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for rel in files("aes-xts") {
        for r in records(&rel, &read(&rel)) {
            let bits = r.number("DATAUNITLEN");
            if !bits.is_multiple_of(8) {
                skipped += 1;
                continue;
            }
            let key = r.hex("KEY");
            let alg = aes(key.len() * 4, CipherMode::Xts, &r.at);
            let (pt, ct) = (r.hex("PT"), r.hex("CT"));
            assert_eq!(pt.len() * 8, bits, "{}: DataUnitLen", r.at);
            out.extend(cipher_pair(r.source(&rel), alg, key, r.hex("I"), pt, ct));
        }
    }
    (out, skipped)
}

/// The digest a record is for: from its `[L = n]` section, else from the
/// file name.
fn digest_kind(rel: &str, r: &Record) -> DigestKind {
    match r.section.replace(' ', "").as_str() {
        "L=20" => DigestKind::Sha1,
        "L=32" => DigestKind::Sha256,
        "" if rel.contains("sha256") || rel.contains("SHA256") => DigestKind::Sha256,
        "" if rel.contains("sha1") || rel.contains("SHA1") => DigestKind::Sha1,
        s => panic!("{}: cannot tell the digest from section [{s}]", r.at),
    }
}

/// The message of a record whose `Len` is in bits; `None` when the length
/// is not a whole number of bytes.
fn message(r: &Record) -> Option<Vec<u8>> {
    let bits = r.number("LEN");
    if !bits.is_multiple_of(8) {
        return None;
    }
    // CAVP writes the empty message as "Msg = 00" with "Len = 0".
    let mut msg = r.hex("MSG");
    if bits == 0 {
        msg.clear();
    }
    assert_eq!(msg.len() * 8, bits, "{}: Len does not match Msg", r.at);
    Some(msg)
}

/// FIPS 180 digests: CAVP SHAVS ShortMsg/LongMsg and the FIPS 180-2
/// examples. Messages whose bit length is not a multiple of 8 are skipped;
/// returns the cases and the number skipped.
pub fn digest_cases() -> (Vec<Case>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for rel in files("sha") {
        for r in records(&rel, &read(&rel)) {
            let d = digest_kind(&rel, &r);
            let Some(msg) = message(&r) else {
                skipped += 1;
                continue;
            };
            let md = r.hex("MD");
            assert_eq!(md.len(), d.output_len(), "{}: MD length", r.at);
            out.push(Case {
                source: r.source(&rel),
                alg: Algorithm::Digest(d),
                op: Op::Digest,
                key: Vec::new(),
                iv: Vec::new(),
                input: msg,
                expected: md,
            });
        }
    }
    (out, skipped)
}

/// HMAC: RFC 2202 (SHA-1), RFC 4231 (SHA-256) and their truncated cases.
/// Each record yields a digest case and a verify case.
pub fn hmac_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for rel in files("hmac") {
        for r in records(&rel, &read(&rel)) {
            let d = digest_kind(&rel, &r);
            let msg = message(&r).unwrap_or_else(|| panic!("{}: HMAC message of odd bit length", r.at));
            let md = r.hex("MD");
            assert!(md.len() <= d.output_len() && md.len() >= 12, "{}: MD length {}", r.at, md.len());
            let base = Case {
                source: r.source(&rel),
                alg: Algorithm::Hmac(d),
                op: Op::Digest,
                key: r.hex("KEY"),
                iv: Vec::new(),
                input: msg,
                expected: md,
            };
            out.push(Case { source: format!("{} (verify)", base.source), op: Op::Verify, ..base.clone() });
            out.push(base);
        }
    }
    out
}

/// Every case of every vector file.
pub fn all_cases() -> Vec<Case> {
    let mut v = aes_cases("aes-cbc", CipherMode::Cbc);
    v.extend(aes_cases("aes-ecb", CipherMode::Ecb));
    v.extend(aes_cases("aes-ctr", CipherMode::Ctr));
    v.extend(xts_cases().0);
    v.extend(digest_cases().0);
    v.extend(hmac_cases());
    v
}

/// Number of cases per algorithm and operation, in [`Algorithm::ALL`] order.
pub fn count_by_alg(cases: &[Case]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for alg in Algorithm::all() {
        for op in [Op::Encrypt, Op::Decrypt, Op::Digest, Op::Verify] {
            let n = cases.iter().filter(|c| c.alg == alg && c.op == op).count();
            if n > 0 {
                out.push((format!("{alg} {op:?}"), n));
            }
        }
    }
    out
}
