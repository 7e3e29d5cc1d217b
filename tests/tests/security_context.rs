//! wp_security_context_manager_v1: a sandboxed client never captures and does not see the
//! privileged globals; against hostile sandbox engines: a listen_fd that is not a listening
//! socket, a listener whose engine shut it down, more listeners than planar
//! holds (in all and per connection), and contexts left uncommitted or destroyed before
//! their commit. Each test checks that planar answers as the protocol says, stays alive,
//! does not burn the CPU, gives back the fds, and keeps serving a new client.

use std::{
    os::{
        fd::{AsFd, BorrowedFd, OwnedFd},
        unix::net::{UnixListener, UnixStream},
    },
    time::{Duration, Instant},
};

use planar_tests::{
    fixture::{roundtrip_error, runtime_dir, Server},
    proc::{cpu_ticks, fd_count, fds_settle_to},
};
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalListContents},
    protocol::wl_registry::WlRegistry,
    Connection, Dispatch, EventQueue, QueueHandle,
};
use wayland_protocols::wp::security_context::v1::client::{
    wp_security_context_manager_v1::WpSecurityContextManagerV1,
    wp_security_context_v1::WpSecurityContextV1,
};

fn server() -> Server {
    Server::start(&["--renderer", "pixman", "--size", "200x100"]).expect("planar starts")
}

/// A client with no state of its own. Each test file has its own (as hostile.rs does):
/// `delegate_noop!` implements wayland-client's trait for it, which the orphan rule allows
/// only for a type of the same crate.
struct Raw;

impl Dispatch<WlRegistry, GlobalListContents> for Raw {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}
delegate_noop!(Raw: ignore WpSecurityContextManagerV1);
delegate_noop!(Raw: ignore WpSecurityContextV1);

/// The manager, and the queue its objects' events go to (ignored: only their ids matter
/// here). The queue holds the connection: dropping it with the connection closes it.
fn security_manager(conn: &Connection) -> (WpSecurityContextManagerV1, EventQueue<Raw>) {
    let (globals, queue) = registry_queue_init::<Raw>(conn).unwrap();
    let manager = globals.bind(&queue.handle(), 1..=1, ()).unwrap();
    (manager, queue)
}

/// `n` security contexts listening on `listen` made (committed, then their objects
/// destroyed: the listeners stay), with no protocol error every 50 and at the end.
fn make_listeners(conn: &Connection, listen: BorrowedFd, close: BorrowedFd, n: usize) {
    let (manager, queue) = security_manager(conn);
    let qh = queue.handle();
    for i in 0..n {
        let context = manager.create_listener(listen, close, &qh, ());
        context.commit();
        context.destroy();
        if i % 50 == 49 {
            assert_eq!(roundtrip_error(conn), None);
        }
    }
    assert_eq!(roundtrip_error(conn), None);
}

/// A sandbox engine's side of a security context: a listening socket in its own directory
/// and the pipe whose read end is the close fd (the write end kept open so it never closes).
struct Sandbox {
    dir: tempfile::TempDir,
    listener: UnixListener,
    close_read: OwnedFd,
    _close_write: OwnedFd,
}

fn sandbox() -> Sandbox {
    let dir = runtime_dir();
    let listener = UnixListener::bind(dir.path().join("sandbox.sock")).unwrap();
    let (close_read, _close_write) = rustix::pipe::pipe().unwrap();
    Sandbox {
        dir,
        listener,
        close_read,
        _close_write,
    }
}

/// A pipe (either end), a memfd or a connected socket as listen_fd: smithay's listener
/// would accept() on it as soon as it is readable, get ENOTSOCK/EINVAL and end planar's event loop (exit 70).
/// The protocol's answer is `invalid_listen_fd`.
#[test]
fn security_context_listen_fd_that_is_not_a_listening_socket_is_invalid_listen_fd() {
    let mut server = server();
    let (pipe_read, pipe_write) = rustix::pipe::pipe().unwrap();
    let (sock_a, mut sock_b) = UnixStream::pair().unwrap();
    let memfd = rustix::fs::memfd_create("not-a-socket", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    for (what, listen_fd) in [
        ("a pipe", pipe_read.as_fd()),
        ("a pipe's write end", pipe_write.as_fd()),
        ("a memfd", memfd.as_fd()),
        ("a connected socket", sock_a.as_fd()),
    ] {
        let conn = server.connect().unwrap();
        let (manager, queue) = security_manager(&conn);
        let qh = queue.handle();
        let (close_read, _close_write) = rustix::pipe::pipe().unwrap();
        let context = manager.create_listener(listen_fd, close_read.as_fd(), &qh, ());
        context.set_sandbox_engine("org.planar.hostile".into());
        context.commit();
        let error = roundtrip_error(&conn);
        // Make the fd readable, as a hostile engine would, had planar kept it.
        rustix::io::write(&pipe_write, b"x").unwrap();
        std::io::Write::write_all(&mut sock_b, b"x").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            server.alive(),
            "{what} as listen_fd ended planar:\n{}",
            server.log()
        );
        assert_eq!(
            error,
            Some(("wp_security_context_manager_v1".into(), 1)),
            "{what} as listen_fd: invalid_listen_fd expected"
        );
    }
    assert!(
        server.log().contains("invalid_listen_fd"),
        "{}",
        server.log()
    );
    server.assert_serving();
}

