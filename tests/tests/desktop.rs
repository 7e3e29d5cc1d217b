//! Desktop parity: real apps that need a desktop's globals start and work under planar
//! (foot, wl-clipboard, weston-simple-egl, gtk4-widget-factory, wayland-info), and the
//! globals behave as their protocols say (fifo and commit-timing pacing, deterministic
//! under the virtual clock). Sandboxed clients: security_context.rs.

use std::time::{Duration, Instant};

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{
        find_program, gles_unavailable, global_names, planar_run, runtime_dir, skip, Server,
    },
    shm_client::shm_buffer,
    window::Window,
};
use wayland_client::{protocol::wl_shm::WlShm, Connection};
use wayland_protocols::wp::{
    commit_timing::v1::client::wp_commit_timing_manager_v1::WpCommitTimingManagerV1,
    fifo::v1::client::wp_fifo_manager_v1::WpFifoManagerV1,
};

const LIMIT: Duration = Duration::from_secs(90);
const BACKGROUND: [u8; 4] = [32, 32, 48, 255];

/// Every desktop global planar offers (besides the ones third_party.rs checks).
const DESKTOP_GLOBALS: &[&str] = &[
    "wl_data_device_manager",
    "zwp_primary_selection_device_manager_v1",
    "zxdg_decoration_manager_v1",
    "wp_fractional_scale_manager_v1",
    "xdg_activation_v1",
    "wp_cursor_shape_manager_v1",
    "zwp_pointer_constraints_v1",
    "zwp_relative_pointer_manager_v1",
    "wp_fifo_manager_v1",
    "wp_commit_timing_manager_v1",
    "wp_content_type_manager_v1",
    "wp_alpha_modifier_v1",
    "xdg_wm_dialog_v1",
    "xdg_toplevel_icon_manager_v1",
    "ext_foreign_toplevel_list_v1",
    "wp_security_context_manager_v1",
];

#[test]
fn foot_runs_its_command() {
    if find_program("foot").is_none() {
        return skip(
            "foot_runs_its_command",
            "foot is not installed (Debian package foot)",
        );
    }
    let dir = runtime_dir();
    let marker = dir.path().join("foot-ran");
    let script = format!("echo ok > {}", marker.display());
    // foot exits with its command's status; before the clipboard globals it exited at
    // once ("no clipboard available").
    let out = planar_run(
        Some(dir.path()),
        &["--renderer", "pixman", "--timeout", "60"],
        &["foot", "sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "ok\n",
        "{}",
        out.stderr
    );
}

#[test]
fn wl_copy_then_wl_paste_round_trip() {
    if find_program("wl-copy").is_none() || find_program("wl-paste").is_none() {
        return skip(
            "wl_copy_then_wl_paste_round_trip",
            "wl-copy/wl-paste are not installed (Debian package wl-clipboard)",
        );
    }
    let dir = runtime_dir();
    let clip = dir.path().join("clipboard.txt");
    let primary = dir.path().join("primary.txt");
    // wl-copy stays in the background serving the selection; wl-paste is another client.
    // Both show a small surface to get keyboard focus (planar gives it to a window when
    // it is first shown), as wl-clipboard does without a data-control protocol.
    let script = format!(
        "wl-copy 'planar clipboard 1'; wl-paste --no-newline > {clip}; \
         wl-copy --primary 'planar primary 2'; wl-paste --primary --no-newline > {primary}",
        clip = clip.display(),
        primary = primary.display()
    );
    let out = planar_run(
        Some(dir.path()),
        &["--renderer", "pixman", "--timeout", "60"],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&clip).unwrap_or_default(),
        "planar clipboard 1",
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&primary).unwrap_or_default(),
        "planar primary 2",
        "{}",
        out.stderr
    );
}

