//! ext-image-copy-capture-v1 with ext-output-image-capture-source-manager-v1: the
//! standard capture protocols, into wl_shm buffers (XRGB8888). smithay 0.7 has neither.
//!
//! The permission filter (see `capture`) comes with the global and goes to each session
//! and frame: a client that may not capture gets its session `stopped` at once and a log
//! line, and a frame's `capture` is checked again (`failed`, reason stopped). There is no
//! cursor, so a pointer cursor session is stopped too.

use std::sync::{Arc, Mutex};

use smithay::{
    output::Output,
    reexports::wayland_server::{
        protocol::{wl_buffer::WlBuffer, wl_shm},
        Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
    },
};
use tracing::warn;
use wayland_protocols::ext::{
    image_capture_source::v1::server::{
        ext_image_capture_source_v1::{self, ExtImageCaptureSourceV1},
        ext_output_image_capture_source_manager_v1::{self, ExtOutputImageCaptureSourceManagerV1},
    },
    image_copy_capture::v1::server::{
        ext_image_copy_capture_cursor_session_v1::{self, ExtImageCopyCaptureCursorSessionV1},
        ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1, FailureReason},
        ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1},
        ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
    },
};

use super::{output_rect, CaptureError, CaptureGlobal, CapturePolicy, CaptureSlot};
use crate::state::State;

/// A frame: the buffer attached to it, whether capture was asked already, and the
/// permission filter it came with.
pub struct FrameData {
    inner: Mutex<(Option<WlBuffer>, bool)>,
    policy: Arc<CapturePolicy>,
    /// `None`: past the client's capture limit; `capture` only fails.
    slot: Option<CaptureSlot>,
}

impl GlobalDispatch<ExtOutputImageCaptureSourceManagerV1, CaptureGlobal> for State {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtOutputImageCaptureSourceManagerV1>,
        _: &CaptureGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ExtOutputImageCaptureSourceManagerV1, ()> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &ExtOutputImageCaptureSourceManagerV1,
        request: ext_output_image_capture_source_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_output_image_capture_source_manager_v1::Request::CreateSource {
            source,
            output,
        } = request
        {
            data_init.init(source, Output::from_resource(&output));
        }
    }
}

impl Dispatch<ExtImageCaptureSourceV1, Option<Output>> for State {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &ExtImageCaptureSourceV1,
        _: ext_image_capture_source_v1::Request,
        _: &Option<Output>,
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
    }
}

impl GlobalDispatch<ExtImageCopyCaptureManagerV1, CaptureGlobal> for State {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtImageCopyCaptureManagerV1>,
        global: &CaptureGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, global.policy.clone());
    }
}

impl Dispatch<ExtImageCopyCaptureManagerV1, Arc<CapturePolicy>> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        _resource: &ExtImageCopyCaptureManagerV1,
        request: ext_image_copy_capture_manager_v1::Request,
        policy: &Arc<CapturePolicy>,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            ext_image_copy_capture_manager_v1::Request::CreateSession {
                session, source, ..
            } => {
                let has_output = source.data::<Option<Output>>().is_some_and(|o| o.is_some());
                let session = data_init.init(session, policy.clone());
                if !policy.check(client, dh, "ext-image-copy-capture") {
                    session.stopped();
                    return;
                }
                if !has_output {
                    session.stopped();
                    return;
                }
                let size = state
                    .output
                    .current_mode()
                    .map(|m| m.size)
                    .unwrap_or_default();
                session.buffer_size(size.w as u32, size.h as u32);
                session.shm_format(wl_shm::Format::Xrgb8888);
                session.done();
            }
            ext_image_copy_capture_manager_v1::Request::CreatePointerCursorSession {
                session,
                ..
            } => {
                // planar has no pointer, so there is no cursor to capture.
                data_init.init(session, policy.clone());
            }
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, Arc<CapturePolicy>> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &ExtImageCopyCaptureCursorSessionV1,
        request: ext_image_copy_capture_cursor_session_v1::Request,
        policy: &Arc<CapturePolicy>,
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_image_copy_capture_cursor_session_v1::Request::GetCaptureSession { session } =
            request
        {
            data_init.init(session, policy.clone()).stopped();
        }
    }
}

impl Dispatch<ExtImageCopyCaptureSessionV1, Arc<CapturePolicy>> for State {
    fn request(
        _state: &mut Self,
        client: &Client,
        _resource: &ExtImageCopyCaptureSessionV1,
        request: ext_image_copy_capture_session_v1::Request,
        policy: &Arc<CapturePolicy>,
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_image_copy_capture_session_v1::Request::CreateFrame { frame } = request {
            data_init.init(
                frame,
                FrameData {
                    inner: Mutex::new((None, false)),
                    policy: policy.clone(),
                    slot: policy.take_slot(client, "ext-image-copy-capture"),
                },
            );
        }
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, FrameData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        frame: &ExtImageCopyCaptureFrameV1,
        request: ext_image_copy_capture_frame_v1::Request,
        data: &FrameData,
        dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            ext_image_copy_capture_frame_v1::Request::AttachBuffer { buffer } => {
                data.inner.lock().unwrap_or_else(|e| e.into_inner()).0 = Some(buffer);
            }
            ext_image_copy_capture_frame_v1::Request::Capture => {
                let buffer = {
                    let mut d = data.inner.lock().unwrap_or_else(|e| e.into_inner());
                    if d.1 {
                        frame.post_error(
                            ext_image_copy_capture_frame_v1::Error::AlreadyCaptured,
                            "capture was already sent",
                        );
                        return;
                    }
                    d.1 = true;
                    match d.0.clone() {
                        Some(b) => b,
                        None => {
                            frame.post_error(
                                ext_image_copy_capture_frame_v1::Error::NoBuffer,
                                "capture without attach_buffer",
                            );
                            return;
                        }
                    }
                };
                if !data.policy.check(client, dh, "ext-image-copy-capture") {
                    frame.failed(FailureReason::Stopped);
                    return;
                }
                if data.slot.is_none() {
                    frame.failed(FailureReason::Unknown);
                    return;
                }
                state.present();
                let full = output_rect(state);
                let size = full.size;
                match state.capture_into(&buffer, full) {
                    Ok(()) => {
                        frame.transform(smithay::utils::Transform::Normal.into());
                        frame.damage(0, 0, size.w, size.h);
                        let t = state.now();
                        let secs = t.as_secs();
                        frame.presentation_time((secs >> 32) as u32, secs as u32, t.subsec_nanos());
                        frame.ready();
                    }
                    Err(CaptureError::BadBuffer(why)) => {
                        warn!("image-copy-capture: {why}");
                        frame.failed(FailureReason::BufferConstraints);
                    }
                    Err(CaptureError::Failed(why)) => {
                        warn!("image-copy-capture failed: {why}");
                        frame.failed(FailureReason::Unknown);
                    }
                }
            }
            _ => {}
        }
    }
}
