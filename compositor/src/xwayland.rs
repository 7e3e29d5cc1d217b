//! `planar run --xwayland`: a rootless Xwayland with smithay's `X11Wm`, so X11 apps run in
//! the same headless session as Wayland clients.
//!
//! Xwayland is started with the compositor, not lazily on the first X11 connection: smithay
//! 0.7 binds the X11 sockets and spawns the server in one call (`XWayland::spawn`), and a
//! lazy start would mean owning the sockets and the spawn ourselves. It starts while the
//! renderer is being chosen, and CMD is started only once Xwayland has written its display
//! number (its `-displayfd`) and the window manager is connected, so DISPLAY works from the
//! command's first instruction. What that costs is measured by `bench/xwayland`.
//!
//! X11 windows are placed as toplevels are: managed windows at the output's top-left at the
//! size they ask for, the newest on top and given the keyboard when first shown;
//! override-redirect windows (menus, tooltips) where they put themselves. Their buffers are
//! wl_shm or dma-bufs committed by Xwayland's Wayland connection, so they take the same
//! import path and records as any client's.
//!
//! Known limits: Debian 12's Xwayland (22.1) pairs a window with its wl_surface through the
//! deprecated `WL_SURFACE_ID` message, which smithay 0.7 records but never acts on; planar
//! matches it itself (see `planar_renderer::xwayland`). The X11 selection is not bridged to
//! the Wayland clipboard, and X11 windows get no presentation feedback (frame callbacks only).

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::Context;
use planar_renderer::xwayland::{window_surface, XwaylandWlSurface};
use smithay::{
    desktop::{utils::send_frames_surface_tree, Window},
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Client},
    utils::{Logical, Rectangle, SERIAL_COUNTER},
    wayland::{
        compositor::CompositorClientState,
        seat::WaylandFocus,
        xwayland_shell::{XWaylandShellHandler, XWaylandShellState},
    },
    xwayland::{
        xwm::{Reorder, ResizeEdge, WmWindowProperty, XwmId},
        X11Surface, X11Wm, XWayland, XWaylandClientData, XWaylandEvent, XwmHandler,
    },
};
use tracing::{debug, info, warn};

use crate::state::{State, Stop};

/// How long CMD waits at most for Xwayland to be ready before planar gives up.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The Xwayland server and its window manager, once started.
pub struct Xwayland {
    pub shell: XWaylandShellState,
    pub client: Client,
    pub xwm: Option<X11Wm>,
    /// The X11 display number, once Xwayland is ready.
    pub display: Option<u32>,
    /// When Xwayland was spawned (for the start-up time in the log).
    started: std::time::Instant,
}

/// Where the Xwayland binary is on PATH, or the error that names the package to install.
pub fn find_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("Xwayland"))
        .find(|p| {
            rustix::fs::access(p.as_path(), rustix::fs::Access::EXEC_OK).is_ok() && p.is_file()
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--xwayland needs the Xwayland binary, which is not on PATH: install the \
                 `xwayland` package (apt-get install -y xwayland)"
            )
        })
}

/// Spawns Xwayland; the window manager starts when it reports ready (see `wait_ready`).
pub fn start(state: &mut State) -> anyhow::Result<()> {
    find_binary()?;
    let dh = state.display_handle.clone();
    let handle = state
        .loop_handle
        .clone()
        .context("error starting Xwayland: no event loop")?;
    let shell = XWaylandShellState::new::<State>(&dh);
    // planar blocks SIGINT/SIGTERM to read them from a signalfd, and a spawned process
    // inherits the mask: Xwayland would ignore SIGTERM. smithay's spawn takes no pre_exec,
    // so the mask is cleared around it (a signal in those microseconds ends planar the
    // default way).
    let blocked = unblock_signals();
    let spawned = XWayland::spawn(
        &dh,
        None,
        std::iter::empty::<(String, String)>(),
        true,
        Stdio::null(),
        Stdio::null(),
        |_| {},
    );
    restore_signals(&blocked);
    let (xwayland, client) = spawned.context("error starting Xwayland")?;
    info!(display = xwayland.display_number(), "Xwayland spawned");
    let wm_client = client.clone();
    handle
        .insert_source(xwayland, move |event, _, state| match event {
            XWaylandEvent::Ready {
                x11_socket,
                display_number,
            } => state.xwayland_ready(x11_socket, display_number, wm_client.clone()),
            XWaylandEvent::Error => {
                state.failure = Some("Xwayland exited during start-up".into());
                state.stop.get_or_insert(Stop::Failed);
            }
        })
        .map_err(|e| anyhow::anyhow!("error watching Xwayland: {e}"))?;
    state.xwayland = Some(Xwayland {
        shell,
        client,
        xwm: None,
        display: None,
        started: std::time::Instant::now(),
    });
    Ok(())
}

