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
            backend::ObjectId,
            delegate_dispatch, delegate_global_dispatch,
            protocol::{
                wl_data_device::WlDataDevice,
                wl_data_device_manager::WlDataDeviceManager,
                wl_data_source::{self, WlDataSource},
            },
            Client, Resource,
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

use super::dispatch::intercept;
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

// A source's `offer` is counted (`count_offer`) before smithay stores it; its count goes
// with it.
intercept!(WlDataSource, DataSourceUserData => DataDeviceState, counted, destroyed: forget_source);
intercept!(
    ZwpPrimarySelectionSourceV1, PrimarySourceUserData => PrimarySelectionState,
    counted,
    destroyed: forget_source
);

/// A source request that may be an `offer`.
trait SourceRequest {
    fn is_offer(&self) -> bool;
}

impl SourceRequest for wl_data_source::Request {
    fn is_offer(&self) -> bool {
        matches!(self, wl_data_source::Request::Offer { .. })
    }
}

impl SourceRequest for zwp_primary_selection_source_v1::Request {
    fn is_offer(&self) -> bool {
        matches!(self, zwp_primary_selection_source_v1::Request::Offer { .. })
    }
}

/// `request`, unless it is an offer past the source's limit.
fn counted<I: Resource>(
    state: &mut State,
    client: &Client,
    source: &I,
    request: I::Request,
) -> Option<I::Request>
where
    I::Request: SourceRequest,
{
    let allowed =
        !request.is_offer() || state.count_offer(client, source.id(), I::interface().name);
    allowed.then_some(request)
}

fn forget_source<I: Resource>(state: &mut State, source: &I) {
    state.desktop.source_offers.remove(&source.id());
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
