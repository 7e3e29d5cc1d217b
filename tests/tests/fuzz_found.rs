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
use wayland_protocols::{
    wp::security_context::v1::client::{
        wp_security_context_manager_v1::WpSecurityContextManagerV1,
        wp_security_context_v1::WpSecurityContextV1,
    },
    xdg::{
        shell::client::{
            xdg_surface::XdgSurface, xdg_toplevel::XdgToplevel, xdg_wm_base::XdgWmBase,
        },
        toplevel_icon::v1::client::{
            xdg_toplevel_icon_manager_v1::XdgToplevelIconManagerV1,
            xdg_toplevel_icon_v1::XdgToplevelIconV1,
        },
    },
};

struct State;
planar_tests::ignore_registry_events!(State);
delegate_noop!(State: ignore WlCompositor);
delegate_noop!(State: ignore WlSurface);
delegate_noop!(State: ignore WlSubcompositor);
delegate_noop!(State: ignore WlSubsurface);
delegate_noop!(State: ignore WlShm);
delegate_noop!(State: ignore WlShmPool);
delegate_noop!(State: ignore wayland_client::protocol::wl_buffer::WlBuffer);
delegate_noop!(State: ignore WpSecurityContextManagerV1);
delegate_noop!(State: ignore WpSecurityContextV1);
delegate_noop!(State: ignore XdgWmBase);
delegate_noop!(State: ignore XdgSurface);
delegate_noop!(State: ignore XdgToplevel);
delegate_noop!(State: ignore XdgToplevelIconManagerV1);
delegate_noop!(State: ignore XdgToplevelIconV1);

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
        server.assert_serving();
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
        server.assert_serving();
    }
    assert!(server
        .log()
        .contains("wl_shm_pool resized to a non-positive size"));
}

/// Found with seed 0xd1 (a leak, not a crash): smithay took any fd as the listening
/// socket, so a client passing both ends of one pipe (listen_fd the write end, close_fd
/// the read end) left both in planar after it disconnected. A listen_fd that is not a
/// listening unix socket now gets invalid_listen_fd; a real one still works.
#[test]
fn security_context_listen_fd_must_be_a_listening_socket() {
    use std::os::fd::AsFd;
    let mut server = server();
    let connect = |server: &Server| {
        let conn: Connection = server.connect().unwrap();
        let (globals, queue) = registry_queue_init::<State>(&conn).unwrap();
        let manager: WpSecurityContextManagerV1 = globals
            .bind(&queue.handle(), 1..=1, ())
            .expect("the global");
        (conn, queue, manager)
    };
    let (r, w) = rustix::pipe::pipe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let unbound = std::os::unix::net::UnixStream::pair().unwrap().0;
    for listen in [w.as_fd(), r.as_fd(), unbound.as_fd()] {
        let (_conn, mut queue, manager) = connect(&server);
        let ctx = manager.create_listener(listen, r.as_fd(), &queue.handle(), ());
        ctx.commit();
        assert_eq!(
            protocol_error(&mut queue),
            ("wp_security_context_manager_v1".into(), 1)
        );
        server.assert_serving();
    }
    // A real listening socket is taken, and a client connecting through it is served.
    let path = dir.path().join("sandbox.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let (_conn, mut queue, manager) = connect(&server);
    let ctx = manager.create_listener(listener.as_fd(), r.as_fd(), &queue.handle(), ());
    ctx.set_sandbox_engine("planar.test".into());
    ctx.commit();
    queue
        .roundtrip(&mut State)
        .expect("a listening socket is accepted");
    let sandboxed =
        Connection::from_socket(std::os::unix::net::UnixStream::connect(&path).unwrap()).unwrap();
    sandboxed
        .roundtrip()
        .expect("a client of the context is served");
    assert_eq!(
        server.log().matches(": invalid_listen_fd").count(),
        3,
        "each bad listen_fd is logged"
    );
}

/// Found with seed 0xbeef (client 0xda77541e9a6e365): smithay posted `immutable` for
/// set_name on an icon already given to set_icon, then hit its own debug assertion.
#[test]
fn toplevel_icon_changed_after_set_icon_is_immutable() {
    let mut server = server();
    for add_buffer in [false, true] {
        let conn: Connection = server.connect().unwrap();
        let (globals, mut queue) = registry_queue_init::<State>(&conn).unwrap();
        let qh = queue.handle();
        let compositor: WlCompositor = globals.bind(&qh, 1..=6, ()).unwrap();
        let wm: XdgWmBase = globals.bind(&qh, 1..=6, ()).unwrap();
        let icons: XdgToplevelIconManagerV1 = globals.bind(&qh, 1..=1, ()).expect("the global");
        let surface = compositor.create_surface(&qh, ());
        let toplevel = wm.get_xdg_surface(&surface, &qh, ()).get_toplevel(&qh, ());
        let icon = icons.create_icon(&qh, ());
        icon.set_name("first".into());
        icons.set_icon(&toplevel, Some(&icon));
        if add_buffer {
            let shm: WlShm = globals.bind(&qh, 1..=1, ()).unwrap();
            let fd = planar_tests::memfd::sealed("icon", &[0; 64]).unwrap();
            let pool = shm.create_pool(std::os::fd::AsFd::as_fd(&fd), 64, &qh, ());
            let buffer = pool.create_buffer(
                0,
                4,
                4,
                16,
                wayland_client::protocol::wl_shm::Format::Argb8888,
                &qh,
                (),
            );
            icon.add_buffer(&buffer, 1);
        } else {
            icon.set_name("second".into());
        }
        assert_eq!(
            protocol_error(&mut queue),
            ("xdg_toplevel_icon_v1".into(), 2)
        );
        server.assert_serving();
    }
    assert!(server
        .log()
        .contains("toplevel icon changed after set_icon"));
}
