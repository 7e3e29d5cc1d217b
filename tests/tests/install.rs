//! `cargo install --path compositor` and `cargo install --path tests` work, and the
//! installed `planar run` passes a screenshot test with the installed `planar-client`.
//!
//! A long build (both packages from nothing), so the test is `#[ignore]`d for everyday
//! `cargo test` and run by CI (`.ci/run`) with `--ignored`. To keep it from doubling CI
//! time it builds `--debug` into one dedicated target directory, `target/install-test`:
//! clean on a fresh machine (and whenever someone removes it; CI does after the test),
//! reused by cargo's fingerprints after that, and never shared with the workspace's own
//! `target/debug`, so what is tested is what a user's `cargo install` does.
//!
//! Disk: the shared disk once filled up copying an installed binary to /tmp. The install
//! root is a temporary directory inside `target/install-test` (removed when the test ends,
//! passed or not), not in /tmp, which may be a small tmpfs; and rustc's incremental cache
//! is off for these builds (0.37 GB that an install never reuses).

use std::{path::Path, process::Command};

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{runtime_dir, skip},
    pattern::quads_rgb,
};

/// The install builds' target directory, relative to the workspace.
const TARGET: &str = "target/install-test";

fn cargo_install(workspace: &Path, package_dir: &str, root: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args(["install", "--locked", "--debug", "--path", package_dir])
        .arg("--root")
        .arg(root)
        .env("CARGO_TARGET_DIR", workspace.join(TARGET))
        .env("CARGO_INCREMENTAL", "0")
        .output()
        .expect("run cargo install");
    assert!(
        out.status.success(),
        "cargo install --path {package_dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "long (cargo install of two packages); .ci/run runs it with --ignored"]
fn install_planar_and_planar_client_then_pass_a_screenshot_test() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    if std::env::var_os("CARGO").is_none() && planar_tests::fixture::find_program("cargo").is_none()
    {
        return skip(
            "install_planar_and_planar_client_then_pass_a_screenshot_test",
            "cargo is not on PATH",
        );
    }
    let build_dir = workspace.join(TARGET);
    std::fs::create_dir_all(&build_dir).unwrap();
    let root = tempfile::Builder::new()
        .prefix("root-")
        .tempdir_in(&build_dir)
        .unwrap();
    cargo_install(workspace, "compositor", root.path());
    cargo_install(workspace, "tests", root.path());
    let bin = root.path().join("bin");
    for name in ["planar", "planar-client"] {
        assert!(bin.join(name).is_file(), "{name} was not installed");
    }

    // The reference: planar's background with the client's 64x64 quads at the top left.
    let (w, h) = (160, 120);
    let mut reference = RgbaImage {
        width: w,
        height: h,
        data: [32, 32, 48, 255].repeat((w * h) as usize),
    };
    for y in 0..64 {
        for x in 0..64 {
            let [r, g, b] = quads_rgb(64, 64, x, y);
            let i = ((y * w + x) * 4) as usize;
            reference.data[i..i + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    let dir = runtime_dir();
    let ref_png = dir.path().join("quads.png");
    reference.write_png(&ref_png).unwrap();
    let client = bin.join("planar-client");
    let out = Command::new(bin.join("planar"))
        .args([
            "run",
            "--renderer",
            "pixman",
            "--size",
            "160x120",
            "--expect",
        ])
        .arg(&ref_png)
        .arg("--")
        .arg(&client)
        .args([
            "show", "--alloc", "memfd", "--size", "64x64", "--frames", "2",
        ])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run the installed planar");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("matches"), "{stderr}");
}
