//! Crashes `scripts/fuzz-protocol` found, each replayed here with a plain wayland-client:
//! the request gets the protocol's error and planar keeps serving.

use planar_tests::fixture::Server;
use wayland_client::{
    backend::WaylandError,
    delegate_noop,
    globals::registry_queue_init,
    protocol::{
        wl_compositor::WlCompositor, wl_subcompositor::WlSubcompositor,
        wl_subsurface::WlSubsurface, wl_surface::WlSurface,
    },
    Connection,
};

struct State;
planar_tests::ignore_registry_events!(State);
delegate_noop!(State: ignore WlCompositor);
delegate_noop!(State: ignore WlSurface);
delegate_noop!(State: ignore WlSubcompositor);
delegate_noop!(State: ignore WlSubsurface);

/// planar is alive and answers a new client's roundtrip.
fn still_serving(server: &mut Server) {
    assert!(server.alive(), "planar died:\n{}", server.log());
    let conn = server.connect().unwrap();
    conn.roundtrip().expect("a new client is served");
    assert!(server.alive(), "planar died:\n{}", server.log());
}

/// Found with seed 0x602a0e8cf5bafe7b: smithay's reorder panicked (Vec::insert past the
/// end) when a sub-surface was placed relative to itself.
#[test]
fn subsurface_placed_relative_to_itself_is_bad_surface() {
    let mut server = Server::start(&["--renderer", "pixman", "--size", "200x100"]).unwrap();
    for above in [true, false] {
        let conn: Connection = server.connect().unwrap();
        let (globals, mut queue) = registry_queue_init::<State>(&conn).unwrap();
        let qh = queue.handle();
        let compositor: WlCompositor = globals.bind(&qh, 1..=6, ()).unwrap();
        let subcompositor: WlSubcompositor = globals.bind(&qh, 1..=1, ()).unwrap();
        let parent = compositor.create_surface(&qh, ());
        let child = compositor.create_surface(&qh, ());
        let sub = subcompositor.get_subsurface(&child, &parent, &qh, ());
        if above {
            sub.place_above(&child);
        } else {
            sub.place_below(&child);
        }
        match queue.roundtrip(&mut State) {
            Err(wayland_client::DispatchError::Backend(WaylandError::Protocol(e))) => {
                assert_eq!((e.object_interface.as_str(), e.code), ("wl_subsurface", 0));
            }
            other => panic!("expected wl_subsurface bad_surface, got {other:?}"),
        }
        still_serving(&mut server);
    }
    assert!(server
        .log()
        .contains("sub-surface placed relative to itself"));
}
