//! The import decision and the import cache, seen through `--report`: which path each
//! buffer took and why, zero re-imports over a long EGL swapchain, only damaged rows
//! re-read on the CPU path, y_invert on both paths, fault injection, and pixman.

use std::{path::Path, time::Duration};

use planar_image::{compare, Clip, Fuzz, RgbaImage};
use planar_tests::{
    fixture::{gles_unavailable, planar_run, runtime_dir, skip},
    pattern::quads_rgb,
};

const LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, serde::Deserialize)]
struct Record {
    path: String,
    reason: String,
    frames_shown: u64,
    reads: u64,
    rows_converted: u64,
    reimports: u64,
}

/// Runs planar-client under planar; returns the report and the screenshot.
fn run(dir: &Path, planar: &[&str], client: &[&str]) -> (Vec<Record>, RgbaImage, String) {
    let report = dir.join("report.json");
    let png = dir.join("shot.png");
    let mut args = vec![
        "--size",
        "128x96",
        "--report",
        report.to_str().unwrap(),
        "--screenshot",
        png.to_str().unwrap(),
    ];
    args.extend_from_slice(planar);
    let mut cmd = vec!["planar-client", "show", "--size", "64x48"];
    cmd.extend_from_slice(client);
    let out = planar_run(Some(dir), &args, &cmd, LIMIT);
    let records: Vec<Record> =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written")).unwrap();
    let img = RgbaImage::read_png(&png).expect("screenshot");
    (
        records,
        img,
        format!("exit {:?}\n{}\n{}", out.code(), out.stdout, out.stderr),
    )
}

