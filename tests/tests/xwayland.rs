//! `planar run --xwayland`: X11 apps in the headless session. xdpyinfo answers on the
//! DISPLAY planar gives CMD; xterm (one solid colour) and xeyes appear at the output's
//! top-left at the size X11 reports; glxgears (GLX on llvmpipe) draws its gears; a Wayland
//! client and an X11 client show side by side; override-redirect windows keep their
//! position; the newest X11 window gets the X input focus, and the focus comes back when a
//! newer window goes; nested mode; planar carries on
//! when Xwayland ends; without the Xwayland binary `--xwayland` fails at start naming the
//! package; in nested mode on Xvfb, a click and typed keys reach an xterm's shell.
//! Scripted input into an X11 window in headless mode needs the input issue's `--script`
//! (not on this branch yet).

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{bin, path_with_bins, planar_run, runtime_dir, skip},
    pattern::quads_rgb,
    test_client::PlanarTest,
    xwayland::{have, solid, solid_xterm, Session},
};

/// planar's background.
const BACKGROUND: [u8; 4] = [32, 32, 48, 255];
const LIMIT: Duration = Duration::from_secs(90);

/// The pixels just right of and below the rectangle are planar's background.
fn background_around(img: &RgbaImage, w: u32, h: u32) -> Result<(), String> {
    for (x, y) in [(w, 0), (w, h / 2), (0, h), (w / 2, h), (w, h)] {
        if x < img.width && y < img.height && img.pixel(x, y) != BACKGROUND {
            return Err(format!(
                "({x}, {y}) is {:?}, not the background",
                img.pixel(x, y)
            ));
        }
    }
    Ok(())
}

