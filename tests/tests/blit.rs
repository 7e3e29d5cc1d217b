//! The copy path (renderer/src/blit/) draws exactly what the textured quad draws:
//! screenshots byte-identical with and without it (`PLANAR_NO_BLIT=1`), for an opaque
//! format that is copied (XR24) and one that is not (AR24, blended over the background),
//! on two outputs (the second shows the window from a source offset), with partial
//! damage; a y-inverted XR24 buffer is drawn, not copied; CPU-path YUV (NV12, P010,
//! YUYV) is converted into a copy frame and copied (the import report counts the copied
//! frames); and an output turned by 90° is drawn, not copied, beside one that copies.

use std::{path::Path, process::Command};

use planar_tests::fixture::{bin, gles_unavailable, path_with_bins, runtime_dir, skip};

/// The two outputs: B shows the window from a source offset.
const OUTPUTS: [&str; 2] = ["320x240,name=A", "200x160,name=B,pos=320,0"];

/// What one run gave: both screenshots' bytes, planar's log and the import report.
struct Shots {
    a: Vec<u8>,
    b: Vec<u8>,
    log: String,
    records: Vec<serde_json::Value>,
}

/// One run: the client's arguments, the two outputs, planar's own extra arguments.
#[derive(Clone, Copy)]
struct Run<'a> {
    client: &'a [&'a str],
    outputs: [&'a str; 2],
    planar: &'a [&'a str],
}

/// Runs one client on two outputs and returns what it gave.
fn shots(dir: &Path, tag: &str, run: Run<'_>, blit: bool) -> Shots {
    let Run {
        client,
        outputs,
        planar,
    } = run;
    let (a, b) = (
        dir.join(format!("{tag}-a.png")),
        dir.join(format!("{tag}-b.png")),
    );
    let report = dir.join(format!("{tag}.json"));
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
        .args(planar)
        .args(["--output", outputs[0], "--output", outputs[1]])
        .arg("--screenshot")
        .arg(format!("A={}", a.display()))
        .arg("--screenshot")
        .arg(format!("B={}", b.display()))
        .arg("--report")
        .arg(&report)
        .arg("--")
        .args(show)
        .args(client)
        .args(["--frames", "4", "--damage", "rows:50"])
        .env("XDG_RUNTIME_DIR", dir)
        .env("PATH", path_with_bins())
        .env("PLANAR_LOG", "info,planar_renderer=debug")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("PLANAR_YUV_SHADER");
    if !blit {
        cmd.env("PLANAR_NO_BLIT", "1");
    }
    let out = cmd.output().expect("run planar");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{client:?} blit={blit}:\n{log}");
    let read =
        |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}\n{log}", p.display()));
    let records = serde_json::from_slice(&read(&report)).expect("the report is JSON");
    Shots {
        a: read(&a),
        b: read(&b),
        log,
        records,
    }
}

/// Frames copied, over every record of the client's buffers on `path` ("egl", "cpu").
fn frames_copied(records: &[serde_json::Value], path: &str) -> u64 {
    let mine = records.iter().filter(|r| r["path"] == path);
    mine.map(|r| r["frames_copied"].as_u64().unwrap_or(0)).sum()
}

/// Screenshots with and without the copy path; `copied`: whether a copy source is made.
/// Returns the run with the copy path.
fn compare(name: &str, run: Run<'_>, copied: bool) -> Option<Shots> {
    if let Some(why) = gles_unavailable() {
        skip(name, &why);
        return None;
    }
    let dir = runtime_dir();
    let on = shots(dir.path(), "on", run, true);
    let off = shots(dir.path(), "off", run, false);
    let log_on = &on.log;
    assert!(
        log_on.contains("XR24 output target"),
        "the copy path was not set up:\n{log_on}"
    );
    // A copy (an XR24 buffer, a CPU-path copy frame), or a CPU-path buffer converted
    // straight into the target (renderer/src/cpu/direct.rs).
    let copy_made = log_on.contains("copy source made")
        || log_on.contains("CPU-path buffer converted straight into the target");
    assert_eq!(copy_made, copied, "{log_on}");
    assert!(!off.log.contains("XR24 output target"), "{}", off.log);
    assert!(!off.log.contains("copy source made"), "{}", off.log);
    assert!(!off.log.contains("converted straight"), "{}", off.log);
    for path in ["egl", "cpu"] {
        assert_eq!(frames_copied(&off.records, path), 0, "{:?}", off.records);
    }
    assert!(on.a == off.a, "{name}: output A differs with the copy path");
    assert!(on.b == off.b, "{name}: output B differs with the copy path");
    Some(on)
}

