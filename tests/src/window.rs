//! A wayland-client xdg toplevel that shows whatever wl_buffer it is given and counts
//! frame callbacks, so a caller knows its buffer has been presented.

use anyhow::Context;
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalList},
    protocol::{
        wl_buffer::WlBuffer, wl_callback::WlCallback, wl_compositor::WlCompositor,
        wl_subcompositor::WlSubcompositor, wl_subsurface::WlSubsurface, wl_surface::WlSurface,
    },
    Connection, Dispatch, EventQueue, QueueHandle,
};
use wayland_protocols::{
    wp::presentation_time::client::{
        wp_presentation::WpPresentation,
        wp_presentation_feedback::{self, WpPresentationFeedback},
    },
    xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base},
};

#[derive(Default)]
pub struct WindowState {
    /// (seconds, nanoseconds, sequence) of each wp_presentation `presented` event.
    pub presented: Vec<(u64, u32, u64)>,
    /// Toplevel configures not taken yet: (width, height, fullscreen).
    configures: Vec<(i32, i32, bool)>,
    configured: bool,
    frames_done: u32,
    frame_pending: bool,
    closed: bool,
    /// The last wp_fractional_scale_v1.preferred_scale (in 120ths), once watched.
    pub preferred_scale: Option<u32>,
    /// What this window's popups heard (see `popup`).
    pub popups: crate::popup::PopupEvents,
    /// The surfaces wl_pointer.enter named (protocol ids), once `bind_pointer` was called.
    pub pointer_enters: Vec<u32>,
}

/// One toplevel on its own event queue.
pub struct Window {
    pub conn: Connection,
    pub globals: GlobalList,
    queue: EventQueue<WindowState>,
    qh: QueueHandle<WindowState>,
    surface: WlSurface,
    xdg_surface: xdg_surface::XdgSurface,
    toplevel: xdg_toplevel::XdgToplevel,
    /// Bound once: a long-running client must not grow an object per frame.
    presentation: Option<WpPresentation>,
    state: WindowState,
}

impl Window {
    /// Creates the toplevel and waits for its first configure.
    pub fn new(conn: &Connection, title: &str) -> anyhow::Result<Self> {
        Self::create(conn, title, false, false)
    }

    /// A toplevel that asks for a frame callback on its first commit (before any buffer).
    pub fn new_asking_a_frame(conn: &Connection, title: &str) -> anyhow::Result<Self> {
        Self::create(conn, title, false, true)
    }

    /// A toplevel that asks to be fullscreen before its first commit.
    pub fn new_fullscreen(conn: &Connection, title: &str) -> anyhow::Result<Self> {
        Self::create(conn, title, true, false)
    }

    fn create(
        conn: &Connection,
        title: &str,
        fullscreen: bool,
        ask_frame: bool,
    ) -> anyhow::Result<Self> {
        let (globals, mut queue) =
            registry_queue_init::<WindowState>(conn).context("error reading the globals")?;
        let qh = queue.handle();
        let compositor: WlCompositor = globals.bind(&qh, 1..=6, ()).context("wl_compositor")?;
        let wm_base: xdg_wm_base::XdgWmBase =
            globals.bind(&qh, 1..=6, ()).context("xdg_wm_base")?;
        let surface = compositor.create_surface(&qh, ());
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg_surface.get_toplevel(&qh, ());
        toplevel.set_title(title.to_string());
        if fullscreen {
            toplevel.set_fullscreen(None);
        }
        if ask_frame {
            surface.frame(&qh, ());
        }
        surface.commit();
        let presentation = globals.bind::<WpPresentation, _, _>(&qh, 1..=1, ()).ok();
        let mut state = WindowState {
            frame_pending: ask_frame,
            ..WindowState::default()
        };
        while !state.configured {
            queue.blocking_dispatch(&mut state)?;
        }
        Ok(Window {
            presentation,
            conn: conn.clone(),
            globals,
            queue,
            qh,
            surface,
            xdg_surface,
            toplevel,
            state,
        })
    }

