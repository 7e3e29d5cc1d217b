//! Screenshot testing as a user does it: `planar run --expect` and `planar compare` with
//! fuzz, clip, diff images, a missing reference and bless; `--after-frames`; and
//! deterministic frames (`--refresh 0 --clock virtual`).

use std::{path::Path, process::Command, time::Duration};

use planar_image::RgbaImage;
use planar_tests::fixture::{bin, planar_run, runtime_dir};

const LIMIT: Duration = Duration::from_secs(60);

fn run_demo(dir: &Path, extra: &[&str]) -> planar_tests::fixture::RunOutput {
    let mut args = vec!["--renderer", "pixman", "--size", "320x240"];
    args.extend_from_slice(extra);
    planar_run(
        Some(dir),
        &args,
        &["planar-demo", "--shm", "--size", "100x80"],
        LIMIT,
    )
}

fn compare(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(bin("planar"))
        .arg("compare")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn expect_missing_reference_then_bless_then_match() {
    let dir = runtime_dir();
    let reference = dir.path().join("demo.png");
    let r = reference.to_str().unwrap();
    // Missing: the run fails and the actual image lands next to the reference.
    let out = run_demo(dir.path(), &["--expect", r]);
    assert_eq!(out.code(), Some(125), "{}", out.stderr);
    assert!(out.stderr.contains("no reference"), "{}", out.stderr);
    assert!(dir.path().join("demo.actual.png").exists());
    assert!(!reference.exists());
    // Bless writes it; with PLANAR_BLESS=1 as well.
    let out = run_demo(dir.path(), &["--expect", r, "--bless"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(reference.exists());
    // Now the same scene matches.
    let out = run_demo(dir.path(), &["--expect", r]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("matches"), "{}", out.stderr);
}

#[test]
fn expect_mismatch_names_the_worst_pixel_and_writes_a_diff() {
    let dir = runtime_dir();
    let reference = dir.path().join("ref.png");
    // A reference that differs from the scene at one pixel by 10 in red.
    let out = run_demo(dir.path(), &["--screenshot", reference.to_str().unwrap()]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut img = RgbaImage::read_png(&reference).unwrap();
    let i = ((7 * 320 + 5) * 4) as usize;
    img.data[i] = img.data[i].saturating_sub(10);
    img.write_png(&reference).unwrap();
    let diff = dir.path().join("d.png");
    let out = run_demo(
        dir.path(),
        &[
            "--expect",
            reference.to_str().unwrap(),
            "--diff",
            diff.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code(), Some(125), "{}", out.stderr);
    assert!(out.stderr.contains("worst at (5, 7)"), "{}", out.stderr);
    assert_eq!(
        RgbaImage::read_png(&diff).unwrap().pixel(5, 7),
        [255, 0, 0, 255]
    );
    // Within fuzz it passes; a clip that leaves the pixel out passes too.
    let out = run_demo(
        dir.path(),
        &["--expect", reference.to_str().unwrap(), "--fuzz", "-10,10"],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let out = run_demo(
        dir.path(),
        &[
            "--expect",
            reference.to_str().unwrap(),
            "--clip",
            "10,10,200,200",
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // Signed fuzz: the actual is 10 above the reference, so 0..5 is not enough, 0..10 is.
    let out = run_demo(
        dir.path(),
        &["--expect", reference.to_str().unwrap(), "--fuzz", "0,5"],
    );
    assert_eq!(out.code(), Some(125), "{}", out.stderr);
}

#[test]
fn compare_command() {
    let dir = runtime_dir();
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    let mut img = RgbaImage {
        width: 16,
        height: 16,
        data: [40, 50, 60, 255].repeat(256),
    };
    img.write_png(&a).unwrap();
    img.data[0] = 43;
    img.write_png(&b).unwrap();
    let (code, out) = compare(&[b.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("worst at (0, 0)"), "{out}");
    assert!(dir.path().join("a.diff.png").exists());
    let (code, _) = compare(&[b.to_str().unwrap(), a.to_str().unwrap(), "--fuzz", "3"]);
    assert_eq!(code, Some(0));
    let (code, _) = compare(&[
        b.to_str().unwrap(),
        a.to_str().unwrap(),
        "--clip",
        "1,0,15,16",
    ]);
    assert_eq!(code, Some(0));
    let missing = dir.path().join("nope.png");
    let (code, out) = compare(&[b.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(dir.path().join("nope.actual.png").exists());
    let out = Command::new(bin("planar"))
        .args(["compare", b.to_str().unwrap(), missing.to_str().unwrap()])
        .env("PLANAR_BLESS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(RgbaImage::read_png(&missing).unwrap(), img);
}

#[test]
fn after_frames_takes_an_earlier_frame() {
    let dir = runtime_dir();
    let png = dir.path().join("early.png");
    // The client shows 10 frames; the screenshot is the 2nd presented frame.
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            "pixman",
            "--size",
            "160x120",
            "--refresh",
            "0",
            "--after-frames",
            "2",
            "--screenshot",
            png.to_str().unwrap(),
        ],
        &[
            "planar-client",
            "show",
            "--format",
            "XR24",
            "--size",
            "64x48",
            "--frames",
            "10",
        ],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the asked number of frames was presented"),
        "{}",
        out.stderr
    );
    assert_eq!(
        RgbaImage::read_png(&png).unwrap().pixel(1, 1),
        [255, 0, 0, 255]
    );
}

#[test]
fn deterministic_runs_are_byte_identical() {
    let dir = runtime_dir();
    let mut pngs = Vec::new();
    let mut stamps = Vec::new();
    let client = "planar-client show --format NV12 --size 64x48 --frames 5 --presentation";
    // The first run's client starts at once, most likely before the renderer is ready; the
    // second's once it is (checked below: a slow start is retried with a longer delay).
    // Whether the renderer was ready at the client's first (bufferless) commit once
    // decided whether that commit drew frame 1, and the client's frames were then
    // numbered from 2 (a start-up race seen under load).
    let mut delays = [0u64, 1, 4, 10].into_iter();
    while pngs.len() < 2 {
        let (i, delay) = (
            pngs.len(),
            delays.next().expect("a run whose renderer was ready"),
        );
        let png = dir.path().join(format!("det{i}.png"));
        let shell = format!("sleep {delay}; exec {client}");
        let out = planar_run(
            Some(dir.path()),
            &[
                "--size",
                "160x120",
                "--refresh",
                "0",
                "--clock",
                "virtual",
                "--screenshot",
                png.to_str().unwrap(),
            ],
            &["sh", "-c", &shell],
            LIMIT,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        if i == 1 && !ready_within(&out.stderr, delay) {
            eprintln!("the renderer was not ready {delay} s after listening: run again, later");
            continue;
        }
        pngs.push(std::fs::read(&png).unwrap());
        let lines: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| l.contains("presented seq"))
            .map(String::from)
            .collect();
        assert_eq!(lines.len(), 5, "{}", out.stdout);
        stamps.push(lines);
    }
    assert_eq!(pngs[0], pngs[1], "the two PNGs differ");
    assert_eq!(stamps[0], stamps[1]);
    // Exactly one refresh interval (1/60 s on an on-demand output) per frame.
    assert_eq!(
        stamps[0][0],
        "planar-client: presented seq 1 at 0.016666666"
    );
    assert_eq!(
        stamps[0][4],
        "planar-client: presented seq 5 at 0.083333330"
    );
}

/// Whether planar's log says "renderer ready" less than `secs` after "listening" (the
/// command starts after listening, so a client that sleeps `secs` first finds the
/// renderer ready).
fn ready_within(log: &str, secs: u64) -> bool {
    // "2026-11-30T12:23:04.443755Z": seconds of the day, enough within one run.
    let at = |what: &str| {
        let line = log.lines().find(|l| l.contains(what))?;
        let t = &line[line.find('T')? + 1..line.find('Z')?];
        let mut parts = t.split(':').map(|p| p.parse::<f64>().ok());
        Some(parts.next()?? * 3600.0 + parts.next()?? * 60.0 + parts.next()??)
    };
    match (at("listening"), at("renderer ready")) {
        (Some(listening), Some(ready)) => ready < listening + secs as f64,
        _ => panic!("no 'listening' or 'renderer ready' line in planar's log:\n{log}"),
    }
}

/// A client's first commit (no buffer yet) draws no frame with `--refresh 0` (see
/// `deterministic_runs_are_byte_identical`), but a frame callback it asked for on that
/// commit is still answered, also when the renderer is long ready: frames on demand have
/// no refresh tick to answer it later.
#[test]
fn a_frame_callback_on_the_first_commit_is_answered_on_demand() {
    let args: Vec<&str> = "--renderer pixman --refresh 0 --clock virtual"
        .split(' ')
        .collect();
    let server = planar_tests::fixture::Server::start(&args).unwrap();
    let conn = server.connect().unwrap();
    // The renderer is ready long before this client's first commit.
    std::thread::sleep(Duration::from_millis(500));
    let mut window = planar_tests::window::Window::new_asking_a_frame(&conn, "first").unwrap();
    let started = std::time::Instant::now();
    while window.frames_done() == 0 && started.elapsed() < Duration::from_secs(10) {
        conn.roundtrip().unwrap();
        window.dispatch_pending().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(window.frames_done(), 1, "{}", server.log());
}