/// A listening socket, valid at create_listener, that the sandbox engine then shuts down:
/// it polls readable forever while accept() says EAGAIN, and smithay's level-triggered
/// listener would spin planar's main loop at 100% CPU.
#[test]
fn security_context_listener_shut_down_by_its_engine_does_not_spin_planar() {
    let mut server = server();
    let conn = server.connect().unwrap();
    let (manager, queue) = security_manager(&conn);
    let qh = queue.handle();
    let sandbox = sandbox();
    let (listener, close_read) = (&sandbox.listener, &sandbox.close_read);
    let context = manager.create_listener(listener.as_fd(), close_read.as_fd(), &qh, ());
    context.commit();
    assert_eq!(roundtrip_error(&conn), None);
    // Shutting down our copy shuts down planar's too: one open file description.
    let rc = unsafe { libc::shutdown(std::os::fd::AsRawFd::as_raw_fd(listener), libc::SHUT_RDWR) };
    assert_eq!(rc, 0);
    // Let planar settle (a well-behaved planar rests then drops the listener), then
    // measure 1 s of its CPU time.
    std::thread::sleep(Duration::from_millis(1500));
    let (t0, c0) = (
        Instant::now(),
        cpu_ticks(server.pid()).expect("read /proc/PID/stat"),
    );
    std::thread::sleep(Duration::from_secs(1));
    let ticks = cpu_ticks(server.pid()).expect("read /proc/PID/stat") - c0;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let busy = ticks as f64 / hz / t0.elapsed().as_secs_f64();
    assert!(
        busy < 0.3,
        "planar used {:.0}% of a core while idle with a shut-down security-context socket",
        busy * 100.0
    );
    assert!(
        server.log().contains("no longer listening"),
        "{}",
        server.log()
    );
    server.assert_serving();
}

/// Security-context listeners outlive their client and each holds two fds in planar; the
/// client needs to keep none of its own (libwayland dups at marshal time). Without a
/// bound, one client takes every fd planar may open.
#[test]
fn security_context_listeners_are_bounded() {
    let mut server = server();
    let baseline = fd_count(server.pid()).unwrap_or(0);
    let sandbox = sandbox();
    let (listener, close_read) = (&sandbox.listener, &sandbox.close_read);
    // Six connections of 50 each: 8 listen per connection, so the overall 32 is reached.
    for _ in 0..6 {
        let conn = server.connect().unwrap();
        make_listeners(&conn, listener.as_fd(), close_read.as_fd(), 50);
    }
    let held = fds_settle_to(server.pid(), baseline + 2 * 32 + 4).saturating_sub(baseline);
    assert!(
        held <= 2 * 32 + 4,
        "planar holds {held} more fds after 300 security contexts (at most 2 per listener, 32 listeners)"
    );
    let log = server.log();
    assert!(
        log.contains("planar already listens on 32 security-context sockets"),
        "{log}"
    );
    // 268 refusals, logged at warn once per connection (the rest at debug).
    let warned = log.matches("security context refused").count();
    assert!(
        (1..=6).contains(&warned),
        "{warned} refusals logged at warn:\n{log}"
    );
    server.assert_serving();
}

/// Contexts made and never committed hold their two fds inside smithay, where no listener
/// bound sees them: one connection may hold 64, then it is ended with `no_memory`, and
/// planar's fds are back to what they were.
#[test]
fn uncommitted_security_contexts_are_bounded_per_client() {
    let c = ContextClient::new();
    let mut contexts = Vec::new();
    let mut made = 0;
    for _ in 0..10 {
        for _ in 0..10 {
            contexts.push(c.make());
        }
        made += 10;
        // Ended with no_memory (or, with requests still in flight, a broken pipe).
        if c.conn.roundtrip().is_err() {
            break;
        }
    }
    assert!(
        made > 64 && made <= 70,
        "the client was ended after {made} contexts"
    );
    assert_eq!(
        c.conn
            .protocol_error()
            .map(|e| (e.code, e.object_interface)),
        Some((2, "wl_display".to_string())),
        "the client hears wl_display.no_memory before its connection ends"
    );
    let log = c.server.log();
    assert!(
        log.contains("more than 64 wp_security_context_v1 objects not committed"),
        "{log}"
    );
    drop(contexts);
    c.fds_back_and_serving();
}

/// A sandbox engine's connection making security contexts, with planar's fd count before.
struct ContextClient {
    server: Server,
    baseline: usize,
    sandbox: Sandbox,
    conn: Connection,
    manager: WpSecurityContextManagerV1,
    queue: EventQueue<Raw>,
}

impl ContextClient {
    fn new() -> Self {
        let server = server();
        let baseline = fd_count(server.pid()).unwrap_or(0);
        let sandbox = sandbox();
        let conn = server.connect().unwrap();
        let (manager, queue) = security_manager(&conn);
        ContextClient {
            server,
            baseline,
            sandbox,
            conn,
            manager,
            queue,
        }
    }