#[test]
fn wayland_info_lists_the_desktop_globals() {
    if find_program("wayland-info").is_none() {
        return skip(
            "wayland_info_lists_the_desktop_globals",
            "wayland-info is not installed (Debian package wayland-utils)",
        );
    }
    let out = planar_run(None, &["--renderer", "pixman"], &["wayland-info"], LIMIT);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split("interface: '").nth(1)?.split('\'').next())
        .collect();
    for global in DESKTOP_GLOBALS {
        assert!(
            listed.contains(global),
            "wayland-info does not list {global}: {listed:?}"
        );
    }
}

/// Runs `program` for a few seconds under planar, then ends it: it must still be
/// running then (it did not exit on a missing or broken global), and must have drawn.
fn keeps_running(test: &str, program: &str, renderer: &str, seconds: u32) -> RgbaImage {
    let dir = runtime_dir();
    let png = dir.path().join("shot.png");
    let script = format!(
        "{program} & pid=$!; sleep {seconds}; kill -0 $pid || exit 3; kill $pid; wait $pid; exit 0"
    );
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            renderer,
            "--screenshot",
            png.to_str().unwrap(),
        ],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(
        out.code(),
        Some(0),
        "{test}: {program} exited early (3) or planar failed:\n{}",
        out.stderr
    );
    RgbaImage::read_png(&png).unwrap()
}

fn colours(img: &RgbaImage, w: u32, h: u32) -> usize {
    let mut set = std::collections::HashSet::new();
    for y in (0..h).step_by(7) {
        for x in (0..w).step_by(7) {
            set.insert(img.pixel(x, y));
        }
    }
    set.len()
}

#[test]
fn weston_simple_egl_keeps_running_with_fifo_offered() {
    let name = "weston_simple_egl_keeps_running_with_fifo_offered";
    if find_program("weston-simple-egl").is_none() {
        return skip(
            name,
            "weston-simple-egl is not installed (Debian package weston)",
        );
    }
    if let Some(reason) = gles_unavailable() {
        return skip(name, &reason);
    }
    let img = keeps_running(name, "weston-simple-egl", "gles", 3);
    // Its 250x250 window: a spinning triangle over black, drawn at the top-left.
    assert!(
        colours(&img, 250, 250) > 10,
        "weston-simple-egl drew nothing"
    );
    assert_eq!(img.pixel(600, 500), BACKGROUND);
}

#[test]
fn vkcube_paces_with_fifo_and_keeps_running() {
    let name = "vkcube_paces_with_fifo_and_keeps_running";
    if find_program("vkcube-wayland").is_none() {
        return skip(
            name,
            "vkcube-wayland is not installed (Debian package vulkan-tools)",
        );
    }
    if !std::path::Path::new("/usr/share/vulkan/icd.d/lvp_icd.json").exists() {
        return skip(name, "no lavapipe (Debian package mesa-vulkan-drivers)");
    }
    // Mesa 25's Vulkan WSI uses wp_fifo_v1 for FIFO presentation, vkcube's default: each
    // frame waits on the barrier the last one set, so the cube keeps turning only if
    // planar clears barriers (one a refresh).
    let dir = runtime_dir();
    let trace = dir.path().join("vkcube.trace");
    let png = dir.path().join("shot.png");
    let script = format!(
        "WAYLAND_DEBUG=1 vkcube-wayland 2> {} & pid=$!; sleep 4; kill -0 $pid || exit 3; kill $pid; wait $pid; exit 0",
        trace.display()
    );
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            "pixman",
            "--screenshot",
            png.to_str().unwrap(),
        ],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(
        out.code(),
        Some(0),
        "vkcube exited early or planar failed:\n{}",
        out.stderr
    );
    let trace = std::fs::read_to_string(&trace).unwrap();
    let count = |needle: &str| trace.lines().filter(|l| l.contains(needle)).count();
    let (set, wait) = (count(".set_barrier()"), count(".wait_barrier()"));
    // lavapipe draws a few dozen frames a second here; 10 in 4 s is a cube that turns.
    assert!(
        set >= 10 && wait >= 10,
        "vkcube set {set} and waited on {wait} fifo barriers in 4 s"
    );
    let img = RgbaImage::read_png(&png).unwrap();
    assert!(colours(&img, 500, 500) > 10, "vkcube drew nothing");
}

