//! Capture: grim (through wlr-screencopy) sees what `--screenshot` sees, and capture is
//! refused to clients planar did not start unless `--allow-capture all`.

use std::time::Duration;

use planar_image::RgbaImage;
use planar_tests::{
    capture::{ext_image_copy, wlr_screencopy, Captured},
    fixture::{bin, find_program, planar_run, runtime_dir, skip, Server},
    pattern::quads_rgb,
    shm_client::{self, ShmClientConfig},
};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn grim_captures_what_screenshot_writes() {
    if find_program("grim").is_none() {
        return skip(
            "grim_captures_what_screenshot_writes",
            "grim is not installed (Debian package grim)",
        );
    }
    let dir = runtime_dir();
    let grim = dir.path().join("grim.png");
    let shot = dir.path().join("shot.png");
    let demo = bin("planar-demo");
    let script = format!(
        "{} --shm --size 120x90 --frames 0 & pid=$!; sleep 1; grim {}; code=$?; kill $pid; exit $code",
        demo.display(),
        grim.display()
    );
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            "pixman",
            "--size",
            "320x240",
            "--screenshot",
            shot.to_str().unwrap(),
        ],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let g = RgbaImage::read_png(&grim).expect("grim wrote a PNG");
    assert_eq!((g.width, g.height), (320, 240));
    for (x, y) in [(10, 10), (100, 10), (10, 80), (100, 80)] {
        let [r, gg, b] = quads_rgb(120, 90, x, y);
        assert_eq!(g.pixel(x, y), [r, gg, b, 255], "grim pixel ({x},{y})");
    }
    assert_eq!(g.pixel(200, 200), [32, 32, 48, 255]);
    // The same pixels as planar's own screenshot.
    let s = RgbaImage::read_png(&shot).unwrap();
    assert_eq!(g, s);
}

#[test]
fn capture_is_refused_to_strangers_unless_allowed() {
    // This test process did not come from planar run: it is a stranger.
    let server = Server::start(&["--renderer", "pixman", "--size", "200x100"]).unwrap();
    let conn = server.connect().unwrap();
    assert!(matches!(wlr_screencopy(&conn).unwrap(), Captured::Refused));
    assert!(matches!(ext_image_copy(&conn).unwrap(), Captured::Refused));
    assert!(
        server.log().contains("was not started by planar run"),
        "{}",
        server.log()
    );

    let server = Server::start(&[
        "--renderer",
        "pixman",
        "--size",
        "200x100",
        "--allow-capture",
        "all",
    ])
    .unwrap();
    let shower = server.connect().unwrap();
    let t = std::thread::spawn(move || {
        shm_client::run_on(
            shower,
            &ShmClientConfig {
                width: 50,
                height: 40,
                frames: Some(30),
                title: "x".into(),
            },
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let conn = server.connect().unwrap();
    match wlr_screencopy(&conn).unwrap() {
        Captured::Image(img) => {
            assert_eq!((img.width, img.height), (200, 100));
            assert_eq!(img.pixel(5, 5), [255, 0, 0, 255]);
            assert_eq!(img.pixel(150, 50), [32, 32, 48, 255]);
        }
        Captured::Refused => panic!("refused with --allow-capture all:\n{}", server.log()),
    }
    match ext_image_copy(&conn).unwrap() {
        Captured::Image(img) => assert_eq!(img.pixel(5, 5), [255, 0, 0, 255]),
        Captured::Refused => panic!("ext refused with --allow-capture all:\n{}", server.log()),
    }
    t.join().unwrap().unwrap();
}
