//! Nested mode (`planar run --backend nested`): planar as a window inside headless planar,
//! inside Weston 14 (GL renderer, kiosk shell) and on Xvfb. Each host's own capture must
//! show the inner client's pattern where the window is, and equal the nested planar's own
//! screenshot. Dma-bufs take the EGL path and the forced CPU path on the window's EGL
//! display, and the host's pointer and keyboard reach the client that was clicked.

use std::{
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use planar_image::{compare, Clip, Fuzz, RgbaImage};
use planar_tests::{
    fixture::{bin, find_program, gles_unavailable, path_with_bins, runtime_dir, skip, Server},
    pattern::quads_rgb,
    test_client::PlanarTest,
    x11::Xvfb,
};

/// The size the nested planar asks for.
const INNER: (u32, u32) = (320, 240);
/// The client's buffer, at the nested output's top-left.
const CLIENT: (u32, u32) = (200, 100);
/// planar's background.
const BACKGROUND: [u8; 4] = [32, 32, 48, 255];

/// Whether `img` shows the client's quads at its top-left (exact, away from the
/// quadrant edges where nothing blends anyway) and planar's background beside and below.
fn quads_at_origin(img: &RgbaImage) -> Result<(), String> {
    let (w, h) = CLIENT;
    if img.width < INNER.0 || img.height < INNER.1 {
        return Err(format!("image is only {}x{}", img.width, img.height));
    }
    let mut reference = img.clone();
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = quads_rgb(w, h, x, y);
            let i = ((y * img.width + x) * 4) as usize;
            reference.data[i..i + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    let c = compare(
        img,
        &reference,
        Fuzz::EXACT,
        Some(Clip { x: 0, y: 0, w, h }),
        None,
    );
    if !c.matches() {
        return Err(format!("client region: {}", c.summary()));
    }
    for (x, y) in [(w + 20, 10), (10, h + 20), (INNER.0 - 1, INNER.1 - 1)] {
        if img.pixel(x, y) != BACKGROUND {
            return Err(format!(
                "({x}, {y}) is {:?}, not planar's background",
                img.pixel(x, y)
            ));
        }
    }
    Ok(())
}

/// The host's picture of the window (its top-left `inner` rectangle) must equal the
/// nested planar's own screenshot.
fn assert_host_shows(host: &RgbaImage, inner: &RgbaImage, fuzz: i16, what: &str) {
    let window = host.crop(0, 0, inner.width, inner.height);
    let c = compare(&window, inner, Fuzz::symmetric(fuzz), None, None);
    assert!(
        c.matches(),
        "{what}: the host's capture of the window differs from the nested screenshot: {}",
        c.summary()
    );
}

#[derive(Debug, serde::Deserialize)]
struct Record {
    fourcc: String,
    path: String,
    reason: String,
}

fn read_report(path: &Path) -> Vec<Record> {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).unwrap()
}

#[test]
fn nested_in_planar_shows_the_client_through_both_import_paths() {
    let test = "nested_in_planar_shows_the_client_through_both_import_paths";
    if let Some(reason) = gles_unavailable() {
        return skip(test, &reason);
    }
    // (what, nested planar's policy options, format, expected path, reason fragment)
    let cases: [(&str, &[&str], &str, &str, &str); 4] = [
        (
            "forced EGL",
            &["--import", "egl"],
            "XR24",
            "egl",
            "zero-copy",
        ),
        (
            "forced CPU",
            &["--import", "cpu"],
            "XR24",
            "cpu",
            "--import cpu",
        ),
        (
            "fault injection",
            &["--fail-import", "XR24"],
            "XR24",
            "cpu",
            "--fail-import",
        ),
        (
            "EGL refuses NV12 from memory",
            &[],
            "NV12",
            "cpu",
            "does not take",
        ),
    ];
    for (i, (what, policy, format, path, reason)) in cases.into_iter().enumerate() {
        let dir = runtime_dir();
        let outer = planar_host(dir.path());
        let client_size = format!("{}x{}", CLIENT.0, CLIENT.1);
        let mut client = vec!["planar-client", "show", "--format", format];
        client.extend_from_slice(&["--size", &client_size, "--frames", "0", "--verify"]);
        let mut nested = nested_planar(
            &[("XDG_RUNTIME_DIR", outer.runtime.path())],
            &[("WAYLAND_DISPLAY", &outer.socket)],
            dir.path(),
            policy,
            &client,
        );
        let shown_on = |img: &RgbaImage| {
            if format == "XR24" {
                quads_at_origin(img)
            } else {
                // YUV goes through a conversion: the client checks it with --verify.
                (img.pixel(CLIENT.0 / 4, CLIENT.1 / 4) != BACKGROUND)
                    .then_some(())
                    .ok_or_else(|| "not shown yet".to_string())
            }
        };
        let last = capture_until(&outer, &mut nested, |img| shown_on(img).is_ok());
        let shown = last
            .as_ref()
            .ok_or_else(|| "no capture".to_string())
            .and_then(shown_on);
        let last_case = i + 1 == cases.len();
        let out = if last_case {
            // The host goes away: the nested planar stops by itself, as when its window
            // is closed, and still writes its screenshot and report.
            outer.stop();
            wait_until_exit(nested, Duration::from_secs(30))
        } else {
            sigterm(&nested);
            let out = nested.wait_with_output().unwrap();
            outer.stop();
            out
        };
        let log = format!(
            "{what}: exit {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        shown.unwrap_or_else(|e| panic!("the outer capture never showed the client: {e}\n{log}"));
        // The client was still running (not stopped by a failed --verify) and was ended
        // with SIGTERM by the nested planar.
        assert_eq!(out.status.code(), Some(143), "{log}");
        assert!(
            log.contains("planar-client: verify: worst difference"),
            "{log}"
        );
        assert!(log.contains("gles (EGL display of the window"), "{log}");
        if last_case {
            assert!(log.contains("the nested window's host went away"), "{log}");
        }
        let records = read_report(&dir.path().join("inner.json"));
        assert_eq!(records.len(), 1, "{log}");
        assert_eq!(records[0].fourcc, format, "{log}");
        assert_eq!(records[0].path, path, "{records:?}\n{log}");
        assert!(records[0].reason.contains(reason), "{records:?}");

        let inner = RgbaImage::read_png(&dir.path().join("inner.png")).expect("nested screenshot");
        assert_eq!((inner.width, inner.height), INNER, "window size\n{log}");
        if format == "XR24" {
            quads_at_origin(&inner).unwrap_or_else(|e| panic!("nested screenshot: {e}\n{log}"));
        }
        let outer_img =
            RgbaImage::read_png(&dir.path().join("outer.png")).expect("outer screenshot");
        assert_host_shows(&outer_img, &inner, 0, &log);
        // Outside the window, the outer planar's own background, nothing else.
        assert_eq!(outer_img.pixel(INNER.0 + 10, 10), BACKGROUND, "{log}");
        assert_eq!(outer_img.pixel(10, INNER.1 + 10), BACKGROUND, "{log}");
    }
}

/// Headless planar as the host (640x480, capturable by the test), its screenshot going to
/// `dir/outer.png`.
fn planar_host(dir: &Path) -> Server {
    let png = dir.join("outer.png");
    Server::start(&[
        "--size",
        "640x480",
        "--allow-capture",
        "all",
        "--screenshot",
        png.to_str().unwrap(),
    ])
    .expect("outer planar")
}

/// Captures `host` until `done` accepts a capture, `nested` exits or a minute passes;
/// returns the last capture.
fn capture_until(
    host: &Server,
    nested: &mut std::process::Child,
    done: impl Fn(&RgbaImage) -> bool,
) -> Option<RgbaImage> {
    let conn = host.connect().unwrap();
    let mut capture = PlanarTest::new(&conn).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline && nested.try_wait().unwrap().is_none() {
        let (img, _) = capture.capture().unwrap().expect("host capture");
        let finished = done(&img);
        last = Some(img);
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// Waits for `child` to exit by itself; SIGKILLs it (and fails) after `limit`.
fn wait_until_exit(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A Weston 14 headless GL compositor with kiosk-shell (every toplevel fills the output)
/// and the screenshooter allowed (`--debug`).
struct Weston {
    child: std::process::Child,
    dir: tempfile::TempDir,
    socket: String,
}

impl Weston {
    fn start(width: u32, height: u32) -> Weston {
        let dir = runtime_dir();
        let socket = "weston-host".to_string();
        let log = std::fs::File::create(dir.path().join("weston.log")).unwrap();
        let child = Command::new("weston")
            .args([
                "--backend=headless",
                "--renderer=gl",
                "--shell=kiosk-shell.so",
            ])
            .args(["--debug", "--idle-time=0"])
            .arg(format!("--width={width}"))
            .arg(format!("--height={height}"))
            .arg(format!("--socket={socket}"))
            .env("XDG_RUNTIME_DIR", dir.path())
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start weston");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !dir.path().join(&socket).exists() {
            assert!(Instant::now() < deadline, "weston did not open its socket");
            std::thread::sleep(Duration::from_millis(50));
        }
        Weston { child, dir, socket }
    }

    /// One capture through weston-screenshooter (it writes wayland-screenshot-*.png into
    /// its working directory).
    fn screenshot(&self) -> Option<RgbaImage> {
        let shots = self.dir.path().join("shots");
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        let status = Command::new("weston-screenshooter")
            .current_dir(&shots)
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env("WAYLAND_DISPLAY", &self.socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let png: PathBuf = std::fs::read_dir(&shots)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "png"))?;
        RgbaImage::read_png(&png).ok()
    }
}

impl Drop for Weston {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("weston.log"));
            eprintln!("--- weston log ---\n{}", log.unwrap_or_default());
        }
    }
}

