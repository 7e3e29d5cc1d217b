//! `planar-client soak`: create, show and destroy one buffer after another on one
//! window, and report what the compositor holds (fds, RSS, through /proc and the
//! connection's peer pid) after a warm-up and at the end. A compositor that keeps
//! something per buffer ever made grows; one that keeps only live buffers stays flat.

use anyhow::Context;
use wayland_client::Connection;

use crate::{
    dmabuf_client::DmabufConn,
    proc::{peer_pid, usage, Usage},
    show::{create_buffer, ShowConfig, ShowResult},
    window::Window,
};

/// What the soak saw.
#[derive(Debug)]
pub struct SoakResult {
    pub cycles: u32,
    /// Buffers the compositor refused (`failed`).
    pub failed: u32,
    /// The compositor's usage after the warm-up and at the end (None when /proc could
    /// not be read, e.g. a compositor in another pid namespace).
    pub before: Option<Usage>,
    pub after: Option<Usage>,
}

/// Runs `warmup` then `cycles` create/show/destroy cycles of `cfg`'s buffer.
pub fn soak(
    conn: Connection,
    cfg: &ShowConfig,
    warmup: u32,
    cycles: u32,
) -> anyhow::Result<SoakResult> {
    let pid = peer_pid(&conn);
    let mut window = Window::new(&conn, "planar-client soak")?;
    let mut dmabuf = DmabufConn::new(conn.clone(), cfg.dmabuf_version)?;
    let (w, h) = (cfg.width as i32, cfg.height as i32);
    let mut failed = 0;
    let mut before = None;
    for i in 0..warmup + cycles {
        if i == warmup {
            before = pid.and_then(usage);
        }
        match create_buffer(&mut dmabuf, cfg)? {
            Ok((buffer, fds)) => {
                window.show(&buffer, w, None, h);
                window.wait_presented()?;
                buffer.destroy();
                drop(fds);
            }
            Err(ShowResult::Failed) => failed += 1,
            Err(other) => anyhow::bail!("cycle {i}: {other:?}"),
        }
    }
    // A roundtrip: every destroy has been handled before the compositor is measured.
    dmabuf
        .roundtrip()
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("final roundtrip")?;
    let after = pid.and_then(usage);
    window.close()?;
    conn.flush()?;
    Ok(SoakResult {
        cycles,
        failed,
        before,
        after,
    })
}
