//! `planar-client conformance` passes fully against planar (both renderers, v6, v5 and v3),
//! and runs against Weston 14 headless with the GL renderer, whose table is recorded as a
//! snapshot: Weston's failures are facts about Weston, not planar's.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use planar_tests::fixture::{bin, find_program, gles_unavailable, planar_run, runtime_dir, skip};

const LIMIT: Duration = Duration::from_secs(120);

fn against_planar(args: &[&str], version: &str) {
    let out = planar_run(
        None,
        args,
        &["planar-client", "conformance", "--dmabuf-version", version],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
    assert!(out.stdout.contains(" 0 failed"), "{}", out.stdout);
}

#[test]
fn conformance_passes_fully_against_planar() {
    against_planar(&["--renderer", "pixman"], "6");
    against_planar(&["--renderer", "pixman"], "5");
    against_planar(&["--renderer", "pixman"], "3");
    if let Some(reason) = gles_unavailable() {
        return skip("conformance_passes_fully_against_planar[gles]", &reason);
    }
    against_planar(&["--renderer", "gles"], "6");
    against_planar(&["--renderer", "gles"], "5");
}

#[test]
fn conformance_against_weston() {
    if find_program("weston").is_none() {
        return skip(
            "conformance_against_weston",
            "weston is not installed (bookworm-backports)",
        );
    }
    let dir = runtime_dir();
    let mut weston = Command::new("weston")
        .args([
            "--backend=headless",
            "--renderer=gl",
            "--socket=weston-conformance",
            "--shell=kiosk-shell.so",
            "--idle-time=0",
        ])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start weston");
    let socket = dir.path().join("weston-conformance");
    let start = Instant::now();
    while !socket.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new(bin("planar-client"))
        .arg("conformance")
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("WAYLAND_DISPLAY", "weston-conformance")
        .output()
        .expect("run planar-client");
    let _ = weston.kill();
    let _ = weston.wait();
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        table.contains("zwp_linux_dmabuf_v1 version"),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("weston_14_gl_headless", table);
}

#[test]
fn client_verifies_picks_tranches_and_names_its_allocator() {
    let out = planar_run(
        None,
        &["--renderer", "pixman"],
        &[
            "planar-client",
            "show",
            "--format",
            "NV12",
            "--size",
            "64x48",
            "--modifier",
            "auto",
            "--verify",
        ],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("planar-client: allocator "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("chose tranche"), "{}", out.stdout);
    assert!(
        out.stdout.contains("verify: worst difference"),
        "{}",
        out.stdout
    );
    // A wrong declaration is caught by --verify: the pattern is encoded BT.709 full, the
    // compositor is not told, and reads it as BT.601 limited.
    let out = planar_run(
        None,
        &["--renderer", "pixman"],
        &[
            "planar-client",
            "show",
            "--format",
            "NV12",
            "--size",
            "64x48",
            "--matrix",
            "bt709",
            "--range",
            "full",
            "--pattern",
            "solid:40a040",
            "--verify",
        ],
        LIMIT,
    );
    assert_eq!(out.code(), Some(5), "{}", out.stdout);
    assert!(out.stdout.contains("does not match"), "{}", out.stdout);
    // udmabuf and dma-heaps exist only in the guest tier: asking for one here says why.
    if !std::path::Path::new("/dev/udmabuf").exists() {
        let out = Command::new(bin("planar-client"))
            .args(["show", "--alloc", "udmabuf"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/udmabuf does not exist"));
    }
}

#[test]
fn every_pattern_encodes_correctly_in_every_kind_of_format() {
    use planar_tests::show::{parse_format, show, Pattern, ShowConfig, ShowResult};
    let server = planar_tests::fixture::Server::start(&[
        "--renderer",
        "pixman",
        "--allow-capture",
        "all",
        "--size",
        "96x64",
    ])
    .unwrap();
    let mut failures = Vec::new();
    for pattern in ["quads", "bars", "gradient", "checker", "solid:3070c0"] {
        for format in [
            "XR24", "AB24", "RG16", "AR30", "RG24", "NV12", "NV24", "P010", "YU12", "YUYV", "UYVY",
        ] {
            let cfg = ShowConfig {
                pattern: Pattern::parse(pattern).unwrap(),
                verify: Some(4),
                ..ShowConfig::new(parse_format(format).unwrap(), 64, 48)
            };
            match show(server.connect().unwrap(), &cfg) {
                Ok(ShowResult::Shown) => {}
                other => failures.push(format!("{pattern} {format}: {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
