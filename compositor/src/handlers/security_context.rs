//! wp_security_context_manager_v1: a sandbox engine (flatpak, …) hands planar a listening
//! socket; every client that connects through it carries the context in its
//! `ClientState`. Such clients never may capture (`CapturePolicy::permits` in `capture/`), and see neither
//! this global nor the foreign toplevel list. The listener lives until the sandbox engine
//! closes its close_fd (smithay's listener source ends then).

use std::sync::Arc;

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
        let inserted = handle.insert_source(source, move |stream, _, state| {
            let data = ClientState {
                security_context: Some(context.clone()),
                ..ClientState::default()
            };
            match state.display_handle.insert_client(stream, Arc::new(data)) {
                Ok(client) => crate::client_name::remember(&client, &state.display_handle),
                Err(err) => warn!(?err, "error adding a client from a security context"),
            }
        });
        if let Err(err) = inserted {
            warn!(%err, "error listening on a security context's socket");
        }
    }
}

delegate_security_context!(State);
