//! The C ABI, driven from C: builds libacrypto (`make -C libacrypto
//! install` into a prefix under the target directory), compiles the C
//! tests (`tests/c/`) and the C examples (`examples-c/`) with
//! `cc -Wall -Wextra -Werror -fsanitize=address,undefined` against it, and
//! runs them with leak detection on. Results of the C path are compared
//! with the Rust path and with `openssl`; the installed `acrypto.pc` is
//! used to build a program with `pkg-config`. Needs `cc`, `pkg-config`,
//! `openssl` and libssl-dev (`tests/c/setup.sh` installs them).

mod common;

use acrypto::{Algorithm, CipherMode, Op, OpKind, Request, SessionBuilder};
use common::rng::{bytes, len_in, seeded, xts_key};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Where this test builds and installs things.
fn work_dir() -> PathBuf {
    target_dir().join("c-abi")
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} (run tests/c/setup.sh): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn make_install(prefix: &Path, destdir: Option<&Path>) {
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(root().join("libacrypto"))
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("TARGET_DIR={}", target_dir().display()))
        .arg(format!("CARGO={}", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())));
    if let Some(d) = destdir {
        cmd.arg(format!("DESTDIR={}", d.display()));
    }
    run_ok(&mut cmd);
}

/// The prefix libacrypto was installed into, once per test binary.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let p = work_dir().join("prefix");
        make_install(&p, None);
        p
    })
}

const CFLAGS: &[&str] =
    &["-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"];

/// Compiles one C file against the installed library, with the sanitizers.
fn compile(src: &str, extra_libs: &[&str]) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let p = prefix();
    let name = Path::new(src).file_stem().unwrap().to_str().unwrap();
    let exe = work_dir().join("bin").join(name);
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    let lib = p.join("lib");
    let mut cmd = Command::new("cc");
    cmd.args(CFLAGS)
        .arg(format!("-I{}", p.join("include").display()))
        .arg(format!("-I{}", root().join("tests/c").display()))
        .arg("-o")
        .arg(&exe)
        .arg(root().join(src))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lacrypto")
        .args(extra_libs)
        .arg("-lpthread");
    run_ok(&mut cmd);
    exe
}

/// Runs a sanitized program: leaks, memory errors and undefined behaviour
/// fail it.
fn sanitized(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        .env("RUST_BACKTRACE", "0")
        .env("ACRYPTO_DEVICES", "soft:2");
    cmd
}

fn run_c_test(src: &str) {
    let exe = compile(src, &[]);
    let out = run_ok(&mut sanitized(&exe));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{src}: {stdout}");
}

#[test]
fn every_export_rejects_null_and_invalid_arguments() {
    run_c_test("tests/c/api_errors.c");
}

#[test]
fn queue_descriptor_is_readable_while_completions_wait() {
    run_c_test("tests/c/queue_fd.c");
}

#[test]
fn c_status_codes_tell_the_truth() {
    run_c_test("tests/c/truth.c");
}

#[test]
fn the_byte_limit_is_set_from_c_and_refuses_with_busy() {
    run_c_test("tests/c/byte_limit.c");
}

#[test]
fn an_engine_freed_in_an_atexit_handler_is_freed() {
    run_c_test("tests/c/atexit.c");
}

#[test]
fn panics_never_reach_c() {
    run_c_test("tests/c/panic.c");
}

#[test]
fn many_c_threads_on_one_session_every_callback_once() {
    run_c_test("tests/c/threads.c");
}

#[test]
fn header_compiles_as_pedantic_c99_c11_and_as_cpp() {
    let p = prefix();
    let dir = work_dir().join("header");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("use_header.c");
    std::fs::write(&src, "#include <acrypto.h>\nint main(void) { return acrypto_version()[0] == 0; }\n").unwrap();
    let inc = format!("-I{}", p.join("include").display());
    for std in ["c99", "c11"] {
        run_ok(
            Command::new("cc")
                .args([&format!("-std={std}"), "-pedantic", "-Wall", "-Wextra", "-Werror", &inc, "-fsyntax-only"])
                .arg(&src),
        );
    }
    run_ok(Command::new("c++").args(["-Wall", "-Wextra", "-Werror", &inc, "-fsyntax-only", "-x", "c++"]).arg(&src));
}

