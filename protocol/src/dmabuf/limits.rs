//! Per-client limits of linux-dmabuf: params objects, fds held by params objects not yet
//! used for a buffer, and dma-buf wl_buffers.
//!
//! A client that goes past the params or fd limit is disconnected with `wl_display`'s
//! `no_memory` error (the protocol has no other way to refuse a new object or an fd, and
//! the fd must not be held); one past the buffer limit gets `failed` (INVALID_WL_BUFFER for
//! `create_immed`), as for any buffer that cannot be made. Each refusal logs a warn line
//! naming the limit and the flag that raises it.
//!
//! Known limit: counts are per client connection; one process can open many connections
//! (each is bounded, and so is planar's fd limit).

use std::collections::HashMap;

use tracing::warn;
use wayland_server::{backend::ClientId, Client, DisplayHandle};

/// The limits, per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmabufLimits {
    /// zwp_linux_buffer_params_v1 objects alive.
    pub params: usize,
    /// fds `add`ed to params objects not yet used by `create`/`create_immed`.
    pub fds: usize,
    /// dma-buf wl_buffers alive.
    pub buffers: usize,
}

impl Default for DmabufLimits {
    fn default() -> Self {
        DmabufLimits {
            params: 64,
            fds: 128,
            buffers: 256,
        }
    }
}

/// What one client holds now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Usage {
    pub params: usize,
    pub fds: usize,
    pub buffers: usize,
}

/// Usage of every client holding something.
#[derive(Default)]
pub(super) struct Usages(HashMap<ClientId, Usage>);

impl Usages {
    pub fn get(&self, client: &ClientId) -> Usage {
        self.0.get(client).copied().unwrap_or_default()
    }

    /// Changes one client's usage; the entry goes when it is back to nothing.
    pub fn update(&mut self, client: &ClientId, f: impl FnOnce(&mut Usage)) {
        let usage = self.0.entry(client.clone()).or_default();
        f(usage);
        if *usage == Usage::default() {
            self.0.remove(client);
        }
    }
}

/// Disconnects `client` for going past `what`'s limit of `limit`: wl_display's
/// `no_memory` error (what libwayland sends when it cannot allocate), with a warn line.
pub(super) fn refuse(client: &Client, dh: &DisplayHandle, what: &str, flag: &str, limit: usize) {
    let message = format!(
        "linux-dmabuf: more than {limit} {what} for one client (planar's limit; raise it with \
         --limit {flag}=N)"
    );
    warn!(client = ?client.id(), limit, "{message}: disconnecting the client (no_memory)");
    crate::client::post_no_memory(client, dh, message);
}