#[test]
fn vkcube_timestamps_repeat_under_the_virtual_clock() {
    let name = "vkcube_timestamps_repeat_under_the_virtual_clock";
    if find_program("vkcube-wayland").is_none() {
        return skip(
            name,
            "vkcube-wayland is not installed (Debian package vulkan-tools)",
        );
    }
    if !std::path::Path::new("/usr/share/vulkan/icd.d/lvp_icd.json").exists() {
        return skip(name, "no lavapipe (Debian package mesa-vulkan-drivers)");
    }
    // Mesa's WSI makes a content-less commit to wait on each fifo barrier, more or fewer
    // of them as its threads' timing goes; they must not move the virtual clock. (The
    // pixels are not compared: lavapipe shows the same frame numbers, but its shm copies
    // race with its own rendering.)
    let run = || {
        let dir = runtime_dir();
        let trace = dir.path().join("vkcube.trace");
        let script = format!(
            "WAYLAND_DEBUG=1 vkcube-wayland --c 40 2> {}",
            trace.display()
        );
        let out = planar_run(
            Some(dir.path()),
            &[
                "--renderer",
                "pixman",
                "--refresh",
                "0",
                "--clock",
                "virtual",
            ],
            &["sh", "-c", &script],
            LIMIT,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let trace = std::fs::read_to_string(&trace).unwrap();
        let presented: Vec<String> = trace
            .lines()
            .filter_map(|l| l.split(".presented(").nth(1).map(str::to_string))
            .collect();
        assert!(trace.contains(".wait_barrier()"), "vkcube did not use fifo");
        presented
    };
    // The last frames' feedback may not arrive before vkcube exits: the first 30 count.
    let first = run();
    assert!(first.len() >= 30, "{first:?}");
    let second = run();
    assert!(second.len() >= 30, "{second:?}");
    assert_eq!(second[..30], first[..30]);
}

#[test]
fn gtk4_widget_factory_starts() {
    let name = "gtk4_widget_factory_starts";
    if find_program("gtk4-widget-factory").is_none() {
        return skip(
            name,
            "gtk4-widget-factory is not installed (Debian package gtk-4-examples)",
        );
    }
    let img = keeps_running(name, "gtk4-widget-factory", "auto", 8);
    // Its window covers the whole 1280x720 output with widgets.
    assert!(
        colours(&img, 1280, 720) > 50,
        "gtk4-widget-factory drew little"
    );
    assert_ne!(img.pixel(1270, 710), BACKGROUND);
}

/// A toplevel that submits `n` updates in one burst, each with a fifo barrier and/or a
/// commit-timing target (`targets[i]`, in the presentation clock), and waits until all
/// were presented. Returns the presented (seconds, nanoseconds, sequence) of each, and the
/// targets.
fn paced_burst(
    conn: &Connection,
    n: usize,
    fifo: bool,
    targets: Option<&dyn Fn(Duration) -> Vec<Duration>>,
) -> (Vec<(u64, u32, u64)>, Vec<Duration>) {
    let mut window = Window::new(conn, "paced").unwrap();
    let qh = window.queue_handle().clone();
    let shm: WlShm = window.globals.bind(&qh, 1..=1, ()).unwrap();
    let fifo_obj = fifo.then(|| {
        let manager: WpFifoManagerV1 = window.globals.bind(&qh, 1..=1, ()).unwrap();
        manager.get_fifo(window.surface(), &qh, ())
    });
    let timer = targets.map(|_| {
        let manager: WpCommitTimingManagerV1 = window.globals.bind(&qh, 1..=1, ()).unwrap();
        manager.get_timer(window.surface(), &qh, ())
    });
    let (w, h) = (32u32, 32u32);
    let buffers: Vec<_> = (0..n)
        .map(|i| {
            let px = [i as u8 * 40, 0x80, 0xff - i as u8 * 40, 0xff];
            let bytes: Vec<u8> = px
                .iter()
                .copied()
                .cycle()
                .take((w * h * 4) as usize)
                .collect();
            shm_buffer(&shm, &qh, w, h, w * 4, &bytes).unwrap()
        })
        .collect();
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
    let targets = targets.map(|t| t(now));
    for (i, buffer) in buffers.iter().enumerate() {
        if let Some(fifo) = &fifo_obj {
            if i > 0 {
                fifo.wait_barrier();
            }
            fifo.set_barrier();
        }
        if let (Some(timer), Some(targets)) = (&timer, &targets) {
            let t = targets[i];
            timer.set_timestamp(
                (t.as_secs() >> 32) as u32,
                t.as_secs() as u32,
                t.subsec_nanos(),
            );
        }
        window.show(buffer, w as i32, None, h as i32);
    }
    conn.flush().unwrap();
    let start = Instant::now();
    while window.presented().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "only {} of {n} updates presented",
            window.presented().len()
        );
        window.blocking_dispatch().unwrap();
    }
    (window.presented().to_vec(), targets.unwrap_or_default())
}

