//! A wayland-client probe for the desktop globals: toplevels with decoration and
//! fractional-scale objects, activation tokens, a keyboard, and the foreign toplevel list.
//! Every event it hears becomes a line in `Probe::log`, which tests search.

use anyhow::Context;
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalList},
    protocol::{
        wl_buffer::WlBuffer, wl_compositor::WlCompositor, wl_keyboard, wl_seat, wl_shm::WlShm,
        wl_shm_pool::WlShmPool, wl_surface::WlSurface,
    },
    Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum,
};
use wayland_protocols::{
    ext::foreign_toplevel_list::v1::client::{
        ext_foreign_toplevel_handle_v1::{self, ExtForeignToplevelHandleV1},
        ext_foreign_toplevel_list_v1::{self, ExtForeignToplevelListV1},
    },
    wp::fractional_scale::v1::client::{
        wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1,
        wp_fractional_scale_v1::{self, WpFractionalScaleV1},
    },
    xdg::{
        activation::v1::client::{
            xdg_activation_token_v1::{self, XdgActivationTokenV1},
            xdg_activation_v1::XdgActivationV1,
        },
        decoration::zv1::client::{
            zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
            zxdg_toplevel_decoration_v1::{self, Mode, ZxdgToplevelDecorationV1},
        },
        shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base},
    },
};

/// What the probe heard, one line per event.
#[derive(Default)]
pub struct ProbeState {
    pub log: Vec<String>,
    token: Option<String>,
}

pub struct Probe {
    pub globals: GlobalList,
    queue: EventQueue<ProbeState>,
    pub qh: QueueHandle<ProbeState>,
    pub state: ProbeState,
}

/// A toplevel of the probe, named by its title in the log.
pub struct ProbeWindow {
    pub surface: WlSurface,
    pub toplevel: xdg_toplevel::XdgToplevel,
    xdg_surface: xdg_surface::XdgSurface,
}

impl Probe {
    pub fn new(conn: &Connection) -> anyhow::Result<Self> {
        let (globals, queue) = registry_queue_init::<ProbeState>(conn)?;
        let qh = queue.handle();
        Ok(Probe {
            globals,
            queue,
            qh,
            state: ProbeState::default(),
        })
    }

    pub fn roundtrip(&mut self) -> anyhow::Result<()> {
        self.queue.roundtrip(&mut self.state)?;
        Ok(())
    }

    /// Whether a logged line contains `needle`.
    pub fn heard(&self, needle: &str) -> bool {
        self.state.log.iter().any(|l| l.contains(needle))
    }

    /// Binds the keyboard: enters are logged as "keyboard enter TITLE-SURFACE-ID".
    pub fn bind_keyboard(&mut self) -> anyhow::Result<()> {
        let seat: wl_seat::WlSeat = self.globals.bind(&self.qh, 1..=7, ()).context("wl_seat")?;
        seat.get_keyboard(&self.qh, ());
        self.roundtrip()
    }

