//! wl_data_device_manager and zwp_primary_selection_device_manager_v1: clipboard, primary
//! selection and drag-and-drop between clients, all smithay's. The selection is offered to
//! the client with keyboard focus (see `State::focus_changed`); planar itself never owns a
//! selection, so there is no server-side data to send.
//!
//! smithay keeps every `offer` of a source (wl_data_source, zwp_primary_selection_source_v1)
//! in a list with no bound, each mime type up to a wayland message (~4 KiB), and sends the
//! whole list to each client that gets focus: one source could grow planar by gigabytes
//! and flood every other client. planar lets a source offer `MAX_MIME_TYPES` types
//! (repeats included) and ignores further offers with a warn line; the protocols define
//! no error for it.

use smithay::{
    reexports::{
        wayland_protocols::wp::primary_selection::zv1::server::{
            zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
            zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1,
            zwp_primary_selection_source_v1::{self, ZwpPrimarySelectionSourceV1},
        },
        wayland_server::{
            backend::{ClientId, ObjectId},
            delegate_dispatch, delegate_global_dispatch,
            protocol::{
                wl_data_device::WlDataDevice,
                wl_data_device_manager::WlDataDeviceManager,
                wl_data_source::{self, WlDataSource},
            },
            Client, DataInit, Dispatch, DisplayHandle, Resource,
        },
    },
    wayland::selection::{
        data_device::{
            ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, DataDeviceUserData,
            DataSourceUserData, ServerDndGrabHandler,
        },
        primary_selection::{
            PrimaryDeviceManagerGlobalData, PrimaryDeviceUserData, PrimarySelectionHandler,
            PrimarySelectionState, PrimarySourceUserData,
        },
        SelectionHandler,
    },
};
use tracing::warn;

use crate::state::State;

/// Mime types one source may offer (GTK and Firefox offer a handful to a few dozen).
pub const MAX_MIME_TYPES: usize = 128;

impl State {
    /// Whether `source` may offer one more mime type; counts it when it may.
    fn count_offer(&mut self, client: &Client, source: ObjectId, interface: &str) -> bool {
        let count = self.desktop.source_offers.entry(source).or_insert(0);
        if *count >= MAX_MIME_TYPES {
            if *count == MAX_MIME_TYPES {
                warn!(client = ?client.id(), interface, limit = MAX_MIME_TYPES, "offer ignored: the source offers {MAX_MIME_TYPES} mime types already (logged once per source)");
                *count += 1;
            }
            return false;
        }
        *count += 1;
        true
    }
}

delegate_global_dispatch!(State: [WlDataDeviceManager: ()] => DataDeviceState);
delegate_dispatch!(State: [WlDataDeviceManager: ()] => DataDeviceState);
delegate_dispatch!(State: [WlDataDevice: DataDeviceUserData] => DataDeviceState);
delegate_global_dispatch!(State: [ZwpPrimarySelectionDeviceManagerV1: PrimaryDeviceManagerGlobalData] => PrimarySelectionState);
delegate_dispatch!(State: [ZwpPrimarySelectionDeviceManagerV1: ()] => PrimarySelectionState);
delegate_dispatch!(State: [ZwpPrimarySelectionDeviceV1: PrimaryDeviceUserData] => PrimarySelectionState);

impl Dispatch<WlDataSource, DataSourceUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        source: &WlDataSource,
        request: wl_data_source::Request,
        data: &DataSourceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if matches!(request, wl_data_source::Request::Offer { .. })
            && !state.count_offer(client, source.id(), "wl_data_source")
        {
            return;
        }
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, State>>::request(
            state, client, source, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut Self,
        client: ClientId,
        source: &WlDataSource,
        data: &DataSourceUserData,
    ) {
        state.desktop.source_offers.remove(&source.id());
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, State>>::destroyed(
            state, client, source, data,
        )
    }
}

impl Dispatch<ZwpPrimarySelectionSourceV1, PrimarySourceUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        source: &ZwpPrimarySelectionSourceV1,
        request: zwp_primary_selection_source_v1::Request,
        data: &PrimarySourceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if matches!(
            request,
            zwp_primary_selection_source_v1::Request::Offer { .. }
        ) && !state.count_offer(client, source.id(), "zwp_primary_selection_source_v1")
        {
            return;
        }
        <PrimarySelectionState as Dispatch<
            ZwpPrimarySelectionSourceV1,
            PrimarySourceUserData,
            State,
        >>::request(state, client, source, request, data, dh, data_init)
    }

    fn destroyed(
        state: &mut Self,
        client: ClientId,
        source: &ZwpPrimarySelectionSourceV1,
        data: &PrimarySourceUserData,
    ) {
        state.desktop.source_offers.remove(&source.id());
        <PrimarySelectionState as Dispatch<
            ZwpPrimarySelectionSourceV1,
            PrimarySourceUserData,
            State,
        >>::destroyed(state, client, source, data)
    }
}

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