fn as_duration(p: &(u64, u32, u64)) -> Duration {
    Duration::new(p.0, p.1)
}

#[test]
fn fifo_shows_one_update_per_refresh() {
    // 20 Hz: updates queued in one burst go out one per 50 ms refresh.
    let server = Server::start(&["--renderer", "pixman", "--refresh", "20"]).unwrap();
    let conn = server.connect().unwrap();
    let (presented, _) = paced_burst(&conn, 5, true, None);
    // The first update is shown at its commit, between two ticks, and its barrier is
    // cleared at the next tick: only the later gaps are whole refreshes.
    for pair in presented.windows(2).skip(1) {
        let gap = as_duration(&pair[1]).saturating_sub(as_duration(&pair[0]));
        assert!(
            gap >= Duration::from_millis(35),
            "two fifo updates {gap:?} apart at 20 Hz: {presented:?}\n{}",
            server.log()
        );
        assert!(pair[1].2 > pair[0].2, "sequence numbers: {presented:?}");
    }
}

#[test]
fn commit_timing_holds_updates_until_their_target() {
    let server = Server::start(&["--renderer", "pixman"]).unwrap();
    let conn = server.connect().unwrap();
    let started = Instant::now();
    let step = Duration::from_millis(150);
    let targets = move |now: Duration| (1..=3).map(|i| now + step * i).collect::<Vec<_>>();
    let (presented, targets) = paced_burst(&conn, 3, false, Some(&targets));
    for (p, t) in presented.iter().zip(&targets) {
        assert!(
            as_duration(p) >= *t,
            "shown at {p:?}, before its target {t:?}"
        );
    }
    let first = presented[0];
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "3 updates 150 ms apart took {:?}",
        started.elapsed()
    );
    for pair in presented.windows(2) {
        let gap = as_duration(&pair[1]).saturating_sub(as_duration(&pair[0]));
        assert!(
            gap >= Duration::from_millis(120),
            "updates with targets 150 ms apart shown {gap:?} apart: {presented:?} (first {first:?})"
        );
    }
}

