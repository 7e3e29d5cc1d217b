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
        delegate_dispatch,
        protocol::{wl_buffer::WlBuffer, wl_shm},
        Client, DataInit, Dispatch, DisplayHandle, Resource,
    },
};
use tracing::warn;
use wayland_protocols::ext::{
    image_capture_source::v1::server::{
        ext_image_capture_source_v1::ExtImageCaptureSourceV1,
        ext_output_image_capture_source_manager_v1::{self, ExtOutputImageCaptureSourceManagerV1},
    },
    image_copy_capture::v1::server::{
        ext_image_copy_capture_cursor_session_v1::{
            ExtImageCopyCaptureCursorSessionV1, Request as CursorRequest,
        },
        ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1, FailureReason},
        ext_image_copy_capture_manager_v1::{
            ExtImageCopyCaptureManagerV1, Request as ManagerRequest,
        },
        ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
    },
};

use super::{output_rect, split_time, CaptureError, CapturePolicy, FrameBook, Refusal};
use crate::{handlers::dispatch::Inert, state::State};

const PROTOCOL: &str = "ext-image-copy-capture";

/// A capture session: the filter it came with and the output it captures (`None`: not an
/// output source, or a cursor's; its frames fail).
#[derive(Clone)]
pub struct Session {
    policy: Arc<CapturePolicy>,
    output: Option<Output>,
}

/// A frame: the buffer attached to it, with what every capture frame keeps.
pub struct FrameData {
    buffer: Mutex<Option<WlBuffer>>,
    book: FrameBook,
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

// A source's only request is `destroy`.
delegate_dispatch!(State: [ExtImageCaptureSourceV1: Option<Output>] => Inert);

impl Dispatch<ExtImageCopyCaptureManagerV1, Arc<CapturePolicy>> for State {
    fn request(
        _state: &mut Self,
        client: &Client,
        _resource: &ExtImageCopyCaptureManagerV1,
        request: ManagerRequest,
        policy: &Arc<CapturePolicy>,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            ManagerRequest::CreateSession {
                session, source, ..
            } => {
                let output = source.data::<Option<Output>>().cloned().flatten();
                let has_output = output.is_some();
                let data = Session {
                    policy: policy.clone(),
                    output: output.clone(),
                };
                let session = data_init.init(session, data);
                if policy.check(client, dh, PROTOCOL).is_err() {
                    session.stopped();
                    return;
                }
                if !has_output {
                    session.stopped();
                    return;
                }
                let size = output.as_ref().map(output_rect).unwrap_or_default().size;
                session.buffer_size(size.w as u32, size.h as u32);
                session.shm_format(wl_shm::Format::Xrgb8888);
                session.done();
            }
            ManagerRequest::CreatePointerCursorSession { session, .. } => {
                // planar has no pointer, so there is no cursor to capture: the cursor
                // session hands out a session of no output, stopped at once.
                let data = Session {
                    policy: policy.clone(),
                    output: None,
                };
                data_init.init(session, data);
            }
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, Session> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &ExtImageCopyCaptureCursorSessionV1,
        request: CursorRequest,
        data: &Session,
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let CursorRequest::GetCaptureSession { session } = request {
            data_init.init(session, data.clone()).stopped();
        }
    }
}

impl Dispatch<ExtImageCopyCaptureSessionV1, Session> for State {
    fn request(
        _state: &mut Self,
        client: &Client,
        _resource: &ExtImageCopyCaptureSessionV1,
        request: ext_image_copy_capture_session_v1::Request,
        session: &Session,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_image_copy_capture_session_v1::Request::CreateFrame { frame } = request {
            let output = session.output.clone();
            let book = FrameBook::new(&session.policy, client, dh, PROTOCOL, output);
            let buffer = Mutex::new(None);
            data_init.init(frame, FrameData { buffer, book });
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
                *data.buffer.lock().unwrap_or_else(|e| e.into_inner()) = Some(buffer);
            }
            ext_image_copy_capture_frame_v1::Request::Capture => {
                let Some(buffer) = buffer_to_fill(frame, data) else {
                    return;
                };
                match data.book.refusal(client, dh) {
                    Some(Refusal::Permission) => return frame.failed(FailureReason::Stopped),
                    Some(Refusal::Limit) => return frame.failed(FailureReason::Unknown),
                    None => {}
                }
                state.present();
                let Some(output) = data.book.output.clone() else {
                    frame.failed(FailureReason::Stopped);
                    return;
                };
                let full = output_rect(&output);
                let size = full.size;
                match state.capture_into(&output, &buffer, full) {
                    Ok(()) => {
                        frame.transform(smithay::utils::Transform::Normal.into());
                        frame.damage(0, 0, size.w, size.h);
                        let (hi, lo, nanos) = split_time(state.now());
                        frame.presentation_time(hi, lo, nanos);
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

/// The buffer a frame's `capture` fills, the first time only; `None` once the protocol
/// error is posted (a second `capture`, or none attached).
fn buffer_to_fill(frame: &ExtImageCopyCaptureFrameV1, data: &FrameData) -> Option<WlBuffer> {
    use ext_image_copy_capture_frame_v1::Error;
    let attached = data
        .buffer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let (error, message) = match attached {
        _ if !data.book.first_use() => (Error::AlreadyCaptured, "capture was already sent"),
        Some(buffer) => return Some(buffer),
        None => (Error::NoBuffer, "capture without attach_buffer"),
    };
    frame.post_error(error, message);
    None
}
