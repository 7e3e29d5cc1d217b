//! planar-test-v1, planar's private protocol: capture once prior commits are presented,
//! a buffer's import record, a frame on demand; from version 2 input (pointer, keys by
//! keysym, text through the keymap, touch) and waits (barrier, window), see `input_request`.

use planar_protocol::test_protocol::server::{
    planar_test_capture_v1::PlanarTestCaptureV1,
    planar_test_record_v1::PlanarTestRecordV1,
    planar_test_v1::{self, PlanarTestV1},
    planar_test_wait_v1::PlanarTestWaitV1,
};
use smithay::{
    backend::input::Axis,
    reexports::wayland_server::{
        delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
        Resource,
    },
    utils::{Logical, Point},
    wayland::dmabuf::get_dmabuf,
};
use std::time::Duration;
use tracing::warn;

use super::dispatch::{BindPlain, Inert};
use crate::{
    state::State,
    waits::{Condition, MAX_WAITS_PER_CLIENT},
};

delegate_global_dispatch!(State: [PlanarTestV1: ()] => BindPlain);
// Their only request is `destroy`.
delegate_dispatch!(State: [PlanarTestWaitV1: ()] => Inert);
delegate_dispatch!(State: [PlanarTestCaptureV1: ()] => Inert);
delegate_dispatch!(State: [PlanarTestRecordV1: ()] => Inert);

impl Dispatch<PlanarTestV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &PlanarTestV1,
        request: planar_test_v1::Request,
        _data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            planar_test_v1::Request::Capture { id, output, buffer } => {
                crate::capture::planar_test::capture(
                    state, client, dh, id, &output, &buffer, data_init,
                );
            }
            planar_test_v1::Request::QueryBuffer { id, buffer } => {
                let record = data_init.init(id, ());
                let found = get_dmabuf(&buffer)
                    .ok()
                    .zip(state.backend.as_mut())
                    .and_then(|(dmabuf, backend)| backend.engine().import_record(dmabuf));
                match found {
                    Some(r) => {
                        let path = serde_json::to_value(r.path)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default();
                        let json = serde_json::to_string(&r).unwrap_or_default();
                        record.record(path, r.reason.clone(), json);
                    }
                    None => record.unknown(),
                }
            }
            planar_test_v1::Request::NextFrame { callback } => {
                let callback = data_init.init(callback, ());
                state.next_frame(client, callback);
            }
            planar_test_v1::Request::SetOutput { name, spec } => {
                // Outputs cost memory (a target each) and show every client's pixels:
                // only clients that may capture may make them.
                if let Err(why) = state.capture_policy.permits(client, dh) {
                    warn!(client = ?client.id(), output = %name, "set_output refused: {why}");
                    resource.post_error(planar_test_v1::Error::InvalidOutput, why);
                    return;
                }
                let spec = if crate::outputs::valid_name(&name) {
                    crate::outputs::parse_output_spec(&spec)
                } else {
                    Err(format!("{name:?} is not an output name (A-Z a-z 0-9 - _)"))
                };
                let result = spec.and_then(|mut spec| {
                    spec.name = Some(name.clone());
                    if state.output_named(&name).is_some() {
                        state.configure_output(&name, &spec)
                    } else {
                        let refresh = state.refresh_hz;
                        state
                            .add_output(&spec, refresh)
                            .map(|_| state.outputs_changed())
                    }
                });
                if let Err(why) = result {
                    warn!(client = ?client.id(), output = %name, "set_output refused: {why}");
                    resource.post_error(planar_test_v1::Error::InvalidOutput, why);
                }
            }
            planar_test_v1::Request::RemoveOutput { name } => {
                let allowed = state.capture_policy.permits(client, dh);
                if let Err(why) = allowed.and_then(|()| state.remove_output(&name)) {
                    warn!(client = ?client.id(), output = %name, "remove_output refused: {why}");
                    resource.post_error(planar_test_v1::Error::InvalidOutput, why);
                }
            }
            planar_test_v1::Request::Destroy => {}
            other => input_request(state, client, resource, other, dh, data_init),
        }
    }
}

