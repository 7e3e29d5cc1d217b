//! wp_security_context_manager_v1: a sandbox engine (flatpak, …) hands planar a listening
//! socket; every client that connects through it carries the context in its
//! `ClientState`. Such clients never may capture (`CapturePolicy::permits` in `capture/`), and see neither
//! this global nor the foreign toplevel list. The listener lives until the sandbox engine
//! closes its close_fd (smithay's listener source ends then).
//!
//! smithay 0.7 implements the protocol, but trusts the fds it is given: its listener
//! source returns accept()'s errors to the event loop, which ends planar. So planar:
//! - answers `create_listener` with a listen_fd that is not a listening AF_UNIX stream
//!   socket with the protocol's `invalid_listen_fd` (a pipe or a connected socket would
//!   make accept() fail as soon as it is readable);
//! - wraps each listener (`Listener`): an accept() error (EMFILE …) rests it for
//!   `listen::BACKOFF` instead of ending planar, and one that keeps waking with nothing to
//!   accept (the engine shut its socket down) is rested, then closed;
//! - listens on at most `MAX_LISTENERS` sockets at once, and on at most
//!   `MAX_LISTENERS_PER_CLIENT` made by one client connection: each holds two fds, and
//!   without the first bound one client could take all of planar's fds, without the
//!   second every slot. A listener outlives the client that made it (the protocol says
//!   so) and still counts for it; a client that reconnects counts afresh, so the
//!   per-client bound only keeps one connection from taking every slot, and the overall
//!   bound is what holds the listeners' fds;
//! - lets one connection hold at most `MAX_CONTEXTS_PER_CLIENT` uncommitted contexts:
//!   smithay keeps a context's two fds from `create_listener` until commit, before any
//!   listener bound sees it (past it: `wl_display.no_memory`, as planar's other per-client
//!   limits). A context destroyed uncommitted stops counting (its fds close with it).

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    io,
    os::fd::AsFd,
    os::unix::net::UnixStream,
    rc::Rc,
    sync::atomic::Ordering::SeqCst,
    sync::Arc,
};

use calloop::{
    EventSource, LoopHandle, Poll, PostAction, Readiness, RegistrationToken, Token, TokenFactory,
};
use smithay::{
    reexports::{
        wayland_protocols::wp::security_context::v1::server::{
            wp_security_context_manager_v1::{self, WpSecurityContextManagerV1},
            wp_security_context_v1::{self, WpSecurityContextV1},
        },
        wayland_server::{
            backend::ClientId, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
            Resource,
        },
    },
    wayland::security_context::{
        SecurityContext, SecurityContextGlobalData, SecurityContextHandler,
        SecurityContextListenerSource, SecurityContextState, SecurityContextUserData,
    },
};
use tracing::{debug, info, warn};

use super::dispatch::intercept;
use crate::state::{ClientState, State};

/// Security-context sockets planar listens on at once (each holds two fds).
pub const MAX_LISTENERS: usize = 32;
/// Of those, the most one client connection may have made.
pub const MAX_LISTENERS_PER_CLIENT: usize = 8;
/// Security contexts one client connection may hold uncommitted (a sandbox engine makes one
/// and commits it at once). A context destroyed without its commit stops counting.
pub const MAX_CONTEXTS_PER_CLIENT: usize = 64;
/// Wake-ups in a row with nothing to accept after which a listener is closed.
const MAX_EMPTY_WAKES: u32 = 8;

/// How many listeners are live, in all and per client that made them; shared with each
/// `Listener`, which counts itself out when calloop drops it.
#[derive(Default)]
pub struct Listeners {
    live: Rc<RefCell<Live>>,
}

#[derive(Default)]
struct Live {
    total: usize,
    per_client: HashMap<ClientId, usize>,
}

impl Live {
    /// Why one more listener of `client` is refused, if it is.
    fn refusal(&self, client: &ClientId) -> Option<String> {
        if self.total >= MAX_LISTENERS {
            return Some(format!(
                "planar already listens on {MAX_LISTENERS} security-context sockets"
            ));
        }
        let mine = self.per_client.get(client).copied();
        (mine.unwrap_or(0) >= MAX_LISTENERS_PER_CLIENT).then(|| {
            format!("the client made {MAX_LISTENERS_PER_CLIENT} security contexts that are still listening")
        })
    }

