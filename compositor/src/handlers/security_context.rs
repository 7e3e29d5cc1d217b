//! wp_security_context_manager_v1: a sandbox engine (flatpak, …) hands planar a listening
//! socket; every client that connects through it carries the context in its
//! `ClientState`. Such clients never may capture (`CapturePolicy::permits` in `capture/`), and see neither
//! this global nor the foreign toplevel list. The listener lives until the sandbox engine
//! closes its close_fd (smithay's listener source ends then). At most `MAX_LISTENERS`
//! listen at once: each holds two of the client's fds.

use std::{cell::Cell, os::unix::net::UnixStream, rc::Rc, sync::Arc};

use calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};

use smithay::wayland::security_context::{
    SecurityContext, SecurityContextHandler, SecurityContextListenerSource,
};
use tracing::{info, warn};

use crate::state::{ClientState, State};

/// Security-context listeners alive at once, all clients together (a sandbox engine
/// makes one per sandboxed app).
const MAX_LISTENERS: usize = 64;

thread_local! {
    /// Listeners alive now (the event loop and its sources live on one thread).
    static LISTENERS: Rc<Cell<usize>> = Rc::new(Cell::new(0));
}

impl SecurityContextHandler for State {
    fn context_created(&mut self, source: SecurityContextListenerSource, context: SecurityContext) {
        let Some(handle) = self.loop_handle.clone() else {
            warn!("a security context was created without an event loop to listen in; ignored");
            return;
        };
        let live = LISTENERS.with(Rc::clone);
        if live.get() >= MAX_LISTENERS {
            warn!(
                creator = ?context.creator_client_id,
                "security context refused: {MAX_LISTENERS} listeners already"
            );
            return;
        }
        live.set(live.get() + 1);
        info!(
            engine = ?context.sandbox_engine,
            app_id = ?context.app_id,
            "security context created"
        );
        let inserted = handle.insert_source(Guarded(source, live), move |stream, _, state| {
            let data = ClientState {
                security_context: Some(context.clone()),
                ..ClientState::default()
            };
            if let Err(err) = state.display_handle.insert_client(stream, Arc::new(data)) {
                warn!(?err, "error adding a client from a security context");
            }
        });
        if let Err(err) = inserted {
            warn!(%err, "error listening on a security context's socket");
        }
    }
}

/// smithay's listener source returns accept()'s errors, and an error from a source ends
/// calloop's dispatch, i.e. planar. The listening fd is the client's (a pipe, a socket
/// that does not listen …): a broken one ends only its own listener, with a warning.
/// Also counts itself in `LISTENERS` until dropped.
struct Guarded(SecurityContextListenerSource, Rc<Cell<usize>>);

impl Drop for Guarded {
    fn drop(&mut self) {
        self.1.set(self.1.get().saturating_sub(1));
    }
}

impl EventSource for Guarded {
    type Event = UnixStream;
    type Metadata = ();
    type Ret = ();
    type Error = std::convert::Infallible;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        callback: F,
    ) -> Result<PostAction, Self::Error>
    where
        F: FnMut(UnixStream, &mut ()),
    {
        match self.0.process_events(readiness, token, callback) {
            Ok(action) => Ok(action),
            Err(err) => {
                warn!(%err, "a security context's listening fd failed; no longer listening on it");
                Ok(PostAction::Remove)
            }
        }
    }

    fn register(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.0.register(poll, factory)
    }

    fn reregister(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.0.reregister(poll, factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.0.unregister(poll)
    }
}

// smithay's delegate_security_context! is in `security_context_guard`, which checks
// create_listener's listen_fd before smithay takes it.
