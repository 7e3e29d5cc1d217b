//! wlr-screencopy-unstable-v1 (v3), so that grim works: the output (or a region of it)
//! copied into a client's wl_shm buffer. smithay 0.7 has no implementation.
//!
//! The permission filter (see `capture`) comes with the global, goes to each manager and
//! frame, and is checked at `capture_output*` and again at `copy`. Frames count against
//! the client's capture limit until destroyed; one past it gets `failed`. The region is clipped
//! with 64-bit arithmetic when the frame is made and against the output again at copy.
//! Known limits: wl_shm targets only (XRGB8888), no cursor (there is none),
//! `copy_with_damage` answers at once with full damage.

use std::sync::Arc;

use smithay::{
    reexports::wayland_server::{
        protocol::wl_shm, Client, DataInit, Dispatch, DisplayHandle, Resource,
    },
    utils::{Physical, Rectangle},
};
use tracing::warn;
use wayland_protocols_wlr::screencopy::v1::server::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};

use super::{output_rect, split_time, CaptureError, CapturePolicy, FrameBook};
use crate::state::State;

const PROTOCOL: &str = "wlr-screencopy";

/// A pending capture: the region in output pixels, with what every capture frame keeps.
pub struct FrameData {
    region: Rectangle<i32, Physical>,
    book: FrameBook,
}

impl Dispatch<ZwlrScreencopyManagerV1, Arc<CapturePolicy>> for State {
    fn request(
        _: &mut Self,
        client: &Client,
        _: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        policy: &Arc<CapturePolicy>,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let (frame, output, region) = match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput { frame, output, .. } => {
                let output = smithay::output::Output::from_resource(&output);
                let full = output.as_ref().map(output_rect).unwrap_or_default();
                (frame, output, full)
            }
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                output,
                x,
                y,
                width,
                height,
                ..
            } => {
                let output = smithay::output::Output::from_resource(&output);
                let full = output.as_ref().map(output_rect).unwrap_or_default();
                let scale = output
                    .as_ref()
                    .map(|o| o.current_scale().fractional_scale())
                    .unwrap_or(1.0);
                (
                    frame,
                    output,
                    scaled_region(x, y, width, height, scale, full),
                )
            }
            _ => return,
        };
        let book = FrameBook::new(policy, client, dh, PROTOCOL, output);
        let refused = book.refused_at_creation().is_some();
        let gone = book.output.is_none();
        let frame = data_init.init(frame, FrameData { region, book });
        if refused {
            frame.failed();
            return;
        }
        if gone {
            warn!(client = ?client.id(), "screencopy refused: the output was removed");
            frame.failed();
            return;
        }
        if region.is_empty() {
            warn!(client = %crate::client_name::label(client), "screencopy refused: the region is empty");
            frame.failed();
            return;
        }
        frame.buffer(
            wl_shm::Format::Xrgb8888,
            region.size.w as u32,
            region.size.h as u32,
            region.size.w as u32 * 4,
        );
        if frame.version() >= 3 {
            frame.buffer_done();
        }
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, FrameData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        data: &FrameData,
        dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        let (buffer, with_damage) = match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => (buffer, false),
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => (buffer, true),
            _ => return,
        };
        if data.book.refusal(client, dh).is_some() {
            frame.failed();
            return;
        }
        if !data.book.first_use() {
            frame.post_error(
                zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                "copy was already requested",
            );
            return;
        }
        let Some(output) = data.book.output.clone() else {
            frame.failed();
            return;
        };
        match state.capture_into(&output, &buffer, data.region) {
            Ok(()) => {
                frame.flags(zwlr_screencopy_frame_v1::Flags::empty());
                if with_damage {
                    frame.damage(0, 0, data.region.size.w as u32, data.region.size.h as u32);
                }
                let (hi, lo, nanos) = split_time(state.now());
                frame.ready(hi, lo, nanos);
            }
            Err(CaptureError::BadBuffer(why)) => {
                warn!("screencopy: {why}");
                frame.post_error(zwlr_screencopy_frame_v1::Error::InvalidBuffer, why);
            }
            Err(CaptureError::Failed(why)) => {
                warn!("screencopy failed: {why}");
                frame.failed();
            }
        }
    }
}

/// A region asked for in logical pixels, in output pixels and clipped to `full`; empty
/// when it is negative, outside the output, or its arithmetic would overflow (a client may
/// send anything here, before the permission check).
fn scaled_region(
    x: i32,
    y: i32,
    width: i32,
    height: i32,
    scale: f64,
    full: Rectangle<i32, Physical>,
) -> Rectangle<i32, Physical> {
    if width <= 0 || height <= 0 {
        return Rectangle::default();
    }
    // In f64 (scales are fractional), where i32 times a scale of at most 8 is exact
    // enough and cannot overflow, then clipped back into i32.
    let px = |v: i64| (v as f64 * scale).round() as i64;
    let (x0, y0) = (px(i64::from(x)), px(i64::from(y)));
    let x1 = px(i64::from(x) + i64::from(width));
    let y1 = px(i64::from(y) + i64::from(height));
    let clip = |v: i64, lo: i32, hi: i32| v.clamp(i64::from(lo), i64::from(hi)) as i32;
    let (fx1, fy1) = (full.loc.x + full.size.w, full.loc.y + full.size.h);
    let (cx0, cy0) = (clip(x0, full.loc.x, fx1), clip(y0, full.loc.y, fy1));
    let (cx1, cy1) = (clip(x1, full.loc.x, fx1), clip(y1, full.loc.y, fy1));
    if cx1 <= cx0 || cy1 <= cy0 {
        return Rectangle::default();
    }
    Rectangle::new((cx0, cy0).into(), (cx1 - cx0, cy1 - cy0).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_clipped_without_overflow() {
        let full = Rectangle::from_size((200, 100).into());
        let m = i32::MAX - 1;
        assert!(scaled_region(m, m, m, m, 2.0, full).is_empty());
        assert_eq!(scaled_region(0, 0, m, m, 2.0, full), full);
        assert!(scaled_region(-m, -m, m, m, 2.0, full).is_empty());
        assert!(scaled_region(5, 5, -3, 4, 2.0, full).is_empty());
        assert_eq!(
            scaled_region(10, 10, 20, 5, 2.0, full),
            Rectangle::new((20, 20).into(), (40, 10).into())
        );
        // A fractional output scale: logical 10..30 is 15..45 at 1.5.
        assert_eq!(
            scaled_region(10, 10, 20, 20, 1.5, full),
            Rectangle::new((15, 15).into(), (30, 30).into())
        );
    }
}
