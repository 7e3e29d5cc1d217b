//! One name for a client in every log line: `pid N (command)`, as import records and
//! reports name it (`planar_protocol::client::client_name`). Taken once when the client
//! connects and kept in its `ClientState`, so lines logged without a display handle (and
//! the disconnect line, after the peer is gone) name it the same way.

use wayland_server::{Client, DisplayHandle};

use crate::state::ClientState;

/// Records the name of a client just inserted into the display.
pub fn remember(client: &Client, dh: &DisplayHandle) {
    let _ = label_or_name(client, dh);
}

/// The client's `pid N (command)`, named now if it was not when it connected. Xwayland's
/// connection is smithay's (its data is not a `ClientState`) and a socketpair planar made,
/// whose peer credentials are planar's own: it is named `Xwayland`, without a /proc read.
pub fn label_or_name(client: &Client, dh: &DisplayHandle) -> String {
    match client.get_data::<ClientState>() {
        Some(data) => data
            .name
            .get_or_init(|| planar_protocol::client::client_name(client, dh))
            .clone(),
        None if client
            .get_data::<smithay::xwayland::XWaylandClientData>()
            .is_some() =>
        {
            "Xwayland".to_string()
        }
        None => planar_protocol::client::client_name(client, dh),
    }
}

/// The client's `pid N (command)`.
pub fn label(client: &Client) -> String {
    client
        .get_data::<ClientState>()
        .and_then(|d| d.name.get().cloned())
        .unwrap_or_else(|| "pid ? (unknown)".to_string())
}
