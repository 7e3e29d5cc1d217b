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

use std::{os::fd::OwnedFd, sync::Mutex};

use smithay::{
    backend::input::{Axis, AxisSource},
    input::pointer::AxisFrame,
    reexports::{
        wayland_protocols_misc::zwp_virtual_keyboard_v1::server::{
            zwp_virtual_keyboard_manager_v1::{self, ZwpVirtualKeyboardManagerV1},
            zwp_virtual_keyboard_v1::{self, ZwpVirtualKeyboardV1},
        },
        wayland_server::{
            delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum,
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

use super::dispatch::{intercept, BindPlain};
use crate::state::State;

/// Creates both globals.
pub fn create_globals(dh: &DisplayHandle) {
    // Every client sees the global; the permission is checked when a keyboard is made,
    // where the protocol has an error to say so.
    VirtualKeyboardManagerState::new::<State, _>(dh, |_| true);
    dh.create_global::<State, ZwlrVirtualPointerManagerV1, _>(2, ());
}

delegate_global_dispatch!(State: [ZwpVirtualKeyboardManagerV1: VirtualKeyboardManagerGlobalData] => VirtualKeyboardManagerState);

/// The largest keymap a virtual keyboard may send (a full XKB keymap is about 64 KiB).
const MAX_KEYMAP: u32 = 1 << 20;

// Virtual keyboard requests go to smithay, except that a keymap is first copied out of
// the client's fd: smithay maps the fd for the size the client claims, and a file
// shorter than that (or truncated meanwhile) would SIGBUS planar when xkbcommon reads
// it. A keymap that cannot be read whole is dropped with a warning (a key sent later
// then gets the protocol's `no_keymap` error).
intercept!(
    ZwpVirtualKeyboardV1, VirtualKeyboardUserData<State> => VirtualKeyboardManagerState,
    |_, client, _, request| keymap_copied(client, request)
);

fn keymap_copied(
    client: &Client,
    request: zwp_virtual_keyboard_v1::Request,
) -> Option<zwp_virtual_keyboard_v1::Request> {
    let zwp_virtual_keyboard_v1::Request::Keymap { format, fd, size } = request else {
        return Some(request);
    };
    match copy_keymap(&fd, size) {
        Ok(copy) => Some(zwp_virtual_keyboard_v1::Request::Keymap {
            format,
            fd: copy,
            size,
        }),
        Err(why) => {
            warn!(client = ?client.id(), size, "virtual keyboard keymap dropped: {why}");
            None
        }
    }
}

/// `size` bytes of the keymap in `fd`, read into a sealed memfd of planar's own.
fn copy_keymap(fd: &OwnedFd, size: u32) -> Result<OwnedFd, String> {
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
    if size == 0 || size > MAX_KEYMAP {
        return Err(format!("size {size} is not from 1 to {MAX_KEYMAP} bytes"));
    }
    let mut text = vec![0u8; size as usize];
    let mut done = 0;
    while done < text.len() {
        match rustix::io::pread(fd, &mut text[done..], done as u64) {
            Ok(0) => return Err(format!("the file ends after {done} bytes")),
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("the fd cannot be read: {e}")),
        }
    }
    let copy = memfd_create(
        "planar-keymap",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| format!("memfd_create: {e}"))?;
    let mut written = 0;
    while written < text.len() {
        match rustix::io::write(&copy, &text[written..]) {
            Ok(n) => written += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("writing the copy: {e}")),
        }
    }
    fcntl_add_seals(
        &copy,
        SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )
    .map_err(|e| format!("sealing the copy: {e}"))?;
    Ok(copy)
}

// A keyboard is made only for a client that may inject.
intercept!(
    ZwpVirtualKeyboardManagerV1, () => VirtualKeyboardManagerState,
    |state: &mut State, client: &Client, manager: &ZwpVirtualKeyboardManagerV1, request| {
        if let Err(why) = state.may_inject(client, &state.display_handle) {
            warn!(client = ?client.id(), "virtual keyboard refused: {why}");
            manager.post_error(zwp_virtual_keyboard_manager_v1::Error::Unauthorized, why);
            return None;
        }
        // smithay's virtual keyboard types through the seat's keyboard (and unwraps it).
        if state.keyboard().is_none() {
            let why = "the seat has no keyboard: its keymap does not compile";
            warn!(client = ?client.id(), "virtual keyboard refused: {why}");
            manager.post_error(zwp_virtual_keyboard_manager_v1::Error::Unauthorized, why);
            return None;
        }
        info!(client = ?client.id(), "virtual keyboard created");
        Some(request)
    }
);
delegate_global_dispatch!(State: [ZwlrVirtualPointerManagerV1: ()] => BindPlain);

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
