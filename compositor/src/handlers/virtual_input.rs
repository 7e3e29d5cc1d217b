//! The standard injection protocols, so that existing tools drive planar:
//! `zwp_virtual_keyboard_manager_v1` (smithay's implementation; `wtype` speaks it) and
//! `zwlr_virtual_pointer_manager_v1` v2 (smithay 0.7 has none: implemented here on
//! wayland-protocols-wlr's server bindings).
//!
//! Both are privileged like capture (`State::may_inject`): a client planar did not start
//! gets the virtual keyboard manager's `unauthorized` error; the virtual pointer protocol
//! defines no such error, so a stranger's virtual pointer is created inert and its
//! requests are dropped, with one warning. Known limits: the virtual keyboard's keymap
//! replaces the seat's for the focused client while it types (smithay's behaviour);
//! `create_virtual_pointer_with_output` ignores the output (planar has one).

use std::sync::Mutex;

use smithay::{
    backend::input::{Axis, AxisSource},
    input::pointer::AxisFrame,
    reexports::{
        wayland_protocols_misc::zwp_virtual_keyboard_v1::server::{
            zwp_virtual_keyboard_manager_v1::{self, ZwpVirtualKeyboardManagerV1},
            zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
        },
        wayland_server::{
            delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
            GlobalDispatch, New, Resource, WEnum,
        },
    },
    wayland::virtual_keyboard::{
        VirtualKeyboardManagerGlobalData, VirtualKeyboardManagerState, VirtualKeyboardUserData,
    },
};
use tracing::{info, warn};
use wayland_protocols_wlr::virtual_pointer::v1::server::{
    zwlr_virtual_pointer_manager_v1::{self, ZwlrVirtualPointerManagerV1},
    zwlr_virtual_pointer_v1::{self, ZwlrVirtualPointerV1},
};

use crate::state::State;

/// Creates both globals.
pub fn create_globals(dh: &DisplayHandle) {
    // Every client sees the global; the permission is checked when a keyboard is made,
    // where the protocol has an error to say so.
    VirtualKeyboardManagerState::new::<State, _>(dh, |_| true);
    dh.create_global::<State, ZwlrVirtualPointerManagerV1, _>(2, ());
}

delegate_global_dispatch!(State: [ZwpVirtualKeyboardManagerV1: VirtualKeyboardManagerGlobalData] => VirtualKeyboardManagerState);
delegate_dispatch!(State: [ZwpVirtualKeyboardV1: VirtualKeyboardUserData<State>] => VirtualKeyboardManagerState);

impl Dispatch<ZwpVirtualKeyboardManagerV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &ZwpVirtualKeyboardManagerV1,
        request: zwp_virtual_keyboard_manager_v1::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let Err(why) = state.may_inject(client, dh) {
            warn!(client = ?client.id(), "virtual keyboard refused: {why}");
            resource.post_error(zwp_virtual_keyboard_manager_v1::Error::Unauthorized, why);
            return;
        }
        info!(client = ?client.id(), "virtual keyboard created");
        <VirtualKeyboardManagerState as Dispatch<ZwpVirtualKeyboardManagerV1, (), State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
    }
}

impl GlobalDispatch<ZwlrVirtualPointerManagerV1, ()> for State {
    fn bind(
        _state: &mut Self,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrVirtualPointerManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

/// A virtual pointer: whether its client may inject, and the axis frame being built until
/// the client sends `frame`.
pub struct VirtualPointer {
    allowed: bool,
    axis: Mutex<Option<AxisFrame>>,
}

impl Dispatch<ZwlrVirtualPointerManagerV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        _resource: &ZwlrVirtualPointerManagerV1,
        request: zwlr_virtual_pointer_manager_v1::Request,
        _data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let id = match request {
            zwlr_virtual_pointer_manager_v1::Request::CreateVirtualPointer { id, .. } => id,
            zwlr_virtual_pointer_manager_v1::Request::CreateVirtualPointerWithOutput {
                id, ..
            } => id,
            _ => return,
        };
        let allowed = match state.may_inject(client, dh) {
            Ok(()) => {
                info!(client = ?client.id(), "virtual pointer created");
                true
            }
            Err(why) => {
                warn!(client = ?client.id(), "virtual pointer refused (its requests are dropped): {why}");
                false
            }
        };
        data_init.init(
            id,
            VirtualPointer {
                allowed,
                axis: Mutex::new(None),
            },
        );
    }
}

