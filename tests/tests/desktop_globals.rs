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