#[test]
fn fifo_and_commit_timing_are_deterministic_under_the_virtual_clock() {
    // Targets in virtual time: 1 s, 1.5 s, 2 s after the clock's start.
    let targets = |_now: Duration| {
        (0..3)
            .map(|i| Duration::from_millis(1000 + 500 * i))
            .collect::<Vec<_>>()
    };
    let run = || {
        let dir = runtime_dir();
        let png = dir.path().join("paced.png");
        let server = Server::start(&[
            "--renderer",
            "pixman",
            "--refresh",
            "0",
            "--clock",
            "virtual",
            "--screenshot",
            png.to_str().unwrap(),
        ])
        .unwrap();
        let conn = server.connect().unwrap();
        let (timed, _) = paced_burst(&conn, 3, true, Some(&targets));
        let (fifo_only, _) = paced_burst(&conn, 4, true, None);
        assert!(server.stop().success());
        let bytes = std::fs::read(&png).expect("the screenshot");
        (timed, fifo_only, bytes)
    };
    let (timed, fifo_only, png) = run();
    let refresh = Duration::from_nanos(1_000_000_000 / 60);
    for (p, t) in timed.iter().zip(targets(Duration::ZERO)) {
        let shown = as_duration(p);
        assert!(
            shown >= t && shown < t + refresh,
            "virtual target {t:?} shown at {shown:?}: {timed:?}"
        );
    }
    assert_eq!(fifo_only.len(), 4);
    let again = run();
    assert_eq!(
        (&again.0, &again.1),
        (&timed, &fifo_only),
        "timestamps differ"
    );
    assert!(again.2 == png, "the screenshots differ");
}

#[test]
fn hostile_commit_timing_targets_are_released() {
    // Negative seconds, the end of time: each update is shown (past ones at once, far ones
    // released with a warning), and planar stays up, in debug builds too (smithay's own
    // conversion debug-asserts non-negative times). Nanoseconds of a second or more are
    // the protocol's invalid_timestamp (below; hostile.rs has the error's own test).
    let server = Server::start(&["--renderer", "pixman"]).unwrap();
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "hostile").unwrap();
    let qh = window.queue_handle().clone();
    let shm: WlShm = window.globals.bind(&qh, 1..=1, ()).unwrap();
    let manager: WpCommitTimingManagerV1 = window.globals.bind(&qh, 1..=1, ()).unwrap();
    let timer = manager.get_timer(window.surface(), &qh, ());
    let buffer = shm_buffer(&shm, &qh, 8, 8, 32, &[0x40; 8 * 8 * 4]).unwrap();
    let targets = [
        (0x8000_0000, 0, 0),
        (0x7fff_ffff, u32::MAX, 999_999_999),
        (0, 0, 0),
    ];
    for (hi, lo, nsec) in targets {
        timer.set_timestamp(hi, lo, nsec);
        window.show(&buffer, 8, None, 8);
    }
    conn.flush().unwrap();
    let start = Instant::now();
    while window.presented().len() < targets.len() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} of {} shown\n{}",
            window.presented().len(),
            targets.len(),
            server.log()
        );
        window.blocking_dispatch().unwrap();
    }
    for (hi, lo, nsec) in [(u32::MAX, u32::MAX, u32::MAX), (0, 5, 2_999_999_999)] {
        let conn = server.connect().unwrap();
        let window = Window::new(&conn, "hostile").unwrap();
        let qh = window.queue_handle().clone();
        let manager: WpCommitTimingManagerV1 = window.globals.bind(&qh, 1..=1, ()).unwrap();
        let timer = manager.get_timer(window.surface(), &qh, ());
        timer.set_timestamp(hi, lo, nsec);
        window.surface().commit();
        match conn.roundtrip() {
            Err(wayland_client::backend::WaylandError::Protocol(e)) => assert_eq!(
                (e.object_interface.as_str(), e.code),
                ("wp_commit_timer_v1", 0),
                "({hi:#x}, {lo:#x}, {nsec})"
            ),
            other => {
                panic!("({hi:#x}, {lo:#x}, {nsec}): expected invalid_timestamp, got {other:?}")
            }
        }
    }
    assert!(global_names(&server.connect().unwrap()).len() > 10);
}

