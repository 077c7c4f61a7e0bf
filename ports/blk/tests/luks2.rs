//! LUKS2 against cryptsetup on plain files (no root, no device mapper):
//! volumes `cryptsetup luksFormat` makes open here with the same volume key,
//! and volumes `luks2::format` makes pass `cryptsetup luksDump`, give their
//! key to `cryptsetup luksDump --dump-volume-key` and take a new keyslot from
//! `cryptsetup luksAddKey`. Needs cryptsetup (Debian: cryptsetup-bin).

use acrypto_blk::luks2::{self, Error, FormatOptions, Pbkdf};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;
const DATA_OFFSET: u64 = 16 * MIB;
/// Fast KDF settings for cryptsetup.
const PBKDF2_FAST: &[&str] = &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"];
const ARGON2ID_FAST: &[&str] =
    &["--pbkdf", "argon2id", "--pbkdf-memory", "64", "--pbkdf-force-iterations", "4", "--pbkdf-parallel", "1"];

fn cryptsetup(args: &[&str]) -> std::process::Output {
    let out = Command::new("cryptsetup")
        .args(["--batch-mode", "--disable-locks"])
        .args(args)
        .output()
        .expect("run cryptsetup (install cryptsetup-bin)");
    out
}

fn cryptsetup_ok(args: &[&str]) -> String {
    let out = cryptsetup(args);
    assert!(out.status.success(), "cryptsetup {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }
    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.0.path().join(name);
        fs::write(&p, contents).unwrap();
        p
    }
    fn image(&self, name: &str, size: u64) -> PathBuf {
        let p = self.0.path().join(name);
        File::create(&p).unwrap().set_len(size).unwrap();
        p
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::getrandom(&mut v).unwrap();
    v
}

/// `cryptsetup luksFormat` with a known volume key.
fn cs_format(d: &Dir, img: &Path, pass: &[u8], vk: &[u8], extra: &[&str]) {
    let pf = d.file("pass", pass);
    let vf = d.file("vk", vk);
    let mut args = vec!["luksFormat", "--type", "luks2", "--key-file", s(&pf), "--volume-key-file", s(&vf)];
    args.extend_from_slice(extra);
    args.push(s(img));
    cryptsetup_ok(&args);
}

/// The volume key `cryptsetup luksDump --dump-volume-key` prints.
fn cs_volume_key(d: &Dir, img: &Path, pass: &[u8]) -> Vec<u8> {
    let pf = d.file("pass-dump", pass);
    let text = cryptsetup_ok(&["luksDump", "--dump-volume-key", "--key-file", s(&pf), s(img)]);
    let mut hex = String::new();
    let mut on = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("MK dump:") {
            on = true;
            hex.push_str(rest);
        } else if on && line.starts_with(char::is_whitespace) {
            hex.push_str(line);
        } else {
            on = false;
        }
    }
    let hex: String = hex.split_whitespace().collect();
    assert!(!hex.is_empty(), "no MK dump in: {text}");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn open(img: &Path, pass: &[u8]) -> Result<luks2::Volume, Error> {
    luks2::open(&File::open(img).unwrap(), pass)
}

fn flip(img: &Path, at: u64) {
    let f = OpenOptions::new().read(true).write(true).open(img).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x01;
    f.write_all_at(&b, at).unwrap();
}

#[test]
fn cryptsetup_volumes_open_with_their_volume_key() {
    let cases: &[(&str, usize, u32, &[&str])] = &[
        ("aes-xts-plain64", 64, 512, &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]),
        ("aes-xts-plain64", 32, 4096, &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--hash", "sha512"]),
        ("aes-cbc-essiv:sha256", 32, 512, &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--hash", "sha1"]),
        ("aes-cbc-plain64", 16, 4096, &["--pbkdf", "argon2i", "--pbkdf-memory", "64", "--pbkdf-force-iterations", "4"]),
        ("aes-xts-plain64", 64, 4096, ARGON2ID_FAST),
    ];
    for &(cipher, ks, ss, kdf) in cases {
        let d = Dir::new();
        let img = d.image("v.img", 20 * MIB);
        let vk = random(ks);
        let pass = b"correct horse battery staple";
        let bits = (ks * 8).to_string();
        let ss_s = ss.to_string();
        let mut extra = vec!["--cipher", cipher, "--key-size", &bits, "--sector-size", &ss_s];
        extra.extend_from_slice(kdf);
        cs_format(&d, &img, pass, &vk, &extra);
        let before = fs::read(&img).unwrap();

        let v = open(&img, pass).unwrap_or_else(|e| panic!("{cipher} {kdf:?}: {e}"));
        assert_eq!(&v.key[..], &vk[..], "{cipher} {kdf:?}");
        assert_eq!(v.cipher, cipher);
        assert_eq!(v.offset, DATA_OFFSET);
        assert_eq!(v.size, None);
        assert_eq!(v.sector_size, ss);
        assert!(!v.iv_large_sectors, "LUKS2 IVs count 512-byte sectors");
        assert_eq!(v.iv_tweak, 0);
        assert_eq!(v.keyslot, 0);

        assert_eq!(open(&img, b"correct horse battery stapl").unwrap_err(), Error::WrongPassphrase);
        assert_eq!(open(&img, b"").unwrap_err(), Error::WrongPassphrase);
        assert!(fs::read(&img).unwrap() == before, "open wrote to the file");
    }
}

#[test]
fn second_keyslot_and_dump_agree() {
    let d = Dir::new();
    let img = d.image("v.img", 20 * MIB);
    let vk = random(64);
    cs_format(&d, &img, b"first", &vk, PBKDF2_FAST);
    let old = d.file("old", b"first");
    let new = d.file("new", b"second one");
    let mut args = vec!["luksAddKey", "--key-file", s(&old)];
    args.extend_from_slice(PBKDF2_FAST);
    args.extend([s(&img), s(&new)]);
    cryptsetup_ok(&args);
    let v = open(&img, b"second one").unwrap();
    assert_eq!(v.keyslot, 1);
    assert_eq!(&v.key[..], &vk[..]);
    assert_eq!(open(&img, b"first").unwrap().keyslot, 0);
    // luksDump --dump-volume-key prints the same key (the comparison the
    // format tests rely on).
    assert_eq!(cs_volume_key(&d, &img, b"second one"), vk);
}

#[test]
fn corrupt_primary_falls_back_to_secondary_both_corrupt_fails() {
    let d = Dir::new();
    let img = d.image("v.img", 20 * MIB);
    let vk = random(64);
    cs_format(&d, &img, b"pw", &vk, PBKDF2_FAST);

    // A flipped byte in the primary's JSON area: its checksum fails.
    flip(&img, 4096 + 20);
    let v = open(&img, b"pw").unwrap();
    assert_eq!(&v.key[..], &vk[..]);
    // cryptsetup agrees that the volume still opens.
    assert_eq!(cs_volume_key(&d, &img, b"pw"), vk);

    // The primary's magic gone too: the secondary is searched for.
    flip(&img, 0);
    assert_eq!(&open(&img, b"pw").unwrap().key[..], &vk[..]);

    // And the secondary (at 16 KiB) corrupted: nothing opens.
    flip(&img, 16384 + 4096 + 20);
    let e = open(&img, b"pw").unwrap_err();
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    assert!(e.to_string().contains("secondary"), "{e}");
    assert!(!cryptsetup(&["luksDump", s(&img)]).status.success());
}

#[test]
fn the_copy_with_the_higher_sequence_id_wins() {
    let d = Dir::new();
    let img = d.image("v.img", 20 * MIB);
    let vk = random(64);
    cs_format(&d, &img, b"first", &vk, PBKDF2_FAST);
    let old_primary = fs::read(&img).unwrap()[..16384].to_vec();
    let old = d.file("old", b"first");
    let new = d.file("new", b"second");
    let mut args = vec!["luksAddKey", "--key-file", s(&old)];
    args.extend_from_slice(PBKDF2_FAST);
    args.extend([s(&img), s(&new)]);
    cryptsetup_ok(&args);
    // Both copies valid, the primary one update behind: the secondary's
    // keyslot 1 is seen.
    OpenOptions::new().write(true).open(&img).unwrap().write_all_at(&old_primary, 0).unwrap();
    assert_eq!(open(&img, b"second").unwrap().keyslot, 1);
    // With the secondary corrupted, the old primary is all there is.
    flip(&img, 16384 + 4096 + 20);
    assert_eq!(open(&img, b"second").unwrap_err(), Error::WrongPassphrase);
    assert_eq!(&open(&img, b"first").unwrap().key[..], &vk[..]);
}

#[test]
fn corrupt_binary_header_field_is_caught_by_the_checksum() {
    let d = Dir::new();
    let img = d.image("v.img", 20 * MIB);
    let vk = random(32);
    cs_format(&d, &img, b"pw", &vk, &[&["--key-size", "256"][..], PBKDF2_FAST].concat());
    // The primary's label byte (24), then the secondary's salt (16384 + 104).
    flip(&img, 24);
    assert_eq!(&open(&img, b"pw").unwrap().key[..], &vk[..]);
    flip(&img, 16384 + 104);
    let e = open(&img, b"pw").unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
}

#[test]
fn truncated_and_foreign_files_are_clear_errors() {
    let d = Dir::new();
    let img = d.image("v.img", 20 * MIB);
    cs_format(&d, &img, b"pw", &random(64), PBKDF2_FAST);
    let full = fs::read(&img).unwrap();
    for (len, want) in [
        (0usize, "truncated"),
        (100, "truncated"),
        (10_000, "truncated"),
        (20_000, "data segment"),
        (DATA_OFFSET as usize, "data segment"),
    ] {
        let t = d.file("t.img", &full[..len]);
        let e = open(&t, b"pw").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(want), "{len} bytes: {msg}");
        assert_ne!(e, Error::WrongPassphrase);
    }
    let zeros = d.image("z.img", 20 * MIB);
    assert!(open(&zeros, b"pw").unwrap_err().to_string().contains("not a LUKS2 device"));
    let l1 = d.image("l1.img", 20 * MIB);
    let pf = d.file("p1", b"pw");
    cryptsetup_ok(&["luksFormat", "--type", "luks1", "--pbkdf-force-iterations", "1000", "--key-file", s(&pf), s(&l1)]);
    assert!(matches!(open(&l1, b"pw").unwrap_err(), Error::Unsupported(_)));
}

#[test]
fn unsupported_segment_cipher_is_refused() {
    let d = Dir::new();
    let img = d.image("v.img", 20 * MIB);
    let pf = d.file("p", b"pw");
    let mut args = vec!["luksFormat", "--type", "luks2", "--cipher", "aes-ctr-plain64", "--key-file", s(&pf)];
    args.extend_from_slice(PBKDF2_FAST);
    args.push(s(&img));
    cryptsetup_ok(&args);
    let e = open(&img, b"pw").unwrap_err();
    assert!(matches!(&e, Error::Unsupported(m) if m.contains("aes-ctr-plain64")), "{e}");
}

fn opts(cipher: &str, bits: u32, ss: u32, pbkdf: Pbkdf) -> FormatOptions {
    FormatOptions { sector_size: ss, pbkdf, digest_iterations: 1000, ..FormatOptions::new(cipher, bits) }
}

#[test]
fn our_format_passes_cryptsetup() {
    let cases = [
        opts("aes-xts-plain64", 512, 512, Pbkdf::Pbkdf2 { iterations: 1000 }),
        opts("aes-xts-plain64", 256, 4096, Pbkdf::Argon2id { time: 4, memory_kib: 64, lanes: 1 }),
        opts("aes-cbc-essiv:sha256", 256, 512, Pbkdf::Argon2i { time: 4, memory_kib: 32, lanes: 2 }),
        opts("aes-cbc-plain64", 128, 4096, Pbkdf::Pbkdf2 { iterations: 1000 }),
    ];
    for o in &cases {
        let d = Dir::new();
        let img = d.image("v.img", 20 * MIB);
        // Data already on the device beyond the header stays.
        let f = OpenOptions::new().read(true).write(true).open(&img).unwrap();
        f.write_all_at(b"payload", DATA_OFFSET).unwrap();
        let vk = random(o.key_size_bits as usize / 8);
        luks2::format_with_key(&f, b"our pass", o, Some(&vk)).unwrap();
        drop(f);

        let dump = cryptsetup_ok(&["luksDump", s(&img)]);
        assert!(dump.contains("Version:       \t2"), "{dump}");
        assert!(dump.contains(&format!("cipher: {}", o.cipher)), "{dump}");
        assert!(dump.contains(&format!("sector: {} [bytes]", o.sector_size)), "{dump}");
        assert!(dump.contains(&format!("offset: {DATA_OFFSET} [bytes]")), "{dump}");
        cryptsetup_ok(&["isLuks", "--type", "luks2", s(&img)]);
        assert_eq!(cs_volume_key(&d, &img, b"our pass"), vk, "{o:?}");
        // A wrong passphrase is refused by cryptsetup too.
        let bad = d.file("bad", b"our pasS");
        assert!(!cryptsetup(&["luksDump", "--dump-volume-key", "--key-file", s(&bad), s(&img)]).status.success());

        // Our own open.
        let v = open(&img, b"our pass").unwrap();
        assert_eq!(&v.key[..], &vk[..]);
        assert_eq!((v.cipher.as_str(), v.sector_size, v.offset), (o.cipher.as_str(), o.sector_size, DATA_OFFSET));
        let mut tail = [0u8; 7];
        File::open(&img).unwrap().read_exact_at(&mut tail, DATA_OFFSET).unwrap();
        assert_eq!(&tail, b"payload");

        // cryptsetup can rewrite our metadata (it validates it strictly
        // before writing): a second keyslot, which we then open.
        let old = d.file("old", b"our pass");
        let new = d.file("new", b"added by cryptsetup");
        let mut args = vec!["luksAddKey", "--key-file", s(&old)];
        args.extend_from_slice(PBKDF2_FAST);
        args.extend([s(&img), s(&new)]);
        cryptsetup_ok(&args);
        let v = open(&img, b"added by cryptsetup").unwrap();
        assert_eq!((v.keyslot, &v.key[..]), (1, &vk[..]));
    }
}

#[test]
fn our_format_with_a_random_key_and_the_defaults_opens() {
    let d = Dir::new();
    let img = d.image("v.img", 17 * MIB);
    let f = OpenOptions::new().read(true).write(true).open(&img).unwrap();
    let o = FormatOptions {
        pbkdf: Pbkdf::Argon2id { time: 4, memory_kib: 1024, lanes: 1 },
        digest_iterations: 1000,
        ..FormatOptions::new("aes-xts-plain64", 512)
    };
    luks2::format(&f, b"pw", &o).unwrap();
    let v = open(&img, b"pw").unwrap();
    assert_eq!(v.key.len(), 64);
    assert_ne!(&v.key[..], &[0u8; 64][..]);
    assert_eq!(cs_volume_key(&d, &img, b"pw"), &v.key[..]);
    // Two formats never share a key.
    luks2::format(&f, b"pw", &o).unwrap();
    assert_ne!(&open(&img, b"pw").unwrap().key[..], &v.key[..]);
}

#[test]
fn bad_format_requests_write_nothing() {
    let d = Dir::new();
    let good = opts("aes-xts-plain64", 512, 512, Pbkdf::Pbkdf2 { iterations: 1000 });
    let small = d.image("small.img", 16 * MIB);
    let big = d.image("big.img", 20 * MIB);
    let fill: Vec<u8> = (0..20 * MIB).map(|i| (i % 251) as u8).collect();
    fs::write(&big, &fill).unwrap();
    fs::write(&small, &fill[..16 * MIB as usize]).unwrap();
    let cases: Vec<(&Path, FormatOptions, &[u8], &str)> = vec![
        (&small, good.clone(), b"pw", "too small"),
        (&big, FormatOptions { cipher: "serpent-xts-plain64".into(), ..good.clone() }, b"pw", "serpent"),
        (&big, FormatOptions { key_size_bits: 384, ..good.clone() }, b"pw", "384-bit"),
        (&big, FormatOptions { key_size_bits: 512, ..opts("aes-cbc-plain64", 512, 512, good.pbkdf) }, b"pw", "512-bit"),
        (&big, FormatOptions { sector_size: 1000, ..good.clone() }, b"pw", "sector size"),
        (&big, FormatOptions { sector_size: 8192, ..good.clone() }, b"pw", "sector size"),
        (&big, FormatOptions { pbkdf: Pbkdf::Pbkdf2 { iterations: 10 }, ..good.clone() }, b"pw", "iterations"),
        (
            &big,
            FormatOptions { pbkdf: Pbkdf::Argon2id { time: 1, memory_kib: 64, lanes: 1 }, ..good.clone() },
            b"pw",
            "argon2",
        ),
        (&big, good.clone(), b"", "empty passphrase"),
    ];
    for (path, o, pass, want) in cases {
        let before = fs::read(path).unwrap();
        let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
        let e = luks2::format(&f, pass, &o).unwrap_err();
        assert!(e.to_string().contains(want), "{o:?}: {e}");
        assert!(fs::read(path).unwrap() == before, "{o:?} changed the file");
    }
}

/// Rewrites the JSON of both header copies (16 KiB headers) with `edit`
/// and gives them valid checksums again, as a hostile or buggy writer could.
fn rewrite_json(img: &Path, edit: &dyn Fn(&mut serde_json::Value)) {
    use sha2::Digest;
    let mut all = fs::read(img).unwrap();
    for off in [0usize, 16384] {
        let hdr = &mut all[off..off + 16384];
        let area = &hdr[4096..];
        let end = area.iter().position(|&c| c == 0).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&area[..end]).unwrap();
        edit(&mut v);
        let text = serde_json::to_vec(&v).unwrap();
        assert!(text.len() < 12288);
        hdr[4096..].fill(0);
        hdr[4096..4096 + text.len()].copy_from_slice(&text);
        hdr[448..512].fill(0);
        let sum = sha2::Sha256::digest(&*hdr);
        hdr[448..480].copy_from_slice(&sum);
    }
    fs::write(img, all).unwrap();
}

