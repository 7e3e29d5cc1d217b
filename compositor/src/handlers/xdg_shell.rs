//! xdg_wm_base: deterministic placement. Every toplevel goes to the first output's
//! top-left at the size it chose (its window geometry's origin there), the newest on top;
//! one that asks for fullscreen or maximized is configured to its output's size, again
//! whenever the output is resized. Fullscreen on a given output moves the window to that
//! output's top-left (it stays there when it leaves fullscreen). Popups are tracked,
//! placed (kept on the output as their positioner allows) and drawn above their parent:
//! see `popup`.

use smithay::{
    desktop::Window,
    reexports::{
        wayland_protocols::xdg::shell::server::xdg_toplevel,
        wayland_server::protocol::{wl_output::WlOutput, wl_seat},
    },
    utils::{Logical, Serial, Size},
    wayland::shell::xdg::{
        PopupSurface, PositionerState, ShellClient, ToplevelSurface, XdgShellHandler, XdgShellState,
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
        // Headless, activated from its first configure; keyboard focus follows when it
        // is first shown (see `input`). New toplevels go to the first output's top-left.
        let activate = !self.is_nested();
        let origin = self.output.current_location();
        self.space.map_element(window, origin, activate);
    }

    fn title_changed(&mut self, surface: ToplevelSurface) {
        self.relist_toplevel(&surface);
    }

    fn app_id_changed(&mut self, surface: ToplevelSurface) {
        self.relist_toplevel(&surface);
    }

    fn fullscreen_request(&mut self, surface: ToplevelSurface, output: Option<WlOutput>) {
        let target = output
            .as_ref()
            .and_then(smithay::output::Output::from_resource)
            .filter(|o| self.outputs.contains(o));
        if let (Some(target), Some(window)) =
            (target, self.window_for(surface.wl_surface()).cloned())
        {
            self.space
                .map_element(window, target.current_location(), true);
            crate::outputs::set_preferred_scale(surface.wl_surface(), &target);
            self.space.refresh();
        }
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
        self.dismiss_popups_of(surface.wl_surface());
        self.unlist_toplevel(&surface);
        self.window_going(surface.wl_surface());
        if let Some(window) = self.window_for(surface.wl_surface()).cloned() {
            self.space.unmap_elem(&window);
        }
        self.refocus_after(surface.wl_surface());
    }

    fn client_pong(&mut self, client: ShellClient) {
        self.pong(&client);
    }

    // Placed and configured at its first commit (see `popup`).
    fn new_popup(&mut self, surface: PopupSurface, _positioner: PositionerState) {
        self.track_popup(surface);
    }

    // planar's pointer is injected: no grab (see `popup`'s known limits).
    fn grab(&mut self, _surface: PopupSurface, _seat: wl_seat::WlSeat, _serial: Serial) {}

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        self.reposition_popup(surface, positioner, token);
    }

    fn popup_destroyed(&mut self, surface: PopupSurface) {
        self.popup_gone(&surface);
    }
}

impl State {
    /// A toplevel asked for (or left) fullscreen or maximized: one filling the output is
    /// sized to it, one that no longer does chooses its size again. The protocol asks for
    /// a configure in answer, changed or not.
    fn set_fill(&mut self, surface: ToplevelSurface, state: xdg_toplevel::State, on: bool) {
        let output = match self.window_for(surface.wl_surface()) {
            Some(window) => self.logical_size_of(&self.output_of(window)),
            None => self.output_logical_size(),
        };
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
