//! Per-client limits (`--limit NAME=N`) and planar's own fd limit.
//!
//! | name | what one client may hold | default |
//! |---|---|---|
//! | `params` | zwp_linux_buffer_params_v1 objects | 64 |
//! | `fds` | fds added to params objects not yet used by create | 128 |
//! | `buffers` | dma-buf wl_buffers | 256 |
//! | `captures` | capture frames alive (wlr-screencopy, ext-image-copy-capture) | 16 |
//!
//! With the defaults a client makes planar hold at most 128 + 256 x 4 planes fds, plus one
//! per CPU-path buffer on GLES (its XR24 copy frame, a memfd): 1408 (a real client holds a
//! handful); RLIMIT_NOFILE's soft limit is raised to the hard limit at start (20000 on
//! the machines planar is tested on), so a dozen clients at their limits still leave
//! planar fds to accept more, and `listen` survives running out (a copy frame that cannot
//! be made falls back to an upload).

use planar_protocol::dmabuf::DmabufLimits;
use rustix::process::{getrlimit, setrlimit, Resource};
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use tracing::{info, warn};

/// Ends `client` with `wl_display.no_memory`, how planar answers a client past one of its
/// per-client bounds (smithay's `Client::kill` posts no error of its own).
pub fn disconnect_no_memory(dh: &DisplayHandle, client: &Client, message: String) {
    let who = crate::client_name::label(client);
    warn!(client = %who, "{message}: disconnecting the client (no_memory)");
    planar_protocol::client::post_no_memory(client, dh, message);
}

/// Every per-client limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub dmabuf: DmabufLimits,
    pub captures: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            dmabuf: DmabufLimits::default(),
            captures: 16,
        }
    }
}

impl Limits {
    /// The defaults with `--limit NAME=N` applied in order.
    pub fn from_args(args: &[(String, usize)]) -> Self {
        let mut limits = Limits::default();
        for (name, n) in args {
            match name.as_str() {
                "params" => limits.dmabuf.params = *n,
                "fds" => limits.dmabuf.fds = *n,
                "buffers" => limits.dmabuf.buffers = *n,
                "captures" => limits.captures = *n,
                _ => unreachable!("parse_limit accepts only known names"),
            }
        }
        limits
    }
}

/// Parses `NAME=N` for `--limit`.
pub fn parse_limit(s: &str) -> Result<(String, usize), String> {
    const NAMES: [&str; 4] = ["params", "fds", "buffers", "captures"];
    let (name, n) = s
        .split_once('=')
        .ok_or_else(|| format!("limit {s:?} is not NAME=N"))?;
    if !NAMES.contains(&name) {
        return Err(format!(
            "unknown limit {name:?}: one of {}",
            NAMES.join(", ")
        ));
    }
    let n = n
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("limit {s:?}: {n:?} is not a positive number"))?;
    Ok((name.to_string(), n))
}

/// Raises the soft RLIMIT_NOFILE to the hard limit: every client's fds count against it,
/// and running out makes accept() fail.
pub fn raise_nofile() {
    let limit = getrlimit(Resource::Nofile);
    let (Some(soft), Some(hard)) = (limit.current, limit.maximum) else {
        return; // unlimited already
    };
    if soft >= hard {
        return;
    }
    let raised = rustix::process::Rlimit {
        current: Some(hard),
        maximum: Some(hard),
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => info!(from = soft, to = hard, "raised the open file limit"),
        Err(err) => warn!(%err, soft, hard, "could not raise the open file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_apply() {
        assert_eq!(parse_limit("fds=10"), Ok(("fds".into(), 10)));
        assert!(parse_limit("fds").is_err());
        assert!(parse_limit("fds=0").is_err());
        assert!(parse_limit("files=3").is_err());
        let l = Limits::from_args(&[("fds".into(), 3), ("captures".into(), 2)]);
        assert_eq!(l.dmabuf.fds, 3);
        assert_eq!(l.captures, 2);
        assert_eq!(l.dmabuf.params, Limits::default().dmabuf.params);
    }
}
