//! planar-test-v1's `capture` request: the whole output into a wl_shm buffer once every
//! earlier commit is presented. The rest of planar-test-v1 (buffer records, frames on
//! demand, input) is not capture and lives in `handlers::test_protocol`; its global is not
//! capture-only either, so the permission filter is the compositor's and is checked at
//! the request itself.

use planar_protocol::test_protocol::server::planar_test_capture_v1::PlanarTestCaptureV1;
use smithay::reexports::wayland_server::{
    protocol::wl_buffer::WlBuffer, Client, DataInit, DisplayHandle, New,
};
use tracing::warn;

use super::{output_rect, CaptureError};
use crate::state::State;

/// Answers `planar_test_v1.capture`: `done` with the frame's sequence number, or `failed`
/// with the reason (refused, bad buffer, no renderer).
pub fn capture(
    state: &mut State,
    client: &Client,
    dh: &DisplayHandle,
    id: New<PlanarTestCaptureV1>,
    output: &smithay::reexports::wayland_server::protocol::wl_output::WlOutput,
    buffer: &WlBuffer,
    data_init: &mut DataInit<'_, State>,
) {
    let capture = data_init.init(id, ());
    if let Err(why) = state.capture_policy.check(client, dh, "planar-test") {
        capture.failed(why);
        return;
    }
    // Commits are presented as they come; this draws whatever else changed.
    state.present();
    let Some(output) = smithay::output::Output::from_resource(output) else {
        capture.failed("the output was removed".into());
        return;
    };
    let full = output_rect(&output);
    match state.capture_into(&output, buffer, full) {
        Ok(()) => {
            let seq = state.frame_seq;
            capture.done((seq >> 32) as u32, seq as u32);
        }
        Err(CaptureError::BadBuffer(why)) | Err(CaptureError::Failed(why)) => {
            warn!("planar-test capture failed: {why}");
            capture.failed(why);
        }
    }
}
