//! `planar run` end to end: screenshots of a real wl_shm client with both renderers, exit
//! status passthrough, --timeout, the private runtime directory, and a compositor that
//! keeps serving after a client vanishes.

use std::time::Duration;

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{bin, gles_unavailable, planar_run, runtime_dir, skip, Server},
    pattern::quads_rgb,
    shm_client::{self, ShmClientConfig},
};

const LIMIT: Duration = Duration::from_secs(60);
/// The background planar clears to, as 8-bit RGB (0.125, 0.125, 0.1875).
const BACKGROUND: [u8; 3] = [32, 32, 48];

fn screenshot_of_demo(renderer: &str) -> RgbaImage {
    let dir = runtime_dir();
    let png = dir.path().join("shot.png");
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            renderer,
            "--size",
            "640x480",
            "--screenshot",
            png.to_str().unwrap(),
        ],
        &["planar-demo", "--shm", "--size", "200x120"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "planar failed: {}", out.stderr);
    RgbaImage::read_png(&png).expect("screenshot PNG")
}

fn assert_quads_at_top_left(img: &RgbaImage) {
    assert_eq!((img.width, img.height), (640, 480));
    let (w, h) = (200, 120);
    // Every pixel of the window, exactly.
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = quads_rgb(w, h, x, y);
            assert_eq!(img.pixel(x, y), [r, g, b, 255], "pixel ({x},{y})");
        }
    }
    // Just outside the window, and far away: the background.
    for (x, y) in [(w, 0), (0, h), (w, h), (639, 479), (320, 240)] {
        let [r, g, b] = BACKGROUND;
        assert_eq!(img.pixel(x, y), [r, g, b, 255], "pixel ({x},{y})");
    }
}

#[test]
fn egl_screenshot_shows_shm_pattern() {
    if let Some(reason) = gles_unavailable() {
        return skip("egl_screenshot_shows_shm_pattern", &reason);
    }
    assert_quads_at_top_left(&screenshot_of_demo("gles"));
}

#[test]
fn pixman_screenshot_shows_shm_pattern() {
    assert_quads_at_top_left(&screenshot_of_demo("pixman"));
}

