//! Crashes `scripts/fuzz-protocol` found, each replayed here with a plain wayland-client:
//! the request gets the protocol's error and planar keeps serving.

use planar_tests::fixture::Server;
use wayland_client::{
    backend::WaylandError,
    delegate_noop,
    globals::registry_queue_init,
    protocol::{
        wl_compositor::WlCompositor, wl_shm::WlShm, wl_shm_pool::WlShmPool,
        wl_subcompositor::WlSubcompositor, wl_subsurface::WlSubsurface, wl_surface::WlSurface,
    },
    Connection,
};

struct State;
planar_tests::ignore_registry_events!(State);
delegate_noop!(State: ignore WlCompositor);
delegate_noop!(State: ignore WlSurface);
delegate_noop!(State: ignore WlSubcompositor);
delegate_noop!(State: ignore WlSubsurface);
delegate_noop!(State: ignore WlShm);
delegate_noop!(State: ignore WlShmPool);

fn server() -> Server {
    Server::start(&["--renderer", "pixman", "--size", "200x100"]).unwrap()
}

/// The (interface, code) of the protocol error the next roundtrip ends with.
fn protocol_error(queue: &mut wayland_client::EventQueue<State>) -> (String, u32) {
    match queue.roundtrip(&mut State) {
        Err(wayland_client::DispatchError::Backend(WaylandError::Protocol(e))) => {
            (e.object_interface, e.code)
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

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
    let mut server = server();
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
        assert_eq!(protocol_error(&mut queue), ("wl_subsurface".into(), 0));
        still_serving(&mut server);
    }
    assert!(server
        .log()
        .contains("sub-surface placed relative to itself"));
}

/// Found with seed 0x38ba59b74fc1ca16: smithay posted invalid_fd for wl_shm_pool.resize(0),
/// then unwrapped a NonZeroUsize of 0 and panicked.
#[test]
fn shm_pool_resized_to_zero_is_invalid_fd() {
    let mut server = server();
    for size in [0, -1, i32::MIN] {
        let conn: Connection = server.connect().unwrap();
        let (globals, mut queue) = registry_queue_init::<State>(&conn).unwrap();
        let qh = queue.handle();
        let shm: WlShm = globals.bind(&qh, 1..=1, ()).unwrap();
        let fd = planar_tests::memfd::sealed("fuzz-found", &[0; 4096]).unwrap();
        let pool = shm.create_pool(std::os::fd::AsFd::as_fd(&fd), 4096, &qh, ());
        pool.resize(size);
        // wl_shm's invalid_fd, posted on the pool.
        assert_eq!(
            protocol_error(&mut queue),
            ("wl_shm_pool".into(), 2),
            "size {size}"
        );
        still_serving(&mut server);
    }
    assert!(server
        .log()
        .contains("wl_shm_pool resized to a non-positive size"));
}
