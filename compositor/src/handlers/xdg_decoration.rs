//! zxdg_decoration_manager_v1: planar draws no decorations, so every toplevel is told to
//! draw its own (client-side), whatever mode it asks for. The protocol lets the compositor
//! choose; a configure follows each request, as the protocol asks.

use smithay::{
    delegate_xdg_decoration,
    reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode,
    wayland::shell::xdg::{decoration::XdgDecorationHandler, ToplevelSurface},
};
use tracing::debug;

use crate::state::State;

fn client_side(toplevel: &ToplevelSurface) {
    toplevel.with_pending_state(|s| s.decoration_mode = Some(Mode::ClientSide));
    if toplevel.is_initial_configure_sent() {
        toplevel.send_pending_configure();
    }
}

impl XdgDecorationHandler for State {
    fn new_decoration(&mut self, toplevel: ToplevelSurface) {
        client_side(&toplevel);
    }

    fn request_mode(&mut self, toplevel: ToplevelSurface, mode: Mode) {
        debug!(?mode, "decoration mode asked; planar answers client-side");
        client_side(&toplevel);
    }

    fn unset_mode(&mut self, toplevel: ToplevelSurface) {
        client_side(&toplevel);
    }
}

delegate_xdg_decoration!(State);