#[test]
fn leak_checker_reports_a_forgotten_session() {
    let exe = compile("tests/c/leak.c", &[]);
    let out = sanitized(&exe).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("LeakSanitizer: detected memory leaks"), "{err}");
}

/// What the Rust path gives for one step.
fn rust_path(alg: Algorithm, op: Op, key: &[u8], iv: &[u8], data: &[u8], tag: &[u8]) -> (Vec<u8>, Vec<u8>) {
    static ENGINE: OnceLock<acrypto::Engine> = OnceLock::new();
    let e = ENGINE.get_or_init(|| acrypto::soft_engine(2).unwrap());
    let s = e.session(SessionBuilder::new().step(alg, op, key)).unwrap();
    let r = e.run(&s, Request::new(data.to_vec()).with_iv(iv).with_tag(tag)).unwrap();
    (r.data, r.tag)
}

#[test]
fn c_results_equal_the_rust_path_and_openssl() {
    let exe = compile("tests/c/crypt.c", &[]);
    let modes = ["run", "callback", "queue", "pending", "batch"];
    let mut rng = seeded("c_abi crosscheck");
    let mut checked = 0;
    // AEAD through C: c_aead_seal_open_and_tamper.
    // Asymmetric through C: c_asymmetric_operations_agree_with_openssl.
    for (i, alg) in Algorithm::all().enumerate().filter(|(_, a)| !matches!(a.kind(), OpKind::Aead | OpKind::Asym)) {
        for round in 0..3 {
            let mode = modes[(i + round) % modes.len()];
            let key: Vec<u8> = match alg.key_len() {
                Some(n) if matches!(alg, Algorithm::Aes { mode: CipherMode::Xts, .. }) => xts_key(&mut rng, n),
                Some(n) => bytes(&mut rng, n),
                None => {
                    let n = len_in(&mut rng, 1, 100);
                    bytes(&mut rng, n)
                }
            };
            let iv = bytes(&mut rng, alg.iv_len());
            let len = match alg {
                Algorithm::Aes { mode: CipherMode::Cbc | CipherMode::Ecb, .. } => 16 * len_in(&mut rng, 1, 20),
                Algorithm::Aes { .. } => len_in(&mut rng, 16, 300),
                _ => len_in(&mut rng, 0, 500),
            };
            let data = bytes(&mut rng, len);
            let ops: &[Op] = match alg.kind() {
                OpKind::Cipher => &[Op::Encrypt, Op::Decrypt],
                OpKind::Hash => &[Op::Digest],
                OpKind::Mac => &[Op::Digest],
                OpKind::Rng => &[Op::Generate],
                OpKind::Aead | OpKind::Asym => unreachable!(),
            };
            for &op in ops {
                let opn = match op {
                    Op::Encrypt => 0,
                    Op::Decrypt => 1,
                    Op::Digest => 2,
                    Op::Verify => 3,
                    Op::Generate => 4,
                    Op::Sign | Op::Derive => unreachable!(),
                };
                let out = run_ok(sanitized(&exe).args([
                    mode,
                    &alg.to_string(),
                    &opn.to_string(),
                    &hex::encode(&key),
                    &hex::encode(&iv),
                    &hex::encode(&data),
                ]));
                let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let (c_out, c_tag) = line.split_once(' ').unwrap_or_else(|| panic!("{alg} {mode}: {line}"));
                let unhex = |s: &str| if s == "-" { Vec::new() } else { hex::decode(s).unwrap() };
                let (c_out, c_tag) = (unhex(c_out), unhex(c_tag));
                let (r_out, r_tag) = rust_path(alg, op, &key, &iv, &data, &[]);
                match alg.kind() {
                    OpKind::Cipher => {
                        assert_eq!(c_out, r_out, "{alg} {op:?} {mode}: C vs Rust");
                        let o = common::openssl::cipher(alg, op, &key, &iv, &data);
                        assert_eq!(c_out, o, "{alg} {op:?} {mode}: C vs openssl");
                    }
                    OpKind::Hash | OpKind::Mac => {
                        assert_eq!(c_tag, r_tag, "{alg} {mode}: C vs Rust");
                        let o = common::openssl::reference(alg, op, &key, &iv, &data);
                        assert_eq!(c_tag, o, "{alg} {mode}: C vs openssl");
                        if alg.kind() == OpKind::Mac {
                            // And the C verify path accepts it, and refuses a flipped bit.
                            let mut bad = c_tag.clone();
                            bad[0] ^= 1;
                            for (t, want) in [(&c_tag, "- -"), (&bad, "error 11")] {
                                let out = run_ok(sanitized(&exe).args([
                                    mode,
                                    &alg.to_string(),
                                    "3",
                                    &hex::encode(&key),
                                    "",
                                    &hex::encode(&data),
                                    &hex::encode(t),
                                ]));
                                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{alg} verify {mode}");
                            }
                        }
                    }
                    OpKind::Rng => assert_eq!(c_out.len(), data.len()),
                    OpKind::Aead | OpKind::Asym => unreachable!(),
                }
                checked += 1;
            }
        }
    }
    println!("{checked} C results equal the Rust path and openssl");
}

