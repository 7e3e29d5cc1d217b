//! wl_data_device_manager and zwp_primary_selection_device_manager_v1: clipboard, primary
//! selection and drag-and-drop between clients, all smithay's. The selection is offered to
//! the client with keyboard focus (see `State::focus_changed`); planar itself never owns a
//! selection, so there is no server-side data to send.

use smithay::{
    delegate_data_device, delegate_primary_selection,
    wayland::selection::{
        data_device::{
            ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler,
        },
        primary_selection::{PrimarySelectionHandler, PrimarySelectionState},
        SelectionHandler,
    },
};

use crate::state::State;

impl SelectionHandler for State {
    type SelectionUserData = ();
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.desktop.data_device
    }
}

impl ClientDndGrabHandler for State {}
impl ServerDndGrabHandler for State {}

impl PrimarySelectionHandler for State {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.desktop.primary_selection
    }
}

delegate_data_device!(State);
delegate_primary_selection!(State);