    /// A toplevel titled `title`, with a decoration object asking for server-side
    /// decorations and a fractional-scale object; waits for its first configure.
    pub fn window(&mut self, title: &str) -> anyhow::Result<ProbeWindow> {
        let compositor: WlCompositor = self.globals.bind(&self.qh, 1..=6, ())?;
        let wm_base: xdg_wm_base::XdgWmBase = self.globals.bind(&self.qh, 1..=6, ())?;
        let surface = compositor.create_surface(&self.qh, ());
        let xdg_surface = wm_base.get_xdg_surface(&surface, &self.qh, ());
        let toplevel = xdg_surface.get_toplevel(&self.qh, title.to_string());
        toplevel.set_title(title.to_string());
        toplevel.set_app_id(format!("org.planar.{title}"));
        let decorations: ZxdgDecorationManagerV1 = self
            .globals
            .bind(&self.qh, 1..=1, ())
            .context("zxdg_decoration_manager_v1")?;
        let decoration = decorations.get_toplevel_decoration(&toplevel, &self.qh, title.into());
        decoration.set_mode(Mode::ServerSide);
        let scales: WpFractionalScaleManagerV1 = self
            .globals
            .bind(&self.qh, 1..=1, ())
            .context("wp_fractional_scale_manager_v1")?;
        scales.get_fractional_scale(&surface, &self.qh, title.into());
        surface.commit();
        let configured = format!("{title} configure");
        while !self.heard(&configured) {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        Ok(ProbeWindow {
            surface,
            toplevel,
            xdg_surface,
        })
    }

    /// Shows a 16x16 buffer in `window` (so it is mapped and may get focus).
    pub fn show(&mut self, window: &ProbeWindow) -> anyhow::Result<()> {
        let shm: WlShm = self.globals.bind(&self.qh, 1..=1, ())?;
        let buffer =
            crate::shm_client::shm_buffer(&shm, &self.qh, 16, 16, 64, &[0x80; 16 * 16 * 4])?;
        window.surface.attach(Some(&buffer), 0, 0);
        window.surface.damage_buffer(0, 0, 16, 16);
        window.surface.commit();
        self.roundtrip()
    }

    /// Asks for an activation token and activates `window` with it.
    pub fn activate(&mut self, window: &ProbeWindow) -> anyhow::Result<()> {
        let activation: XdgActivationV1 = self
            .globals
            .bind(&self.qh, 1..=1, ())
            .context("xdg_activation_v1")?;
        let token = activation.get_activation_token(&self.qh, ());
        token.commit();
        while self.state.token.is_none() {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        let token = self.state.token.take().unwrap_or_default();
        activation.activate(token, &window.surface);
        self.roundtrip()
    }

    /// Binds the foreign toplevel list: toplevels are logged as "toplevel title T",
    /// "toplevel app_id A", "toplevel done", "toplevel closed".
    pub fn list_toplevels(&mut self) -> anyhow::Result<()> {
        let _list: ExtForeignToplevelListV1 = self
            .globals
            .bind(&self.qh, 1..=1, ())
            .context("ext_foreign_toplevel_list_v1")?;
        self.roundtrip()
    }
}

impl ProbeWindow {
    pub fn destroy(self) {
        self.toplevel.destroy();
        self.xdg_surface.destroy();
        self.surface.destroy();
    }
}

crate::ignore_registry_events!(ProbeState);

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for ProbeState {
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

impl Dispatch<xdg_surface::XdgSurface, ()> for ProbeState {
    fn event(
        _: &mut Self,
        xdg_surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg_surface.ack_configure(serial);
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, String> for ProbeState {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        title: &String,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Configure { states, .. } = event {
            // The states are u32s in native byte order.
            let activated = states.chunks_exact(4).any(|c| {
                u32::from_ne_bytes([c[0], c[1], c[2], c[3]])
                    == xdg_toplevel::State::Activated as u32
            });
            let activated = if activated { " activated" } else { "" };
            state.log.push(format!("{title} configure{activated}"));
        }
    }
}

impl Dispatch<ZxdgToplevelDecorationV1, String> for ProbeState {
    fn event(
        state: &mut Self,
        _: &ZxdgToplevelDecorationV1,
        event: zxdg_toplevel_decoration_v1::Event,
        title: &String,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zxdg_toplevel_decoration_v1::Event::Configure { mode } = event {
            let mode = match mode {
                WEnum::Value(Mode::ClientSide) => "client-side".to_string(),
                WEnum::Value(Mode::ServerSide) => "server-side".to_string(),
                other => format!("{other:?}"),
            };
            state.log.push(format!("{title} decoration {mode}"));
        }
    }
}

impl Dispatch<WpFractionalScaleV1, String> for ProbeState {
    fn event(
        state: &mut Self,
        _: &WpFractionalScaleV1,
        event: wp_fractional_scale_v1::Event,
        title: &String,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_fractional_scale_v1::Event::PreferredScale { scale } = event {
            state.log.push(format!("{title} preferred scale {scale}"));
        }
    }
}

impl Dispatch<XdgActivationTokenV1, ()> for ProbeState {
    fn event(
        state: &mut Self,
        _: &XdgActivationTokenV1,
        event: xdg_activation_token_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_activation_token_v1::Event::Done { token } = event {
            state.token = Some(token);
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for ProbeState {
    fn event(
        state: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_keyboard::Event::Enter { surface, .. } = event {
            state
                .log
                .push(format!("keyboard enter {}", surface.id().protocol_id()));
        }
    }
}

impl Dispatch<ExtForeignToplevelListV1, ()> for ProbeState {
    fn event(
        _: &mut Self,
        _: &ExtForeignToplevelListV1,
        _: ext_foreign_toplevel_list_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }

    wayland_client::event_created_child!(ProbeState, ExtForeignToplevelListV1, [
        ext_foreign_toplevel_list_v1::EVT_TOPLEVEL_OPCODE => (ExtForeignToplevelHandleV1, ()),
    ]);
}

impl Dispatch<ExtForeignToplevelHandleV1, ()> for ProbeState {
    fn event(
        state: &mut Self,
        _: &ExtForeignToplevelHandleV1,
        event: ext_foreign_toplevel_handle_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let line = match event {
            ext_foreign_toplevel_handle_v1::Event::Title { title } => {
                format!("toplevel title {title}")
            }
            ext_foreign_toplevel_handle_v1::Event::AppId { app_id } => {
                format!("toplevel app_id {app_id}")
            }
            ext_foreign_toplevel_handle_v1::Event::Done => "toplevel done".into(),
            ext_foreign_toplevel_handle_v1::Event::Closed => "toplevel closed".into(),
            _ => return,
        };
        state.log.push(line);
    }
}

delegate_noop!(ProbeState: ignore WlCompositor);
delegate_noop!(ProbeState: ignore WlSurface);
delegate_noop!(ProbeState: ignore WlBuffer);
delegate_noop!(ProbeState: ignore WlShm);
delegate_noop!(ProbeState: ignore WlShmPool);
delegate_noop!(ProbeState: ignore wl_seat::WlSeat);
delegate_noop!(ProbeState: ignore ZxdgDecorationManagerV1);
delegate_noop!(ProbeState: ignore WpFractionalScaleManagerV1);
delegate_noop!(ProbeState: ignore XdgActivationV1);