    /// A subsurface of the window at (x, y), for showing a second buffer beside the first.
    /// It is synchronized: it shows on the window's next commit.
    pub fn subsurface(&self, x: i32, y: i32) -> anyhow::Result<WlSurface> {
        let compositor: WlCompositor = self
            .globals
            .bind(&self.qh, 1..=6, ())
            .context("wl_compositor")?;
        let subcompositor: WlSubcompositor = self
            .globals
            .bind(&self.qh, 1..=1, ())
            .context("wl_subcompositor")?;
        let surface = compositor.create_surface(&self.qh, ());
        let sub = subcompositor.get_subsurface(&surface, &self.surface, &self.qh, ());
        sub.set_position(x, y);
        Ok(surface)
    }

    /// Declares the YUV matrix and range of this window's buffers (wp-color-representation);
    /// returns the surface's representation object (destroying it goes back to the default).
    pub fn set_color_representation(
        &self,
        bt709: bool,
        full_range: bool,
    ) -> anyhow::Result<wayland_protocols::wp::color_representation::v1::client::wp_color_representation_surface_v1::WpColorRepresentationSurfaceV1>{
        use wayland_protocols::wp::color_representation::v1::client::{
            wp_color_representation_manager_v1::WpColorRepresentationManagerV1,
            wp_color_representation_surface_v1::{Coefficients, Range},
        };
        let manager: WpColorRepresentationManagerV1 = self
            .globals
            .bind(&self.qh, 1..=1, ())
            .context("wp_color_representation_manager_v1 is not offered")?;
        let repr = manager.get_surface(&self.surface, &self.qh, ());
        let c = if bt709 {
            Coefficients::Bt709
        } else {
            Coefficients::Bt601
        };
        let r = if full_range {
            Range::Full
        } else {
            Range::Limited
        };
        repr.set_coefficients_and_range(c, r);
        Ok(repr)
    }

    /// The window's objects, for tests that send raw requests on them (and the surface for
    /// extensions that take one: fifo, commit timing …).
    pub fn surface(&self) -> &WlSurface {
        &self.surface
    }

    pub fn xdg_surface(&self) -> &xdg_surface::XdgSurface {
        &self.xdg_surface
    }

    pub fn toplevel(&self) -> &xdg_toplevel::XdgToplevel {
        &self.toplevel
    }

    pub fn queue_handle(&self) -> &QueueHandle<WindowState> {
        &self.qh
    }

    /// Waits for the next events and handles them.
    pub fn blocking_dispatch(&mut self) -> anyhow::Result<()> {
        self.queue.blocking_dispatch(&mut self.state)?;
        Ok(())
    }

    /// Attaches `buffer`, damages `rows` (all of it when `None`), asks for a frame (and
    /// presentation feedback, when the compositor offers it) and commits.
    pub fn show(&mut self, buffer: &WlBuffer, width: i32, rows: Option<(i32, i32)>, height: i32) {
        if let Some(p) = &self.presentation {
            p.feedback(&self.surface, &self.qh, ());
        }
        self.surface.attach(Some(buffer), 0, 0);
        let (y, h) = rows.unwrap_or((0, height));
        self.surface.damage_buffer(0, y, width, h);
        self.surface.frame(&self.qh, ());
        self.state.frame_pending = true;
        self.surface.commit();
    }

    /// Like [`Window::show`], damaging the buffer rectangles `rects` (x, y, w, h).
    pub fn show_damaged(&mut self, buffer: &WlBuffer, rects: &[(i32, i32, i32, i32)]) {
        if let Some(p) = &self.presentation {
            p.feedback(&self.surface, &self.qh, ());
        }
        self.surface.attach(Some(buffer), 0, 0);
        for &(x, y, w, h) in rects {
            self.surface.damage_buffer(x, y, w, h);
        }
        self.surface.frame(&self.qh, ());
        self.state.frame_pending = true;
        self.surface.commit();
    }