/// Version 2's requests: injected input (privileged like capture) and waits.
fn input_request(
    state: &mut State,
    client: &Client,
    resource: &PlanarTestV1,
    request: planar_test_v1::Request,
    dh: &DisplayHandle,
    data_init: &mut DataInit<'_, State>,
) {
    use planar_test_v1::{Error, Request};
    let timeout = |ms: u32| Duration::from_millis(u64::from(ms));
    if matches!(
        request,
        Request::Barrier { .. } | Request::WaitWindow { .. }
    ) && state.input.waits.count_for(&client.id()) >= MAX_WAITS_PER_CLIENT
    {
        warn!(client = ?client.id(), "planar-test: too many waits pending");
        resource.post_error(
            Error::TooManyWaits,
            format!("more than {MAX_WAITS_PER_CLIENT} waits pending"),
        );
        return;
    }
    match request {
        Request::Barrier { id, timeout_ms } => {
            let wait = data_init.init(id, ());
            let condition = state.idle_condition();
            state.add_wait(wait, condition, timeout(timeout_ms));
            return;
        }
        Request::WaitWindow {
            id,
            title,
            timeout_ms,
        } => {
            let wait = data_init.init(id, ());
            state.add_wait(wait, Condition::Window { title }, timeout(timeout_ms));
            return;
        }
        _ => {}
    }
    if let Err(why) = state.may_inject(client, dh) {
        warn!(client = ?client.id(), "planar-test input refused: {why}");
        resource.post_error(Error::Unauthorized, why);
        return;
    }
    let bad = |what: String| {
        warn!(client = ?client.id(), "planar-test input: {what}");
        resource.post_error(Error::InvalidArgument, what);
    };
    let point = |x: f64, y: f64| -> Option<Point<f64, Logical>> {
        (x.is_finite() && y.is_finite()).then(|| (x, y).into())
    };
    match request {
        Request::PointerMotion { surface, x, y } => {
            let origin = match &surface {
                Some(surface) => match state.surface_origin(surface) {
                    Some(origin) => origin,
                    None => return bad("pointer_motion: the surface is not shown".into()),
                },
                None => Point::default(),
            };
            match point(x, y) {
                Some(p) => state.inject_motion(origin + p),
                None => bad(format!("pointer_motion: ({x}, {y}) is not a point")),
            }
        }
        Request::PointerButton { button, state: s } => match s {
            0 | 1 => state.inject_button(button, s == 1),
            _ => bad(format!("pointer_button: state {s} is neither 0 nor 1")),
        },
        Request::PointerAxis { axis, value, v120 } => {
            let axis = match axis {
                0 => Axis::Vertical,
                1 => Axis::Horizontal,
                _ => return bad(format!("pointer_axis: axis {axis} is neither 0 nor 1")),
            };
            if !value.is_finite() {
                return bad("pointer_axis: the value is not finite".into());
            }
            state.inject_axis(axis, value, v120);
        }
        Request::Key { keysym, state: s } => {
            if s > 1 {
                return bad(format!("key: state {s} is neither 0 nor 1"));
            }
            if let Err(err) = state.inject_keysym(keysym.into(), s == 1) {
                warn!(client = ?client.id(), %err, "planar-test key");
                resource.post_error(Error::Unmappable, err.to_string());
            }
        }
        Request::Text { text } => {
            if let Err(err) = state.inject_text(&text) {
                warn!(client = ?client.id(), %err, "planar-test text");
                resource.post_error(Error::Unmappable, err.to_string());
            }
        }
        Request::TouchDown { id, x, y } => match point(x, y) {
            Some(p) => state.inject_touch_down(id, p),
            None => bad(format!("touch_down: ({x}, {y}) is not a point")),
        },
        Request::TouchMotion { id, x, y } => match point(x, y) {
            Some(p) => state.inject_touch_motion(id, p),
            None => bad(format!("touch_motion: ({x}, {y}) is not a point")),
        },
        Request::TouchUp { id } => state.inject_touch_up(id),
        _ => {}
    }
}
