//! planar-test-v1: its capture and wlr-screencopy return exactly what `--screenshot`
//! writes; a buffer's import record can be queried; frames happen on demand; strangers
//! may not capture.

use std::time::Duration;

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{bin, gles_unavailable, planar_run, runtime_dir, skip, Server},
    test_client::PlanarTest,
};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn planar_test_ext_and_wlr_captures_equal_the_screenshot() {
    let dir = runtime_dir();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let script = format!(
        "{demo} --size 90x70 --frames 0 & pid=$!; sleep 1; {client} capture --out {c} && {client} capture --via wlr --out {w} && {client} capture --via ext --out {e}; code=$?; kill $pid; exit $code",
        demo = bin("planar-demo").display(),
        client = bin("planar-client").display(),
        c = p("planar-test.png"),
        w = p("wlr.png"),
        e = p("ext.png"),
    );
    let out = planar_run(
        Some(dir.path()),
        &["--size", "320x200", "--screenshot", &p("shot.png")],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
    let shot = RgbaImage::read_png(dir.path().join("shot.png").as_path()).unwrap();
    let via_test = RgbaImage::read_png(dir.path().join("planar-test.png").as_path()).unwrap();
    let via_wlr = RgbaImage::read_png(dir.path().join("wlr.png").as_path()).unwrap();
    assert_eq!(via_test, shot);
    assert_eq!(via_wlr, shot);
    let via_ext = RgbaImage::read_png(dir.path().join("ext.png").as_path()).unwrap();
    assert_eq!(via_ext, shot);
    // And it is the demo, not an empty output.
    assert_eq!(shot.pixel(5, 5), [255, 0, 0, 255]);
}

#[test]
fn import_records_can_be_queried() {
    let dir = runtime_dir();
    let out = planar_run(
        Some(dir.path()),
        &[],
        &[
            "planar-client",
            "show",
            "--format",
            "NV12",
            "--size",
            "64x48",
            "--query",
        ],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("import path cpu"), "{}", out.stdout);
    assert!(out.stdout.contains("\"fourcc\":\"NV12\""), "{}", out.stdout);
    assert!(
        out.stdout.contains("\"rows_converted\":48"),
        "{}",
        out.stdout
    );
    if let Some(reason) = gles_unavailable() {
        return skip("import_records_can_be_queried[egl]", &reason);
    }
    let out = planar_run(
        Some(dir.path()),
        &["--renderer", "gles"],
        &[
            "planar-client",
            "show",
            "--format",
            "XR24",
            "--size",
            "64x48",
            "--query",
        ],
        LIMIT,
    );
    assert!(
        out.stdout
            .contains("import path egl: EGL import (zero-copy)"),
        "{}",
        out.stdout
    );
}

#[test]
fn next_frame_on_demand_and_strangers_refused() {
    let server =
        Server::start(&["--renderer", "pixman", "--refresh", "0", "--size", "64x64"]).unwrap();
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    assert_eq!(test.output_size(), Some((64, 64)));
    let a = test.next_frame().unwrap();
    let b = test.next_frame().unwrap();
    assert_eq!(b, a + 1);
    // This test process was not started by planar: no capture for it.
    let refused = test.capture().unwrap().unwrap_err();
    assert!(refused.contains("not started by planar run"), "{refused}");

    let server = Server::start(&[
        "--renderer",
        "pixman",
        "--size",
        "64x64",
        "--allow-capture",
        "all",
    ])
    .unwrap();
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    let (img, _seq) = test
        .capture()
        .unwrap()
        .expect("allowed with --allow-capture all");
    assert_eq!(img.pixel(10, 10), [32, 32, 48, 255]);
}
