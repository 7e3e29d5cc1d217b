//! How a client is named in logs, import records and reports: `pid N (command)`, from
//! the socket peer's credentials and `/proc/N/comm`.
//!
//! Known limit: the command is the kernel's 15-character `comm`; a client whose
//! credentials cannot be read any more is `pid ? (gone)`.

use wayland_server::{
    backend::{protocol::Interface, protocol::ProtocolError},
    Client, DisplayHandle,
};

/// "pid N (command)" from the socket peer's credentials, for logs and records.
pub fn client_name(client: &Client, dh: &DisplayHandle) -> String {
    match client.get_credentials(dh) {
        Ok(c) => {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", c.pid)).unwrap_or_default();
            format!("pid {} ({})", c.pid, comm.trim())
        }
        // Gone already (or not a unix socket peer): say so rather than print an internal id.
        Err(_) => "pid ? (gone)".to_string(),
    }
}

/// wl_display's `no_memory` error code.
const NO_MEMORY: u32 = 2;

/// Ends `client` with wl_display's `no_memory` error carrying `message` (what libwayland
/// sends when it cannot allocate): the error reaches the client before its connection
/// ends (smithay's `Client::kill` alone would end it silently).
pub fn post_no_memory(client: &Client, dh: &DisplayHandle, message: String) {
    // wayland-server has no wl_display resource type; the backend finds object 1 by the
    // interface's name, which is all this description carries.
    static WL_DISPLAY: Interface = Interface {
        name: "wl_display",
        version: 1,
        requests: &[],
        events: &[],
        c_ptr: None,
    };
    let handle = dh.backend_handle();
    match handle.object_for_protocol_id(client.id(), &WL_DISPLAY, 1) {
        Ok(display) => handle.post_error(
            display,
            NO_MEMORY,
            std::ffi::CString::new(message).unwrap_or_default(),
        ),
        // No display object to send the error on: end the connection all the same.
        Err(_) => client.kill(
            dh,
            ProtocolError {
                code: NO_MEMORY,
                object_id: 1,
                object_interface: "wl_display".into(),
                message,
            },
        ),
    }
}