    /// One context listening on the sandbox's socket (not committed).
    fn make(&self) -> WpSecurityContextV1 {
        let (listen, close) = (
            self.sandbox.listener.as_fd(),
            self.sandbox.close_read.as_fd(),
        );
        self.manager
            .create_listener(listen, close, &self.queue.handle(), ())
    }

    /// Ends the connection; planar then holds at most 4 fds more than before, and serves.
    fn fds_back_and_serving(self) {
        let ContextClient {
            mut server,
            baseline,
            conn,
            queue,
            ..
        } = self;
        // The queue holds the connection too.
        drop((queue, conn));
        fds_back(&server, baseline, "after the connection ended");
        server.assert_serving();
    }
}

/// planar holds at most 4 fds more than `baseline` (`when` says at which point).
fn fds_back(server: &Server, baseline: usize, when: &str) {
    let held = fds_settle_to(server.pid(), baseline + 4).saturating_sub(baseline);
    assert!(held <= 4, "planar still holds {held} more fds {when}");
}

/// A context destroyed before its commit closes its fds with it, and leaves the bound: a
/// connection may make and destroy far more than 64 over its life.
#[test]
fn destroyed_uncommitted_security_contexts_leave_the_bound() {
    let c = ContextClient::new();
    for round in 0..4 {
        let contexts: Vec<_> = (0..50).map(|_| c.make()).collect();
        c.conn
            .roundtrip()
            .unwrap_or_else(|e| panic!("round {round}: {e}: {}", c.server.log()));
        for context in contexts {
            context.destroy();
        }
        c.conn
            .roundtrip()
            .unwrap_or_else(|e| panic!("round {round}: {e}: {}", c.server.log()));
    }
    let error = c.conn.protocol_error();
    assert!(error.is_none(), "{error:?}");
    // Closed with the objects, while the connection is still open.
    fds_back(&c.server, c.baseline, "after the contexts were destroyed");
    c.fds_back_and_serving();
}

/// The overall bound of 32 listeners left one client free to take every slot, so that no
/// other sandbox engine could make a context. One connection may have 8 listening.
#[test]
fn security_context_listeners_are_bounded_per_client() {
    let mut server = server();
    let sandbox = sandbox();
    let (greedy, close_read, dir) = (&sandbox.listener, &sandbox.close_read, &sandbox.dir);
    let conn = server.connect().unwrap();
    make_listeners(&conn, greedy.as_fd(), close_read.as_fd(), 40);
    assert!(
        server
            .log()
            .contains("the client made 8 security contexts that are still listening"),
        "{}",
        server.log()
    );

    // Another client's context still gets a slot: planar listens on its socket, which
    // the test's own listener no longer holds open.
    let path = dir.path().join("fair.sock");
    let fair = UnixListener::bind(&path).unwrap();
    let other = server.connect().unwrap();
    make_listeners(&other, fair.as_fd(), close_read.as_fd(), 1);
    drop(fair);
    let stream = UnixStream::connect(&path).expect("planar listens on the second client's socket");
    let sandboxed = Connection::from_socket(stream).unwrap();
    sandboxed
        .roundtrip()
        .expect("a client through the second context is served");
    server.assert_serving();
}

/// A client connected through a security context sees neither this global nor the foreign
/// toplevel list, and never captures, even with `--allow-capture all` (which lets this
/// test process capture directly).
#[test]
fn sandboxed_clients_never_capture() {
    use planar_tests::{
        capture::{wlr_screencopy, Captured},
        fixture::global_names,
    };
    let server = Server::start(&["--renderer", "pixman", "--allow-capture", "all"]).unwrap();
    let conn = server.connect().unwrap();
    assert!(matches!(wlr_screencopy(&conn).unwrap(), Captured::Image(_)));
    let (manager, queue) = security_manager(&conn);
    let qh = queue.handle();
    let sandbox = sandbox();
    let (listener, close_read) = (&sandbox.listener, &sandbox.close_read);
    let context = manager.create_listener(listener.as_fd(), close_read.as_fd(), &qh, ());
    context.set_sandbox_engine("org.planar.test".into());
    context.set_app_id("sandboxed".into());
    context.commit();
    assert_eq!(roundtrip_error(&conn), None);

    let path = sandbox.dir.path().join("sandbox.sock");
    let sandboxed = Connection::from_socket(UnixStream::connect(&path).unwrap()).unwrap();
    let names = global_names(&sandboxed);
    assert!(names.iter().any(|n| n == "wl_compositor"), "{names:?}");
    for hidden in [
        "wp_security_context_manager_v1",
        "ext_foreign_toplevel_list_v1",
    ] {
        assert!(
            !names.iter().any(|n| n == hidden),
            "a sandboxed client sees {hidden}"
        );
    }
    assert!(
        matches!(wlr_screencopy(&sandboxed).unwrap(), Captured::Refused),
        "{}",
        server.log()
    );
    assert!(server.log().contains("sandboxed"), "{}", server.log());
    // The unsandboxed connection still captures.
    assert!(matches!(wlr_screencopy(&conn).unwrap(), Captured::Image(_)));
}