#[test]
fn hostile_metadata_with_valid_checksums_is_an_error_not_a_panic() {
    use serde_json::json;
    let d = Dir::new();
    let base = d.image("base.img", 20 * MIB);
    let vk = random(64);
    cs_format(&d, &base, b"pw", &vk, PBKDF2_FAST);
    let pristine = fs::read(&base).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("identity", Box::new(|_| {}), ""),
        (
            "serpent",
            Box::new(|v| v["segments"]["0"]["encryption"] = json!("serpent-xts-plain64")),
            "serpent-xts-plain64",
        ),
        ("scrypt", Box::new(|v| v["keyslots"]["0"]["kdf"]["type"] = json!("scrypt")), "scrypt"),
        ("0 stripes", Box::new(|v| v["keyslots"]["0"]["af"]["stripes"] = json!(0)), "stripes"),
        ("many stripes", Box::new(|v| v["keyslots"]["0"]["af"]["stripes"] = json!(1u64 << 40)), "stripes"),
        ("af hash", Box::new(|v| v["keyslots"]["0"]["af"]["hash"] = json!("md4")), "md4"),
        (
            "area at u64 max",
            Box::new(|v| v["keyslots"]["0"]["area"]["offset"] = json!(u64::MAX.to_string())),
            "overflows",
        ),
        ("area too small", Box::new(|v| v["keyslots"]["0"]["area"]["size"] = json!("4096")), "too small"),
        ("area outside", Box::new(|v| v["keyslots"]["0"]["area"]["offset"] = json!("0")), "outside"),
        ("area cipher", Box::new(|v| v["keyslots"]["0"]["area"]["encryption"] = json!("aes-ecb")), "aes-ecb"),
        ("huge key", Box::new(|v| v["keyslots"]["0"]["key_size"] = json!(100_000)), "key size"),
        ("sector 1000", Box::new(|v| v["segments"]["0"]["sector_size"] = json!(1000)), "sector size"),
        ("segment at 0", Box::new(|v| v["segments"]["0"]["offset"] = json!("0")), "inside the keyslots area"),
        (
            "segment at max",
            Box::new(|v| v["segments"]["0"]["offset"] = json!((u64::MAX - 511).to_string())),
            "overflows",
        ),
        ("segment past end", Box::new(|v| v["segments"]["0"]["size"] = json!((64 * MIB).to_string())), "too small"),
        ("offset a number", Box::new(|v| v["segments"]["0"]["offset"] = json!(16777216)), "not a string"),
        (
            "iterations a string",
            Box::new(|v| v["keyslots"]["0"]["kdf"]["iterations"] = json!("1000")),
            "not an unsigned",
        ),
        ("0 iterations", Box::new(|v| v["keyslots"]["0"]["kdf"]["iterations"] = json!(0)), "0 iterations"),
        ("salt", Box::new(|v| v["keyslots"]["0"]["kdf"]["salt"] = json!("!!!")), "base64"),
        ("no digests", Box::new(|v| v["digests"] = json!({})), "no digest"),
        ("no keyslot", Box::new(|v| v["keyslots"] = json!({})), "no keyslot"),
        ("json_size", Box::new(|v| v["config"]["json_size"] = json!("4096")), "json_size"),
        (
            "requirements",
            Box::new(|v| v["config"]["requirements"] = json!({"mandatory": ["online-reencrypt"]})),
            "online-reencrypt",
        ),
        ("two segments", Box::new(|v| v["segments"]["1"] = v["segments"]["0"].clone()), "2 data segments"),
        ("integrity", Box::new(|v| v["segments"]["0"]["integrity"] = json!({"type": "hmac(sha256)"})), "integrity"),
        ("not an object", Box::new(|v| *v = json!([1, 2])), "not an object"),
        (
            "argon2 memory",
            Box::new(|v| {
                v["keyslots"]["0"]["kdf"] = json!({"type": "argon2id", "time": 4, "memory": 8u64 << 20, "cpus": 1, "salt": "AAAAAAAAAAAAAAAAAAAAAA=="});
            }),
            "memory",
        ),
    ];
    for (name, edit, want) in cases {
        let img = d.file("h.img", &pristine);
        rewrite_json(&img, &*edit);
        match open(&img, b"pw") {
            Ok(v) => {
                assert_eq!(want, "", "{name}: opened");
                assert_eq!(&v.key[..], &vk[..]);
            }
            Err(e) => assert!(!want.is_empty() && e.to_string().contains(want), "{name}: {e}"),
        }
    }
    // A changed digest: the key is found but does not match, so no keyslot opens.
    let img = d.file("h.img", &pristine);
    rewrite_json(&img, &|v| v["digests"]["0"]["digest"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_eq!(open(&img, b"pw").unwrap_err(), Error::WrongPassphrase);
}
