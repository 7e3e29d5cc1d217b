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
        _resource: &PlanarTestV1,
        request: planar_test_v1::Request,
        _data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            planar_test_v1::Request::Capture { id, buffer, .. } => {
                crate::capture::planar_test::capture(state, client, dh, id, &buffer, data_init);
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
