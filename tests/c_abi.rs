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
    for (i, alg) in Algorithm::all().enumerate() {
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
            };
            for &op in ops {
                let opn = match op {
                    Op::Encrypt => 0,
                    Op::Decrypt => 1,
                    Op::Digest => 2,
                    Op::Verify => 3,
                    Op::Generate => 4,
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
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = seeded("c_abi encrypt_file");
    let plain = bytes(&mut rng, 4096 * 40 + 1234);
    let (p, sealed, opened) = (dir.join("plain"), dir.join("sealed"), dir.join("opened"));
    std::fs::write(&p, &plain).unwrap();
    run_ok(sanitized(&exe).arg(&p).arg(&sealed));
    run_ok(sanitized(&exe).arg("-d").arg(&sealed).arg(&opened));
    assert_eq!(std::fs::read(&opened).unwrap(), plain);
    // The first record, against openssl: IV | aes-128-cbc(chunk) | hmac-sha1.
    let s = std::fs::read(&sealed).unwrap();
    let (iv, rest) = s.split_at(16);
    let (ct, mac) = (&rest[..4096], &rest[4096..4096 + 20]);
    let aes = Algorithm::Aes { key_bits: 128, mode: CipherMode::Cbc };
    assert_eq!(ct, common::openssl::cipher(aes, Op::Encrypt, b"acrypto demo key", iv, &plain[..4096]));
    assert_eq!(mac, common::openssl::hmac(acrypto::DigestKind::Sha1, b"acrypto demo mac key", ct));
    // A flipped bit fails verification.
    let mut bad = s.clone();
    bad[100] ^= 1;
    std::fs::write(dir.join("bad"), &bad).unwrap();
    let out = sanitized(&exe).arg("-d").arg(dir.join("bad")).arg(dir.join("bad.out")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("authentication failed"));
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
