//! The desktop globals answer as their protocols say, seen by a wayland-client probe:
//! decorations are client-side, the preferred fractional scale is the output's,
//! activation moves keyboard focus, and the foreign toplevel list follows windows.

use planar_tests::{desktop_client::Probe, fixture::Server};
use wayland_client::Proxy;

#[test]
fn decorations_are_client_side_and_the_preferred_scale_is_the_outputs() {
    let server = Server::start(&["--renderer", "pixman", "--scale", "2"]).unwrap();
    let conn = server.connect().unwrap();
    let mut probe = Probe::new(&conn).unwrap();
    let _window = probe.window("deco").unwrap();
    probe.roundtrip().unwrap();
    // Asked for server-side; planar draws none, so it answers client-side.
    assert!(
        probe.heard("deco decoration client-side"),
        "{:?}",
        probe.state.log
    );
    assert!(!probe.heard("server-side"), "{:?}", probe.state.log);
    // Scale 2 is 240/120.
    assert!(
        probe.heard("deco preferred scale 240"),
        "{:?}",
        probe.state.log
    );
}

#[test]
fn activation_gives_the_window_keyboard_focus() {
    let server = Server::start(&["--renderer", "pixman"]).unwrap();
    let conn = server.connect().unwrap();
    let mut probe = Probe::new(&conn).unwrap();
    probe.bind_keyboard().unwrap();
    let first = probe.window("first").unwrap();
    probe.show(&first).unwrap();
    let second = probe.window("second").unwrap();
    probe.show(&second).unwrap();
    let enter = |w: &planar_tests::desktop_client::ProbeWindow| {
        format!("keyboard enter {}", w.surface.id().protocol_id())
    };
    // Each window gets focus when first shown: the second has it now.
    assert_eq!(
        probe
            .state
            .log
            .iter()
            .rfind(|l| l.starts_with("keyboard enter")),
        Some(&enter(&second)),
        "{:?}",
        probe.state.log
    );
    probe.state.log.clear();
    probe.activate(&first).unwrap();
    assert!(
        probe.heard(&enter(&first)),
        "{:?}\n{}",
        probe.state.log,
        server.log()
    );
    assert!(
        server.log().contains("window activated"),
        "{}",
        server.log()
    );
}

#[test]
fn the_keyboard_is_made_when_a_client_binds_the_seat() {
    let server = Server::start(&["--renderer", "pixman"]).unwrap();
    let made = |server: &Server| server.log().contains("keyboard made");
    // A client without a seat: no keymap compiled, and its window is still activated
    // when it gets focus.
    let seatless_conn = server.connect().unwrap();
    let mut seatless = Probe::new(&seatless_conn).unwrap();
    let first = seatless.window("first").unwrap();
    seatless.show(&first).unwrap();
    seatless.roundtrip().unwrap();
    assert!(
        seatless.heard("first configure activated"),
        "{:?}\n{}",
        seatless.state.log,
        server.log()
    );
    assert!(!made(&server), "{}", server.log());
    // A client binding wl_seat makes the keyboard; it starts on the focused window, whose
    // client hears the enter once it asks for a keyboard.
    let seated_conn = server.connect().unwrap();
    let mut seated = Probe::new(&seated_conn).unwrap();
    seated.bind_keyboard().unwrap();
    assert!(made(&server), "{}", server.log());
    seatless.bind_keyboard().unwrap();
    let enter_first = format!("keyboard enter {}", first.surface.id().protocol_id());
    assert!(
        seatless.heard(&enter_first),
        "{:?}\n{}",
        seatless.state.log,
        server.log()
    );
    // Focus then moves as before: the new window gets it, the first is deactivated.
    seatless.state.log.clear();
    let second = seated.window("second").unwrap();
    seated.show(&second).unwrap();
    seated.roundtrip().unwrap();
    seatless.roundtrip().unwrap();
    let enter_second = format!("keyboard enter {}", second.surface.id().protocol_id());
    assert!(seated.heard(&enter_second), "{:?}", seated.state.log);
    assert_eq!(
        seatless.state.log.last().map(String::as_str),
        Some("first configure"),
        "{:?}",
        seatless.state.log
    );
}