#[test]
fn example_encrypt_file_round_trips_and_matches_openssl() {
    let exe = compile("examples-c/encrypt_file.c", &[]);
    let dir = work_dir().join("encrypt_file");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = seeded("c_abi encrypt_file");
    let aes = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    for n in [4096 * 40 + 1234, 0, 15, 16, 4096, 4097] {
        let plain = bytes(&mut rng, n);
        let (p, sealed, opened) = (dir.join("plain"), dir.join("sealed"), dir.join("opened"));
        std::fs::write(&p, &plain).unwrap();
        run_ok(sanitized(&exe).arg(&p).arg(&sealed));
        let out = run_ok(sanitized(&exe).arg("-d").arg(&sealed).arg(&opened));
        assert!(String::from_utf8_lossy(&out.stdout).contains("decrypted"));
        assert!(std::fs::read(&opened).unwrap() == plain, "{n} bytes: round trip");
        // Header | records, each IV | ciphertext | HMAC-SHA1(header | index | IV | ciphertext).
        let s = std::fs::read(&sealed).unwrap();
        let nrec = n / 4096 + 1;
        let last_ct = n % 4096 / 16 * 16 + 16;
        assert_eq!(s.len(), 16 + (nrec - 1) * (16 + 4096 + 20) + 16 + last_ct + 20, "{n} bytes: file size");
        assert_eq!(&s[..8], b"ACRYPTF2");
        assert_eq!(u64::from_be_bytes(s[8..16].try_into().unwrap()), nrec as u64);
        let ct_len = if nrec > 1 { 4096 } else { last_ct };
        let (iv, ct, tag) = (&s[16..32], &s[32..32 + ct_len], &s[32 + ct_len..52 + ct_len]);
        let mut padded = plain[..n.min(4096)].to_vec();
        if nrec == 1 {
            let p = 16 - n % 16;
            padded.extend(std::iter::repeat_n(p as u8, p));
        }
        assert_eq!(ct, common::openssl::cipher(aes, Op::Encrypt, b"acrypto demo key", iv, &padded), "{n}");
        let covered = [&s[..16], &0u64.to_be_bytes()[..], iv, ct].concat();
        assert_eq!(tag, common::openssl::hmac(acrypto::DigestKind::Sha1, b"acrypto demo mac key", &covered), "{n}");
    }
}

