//! The dispatch shapes planar's handlers share, written once so that each handler file
//! says only what it decides:
//! - `BindPlain`: a global whose bound objects carry the global's data (cloned); used
//!   with `delegate_global_dispatch!`;
//! - `Inert`: an object with no request to answer (only `destroy`, or requests that
//!   change nothing); used with `delegate_dispatch!`;
//! - `intercept!`: planar sees each request of an interface first and hands it on to
//!   smithay's implementation, changed or not, or answers it itself; an optional hook
//!   runs when the object is destroyed, before smithay's own.
//!
//! Known limit: `intercept!` hooks see the request, not smithay's state; what they need
//! to remember they keep themselves.

use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};

use crate::state::State;

/// Binds a global's objects with the global's data, cloned (module header).
pub struct BindPlain;

impl<I, G> GlobalDispatch<I, G, State> for BindPlain
where
    I: Resource + 'static,
    G: Clone + Send + Sync + 'static,
    State: Dispatch<I, G>,
{
    fn bind(
        _: &mut State,
        _: &DisplayHandle,
        _: &Client,
        resource: New<I>,
        global: &G,
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, global.clone());
    }
}

/// Answers nothing: for objects whose requests need no answer (module header).
pub struct Inert;

impl<I: Resource, D> Dispatch<I, D, State> for Inert {
    fn request(
        _: &mut State,
        _: &Client,
        _: &I,
        _: I::Request,
        _: &D,
        _: &DisplayHandle,
        _: &mut DataInit<'_, State>,
    ) {
    }
}

/// Implements `Dispatch<$iface, $udata>` for `State`: `$check(state, client, resource,
/// request)` sees each request first and returns the one to hand to `$smithay` (or `None`
/// when it answered it itself); `destroyed: $gone(state, resource)`, when given, runs
/// before `$smithay` hears of the object's end.
macro_rules! intercept {
    ($iface:ty, $udata:ty => $smithay:ty, $check:expr $(, destroyed: $gone:expr)?) => {
        impl smithay::reexports::wayland_server::Dispatch<$iface, $udata> for $crate::state::State {
            fn request(
                state: &mut Self,
                client: &smithay::reexports::wayland_server::Client,
                resource: &$iface,
                request: <$iface as smithay::reexports::wayland_server::Resource>::Request,
                data: &$udata,
                dh: &smithay::reexports::wayland_server::DisplayHandle,
                data_init: &mut smithay::reexports::wayland_server::DataInit<'_, Self>,
            ) {
                let Some(request) = ($check)(&mut *state, client, resource, request) else {
                    return;
                };
                <$smithay as smithay::reexports::wayland_server::Dispatch<$iface, $udata, Self>>::request(
                    state, client, resource, request, data, dh, data_init,
                )
            }

            fn destroyed(
                state: &mut Self,
                client: smithay::reexports::wayland_server::backend::ClientId,
                resource: &$iface,
                data: &$udata,
            ) {
                $(($gone)(&mut *state, resource);)?
                <$smithay as smithay::reexports::wayland_server::Dispatch<$iface, $udata, Self>>::destroyed(
                    state, client, resource, data,
                )
            }
        }
    };
}
pub(crate) use intercept;

/// smithay's `delegate_*!` for part of a protocol (the rest being `intercept!`ed): each
/// listed global and object of `State` dispatched to `$to`.
macro_rules! delegate_to {
    (
        $to:ty: globals [$($global:ty: $gdata:ty),* $(,)?]
        objects [$($iface:ty: $udata:ty),* $(,)?]
    ) => {
        $(smithay::reexports::wayland_server::delegate_global_dispatch!(
            $crate::state::State: [$global: $gdata] => $to
        );)*
        $(smithay::reexports::wayland_server::delegate_dispatch!(
            $crate::state::State: [$iface: $udata] => $to
        );)*
    };
}
pub(crate) use delegate_to;
