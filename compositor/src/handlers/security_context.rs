//! wp_security_context_manager_v1: a sandbox engine (flatpak, …) hands planar a listening
//! socket; every client that connects through it carries the context in its
//! `ClientState`. Such clients never may capture (`State::may_capture`), and see neither
//! this global nor the foreign toplevel list. The listener lives until the sandbox engine
//! closes its close_fd (smithay's listener source ends then).

use std::{os::unix::net::UnixStream, sync::Arc};

use calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};

use smithay::{
    delegate_security_context,
    wayland::security_context::{
        SecurityContext, SecurityContextHandler, SecurityContextListenerSource,
    },
};
use tracing::{info, warn};

use crate::state::{ClientState, State};

impl SecurityContextHandler for State {
    fn context_created(&mut self, source: SecurityContextListenerSource, context: SecurityContext) {
        let Some(handle) = self.loop_handle.clone() else {
            warn!("a security context was created without an event loop to listen in; ignored");
            return;
        };
        info!(
            engine = ?context.sandbox_engine,
            app_id = ?context.app_id,
            "security context created"
        );
        let inserted = handle.insert_source(Guarded(source), move |stream, _, state| {
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
struct Guarded(SecurityContextListenerSource);

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

delegate_security_context!(State);
