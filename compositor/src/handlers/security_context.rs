//! wp_security_context_manager_v1: a sandbox engine (flatpak, …) hands planar a listening
//! socket; every client that connects through it carries the context in its
//! `ClientState`. Such clients never may capture (`CapturePolicy::permits` in `capture/`), and see neither
//! this global nor the foreign toplevel list. The listener lives until the sandbox engine
//! closes its close_fd (smithay's listener source ends then).
//!
//! `create_listener` is checked before smithay sees it: smithay 0.7 takes any fd as the
//! listening socket. A listen_fd that is not a listening unix stream socket gets the
//! protocol's `invalid_listen_fd`. Without that check a client could pass both ends of one
//! pipe (listen_fd the write end, close_fd the read end): planar then held the write end
//! itself, close_fd never hung up, and both fds stayed in planar after the client left,
//! one pair per request (found by `scripts/fuzz-protocol`).
//!
//! Known limit: contexts outlive their client by design (until close_fd hangs up), so a
//! client that passes real listening sockets with close_fds planar itself ends up holding
//! (two contexts closing on each other's pipe ends) still keeps those fds; there is no
//! per-client cap on contexts yet.

use std::sync::Arc;

use std::os::fd::{AsFd, AsRawFd};

use smithay::{
    reexports::{
        wayland_protocols::wp::security_context::v1::server::{
            wp_security_context_manager_v1::{self, WpSecurityContextManagerV1},
            wp_security_context_v1::WpSecurityContextV1,
        },
        wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource},
    },
    wayland::security_context::{
        SecurityContext, SecurityContextGlobalData, SecurityContextHandler,
        SecurityContextListenerSource, SecurityContextState, SecurityContextUserData,
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
            if let Err(err) = state.display_handle.insert_client(stream, Arc::new(data)) {
                warn!(?err, "error adding a client from a security context");
            }
        });
        if let Err(err) = inserted {
            warn!(%err, "error listening on a security context's socket");
        }
    }
}

/// Whether `fd` is a unix stream socket in the listening state.
fn is_listening_unix_socket(fd: impl AsFd) -> bool {
    let fd = fd.as_fd().as_raw_fd();
    let opt = |name| {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `v`; a non-socket fails.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(v)
    };
    opt(libc::SO_DOMAIN) == Some(libc::AF_UNIX)
        && opt(libc::SO_TYPE) == Some(libc::SOCK_STREAM)
        && opt(libc::SO_ACCEPTCONN) == Some(1)
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
        if let wp_security_context_manager_v1::Request::CreateListener { listen_fd, .. } = &request
        {
            if !is_listening_unix_socket(listen_fd) {
                warn!(manager = %manager.id(), "security context listen_fd is not a listening unix socket: invalid_listen_fd");
                // The client is ending: its new object needs no data.
                manager.post_error(
                    wp_security_context_manager_v1::Error::InvalidListenFd,
                    "listen_fd is not a listening unix stream socket",
                );
                return;
            }
        }
        <SecurityContextState as Dispatch<WpSecurityContextManagerV1, (), State>>::request(
            state, client, manager, request, data, dh, data_init,
        )
    }
}

// smithay's delegate_security_context! minus the manager's requests, checked above.
smithay::reexports::wayland_server::delegate_global_dispatch!(State: [
    WpSecurityContextManagerV1: SecurityContextGlobalData
] => SecurityContextState);
smithay::reexports::wayland_server::delegate_dispatch!(State: [
    WpSecurityContextV1: SecurityContextUserData
] => SecurityContextState);
