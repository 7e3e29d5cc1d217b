//! How a client is named in logs, import records and reports: `pid N (command)`, from
//! the socket peer's credentials and `/proc/N/comm`.
//!
//! Known limit: the command is the kernel's 15-character `comm`; a client whose
//! credentials cannot be read any more is `pid ? (gone)`.

use wayland_server::{Client, DisplayHandle};

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
