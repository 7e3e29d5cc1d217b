//! A wayland-client toplevel that shows a pattern from a wl_shm buffer.
//!
//! It waits for the first configure, draws, commits, and counts frame callbacks, so a
//! caller knows the pattern has been presented before it exits.

use std::{io::Write, os::fd::AsFd};

use anyhow::Context;
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalListContents},
    protocol::{
        wl_buffer::WlBuffer, wl_callback::WlCallback, wl_compositor::WlCompositor,
        wl_registry::WlRegistry, wl_shm, wl_shm::WlShm, wl_shm_pool::WlShmPool,
        wl_surface::WlSurface,
    },
    Connection, Dispatch, QueueHandle,
};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

use crate::pattern::quads_xrgb8888;

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

#[derive(Default)]
struct App {
    configured: Option<u32>,
    frames_done: u32,
    frame_pending: bool,
    closed: bool,
}

/// Connects to the compositor named by the environment and shows the quads pattern.
pub fn run(config: &ShmClientConfig) -> anyhow::Result<()> {
    let conn = Connection::connect_to_env().context("error connecting to the compositor")?;
    run_on(conn, config)
}

/// Shows the quads pattern on an existing connection.
pub fn run_on(conn: Connection, config: &ShmClientConfig) -> anyhow::Result<()> {
    let (globals, mut queue) =
        registry_queue_init::<App>(&conn).context("error reading the globals")?;
    let qh = queue.handle();
    let compositor: WlCompositor = globals.bind(&qh, 1..=6, ()).context("wl_compositor")?;
    let shm: WlShm = globals.bind(&qh, 1..=1, ()).context("wl_shm")?;
    let wm_base: xdg_wm_base::XdgWmBase = globals.bind(&qh, 1..=6, ()).context("xdg_wm_base")?;

    let surface = compositor.create_surface(&qh, ());
    let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
    let toplevel = xdg_surface.get_toplevel(&qh, ());
    toplevel.set_title(config.title.clone());
    surface.commit();

    let mut app = App::default();
    while app.configured.is_none() {
        queue.blocking_dispatch(&mut app)?;
    }
    let (w, h) = (config.width, config.height);
    let stride = w * 4;
    let buffer = shm_buffer(&shm, &qh, w, h, stride, &quads_xrgb8888(w, h, stride))?;
    surface.attach(Some(&buffer), 0, 0);
    surface.damage_buffer(0, 0, w as i32, h as i32);
    request_frame(&surface, &qh, &mut app);
    surface.commit();

    loop {
        queue.blocking_dispatch(&mut app)?;
        if app.closed {
            break;
        }
        if let Some(n) = config.frames {
            if app.frames_done >= n {
                break;
            }
        }
        if !app.frame_pending {
            request_frame(&surface, &qh, &mut app);
            surface.commit();
        }
    }
    toplevel.destroy();
    xdg_surface.destroy();
    surface.destroy();
    buffer.destroy();
    conn.flush()?;
    Ok(())
}

fn request_frame(surface: &WlSurface, qh: &QueueHandle<App>, app: &mut App) {
    surface.frame(qh, ());
    app.frame_pending = true;
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

impl Dispatch<WlRegistry, GlobalListContents> for App {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for App {
    fn event(
        _: &mut Self,
        wm_base: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for App {
    fn event(
        app: &mut Self,
        xdg_surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg_surface.ack_configure(serial);
            app.configured = Some(serial);
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for App {
    fn event(
        app: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Close = event {
            app.closed = true;
        }
    }
}

impl Dispatch<WlCallback, ()> for App {
    fn event(
        app: &mut Self,
        _: &WlCallback,
        _: wayland_client::protocol::wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        app.frames_done += 1;
        app.frame_pending = false;
    }
}

delegate_noop!(App: ignore WlCompositor);
delegate_noop!(App: ignore WlSurface);
delegate_noop!(App: ignore WlShm);
delegate_noop!(App: ignore WlShmPool);
delegate_noop!(App: ignore WlBuffer);
