//! xdg_wm_base: deterministic placement. Every toplevel goes to the output's top-left at
//! the size it chose (its window geometry's origin at 0,0), the newest on top; one that
//! asks for fullscreen or maximized is configured to the output's size, again whenever the
//! output is resized. Popups are configured where they ask and not drawn yet.

use smithay::{
    desktop::Window,
    reexports::{
        wayland_protocols::xdg::shell::server::xdg_toplevel,
        wayland_server::protocol::{wl_output::WlOutput, wl_seat},
    },
    utils::{Logical, Serial, Size},
    wayland::shell::xdg::{
        PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
    },
};

use crate::state::State;

impl XdgShellHandler for State {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell_state
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        self.list_toplevel(&surface);
        let window = Window::new_wayland_window(surface);
        self.space.map_element(window, (0, 0), true);
    }

    fn title_changed(&mut self, surface: ToplevelSurface) {
        self.relist_toplevel(&surface);
    }

    fn app_id_changed(&mut self, surface: ToplevelSurface) {
        self.relist_toplevel(&surface);
    }

    fn fullscreen_request(&mut self, surface: ToplevelSurface, _output: Option<WlOutput>) {
        self.set_fill(surface, xdg_toplevel::State::Fullscreen, true);
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        self.set_fill(surface, xdg_toplevel::State::Fullscreen, false);
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        self.set_fill(surface, xdg_toplevel::State::Maximized, true);
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        self.set_fill(surface, xdg_toplevel::State::Maximized, false);
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.unlist_toplevel(&surface);
        self.window_going(surface.wl_surface());
        if let Some(window) = self.window_for(surface.wl_surface()).cloned() {
            self.space.unmap_elem(&window);
        }
    }

    fn new_popup(&mut self, surface: PopupSurface, _positioner: PositionerState) {
        let _ = surface.send_configure();
    }

    fn grab(&mut self, _surface: PopupSurface, _seat: wl_seat::WlSeat, _serial: Serial) {}

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        surface.send_repositioned(token);
    }
}

impl State {
    /// A toplevel asked for (or left) fullscreen or maximized: one filling the output is
    /// sized to it, one that no longer does chooses its size again. The protocol asks for
    /// a configure in answer, changed or not.
    fn set_fill(&mut self, surface: ToplevelSurface, state: xdg_toplevel::State, on: bool) {
        let output = self.output_logical_size();
        surface.with_pending_state(|s| {
            if on {
                s.states.set(state);
            } else {
                s.states.unset(state);
            }
            s.size = is_filling(&s.states).then_some(output);
        });
        if surface.is_initial_configure_sent() {
            surface.send_configure();
        }
    }
}

fn is_filling(states: &smithay::wayland::shell::xdg::ToplevelStateSet) -> bool {
    states.contains(xdg_toplevel::State::Fullscreen)
        || states.contains(xdg_toplevel::State::Maximized)
}

/// Sizes a fullscreen or maximized toplevel to the output (`size`, logical) and sends the
/// configure if anything changed; other toplevels keep the size they chose.
pub fn fill_output_if_asked(surface: &ToplevelSurface, size: Size<i32, Logical>) {
    let filling = surface.with_pending_state(|s| {
        let filling = is_filling(&s.states);
        if filling {
            s.size = Some(size);
        }
        filling
    });
    if filling && surface.is_initial_configure_sent() {
        surface.send_pending_configure();
    }
}

// smithay's delegate_xdg_shell! minus xdg_surface, xdg_toplevel and xdg_positioner, which
// `guard` dispatches first (client sizes checked before smithay sees them).
smithay::reexports::wayland_server::delegate_global_dispatch!(State: [
    smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase: ()
] => XdgShellState);
smithay::reexports::wayland_server::delegate_dispatch!(State: [
    smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase: smithay::wayland::shell::xdg::XdgWmBaseUserData
] => XdgShellState);
smithay::reexports::wayland_server::delegate_dispatch!(State: [
    smithay::reexports::wayland_protocols::xdg::shell::server::xdg_popup::XdgPopup: smithay::wayland::shell::xdg::XdgShellSurfaceUserData
] => XdgShellState);