/// Runs `encrypt_file -d` on `sealed`; it must fail without writing, and
/// without a sanitizer report (no leak on the error path either).
fn refused(exe: &Path, dir: &Path, sealed: &[u8], what: &str) -> String {
    let (bad, out) = (dir.join("bad"), dir.join("bad.out"));
    std::fs::write(&bad, sealed).unwrap();
    std::fs::write(&out, b"left alone").unwrap();
    let o = sanitized(exe).arg("-d").arg(&bad).arg(&out).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{what}: {stderr}");
    assert!(!stdout.contains("decrypted"), "{what}: says decrypted: {stdout}");
    assert!(!stderr.contains("Sanitizer") && !stderr.contains("runtime error"), "{what}: {stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"left alone", "{what}: output written");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with("bad.out."))
        .collect();
    assert!(leftovers.is_empty(), "{what}: temporary files left: {leftovers:?}");
    stderr.into_owned()
}

#[test]
fn example_encrypt_file_refuses_tampered_reordered_and_cut_files() {
    let exe = compile("examples-c/encrypt_file.c", &[]);
    let dir = work_dir().join("encrypt_file_tamper");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Five records: four full, one short; the first says what to pay.
    let mut plain = b"PAY ALICE $0100.00\n".to_vec();
    plain.extend(bytes(&mut seeded("c_abi encrypt_file tamper"), 4 * 4096 + 100 - plain.len()));
    let (p, sealed) = (dir.join("plain"), dir.join("sealed"));
    std::fs::write(&p, &plain).unwrap();
    run_ok(sanitized(&exe).arg(&p).arg(&sealed));
    let s = std::fs::read(&sealed).unwrap();
    const REC: usize = 16 + 4096 + 20;
    let rec = |i: usize| 16 + i * REC..16 + (i + 1) * REC;
    let auth = |stderr: &str, what: &str| assert!(stderr.contains("authentication failed"), "{what}: {stderr}");

    // CBC's malleable first block: flipping IV bytes turns $0100 into $9900.
    let mut t = s.clone();
    t[16 + 11] ^= b'0' ^ b'9';
    t[16 + 12] ^= b'1' ^ b'9';
    auth(&refused(&exe, &dir, &t, "IV flipped"), "IV flipped");
    for (at, what) in [(16 + 100, "ciphertext"), (16 + REC - 1, "tag"), (16 + 3 * REC + 20, "IV of record 3")] {
        let mut t = s.clone();
        t[at] ^= 1;
        auth(&refused(&exe, &dir, &t, what), what);
    }
    // Records swapped, or one repeated over another.
    let mut t = s.clone();
    t[rec(1)].copy_from_slice(&s[rec(2)]);
    t[rec(2)].copy_from_slice(&s[rec(1)]);
    auth(&refused(&exe, &dir, &t, "records 1 and 2 swapped"), "swapped");
    let mut t = s.clone();
    t[rec(2)].copy_from_slice(&s[rec(1)]);
    auth(&refused(&exe, &dir, &t, "record 1 repeated"), "repeated");
    // The last record dropped and the count in the header fixed to match.
    let mut t = s[..16 + 4 * REC].to_vec();
    t[8..16].copy_from_slice(&4u64.to_be_bytes());
    auth(&refused(&exe, &dir, &t, "last record dropped"), "dropped");
    // The header changed.
    let mut t = s.clone();
    t[0] ^= 0x20;
    refused(&exe, &dir, &t, "magic changed");
    // Cut short, by a record or by a byte; nothing at all.
    refused(&exe, &dir, &s[..16 + 4 * REC], "last record dropped, count kept");
    refused(&exe, &dir, &s[..s.len() - 1], "one byte short");
    refused(&exe, &dir, &[], "empty");
    // The untouched file still opens.
    let out = dir.join("opened");
    run_ok(sanitized(&exe).arg("-d").arg(&sealed).arg(&out));
    assert!(std::fs::read(&out).unwrap() == plain);

    // A directory or a missing file as input, an output that cannot be
    // created: one line, exit 1, no leak.
    for (args, what) in [
        (vec![dir.clone(), dir.join("o")], "directory as input"),
        (vec![dir.join("missing"), dir.join("o")], "missing input"),
        (vec![p.clone(), dir.join("no/such/dir/o")], "output in a missing directory"),
    ] {
        let o = sanitized(&exe).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(!stdout_says_done(&o.stdout), "{what}");
    }
    let o = sanitized(&exe).arg(&dir).arg(dir.join("o")).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("Is a directory"));
}

fn stdout_says_done(stdout: &[u8]) -> bool {
    let s = String::from_utf8_lossy(stdout);
    s.contains("encrypted") || s.contains("decrypted")
}

#[test]
fn example_epoll_loop() {
    let exe = compile("examples-c/epoll_loop.c", &[]);
    let out = run_ok(&mut sanitized(&exe));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2000 requests, window 64"));
}

#[test]
fn example_c_accelerator_device() {
    let exe = compile("examples-c/accelerator.c", &["-lcrypto"]);
    let out = run_ok(&mut sanitized(&exe));
    let s = String::from_utf8_lossy(&out.stdout);
    println!("{s}");
    assert!(s.contains("0 bad") && s.trim_end().ends_with("ok"), "{s}");
}

#[test]
fn example_pid_balancer() {
    let exe = compile("examples-c/pid_balancer.c", &[]);
    let out = run_ok(&mut sanitized(&exe));
    let s = String::from_utf8_lossy(&out.stdout);
    println!("{s}");
    assert_eq!(s.matches(": ok").count(), 4, "{s}");
}