#[test]
fn xdpyinfo_answers_on_the_display_planar_gives_the_command() {
    if !have(
        "xdpyinfo_answers_on_the_display_planar_gives_the_command",
        &["xdpyinfo"],
    ) {
        return;
    }
    let dir = runtime_dir();
    let out = planar_run(
        Some(dir.path()),
        &["--xwayland"],
        &["sh", "-c", "echo \"DISPLAY=$DISPLAY\"; xdpyinfo"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let display = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("DISPLAY="))
        .expect("DISPLAY printed");
    assert!(display.starts_with(':'), "DISPLAY={display}");
    assert!(
        out.stdout
            .contains(&format!("name of display:    {display}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("The X.Org Foundation"),
        "{}",
        out.stdout
    );
}

#[test]
fn xterm_appears_at_the_top_left_at_the_size_x11_gives_it() {
    let test = "xterm_appears_at_the_top_left_at_the_size_x11_gives_it";
    if !have(test, &["xterm", "xwininfo"]) {
        return;
    }
    let mut s = Session::start("640x480");
    // Background, text and cursor all one colour: the whole window is that colour.
    s.spawn(
        "xterm",
        &[
            "-T",
            "planar-xterm",
            "-geometry",
            "30x8",
            "-bg",
            "rgb:20/c0/60",
            "-fg",
            "rgb:20/c0/60",
            "-cr",
            "rgb:20/c0/60",
            "-e",
            "sleep",
            "120",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let (x, y, w, h) = loop {
        if let Some(geo) = s.xwininfo("planar-xterm") {
            break geo;
        }
        assert!(Instant::now() < deadline, "xterm never mapped");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (x, y),
        (0, 0),
        "X11 places the window at the output's top-left"
    );
    assert!(w > 50 && h > 50 && w < 640 && h < 480, "{w}x{h}");
    s.wait_for("xterm at the top-left", |img| {
        solid(img, (0, 0, w, h), [0x20, 0xc0, 0x60])?;
        background_around(img, w, h)
    });
}

#[test]
fn xeyes_appears_at_the_top_left_with_white_eyes() {
    let test = "xeyes_appears_at_the_top_left_with_white_eyes";
    if !have(test, &["xeyes"]) {
        return;
    }
    let mut s = Session::start("400x300");
    s.spawn("xeyes", &["-geometry", "200x150"]);
    s.wait_for("xeyes at the top-left", |img| {
        // Two white eyes on black, centred in each half of the window.
        for x in [50, 150] {
            if img.pixel(x, 40)[..3] != [255, 255, 255] {
                return Err(format!(
                    "({x}, 40) is {:?}, not an eye's white",
                    img.pixel(x, 40)
                ));
            }
        }
        if img.pixel(2, 2)[..3] != [0, 0, 0] {
            return Err(format!("(2, 2) is {:?}, not xeyes' black", img.pixel(2, 2)));
        }
        background_around(img, 200, 150)
    });
}

#[test]
fn glxgears_draws_its_gears_on_llvmpipe() {
    let test = "glxgears_draws_its_gears_on_llvmpipe";
    if !have(test, &["glxgears"]) {
        return;
    }
    let mut s = Session::start("400x400");
    s.spawn("glxgears", &["-geometry", "300x300"]);
    s.wait_for("glxgears' gears", |img| {
        // The red, green and blue gears, each some hundreds of pixels, all inside the
        // window's 300x300 at the top-left.
        let mut counts = [0u32; 3];
        for y in 0..300 {
            for x in 0..300 {
                let p = img.pixel(x, y);
                let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
                if r > 150 && g < 60 && b < 60 {
                    counts[0] += 1;
                } else if g > 150 && r < 60 && b < 60 {
                    counts[1] += 1;
                } else if b > 150 && r < 60 && g < 60 {
                    counts[2] += 1;
                }
            }
        }
        if counts.iter().any(|&n| n < 300) {
            return Err(format!("red, green, blue gear pixels: {counts:?}"));
        }
        background_around(img, 300, 300)
    });
}

#[test]
fn a_wayland_and_an_x11_client_show_side_by_side() {
    let test = "a_wayland_and_an_x11_client_show_side_by_side";
    if !have(test, &["xeyes"]) {
        return;
    }
    let mut s = Session::start("400x300");
    s.spawn("xeyes", &["-geometry", "300x200"]);
    s.wait_for("xeyes first", |img| {
        (img.pixel(225, 60)[..3] == [255, 255, 255])
            .then_some(())
            .ok_or_else(|| format!("(225, 60) is {:?}", img.pixel(225, 60)))
    });
    // The Wayland window is newer: on top, at the same top-left, smaller than xeyes.
    let client = bin("planar-client");
    s.spawn(
        client.to_str().unwrap(),
        &[
            "show", "--format", "XR24", "--size", "160x100", "--frames", "0",
        ],
    );
    s.wait_for("both windows", |img| {
        for (x, y) in [(10, 10), (150, 10), (10, 90), (150, 90)] {
            let want = quads_rgb(160, 100, x, y);
            if img.pixel(x, y)[..3] != want {
                return Err(format!(
                    "Wayland client at ({x}, {y}): {:?}, not {want:?}",
                    img.pixel(x, y)
                ));
            }
        }
        // The right eye of xeyes, beside the Wayland window.
        if img.pixel(225, 60)[..3] != [255, 255, 255] {
            return Err(format!("xeyes at (225, 60): {:?}", img.pixel(225, 60)));
        }
        background_around(img, 300, 200)
    });
}

#[test]
fn xwayland_without_the_binary_fails_at_start_naming_the_package() {
    let dir = runtime_dir();
    // A PATH with planar's binaries and nothing else: no Xwayland.
    let empty = dir.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let out = Command::new(bin("planar"))
        .args(["run", "--xwayland", "--", "true"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("PATH", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("install the `xwayland` package"),
        "{stderr}"
    );
}

#[test]
fn xwayland_works_in_nested_mode_inside_headless_planar() {
    let test = "xwayland_works_in_nested_mode_inside_headless_planar";
    if !have(test, &["xeyes"]) {
        return;
    }
    if let Some(why) = planar_tests::fixture::gles_unavailable() {
        skip(test, &format!("nested mode draws with GLES: {why}"));
        return;
    }
    let outer =
        planar_tests::fixture::Server::start(&["--allow-capture", "all", "--size", "500x400"])
            .expect("outer planar");
    let mut capture = PlanarTest::new(&outer.connect().unwrap()).unwrap();
    let inner = Command::new(bin("planar"))
        .args([
            "run",
            "--backend",
            "nested",
            "--xwayland",
            "--size",
            "320x240",
            "--",
            "xeyes",
            "-geometry",
            "200x150",
        ])
        .env("XDG_RUNTIME_DIR", outer.runtime.path())
        .env("WAYLAND_DISPLAY", &outer.socket)
        .env("PATH", path_with_bins())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nested planar");
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _inner = Kill(inner);
    // The nested window sits at the outer output's top-left, xeyes at the nested
    // output's top-left: its eyes show through both.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (img, _) = capture.capture().unwrap().expect("capture allowed");
        let eyes = [50, 150]
            .iter()
            .all(|&x| img.pixel(x, 40)[..3] == [255, 255, 255]);
        let black = img.pixel(2, 2)[..3] == [0, 0, 0];
        // Beside xeyes, the nested planar's background; outside the window, the outer's.
        let inner_bg = img.pixel(250, 100) == BACKGROUND;
        let outer_bg = img.pixel(450, 350) == BACKGROUND;
        if eyes && black && inner_bg && outer_bg {
            break;
        }
        if Instant::now() > deadline {
            let path = outer.runtime.path().join("last.png");
            let _ = img.write_png(&path);
            panic!(
                "xeyes never showed through the nested planar (last capture {})\n{}",
                path.display(),
                outer.log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits up to 20 s for the X input focus to be on `want` (`what` names it).
fn await_x_focus(conn: &impl x11rb::connection::Connection, what: &str, want: u32) {
    use x11rb::protocol::xproto::ConnectionExt as _;
    let focus = || conn.get_input_focus().unwrap().reply().unwrap().focus;
    let deadline = Instant::now() + Duration::from_secs(20);
    while focus() != want {
        assert!(
            Instant::now() < deadline,
            "X input focus is {:#x}, not {what} ({want:#x})",
            focus()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_newest_x11_window_gets_the_x_input_focus() {
    let test = "the_newest_x11_window_gets_the_x_input_focus";
    if !have(test, &["xterm", "xwininfo"]) {
        return;
    }
    let mut s = Session::start("640x480");
    let (conn, _) = x11rb::connect(Some(&s.display)).expect("connect to Xwayland");
    for (name, rgb) in [
        ("planar-first", [0xc0, 0x20, 0x20]),
        ("planar-second", [0x20, 0x20, 0xc0]),
    ] {
        // Shown (its colour at the top-left, on top), then focused.
        let id = solid_xterm(&mut s, name, rgb);
        await_x_focus(&conn, name, id);
    }
}

/// A newer X11 window takes the X input focus when it is mapped; when it goes, the focus
/// comes back to the window planar's keyboard is still on (else the keys typed next reach
/// no X window). The newer window here is a bare x11rb window destroyed as soon as it has
/// the focus: most often before planar showed it, the case planar must mend itself.
#[test]
fn the_x_input_focus_comes_back_when_a_newer_window_goes() {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, WindowClass};
    let test = "the_x_input_focus_comes_back_when_a_newer_window_goes";
    if !have(test, &["xterm", "xwininfo"]) {
        return;
    }
    let mut s = Session::start("640x480");
    let (conn, screen) = x11rb::connect(Some(&s.display)).expect("connect to Xwayland");
    let root = conn.setup().roots[screen].root;
    let kept = solid_xterm(&mut s, "planar-kept", [0x20, 0xc0, 0x20]);
    await_x_focus(&conn, "the xterm", kept);
    for round in 0..3 {
        let brief = conn.generate_id().unwrap();
        let aux = CreateWindowAux::new();
        let class = WindowClass::INPUT_OUTPUT;
        conn.create_window(0, brief, root, 0, 0, 100, 80, 0, class, 0, &aux)
            .unwrap();
        conn.map_window(brief).unwrap();
        conn.flush().unwrap();
        await_x_focus(&conn, &format!("the newer window (round {round})"), brief);
        conn.destroy_window(brief).unwrap();
        conn.flush().unwrap();
        await_x_focus(&conn, &format!("the xterm again (round {round})"), kept);
    }
}

#[test]
fn planar_carries_on_when_xwayland_is_ended() {
    let test = "planar_carries_on_when_xwayland_is_ended";
    if !have(test, &["xeyes", "pgrep"]) {
        return;
    }
    let mut s = Session::start("400x300");
    s.spawn("xeyes", &["-geometry", "300x200"]);
    s.wait_for("xeyes", |img| {
        (img.pixel(225, 60)[..3] == [255, 255, 255])
            .then_some(())
            .ok_or_else(|| format!("(225, 60) is {:?}", img.pixel(225, 60)))
    });
    // planar's own Xwayland, found by its parent: SIGTERM must end it (planar blocks
    // SIGTERM for itself; Xwayland must not inherit that).
    let out = Command::new("pgrep")
        .args(["-P", &s.planar.id().to_string(), "-x", "Xwayland"])
        .output()
        .unwrap();
    let pid: i32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("planar's Xwayland child");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|st| !st.contains(") Z "))
            .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "Xwayland ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The X11 window is gone; Wayland clients are still served and captured.
    let client = bin("planar-client");
    s.spawn(
        client.to_str().unwrap(),
        &[
            "show", "--format", "XR24", "--size", "160x100", "--frames", "0",
        ],
    );
    s.wait_for("a Wayland client after Xwayland ended", |img| {
        let want = quads_rgb(160, 100, 150, 90);
        if img.pixel(150, 90)[..3] != want {
            return Err(format!("(150, 90) is {:?}", img.pixel(150, 90)));
        }
        // xeyes went with Xwayland.
        (img.pixel(225, 60) == BACKGROUND)
            .then_some(())
            .ok_or_else(|| format!("(225, 60) is {:?}, xeyes still shown", img.pixel(225, 60)))
    });
    assert!(matches!(s.planar.try_wait(), Ok(None)), "planar ended");
}

#[test]
fn managed_windows_go_top_left_and_override_redirect_ones_stay_where_they_ask() {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, WindowClass};
    let test = "managed_windows_go_top_left_and_override_redirect_ones_stay_where_they_ask";
    if !have(test, &[]) {
        return;
    }
    let mut s = Session::start("400x300");
    let (conn, screen) = x11rb::connect(Some(&s.display)).expect("connect to Xwayland");
    let root = conn.setup().roots[screen].clone();
    let window = |x: i16, y: i16, w: u16, h: u16, pixel: u32, override_redirect: bool| {
        let id = conn.generate_id().unwrap();
        conn.create_window(
            root.root_depth,
            id,
            root.root,
            x,
            y,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .background_pixel(pixel)
                .override_redirect(u32::from(override_redirect)),
        )
        .unwrap();
        conn.map_window(id).unwrap();
        conn.flush().unwrap();
    };
    // Asks for (150, 100): placed at the output's top-left like any toplevel.
    window(150, 100, 100, 60, 0xc02020, false);
    s.wait_for("the managed window at the top-left", |img| {
        solid(img, (0, 0, 100, 60), [0xc0, 0x20, 0x20])?;
        background_around(img, 100, 60)
    });
    // A menu-like override-redirect window keeps its own position.
    window(200, 150, 80, 40, 0x2020c0, true);
    s.wait_for("the override-redirect window at (200, 150)", |img| {
        solid(img, (200, 150, 80, 40), [0x20, 0x20, 0xc0])?;
        for (x, y) in [(199, 150), (200, 149), (280, 170), (240, 190)] {
            if img.pixel(x, y) != BACKGROUND {
                return Err(format!(
                    "({x}, {y}) is {:?}, not the background",
                    img.pixel(x, y)
                ));
            }
        }
        solid(img, (0, 0, 100, 60), [0xc0, 0x20, 0x20])
    });
    drop(conn);
}

#[test]
fn typed_keys_reach_an_xterm_shell_in_nested_mode_on_xvfb() {
    let test = "typed_keys_reach_an_xterm_shell_in_nested_mode_on_xvfb";
    if !have(test, &["xterm", "Xvfb"]) {
        return;
    }
    if let Some(why) = planar_tests::fixture::gles_unavailable() {
        skip(test, &format!("nested mode draws with GLES: {why}"));
        return;
    }
    let x = planar_tests::x11::Xvfb::start(400, 300).expect("Xvfb");
    let dir = runtime_dir();
    let typed = dir.path().join("typed");
    let log = std::fs::File::create(dir.path().join("planar.log")).unwrap();
    let script = format!("read line; echo \"$line\" > {}", typed.display());
    let inner = Command::new(bin("planar"))
        .args([
            "run",
            "--backend",
            "nested",
            "--xwayland",
            "--size",
            "320x240",
            "--",
        ])
        .args([
            "xterm",
            "-geometry",
            "20x5",
            "-bg",
            "white",
            "-e",
            "sh",
            "-c",
            &script,
        ])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("PATH", path_with_bins())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nested planar");
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _inner = Kill(inner);
    let planar_log = || std::fs::read_to_string(dir.path().join("planar.log")).unwrap_or_default();
    // xterm's white, through Xwayland, the nested planar and Xvfb.
    let shown = x
        .wait_for(Duration::from_secs(40), |img| {
            img.pixel(60, 40)[..3] == [255, 255, 255]
        })
        .unwrap();
    if shown.pixel(60, 40)[..3] != [255, 255, 255] {
        let path = dir.path().join("xvfb.png");
        let _ = shown.write_png(&path);
        panic!(
            "Xvfb never showed xterm's white at (60, 40): {:?} ({})\n{}",
            shown.pixel(60, 40),
            path.display(),
            planar_log()
        );
    }
    // Click into xterm (keyboard focus follows the click), then type "hi" and Enter.
    const KEY_H: u32 = 35;
    const KEY_I: u32 = 23;
    const KEY_ENTER: u32 = 28;
    x.move_pointer(20, 20).unwrap();
    x.focus_top_window().unwrap();
    x.click(1).unwrap();
    for key in [KEY_H, KEY_I, KEY_ENTER] {
        x.tap_key(key).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&typed) {
            assert_eq!(text.trim(), "hi", "{}", planar_log());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the xterm's shell never read a line\n{}",
            planar_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn scripted_keys_reach_an_xterm_shell_headless() {
    let test = "scripted_keys_reach_an_xterm_shell_headless";
    if !have(test, &["xterm"]) {
        return;
    }
    let dir = runtime_dir();
    let typed = dir.path().join("typed");
    let script = dir.path().join("steps");
    // wait-window counts X11 windows (by their X11 title); no click first: the newest
    // window has the keyboard.
    std::fs::write(
        &script,
        "wait-window typed-here\ntype hello x11\nkey Return\nwait-idle\nsleep 300\n",
    )
    .unwrap();
    let shell = format!("read line; echo \"$line\" > {}", typed.display());
    let out = planar_run(
        Some(dir.path()),
        &["--xwayland", "--script", script.to_str().unwrap()],
        &["xterm", "-T", "typed-here", "-e", "sh", "-c", &shell],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let line = std::fs::read_to_string(&typed).unwrap_or_default();
    assert_eq!(line.trim_end(), "hello x11", "{}", out.stderr);
}
