//! xdg_toplevel_icon_manager_v1: smithay's implementation, with one request checked first.
//!
//! smithay 0.7 answers `xdg_toplevel_icon_v1.set_name`/`add_buffer` on an icon already
//! given to a toplevel (`set_icon`) with the protocol's `immutable` error, but then goes
//! on into a `debug_assert!(!is_immutable())`: a debug planar panicked (and, through the
//! panic guard, ended the run with exit 70). planar notes each icon `set_icon` froze and
//! answers those requests itself, without handing them on.
//!
//! Known limit: smithay accepts any `scale` in `add_buffer` and keeps one entry per
//! distinct size and scale; each entry is a wl_buffer the client made, so it is bounded by
//! the client's own objects.

use smithay::{
    reexports::{
        wayland_protocols::xdg::toplevel_icon::v1::server::{
            xdg_toplevel_icon_manager_v1::{self, XdgToplevelIconManagerV1},
            xdg_toplevel_icon_v1::{self, XdgToplevelIconV1},
        },
        wayland_server::{
            backend::ClientId, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
            Resource,
        },
    },
    wayland::xdg_toplevel_icon::{
        XdgToplevelIconManager, XdgToplevelIconManagerUserData, XdgToplevelIconUserData,
    },
};
use tracing::warn;

use crate::state::State;

delegate_global_dispatch!(State: [XdgToplevelIconManagerV1: XdgToplevelIconManagerUserData] => XdgToplevelIconManager);

impl Dispatch<XdgToplevelIconManagerV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &XdgToplevelIconManagerV1,
        request: xdg_toplevel_icon_manager_v1::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let xdg_toplevel_icon_manager_v1::Request::SetIcon {
            icon: Some(icon), ..
        } = &request
        {
            state.desktop.frozen_icons.insert(icon.id());
        }
        <XdgToplevelIconManager as Dispatch<XdgToplevelIconManagerV1, (), State>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }
}

impl Dispatch<XdgToplevelIconV1, XdgToplevelIconUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        icon: &XdgToplevelIconV1,
        request: xdg_toplevel_icon_v1::Request,
        data: &XdgToplevelIconUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let changes = matches!(
            request,
            xdg_toplevel_icon_v1::Request::SetName { .. }
                | xdg_toplevel_icon_v1::Request::AddBuffer { .. }
        );
        if changes && state.desktop.frozen_icons.contains(&icon.id()) {
            warn!(client = ?client.id(), "xdg_toplevel_icon_v1 changed after set_icon: immutable");
            icon.post_error(
                xdg_toplevel_icon_v1::Error::Immutable,
                "the icon was given to a toplevel with set_icon and can no longer change",
            );
            return;
        }
        <XdgToplevelIconManager as Dispatch<XdgToplevelIconV1, XdgToplevelIconUserData, State>>::request(
            state, client, icon, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut Self,
        client: ClientId,
        icon: &XdgToplevelIconV1,
        data: &XdgToplevelIconUserData,
    ) {
        state.desktop.frozen_icons.remove(&icon.id());
        <XdgToplevelIconManager as Dispatch<XdgToplevelIconV1, XdgToplevelIconUserData, State>>::destroyed(
            state, client, icon, data,
        )
    }
}