    /// Waits until the last shown buffer has been presented (its frame callback fired).
    pub fn wait_presented(&mut self) -> anyhow::Result<()> {
        while self.state.frame_pending && !self.state.closed {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        Ok(())
    }

    /// Keeps the window up for `frames` more frames (or until closed when `None`).
    pub fn run_frames(&mut self, frames: Option<u32>) -> anyhow::Result<()> {
        let target = frames.map(|n| self.state.frames_done + n);
        loop {
            if self.state.closed || target.is_some_and(|t| self.state.frames_done >= t) {
                return Ok(());
            }
            if !self.state.frame_pending {
                self.surface.frame(&self.qh, ());
                self.state.frame_pending = true;
                self.surface.commit();
            }
            self.queue.blocking_dispatch(&mut self.state)?;
        }
    }

    /// Handles the window's events already read from the socket (by another queue).
    pub fn dispatch_pending(&mut self) -> anyhow::Result<()> {
        self.queue.dispatch_pending(&mut self.state)?;
        Ok(())
    }

    /// The toplevel configures received since the last call: (width, height, fullscreen).
    pub fn take_configures(&mut self) -> Vec<(i32, i32, bool)> {
        std::mem::take(&mut self.state.configures)
    }

    pub fn frames_done(&self) -> u32 {
        self.state.frames_done
    }

    /// Presentation timestamps received so far.
    pub fn presented(&self) -> &[(u64, u32, u64)] {
        &self.state.presented
    }

    /// Asks to be fullscreen on the `index`-th wl_output global (in registry order).
    pub fn fullscreen_on(&mut self, index: usize) -> anyhow::Result<()> {
        let (name, version) = self
            .globals
            .contents()
            .with_list(|list| {
                list.iter()
                    .filter(|g| g.interface == "wl_output")
                    .nth(index)
                    .map(|g| (g.name, g.version))
            })
            .context("no such wl_output")?;
        let output: wayland_client::protocol::wl_output::WlOutput =
            self.globals
                .registry()
                .bind(name, version.min(4), &self.qh, ());
        self.toplevel.set_fullscreen(Some(&output));
        self.conn.flush()?;
        Ok(())
    }

    /// Binds wp_fractional_scale_v1 for the surface; its events land in
    /// `state().preferred_scale`.
    pub fn watch_fractional_scale(&mut self) -> anyhow::Result<()> {
        let surface = self.surface.clone();
        self.watch_fractional_scale_of(&surface)
    }

    /// As `watch_fractional_scale`, for another surface of this client (a popup's).
    pub fn watch_fractional_scale_of(&mut self, surface: &WlSurface) -> anyhow::Result<()> {
        use wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1;
        let manager: WpFractionalScaleManagerV1 = self
            .globals
            .bind(&self.qh, 1..=1, ())
            .context("wp_fractional_scale_manager_v1")?;
        manager.get_fractional_scale(surface, &self.qh, ());
        Ok(())
    }

    pub fn state(&self) -> &WindowState {
        &self.state
    }

    /// Binds wl_seat and its pointer: pointer enters are recorded in `pointer_enters`.
    pub fn bind_pointer(&mut self) -> anyhow::Result<()> {
        let seat: wayland_client::protocol::wl_seat::WlSeat =
            self.globals.bind(&self.qh, 1..=7, ()).context("wl_seat")?;
        seat.get_pointer(&self.qh, ());
        self.queue.roundtrip(&mut self.state)?;
        Ok(())
    }

    /// Dispatches until the server has answered everything sent so far.
    pub fn roundtrip(&mut self) -> anyhow::Result<()> {
        self.queue.roundtrip(&mut self.state)?;
        Ok(())
    }

    /// Destroys the window, as a well-behaved client does before it exits.
    pub fn close(self) -> anyhow::Result<()> {
        self.toplevel.destroy();
        self.xdg_surface.destroy();
        self.surface.destroy();
        self.conn.flush()?;
        Ok(())
    }
}

crate::ignore_registry_events!(WindowState);

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for WindowState {
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

impl Dispatch<xdg_surface::XdgSurface, ()> for WindowState {
    fn event(
        state: &mut Self,
        xdg_surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg_surface.ack_configure(serial);
            state.configured = true;
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for WindowState {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            xdg_toplevel::Event::Close => state.closed = true,
            xdg_toplevel::Event::Configure {
                width,
                height,
                states,
            } => {
                // The states are u32s in native byte order.
                let fullscreen = states
                    .chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .any(|s| s == xdg_toplevel::State::Fullscreen as u32);
                state.configures.push((width, height, fullscreen));
            }
            _ => {}
        }
    }
}

impl Dispatch<WlCallback, ()> for WindowState {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        _: wayland_client::protocol::wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.frames_done += 1;
        state.frame_pending = false;
    }
}

impl Dispatch<WpPresentationFeedback, ()> for WindowState {
    fn event(
        state: &mut Self,
        _: &WpPresentationFeedback,
        event: wp_presentation_feedback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_presentation_feedback::Event::Presented {
            tv_sec_hi,
            tv_sec_lo,
            tv_nsec,
            seq_hi,
            seq_lo,
            ..
        } = event
        {
            let secs = (u64::from(tv_sec_hi) << 32) | u64::from(tv_sec_lo);
            let seq = (u64::from(seq_hi) << 32) | u64::from(seq_lo);
            state.presented.push((secs, tv_nsec, seq));
        }
    }
}

delegate_noop!(WindowState: ignore WpPresentation);
delegate_noop!(WindowState: ignore wayland_client::protocol::wl_output::WlOutput);
delegate_noop!(WindowState: ignore wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1);

impl Dispatch<wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_v1::WpFractionalScaleV1, ()> for WindowState {
    fn event(
        state: &mut Self,
        _: &wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_v1::WpFractionalScaleV1,
        event: wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_v1::Event;
        if let Event::PreferredScale { scale } = event {
            state.preferred_scale = Some(scale);
        }
    }
}
delegate_noop!(WindowState: ignore wayland_protocols::wp::color_representation::v1::client::wp_color_representation_manager_v1::WpColorRepresentationManagerV1);
delegate_noop!(WindowState: ignore wayland_protocols::wp::color_representation::v1::client::wp_color_representation_surface_v1::WpColorRepresentationSurfaceV1);
delegate_noop!(WindowState: ignore WlCompositor);

impl Dispatch<wayland_client::protocol::wl_pointer::WlPointer, ()> for WindowState {
    fn event(
        state: &mut Self,
        _: &wayland_client::protocol::wl_pointer::WlPointer,
        event: wayland_client::protocol::wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wayland_client::protocol::wl_pointer::Event::Enter { surface, .. } = event {
            use wayland_client::Proxy;
            state.pointer_enters.push(surface.id().protocol_id());
        }
    }
}
delegate_noop!(WindowState: ignore WlSurface);
delegate_noop!(WindowState: ignore wayland_client::protocol::wl_region::WlRegion);
delegate_noop!(WindowState: ignore WlBuffer);
delegate_noop!(WindowState: ignore WlSubcompositor);
delegate_noop!(WindowState: ignore WlSubsurface);
delegate_noop!(WindowState: ignore wayland_protocols::xdg::shell::client::xdg_positioner::XdgPositioner);
delegate_noop!(WindowState: ignore wayland_client::protocol::wl_shm::WlShm);
delegate_noop!(WindowState: ignore wayland_client::protocol::wl_shm_pool::WlShmPool);
delegate_noop!(WindowState: ignore wayland_protocols::wp::fifo::v1::client::wp_fifo_manager_v1::WpFifoManagerV1);
delegate_noop!(WindowState: ignore wayland_protocols::wp::fifo::v1::client::wp_fifo_v1::WpFifoV1);
delegate_noop!(WindowState: ignore wayland_protocols::wp::commit_timing::v1::client::wp_commit_timing_manager_v1::WpCommitTimingManagerV1);
delegate_noop!(WindowState: ignore wayland_protocols::wp::commit_timing::v1::client::wp_commit_timer_v1::WpCommitTimerV1);
delegate_noop!(WindowState: ignore wayland_protocols::wp::alpha_modifier::v1::client::wp_alpha_modifier_v1::WpAlphaModifierV1);
delegate_noop!(WindowState: ignore wayland_protocols::wp::alpha_modifier::v1::client::wp_alpha_modifier_surface_v1::WpAlphaModifierSurfaceV1);
