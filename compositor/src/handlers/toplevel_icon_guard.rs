//! xdg_toplevel_icon_v1 requests after the icon was assigned with `set_icon`, answered
//! before smithay sees them. smithay 0.7 posts `immutable` for `set_name`/`add_buffer` on
//! an assigned icon, then carries on into a `debug_assert!` that the icon is still
//! mutable: a panic in debug builds (found by `scripts/fuzz-protocol`). planar remembers
//! which icons were assigned (smithay keeps that private) and posts the error alone.
//!
//! `add_buffer` with a scale below 1 gets `invalid_buffer` here: smithay checks that the
//! buffer is wl_shm and square, and stores any scale.

use std::{cell::RefCell, collections::HashSet};

use smithay::{
    reexports::{
        wayland_protocols::xdg::toplevel_icon::v1::server::{
            xdg_toplevel_icon_manager_v1::{self, XdgToplevelIconManagerV1},
            xdg_toplevel_icon_v1::{self, XdgToplevelIconV1},
        },
        wayland_server::{backend::ObjectId, Resource},
    },
    wayland::xdg_toplevel_icon::{
        XdgToplevelIconManager, XdgToplevelIconManagerUserData, XdgToplevelIconUserData,
    },
};
use tracing::warn;

use super::dispatch::intercept;
use crate::state::State;

thread_local! {
    /// Icons passed to `set_icon` and not destroyed yet (the event loop is one thread).
    static ASSIGNED: RefCell<HashSet<ObjectId>> = RefCell::new(HashSet::new());
}

intercept!(
    XdgToplevelIconManagerV1, () => XdgToplevelIconManager,
    |_, _, _, request: xdg_toplevel_icon_manager_v1::Request| {
        if let xdg_toplevel_icon_manager_v1::Request::SetIcon {
            icon: Some(icon), ..
        } = &request
        {
            ASSIGNED.with(|a| a.borrow_mut().insert(icon.id()));
        }
        Some(request)
    }
);
intercept!(
    XdgToplevelIconV1, XdgToplevelIconUserData => XdgToplevelIconManager,
    |_, _, icon, request| check_icon(icon, request),
    destroyed: |_, icon: &XdgToplevelIconV1| ASSIGNED.with(|a| a.borrow_mut().remove(&icon.id()))
);

/// `immutable` for a change to an assigned icon; `invalid_buffer` for a buffer whose
/// scale is not positive (smithay stores any scale).
fn check_icon(
    icon: &XdgToplevelIconV1,
    request: xdg_toplevel_icon_v1::Request,
) -> Option<xdg_toplevel_icon_v1::Request> {
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
        return None;
    }
    if let xdg_toplevel_icon_v1::Request::AddBuffer { scale, .. } = request {
        if scale <= 0 {
            warn!(icon = %icon.id(), scale, "toplevel icon buffer with a scale below 1: invalid_buffer");
            icon.post_error(
                xdg_toplevel_icon_v1::Error::InvalidBuffer,
                format!("scale {scale}: an icon buffer's scale must be 1 or more"),
            );
            return None;
        }
    }
    Some(request)
}

// The rest of smithay's delegate_xdg_toplevel_icon!.
smithay::reexports::wayland_server::delegate_global_dispatch!(State: [
    XdgToplevelIconManagerV1: XdgToplevelIconManagerUserData
] => XdgToplevelIconManager);
