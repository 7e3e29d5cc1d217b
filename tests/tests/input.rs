//! Driving the app under test: `--script` steps, `planar-client do`, planar-test-v1 input
//! and the standard virtual keyboard/pointer, checked by what real apps print (a GTK 4
//! form, weston-eventdemo, foot, planar-client input), plus who may inject, a mismatching
//! `expect` and byte-identical screenshots across runs.

use std::{path::Path, time::Duration};

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{find_program, gtk_unavailable, planar_run, runtime_dir, skip, RunOutput, Server},
    test_client::PlanarTest,
};

const LIMIT: Duration = Duration::from_secs(120);
/// `planar run --script`'s exit status when a step fails.
const EXIT_STEP_FAILED: i32 = 123;

fn gtk_form() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/apps/gtk_form.py").to_string()
}

/// Runs `planar run ARGS --script SCRIPT -- CMD` with the script written to `dir`.
fn run_script(dir: &Path, args: &[&str], script: &str, cmd: &[&str]) -> RunOutput {
    let path = dir.join("steps.txt");
    std::fs::write(&path, script).unwrap();
    let mut all = args.to_vec();
    all.extend(["--script", path.to_str().unwrap()]);
    planar_run(Some(dir), &all, cmd, LIMIT)
}

/// The GTK form driven by a script; `GSK_RENDERER=cairo` keeps GTK off llvmpipe's GL,
/// which is slow on two shared cores and not what this test is about.
fn gtk_form_run(dir: &Path, shot: &Path) -> RunOutput {
    let script = format!(
        "# the form: button in the top half, entry in the bottom half\n\
         wait-window planar form\n\
         click 200 50\n\
         click 200 150\n\
         type hello planar\n\
         key Return\n\
         wait-idle\n\
         screenshot {}\n",
        shot.display()
    );
    let app = gtk_form();
    run_script(
        dir,
        &["--refresh", "0", "--clock", "virtual", "--size", "480x240"],
        &script,
        &["env", "GSK_RENDERER=cairo", "GTK_A11Y=none", &app],
    )
}