impl Dispatch<ZwlrVirtualPointerV1, VirtualPointer> for State {
    fn request(
        state: &mut Self,
        _client: &Client,
        resource: &ZwlrVirtualPointerV1,
        request: zwlr_virtual_pointer_v1::Request,
        data: &VirtualPointer,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        use zwlr_virtual_pointer_v1::{Error, Request};
        if !data.allowed {
            return;
        }
        let axis_of = |axis: WEnum<
            smithay::reexports::wayland_server::protocol::wl_pointer::Axis,
        >| match axis {
            WEnum::Value(
                smithay::reexports::wayland_server::protocol::wl_pointer::Axis::VerticalScroll,
            ) => Some(Axis::Vertical),
            WEnum::Value(
                smithay::reexports::wayland_server::protocol::wl_pointer::Axis::HorizontalScroll,
            ) => Some(Axis::Horizontal),
            _ => None,
        };
        let mut pending = data.axis.lock().unwrap_or_else(|e| e.into_inner());
        let time_of = |time: u32| AxisFrame::new(time);
        match request {
            Request::Motion { dx, dy, .. } => {
                if !(dx.is_finite() && dy.is_finite()) {
                    warn!("virtual pointer: motion by a non-finite amount dropped");
                    return;
                }
                let at = state
                    .seat
                    .get_pointer()
                    .map(|p| p.current_location())
                    .unwrap_or_default();
                state.inject_motion((at.x + dx, at.y + dy).into());
            }
            Request::MotionAbsolute {
                x,
                y,
                x_extent,
                y_extent,
                ..
            } => {
                if x_extent == 0 || y_extent == 0 {
                    warn!(
                        x_extent,
                        y_extent, "virtual pointer: absolute motion with an empty extent dropped"
                    );
                    return;
                }
                let size = state.output_logical_size().to_f64();
                let fx = f64::from(x) / f64::from(x_extent) * size.w;
                let fy = f64::from(y) / f64::from(y_extent) * size.h;
                state.inject_motion((fx, fy).into());
            }
            Request::Button {
                button,
                state: button_state,
                ..
            } => {
                let pressed = matches!(
                    button_state,
                    WEnum::Value(smithay::reexports::wayland_server::protocol::wl_pointer::ButtonState::Pressed)
                );
                state.inject_button(button, pressed);
            }
            Request::Axis { time, axis, value } => {
                let Some(axis) = axis_of(axis) else {
                    return resource.post_error(Error::InvalidAxis, "axis is neither 0 nor 1");
                };
                let frame = pending.take().unwrap_or_else(|| time_of(time));
                *pending = Some(frame.value(axis, value));
            }
            Request::AxisDiscrete {
                time,
                axis,
                value,
                discrete,
            } => {
                let Some(axis) = axis_of(axis) else {
                    return resource.post_error(Error::InvalidAxis, "axis is neither 0 nor 1");
                };
                let frame = pending.take().unwrap_or_else(|| time_of(time));
                *pending = Some(
                    frame
                        .value(axis, value)
                        .v120(axis, discrete.saturating_mul(120)),
                );
            }
            Request::AxisStop { time, axis } => {
                let Some(axis) = axis_of(axis) else {
                    return resource.post_error(Error::InvalidAxis, "axis is neither 0 nor 1");
                };
                let frame = pending.take().unwrap_or_else(|| time_of(time));
                *pending = Some(frame.stop(axis));
            }
            Request::AxisSource { axis_source } => {
                use smithay::reexports::wayland_server::protocol::wl_pointer::AxisSource as Wl;
                let source = match axis_source {
                    WEnum::Value(Wl::Wheel) => Some(AxisSource::Wheel),
                    WEnum::Value(Wl::Finger) => Some(AxisSource::Finger),
                    WEnum::Value(Wl::Continuous) => Some(AxisSource::Continuous),
                    WEnum::Value(Wl::WheelTilt) => Some(AxisSource::WheelTilt),
                    _ => None,
                };
                let Some(source) = source else {
                    return resource.post_error(Error::InvalidAxisSource, "unknown axis source");
                };
                let frame = pending.take().unwrap_or_else(|| time_of(0));
                *pending = Some(frame.source(source));
            }
            Request::Frame => {
                if let (Some(frame), Some(pointer)) = (pending.take(), state.seat.get_pointer()) {
                    drop(pending);
                    pointer.axis(state, frame);
                    pointer.frame(state);
                }
            }
            Request::Destroy => {}
            _ => {}
        }
    }
}