#[test]
fn a_commit_after_a_quiet_refresh_is_answered_at_once() {
    // 1 Hz: the tick alone answers a commit up to a second later. A commit made when no
    // callback was answered for a whole interval is answered at once; one made right
    // after an answer still waits for the next tick (pacing holds).
    let server = Server::start(&["--renderer", "pixman", "--refresh", "1"]).unwrap();
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "quiet").unwrap();
    let qh = window.queue_handle().clone();
    let shm: WlShm = window.globals.bind(&qh, 1..=1, ()).unwrap();
    let buffer = shm_buffer(&shm, &qh, 32, 32, 32 * 4, &[0x80; 32 * 32 * 4]).unwrap();
    let shown_in = |window: &mut Window| {
        let started = Instant::now();
        window.show(&buffer, 32, None, 32);
        window.wait_presented().unwrap();
        started.elapsed()
    };
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(1100));
        let quiet = shown_in(&mut window);
        assert!(
            quiet < Duration::from_millis(400),
            "round {round}: a commit after a quiet second was answered in {quiet:?}\n{}",
            server.log()
        );
        let paced = shown_in(&mut window);
        assert!(
            paced >= Duration::from_millis(800),
            "round {round}: a commit right after an answer was answered in {paced:?} at 1 Hz"
        );
    }
}

#[test]
fn fifo_updates_go_out_while_another_client_redraws_without_pause() {
    // 1000 Hz: a full-screen window redrawn as fast as its client can, each draw longer
    // than an interval (its commits answered at once whenever an interval passed), must not
    // hold back the tick that releases fifo updates.
    let server = Server::start(&[
        "--renderer",
        "pixman",
        "--refresh",
        "1000",
        "--size",
        "1920x1080",
    ])
    .unwrap();
    let busy_conn = server.connect().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let busy = std::thread::spawn(move || {
        let mut window = Window::new(&busy_conn, "busy").unwrap();
        let qh = window.queue_handle().clone();
        let shm: WlShm = window.globals.bind(&qh, 1..=1, ()).unwrap();
        let (w, h) = (1920u32, 1080u32);
        let buffer = shm_buffer(&shm, &qh, w, h, w * 4, &vec![0x40; (w * h * 4) as usize]).unwrap();
        let mut frames = 0u32;
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            window.show(&buffer, w as i32, None, h as i32);
            window.wait_presented().unwrap();
            frames += 1;
        }
        frames
    });
    let conn = server.connect().unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let (presented, _) = paced_burst(&conn, 6, true, None);
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let frames = busy.join().unwrap();
    assert!(frames > 0, "the busy client drew nothing");
    assert_eq!(presented.len(), 6);
    assert!(
        took < Duration::from_secs(5),
        "6 fifo updates at 1000 Hz took {took:?} beside a client redrawing ({frames} frames)\n{}",
        server.log()
    );
}

#[test]
fn a_window_with_a_synchronised_subsurface_is_answered_at_once_too() {
    // The parent's commit applies its synchronised child first, each drawn on its own:
    // the answer must wait for the parent's frame request, not go out with the child.
    let server = Server::start(&["--renderer", "pixman", "--refresh", "1"]).unwrap();
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "parent").unwrap();
    let qh = window.queue_handle().clone();
    let shm: WlShm = window.globals.bind(&qh, 1..=1, ()).unwrap();
    let buffer = shm_buffer(&shm, &qh, 32, 32, 32 * 4, &[0x80; 32 * 32 * 4]).unwrap();
    let child = window.subsurface(8, 8).unwrap();
    for round in 0..2 {
        std::thread::sleep(Duration::from_millis(1100));
        let started = Instant::now();
        child.attach(Some(&buffer), 0, 0);
        child.damage_buffer(0, 0, 32, 32);
        child.commit();
        window.show(&buffer, 32, None, 32);
        window.wait_presented().unwrap();
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(400),
            "round {round}: a window and its synchronised subsurface committed after a quiet \
             second were answered in {took:?}\n{}",
            server.log()
        );
    }
}