#[test]
fn gtk_form_is_driven_by_a_script() {
    if let Some(reason) = gtk_unavailable() {
        return skip("gtk_form_is_driven_by_a_script", &reason);
    }
    let dir = runtime_dir();
    let shot = dir.path().join("form.png");
    let out = gtk_form_run(dir.path(), &shot);
    assert_eq!(out.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
    // The app's own output: the click on the button, then the typed text on Return.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let clicked = lines.iter().position(|l| *l == "clicked");
    let activated = lines.iter().position(|l| *l == "activated hello planar");
    assert!(
        clicked.is_some() && activated > clicked,
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    // Each step is logged.
    for step in [
        "click 200 150",
        "type hello planar",
        "wait-idle",
        "script finished",
    ] {
        assert!(
            out.stderr.contains(step),
            "{step:?} not logged: {}",
            out.stderr
        );
    }
    // The screenshot shows the form: the entry (bottom half of 400x200) has dark text
    // pixels on its light background, the right of the output is planar's background.
    let img = RgbaImage::read_png(&shot).unwrap();
    assert_eq!((img.width, img.height), (480, 240));
    let dark = (110..190)
        .flat_map(|y| (0..400).map(move |x| (x, y)))
        .filter(|&(x, y)| img.pixel(x, y)[..3].iter().all(|c| *c < 100))
        .count();
    assert!(dark > 50, "only {dark} dark pixels in the entry");
    assert_eq!(img.pixel(450, 100), [32, 32, 48, 255]);
}

#[test]
fn script_runs_give_identical_screenshots() {
    if let Some(reason) = gtk_unavailable() {
        return skip("script_runs_give_identical_screenshots", &reason);
    }
    let dir = runtime_dir();
    let shots: Vec<Vec<u8>> = (0..2)
        .map(|i| {
            let shot = dir.path().join(format!("run{i}.png"));
            let out = gtk_form_run(dir.path(), &shot);
            assert_eq!(out.code(), Some(0), "run {i}: {}", out.stderr);
            std::fs::read(&shot).unwrap()
        })
        .collect();
    assert!(shots[0] == shots[1], "the two runs' screenshots differ");
}

#[test]
fn weston_eventdemo_logs_scripted_input() {
    if find_program("weston-eventdemo").is_none() {
        return skip(
            "weston_eventdemo_logs_scripted_input",
            "weston-eventdemo is not installed (Debian package weston)",
        );
    }
    let dir = runtime_dir();
    let out = run_script(
        dir.path(),
        &["--refresh", "0", "--size", "640x480"],
        "wait-window\nmove 100 80\nclick 120 90 right\nscroll 0 2\ntype a\nkey ctrl+Return\nwait-idle\n",
        &[
            "stdbuf",
            "-oL",
            "weston-eventdemo",
            "--log-key",
            "--log-button",
            "--log-axis",
            "--log-motion",
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // toytoolkit draws a 32-pixel shadow outside its window geometry, and planar puts the
    // geometry at the output's top-left: surface coordinates are output + 32.
    for expected in [
        "motion time: ",
        "x: 152.000000, y: 122.000000",
        "button: 273, state: pressed, x: 152, y: 122",
        "button: 273, state: released, x: 152, y: 122",
        "axis discrete axis: 0 value: 2",
        "axis: vertical, value: 30.000000",
        "key key: 30, unicode: 97, state: pressed, modifiers: 0x0",
        "key key: 28, unicode: 65293, state: pressed, modifiers: 0x4",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} missing from:\n{}",
            out.stdout
        );
    }
}

#[test]
fn wtype_types_a_line_into_foot() {
    for program in ["foot", "wtype"] {
        if find_program(program).is_none() {
            return skip(
                "wtype_types_a_line_into_foot",
                &format!("{program} is not installed (Debian package {program})"),
            );
        }
    }
    let dir = runtime_dir();
    let file = dir.path().join("typed.txt");
    // No click: foot has keyboard focus as the newest window once it is shown.
    let script = format!(
        "foot sh -c 'read line; printf \"%s\\n\" \"$line\" > {}' &\n\
         planar-client do wait-window\n\
         wtype 'hello from wtype'\n\
         wtype -k Return\n\
         wait\n",
        file.display()
    );
    let out = planar_run(
        Some(dir.path()),
        &["--refresh", "0", "--size", "640x480", "--timeout", "60"],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        "hello from wtype\n",
        "{}",
        out.stderr
    );
}

#[test]
fn planar_client_do_drives_the_session() {
    let dir = runtime_dir();
    let log = dir.path().join("input.log");
    let script = format!(
        "planar-client input > {} &\n\
         planar-client do wait-window 'click 30 40' 'type a@B' 'key shift+Tab' 'scroll 0 -1' wait-idle || exit 9\n\
         planar-client do 'type 日本'; echo \"unmappable=$?\"\n\
         planar-client do 'key Escape'\n\
         wait\n",
        log.display()
    );
    let out = planar_run(
        Some(dir.path()),
        &["--refresh", "0"],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("unmappable=123"), "{}", out.stdout);
    assert!(
        out.stderr.contains("character '日' is not in the keymap"),
        "{}",
        out.stderr
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let events: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("pointer") || l.starts_with("key "))
        .collect();
    // evdev codes: a 30, Shift 42, 2 with Shift for @, b 48 with Shift, Tab 15, Esc 1.
    let expected = [
        "pointer enter 30 40",
        "pointer button 272 pressed",
        "pointer button 272 released",
        "key 30 pressed",
        "key 30 released",
        "key 42 pressed",
        "key 3 pressed",
        "key 3 released",
        "key 42 released",
        "key 42 pressed",
        "key 48 pressed",
        "key 48 released",
        "key 42 released",
        "key 42 pressed",
        "key 15 pressed",
        "key 15 released",
        "key 42 released",
        "pointer axis vertical -15",
        "key 1 pressed",
        "key 1 released",
    ];
    assert_eq!(events, expected, "{log}");
}

/// Shows `planar-client input` on `server` and returns it with its stdout file.
fn input_client(server: &Server) -> (std::process::Child, std::path::PathBuf) {
    let log = server.runtime.path().join("client.log");
    let child = server
        .client_command(&planar_tests::fixture::bin("planar-client"))
        .arg("input")
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (child, log)
}

/// A stranger's virtual pointer (this test process, not started by planar): returns
/// whether the shown client saw its button press.
fn stranger_pointer_reaches_client(allow_input: &str) -> (bool, String) {
    use wayland_client::{globals::registry_queue_init, protocol::wl_seat::WlSeat};
    use wayland_protocols_wlr::virtual_pointer::v1::client::{
        zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
        zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
    };
    struct S;
    wayland_client::delegate_noop!(S: ignore ZwlrVirtualPointerManagerV1);
    wayland_client::delegate_noop!(S: ignore ZwlrVirtualPointerV1);
    wayland_client::delegate_noop!(S: ignore WlSeat);
    impl
        wayland_client::Dispatch<
            wayland_client::protocol::wl_registry::WlRegistry,
            wayland_client::globals::GlobalListContents,
        > for S
    {
        fn event(
            _: &mut Self,
            _: &wayland_client::protocol::wl_registry::WlRegistry,
            _: wayland_client::protocol::wl_registry::Event,
            _: &wayland_client::globals::GlobalListContents,
            _: &wayland_client::Connection,
            _: &wayland_client::QueueHandle<Self>,
        ) {
        }
    }

    let server = Server::start(&[
        "--renderer",
        "pixman",
        "--refresh",
        "0",
        "--allow-input",
        allow_input,
    ])
    .unwrap();
    let (mut client, log) = input_client(&server);
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    assert!(test.wait_window("planar-client", LIMIT).unwrap().is_some());
    let (globals, mut queue) = registry_queue_init::<S>(&conn).unwrap();
    let qh = queue.handle();
    let manager: ZwlrVirtualPointerManagerV1 = globals.bind(&qh, 1..=2, ()).unwrap();
    let pointer = manager.create_virtual_pointer(None, &qh, ());
    pointer.motion_absolute(0, 40, 50, 256, 256);
    pointer.frame();
    pointer.button(
        0,
        0x110,
        wayland_client::protocol::wl_pointer::ButtonState::Pressed,
    );
    pointer.frame();
    pointer.button(
        0,
        0x110,
        wayland_client::protocol::wl_pointer::ButtonState::Released,
    );
    pointer.frame();
    queue.roundtrip(&mut S).unwrap();
    // The shown client has read everything sent before it answers the barrier's ping.
    assert!(test.barrier(LIMIT).unwrap().is_some());
    let _ = client.kill();
    let _ = client.wait();
    let seen = std::fs::read_to_string(&log).unwrap();
    (seen.contains("pointer button 272 pressed"), server.log())
}

#[test]
fn strangers_are_refused_virtual_input() {
    // planar-test-v1 input from this process (a stranger): the unauthorized error.
    let server = Server::start(&["--renderer", "pixman", "--refresh", "0"]).unwrap();
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    test.text("x").unwrap();
    let err = test.sync().unwrap_err().to_string();
    assert!(err.contains("was not started by planar run"), "{err}");
    assert!(err.contains("--allow-input all"), "{err}");

    // The virtual pointer: dropped for a stranger, delivered with --allow-input all.
    let (seen, log) = stranger_pointer_reaches_client("spawned");
    assert!(!seen, "a stranger's virtual pointer reached the client");
    assert!(log.contains("virtual pointer refused"), "{log}");
    let (seen, log) = stranger_pointer_reaches_client("all");
    assert!(
        seen,
        "with --allow-input all the virtual pointer must work\n{log}"
    );

    // The virtual keyboard: wtype, a stranger, gets the unauthorized error.
    if find_program("wtype").is_none() {
        return skip(
            "strangers_are_refused_virtual_input[wtype]",
            "wtype is not installed (Debian package wtype)",
        );
    }
    for (allow, refused) in [("spawned", true), ("all", false)] {
        let server = Server::start(&[
            "--renderer",
            "pixman",
            "--refresh",
            "0",
            "--allow-input",
            allow,
        ])
        .unwrap();
        let out = server
            .client_command(Path::new("wtype"))
            .arg("x")
            .output()
            .unwrap();
        // wtype prints the protocol error but exits 0 all the same.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("error 0: pid") && stderr.contains("not started by planar run"),
            refused,
            "--allow-input {allow}: {out:?}"
        );
        let log = server.log();
        assert_eq!(
            log.contains("virtual keyboard refused"),
            refused,
            "--allow-input {allow}: {log}"
        );
    }
}

#[test]
fn touch_reaches_the_client() {
    let server = Server::start(&[
        "--renderer",
        "pixman",
        "--refresh",
        "0",
        "--allow-input",
        "all",
    ])
    .unwrap();
    let (mut client, log) = input_client(&server);
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    assert!(test.wait_window("planar-client", LIMIT).unwrap().is_some());
    test.touch_down(3, 20.0, 30.0).unwrap();
    test.touch_motion(3, 25.0, 35.0).unwrap();
    test.touch_up(3).unwrap();
    test.sync().unwrap();
    assert!(test.barrier(LIMIT).unwrap().is_some());
    let _ = client.kill();
    let _ = client.wait();
    let seen = std::fs::read_to_string(&log).unwrap();
    for expected in ["touch down 3 20 30", "touch motion 3 25 35", "touch up 3"] {
        assert!(
            seen.contains(expected),
            "{expected:?} missing from:\n{seen}"
        );
    }
}

#[test]
fn script_expect_mismatch_names_the_line() {
    let dir = runtime_dir();
    // A reference of the right size in one colour the client never draws.
    let reference = dir.path().join("ref.png");
    RgbaImage {
        width: 320,
        height: 240,
        data: [255u8, 0, 255, 255].repeat(320 * 240),
    }
    .write_png(&reference)
    .unwrap();
    let never = dir.path().join("never.png");
    let script = format!(
        "wait-window\n\n# compare\nexpect {} --fuzz 2\nscreenshot {}\n",
        reference.display(),
        never.display()
    );
    let out = run_script(
        dir.path(),
        &[
            "--refresh",
            "0",
            "--size",
            "320x240",
            "--renderer",
            "pixman",
        ],
        &script,
        &["planar-client", "input"],
    );
    assert_eq!(out.code(), Some(EXIT_STEP_FAILED), "{}", out.stderr);
    assert!(
        out.stderr.contains("script line 4 (expect"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("worst at ("), "{}", out.stderr);
    assert!(dir.path().join("ref.diff.png").exists(), "{}", out.stderr);
    assert!(dir.path().join("ref.actual.png").exists());
    assert!(!never.exists(), "the run went on past the failing step");

    // A script that does not parse fails before the command runs, naming the line.
    let out = run_script(dir.path(), &[], "wait-window\nclick 1\n", &["true"]);
    assert_eq!(out.code(), Some(70), "{}", out.stderr);
    assert!(out.stderr.contains("line 2: click takes"), "{}", out.stderr);
}

#[test]
fn virtual_keyboard_keymap_larger_than_its_file_is_dropped() {
    use std::os::fd::AsFd;

    let mut server = Server::start(&["--renderer", "pixman", "--allow-input", "all"]).unwrap();
    let conn = server.connect().unwrap();
    let (mut queue, keyboard) = virtual_keyboard(&conn);
    // 16 bytes of file, 64 KiB claimed: mapped as is, reading past the end would SIGBUS.
    let file = planar_tests::memfd::sealed("keymap", b"xkb_keymap {};\n\0").unwrap();
    keyboard.keymap(1, file.as_fd(), 65536);
    keyboard.key(0, 30, 1);
    let err = queue.roundtrip(&mut NoEvents).unwrap_err().to_string();
    assert!(err.contains("before keymap"), "{err}");
    assert!(server.alive(), "planar died\n{}", server.log());
    assert!(
        server.log().contains("virtual keyboard keymap dropped"),
        "{}",
        server.log()
    );
    // Other clients carry on.
    let other = server.connect().unwrap();
    PlanarTest::new(&other).unwrap();
}

#[test]
fn a_keymap_that_does_not_compile_leaves_the_seat_without_a_keyboard() {
    // The default keymap is compiled at the first wl_seat bind; one that cannot be is
    // warned of, and a virtual keyboard (smithay's types through the seat's keyboard) is
    // refused instead of stopping planar.
    let mut server = Server::start_with_env(
        &["--renderer", "pixman", "--allow-input", "all"],
        &[("XKB_DEFAULT_LAYOUT", "no-such-layout")],
    )
    .unwrap();
    let conn = server.connect().unwrap();
    let (mut queue, _keyboard) = virtual_keyboard(&conn);
    let err = queue.roundtrip(&mut NoEvents).unwrap_err().to_string();
    assert!(err.contains("no keyboard"), "{err}\n{}", server.log());
    assert!(server.alive(), "planar died\n{}", server.log());
    assert!(
        server.log().contains("the seat has no keyboard"),
        "{}",
        server.log()
    );
    let other = server.connect().unwrap();
    PlanarTest::new(&other).unwrap();
}

#[test]
fn keymap_option_types_through_the_layout() {
    let dir = runtime_dir();
    let out = run_script(
        dir.path(),
        &["--refresh", "0", "--keymap", "de"],
        "wait-window\ntype z@\nkey Escape\nwait-idle\n",
        &["planar-client", "input"],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let keys: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("key "))
        .collect();
    // German layout: z is where us has y (evdev 21); @ is AltGr+q, and the keymap's
    // first AltGr key (ISO_Level3_Shift without modifiers) is <LVL3>, evdev 84.
    assert_eq!(
        keys,
        [
            "key 21 pressed",
            "key 21 released",
            "key 84 pressed",
            "key 16 pressed",
            "key 16 released",
            "key 84 released",
            "key 1 pressed",
            "key 1 released"
        ],
        "{}",
        out.stdout
    );
}

#[test]
fn command_exiting_mid_script_fails_the_step() {
    let dir = runtime_dir();
    let out = run_script(
        dir.path(),
        &["--renderer", "pixman"],
        "# no window ever comes\nwait-window never\nwait-idle\n",
        &["sh", "-c", "sleep 0.3; exit 4"],
    );
    assert_eq!(out.code(), Some(EXIT_STEP_FAILED), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("script line 2 (wait-window never): the command exited (status 4)"),
        "{}",
        out.stderr
    );
    // Only waits left when it exits: the run ends with the command's status.
    let out = run_script(
        dir.path(),
        &["--renderer", "pixman"],
        "sleep 5000\n",
        &["sh", "-c", "sleep 0.3; exit 4"],
    );
    assert_eq!(out.code(), Some(4), "{}", out.stderr);
}

#[test]
fn waits_are_bounded_per_client() {
    let mut server = Server::start(&["--renderer", "pixman", "--refresh", "0"]).unwrap();
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    for _ in 0..64 {
        test.barrier_nowait(Duration::from_secs(60)).unwrap();
    }
    // No shell client to ping: the 64 are pending for their quiet period, then done.
    test.sync().unwrap();
    for _ in 0..70 {
        test.barrier_nowait(Duration::from_secs(60)).unwrap();
    }
    let err = test.sync().unwrap_err().to_string();
    assert!(err.contains("more than 64 waits pending"), "{err}");
    assert!(server.alive(), "{}", server.log());
    let other = server.connect().unwrap();
    let mut other = PlanarTest::new(&other).unwrap();
    assert!(other.barrier(LIMIT).unwrap().is_some());
}

#[test]
fn surface_local_motion_is_relative_to_the_surface() {
    use planar_tests::{pattern::quads_xrgb8888, shm_client::shm_buffer, window::Window};
    use wayland_client::protocol::wl_shm::WlShm;
    let server = Server::start(&[
        "--renderer",
        "pixman",
        "--refresh",
        "0",
        "--allow-input",
        "all",
    ])
    .unwrap();
    let (mut client, log) = input_client(&server);
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    assert!(test.wait_window("planar-client", LIMIT).unwrap().is_some());
    // A 100x100 surface whose window geometry starts 20 px into it: planar puts the
    // geometry at the output's origin, so the surface's origin is at (-20, -20).
    let mut window = Window::new(&conn, "local").unwrap();
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .unwrap();
    let pixels = quads_xrgb8888(100, 100, 400);
    let buffer = shm_buffer(&shm, window.queue_handle(), 100, 100, 400, &pixels).unwrap();
    window.xdg_surface().set_window_geometry(20, 20, 80, 80);
    window.show(&buffer, 100, None, 100);
    window.wait_presented().unwrap();
    // (170, 150) on that surface is (150, 130) on the output: past its window, on the
    // 256x256 planar-client input below.
    test.pointer_motion(Some(window.surface()), 170.0, 150.0)
        .unwrap();
    test.sync().unwrap();
    let start = std::time::Instant::now();
    let mut seen = String::new();
    while start.elapsed() < Duration::from_secs(20) && !seen.contains("pointer enter") {
        std::thread::sleep(Duration::from_millis(20));
        seen = std::fs::read_to_string(&log).unwrap_or_default();
    }
    let _ = client.kill();
    let _ = client.wait();
    assert!(seen.contains("pointer enter 150 130"), "{seen}");
}

#[test]
fn newest_window_has_focus_and_a_click_moves_it() {
    let dir = runtime_dir();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    // A (256x256) first; B (100x100, newer, on top) takes focus when shown; a click at
    // (200, 200), on A only, gives A focus back.
    let script = format!(
        "planar-client input > {a} &\n\
         planar-client do 'wait-window planar-client input' || exit 9\n\
         planar-client input --size 100x100 --title second > {b} &\n\
         planar-client do 'wait-window second' 'type b' 'click 200 200' 'type a' 'key Escape' wait-idle || exit 9\n\
         planar-client do 'type c' 'key Escape' wait-idle || exit 9\n\
         wait\n",
        a = a.display(),
        b = b.display()
    );
    let out = planar_run(
        Some(dir.path()),
        &["--refresh", "0", "--timeout", "60"],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| {
                l.starts_with("keyboard enter")
                    || l.starts_with("keyboard leave")
                    || l.starts_with("key ")
                    || l.starts_with("pointer button")
            })
            .map(String::from)
            .collect()
    };
    // evdev: b 48, a 30, c 46, Escape 1. After A quits on Escape, B (the topmost left)
    // gets focus again and takes c.
    assert_eq!(
        lines(&a),
        [
            "keyboard enter",
            "keyboard leave",
            // The press gives focus first, then is delivered.
            "keyboard enter",
            "pointer button 272 pressed",
            "pointer button 272 released",
            "key 30 pressed",
            "key 30 released",
            "key 1 pressed",
            "key 1 released"
        ],
        "A"
    );
    assert_eq!(
        lines(&b),
        [
            "keyboard enter",
            "key 48 pressed",
            "key 48 released",
            "keyboard leave",
            "keyboard enter",
            "key 46 pressed",
            "key 46 released",
            "key 1 pressed",
            "key 1 released"
        ],
        "B"
    );
}

/// A client state that ignores every event (the virtual keyboard tests).
struct NoEvents;
wayland_client::delegate_noop!(NoEvents: ignore wayland_client::protocol::wl_seat::WlSeat);
wayland_client::delegate_noop!(NoEvents: ignore wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1);
wayland_client::delegate_noop!(NoEvents: ignore wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1);
planar_tests::ignore_registry_events!(NoEvents);

/// Binds wl_seat (planar makes its keyboard then) and makes a virtual keyboard on it.
fn virtual_keyboard(
    conn: &wayland_client::Connection,
) -> (
    wayland_client::EventQueue<NoEvents>,
    wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
){
    use wayland_client::protocol::wl_seat::WlSeat;
    use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1;
    let (globals, queue) = wayland_client::globals::registry_queue_init::<NoEvents>(conn).unwrap();
    let qh = queue.handle();
    let seat: WlSeat = globals.bind(&qh, 1..=7, ()).unwrap();
    let manager: ZwpVirtualKeyboardManagerV1 = globals.bind(&qh, 1..=1, ()).unwrap();
    let keyboard = manager.create_virtual_keyboard(&seat, &qh, ());
    (queue, keyboard)
}
