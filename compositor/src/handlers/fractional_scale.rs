//! wp_fractional_scale_manager_v1: a surface's preferred scale is its output's scale
//! (its window's output; a popup's toplevel's; the first output's for a surface of no
//! window yet; see `outputs`).

use smithay::{
    delegate_fractional_scale,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    wayland::{
        compositor::with_states,
        fractional_scale::{with_fractional_scale, FractionalScaleHandler},
    },
};

use crate::state::State;

impl FractionalScaleHandler for State {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        // The output of the window the surface's tree belongs to (a popup's: its
        // toplevel's), else the first output.
        let root = super::root_of(&surface);
        let output = match self.window_for(&root) {
            Some(window) => Some(self.output_of(window)),
            None => self.popup_output(&root),
        };
        let scale = output
            .unwrap_or_else(|| self.output.clone())
            .current_scale()
            .fractional_scale();
        with_states(&surface, |states| {
            with_fractional_scale(states, |fs| fs.set_preferred_scale(scale));
        });
    }
}

delegate_fractional_scale!(State);
