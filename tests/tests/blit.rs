//! The copy path (renderer/src/blit.rs) draws exactly what the textured quad draws:
//! screenshots byte-identical with and without it (`PLANAR_NO_BLIT=1`), for an opaque
//! format that is copied (XR24) and one that is not (AR24, blended over the background),
//! on two outputs (the second shows the window from a source offset), with partial
//! damage; and a y-inverted XR24 buffer is drawn, not copied.

use std::{path::Path, process::Command};

use planar_tests::fixture::{bin, gles_unavailable, path_with_bins, runtime_dir, skip};

/// Runs one client on two outputs and returns both screenshots' bytes and planar's log.
fn shots(dir: &Path, tag: &str, client: &[&str], blit: bool) -> (Vec<u8>, Vec<u8>, String) {
    let (a, b) = (
        dir.join(format!("{tag}-a.png")),
        dir.join(format!("{tag}-b.png")),
    );
    let outputs = [
        "--output",
        "320x240,name=A",
        "--output",
        "200x160,name=B,pos=320,0",
    ];
    let show = [
        "planar-client",
        "show",
        "--alloc",
        "memfd",
        "--size",
        "400x200",
    ];
    let mut cmd = Command::new(bin("planar"));
    cmd.args(["run", "--renderer", "gles"])
        .args(outputs)
        .arg("--screenshot")
        .arg(format!("A={}", a.display()))
        .arg("--screenshot")
        .arg(format!("B={}", b.display()))
        .arg("--")
        .args(show)
        .args(client)
        .args(["--frames", "4", "--damage", "rows:50"])
        .env("XDG_RUNTIME_DIR", dir)
        .env("PATH", path_with_bins())
        .env("PLANAR_LOG", "info,planar_renderer=debug")
        .env_remove("WAYLAND_DISPLAY");
    if !blit {
        cmd.env("PLANAR_NO_BLIT", "1");
    }
    let out = cmd.output().expect("run planar");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{client:?} blit={blit}:\n{log}");
    let read =
        |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}\n{log}", p.display()));
    (read(&a), read(&b), log)
}

fn same_with_and_without(name: &str, client: &[&str], copied: bool) {
    if let Some(why) = gles_unavailable() {
        return skip(name, &why);
    }
    let dir = runtime_dir();
    let (a_on, b_on, log_on) = shots(dir.path(), "on", client, true);
    let (a_off, b_off, log_off) = shots(dir.path(), "off", client, false);
    assert!(
        log_on.contains("XR24 output target"),
        "the copy path was not set up:\n{log_on}"
    );
    assert_eq!(log_on.contains("copy source made"), copied, "{log_on}");
    assert!(!log_off.contains("XR24 output target"), "{log_off}");
    assert!(!log_off.contains("copy source made"), "{log_off}");
    assert!(a_on == a_off, "{name}: output A differs with the copy path");
    assert!(b_on == b_off, "{name}: output B differs with the copy path");
}

#[test]
fn copy_matches_quad_xr24() {
    same_with_and_without("copy_matches_quad_xr24", &["--format", "XR24"], true);
}

#[test]
fn quad_over_xr24_target_matches_ar24() {
    let name = "quad_over_xr24_target_matches_ar24";
    same_with_and_without(name, &["--format", "AR24"], false);
}

#[test]
fn y_inverted_xr24_is_drawn_not_copied() {
    let client = ["--format", "XR24", "--y-invert"];
    same_with_and_without("y_inverted_xr24_is_drawn_not_copied", &client, false);
}
