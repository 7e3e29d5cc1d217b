//! planar-test-v1, planar's private protocol: capture once prior commits are presented,
//! a buffer's import record, and a frame on demand.

use planar_protocol::test_protocol::server::{
    planar_test_capture_v1::{self, PlanarTestCaptureV1},
    planar_test_record_v1::{self, PlanarTestRecordV1},
    planar_test_v1::{self, PlanarTestV1},
};
use smithay::{
    reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New},
    wayland::dmabuf::get_dmabuf,
};

use crate::state::State;
use smithay::reexports::wayland_server::Resource;
use tracing::warn;

impl GlobalDispatch<PlanarTestV1, ()> for State {
    fn bind(
        _state: &mut Self,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<PlanarTestV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

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
                state.ensure_backend();
                state.present();
                // `done` destroys the callback: it must not be sent from the request that
                // creates it (wayland-backend would then panic initialising a dead object).
                state
                    .pending_callbacks
                    .push((callback, state.frame_seq as u32));
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
            _ => {}
        }
    }
}

impl Dispatch<PlanarTestCaptureV1, ()> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &PlanarTestCaptureV1,
        _request: planar_test_capture_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
    }
}

impl Dispatch<PlanarTestRecordV1, ()> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &PlanarTestRecordV1,
        _request: planar_test_record_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
    }
}