/// Starts `planar run --backend nested` on the host named by `host` (WAYLAND_DISPLAY or
/// DISPLAY) with `policy` options, running `client`; its screenshot and report go to
/// `dir`.
fn nested_planar(
    env: &[(&str, &Path)],
    host: &[(&str, &str)],
    dir: &Path,
    policy: &[&str],
    client: &[&str],
) -> std::process::Child {
    let size = format!("{}x{}", INNER.0, INNER.1);
    let mut cmd = Command::new(bin("planar"));
    cmd.args(["run", "--backend", "nested", "--size", &size])
        .arg("--screenshot")
        .arg(dir.join("inner.png"))
        .arg("--report")
        .arg(dir.join("inner.json"))
        .args(policy)
        .arg("--")
        .args(client)
        .env("PATH", path_with_bins())
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    for (k, v) in host {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start nested planar")
}

fn sigterm(child: &std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

#[test]
fn nested_in_weston_is_in_westons_capture_and_fills_its_output() {
    let test = "nested_in_weston_is_in_westons_capture_and_fills_its_output";
    for program in ["weston", "weston-screenshooter"] {
        if find_program(program).is_none() {
            return skip(
                test,
                &format!("{program} is not installed (Debian package weston)"),
            );
        }
    }
    if let Some(reason) = gles_unavailable() {
        return skip(test, &reason);
    }
    let weston = Weston::start(640, 480);
    let client_size = format!("{}x{}", CLIENT.0, CLIENT.1);
    let client = [
        "planar-client",
        "show",
        "--size",
        &client_size,
        "--frames",
        "0",
    ];
    let nested = nested_planar(
        &[("XDG_RUNTIME_DIR", weston.dir.path())],
        &[("WAYLAND_DISPLAY", &weston.socket)],
        weston.dir.path(),
        &[],
        &client,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Err("no capture yet".to_string());
    let mut capture = None;
    while Instant::now() < deadline {
        if let Some(img) = weston.screenshot() {
            last = quads_at_origin(&img);
            if last.is_ok() {
                capture = Some(img);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    sigterm(&nested);
    let out = nested.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let capture =
        capture.unwrap_or_else(|| panic!("weston never showed the pattern: {last:?}\n{log}"));
    // kiosk-shell makes the window fill Weston's output: the nested output followed.
    let inner =
        RgbaImage::read_png(&weston.dir.path().join("inner.png")).expect("nested screenshot");
    assert_eq!(
        (inner.width, inner.height),
        (640, 480),
        "output resized to the window\n{log}"
    );
    assert!(log.contains("output resized"), "{log}");
    assert_host_shows(&capture, &inner, 0, "weston");
    // The XR24 dma-buf went zero-copy through the EGL display of the window on Weston.
    let records = read_report(&weston.dir.path().join("inner.json"));
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(records[0].path, "egl", "{records:?}\n{log}");
}

/// Xvfb (640x480) and a runtime directory for a test on an X11 host, or None (after a SKIP
/// line) when Xvfb or GLES is missing.
fn x11_host(test: &str) -> Option<(Xvfb, tempfile::TempDir)> {
    if find_program("Xvfb").is_none() {
        skip(test, "Xvfb is not installed (Debian package xvfb)");
        return None;
    }
    if let Some(reason) = gles_unavailable() {
        skip(test, &reason);
        return None;
    }
    Some((Xvfb::start(640, 480).expect("Xvfb"), runtime_dir()))
}

#[test]
fn nested_on_xvfb_is_on_screen_and_takes_pointer_and_keyboard() {
    let Some((x, dir)) = x11_host("nested_on_xvfb_is_on_screen_and_takes_pointer_and_keyboard")
    else {
        return;
    };
    let client_size = format!("{}x{}", CLIENT.0, CLIENT.1);
    let client = [
        "planar-client",
        "input",
        "--fullscreen",
        "--size",
        &client_size,
    ];
    let nested = nested_planar(
        &[("XDG_RUNTIME_DIR", dir.path())],
        &[("DISPLAY", &x.display)],
        dir.path(),
        &[],
        &client,
    );
    let screen = x
        .wait_for(Duration::from_secs(60), |img| quads_at_origin(img).is_ok())
        .unwrap();
    if let Err(e) = quads_at_origin(&screen) {
        sigterm(&nested);
        let out = nested.wait_with_output().unwrap();
        panic!(
            "X never showed the pattern: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // No window manager: the window is at the root's origin, at the size asked for.
    assert_eq!(
        screen.pixel(INNER.0 + 5, 5),
        [0, 0, 0, 255],
        "right of the window"
    );
    assert_eq!(
        screen.pixel(5, INNER.1 + 5),
        [0, 0, 0, 255],
        "below the window"
    );

    // Resizing the window resizes the output: it shows 400x300 of planar.
    const RESIZED: (u32, u32) = (400, 300);
    x.resize_top_window(RESIZED.0, RESIZED.1).unwrap();
    let resized = x
        .wait_for(Duration::from_secs(30), |img| {
            img.pixel(RESIZED.0 - 5, RESIZED.1 - 5) == BACKGROUND
        })
        .unwrap();
    assert_eq!(
        resized.pixel(RESIZED.0 - 5, RESIZED.1 - 5),
        BACKGROUND,
        "resized window"
    );
    assert_eq!(
        resized.pixel(RESIZED.0 + 5, 5),
        [0, 0, 0, 255],
        "right of it"
    );
    quads_at_origin(&resized).expect("the client after the resize");

    const KEY_A: u32 = 30;
    const KEY_B: u32 = 48;
    const BTN_LEFT: u32 = 0x110;
    x.move_pointer(150, 50).unwrap();
    x.focus_top_window().unwrap();
    // planar has the X focus, but no client is focused yet: keys go nowhere until a
    // click.
    x.tap_key(KEY_A).unwrap();
    x.click(1).unwrap();
    // Button 5: the wheel, one notch down.
    x.click(5).unwrap();
    x.tap_key(KEY_B).unwrap();
    x.tap_key(planar_tests::input_client::KEY_ESC).unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut nested = nested;
    while nested.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            sigterm(&nested);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = nested.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "the client ends on Escape\n{log}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("no {line:?} in the client's output\n{log}"))
    };
    // The fullscreen client was configured to the output, then to the resized output.
    let first = at(&format!("configure {}x{} fullscreen", INNER.0, INNER.1));
    let second = at(&format!("configure {}x{} fullscreen", RESIZED.0, RESIZED.1));
    assert!(first < second, "{log}");
    let enter = at("pointer enter 150 50");
    let focus = at("keyboard enter");
    let press = at(&format!("pointer button {BTN_LEFT} pressed"));
    let release = at(&format!("pointer button {BTN_LEFT} released"));
    // One notch is 15 px down. (Xvfb's XTEST pointer reports a wheel click twice to winit,
    // as a button and as a scroll valuator: the first is checked.)
    let wheel = at("pointer axis vertical 15");
    let b = at(&format!("key {KEY_B} pressed"));
    at(&format!("key {KEY_B} released"));
    assert!(
        enter < focus && focus < press && press < release && release < wheel && wheel < b,
        "{log}"
    );
    assert!(
        !stdout.contains(&format!("key {KEY_A} ")),
        "a key typed before the click reached the client\n{log}"
    );
    let inner = RgbaImage::read_png(&dir.path().join("inner.png")).expect("nested screenshot");
    assert_eq!((inner.width, inner.height), RESIZED);
    assert_host_shows(&resized, &inner, 0, "xvfb");
}

#[test]
fn nested_on_xvfb_stops_cleanly_when_the_x_server_goes_away() {
    let Some((x, dir)) = x11_host("nested_on_xvfb_stops_cleanly_when_the_x_server_goes_away")
    else {
        return;
    };
    let client_size = format!("{}x{}", CLIENT.0, CLIENT.1);
    let client = [
        "planar-client",
        "show",
        "--size",
        &client_size,
        "--frames",
        "0",
    ];
    let nested = nested_planar(
        &[("XDG_RUNTIME_DIR", dir.path())],
        &[("DISPLAY", &x.display)],
        dir.path(),
        &[],
        &client,
    );
    let screen = x
        .wait_for(Duration::from_secs(60), |img| quads_at_origin(img).is_ok())
        .unwrap();
    // Xlib would end the process on the spot; planar stops as on SIGTERM instead.
    drop(x);
    let out = wait_until_exit(nested, Duration::from_secs(30));
    let log = String::from_utf8_lossy(&out.stderr);
    quads_at_origin(&screen).unwrap_or_else(|e| panic!("X never showed the client: {e}\n{log}"));
    assert_eq!(out.status.code(), Some(143), "{log}");
    assert!(log.contains("the nested window's host went away"), "{log}");
    let inner = RgbaImage::read_png(&dir.path().join("inner.png")).expect("screenshot written");
    quads_at_origin(&inner).unwrap_or_else(|e| panic!("nested screenshot: {e}\n{log}"));
    assert_eq!(
        read_report(&dir.path().join("inner.json")).len(),
        1,
        "{log}"
    );
}

#[test]
fn nested_without_a_session_says_so() {
    let dir = runtime_dir();
    let out = Command::new(bin("planar"))
        .args(["run", "--backend", "nested", "--", "true"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    assert!(
        stderr.contains("is WAYLAND_DISPLAY or DISPLAY set?"),
        "{stderr}"
    );
}

/// Only what changed is sent to the host (the swap carries the frame's damage); the host
/// must still end up with exactly the nested output after partial updates: a window that
/// goes away (its area redrawn as background) and a smaller one in its place.
#[test]
fn nested_partial_updates_reach_the_host() {
    let test = "nested_partial_updates_reach_the_host";
    if let Some(reason) = gles_unavailable() {
        return skip(test, &reason);
    }
    let dir = runtime_dir();
    let outer = planar_host(dir.path());
    let script = "planar-client show --size 200x100 && \
                  exec planar-client show --size 60x40 --pattern solid:00ff00 --frames 0";
    let mut nested = nested_planar(
        &[("XDG_RUNTIME_DIR", outer.runtime.path())],
        &[("WAYLAND_DISPLAY", &outer.socket)],
        dir.path(),
        &["--socket", "nested-inner", "--allow-capture", "all"],
        &["sh", "-c", script],
    );
    let green = [0, 255, 0, 255];
    // The second client is up, and the first one's quads are gone around it.
    let last = capture_until(&outer, &mut nested, |img| {
        img.pixel(10, 10) == green
            && img.pixel(150, 25) == BACKGROUND
            && img.pixel(30, 75) == BACKGROUND
    });
    // The nested output itself, captured live (its --screenshot froze when the first
    // window went away, as planar's screenshots do).
    let inner = UnixStream::connect(outer.runtime.path().join("nested-inner"))
        .map(wayland_client::Connection::from_socket)
        .map(|c| c.unwrap())
        .map(|c| {
            PlanarTest::new(&c)
                .unwrap()
                .capture()
                .unwrap()
                .expect("inner capture")
                .0
        });
    sigterm(&nested);
    let out = nested.wait_with_output().unwrap();
    outer.stop();
    let log = String::from_utf8_lossy(&out.stderr);
    let inner = inner.unwrap_or_else(|e| panic!("connecting to the nested planar: {e}\n{log}"));
    let last = last.expect("at least one capture");
    assert_eq!(last.pixel(10, 10), green, "{log}");
    assert_eq!(
        last.pixel(150, 25),
        BACKGROUND,
        "old quads left on the host\n{log}"
    );
    assert_eq!(
        last.pixel(30, 75),
        BACKGROUND,
        "old quads left on the host\n{log}"
    );
    assert_host_shows(&last, &inner, 0, &log);
    let outer_img = RgbaImage::read_png(&dir.path().join("outer.png")).expect("outer screenshot");
    assert_host_shows(&outer_img, &inner, 0, &log);
}