#[test]
fn installed_library_builds_with_pkg_config() {
    // A fresh prefix, and a DESTDIR staging install.
    let dir = work_dir().join("pkg-config");
    let _ = std::fs::remove_dir_all(&dir);
    let prefix = dir.join("prefix");
    make_install(&prefix, None);
    let stage = dir.join("stage");
    make_install(Path::new("/usr/local"), Some(&stage));
    for f in [
        "lib/libacrypto.so.0",
        "lib/libacrypto.so",
        "lib/libacrypto.a",
        "include/acrypto.h",
        "lib/pkgconfig/acrypto.pc",
    ] {
        assert!(stage.join("usr/local").join(f).exists(), "DESTDIR install lacks {f}");
    }
    let pc = std::fs::read_to_string(stage.join("usr/local/lib/pkgconfig/acrypto.pc")).unwrap();
    assert!(pc.contains("prefix=/usr/local"), "{pc}");
    let so = prefix.join("lib/libacrypto.so.0");
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(&so));
    assert!(String::from_utf8_lossy(&dynamic.stdout).contains("Library soname: [libacrypto.so.0]"));

    // cc $(pkg-config --cflags --libs acrypto), then run it.
    let exe = dir.join("epoll_loop");
    let src = root().join("examples-c/epoll_loop.c");
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cc -Wall -Wextra -Werror -o '{}' '{}' $(pkg-config --cflags --libs acrypto)",
                exe.display(),
                src.display()
            ))
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
    );
    let out = run_ok(Command::new(&exe).env("LD_LIBRARY_PATH", prefix.join("lib")).env("ACRYPTO_DEVICES", "soft:2"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 bad"));

    // And statically, from libacrypto.a and the libraries acrypto.pc names.
    let exe = dir.join("epoll_loop_static");
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cc -Wall -Wextra -Werror -o '{}' '{}' $(pkg-config --cflags acrypto) '{}' $(pkg-config --static --libs-only-l acrypto | sed 's/-lacrypto//')",
                exe.display(),
                src.display(),
                prefix.join("lib/libacrypto.a").display()
            ))
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
    );
    let out = run_ok(Command::new(&exe).env("ACRYPTO_DEVICES", "soft:2"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 bad"));
}

#[test]
fn c_streams_and_aead_associated_data_equal_libcrypto() {
    let exe = compile("tests/c/stream.c", &["-lcrypto"]);
    let out = run_ok(&mut sanitized(&exe));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(stdout.contains("stream: ") && stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("aead: 100 cases") && stdout.contains("streams: 120 streams"), "{stdout}");
}

/// Fresh keys from openssl (PKCS#8 and SubjectPublicKeyInfo DER) for
/// `tests/c/pkey.c`; its outputs are then checked with openssl.
#[test]
fn c_asymmetric_operations_agree_with_openssl() {
    let exe = compile("tests/c/pkey.c", &[]);
    let dir = work_dir().join(format!("pkey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let openssl = |args: &[&str]| run_ok(Command::new("openssl").args(args)).stdout;
    for (name, gen) in [
        ("rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..]),
        ("ec", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..]),
        ("xa", &["-algorithm", "X25519"][..]),
        ("xb", &["-algorithm", "X25519"][..]),
    ] {
        let pem = f(&format!("{name}.pem"));
        let mut a = vec!["genpkey"];
        a.extend_from_slice(gen);
        a.extend(["-out", &pem]);
        openssl(&a);
        openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", &pem, "-outform", "DER", "-out", &f(&format!("{name}.der"))]);
        openssl(&["pkey", "-in", &pem, "-pubout", "-outform", "DER", "-out", &f(&format!("{name}.pub.der"))]);
    }
    let mut rng = seeded("c_abi pkey");
    let n = len_in(&mut rng, 1, 4000);
    std::fs::write(f("msg"), bytes(&mut rng, n)).unwrap();
    openssl(&["dgst", "-sha256", "-binary", "-out", &f("digest"), &f("msg")]);
    let pkcs1 = ["-pkeyopt", "rsa_padding_mode:pkcs1", "-pkeyopt", "digest:sha256"];
    let oaep =
        ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"];
    let (rsa_pem, digest, theirs_sig) = (f("rsa.pem"), f("digest"), f("theirs.sig"));
    let (rsa_pub, pt, theirs_ct, rsa_der, ours_ct) =
        (f("rsa.pub.der"), f("pt"), f("theirs.ct"), f("rsa.der"), f("ours.ct"));
    let mut a = vec!["pkeyutl", "-sign", "-inkey", &rsa_pem, "-in", &digest, "-out", &theirs_sig];
    a.extend(pkcs1);
    openssl(&a);
    // At most 190 bytes of the message (OAEP-SHA256 on 2048 bits), as pkey.c encrypts.
    let msg = std::fs::read(f("msg")).unwrap();
    std::fs::write(f("pt"), &msg[..msg.len().min(190)]).unwrap();
    let mut a = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", &rsa_pub, "-keyform", "DER"];
    a.extend(oaep);
    a.extend(["-in", &pt, "-out", &theirs_ct]);
    openssl(&a);

    let out = run_ok(sanitized(&exe).arg(&dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    // PKCS#1 v1.5 is deterministic: C's signatures (message and prehashed) are openssl's.
    let theirs = std::fs::read(f("theirs.sig")).unwrap();
    assert_eq!(std::fs::read(f("ours.sig")).unwrap(), theirs, "C signature of the message");
    assert_eq!(std::fs::read(f("ours_prehashed.sig")).unwrap(), theirs, "C signature of the digest");
    // openssl verifies C's ECDSA signature and decrypts C's ciphertext.
    let verified = openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        &f("ec.pub.der"),
        "-keyform",
        "DER",
        "-pkeyopt",
        "digest:sha256",
        "-in",
        &f("digest"),
        "-sigfile",
        &f("ec.sig"),
    ]);
    assert!(String::from_utf8_lossy(&verified).contains("Verified Successfully"));
    let mut a = vec!["pkeyutl", "-decrypt", "-inkey", &rsa_der, "-keyform", "DER"];
    a.extend(oaep);
    a.extend(["-in", &ours_ct]);
    assert_eq!(openssl(&a), std::fs::read(f("pt")).unwrap(), "openssl decrypts C's OAEP ciphertext");
    // The X25519 secret is openssl's.
    let secret =
        openssl(&["pkeyutl", "-derive", "-inkey", &f("xa.pem"), "-peerkey", &f("xb.pub.der"), "-peerform", "DER"]);
    assert_eq!(std::fs::read(f("secret")).unwrap(), secret);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Keys that stay in a PKCS#11 token (SoftHSM2), by reference through the
/// C ABI (`tests/c/pkey_ref.c`); the token's signatures verify with openssl.
#[test]
fn c_key_references_sign_in_a_token() {
    if !common::softhsm::have() {
        return;
    }
    let exe = compile("tests/c/pkey_ref.c", &[]);
    let t = common::softhsm::Token::new("c-abi");
    let dir = &t.dir;
    let f = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let openssl = |args: &[&str]| run_ok(Command::new("openssl").args(args)).stdout;
    for (name, gen) in [
        ("k-rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..]),
        ("k-ec", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..]),
    ] {
        let pem = f(&format!("{name}.pem"));
        let mut a = vec!["genpkey"];
        a.extend_from_slice(gen);
        a.extend(["-out", &pem]);
        openssl(&a);
        openssl(&["pkey", "-in", &pem, "-pubout", "-out", &f(&format!("{name}.pub.pem"))]);
        let id: String = name.bytes().map(|b| format!("{b:02x}")).collect();
        let label = common::softhsm::LABEL;
        run_ok(Command::new("softhsm2-util").env("SOFTHSM2_CONF", &t.conf).args([
            "--import",
            &pem,
            "--token",
            label,
            "--label",
            name,
            "--id",
            &id,
            "--pin",
            common::softhsm::PIN,
        ]));
    }
    std::fs::write(f("digest"), [0x5a; 32]).unwrap();
    let spec = format!("{},soft:1", t.spec());
    let out = run_ok(sanitized(&exe).env("SOFTHSM2_CONF", &t.conf).args([spec.as_str(), "k", dir.to_str().unwrap()]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(stdout.contains("pkey_ref: ") && stdout.contains(" passed, 0 failed"), "{stdout}");
    for (name, sig) in [("k-rsa", "rsa.sig"), ("k-ec", "ec.sig")] {
        let v = openssl(&[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            &f(&format!("{name}.pub.pem")),
            "-pkeyopt",
            "digest:sha256",
            "-in",
            &f("digest"),
            "-sigfile",
            &f(sig),
        ]);
        assert!(String::from_utf8_lossy(&v).contains("Verified Successfully"), "{name}");
    }
}
