//! wp_cursor_shape_manager_v1, zwp_pointer_constraints_v1 and
//! zwp_relative_pointer_manager_v1, all smithay's. planar draws no cursor, so a cursor
//! shape is accepted and not shown. A constraint is activated at once when its surface has
//! the pointer (a headless seat's pointer never moves by itself, so a lock is always
//! honoured); relative motion is sent by whatever moves the pointer (nested input).

use smithay::{
    delegate_cursor_shape, delegate_pointer_constraints, delegate_relative_pointer,
    input::pointer::PointerHandle,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::{Logical, Point},
    wayland::{
        pointer_constraints::{with_pointer_constraint, PointerConstraintsHandler},
        tablet_manager::TabletSeatHandler,
    },
};

use crate::state::State;

impl TabletSeatHandler for State {}

impl PointerConstraintsHandler for State {
    fn new_constraint(&mut self, surface: &WlSurface, pointer: &PointerHandle<Self>) {
        if pointer.current_focus().as_ref() == Some(surface) {
            with_pointer_constraint(surface, pointer, |constraint| {
                if let Some(constraint) = constraint {
                    constraint.activate();
                }
            });
        }
    }

    fn cursor_position_hint(
        &mut self,
        _surface: &WlSurface,
        _pointer: &PointerHandle<Self>,
        _location: Point<f64, Logical>,
    ) {
        // No cursor is drawn: nothing to move.
    }
}

delegate_cursor_shape!(State);
delegate_pointer_constraints!(State);
delegate_relative_pointer!(State);
