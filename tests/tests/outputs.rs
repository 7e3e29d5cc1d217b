//! Several outputs: `--output` with different scales as wayland-info sees them,
//! per-output and layout screenshots, fullscreen on the second output, outputs added,
//! changed and removed at run time (planar-test-v1 v2), and gtk4-widget-factory at 1.5.

use std::{path::Path, time::Duration};

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{find_program, planar_run, runtime_dir, skip, Server},
    shm_client::shm_buffer,
    test_client::PlanarTest,
    window::Window,
};
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalListContents},
    protocol::{
        wl_output::{self, WlOutput},
        wl_registry::{self, WlRegistry},
        wl_shm::WlShm,
    },
    Connection, Dispatch, QueueHandle, WEnum,
};

const LIMIT: Duration = Duration::from_secs(90);
const BACKGROUND: [u8; 4] = [32, 32, 48, 255];
const RED: [u8; 4] = [255, 0, 0, 255];

#[test]
fn wayland_info_shows_two_outputs_with_their_scales() {
    let name = "wayland_info_shows_two_outputs_with_their_scales";
    if find_program("wayland-info").is_none() {
        return skip(
            name,
            "wayland-info is not installed (Debian package wayland-utils)",
        );
    }
    let out = planar_run(
        None,
        &[
            "--renderer",
            "pixman",
            "--output",
            "640x480",
            "--output",
            "800x600@30,scale=1.5,name=RIGHT",
        ],
        &["wayland-info"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let s = &out.stdout;
    for want in [
        // wl_output: the first at the origin, the second right of it, its scale rounded
        // up (wl_output has integer scales; fractional-scale says 1.5).
        "name: HEADLESS-1",
        "x: 0, y: 0, scale: 1,",
        "width: 640 px, height: 480 px, refresh: 60.000 Hz",
        "name: RIGHT",
        "x: 640, y: 0, scale: 2,",
        "width: 800 px, height: 600 px, refresh: 30.000 Hz",
        // xdg-output: logical sizes, 800x600 / 1.5.
        "logical_width: 640, logical_height: 480",
        "logical_x: 640, logical_y: 0",
        "logical_width: 533, logical_height: 400",
    ] {
        assert!(s.contains(want), "wayland-info lacks {want:?}:\n{s}");
    }
    assert_eq!(s.matches("interface: 'wl_output'").count(), 2, "{s}");
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = RgbaImage::read_png(path).unwrap();
    (img.width, img.height)
}

#[test]
fn per_output_screenshots_have_their_pixel_sizes() {
    let dir = runtime_dir();
    let shot = |n: &str| dir.path().join(n);
    let (all, a, b, c) = (shot("all.png"), shot("a.png"), shot("b.png"), shot("c.png"));
    let arg = |n: &str, p: &Path| format!("{n}={}", p.display());
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            "pixman",
            "--output",
            "640x480",
            "--output",
            "800x600,scale=2",
            "--output",
            "300x200,scale=1.5,transform=90,name=SIDE,pos=0,600",
            "--screenshot",
            all.to_str().unwrap(),
            "--screenshot",
            &arg("HEADLESS-1", &a),
            "--screenshot",
            &arg("HEADLESS-2", &b),
            "--screenshot",
            &arg("SIDE", &c),
        ],
        &["planar-demo"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(png_size(&a), (640, 480));
    assert_eq!(png_size(&b), (800, 600));
    // Per-output frames are in output pixels: the mode as set, whatever the transform.
    assert_eq!(png_size(&c), (300, 200));
    // Layout: HEADLESS-1 0..640 x 0..480, HEADLESS-2 640..1040 x 0..300 (800x600 / 2),
    // SIDE at 0,600, 200x300 rotated, / 1.5 = 133x200 logical: 1040 x 800 logical, times
    // the highest scale (2).
    assert_eq!(png_size(&all), (2080, 1600));
    // The demo's window is on the first output only: its red quadrant at the top-left,
    // the second output shows the background.
    let a = RgbaImage::read_png(&a).unwrap();
    let b = RgbaImage::read_png(&b).unwrap();
    assert_eq!(a.pixel(10, 10), RED);
    assert_eq!(b.pixel(10, 10), BACKGROUND);
    let all = RgbaImage::read_png(&all).unwrap();
    assert_eq!(all.pixel(10, 10), RED);
    assert_eq!(all.pixel(1280 + 10, 10), BACKGROUND);
}

#[test]
fn a_bad_output_spec_or_duplicate_name_is_refused() {
    for args in [
        &["--output", "640x480,scale=0"][..],
        &["--output", "640x480,name=A", "--output", "320x200,name=A"][..],
        &["--output", "640x480", "--size", "800x600"][..],
    ] {
        let out = planar_run(None, args, &["true"], LIMIT);
        assert_ne!(out.code(), Some(0), "{args:?} was accepted");
    }
}

/// Fills a `w`x`h` XRGB8888 buffer with `rgb`.
fn solid(w: i32, h: i32, rgb: [u8; 3]) -> Vec<u8> {
    [rgb[2], rgb[1], rgb[0], 255].repeat((w * h) as usize)
}

#[test]
fn a_client_fullscreen_on_the_second_output_fills_it() {
    let server = Server::start(&[
        "--allow-capture",
        "all",
        "--renderer",
        "pixman",
        "--refresh",
        "0",
        "--output",
        "640x480",
        "--output",
        "600x400,scale=2",
    ])
    .unwrap();
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "fullscreen").unwrap();
    window.watch_fractional_scale().unwrap();
    window.take_configures();
    window.fullscreen_on(1).unwrap();
    let (w, h) = loop {
        window.blocking_dispatch().unwrap();
        if let Some(&(w, h, true)) = window.take_configures().last() {
            break (w, h);
        }
    };
    // The second output's logical size: 600x400 at scale 2.
    assert_eq!((w, h), (300, 200));
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .unwrap();
    // A buffer at scale 2, as a client on that output draws it.
    let buffer = shm_buffer(
        &shm,
        window.queue_handle(),
        600,
        400,
        2400,
        &solid(600, 400, [0, 255, 0]),
    )
    .unwrap();
    window.surface().set_buffer_scale(2);
    window.show(&buffer, 600, None, 400);
    window.wait_presented().unwrap();
    // The surface was told the second output's scale, 2 (240/120).
    assert_eq!(window.state().preferred_scale, Some(240));
    let mut test = PlanarTest::new(&conn).unwrap();
    let (second, _) = test.capture_output(1).unwrap().unwrap();
    assert_eq!((second.width, second.height), (600, 400));
    for (x, y) in [(0, 0), (599, 0), (0, 399), (599, 399), (300, 200)] {
        assert_eq!(second.pixel(x, y), [0, 255, 0, 255], "at {x},{y}");
    }
    // The first output no longer shows it.
    let (first, _) = test.capture_output(0).unwrap().unwrap();
    assert_eq!(first.pixel(10, 10), BACKGROUND);
}

/// What a plain client hears about outputs: wl_output globals as they come and go, and
/// each bound output's name, mode and scale as of its last `done`.
#[derive(Default)]
struct Watcher {
    /// (registry name, output) of the wl_outputs bound; the user data indexes `pending`.
    outputs: Vec<(u32, WlOutput)>,
    removed: Vec<u32>,
    pending: Vec<(Option<String>, (i32, i32), i32)>,
    /// (name, mode, scale) per output, the latest.
    seen: Vec<(String, (i32, i32), i32)>,
}

impl Watcher {
    fn bind(&mut self, registry: &WlRegistry, name: u32, version: u32, qh: &QueueHandle<Self>) {
        let output = registry.bind(name, version.min(4), qh, self.pending.len());
        self.pending.push((None, (0, 0), 0));
        self.outputs.push((name, output));
    }
}

impl Dispatch<WlRegistry, GlobalListContents> for Watcher {
    fn event(
        state: &mut Self,
        registry: &WlRegistry,
        event: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        match event {
            wl_registry::Event::Global {
                name,
                interface,
                version,
            } if interface == "wl_output" => state.bind(registry, name, version, qh),
            wl_registry::Event::GlobalRemove { name } => state.removed.push(name),
            _ => {}
        }
    }
}

impl Dispatch<WlOutput, usize> for Watcher {
    fn event(
        state: &mut Self,
        _: &WlOutput,
        event: wl_output::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let entry = &mut state.pending[*index];
        match event {
            wl_output::Event::Name { name } => entry.0 = Some(name),
            wl_output::Event::Mode {
                flags: WEnum::Value(f),
                width,
                height,
                ..
            } if f.contains(wl_output::Mode::Current) => entry.1 = (width, height),
            wl_output::Event::Scale { factor } => entry.2 = factor,
            wl_output::Event::Done => {
                let (name, mode, scale) = entry.clone();
                let name = name.unwrap_or_default();
                state.seen.retain(|(n, ..)| *n != name);
                state.seen.push((name, mode, scale));
            }
            _ => {}
        }
    }
}

delegate_noop!(Watcher: ignore WlShm);

#[test]
fn outputs_added_changed_and_removed_at_run_time_are_announced() {
    let server = Server::start(&[
        "--allow-capture",
        "all",
        "--renderer",
        "pixman",
        "--output",
        "640x480",
    ])
    .unwrap();
    let conn = server.connect().unwrap();
    let (globals, mut queue) = registry_queue_init::<Watcher>(&conn).unwrap();
    let mut watcher = Watcher::default();
    // registry_queue_init keeps the initial globals to itself: bind the first output.
    let first: Vec<_> = globals.contents().with_list(|list| {
        list.iter()
            .filter(|g| g.interface == "wl_output")
            .map(|g| (g.name, g.version))
            .collect()
    });
    for (name, version) in first {
        watcher.bind(globals.registry(), name, version, &queue.handle());
    }
    queue.roundtrip(&mut watcher).unwrap();
    assert_eq!(watcher.outputs.len(), 1);
    let mut test = PlanarTest::new(&conn).unwrap();

    test.set_output("HOTPLUG", "320x240,scale=1.5").unwrap();
    queue.roundtrip(&mut watcher).unwrap();
    queue.roundtrip(&mut watcher).unwrap();
    assert_eq!(
        watcher.outputs.len(),
        2,
        "no wl_output global was announced"
    );
    let hot = watcher.outputs[1].0;
    assert!(
        watcher
            .seen
            .contains(&("HOTPLUG".to_string(), (320, 240), 2)),
        "{:?}",
        watcher.seen
    );

    // A window fullscreen on the new output hears its scale, and its size when it changes.
    let mut window = Window::new(&conn, "hotplug").unwrap();
    window.watch_fractional_scale().unwrap();
    window.fullscreen_on(1).unwrap();
    let fullscreen_size = |window: &mut Window| loop {
        window.blocking_dispatch().unwrap();
        if let Some(&(w, h, true)) = window.take_configures().last() {
            break (w, h);
        }
    };
    // 320x240 at 1.5: 213x160 logical.
    assert_eq!(fullscreen_size(&mut window), (213, 160));
    assert_eq!(window.state().preferred_scale, Some(180));

    test.set_output("HOTPLUG", "400x300,scale=3,transform=90")
        .unwrap();
    queue.roundtrip(&mut watcher).unwrap();
    // Turned by 90 degrees: 300x400 / 3.
    assert_eq!(fullscreen_size(&mut window), (100, 133));
    assert_eq!(window.state().preferred_scale, Some(360));
    assert!(
        watcher
            .seen
            .contains(&("HOTPLUG".to_string(), (400, 300), 3)),
        "the new mode and scale were not sent: {:?}",
        watcher.seen
    );

    test.remove_output("HOTPLUG").unwrap();
    queue.roundtrip(&mut watcher).unwrap();
    assert_eq!(watcher.removed, vec![hot], "the global was not removed");
    // The window went back to the first output and fills it.
    assert_eq!(fullscreen_size(&mut window), (640, 480));
    assert_eq!(window.state().preferred_scale, Some(120));

    // The first output cannot be removed, and a bad spec is a protocol error: the
    // test client's connection ends, planar carries on.
    let other = server.connect().unwrap();
    let mut bad = PlanarTest::new(&other).unwrap();
    assert!(bad.set_output("X", "nonsense").is_err());
    let other = server.connect().unwrap();
    let mut bad = PlanarTest::new(&other).unwrap();
    assert!(bad.set_output("A,scale=2", "64x64").is_err());
    let again = server.connect().unwrap();
    let mut bad = PlanarTest::new(&again).unwrap();
    assert!(bad.remove_output("HEADLESS-1").is_err());
    let mut fine = PlanarTest::new(&server.connect().unwrap()).unwrap();
    assert!(fine.capture().unwrap().is_ok(), "{}", server.log());
}

#[test]
fn gtk4_widget_factory_at_scale_1_5_matches_its_reference() {
    let name = "gtk4_widget_factory_at_scale_1_5_matches_its_reference";
    if find_program("gtk4-widget-factory").is_none() {
        return skip(
            name,
            "gtk4-widget-factory is not installed (Debian package gtk-4-examples)",
        );
    }
    let reference = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reference")
        .join("gtk4-widget-factory-scale-1.5.png");
    // GTK itself sometimes (1 run in 6 here) lays the window out with other column
    // widths and half-pixel offsets; one more run is allowed then, and says so.
    let mut failures = Vec::new();
    for attempt in 1..=2 {
        let dir = runtime_dir();
        let png = dir.path().join("shot.png");
        let out = widget_factory_run(dir.path(), &png, &reference);
        if out.code() == Some(0) {
            assert_eq!(png_size(&png), (1280, 720));
            return;
        }
        eprintln!("RETRY {name}: attempt {attempt} did not match the reference");
        failures.push(out.stderr);
    }
    panic!("{name}: no run matched:\n{}", failures.join("\n----\n"));
}

fn widget_factory_run(
    dir: &Path,
    png: &Path,
    reference: &Path,
) -> planar_tests::fixture::RunOutput {
    let script = "gtk4-widget-factory & pid=$!; sleep 8; kill -0 $pid || exit 3; kill $pid; wait $pid; exit 0";
    // Not deterministic as a whole: the spinner and progress bars animate, and the
    // right-hand columns differ. The left column's text entries (their left parts, text
    // drawn at 1.5x, which a scale-1 rendering would not match) were identical in every
    // run that chose GTK's usual layout; that region is compared. In the other layout
    // (entries 480 instead of 570 px wide) they sit half a pixel lower.
    planar_run(
        Some(dir),
        &[
            "--renderer",
            "pixman",
            "--output",
            "1280x720,scale=1.5",
            "--screenshot",
            png.to_str().unwrap(),
            "--expect",
            reference.to_str().unwrap(),
            "--clip",
            "0,80,470,390",
            "--fuzz",
            "8",
        ],
        &["sh", "-c", script],
        LIMIT,
    )
}

#[test]
fn set_output_is_privileged_and_bounded() {
    // Not started by planar run and no --allow-capture all: making outputs is refused.
    let server = Server::start(&["--renderer", "pixman"]).unwrap();
    let mut test = PlanarTest::new(&server.connect().unwrap()).unwrap();
    assert!(test.set_output("MINE", "64x64").is_err());
    assert!(
        server.log().contains("set_output refused"),
        "{}",
        server.log()
    );
    // At most 16 outputs: the 17th is refused, planar carries on.
    let server = Server::start(&["--allow-capture", "all", "--renderer", "pixman"]).unwrap();
    let mut test = PlanarTest::new(&server.connect().unwrap()).unwrap();
    for i in 2..=16 {
        test.set_output(&format!("O{i}"), "16x16").unwrap();
    }
    assert!(test.set_output("O17", "16x16").is_err());
    let mut fine = PlanarTest::new(&server.connect().unwrap()).unwrap();
    assert!(fine.capture().unwrap().is_ok(), "{}", server.log());
}

#[test]
fn grim_captures_each_output_through_wlr_screencopy() {
    let name = "grim_captures_each_output_through_wlr_screencopy";
    if find_program("grim").is_none() {
        return skip(name, "grim is not installed (Debian package grim)");
    }
    let dir = runtime_dir();
    let (g1, g2) = (dir.path().join("g1.png"), dir.path().join("g2.png"));
    // planar-demo shows its window on the first output; grim picks outputs by their
    // xdg-output names.
    let script = format!(
        "planar-demo --frames 0 & pid=$!; sleep 2; grim -o HEADLESS-1 {} && grim -o HEADLESS-2 {}; st=$?; kill $pid; exit $st",
        g1.display(),
        g2.display()
    );
    let out = planar_run(
        Some(dir.path()),
        &[
            "--renderer",
            "pixman",
            "--output",
            "640x480",
            "--output",
            "800x600,scale=2",
        ],
        &["sh", "-c", &script],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let (a, b) = (
        RgbaImage::read_png(&g1).unwrap(),
        RgbaImage::read_png(&g2).unwrap(),
    );
    assert_eq!((a.width, a.height), (640, 480));
    assert_eq!((b.width, b.height), (800, 600));
    assert_eq!(a.pixel(10, 10), RED);
    assert_eq!(b.pixel(10, 10), BACKGROUND);
}

#[test]
fn ext_image_copy_captures_the_output_it_is_given() {
    let server = Server::start(&[
        "--allow-capture",
        "all",
        "--renderer",
        "pixman",
        "--output",
        "640x480",
        "--output",
        "320x200,scale=1.5",
    ])
    .unwrap();
    let conn = server.connect().unwrap();
    for (index, size) in [(0, (640, 480)), (1, (320, 200))] {
        match planar_tests::capture::ext_image_copy_output(&conn, index).unwrap() {
            planar_tests::capture::Captured::Image(img) => {
                assert_eq!((img.width, img.height), size);
                assert_eq!(img.pixel(5, 5), BACKGROUND);
            }
            planar_tests::capture::Captured::Refused => panic!("refused: {}", server.log()),
        }
    }
}
