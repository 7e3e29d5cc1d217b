//! One module per protocol handler. Protocols whose handler has nothing to decide are
//! delegated here.

mod color_representation;
mod compositor;
pub mod desktop;
mod foreign_toplevel;
mod fractional_scale;
mod pacing;
mod pointer;
mod popup;
mod security_context;
mod selection;
mod surface_hints;
mod toplevel_icon_guard;
mod xdg_activation;
mod xdg_decoration;
pub use color_representation::encoding_of as color_representation_of;
pub(crate) mod dispatch;
pub mod dmabuf;
mod guard;
pub mod next_frame;
mod test_protocol;
pub mod virtual_input;
mod wake;
mod xdg_shell;
pub use compositor::{root_of, surface_committed};
pub use xdg_shell::fill_output_if_asked;

use smithay::{
    delegate_output, delegate_presentation, delegate_single_pixel_buffer, delegate_viewporter,
    input::{SeatHandler, SeatState},
    reexports::wayland_server::{
        protocol::{wl_seat::WlSeat, wl_surface::WlSurface},
        Client, DataInit, DisplayHandle, GlobalDispatch, New, Resource,
    },
    wayland::{
        buffer::BufferHandler,
        output::OutputHandler,
        seat::SeatGlobalData,
        shm::{ShmHandler, ShmState},
    },
};

use crate::state::State;

impl BufferHandler for State {
    fn buffer_destroyed(
        &mut self,
        _buffer: &smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer,
    ) {
    }
}

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}

impl OutputHandler for State {}

impl SeatHandler for State {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<Self> {
        &mut self.seat_state
    }

    /// The clipboard and primary selection follow keyboard focus; so does the
    /// activated state (see `input`).
    fn focus_changed(&mut self, seat: &smithay::input::Seat<Self>, focused: Option<&WlSurface>) {
        let dh = &self.display_handle;
        let client = focused.and_then(|s| dh.get_client(s.id()).ok());
        smithay::wayland::selection::data_device::set_data_device_focus(dh, seat, client.clone());
        smithay::wayland::selection::primary_selection::set_primary_focus(dh, seat, client);
        self.keyboard_focus_changed(focused);
    }
}

// smithay's delegate_shm! minus wl_shm_pool, which `guard` dispatches first (smithay 0.7
// panics on resize(0)).
dispatch::delegate_to!(ShmState:
    globals [smithay::reexports::wayland_server::protocol::wl_shm::WlShm: ()]
    objects [
        smithay::reexports::wayland_server::protocol::wl_shm::WlShm: (),
        smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer: smithay::wayland::shm::ShmBufferUserData,
    ]
);
delegate_output!(State);
// smithay's delegate_seat! but for wl_seat's bind, which makes the keyboard first (see
// `input`): the capabilities smithay sends with the bind then name it.
dispatch::delegate_to!(smithay::input::SeatState<State>:
    globals []
    objects [
        smithay::reexports::wayland_server::protocol::wl_seat::WlSeat: smithay::wayland::seat::SeatUserData<State>,
        smithay::reexports::wayland_server::protocol::wl_pointer::WlPointer: smithay::wayland::seat::PointerUserData<State>,
        smithay::reexports::wayland_server::protocol::wl_keyboard::WlKeyboard: smithay::wayland::seat::KeyboardUserData<State>,
        smithay::reexports::wayland_server::protocol::wl_touch::WlTouch: smithay::wayland::seat::TouchUserData<State>,
    ]
);

impl GlobalDispatch<WlSeat, SeatGlobalData<State>> for State {
    fn bind(
        state: &mut State,
        dh: &DisplayHandle,
        client: &Client,
        resource: New<WlSeat>,
        global: &SeatGlobalData<State>,
        data_init: &mut DataInit<'_, State>,
    ) {
        state.keyboard();
        <SeatState<State> as GlobalDispatch<WlSeat, SeatGlobalData<State>, State>>::bind(
            state, dh, client, resource, global, data_init,
        );
    }

    fn can_view(client: Client, global: &SeatGlobalData<State>) -> bool {
        <SeatState<State> as GlobalDispatch<WlSeat, SeatGlobalData<State>, State>>::can_view(
            client, global,
        )
    }
}
delegate_viewporter!(State);
delegate_presentation!(State);
delegate_single_pixel_buffer!(State);
