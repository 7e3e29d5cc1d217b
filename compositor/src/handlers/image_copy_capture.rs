//! ext-image-copy-capture-v1 with ext-output-image-capture-source-manager-v1: the
//! standard capture protocols, into wl_shm buffers (XRGB8888). smithay 0.7 has neither.
//!
//! A client that may not capture (see `State::may_capture`) gets its session `stopped` at
//! once, and a log line. There is no cursor, so a pointer cursor session is stopped too.

use std::sync::Mutex;

use smithay::{
    output::Output,
    reexports::wayland_server::{
        protocol::{wl_buffer::WlBuffer, wl_shm},
        Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
    },
    utils::Rectangle,
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

use super::screencopy::CaptureError;
use crate::state::State;

/// A frame: the buffer attached to it, and whether capture was asked already.
#[derive(Default)]
pub struct FrameData(Mutex<(Option<WlBuffer>, bool)>);

impl GlobalDispatch<ExtOutputImageCaptureSourceManagerV1, ()> for State {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtOutputImageCaptureSourceManagerV1>,
        _: &(),
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

impl GlobalDispatch<ExtImageCopyCaptureManagerV1, ()> for State {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtImageCopyCaptureManagerV1>,
        _: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ExtImageCopyCaptureManagerV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        _resource: &ExtImageCopyCaptureManagerV1,
        request: ext_image_copy_capture_manager_v1::Request,
        _data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            ext_image_copy_capture_manager_v1::Request::CreateSession {
                session, source, ..
            } => {
                let has_output = source.data::<Option<Output>>().is_some_and(|o| o.is_some());
                let session = data_init.init(session, ());
                if let Err(why) = state.may_capture(client, dh) {
                    warn!(client = ?client.id(), "image-copy-capture refused: {why}");
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
                let session = data_init.init(session, ());
                let _ = session;
            }
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, ()> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &ExtImageCopyCaptureCursorSessionV1,
        request: ext_image_copy_capture_cursor_session_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_image_copy_capture_cursor_session_v1::Request::GetCaptureSession { session } =
            request
        {
            data_init.init(session, ()).stopped();
        }
    }
}

impl Dispatch<ExtImageCopyCaptureSessionV1, ()> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &ExtImageCopyCaptureSessionV1,
        request: ext_image_copy_capture_session_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_image_copy_capture_session_v1::Request::CreateFrame { frame } = request {
            data_init.init(frame, FrameData::default());
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
                data.0.lock().unwrap().0 = Some(buffer);
            }
            ext_image_copy_capture_frame_v1::Request::Capture => {
                let buffer = {
                    let mut d = data.0.lock().unwrap();
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
                if let Err(why) = state.may_capture(client, dh) {
                    warn!(client = ?client.id(), "image-copy-capture refused: {why}");
                    frame.failed(FailureReason::Stopped);
                    return;
                }
                state.present();
                let size = state
                    .output
                    .current_mode()
                    .map(|m| m.size)
                    .unwrap_or_default();
                match state.capture_into(&buffer, Rectangle::from_size(size)) {
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