#[test]
fn foreign_toplevel_list_follows_windows() {
    let server = Server::start(&["--renderer", "pixman"]).unwrap();
    let lister_conn = server.connect().unwrap();
    let mut lister = Probe::new(&lister_conn).unwrap();
    lister.list_toplevels().unwrap();
    assert!(lister.state.log.is_empty(), "{:?}", lister.state.log);

    let app_conn = server.connect().unwrap();
    let mut app = Probe::new(&app_conn).unwrap();
    let window = app.window("listed").unwrap();
    lister.roundtrip().unwrap();
    assert!(
        lister.heard("toplevel title listed"),
        "{:?}",
        lister.state.log
    );
    assert!(
        lister.heard("toplevel app_id org.planar.listed"),
        "{:?}",
        lister.state.log
    );

    lister.state.log.clear();
    window.toplevel.set_title("renamed".into());
    window.surface.commit();
    app.roundtrip().unwrap();
    lister.roundtrip().unwrap();
    assert_eq!(
        lister.state.log,
        ["toplevel title renamed", "toplevel done"],
        "{}",
        server.log()
    );

    window.destroy();
    app.roundtrip().unwrap();
    lister.roundtrip().unwrap();
    assert!(lister.heard("toplevel closed"), "{:?}", lister.state.log);
}

/// One wp_color_representation_surface_v1 per surface (`surface_exists` for a second);
/// once it is destroyed another may be made.
#[test]
fn color_representation_is_one_per_surface_until_destroyed() {
    use wayland_protocols::wp::color_representation::v1::client::wp_color_representation_manager_v1::Error;
    let server = Server::start(&["--renderer", "pixman"]).unwrap();
    let conn = server.connect().unwrap();
    let window = planar_tests::window::Window::new(&conn, "repr").unwrap();
    let first = window.set_color_representation(true, true).unwrap();
    conn.roundtrip().expect("the first object is made");
    first.destroy();
    let _second = window.set_color_representation(false, false).unwrap();
    conn.roundtrip()
        .expect("another object once the first was destroyed");
    let _third = window.set_color_representation(true, false).unwrap();
    assert!(
        conn.roundtrip().is_err(),
        "a second live object is an error"
    );
    let error = conn.protocol_error().expect("a protocol error");
    assert_eq!(
        (error.object_interface.as_str(), error.code),
        (
            "wp_color_representation_manager_v1",
            Error::SurfaceExists as u32
        ),
        "{error:?}"
    );
}

#[test]
fn alpha_modifier_blends_a_shm_window_over_the_background() {
    use planar_tests::{
        capture::{wlr_screencopy, Captured},
        shm_client::shm_buffer,
        window::Window,
    };
    use wayland_protocols::wp::alpha_modifier::v1::client::wp_alpha_modifier_v1::WpAlphaModifierV1;
    // GLES only: smithay 0.7's pixman renderer composites formats without alpha with
    // PIXMAN_OP_SRC even under an alpha mask, so an XRGB window at half alpha comes out
    // half black there instead of blended (a known limit, in the README).
    if let Some(reason) = planar_tests::fixture::gles_unavailable() {
        return planar_tests::fixture::skip(
            "alpha_modifier_blends_a_shm_window_over_the_background",
            &reason,
        );
    }
    let server = Server::start(&[
        "--renderer",
        "gles",
        "--size",
        "64x64",
        "--allow-capture",
        "all",
    ])
    .unwrap();
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "half").unwrap();
    let qh = window.queue_handle().clone();
    let shm: wayland_client::protocol::wl_shm::WlShm = window.globals.bind(&qh, 1..=1, ()).unwrap();
    let alpha: WpAlphaModifierV1 = window.globals.bind(&qh, 1..=1, ()).unwrap();
    let modifier = alpha.get_surface(window.surface(), &qh, ());
    modifier.set_multiplier(u32::MAX / 2);
    let white = shm_buffer(&shm, &qh, 32, 32, 128, &[0xff; 32 * 32 * 4]).unwrap();
    window.show(&white, 32, None, 32);
    window.wait_presented().unwrap();
    let Captured::Image(img) = wlr_screencopy(&server.connect().unwrap()).unwrap() else {
        panic!("capture refused:\n{}", server.log());
    };
    // Half white over the background (32, 32, 48): about (143, 143, 151).
    let [r, g, b, _] = img.pixel(10, 10);
    for (got, want) in [(r, 143), (g, 143), (b, 151)] {
        assert!(
            got.abs_diff(want) <= 3,
            "pixel {:?}, want about (143, 143, 151)",
            img.pixel(10, 10)
        );
    }
    assert_eq!(img.pixel(50, 50), [32, 32, 48, 255]);
}