fn assert_quads(img: &RgbaImage, fuzz: i16, what: &str) {
    let mut reference = img.clone();
    for y in 0..48 {
        for x in 0..64 {
            let [r, g, b] = quads_rgb(64, 48, x, y);
            let i = ((y * 128 + x) * 4) as usize;
            reference.data[i..i + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    let m = if fuzz > 1 { 3 } else { 0 };
    for (x, y) in [(0, 0), (32, 0), (0, 24), (32, 24)] {
        let c = compare(
            img,
            &reference,
            Fuzz::symmetric(fuzz),
            Some(Clip {
                x: x + m,
                y: y + m,
                w: 32 - 2 * m,
                h: 24 - 2 * m,
            }),
            None,
        );
        assert!(c.matches(), "{what}: {}", c.summary());
    }
}

fn gles() -> bool {
    match gles_unavailable() {
        Some(reason) => {
            skip("egl_import_policy", &reason);
            false
        }
        None => true,
    }
}

#[test]
fn egl_swapchain_of_three_over_1000_frames_never_reimports() {
    if !gles() {
        return;
    }
    let dir = runtime_dir();
    let (records, img, log) = run(
        dir.path(),
        &["--renderer", "gles", "--import", "egl", "--refresh", "1000"],
        &["--format", "XR24", "--buffers", "3", "--frames", "1000"],
    );
    assert_eq!(records.len(), 3, "{log}");
    assert!(
        records.iter().all(|r| r.path == "egl" && r.reimports == 0),
        "{records:?}"
    );
    let shown: u64 = records.iter().map(|r| r.frames_shown).sum();
    assert!(shown >= 1000, "{shown} frames shown: {records:?}");
    assert_quads(&img, 0, "swapchain");
}

#[test]
fn egl_cpu_path_rereads_only_damaged_rows() {
    if !gles() {
        return;
    }
    let dir = runtime_dir();
    // XRGB8888: 48 rows once, then 5 rows on each of 9 more commits.
    let (records, img, log) = run(
        dir.path(),
        &["--import", "cpu"],
        &["--format", "XR24", "--frames", "10", "--damage", "rows:5"],
    );
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(
        (
            records[0].path.as_str(),
            records[0].reads,
            records[0].rows_converted
        ),
        ("cpu", 10, 48 + 9 * 5),
        "{records:?}"
    );
    assert_quads(&img, 0, "XR24 partial damage");
    // NV12: damage is widened to whole chroma rows, 5 rows become 6.
    let (records, img, _) = run(
        dir.path(),
        &["--import", "cpu"],
        &["--format", "NV12", "--frames", "10", "--damage", "rows:5"],
    );
    assert_eq!(
        (records[0].reads, records[0].rows_converted),
        (10, 48 + 9 * 6),
        "{records:?}"
    );
    assert_quads(&img, 4, "NV12 partial damage");
    // Full damage re-reads everything.
    let (records, _, _) = run(
        dir.path(),
        &["--import", "cpu"],
        &["--format", "XR24", "--frames", "3"],
    );
    assert_eq!(records[0].rows_converted, 3 * 48, "{records:?}");
}

#[test]
fn egl_y_invert_on_both_paths() {
    if !gles() {
        return;
    }
    let dir = runtime_dir();
    for (import, format, fuzz) in [
        ("egl", "XR24", 0),
        ("cpu", "XR24", 0),
        ("cpu", "NV12", 4),
        ("auto", "YUYV", 4),
    ] {
        let (records, img, log) = run(
            dir.path(),
            &["--import", import],
            &["--format", format, "--y-invert"],
        );
        assert_eq!(records.len(), 1, "{log}");
        assert_quads(&img, fuzz, &format!("{format} y-inverted through {import}"));
    }
}

#[test]
fn egl_auto_decisions_and_fault_injection() {
    if !gles() {
        return;
    }
    let dir = runtime_dir();
    let (r, img, log) = run(dir.path(), &[], &["--format", "XR24"]);
    assert_eq!(
        (r[0].path.as_str(), r[0].reason.as_str()),
        ("egl", "EGL import (zero-copy)"),
        "{log}"
    );
    assert_quads(&img, 0, "XR24 auto");
    // llvmpipe refuses multi-planar YUV from memory: auto falls back to the CPU path.
    let (r, img, _) = run(dir.path(), &[], &["--format", "NV12"]);
    assert_eq!(r[0].path, "cpu", "{r:?}");
    assert!(r[0].reason.contains("EGL"), "{r:?}");
    assert_quads(&img, 4, "NV12 auto");
    // A driver failure, injected: the client is not failed, the CPU path takes it.
    let (r, img, _) = run(
        dir.path(),
        &["--fail-import", "XR24:linear"],
        &["--format", "XR24"],
    );
    assert_eq!(r[0].path, "cpu", "{r:?}");
    assert!(r[0].reason.contains("--fail-import"), "{r:?}");
    assert_quads(&img, 0, "XR24 after a failed EGL import");
    // Forced EGL, and the EGL import fails: rejected, with the reason, and `failed`.
    let (r, _, log) = run(
        dir.path(),
        &["--import", "egl", "--fail-import", "XR24"],
        &["--format", "XR24"],
    );
    assert_eq!(r[0].path, "rejected", "{r:?}");
    assert!(
        r[0].reason.contains("--fail-import") && r[0].reason.contains("--import egl"),
        "{r:?}"
    );
    assert!(
        log.contains("failed (the compositor could not import it)"),
        "{log}"
    );
    // Forced EGL with a format EGL refuses: it is not even advertised (INVALID_FORMAT).
    let (r, _, log) = run(dir.path(), &["--import", "egl"], &["--format", "NV12"]);
    assert!(r.is_empty(), "{r:?}");
    assert!(log.contains("protocol error 4"), "{log}");
}

#[test]
fn pixman_takes_dmabufs_through_the_cpu_path() {
    let dir = runtime_dir();
    for (format, fuzz) in [
        ("XR24", 0),
        ("AB24", 0),
        ("NV12", 4),
        ("P010", 4),
        ("YUYV", 4),
        ("RG24", 0),
    ] {
        let (r, img, log) = run(
            dir.path(),
            &["--renderer", "pixman"],
            &[
                "--format", format, "--pad", "16", "--offset", "64", "--one-fd",
            ],
        );
        assert_eq!(r.len(), 1, "{log}");
        assert_eq!(r[0].path, "cpu", "{r:?}");
        assert_quads(&img, fuzz, &format!("{format} on pixman"));
    }
}

#[test]
fn yuv_encoding_from_color_representation_or_the_command_line() {
    let dir = runtime_dir();
    // A colour far from the primaries: saturated ones clip and hide a wrong matrix.
    let want = [0x40i16, 0xa0, 0x40];
    let off = |img: &RgbaImage| -> i16 {
        let p = img.pixel(20, 20);
        (0..3)
            .map(|c| (i16::from(p[c]) - want[c]).abs())
            .max()
            .unwrap()
    };
    let bt709_full = [
        "--format",
        "NV12",
        "--matrix",
        "bt709",
        "--range",
        "full",
        "--pattern",
        "solid:40a040",
    ];
    // Declared with wp-color-representation-v1: converted accordingly.
    let mut client = bt709_full.to_vec();
    client.push("--color-representation");
    let (_, img, log) = run(dir.path(), &["--import", "cpu"], &client);
    assert!(
        off(&img) <= 3,
        "declared BT.709 full: {:?}\n{log}",
        img.pixel(20, 20)
    );
    // Not declared: planar's default (BT.601 limited) is the wrong guess, visibly.
    let (_, img, _) = run(dir.path(), &["--import", "cpu"], &bt709_full);
    assert!(
        off(&img) > 8,
        "undeclared BT.709 full read as BT.601 limited: {:?}",
        img.pixel(20, 20)
    );
    // Told on the command line instead.
    let (_, img, _) = run(
        dir.path(),
        &[
            "--import",
            "cpu",
            "--yuv-matrix",
            "bt709",
            "--yuv-range",
            "full",
        ],
        &bt709_full,
    );
    assert!(
        off(&img) <= 3,
        "--yuv-matrix bt709 --yuv-range full: {:?}",
        img.pixel(20, 20)
    );
}