/// Clears this thread's signal mask; returns the old one.
fn unblock_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on stack-owned sigset_t values.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, &mut old);
        old
    }
}

fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: as above; `old` came from pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

impl State {
    fn xwayland_ready(
        &mut self,
        socket: std::os::unix::net::UnixStream,
        number: u32,
        client: Client,
    ) {
        let Some(handle) = self.loop_handle.clone() else {
            return;
        };
        match X11Wm::start_wm(handle, socket, client) {
            Ok(wm) => {
                if let Some(x) = self.xwayland.as_mut() {
                    info!(
                        display = number,
                        ms = x.started.elapsed().as_millis() as u64,
                        "Xwayland ready"
                    );
                    x.xwm = Some(wm);
                    x.display = Some(number);
                }
            }
            Err(err) => {
                self.failure = Some(format!("error starting the X11 window manager: {err}"));
                self.stop.get_or_insert(Stop::Failed);
            }
        }
    }

    /// The X11 display CMD gets (`:N`), once Xwayland and its window manager are ready.
    pub fn x11_display(&self) -> Option<String> {
        let x = self.xwayland.as_ref()?;
        x.xwm.as_ref()?;
        x.display.map(|n| format!(":{n}"))
    }

    /// Pairs mapped X11 windows with their wl_surfaces from `WL_SURFACE_ID` (Xwayland
    /// before 23.1), and shows each once paired. Cheap when nothing is waiting.
    pub fn pair_x11_surfaces(&mut self) {
        let Some(client) = self.xwayland.as_ref().map(|x| x.client.clone()) else {
            return;
        };
        let waiting: Vec<(Window, u32)> = self
            .space
            .elements()
            .filter_map(|w| {
                let x11 = w.x11_surface()?;
                if window_surface(w).is_some() {
                    return None;
                }
                #[allow(deprecated)] // the only pairing Xwayland 22 offers, see the header
                let id = x11.wl_surface_id()?;
                Some((w.clone(), id))
            })
            .collect();
        for (window, id) in waiting {
            let Ok(surface) = client.object_from_protocol_id::<WlSurface>(&self.display_handle, id)
            else {
                continue;
            };
            let Some(x11) = window.x11_surface() else {
                continue;
            };
            x11.user_data()
                .insert_if_missing(XwaylandWlSurface::default);
            if let Some(paired) = x11.user_data().get::<XwaylandWlSurface>() {
                *paired.0.lock().unwrap() = Some(surface.clone());
            }
            info!(
                window = x11.window_id(),
                surface = id,
                title = %x11.title(),
                class = %x11.class(),
                "X11 window paired with its wl_surface"
            );
            // Its buffer may have been committed before the pairing.
            crate::handlers::surface_committed(self, &surface);
        }
    }

    /// Frame callbacks for X11 windows smithay does not know the surface of.
    pub fn send_x11_frame_callbacks(&self, now: Duration) {
        let output = self.output.clone();
        for window in self.space.elements() {
            if window.x11_surface().is_none() || window.wl_surface().is_some() {
                continue;
            }
            if let Some(surface) = window_surface(window) {
                send_frames_surface_tree(&surface, &output, now, Some(Duration::ZERO), |_, _| {
                    Some(output.clone())
                });
            }
        }
    }

    /// Tells X11 which window has the keyboard (`focused`: the window just given it),
    /// so Xwayland delivers keys to it and toolkits draw it active.
    pub fn x11_focus_changed(&mut self, focused: Option<&Window>) {
        let windows: Vec<X11Surface> = self
            .space
            .elements()
            .filter_map(|w| w.x11_surface().cloned())
            .collect();
        let focused = focused.and_then(|w| w.x11_surface());
        for x11 in &windows {
            let on = Some(x11) == focused;
            if let Err(err) = x11.set_activated(on) {
                debug!(%err, "error (de)activating an X11 window");
            }
        }
        if let Some(x11) = focused {
            // smithay's keyboard target for X11Surface sets the X input focus (and sends
            // WM_TAKE_FOCUS); the wl_keyboard enter itself went to the paired surface.
            let seat = self.seat.clone();
            smithay::input::keyboard::KeyboardTarget::enter(
                x11,
                &seat,
                self,
                Vec::new(),
                SERIAL_COUNTER.next_serial(),
            );
        }
    }

    fn x11_window(&self, x11: &X11Surface) -> Option<Window> {
        self.space
            .elements()
            .find(|w| w.x11_surface() == Some(x11))
            .cloned()
    }

