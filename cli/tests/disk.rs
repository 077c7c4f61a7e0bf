//! `acrypto disk` on the host (no nbd module here): the refusals, which
//! come before any device is touched, and a `--listen` volume in the
//! background, reached by an NBD client over TCP, closed, reopened.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("acrypto-disk-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("run")).unwrap();
        Dir(d)
    }
    fn p(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
    fn acrypto(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_acrypto"))
            .args(args)
            .env("ACRYPTO_RUN_DIR", self.p("run"))
            .env("ACRYPTO_DEVICES", "soft:2")
            .output()
            .unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn bad_input_is_refused_in_one_line_and_changes_nothing() {
    let d = Dir::new("bad");
    let back = d.p("back.img");
    let content: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(&back, &content).unwrap();
    std::fs::write(d.p("key"), (0..64u8).collect::<Vec<_>>()).unwrap();
    std::fs::write(d.p("short"), [1u8; 20]).unwrap();
    std::fs::write(d.p("equal"), [(0..32u8).collect::<Vec<_>>(), (0..32u8).collect()].concat()).unwrap();
    let (b, k, sk) = (s(&back).to_string(), s(&d.p("key")).to_string(), s(&d.p("short")).to_string());
    let ek = s(&d.p("equal")).to_string();
    let xts = ["--cipher", "aes-xts-plain64", "--key-size", "512"];
    let cases: Vec<(Vec<&str>, &str, i32)> = vec![
        (vec![&b, "t", "--key-file", &sk], "holds 20 bytes", 1),
        (vec![&b, "t", "--key-file", &k, "--offset", "2048"], "too small for the data offset", 1),
        (vec![&b, "t", "--key-file", &k, "--offset", "8", "--size", "2048"], "too small for a data segment", 1),
        (vec![&b, "t", "--key-file", &k, "--sector-size", "4096", "--skip", "3"], "not a multiple", 2),
        (vec![&b, "t", "--key-file", &k, "--sector-size", "4096", "--offset", "1"], "not a whole number", 1),
        (vec!["/nonexistent/x.img", "t", "--key-file", &k], "No such file", 1),
        (vec![&b, "../t", "--key-file", &k], "bad volume name", 2),
        (vec![&b, "t", "--key-file", &k, "--type", "luks1"], "--type luks1", 2),
        // XTS with equal key halves: refused (IEEE 1619, OpenSSL, FIPS
        // dm-crypt), where non-FIPS dm-crypt would take it.
        (vec![&b, "t", "--key-file", &ek], "the two key halves must differ", 1),
    ];
    for (args, want, code) in cases {
        let mut all = vec!["disk", "open"];
        all.extend_from_slice(&args[..2]);
        all.extend_from_slice(&xts);
        all.extend_from_slice(&args[2..]);
        let o = d.acrypto(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{all:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{all:?}: {err}");
        assert!(err.contains(want), "{all:?}: '{err}' does not say '{want}'");
        assert!(o.stdout.is_empty());
        assert_eq!(std::fs::read(&back).unwrap(), content, "{all:?} changed the backing file");
        let left: Vec<_> = std::fs::read_dir(d.p("run")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{all:?} left {left:?}");
    }
    let o = d.acrypto(&["disk", "open", &b, "t", "--cipher", "aes-cbc-essiv:md5", "--key-file", &k]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unsupported cipher"));
    let o = d.acrypto(&["disk", "close", "t"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no open volume 't'"));
}

fn handshake(addr: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    let mut hello = [0u8; 18];
    c.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..8], b"NBDMAGIC");
    c.write_all(&1u32.to_be_bytes()).unwrap();
    // NBD_OPT_EXPORT_NAME "t": size, flags, 124 zeros (no NO_ZEROES asked).
    let mut m = b"IHAVEOPT".to_vec();
    m.extend_from_slice(&1u32.to_be_bytes());
    m.extend_from_slice(&1u32.to_be_bytes());
    m.push(b't');
    c.write_all(&m).unwrap();
    let mut r = [0u8; 134];
    c.read_exact(&mut r).unwrap();
    assert_eq!(u64::from_be_bytes(r[..8].try_into().unwrap()), 1 << 20);
    c
}

fn io(c: &mut TcpStream, cmd: u16, handle: u64, from: u64, data: &[u8], len: u32) -> (u32, Vec<u8>) {
    let mut m = 0x2560_9513u32.to_be_bytes().to_vec();
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&cmd.to_be_bytes());
    m.extend_from_slice(&handle.to_be_bytes());
    m.extend_from_slice(&from.to_be_bytes());
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(data);
    c.write_all(&m).unwrap();
    if cmd == 2 {
        // NBD_CMD_DISC has no reply: the server closes.
        let mut rest = vec![];
        c.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        return (0, rest);
    }
    let mut r = [0u8; 16];
    c.read_exact(&mut r).unwrap();
    assert_eq!(u64::from_be_bytes(r[8..].try_into().unwrap()), handle);
    let err = u32::from_be_bytes(r[4..8].try_into().unwrap());
    let mut d = vec![];
    if cmd == 0 && err == 0 {
        d = vec![0u8; len as usize];
        c.read_exact(&mut d).unwrap();
    }
    (err, d)
}

#[test]
fn listen_in_the_background_status_close_reopen() {
    let d = Dir::new("listen");
    let back = d.p("back.img");
    std::fs::write(&back, vec![0u8; 1 << 20]).unwrap();
    std::fs::write(d.p("key"), (0..32u8).collect::<Vec<_>>()).unwrap();
    let args = |name| {
        vec![
            "disk".to_string(),
            "open".into(),
            s(&back).into(),
            name,
            "--cipher".into(),
            "aes-cbc-essiv:sha256".into(),
            "--key-file".into(),
            s(&d.p("key")).into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ]
    };
    let open = |name: &str| {
        let a = args(name.to_string());
        let o = d.acrypto(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let addr = open("v1");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // A second open under the same name is refused while the first runs.
    let a = args("v1".into());
    let o = d.acrypto(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already open"));
    let st = d.acrypto(&["disk", "status", "--json"]);
    let text = String::from_utf8(st.stdout).unwrap();
    assert!(
        text.contains("\"listen\": \"127.0.0.1:") && text.contains("\"cipher\": \"aes-cbc-essiv:sha256\""),
        "{text}"
    );
    assert!(!text.contains("key\":") || text.contains("key_size"), "status shows no key");
    let data: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    {
        let mut c = handshake(&addr);
        assert_eq!(io(&mut c, 1, 1, 8192, &data, data.len() as u32).0, 0);
        assert_eq!(io(&mut c, 3, 2, 0, &[], 0).0, 0);
        assert_eq!(io(&mut c, 0, 3, 8192, &[], data.len() as u32), (0, data.clone()));
        assert_eq!(io(&mut c, 0, 4, (1 << 20) - 512, &[], 1024).0, 22, "read past the end: EINVAL");
        io(&mut c, 2, 5, 0, &[], 0);
    }
    let ct = std::fs::read(&back).unwrap();
    assert_ne!(&ct[8192..8192 + 65536], &data[..], "stored encrypted");
    // The state file's device counters (rewritten every second) show the
    // engine's devices ran the 64 KiB written and read: 128 sectors each way.
    let mut seen: String;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ran = loop {
        let o = d.acrypto(&["disk", "status", "--json"]);
        seen = String::from_utf8(o.stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(&seen).unwrap();
        let devs = v[0]["devices"].as_array().cloned().unwrap_or_default();
        let sum = |k: &str| devs.iter().map(|x| x[k].as_u64().unwrap()).sum::<u64>();
        if sum("bytes") >= 2 * 65536 && sum("completed") >= 256 {
            assert!(devs.iter().all(|x| x["failed"] == 0 && x["state"] == "active"), "{seen}");
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(ran, "the device counters of disk status never showed the I/O: {seen}");
    let o = d.acrypto(&["disk", "status", "v1"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("  devices: ") && text.contains("requests"), "{text}");
    let o = d.acrypto(&["disk", "close", "v1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = d.acrypto(&["disk", "status", "--json"]);
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), "[]");
    let addr = open("v2");
    let mut c = handshake(&addr);
    assert_eq!(io(&mut c, 0, 1, 8192, &[], data.len() as u32), (0, data), "reopened: same data");
    io(&mut c, 2, 2, 0, &[], 0);
    assert!(d.acrypto(&["disk", "close", "v2"]).status.success());
}

/// `disk close` of a `--listen` volume stops its server with SIGTERM: the
/// server syncs the backing file (what a client wrote without a flush
/// included) and exits 0, instead of dying of the signal.
#[test]
fn a_stop_signal_syncs_the_backing_file_before_the_server_exits() {
    use std::io::BufRead;
    let d = Dir::new("signal");
    let back = d.p("back.img");
    std::fs::write(&back, vec![0u8; 1 << 20]).unwrap();
    std::fs::write(d.p("key"), (0..64u8).collect::<Vec<_>>()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_acrypto"))
        .args(["disk", "open", s(&back), "sig", "--cipher", "aes-xts-plain64", "--key-size", "512"])
        .args(["--key-file", s(&d.p("key")), "--listen", "127.0.0.1:0", "--foreground"])
        .env("ACRYPTO_RUN_DIR", d.p("run"))
        .env("ACRYPTO_DEVICES", "soft:2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(d.p("run/sig.json").exists(), "the server writes its state");
    let data: Vec<u8> = (0..32768u32).map(|i| (i % 253) as u8).collect();
    let mut c = handshake(&addr);
    assert_eq!(io(&mut c, 1, 1, 4096, &data, data.len() as u32).0, 0, "write, no flush");
    let k = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(k.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the server exits 0 after a SIGTERM, not of the signal: {err}");
    assert!(err.contains("backing file synced"), "{err}");
    assert!(!d.p("run/sig.json").exists(), "the state file is removed");
    let ct = std::fs::read(&back).unwrap();
    assert_ne!(&ct[4096..4096 + data.len()], &data[..], "stored encrypted");
    assert_ne!(&ct[4096..4096 + data.len()], &vec![0u8; data.len()][..], "the write reached the file");
}
