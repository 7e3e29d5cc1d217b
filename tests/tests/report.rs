//! Results for CI and people: `planar run --junit/--html`, `planar report` merging the
//! runs of two shards, and the HTML page of a failed run as headless Chromium shows it.

use std::{path::Path, process::Command, time::Duration};

use planar_image::RgbaImage;
use planar_tests::fixture::{bin, find_program, planar_run, runtime_dir, skip, RunOutput};

const LIMIT: Duration = Duration::from_secs(60);
/// The reference of a failing run: one colour the demo never shows.
const MAGENTA: [u8; 4] = [255, 0, 255, 255];

fn solid(w: u32, h: u32, px: [u8; 4]) -> RgbaImage {
    RgbaImage {
        width: w,
        height: h,
        data: px.repeat((w * h) as usize),
    }
}

/// `planar run --expect REF EXTRA… -- planar-demo` at 320x240 with pixman.
fn run_demo(dir: &Path, reference: &Path, extra: &[&str]) -> RunOutput {
    let mut args = vec![
        "--renderer",
        "pixman",
        "--size",
        "320x240",
        "--expect",
        reference.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    // `--shm` unless the caller asks for the demo's dma-bufs (with `--dmabuf`).
    let dmabuf = extra.contains(&"--dmabuf-demo");
    args.retain(|a| *a != "--dmabuf-demo");
    let demo: &[&str] = if dmabuf {
        &["planar-demo", "--size", "100x80"]
    } else {
        &["planar-demo", "--shm", "--size", "100x80"]
    };
    planar_run(Some(dir), &args, demo, LIMIT)
}

/// A reference the demo matches (blessed from a first run).
fn matching_reference(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let reference = dir.join("good.png");
    let out = run_demo(dir, &reference, &[&["--bless"], extra].concat());
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    reference
}

fn failing_reference(dir: &Path) -> std::path::PathBuf {
    let reference = dir.join("bad.png");
    solid(320, 240, MAGENTA).write_png(&reference).unwrap();
    reference
}

/// (tests, failures) of the one testsuite, checked against the testcase elements.
fn junit_counts(path: &Path) -> (usize, usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("JUnit is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{text}");
    let suite = suites[0];
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let failed: Vec<_> = cases
        .iter()
        .filter_map(|c| c.children().find(|n| n.has_tag_name("failure")))
        .collect();
    let attr = |n: roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<usize>().unwrap();
    assert_eq!(attr(suite, "tests"), cases.len(), "{text}");
    assert_eq!(attr(suite, "failures"), failed.len(), "{text}");
    assert_eq!(attr(root, "tests"), cases.len(), "{text}");
    let bodies = failed
        .iter()
        .map(|f| {
            assert!(f.attribute("message").is_some_and(|m| !m.is_empty()));
            f.text().unwrap_or_default().to_string()
        })
        .collect();
    (cases.len(), failed.len(), bodies)
}

#[test]
fn junit_of_a_passing_and_a_failing_run_parses_with_the_right_counts() {
    let dir = runtime_dir();
    let good = matching_reference(dir.path(), &[]);
    let pass_xml = dir.path().join("pass.xml");
    let out = run_demo(dir.path(), &good, &["--junit", pass_xml.to_str().unwrap()]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(junit_counts(&pass_xml).0, 1);
    assert_eq!(junit_counts(&pass_xml).1, 0);

    let bad = failing_reference(dir.path());
    let fail_xml = dir.path().join("fail.xml");
    let out = run_demo(dir.path(), &bad, &["--junit", fail_xml.to_str().unwrap()]);
    assert_eq!(out.code(), Some(125), "{}", out.stderr);
    let (tests, failures, bodies) = junit_counts(&fail_xml);
    assert_eq!((tests, failures), (1, 1));
    // The failure names the worst pixel and the images to open, and they exist.
    let body = &bodies[0];
    assert!(body.contains("worst pixel"), "{body}");
    for key in ["actual: ", "diff: "] {
        let line = body.lines().find_map(|l| l.strip_prefix(key));
        let path = line.unwrap_or_else(|| panic!("no {key:?} line in {body}"));
        assert!(Path::new(path).is_file(), "{path} named in the failure");
    }
    // The result file for `planar report` sits beside it.
    assert!(dir.path().join("fail.planar-run.json").is_file());
}

#[test]
fn report_merges_two_shards_into_one_page_and_one_junit() {
    let root = runtime_dir();
    let (s1, s2) = (root.path().join("shard-1"), root.path().join("shard-2"));
    std::fs::create_dir_all(&s1).unwrap();
    std::fs::create_dir_all(&s2).unwrap();
    let good = matching_reference(&s1, &["--dmabuf-demo"]);
    let out = run_demo(
        &s1,
        &good,
        &[
            "--dmabuf-demo",
            "--name",
            "shard1-pass",
            "--html",
            s1.join("out/run.html").to_str().unwrap(),
            "--junit",
            s1.join("out/run.xml").to_str().unwrap(),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let bad = failing_reference(&s2);
    let out = run_demo(
        &s2,
        &bad,
        &[
            "--name",
            "shard2-fail",
            "--junit",
            s2.join("junit.xml").to_str().unwrap(),
        ],
    );
    assert_eq!(out.code(), Some(125), "{}", out.stderr);

    let merged_html = root.path().join("merged.html");
    let merged_xml = root.path().join("merged.xml");
    let out = Command::new(bin("planar"))
        .arg("report")
        .arg(root.path())
        .args(["--html", merged_html.to_str().unwrap()])
        .args(["--junit", merged_xml.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A failed shard fails the merge job.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("2 runs, 2 testcases, 1 failed"), "{stdout}");

    let (tests, failures, _) = junit_counts(&merged_xml);
    assert_eq!((tests, failures), (2, 1));
    let xml = std::fs::read_to_string(&merged_xml).unwrap();
    assert!(xml.contains("name=\"shard1-pass\"") && xml.contains("name=\"shard2-fail\""));
    let html = std::fs::read_to_string(&merged_html).unwrap();
    // The dma-bufs of shard 1's demo are in its import table (XRGB8888 and NV12).
    for name in [
        "shard1-pass",
        "shard2-fail",
        "worst pixel at",
        "type=\"range\"",
        "<td>XR24</td>",
        "<td>NV12</td>",
    ] {
        assert!(html.contains(name), "{name} missing from the page");
    }
    // Self-contained: images inline (pass: actual is absent without --screenshot, but
    // the reference is there; fail: actual, reference, diff), nothing fetched from elsewhere.
    assert!(html.matches("src=\"data:image/png;base64,").count() >= 4);
    assert!(!html.contains("http://") && !html.contains("https://"));
}

fn near(p: [u8; 4], want: [u8; 3]) -> bool {
    (0..3).all(|c| p[c].abs_diff(want[c]) <= 8)
}

/// How many pixels of rows `rows` are near `want`, and their median x.
fn colour_in_band(img: &RgbaImage, rows: std::ops::Range<u32>, want: [u8; 3]) -> (usize, u32) {
    let mut xs: Vec<u32> = rows
        .flat_map(|y| (0..img.width).map(move |x| (x, y)))
        .filter(|&(x, y)| near(img.pixel(x, y), want))
        .map(|(x, _)| x)
        .collect();
    xs.sort_unstable();
    (xs.len(), xs.get(xs.len() / 2).copied().unwrap_or(0))
}

#[test]
fn chromium_shows_actual_reference_and_diff_of_a_failed_run() {
    const NAME: &str = "chromium_shows_actual_reference_and_diff_of_a_failed_run";
    let Some(chromium) = find_program("chromium") else {
        return skip(
            NAME,
            "chromium is not installed (scripts/setup installs it)",
        );
    };
    let dir = runtime_dir();
    let bad = failing_reference(dir.path());
    let page = dir.path().join("report.html");
    let out = run_demo(dir.path(), &bad, &["--html", page.to_str().unwrap()]);
    assert_eq!(out.code(), Some(125), "{}", out.stderr);

    let profile = tempfile::tempdir().unwrap();
    let shot = dir.path().join("browser.png");
    let status = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1400,1000")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        status.status.success() && shot.is_file(),
        "chromium failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let img = RgbaImage::read_png(&shot).unwrap();
    // Each image has a colour of its own: the actual screenshot planar's background
    // (the demo covers only its corner), the reference magenta, the diff red (every
    // pixel differs; the demo's red quad is small). The row of three images is the band
    // of rows where the reference is shown at its natural size.
    let top = (0..img.height)
        .find(|&y| {
            (0..img.width)
                .filter(|&x| near(img.pixel(x, y), [255, 0, 255]))
                .count()
                >= 300
        })
        .expect("a row of the reference image in the browser's screenshot");
    let band = top..(top + 240).min(img.height);
    let (n_actual, x_actual) = colour_in_band(&img, band.clone(), [32, 32, 48]);
    let (n_ref, x_ref) = colour_in_band(&img, band.clone(), [255, 0, 255]);
    let (n_diff, x_diff) = colour_in_band(&img, band, [255, 0, 0]);
    let area = 320 * 240;
    assert!(
        n_ref >= area * 95 / 100,
        "reference shown: {n_ref} magenta pixels"
    );
    assert!(n_diff >= area * 95 / 100, "diff shown: {n_diff} red pixels");
    assert!(
        n_actual >= area * 8 / 10,
        "actual shown: {n_actual} background pixels"
    );
    assert!(
        x_actual < x_ref && x_ref < x_diff,
        "left to right: actual at x {x_actual}, reference {x_ref}, diff {x_diff}"
    );
}
