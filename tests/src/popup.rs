//! xdg_popups of a [`Window`], on the window's own queue: made with a positioner, shown
//! with a buffer; their configures, `popup_done`s and frame callbacks are recorded.

use anyhow::{bail, Context};
use wayland_client::{
    backend::ObjectId,
    protocol::{
        wl_buffer::WlBuffer, wl_callback::WlCallback, wl_compositor::WlCompositor,
        wl_surface::WlSurface,
    },
    Connection, Dispatch, Proxy, QueueHandle,
};
use wayland_protocols::xdg::shell::client::{
    xdg_popup::{self, XdgPopup},
    xdg_positioner::{Anchor, ConstraintAdjustment, Gravity},
    xdg_surface::XdgSurface,
    xdg_wm_base::XdgWmBase,
};

use crate::window::{Window, WindowState};

/// What the compositor told a window's popups.
#[derive(Default)]
pub struct PopupEvents {
    /// Every xdg_popup.configure: the popup and its (x, y, width, height).
    pub configures: Vec<(ObjectId, (i32, i32, i32, i32))>,
    /// The popups that heard `popup_done`.
    pub done: Vec<ObjectId>,
    /// The popup surfaces whose frame callback was answered, once per callback.
    pub frames: Vec<ObjectId>,
    /// Tokens of `repositioned` events.
    pub repositioned: Vec<u32>,
}

/// Where a popup asks to go: its top-left at (x, y) relative to the parent's window
/// geometry (anchor top-left of a 1x1 anchor rectangle there, gravity bottom-right), its
/// size, and what the compositor may do when that is off the output.
#[derive(Clone, Copy)]
pub struct Place {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub adjust: ConstraintAdjustment,
}

impl Place {
    /// At (x, y), `width` x `height`, not to be adjusted.
    pub fn at(x: i32, y: i32, width: i32, height: i32) -> Place {
        Place {
            x,
            y,
            width,
            height,
            adjust: ConstraintAdjustment::None,
        }
    }
}

/// One popup's objects.
pub struct Popup {
    pub surface: WlSurface,
    pub xdg_surface: XdgSurface,
    pub popup: XdgPopup,
}

impl Popup {
    /// Destroys it as a client does when its menu closes (popup, then its surface).
    pub fn destroy(self) {
        self.popup.destroy();
        self.xdg_surface.destroy();
        self.surface.destroy();
    }
}

/// Frame callback user data: the popup surface that asked.
pub struct PopupFrame(ObjectId);

impl Window {
    /// A popup of `parent` (this window's xdg_surface, or another popup's) at `place`;
    /// returns once its first configure is acked.
    pub fn popup(&mut self, parent: &XdgSurface, place: Place) -> anyhow::Result<Popup> {
        let qh = self.queue_handle().clone();
        let compositor: WlCompositor =
            self.globals.bind(&qh, 1..=6, ()).context("wl_compositor")?;
        let wm_base: XdgWmBase = self.globals.bind(&qh, 1..=6, ()).context("xdg_wm_base")?;
        let positioner = wm_base.create_positioner(&qh, ());
        positioner.set_size(place.width, place.height);
        positioner.set_anchor_rect(place.x, place.y, 1, 1);
        positioner.set_anchor(Anchor::TopLeft);
        positioner.set_gravity(Gravity::BottomRight);
        positioner.set_constraint_adjustment(place.adjust);
        let surface = compositor.create_surface(&qh, ());
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
        let popup = xdg_surface.get_popup(Some(parent), &positioner, &qh, ());
        positioner.destroy();
        surface.commit();
        let id = popup.id();
        while self.popup_configure(&popup).is_none() {
            if self.state().popups.done.contains(&id) {
                bail!("the popup was dismissed before its first configure");
            }
            self.blocking_dispatch()?;
        }
        // The xdg_surface.configure that closes it (acked by the window's handler) may
        // still be queued.
        self.conn.roundtrip()?;
        self.dispatch_pending()?;
        Ok(Popup {
            surface,
            xdg_surface,
            popup,
        })
    }

    /// The last configure `popup` heard: (x, y, width, height).
    pub fn popup_configure(&self, popup: &XdgPopup) -> Option<(i32, i32, i32, i32)> {
        let id = popup.id();
        let configures = &self.state().popups.configures;
        configures.iter().rev().find(|(p, _)| *p == id).map(|c| c.1)
    }

    /// Attaches `buffer` to the popup (damaged whole), asks for a frame callback, commits.
    pub fn show_popup(&mut self, popup: &Popup, buffer: &WlBuffer) {
        let qh = self.queue_handle().clone();
        popup.surface.attach(Some(buffer), 0, 0);
        popup.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        popup.surface.frame(&qh, PopupFrame(popup.surface.id()));
        popup.surface.commit();
    }

    /// How many frame callbacks of `popup` were answered.
    pub fn popup_frames(&self, popup: &Popup) -> usize {
        let id = popup.surface.id();
        self.state()
            .popups
            .frames
            .iter()
            .filter(|f| **f == id)
            .count()
    }

    /// Waits until `popup` has had `n` frame callbacks answered.
    pub fn wait_popup_frames(&mut self, popup: &Popup, n: usize) -> anyhow::Result<()> {
        while self.popup_frames(popup) < n {
            self.blocking_dispatch()?;
        }
        Ok(())
    }
}

impl Dispatch<XdgPopup, ()> for WindowState {
    fn event(
        state: &mut Self,
        popup: &XdgPopup,
        event: xdg_popup::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let events = &mut state.popups;
        match event {
            xdg_popup::Event::Configure {
                x,
                y,
                width,
                height,
            } => events.configures.push((popup.id(), (x, y, width, height))),
            xdg_popup::Event::PopupDone => events.done.push(popup.id()),
            xdg_popup::Event::Repositioned { token } => events.repositioned.push(token),
            _ => {}
        }
    }
}

impl Dispatch<WlCallback, PopupFrame> for WindowState {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        _: wayland_client::protocol::wl_callback::Event,
        frame: &PopupFrame,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.popups.frames.push(frame.0.clone());
    }
}

// Bound only to name a seat in `xdg_popup.grab`.
wayland_client::delegate_noop!(WindowState: ignore wayland_client::protocol::wl_seat::WlSeat);
