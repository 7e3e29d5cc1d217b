//! A hostile or buggy client cannot hurt planar: sizes that smithay would assert on get
//! the protocol's error (or are ignored), capture is refused at every step to clients
//! planar did not start, and planar survives each case and keeps serving others.

use std::time::Duration;

use planar_tests::{
    capture::ShmTarget,
    fixture::Server,
    proc::{fd_count, fds_settle_to},
    shm_client::{self, shm_buffer, ShmClientConfig},
    window::Window,
};
use wayland_client::{
    backend::WaylandError,
    delegate_noop,
    globals::registry_queue_init,
    protocol::{wl_buffer::WlBuffer, wl_output::WlOutput, wl_shm::WlShm, wl_shm_pool::WlShmPool},
    Connection, Dispatch, QueueHandle,
};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
};

fn server(extra: &[&str]) -> Server {
    let mut args = vec!["--renderer", "pixman", "--size", "200x100"];
    args.extend_from_slice(extra);
    Server::start(&args).expect("planar starts")
}

/// A toplevel showing a 40x30 wl_shm buffer.
fn shown_window(server: &Server) -> Window {
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "hardening").unwrap();
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .unwrap();
    let buffer = shm_buffer(
        &shm,
        window.queue_handle(),
        40,
        30,
        160,
        &vec![0x80; 160 * 30],
    )
    .unwrap();
    window.show(&buffer, 40, None, 30);
    window.wait_presented().unwrap();
    window
}

/// The protocol error a roundtrip ended with: (interface, code).
fn protocol_error(conn: &Connection) -> Option<(String, u32)> {
    match conn.roundtrip() {
        Err(WaylandError::Protocol(e)) => Some((e.object_interface, e.code)),
        Err(e) => panic!("the connection broke without a protocol error: {e}"),
        Ok(_) => None,
    }
}

/// planar is alive and a new client still gets a window shown and a roundtrip answered.
fn still_serving(server: &mut Server) {
    assert!(server.alive(), "planar died:\n{}", server.log());
    let conn = server.connect().unwrap();
    shm_client::run_on(
        conn,
        &ShmClientConfig {
            width: 20,
            height: 20,
            frames: Some(1),
            title: "bystander".into(),
        },
    )
    .expect("a new client is served");
    assert!(server.alive(), "planar died:\n{}", server.log());
}