fn same_with_and_without(name: &str, client: &[&str], copied: bool) {
    let run = Run {
        client,
        outputs: OUTPUTS,
        planar: &[],
    };
    if let Some(on) = compare(name, run, copied) {
        let copies = frames_copied(&on.records, "egl") + frames_copied(&on.records, "cpu");
        assert_eq!(copies > 0, copied, "{:?}", on.records);
    }
}

/// CPU-path YUV: on the CPU path, converted into a copy frame and copied (its record
/// counts the copied frames, on both outputs), with the same screenshots as without.
/// `planar`: planar's extra arguments (llvmpipe imports YUYV zero-copy unless told not to).
fn yuv_copied(name: &str, fourcc: &str, planar: &[&str]) {
    let run = Run {
        client: &["--format", fourcc],
        outputs: OUTPUTS,
        planar,
    };
    let Some(on) = compare(name, run, true) else {
        return;
    };
    let cpu: Vec<_> = on.records.iter().filter(|r| r["path"] == "cpu").collect();
    assert!(
        !cpu.is_empty(),
        "{fourcc} is not on the CPU path: {:?}",
        on.records
    );
    let shown: u64 = cpu
        .iter()
        .map(|r| r["frames_shown"].as_u64().unwrap())
        .sum();
    assert!(shown > 0, "{:?}", on.records);
    assert_eq!(frames_copied(&on.records, "cpu"), shown, "{:?}", on.records);
}

#[test]
fn cpu_path_nv12_is_copied() {
    yuv_copied("cpu_path_nv12_is_copied", "NV12", &[]);
}

#[test]
fn cpu_path_p010_is_copied() {
    yuv_copied("cpu_path_p010_is_copied", "P010", &[]);
}

#[test]
fn cpu_path_yuyv_is_copied() {
    yuv_copied("cpu_path_yuyv_is_copied", "YUYV", &["--import", "cpu"]);
}

/// An output turned by 90°: nothing is copied onto it (a blit writes raw framebuffer
/// coordinates), while the untransformed one beside it copies; both screenshots are as
/// without the copy path, for an XR24 buffer and a CPU-path NV12 one.
#[test]
fn a_turned_output_is_drawn_not_copied() {
    let name = "a_turned_output_is_drawn_not_copied";
    let outputs = ["320x240,name=A", "160x200,name=B,transform=90,pos=320,0"];
    for fourcc in ["XR24", "NV12"] {
        let run = Run {
            client: &["--format", fourcc],
            outputs,
            planar: &[],
        };
        if compare(name, run, true).is_none() {
            return;
        }
    }
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

/// A surface drawn scaled (outputs at scale 2) is never copied, so no copy source is
/// made for it (none imported for nothing), and the screenshots are as without.
#[test]
fn scaled_surfaces_get_no_copy_source() {
    let run = Run {
        client: &["--format", "XR24"],
        outputs: ["320x240,name=A,scale=2", "200x160,name=B,scale=2,pos=160,0"],
        planar: &[],
    };
    if let Some(on) = compare("scaled_surfaces_get_no_copy_source", run, false) {
        assert_eq!(frames_copied(&on.records, "egl"), 0, "{:?}", on.records);
    }
}
