//! A toplevel that shows the quads pattern from a wl_shm buffer: the demo client, and
//! the tests' simplest client.

use std::{io::Write, os::fd::AsFd};

use anyhow::Context;
use wayland_client::{
    protocol::{wl_buffer::WlBuffer, wl_shm, wl_shm::WlShm, wl_shm_pool::WlShmPool},
    Connection, Dispatch, QueueHandle,
};

use crate::{pattern::quads_xrgb8888, window::Window};

/// What to show and for how long.
#[derive(Debug, Clone)]
pub struct ShmClientConfig {
    pub width: u32,
    pub height: u32,
    /// Frames to wait for after the first commit; `None` runs until closed or killed.
    pub frames: Option<u32>,
    pub title: String,
}

impl Default for ShmClientConfig {
    fn default() -> Self {
        ShmClientConfig {
            width: 256,
            height: 256,
            frames: Some(1),
            title: "planar-demo".into(),
        }
    }
}

/// Connects to the compositor named by the environment and shows the quads pattern.
pub fn run(config: &ShmClientConfig) -> anyhow::Result<()> {
    let conn = Connection::connect_to_env().context("error connecting to the compositor")?;
    run_on(conn, config)
}

/// Shows the quads pattern on an existing connection.
pub fn run_on(conn: Connection, config: &ShmClientConfig) -> anyhow::Result<()> {
    let mut window = Window::new(&conn, &config.title)?;
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .context("wl_shm")?;
    let (w, h) = (config.width, config.height);
    let stride = w * 4;
    let buffer = shm_buffer(
        &shm,
        window.queue_handle(),
        w,
        h,
        stride,
        &quads_xrgb8888(w, h, stride),
    )?;
    window.show(&buffer, w as i32, None, h as i32);
    window.wait_presented()?;
    window.run_frames(config.frames.map(|n| n.saturating_sub(1)))?;
    window.close()?;
    buffer.destroy();
    conn.flush()?;
    Ok(())
}

/// A wl_buffer over a fresh memfd holding `bytes` (XRGB8888).
pub fn shm_buffer<D>(
    shm: &WlShm,
    qh: &QueueHandle<D>,
    w: u32,
    h: u32,
    stride: u32,
    bytes: &[u8],
) -> anyhow::Result<WlBuffer>
where
    D: Dispatch<WlShmPool, ()> + Dispatch<WlBuffer, ()> + 'static,
{
    let fd = rustix::fs::memfd_create("planar-shm", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    let pool = shm.create_pool(file.as_fd(), bytes.len() as i32, qh, ());
    let buffer = pool.create_buffer(
        0,
        w as i32,
        h as i32,
        stride as i32,
        wl_shm::Format::Xrgb8888,
        qh,
        (),
    );
    pool.destroy();
    Ok(buffer)
}