#[test]
fn negative_damage_is_ignored() {
    let mut server = server(&[]);
    let window = shown_window(&server);
    window.surface().damage(0, 0, -1, -1);
    window
        .surface()
        .damage(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
    window.surface().damage_buffer(0, 0, -5, -5);
    window
        .surface()
        .damage_buffer(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
    window.surface().commit();
    assert_eq!(protocol_error(&window.conn), None);
    still_serving(&mut server);
}

#[test]
fn negative_region_is_ignored() {
    use wayland_client::protocol::{wl_compositor::WlCompositor, wl_region::WlRegion};
    let mut server = server(&[]);
    let window = shown_window(&server);
    let compositor: WlCompositor = window
        .globals
        .bind(window.queue_handle(), 1..=6, ())
        .unwrap();
    let region: WlRegion = compositor.create_region(window.queue_handle(), ());
    region.add(0, 0, -1, -1);
    region.subtract(5, 5, -10, 3);
    region.add(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
    window.surface().set_input_region(Some(&region));
    window.surface().set_opaque_region(Some(&region));
    window.surface().commit();
    assert_eq!(protocol_error(&window.conn), None);
    still_serving(&mut server);
}

#[test]
fn window_geometry_of_non_positive_size_is_invalid_size() {
    let mut server = server(&[]);
    for (w, h) in [(-1, -1), (0, 10), (10, 0)] {
        let window = shown_window(&server);
        window.xdg_surface().set_window_geometry(0, 0, w, h);
        assert_eq!(
            protocol_error(&window.conn),
            Some(("xdg_surface".into(), 5)),
            "set_window_geometry(0, 0, {w}, {h})"
        );
    }
    // A huge but positive geometry is legal; planar must not overflow on it.
    let window = shown_window(&server);
    window
        .xdg_surface()
        .set_window_geometry(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
    window.surface().commit();
    assert_eq!(protocol_error(&window.conn), None);
    still_serving(&mut server);
}

#[test]
fn negative_min_or_max_size_is_invalid_size() {
    let mut server = server(&[]);
    let window = shown_window(&server);
    window.toplevel().set_min_size(-1, -1);
    assert_eq!(
        protocol_error(&window.conn),
        Some(("xdg_toplevel".into(), 2))
    );
    let window = shown_window(&server);
    window.toplevel().set_max_size(10, -1);
    assert_eq!(
        protocol_error(&window.conn),
        Some(("xdg_toplevel".into(), 2))
    );
    // Zero means "no limit": legal.
    let window = shown_window(&server);
    window.toplevel().set_min_size(0, 0);
    window.toplevel().set_max_size(0, 0);
    window.surface().commit();
    assert_eq!(protocol_error(&window.conn), None);
    still_serving(&mut server);
}

#[test]
fn huge_positions_and_sizes_elsewhere_do_not_panic() {
    const LIMIT: i32 = 1 << 20;
    use wayland_client::protocol::wl_compositor::WlCompositor;
    use wayland_protocols::xdg::shell::client::xdg_wm_base::XdgWmBase;
    let mut server = server(&[]);
    let window = shown_window(&server);
    // A subsurface placed at the far end of i32, and a buffer offset there too.
    let sub = window.subsurface(i32::MAX, i32::MAX).unwrap();
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .unwrap();
    let buffer = shm_buffer(&shm, window.queue_handle(), 4, 4, 16, &[0xff; 64]).unwrap();
    sub.attach(Some(&buffer), 0, 0);
    sub.damage(0, 0, i32::MAX, i32::MAX);
    sub.commit();
    window.surface().attach(None, 0, 0);
    window.surface().commit();
    let buffer2 = shm_buffer(&shm, window.queue_handle(), 4, 4, 16, &[0xff; 64]).unwrap();
    window.surface().attach(Some(&buffer2), 0, 0);
    window.surface().offset(i32::MAX, i32::MIN);
    window.surface().commit();
    assert_eq!(protocol_error(&window.conn), None);
    // A huge buffer scale, then damage that smithay multiplies by it.
    let buffer3 = shm_buffer(&shm, window.queue_handle(), 4, 4, 16, &[0xff; 64]).unwrap();
    sub.set_buffer_scale(i32::MAX);
    sub.attach(Some(&buffer3), 0, 0);
    sub.damage(0, 0, LIMIT, LIMIT);
    sub.damage_buffer(0, 0, LIMIT, LIMIT);
    sub.commit();
    window.surface().commit();
    assert_eq!(protocol_error(&window.conn), None);
    assert!(server.alive(), "planar died:\n{}", server.log());
    // A popup positioned at the far end of i32, with a negative parent size.
    let qh = window.queue_handle();
    let compositor: WlCompositor = window.globals.bind(qh, 1..=6, ()).unwrap();
    let wm_base: XdgWmBase = window.globals.bind(qh, 1..=6, ()).unwrap();
    let positioner = wm_base.create_positioner(qh, ());
    positioner.set_size(i32::MAX, i32::MAX);
    positioner.set_anchor_rect(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
    positioner.set_offset(i32::MAX, i32::MAX);
    positioner.set_parent_size(-1, -1);
    let popup_surface = compositor.create_surface(qh, ());
    let xdg = wm_base.get_xdg_surface(&popup_surface, qh, ());
    let _popup = xdg.get_popup(Some(window.xdg_surface()), &positioner, qh, ());
    popup_surface.commit();
    assert_eq!(protocol_error(&window.conn), None);
    still_serving(&mut server);
}

/// What a wlr-screencopy frame told the client.
#[derive(Default)]
struct Wlr {
    buffer: Option<(u32, u32, u32)>,
    buffer_done: bool,
    failed: u32,
    ready: bool,
}

impl Dispatch<ZwlrScreencopyFrameV1, ()> for Wlr {
    fn event(
        state: &mut Self,
        _: &ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_screencopy_frame_v1::Event::Buffer {
                width,
                height,
                stride,
                ..
            } => state.buffer = Some((width, height, stride)),
            zwlr_screencopy_frame_v1::Event::BufferDone => state.buffer_done = true,
            zwlr_screencopy_frame_v1::Event::Failed => state.failed += 1,
            zwlr_screencopy_frame_v1::Event::Ready { .. } => state.ready = true,
            _ => {}
        }
    }
}

planar_tests::ignore_registry_events!(Wlr);
delegate_noop!(Wlr: ignore ZwlrScreencopyManagerV1);
delegate_noop!(Wlr: ignore WlOutput);
delegate_noop!(Wlr: ignore WlShm);
delegate_noop!(Wlr: ignore WlShmPool);
delegate_noop!(Wlr: ignore WlBuffer);

struct WlrConn {
    queue: wayland_client::EventQueue<Wlr>,
    qh: QueueHandle<Wlr>,
    manager: ZwlrScreencopyManagerV1,
    output: WlOutput,
    shm: WlShm,
}

impl WlrConn {
    fn new(conn: &Connection) -> Self {
        let (globals, queue) = registry_queue_init::<Wlr>(conn).unwrap();
        let qh = queue.handle();
        WlrConn {
            manager: globals.bind(&qh, 1..=3, ()).unwrap(),
            output: globals.bind(&qh, 1..=4, ()).unwrap(),
            shm: globals.bind(&qh, 1..=1, ()).unwrap(),
            queue,
            qh,
        }
    }

    fn roundtrip(&mut self, state: &mut Wlr) {
        self.queue.roundtrip(state).expect("no protocol error");
    }
}

#[test]
fn wlr_region_near_i32_max_under_scale_2() {
    for allow in [&[][..], &["--allow-capture", "all"][..]] {
        let mut args = vec!["--scale", "2"];
        args.extend_from_slice(allow);
        let mut server = server(&args);
        let _window = shown_window(&server);
        let conn = server.connect().unwrap();
        let mut wlr = WlrConn::new(&conn);
        let mut state = Wlr::default();
        let m = i32::MAX - 1;
        for (x, y, w, h) in [(m, m, m, m), (0, 0, m, m), (-m, -m, m, m), (5, 5, -3, 4)] {
            let _frame = wlr
                .manager
                .capture_output_region(0, &wlr.output, x, y, w, h, &wlr.qh, ());
            wlr.roundtrip(&mut state);
            assert!(server.alive(), "planar died:\n{}", server.log());
        }
        // (0, 0, MAX, MAX) clipped to the output is the output; the rest are empty.
        if allow.is_empty() {
            assert_eq!(state.failed, 4);
        } else {
            assert_eq!(state.buffer, Some((200, 100, 800)));
            assert_eq!(state.failed, 3);
        }
        still_serving(&mut server);
    }
}

#[test]
fn wlr_copy_of_a_refused_frame_gets_no_pixels() {
    let mut server = server(&[]);
    let _window = shown_window(&server);
    let conn = server.connect().unwrap();
    let mut wlr = WlrConn::new(&conn);
    let mut state = Wlr::default();
    let frame = wlr.manager.capture_output(0, &wlr.output, &wlr.qh, ());
    wlr.roundtrip(&mut state);
    assert_eq!(state.failed, 1, "the stranger's capture is refused");
    // Copying the refused frame anyway must not hand out the screen.
    let target = ShmTarget::new(&wlr.shm, &wlr.qh, 200, 100, 800).unwrap();
    frame.copy(&target.buffer);
    wlr.roundtrip(&mut state);
    std::thread::sleep(Duration::from_millis(100));
    wlr.roundtrip(&mut state);
    assert!(!state.ready, "a refused frame was copied");
    let image = target.image().unwrap();
    assert!(
        image.data.chunks_exact(4).all(|p| p[..3] == [0, 0, 0]),
        "pixels reached the stranger's buffer"
    );
    assert!(server.log().contains("capture refused"), "{}", server.log());
    still_serving(&mut server);
}

/// Waits until `path` exists (planar made its socket, the command wrote its pid).
fn wait_for(path: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_panic_keeps_the_screenshot_and_report_ends_the_command_and_exits_70() {
    use planar_tests::fixture::{bin, runtime_dir, skip};
    // The trigger is compiled into debug builds of planar only.
    if !cfg!(debug_assertions) || planar_tests::fixture::bin_dir().ends_with("release") {
        return skip(
            "a_panic_keeps_the_screenshot_and_report_ends_the_command_and_exits_70",
            "the deliberate panic (PLANAR_TEST_PANIC) exists in debug builds only",
        );
    }
    let dir = runtime_dir();
    let (shot, report, pidfile) = (
        dir.path().join("shot.png"),
        dir.path().join("report.json"),
        dir.path().join("cmd.pid"),
    );
    let script = format!("echo $$ > {}; exec sleep 60", pidfile.display());
    let planar = std::process::Command::new(bin("planar"))
        .args(["run", "--renderer", "pixman", "--size", "200x100"])
        .args(["--socket", "panic", "--screenshot"])
        .arg(&shot)
        .arg("--report")
        .arg(&report)
        .args(["--", "sh", "-c", &script])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("PLANAR_TEST_PANIC", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&dir.path().join("panic"));
    wait_for(&pidfile);
    let cmd_pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stream = std::os::unix::net::UnixStream::connect(dir.path().join("panic")).unwrap();
    let conn = Connection::from_socket(stream).unwrap();
    let mut window = Window::new(&conn, "panic").unwrap();
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .unwrap();
    let buffer = shm_buffer(
        &shm,
        window.queue_handle(),
        40,
        30,
        160,
        &vec![0x80; 160 * 30],
    )
    .unwrap();
    window.show(&buffer, 40, None, 30);
    window.wait_presented().unwrap();
    let start = std::time::Instant::now();
    window.surface().damage(-1337, 0, 1, 1);
    window.surface().commit();
    let _ = conn.flush();
    let out = planar.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "planar waited for the command"
    );
    assert!(stderr.contains("planar panicked"), "{stderr}");
    assert!(
        !std::path::Path::new(&format!("/proc/{cmd_pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{cmd_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "the command is still running"
    );
    let image = planar_image::RgbaImage::read_png(&shot).expect("the screenshot");
    assert_eq!(image.pixel(5, 5), [0x80, 0x80, 0x80, 255]);
    assert_eq!(image.pixel(150, 50), [32, 32, 48, 255]);
    let report = std::fs::read_to_string(&report).expect("the report");
    assert!(report.trim_start().starts_with('['), "{report}");
}

/// Runs `planar-client capture --via VIA` as a stranger: a process this test started,
/// connecting to a planar it did not start, with `env` added.
fn stranger_capture(server: &Server, via: &str, env: &[(&str, &str)]) -> std::process::Output {
    let out = server.runtime.path().join(format!("stranger-{via}.png"));
    let mut cmd = server.client_command(&planar_tests::fixture::bin("planar-client"));
    cmd.args(["capture", "--via", via, "--out"]).arg(&out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn a_stranger_running_planar_client_is_refused() {
    let mut server = server(&[]);
    let _window = shown_window(&server);
    for via in ["planar-test", "wlr", "ext"] {
        // planar's own tool, and a guessed secret: neither opens capture any more.
        let out = stranger_capture(&server, via, &[("PLANAR_CAPTURE_TOKEN", "00112233")]);
        assert!(
            !out.status.success(),
            "{via}: a stranger captured:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("refused"),
            "{via}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        server.log().contains("does not carry its capture secret"),
        "{}",
        server.log()
    );
    still_serving(&mut server);
}

#[test]
fn planar_client_started_by_planar_may_capture_even_reparented() {
    use planar_tests::fixture::{bin, planar_run, runtime_dir};
    let dir = runtime_dir();
    let (direct, orphan, code) = (
        dir.path().join("direct.png"),
        dir.path().join("orphan.png"),
        dir.path().join("orphan.code"),
    );
    let client = bin("planar-client");
    // The second capture runs in a process whose parent exited first: it is no longer a
    // descendant of the command, and only the secret in its environment lets it capture.
    let script = format!(
        "{demo} --shm --size 40x30 --frames 0 & demo=$!; sleep 0.5; \
         {client} capture --via wlr --out {direct} || exit 11; \
         sh -c '(sleep 0.5; {client} capture --via planar-test --out {orphan}; echo $? > {code}) &'; \
         for i in $(seq 100); do [ -s {code} ] && break; sleep 0.1; done; \
         kill $demo; exit $(cat {code})",
        demo = bin("planar-demo").display(),
        client = client.display(),
        direct = direct.display(),
        orphan = orphan.display(),
        code = code.display(),
    );
    let out = planar_run(
        Some(dir.path()),
        &["--renderer", "pixman", "--size", "200x100"],
        &["sh", "-c", &script],
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    for png in [direct, orphan] {
        let image = planar_image::RgbaImage::read_png(&png).unwrap();
        assert_eq!((image.width, image.height), (200, 100));
        assert_eq!(image.pixel(150, 50), [32, 32, 48, 255]);
    }
}

/// Creates params objects, each `add`ing one fd (dup'ed by libwayland at marshal time) and
/// never `create`d, until planar ends the connection; returns the error and how many.
fn hoard_params(conn: Connection, max: usize) -> (usize, Option<(String, u32, String)>) {
    use planar_tests::dmabuf_client::{AddPlane, DmabufConn};
    use std::os::fd::AsFd;
    let fd = planar_tests::memfd::sealed("hoard", &[0u8; 4096]).unwrap();
    let mut c = DmabufConn::new(conn, 5).unwrap();
    for i in 0..max {
        c.params(&[AddPlane {
            fd: fd.as_fd(),
            plane_idx: 0,
            offset: 0,
            stride: 64,
            modifier: 0,
        }]);
        if i % 16 == 15 {
            if let Err(outcome) = c.roundtrip() {
                return match outcome {
                    planar_tests::dmabuf_client::Outcome::ProtocolError {
                        interface,
                        code,
                        message,
                    } => (i + 1, Some((interface, code, message))),
                    other => panic!("unexpected {other:?}"),
                };
            }
        }
    }
    (max, None)
}

/// A new client is served and may capture (the server runs with --allow-capture all).
fn new_client_gets_a_capture(server: &mut Server) {
    let _window = shown_window(server);
    let conn = server.connect().unwrap();
    match planar_tests::capture::wlr_screencopy(&conn).unwrap() {
        planar_tests::capture::Captured::Image(img) => {
            assert_eq!(img.pixel(5, 5), [0x80, 0x80, 0x80, 255]);
            assert_eq!(img.pixel(150, 50), [32, 32, 48, 255]);
        }
        planar_tests::capture::Captured::Refused => panic!("refused:\n{}", server.log()),
    }
}

#[test]
fn unused_params_hoarding_fds_is_cut_off_at_the_params_limit() {
    let mut server = server(&["--allow-capture", "all"]);
    let baseline = fd_count(server.pid()).unwrap_or(0);
    let (made, error) = hoard_params(server.connect().unwrap(), 20_000);
    let (interface, code, message) = error.expect("the hoarding client was stopped");
    assert_eq!((interface.as_str(), code), ("wl_display", 2), "{message}");
    assert!(message.contains("--limit params=N"), "{message}");
    assert!(made <= 64 + 16, "{made} params objects were allowed");
    assert!(server.alive(), "planar died:\n{}", server.log());
    let after = fds_settle_to(server.pid(), baseline);
    assert!(
        after <= baseline,
        "planar holds {after} fds, {baseline} before"
    );
    new_client_gets_a_capture(&mut server);
}

#[test]
fn fds_in_unused_params_are_cut_off_at_the_fd_limit() {
    let mut server = server(&[
        "--allow-capture",
        "all",
        "--limit",
        "params=100000",
        "--limit",
        "fds=40",
    ]);
    let baseline = fd_count(server.pid()).unwrap_or(0);
    let (made, error) = hoard_params(server.connect().unwrap(), 20_000);
    let (interface, code, message) = error.expect("the hoarding client was stopped");
    assert_eq!((interface.as_str(), code), ("wl_display", 2), "{message}");
    assert!(message.contains("--limit fds=N"), "{message}");
    assert!(made <= 40 + 16, "{made} fds were taken");
    assert!(
        server.log().contains("more than 40 fds"),
        "{}",
        server.log()
    );
    let after = fds_settle_to(server.pid(), baseline);
    assert!(
        after <= baseline,
        "planar holds {after} fds, {baseline} before"
    );
    new_client_gets_a_capture(&mut server);
}

/// How many of the fd numbers below `limit` the process `pid` has open (RLIMIT_NOFILE
/// bounds fd numbers: an inherited fd above it does not count against it).
fn low_fds(pid: u32, limit: u64) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
                .filter(|n| *n < limit)
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn accept_failing_with_emfile_does_not_end_planar() {
    use planar_tests::dmabuf_client::{AddPlane, DmabufConn};
    use std::os::{fd::AsFd, unix::process::CommandExt};
    const NOFILE: u64 = 64;
    let dir = planar_tests::fixture::runtime_dir();
    let log_path = dir.path().join("planar.log");
    let mut command = std::process::Command::new(planar_tests::fixture::bin("planar"));
    command
        .args(["run", "--renderer", "pixman", "--size", "200x100"])
        .args(["--socket", "emfile", "--allow-capture", "all"])
        .args(["--limit", "params=100000", "--limit", "fds=100000"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap());
    // SAFETY: only setrlimit between fork and exec. Soft = hard, so planar cannot raise it.
    unsafe {
        command.pre_exec(|| {
            let limit = rustix::process::Rlimit {
                current: Some(NOFILE),
                maximum: Some(NOFILE),
            };
            rustix::process::setrlimit(rustix::process::Resource::Nofile, limit)?;
            Ok(())
        });
    }
    let mut planar = command.spawn().unwrap();
    let socket = dir.path().join("emfile");
    wait_for(&socket);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let connect = move || {
        Connection::from_socket(std::os::unix::net::UnixStream::connect(&socket).unwrap()).unwrap()
    };

    // One client makes planar hold fds until it has none left.
    let fd = planar_tests::memfd::sealed("hoard", &[0u8; 4096]).unwrap();
    let mut hoarder = DmabufConn::new(connect(), 5).unwrap();
    let mut held = Vec::new();
    // Until the count stays there: fds planar sends (the format table) are closed only
    // once they are flushed.
    loop {
        while low_fds(planar.id(), NOFILE) < NOFILE as usize {
            held.push(hoarder.params(&[AddPlane {
                fd: fd.as_fd(),
                plane_idx: 0,
                offset: 0,
                stride: 64,
                modifier: 0,
            }]));
            hoarder
                .roundtrip()
                .expect("the hoarder is under its limits");
            assert!(
                held.len() < NOFILE as usize,
                "planar's fds do not grow:\n{}",
                log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        if low_fds(planar.id(), NOFILE) >= NOFILE as usize {
            break;
        }
    }
    // The next client cannot be accepted now; it waits in the backlog.
    let (tx, rx) = std::sync::mpsc::channel();
    let late = std::thread::spawn(move || {
        let conn = connect.clone()();
        let served = conn.roundtrip().is_ok();
        let _ = tx.send(served);
        conn
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        matches!(planar.try_wait(), Ok(None)),
        "planar ended:\n{}",
        log()
    );
    assert!(log().contains("accepting a client failed"), "{}", log());
    let early = rx.try_recv();
    assert!(
        early.is_err(),
        "served with no fd free? {early:?}\n{}",
        log()
    );
    // The hoarder leaves; its fds are closed and the waiting client is accepted.
    drop(held);
    drop(hoarder);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Ok(true),
        "the waiting client was never served:\n{}",
        log()
    );
    let conn = late.join().unwrap();
    drop(conn);
    assert!(matches!(planar.try_wait(), Ok(None)), "{}", log());
    let _ = planar.kill();
    let _ = planar.wait();
}

#[test]
fn dmabuf_buffers_past_the_limit_fail() {
    use planar_tests::dmabuf_client::{AddPlane, DmabufConn, Outcome};
    use std::os::fd::AsFd;
    let mut server = server(&["--limit", "buffers=3"]);
    let fd = planar_tests::memfd::sealed("xr24", &[0x80; 64 * 64 * 4]).unwrap();
    let mut c = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let xr24 = drm_fourcc::DrmFourcc::Xrgb8888 as u32;
    let plane = AddPlane {
        fd: fd.as_fd(),
        plane_idx: 0,
        offset: 0,
        stride: 256,
        modifier: 0,
    };
    let mut made = Vec::new();
    for _ in 0..3 {
        match c.create(&[plane], 64, 64, xr24, 0) {
            Outcome::Created(b) => made.push(b),
            other => panic!("{other:?}:\n{}", server.log()),
        }
    }
    assert!(matches!(
        c.create(&[plane], 64, 64, xr24, 0),
        Outcome::Failed
    ));
    assert!(
        server.log().contains("--limit buffers=N"),
        "{}",
        server.log()
    );
    // A buffer destroyed frees its place.
    made.pop().unwrap().destroy();
    assert!(matches!(
        c.create(&[plane], 64, 64, xr24, 0),
        Outcome::Created(_)
    ));
    still_serving(&mut server);
}

#[test]
fn capture_frames_past_the_limit_fail() {
    let mut server = server(&["--allow-capture", "all", "--limit", "captures=2"]);
    let _window = shown_window(&server);
    let conn = server.connect().unwrap();
    let mut wlr = WlrConn::new(&conn);
    let mut state = Wlr::default();
    let first = wlr.manager.capture_output(0, &wlr.output, &wlr.qh, ());
    let _second = wlr.manager.capture_output(0, &wlr.output, &wlr.qh, ());
    wlr.roundtrip(&mut state);
    assert_eq!(state.failed, 0);
    let _third = wlr.manager.capture_output(0, &wlr.output, &wlr.qh, ());
    wlr.roundtrip(&mut state);
    assert_eq!(state.failed, 1, "the third pending frame is refused");
    assert!(
        server.log().contains("--limit captures=N"),
        "{}",
        server.log()
    );
    // Destroying a frame frees its place: a new one is copied.
    first.destroy();
    state = Wlr::default();
    let frame = wlr.manager.capture_output(0, &wlr.output, &wlr.qh, ());
    wlr.roundtrip(&mut state);
    assert_eq!(state.failed, 0);
    let target = ShmTarget::new(&wlr.shm, &wlr.qh, 200, 100, 800).unwrap();
    frame.copy(&target.buffer);
    while !state.ready && state.failed == 0 {
        wlr.queue.blocking_dispatch(&mut state).unwrap();
    }
    assert!(state.ready);
    assert_eq!(target.image().unwrap().pixel(5, 5), [0x80, 0x80, 0x80, 255]);
    still_serving(&mut server);
}