    fn add(&mut self, client: &ClientId) {
        self.total += 1;
        *self.per_client.entry(client.clone()).or_insert(0) += 1;
    }

    fn remove(&mut self, client: &ClientId) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.per_client.get_mut(client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(client);
            }
        }
    }
}

impl SecurityContextHandler for State {
    fn context_created(&mut self, source: SecurityContextListenerSource, context: SecurityContext) {
        let Some(handle) = self.loop_handle.clone() else {
            warn!("a security context was created without an event loop to listen in; ignored");
            return;
        };
        // smithay names the connection that committed the context.
        let creator = context.creator_client_id.clone();
        let live = self.desktop.security_listeners.live.clone();
        let refusal = live.borrow().refusal(&creator);
        if let Some(why) = refusal {
            // Dropping `source` closes both fds: the engine's clients cannot connect. Warned
            // of once per connection: a client committing in a loop would grow the log.
            let data = self
                .display_handle
                .backend_handle()
                .get_client_data(creator.clone());
            let first = data.is_ok_and(|d| {
                d.downcast_ref::<ClientState>()
                    .is_none_or(|d| !d.security_refusal_logged.swap(true, SeqCst))
            });
            let engine = &context.sandbox_engine;
            if first {
                warn!(?engine, client = ?creator, "security context refused: {why} (further refusals of this client are logged at debug)");
            } else {
                debug!(?engine, client = ?creator, "security context refused: {why}");
            }
            return;
        }
        live.borrow_mut().add(&creator);
        info!(
            engine = ?context.sandbox_engine,
            app_id = ?context.app_id,
            "security context created"
        );
        let token = Rc::new(Cell::new(None));
        let listener = Listener {
            inner: source,
            token: token.clone(),
            handle: handle.clone(),
            empty_wakes: 0,
            live,
            creator,
        };
        let inserted = handle.insert_source(listener, move |stream, _, state| {
            let data = ClientState {
                security_context: Some(context.clone()),
                ..ClientState::default()
            };
            match state.display_handle.insert_client(stream, Arc::new(data)) {
                Ok(client) => crate::client_name::remember(&client, &state.display_handle),
                Err(err) => warn!(?err, "error adding a client from a security context"),
            }
        });
        match inserted {
            Ok(t) => token.set(Some(t)),
            Err(err) => warn!(%err, "error listening on a security context's socket"),
        }
    }
}

/// Why `fd` cannot be a security context's listen_fd, if it cannot.
fn check_listen_fd(fd: impl AsFd) -> Result<(), String> {
    use rustix::net::{sockopt, AddressFamily, SocketType};
    let fd = fd.as_fd();
    let domain =
        sockopt::socket_domain(fd).map_err(|e| format!("listen_fd is not a socket ({e})"))?;
    let kind = sockopt::socket_type(fd).map_err(|e| format!("listen_fd: {e}"))?;
    if domain != AddressFamily::UNIX || kind != SocketType::STREAM {
        return Err(format!(
            "listen_fd is a {domain:?} {kind:?} socket, not an AF_UNIX stream socket"
        ));
    }
    if !sockopt::socket_acceptconn(fd).unwrap_or(false) {
        return Err("listen_fd is not listening".into());
    }
    Ok(())
}

