//! xdg_toplevel_icon_v1 requests after the icon was assigned with `set_icon`, answered
//! before smithay sees them. smithay 0.7 posts `immutable` for `set_name`/`add_buffer` on
//! an assigned icon, then carries on into a `debug_assert!` that the icon is still
//! mutable: a panic in debug builds (found by `scripts/fuzz-protocol`). planar remembers
//! which icons were assigned (smithay keeps that private) and posts the error alone.

use std::{cell::RefCell, collections::HashSet};

use smithay::{
    reexports::{
        wayland_protocols::xdg::toplevel_icon::v1::server::{
            xdg_toplevel_icon_manager_v1::{self, XdgToplevelIconManagerV1},
            xdg_toplevel_icon_v1::{self, XdgToplevelIconV1},
        },
        wayland_server::{
            backend::{ClientId, ObjectId},
            Client, DataInit, Dispatch, DisplayHandle, Resource,
        },
    },
    wayland::xdg_toplevel_icon::{
        XdgToplevelIconManager, XdgToplevelIconManagerUserData, XdgToplevelIconUserData,
    },
};
use tracing::warn;

use crate::state::State;

thread_local! {
    /// Icons passed to `set_icon` and not destroyed yet (the event loop is one thread).
    static ASSIGNED: RefCell<HashSet<ObjectId>> = RefCell::new(HashSet::new());
}

impl Dispatch<XdgToplevelIconManagerV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        manager: &XdgToplevelIconManagerV1,
        request: xdg_toplevel_icon_manager_v1::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let xdg_toplevel_icon_manager_v1::Request::SetIcon {
            icon: Some(icon), ..
        } = &request
        {
            ASSIGNED.with(|a| a.borrow_mut().insert(icon.id()));
        }
        <XdgToplevelIconManager as Dispatch<XdgToplevelIconManagerV1, (), State>>::request(
            state, client, manager, request, data, dh, data_init,
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
        if changes && ASSIGNED.with(|a| a.borrow().contains(&icon.id())) {
            warn!(icon = %icon.id(), "toplevel icon changed after set_icon: immutable");
            icon.post_error(
                xdg_toplevel_icon_v1::Error::Immutable,
                "Request made after the icon has been assigned to a toplevel via 'set_icon'",
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
        ASSIGNED.with(|a| a.borrow_mut().remove(&icon.id()));
        <XdgToplevelIconManager as Dispatch<XdgToplevelIconV1, XdgToplevelIconUserData, State>>::destroyed(
            state, client, icon, data,
        )
    }
}

// The rest of smithay's delegate_xdg_toplevel_icon!.
smithay::reexports::wayland_server::delegate_global_dispatch!(State: [
    XdgToplevelIconManagerV1: XdgToplevelIconManagerUserData
] => XdgToplevelIconManager);
