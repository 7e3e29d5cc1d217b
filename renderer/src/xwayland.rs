//! The wl_surface of an X11 window, for Xwayland servers older than 23.1.
//!
//! smithay 0.7 pairs an X11 window with its wl_surface only through xwayland-shell-v1
//! (Xwayland 23.1+). Older servers (Debian 12 ships 22.1) announce the pairing with the
//! deprecated `WL_SURFACE_ID` client message; smithay records the id but never sets the
//! window's surface, and has no public way to set it. The compositor matches the id itself
//! and stores the surface in the X11 window's user data as [`XwaylandWlSurface`]; every
//! place that needs a window's surface asks [`window_surface`].
//! Known limit: a wl_surface id can be reused after destruction (the reason the message
//! was deprecated); the compositor drops the pairing when the X11 window is unmapped.

use std::sync::Mutex;

use smithay::{
    desktop::Window, reexports::wayland_server::protocol::wl_surface::WlSurface,
    wayland::seat::WaylandFocus,
};

/// X11 window user data: the wl_surface matched from `WL_SURFACE_ID`.
#[derive(Default, Debug)]
pub struct XwaylandWlSurface(pub Mutex<Option<WlSurface>>);

/// The window's wl_surface: smithay's own (xdg toplevels, X11 windows paired through
/// xwayland-shell-v1), else the one matched from `WL_SURFACE_ID`.
pub fn window_surface(window: &Window) -> Option<WlSurface> {
    if let Some(surface) = window.wl_surface() {
        return Some(surface.into_owned());
    }
    let x11 = window.x11_surface()?;
    let paired = x11.user_data().get::<XwaylandWlSurface>()?;
    let surface = paired.0.lock().unwrap().clone();
    surface
}