impl Dispatch<WpSecurityContextManagerV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        manager: &WpSecurityContextManagerV1,
        request: wp_security_context_manager_v1::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let invalid = match &request {
            wp_security_context_manager_v1::Request::CreateListener { listen_fd, .. } => {
                check_listen_fd(listen_fd).err()
            }
            _ => None,
        };
        // smithay makes the object either way (wayland-server wants every new id
        // initialised); the error then ends the client, and with it the object and fds.
        <SecurityContextState as Dispatch<WpSecurityContextManagerV1, (), State>>::request(
            state, client, manager, request, data, dh, data_init,
        );
        if let Some(why) = invalid {
            warn!(client = ?client.id(), "wp_security_context_manager_v1.create_listener: {why}: invalid_listen_fd");
            manager.post_error(wp_security_context_manager_v1::Error::InvalidListenFd, why);
            return;
        }
        // A context holds its two fds from create_listener on, before the listener bounds
        // count it (at commit): the contexts one connection makes are bounded too.
        let made = client.get_data::<ClientState>().map_or(0, |d| {
            d.security_contexts
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1
        });
        if made > MAX_CONTEXTS_PER_CLIENT {
            let message = format!(
                "more than {MAX_CONTEXTS_PER_CLIENT} wp_security_context_v1 objects not committed on one connection: planar's limit"
            );
            crate::limits::disconnect_no_memory(dh, client, message);
        }
    }
}

delegate_global_dispatch!(State: [WpSecurityContextManagerV1: SecurityContextGlobalData] => SecurityContextState);
// A commit hands the context's fds from the uncommitted count to the listener bounds; a
// context destroyed uncommitted closes them (smithay drops its builder), so it leaves the
// count too. `committed_contexts` tells the two apart at destruction.
intercept!(
    WpSecurityContextV1, SecurityContextUserData => SecurityContextState,
    |_state: &mut State, client: &Client, context: &WpSecurityContextV1, request| {
        if matches!(request, wp_security_context_v1::Request::Commit) {
            // Committed: its fds go to a listener, which the listener bounds count. A second
            // commit (smithay's already_used error) counts nothing.
            if let Some(d) = client.get_data::<ClientState>() {
                let first = lock(&d.committed_contexts).insert(context.id());
                if first {
                    uncount_context(d);
                }
            }
        }
        Some(request)
    },
    destroyed: |_state: &mut State, context: &WpSecurityContextV1| {
        let Some(client) = context.client() else {
            return;
        };
        if let Some(d) = client.get_data::<ClientState>() {
            let committed = lock(&d.committed_contexts).remove(&context.id());
            if !committed {
                uncount_context(d);
            }
        }
    }
);

/// One uncommitted context fewer on the connection.
fn uncount_context(data: &ClientState) {
    let _ = data
        .security_contexts
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// smithay's listener source, with its errors kept from the event loop (module header).
struct Listener {
    inner: SecurityContextListenerSource,
    /// This source's own registration, to re-enable it after a rest.
    token: Rc<Cell<Option<RegistrationToken>>>,
    handle: LoopHandle<'static, State>,
    empty_wakes: u32,
    live: Rc<RefCell<Live>>,
    creator: ClientId,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.live.borrow_mut().remove(&self.creator);
    }
}

impl Listener {
    /// Stops polling for a while (see `listen::resume_after`).
    fn rest(&self) -> io::Result<PostAction> {
        crate::listen::resume_after(&self.handle, self.token.get());
        Ok(PostAction::Disable)
    }
}

impl EventSource for Listener {
    type Event = UnixStream;
    type Metadata = ();
    type Ret = ();
    type Error = io::Error;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> io::Result<PostAction>
    where
        F: FnMut(UnixStream, &mut ()),
    {
        let mut accepted = 0usize;
        let result = self.inner.process_events(readiness, token, |stream, meta| {
            accepted += 1;
            callback(stream, meta)
        });
        match result {
            Err(err) => {
                warn!(%err, "accepting a client on a security context's socket failed; it rests");
                self.rest()
            }
            Ok(PostAction::Continue) if accepted == 0 && readiness.readable => {
                self.empty_wakes += 1;
                if self.empty_wakes >= MAX_EMPTY_WAKES {
                    warn!(
                        "a security context's socket keeps waking planar with nothing to accept (shut down?); no longer listening on it"
                    );
                    return Ok(PostAction::Remove);
                }
                self.rest()
            }
            Ok(action) => {
                if accepted > 0 {
                    self.empty_wakes = 0;
                }
                Ok(action)
            }
        }
    }

    fn register(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.inner.register(poll, factory)
    }

    fn reregister(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.inner.reregister(poll, factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.inner.unregister(poll)
    }
}
