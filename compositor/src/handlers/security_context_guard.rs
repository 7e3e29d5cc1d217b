//! wp_security_context_manager_v1.create_listener, checked before smithay sees it: smithay
//! 0.7 takes any fd as the listening socket. A listen_fd that is not a listening unix
//! stream socket gets the protocol's `invalid_listen_fd` and a warn! line.
//!
//! Why up front (and not only when accept() fails, which `security_context` also handles):
//! a client that passes both ends of one pipe (listen_fd the write end, close_fd the read
//! end) makes planar hold the write end itself; the listen fd never becomes readable,
//! close_fd never hangs up, and both fds stayed in planar after the client left (found by
//! `scripts/fuzz-protocol`).

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
        SecurityContextGlobalData, SecurityContextState, SecurityContextUserData,
    },
};
use tracing::warn;

use crate::state::State;

/// Whether `fd` is a unix stream socket in the listening state.
fn is_listening_unix_socket(fd: impl AsFd) -> bool {
    let fd = fd.as_fd().as_raw_fd();
    let opt = |name| {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `v`; on a non-socket it fails.
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
                warn!(
                    manager = %manager.id(),
                    "security context listen_fd is not a listening unix socket: invalid_listen_fd"
                );
                // The client is being ended: its new object needs no data.
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
