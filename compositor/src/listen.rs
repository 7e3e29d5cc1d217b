//! The listening socket: new clients are accepted until planar stops, whatever accept()
//! says. An error (EMFILE/ENFILE when fds run out, ENOBUFS …) is logged and the socket is
//! not polled for `BACKOFF`, so clients already connected keep being served and a new
//! one is accepted once fds are free again.

use std::{cell::Cell, rc::Rc, sync::Arc, time::Duration};

use calloop::{
    generic::Generic,
    timer::{TimeoutAction, Timer},
    Interest, LoopHandle, Mode, PostAction, RegistrationToken,
};
use smithay::reexports::wayland_server::{DisplayHandle, ListeningSocket};
use tracing::warn;

use crate::state::{ClientState, State};

/// How long the socket rests after an accept() error.
const BACKOFF: Duration = Duration::from_millis(100);

/// Accepts clients on `socket` from the event loop.
pub fn watch<'l>(
    handle: &LoopHandle<'l, State>,
    socket: ListeningSocket,
    mut dh: DisplayHandle,
) -> anyhow::Result<()> {
    let token: Rc<Cell<Option<RegistrationToken>>> = Rc::default();
    let own = token.clone();
    let registered = handle
        .insert_source(
            Generic::new(socket, Interest::READ, Mode::Level),
            // The loop handle comes from the state: a clone kept in this closure would
            // keep the loop alive forever (a cycle), and the socket with it, never removed.
            move |_, socket, state| {
                loop {
                    match socket.accept() {
                        Ok(Some(stream)) => {
                            match dh.insert_client(stream, Arc::new(ClientState::default())) {
                                Ok(client) => crate::client_name::remember(&client, &dh),
                                Err(err) => warn!(?err, "error adding a client"),
                            }
                        }
                        Ok(None) => return Ok(PostAction::Continue),
                        Err(err) => {
                            warn!(%err, backoff_ms = BACKOFF.as_millis() as u64, "accepting a client failed; the socket rests, clients already connected are still served");
                            if let Some(handle) = state.loop_handle.as_ref() {
                                resume_after(handle, own.get());
                            }
                            return Ok(PostAction::Disable);
                        }
                    }
                }
            },
        )
        .map_err(|e| anyhow::anyhow!("error listening on the socket: {e}"))?;
    token.set(Some(registered));
    Ok(())
}

/// Polls the socket again after `BACKOFF`.
pub(crate) fn resume_after(handle: &LoopHandle<'_, State>, token: Option<RegistrationToken>) {
    let Some(token) = token else { return };
    let again = handle.clone();
    let timer = handle.insert_source(Timer::from_duration(BACKOFF), move |_, _, _| {
        if let Err(err) = again.enable(&token) {
            warn!(%err, "error polling the socket again");
        }
        TimeoutAction::Drop
    });
    if let Err(err) = timer {
        warn!(%err, "error scheduling the socket's return; accepting again now");
        let _ = handle.enable(&token);
    }
}