#[test]
fn exit_code_is_passed_through() {
    let out = planar_run(
        None,
        &["--renderer", "pixman"],
        &["sh", "-c", "exit 7"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(7), "{}", out.stderr);
}

#[test]
fn death_by_signal_is_128_plus_n() {
    let out = planar_run(
        None,
        &["--renderer", "pixman"],
        &["sh", "-c", "kill -TERM $$"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
}

#[test]
fn timeout_ends_the_command() {
    let out = planar_run(
        None,
        &["--renderer", "pixman", "--timeout", "1"],
        &["sleep", "30"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(124), "{}", out.stderr);
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(20),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn private_runtime_dir_when_unset() {
    let out = planar_run(
        None,
        &["--renderer", "pixman"],
        &[
            "sh",
            "-c",
            r#"stat -c %a "$XDG_RUNTIME_DIR" && test -S "$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY" && echo "$XDG_RUNTIME_DIR""#,
        ],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("700"), "{}", out.stdout);
    let dir = lines.next().expect("runtime dir printed");
    assert!(
        !std::path::Path::new(dir).exists(),
        "private runtime dir {dir} left behind"
    );
}

#[test]
fn runtime_dir_from_environment_is_used() {
    let dir = runtime_dir();
    let out = planar_run(
        Some(dir.path()),
        &["--renderer", "pixman", "--socket", "planar-named"],
        &["sh", "-c", r#"echo "$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY""#],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        dir.path().join("planar-named").to_str().unwrap()
    );
}

#[test]
fn second_client_is_served_after_first_is_killed() {
    let mut server = Server::start(&["--renderer", "pixman"]).expect("planar starts");
    let mut first = server
        .client_command(&bin("planar-demo"))
        .args(["--frames", "0"])
        .spawn()
        .expect("first client");
    // Let it map its window and be shown a few frames, then kill it mid-flight.
    std::thread::sleep(Duration::from_millis(500));
    first.kill().expect("kill first client");
    let _ = first.wait();
    assert!(server.alive(), "planar died with its first client");

    let conn = server.connect().expect("second client connects");
    shm_client::run_on(
        conn,
        &ShmClientConfig {
            frames: Some(3),
            ..Default::default()
        },
    )
    .expect("second client is shown three frames");
    assert!(server.alive());
    let status = server.stop();
    assert_eq!(status.code(), Some(0), "planar's exit after SIGTERM");
}

#[test]
fn killed_client_is_in_the_screenshot() {
    let dir = runtime_dir();
    let png = dir.path().join("killed.png");
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            "pixman",
            "--size",
            "320x240",
            "--screenshot",
            png.to_str().unwrap(),
        ],
        &[
            "sh",
            "-c",
            "planar-demo --frames 0 --size 100x100 & pid=$!; sleep 1; kill -KILL $pid; sleep 0.5",
        ],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let img = RgbaImage::read_png(&png).unwrap();
    assert_eq!(img.pixel(10, 10), [255, 0, 0, 255]);
    assert_eq!(img.pixel(90, 90), [255, 255, 255, 255]);
    let [r, g, b] = BACKGROUND;
    assert_eq!(img.pixel(150, 150), [r, g, b, 255]);
}

#[test]
fn egl_demo_shows_one_buffer_per_import_path() {
    if let Some(reason) = gles_unavailable() {
        return skip("egl_demo_shows_one_buffer_per_import_path", &reason);
    }
    let dir = runtime_dir();
    let png = dir.path().join("demo.png");
    let report = dir.path().join("demo.json");
    let out = planar_run(
        Some(dir.path()),
        &[
            "--size",
            "640x480",
            "--screenshot",
            png.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        &["planar-demo", "--size", "200x120"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report.contains("\"path\": \"egl\"") && report.contains("\"path\": \"cpu\""),
        "{report}"
    );
    let img = RgbaImage::read_png(&png).unwrap();
    // Left: XRGB8888, exact. Right: NV12 through BT.601 limited, within 4.
    for (x0, tol) in [(0u32, 0i16), (200, 4)] {
        for (x, y) in [(50, 30), (150, 30), (50, 90), (150, 90)] {
            let want = quads_rgb(200, 120, x, y);
            let got = img.pixel(x0 + x, y);
            for c in 0..3 {
                assert!(
                    (i16::from(got[c]) - i16::from(want[c])).abs() <= tol,
                    "({}, {y}): {got:?} vs {want:?}",
                    x0 + x
                );
            }
        }
    }
    let [r, g, b] = BACKGROUND;
    assert_eq!(img.pixel(400, 10), [r, g, b, 255]);
}

/// planar leaves its renderer to the OS at exit (a faster teardown), but the rest is torn
/// down: the socket and its lock file are gone, and the screenshot and report are written.
#[test]
fn socket_and_lock_are_removed_at_exit_and_results_written() {
    for renderer in ["auto", "pixman"] {
        let dir = runtime_dir();
        let (png, report) = (dir.path().join("s.png"), dir.path().join("r.json"));
        let out = planar_run(
            Some(dir.path()),
            &[
                "--renderer",
                renderer,
                "--socket",
                "sock",
                "--screenshot",
                png.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ],
            &["planar-client", "show"],
            LIMIT,
        );
        assert_eq!(out.code(), Some(0), "{renderer}: {}", out.stderr);
        for name in ["sock", "sock.lock"] {
            assert!(
                !dir.path().join(name).exists(),
                "{renderer}: {name} is left in the runtime dir"
            );
        }
        let shot = RgbaImage::read_png(&png).expect("screenshot written");
        assert_eq!(
            shot.pixel(10, 10)[..3],
            quads_rgb(256, 256, 10, 10),
            "{renderer}"
        );
        let records = std::fs::read_to_string(&report).expect("report written");
        assert!(records.contains("\"fourcc\": \"XR24\""), "{records}");
    }
}