    fn x11_gone(&mut self, x11: &X11Surface) {
        let Some(window) = self.x11_window(x11) else {
            return;
        };
        if let Some(surface) = window_surface(&window) {
            self.window_going(&surface);
        }
        if let Some(paired) = x11.user_data().get::<XwaylandWlSurface>() {
            *paired.0.lock().unwrap() = None;
        }
        self.space.unmap_elem(&window);
        info!(window = x11.window_id(), title = %x11.title(), "X11 window unmapped");
        // A window takes the X input focus when it is mapped (`map_window_request`), ahead
        // of planar's focus at its first show. One that goes before it was shown leaves the
        // X focus on nothing while planar's wl_keyboard focus stays on another X window:
        // give the X focus back to that window, or its keys would be lost.
        let focused = self.keyboard_focus();
        let back = focused.and_then(|f| {
            self.space
                .elements()
                .find(|w| w.x11_surface().is_some() && window_surface(w).as_ref() == Some(&f))
                .cloned()
        });
        if back.is_some() {
            self.x11_focus_changed(back.as_ref());
        }
    }
}

/// Names the X11 window in the import record of the dma-buf its surface shows (wl_shm
/// buffers have no records, for any client).
pub fn name_in_record(state: &mut State, window: &Window, surface: &WlSurface) {
    let Some(x11) = window.x11_surface() else {
        return;
    };
    let dmabuf = smithay::backend::renderer::utils::with_renderer_surface_state(surface, |s| {
        s.buffer()
            .and_then(|b| smithay::wayland::dmabuf::get_dmabuf(b).ok().cloned())
    })
    .flatten();
    if let (Some(dmabuf), Some(backend)) = (dmabuf, state.backend.as_mut()) {
        let name = format!("{} ({})", x11.title(), x11.class());
        backend.engine().name_x11_window(&dmabuf, &name);
    }
}

/// Compositor client data for Xwayland's own Wayland connection.
pub fn compositor_client_state(client: &Client) -> Option<&CompositorClientState> {
    client
        .get_data::<XWaylandClientData>()
        .map(|d| &d.compositor_state)
}

impl XwmHandler for State {
    fn xwm_state(&mut self, _xwm: XwmId) -> &mut X11Wm {
        // smithay calls this only for a running window manager, which planar keeps in
        // `xwayland.xwm` from the moment it starts.
        self.xwayland
            .as_mut()
            .and_then(|x| x.xwm.as_mut())
            .expect("an X11 event without a running window manager")
    }

    fn new_window(&mut self, _xwm: XwmId, window: X11Surface) {
        debug!(window = window.window_id(), "new X11 window");
    }

    fn new_override_redirect_window(&mut self, _xwm: XwmId, window: X11Surface) {
        debug!(
            window = window.window_id(),
            "new override-redirect X11 window"
        );
    }

    fn map_window_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Err(err) = window.set_mapped(true) {
            warn!(%err, window = window.window_id(), "error mapping an X11 window");
            return;
        }
        // The same rule as xdg toplevels: the output's top-left, the size it asked for.
        let size = window.geometry().size;
        if let Err(err) = window.configure(Rectangle::new((0, 0).into(), size)) {
            warn!(%err, window = window.window_id(), "error placing an X11 window");
        }
        info!(
            window = window.window_id(),
            title = %window.title(),
            class = %window.class(),
            width = size.w,
            height = size.h,
            "X11 window mapped at the output's top-left"
        );
        let element = Window::new_x11_window(window.clone());
        self.space.map_element(element, (0, 0), true);
        if let Some(wm) = self.xwayland.as_mut().and_then(|x| x.xwm.as_mut()) {
            if let Err(err) = wm.raise_window(&window) {
                debug!(%err, "error raising an X11 window");
            }
        }
        // The X input focus now, on the window manager's connection right after MapWindow,
        // so Xwayland handles it before it draws the window: before planar can show it and
        // type into it. Given only at first show (with wl_keyboard.enter), it raced the
        // first keys: in one turn of its loop Xwayland reads its Wayland events before the
        // window manager's requests, and under load keys typed just after the window was
        // shown went to the previous X focus (lost). With no wl_surface paired yet this is
        // the X part alone; the wl_keyboard enter still waits for the first show
        // (`surface_committed`). Nested, a person focuses by clicking. Known limit: a window
        // mapped but never shown keeps the X focus until it goes (`x11_gone` gives it back).
        if !self.is_nested() && window.wl_surface().is_none() {
            let seat = self.seat.clone();
            smithay::input::keyboard::KeyboardTarget::enter(
                &window,
                &seat,
                self,
                Vec::new(),
                SERIAL_COUNTER.next_serial(),
            );
        }
        self.pair_x11_surfaces();
    }

    fn mapped_override_redirect_window(&mut self, _xwm: XwmId, window: X11Surface) {
        let at = window.geometry().loc;
        info!(
            window = window.window_id(),
            x = at.x,
            y = at.y,
            "override-redirect X11 window mapped at its own position"
        );
        let element = Window::new_x11_window(window);
        self.space.map_element(element, at, false);
        self.pair_x11_surfaces();
    }

    fn unmapped_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.x11_gone(&window);
        if !window.is_override_redirect() {
            let _ = window.set_mapped(false);
        }
    }

    fn destroyed_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.x11_gone(&window);
    }

    fn configure_request(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        _x: Option<i32>,
        _y: Option<i32>,
        w: Option<u32>,
        h: Option<u32>,
        _reorder: Option<Reorder>,
    ) {
        // Any size is granted; the position stays planar's (top-left) once mapped.
        let mut geometry: Rectangle<i32, Logical> = window.geometry();
        if let Some(w) = w {
            geometry.size.w = w.clamp(1, 16384) as i32;
        }
        if let Some(h) = h {
            geometry.size.h = h.clamp(1, 16384) as i32;
        }
        if self.x11_window(&window).is_some() {
            geometry.loc = (0, 0).into();
        }
        if let Err(err) = window.configure(geometry) {
            debug!(%err, "error configuring an X11 window");
        }
    }

    fn configure_notify(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        geometry: Rectangle<i32, Logical>,
        _above: Option<u32>,
    ) {
        if !window.is_override_redirect() {
            return;
        }
        if let Some(element) = self.x11_window(&window) {
            self.space.map_element(element, geometry.loc, false);
        }
    }

    fn property_notify(&mut self, _xwm: XwmId, window: X11Surface, property: WmWindowProperty) {
        if property == WmWindowProperty::Title {
            debug!(window = window.window_id(), title = %window.title(), "X11 title changed");
        }
    }

    fn fullscreen_request(&mut self, _xwm: XwmId, window: X11Surface) {
        let size = self.output_logical_size();
        let _ = window.set_fullscreen(true);
        let _ = window.configure(Rectangle::new((0, 0).into(), size));
    }

    fn maximize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        let size = self.output_logical_size();
        let _ = window.set_maximized(true);
        let _ = window.configure(Rectangle::new((0, 0).into(), size));
    }

    fn resize_request(&mut self, _: XwmId, _: X11Surface, _: u32, _: ResizeEdge) {}

    fn move_request(&mut self, _: XwmId, _: X11Surface, _: u32) {}

    fn disconnected(&mut self, _xwm: XwmId) {
        // The window manager is kept: smithay may still ask for it while its windows go.
        warn!("the X11 window manager lost its connection to Xwayland");
    }
}

