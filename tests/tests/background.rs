//! The background clear (renderer/src/background.rs): a frame that redraws the whole
//! output is cleared with one `glClear`, any other as smithay's damage tracker clears it.
//! Screenshots are byte-identical with and without it (`PLANAR_QUAD_CLEAR=1` renders
//! through smithay's `render_output`, the quad), on outputs under every transform and at
//! a fractional scale, for an opaque buffer, a translucent one (blended over the
//! background) and frames with partial damage after the first.

use std::{path::Path, process::Command};

use planar_tests::fixture::{bin, gles_unavailable, path_with_bins, runtime_dir, skip};

/// Every transform, each on its own output; one output at a fractional scale.
const OUTPUTS: [&str; 9] = [
    "200x150,name=N",
    "200x150,name=R90,transform=90,pos=200,0",
    "200x150,name=R180,transform=180,pos=350,0",
    "200x150,name=R270,transform=270,pos=550,0",
    "200x150,name=F,transform=flipped,pos=0,200",
    "200x150,name=F90,transform=flipped-90,pos=200,200",
    "200x150,name=F180,transform=flipped-180,pos=350,200",
    "200x150,name=F270,transform=flipped-270,pos=550,200",
    "240x180,name=S,scale=1.5,pos=0,400",
];

/// One run's screenshots (one per output, in `OUTPUTS` order) and planar's log.
fn shots(dir: &Path, tag: &str, client: &[&str], quad: bool) -> (Vec<Vec<u8>>, String) {
    let names: Vec<&str> = OUTPUTS
        .iter()
        .map(|o| o.split("name=").nth(1).unwrap().split(',').next().unwrap())
        .collect();
    let mut cmd = Command::new(bin("planar"));
    cmd.args(["run", "--renderer", "gles"]);
    for output in OUTPUTS {
        cmd.args(["--output", output]);
    }
    for name in &names {
        let png = dir.join(format!("{tag}-{name}.png"));
        cmd.arg("--screenshot")
            .arg(format!("{name}={}", png.display()));
    }
    cmd.args(["--", "planar-client", "show", "--size", "300x250"])
        .args(client)
        .env("XDG_RUNTIME_DIR", dir)
        .env("PATH", path_with_bins())
        .env("PLANAR_LOG", "info,planar_renderer=debug")
        .env_remove("WAYLAND_DISPLAY");
    if quad {
        cmd.env("PLANAR_QUAD_CLEAR", "1");
    }
    let out = cmd.output().expect("run planar");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{client:?} quad={quad}:\n{log}");
    let pngs = names
        .iter()
        .map(|name| {
            let png = dir.join(format!("{tag}-{name}.png"));
            std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}\n{log}", png.display()))
        })
        .collect();
    (pngs, log)
}

fn same_with_and_without(name: &str, client: &[&str]) {
    if let Some(why) = gles_unavailable() {
        skip(name, &why);
        return;
    }
    let dir = runtime_dir();
    let (clear, log) = shots(dir.path(), "clear", client, false);
    let (quad, quad_log) = shots(dir.path(), "quad", client, true);
    assert!(
        log.contains("frame cleared whole"),
        "{name}: no frame was cleared with glClear:\n{log}"
    );
    assert!(
        !quad_log.contains("frame cleared whole"),
        "{name}: PLANAR_QUAD_CLEAR=1 still cleared with glClear:\n{quad_log}"
    );
    for ((output, a), b) in OUTPUTS.iter().zip(&clear).zip(&quad) {
        assert!(
            a == b,
            "{name}: output {output} differs from the quad's clear"
        );
    }
}

/// An opaque buffer: the first frame is cleared whole, the window drawn over it.
#[test]
fn opaque_window_same_as_quad_clear() {
    same_with_and_without("opaque_window_same_as_quad_clear", &["--format", "XR24"]);
}

/// A translucent buffer, blended over the background: what the clear left under the
/// window shows through it.
#[test]
fn translucent_window_same_as_quad_clear() {
    same_with_and_without(
        "translucent_window_same_as_quad_clear",
        &["--format", "AR24"],
    );
}

/// Frames after the first with partial damage, cleared as smithay clears them.
#[test]
fn partial_damage_same_as_quad_clear() {
    let client = ["--format", "AR24", "--frames", "4", "--damage", "rows:50"];
    same_with_and_without("partial_damage_same_as_quad_clear", &client);
}

/// A window covering the whole output with full damage every frame leaves nothing bare:
/// its frames are not cleared at all (a whole clear under it cost more than its copy).
#[test]
fn a_full_screen_opaque_window_is_never_cleared_under() {
    let name = "a_full_screen_opaque_window_is_never_cleared_under";
    if let Some(why) = gles_unavailable() {
        skip(name, &why);
        return;
    }
    let dir = runtime_dir();
    let out = Command::new(bin("planar"))
        .args(["run", "--renderer", "gles", "--size", "200x150"])
        .args(["--", "planar-client", "show", "--format", "XR24"])
        .args(["--size", "200x150", "--frames", "5", "--damage", "full"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("PATH", path_with_bins())
        .env("PLANAR_LOG", "info,planar_renderer=debug")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run planar");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("copy source made"),
        "the window was not shown by the copy path:\n{log}"
    );
    // The empty output before the window came is cleared once; none of the five frames
    // of the window is.
    let cleared = log.matches("frame cleared whole").count();
    assert!(
        cleared <= 1,
        "{cleared} frames cleared whole under a full-screen opaque window:\n{log}"
    );
}