impl XWaylandShellHandler for State {
    fn xwayland_shell_state(&mut self) -> &mut XWaylandShellState {
        // Only Xwayland's own client can bind the global, which exists only with it.
        &mut self
            .xwayland
            .as_mut()
            .expect("xwayland-shell request without Xwayland")
            .shell
    }
}

smithay::delegate_xwayland_shell!(State);

impl State {
    /// The topmost window under `location` and where its surface is drawn: smithay's hit
    /// test, and for X11 windows paired by planar (which smithay cannot test) their
    /// surface tree.
    pub fn window_under(
        &self,
        location: smithay::utils::Point<f64, Logical>,
    ) -> Option<(Window, smithay::utils::Point<i32, Logical>)> {
        // As smithay's `Space::element_under`: topmost first, relative to where the
        // window's surface is drawn (its location minus its window geometry's origin).
        for window in self.space.elements().rev() {
            let Some(at) = self.space.element_location(window) else {
                continue;
            };
            let drawn = at - window.geometry().loc;
            if window_surface_under(window, location - drawn.to_f64()).is_some() {
                return Some((window.clone(), drawn));
            }
        }
        None
    }
}

/// The surface of `window` under `point` (window-local) and its offset in the window.
pub fn window_surface_under(
    window: &Window,
    point: smithay::utils::Point<f64, Logical>,
) -> Option<(WlSurface, smithay::utils::Point<i32, Logical>)> {
    use smithay::desktop::{utils::under_from_surface_tree, WindowSurfaceType};
    if window.x11_surface().is_none() {
        // Popups first, topmost first as drawn (smithay's `surface_under` tries sibling
        // popups oldest first, so a click on a newer popup above an older one went to the
        // older), then the toplevel's own tree.
        let toplevel = window.toplevel()?.wl_surface().clone();
        let origin = window.geometry().loc;
        for (popup, offset) in planar_renderer::popups::topmost_first(&toplevel) {
            let at = planar_renderer::popups::add(origin, offset);
            if let Some(hit) = under_from_surface_tree(&popup, point, at, WindowSurfaceType::ALL) {
                return Some(hit);
            }
        }
        return under_from_surface_tree(&toplevel, point, (0, 0), WindowSurfaceType::ALL);
    }
    if window.wl_surface().is_some() {
        return window.surface_under(point, WindowSurfaceType::ALL);
    }
    let surface = window_surface(window)?;
    under_from_surface_tree(&surface, point, (0, 0), WindowSurfaceType::ALL)
}
