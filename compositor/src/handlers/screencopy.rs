//! wlr-screencopy-unstable-v1 (v3), so that grim works: the output (or a region of it)
//! copied into a client's wl_shm buffer. smithay 0.7 has no implementation.
//!
//! Capture is privileged: see `State::may_capture`. A client that may not capture gets the
//! frame's `failed` event and a log line. Known limits: wl_shm targets only (XRGB8888),
//! no cursor (there is none), `copy_with_damage` answers at once with full damage.

use std::sync::atomic::{AtomicBool, Ordering};

use smithay::{
    output::Output,
    reexports::wayland_server::{
        protocol::{wl_buffer::WlBuffer, wl_shm},
        Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
    },
    utils::Rectangle,
    wayland::shm::with_buffer_contents_mut,
};
use tracing::{info, warn};
use wayland_protocols_wlr::screencopy::v1::server::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};

use crate::state::State;

/// A pending capture: the region in output pixels, and whether it was copied already.
pub struct FrameData {
    region: Rectangle<i32, smithay::utils::Physical>,
    used: AtomicBool,
}

impl GlobalDispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn bind(
        _state: &mut Self,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrScreencopyManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        _manager: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        _data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let full = output_rect(&state.output);
        let (frame, region) = match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput { frame, .. } => (frame, full),
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                x,
                y,
                width,
                height,
                ..
            } => {
                let scale = state.output.current_scale().integer_scale();
                let asked = Rectangle::new(
                    (x * scale, y * scale).into(),
                    (width * scale, height * scale).into(),
                );
                (frame, asked.intersection(full).unwrap_or_default())
            }
            _ => return,
        };
        let frame = data_init.init(
            frame,
            FrameData {
                region,
                used: AtomicBool::new(false),
            },
        );
        if let Err(why) = state.may_capture(client, dh) {
            warn!(client = ?client.id(), "screencopy refused: {why}");
            frame.failed();
            return;
        }
        if region.is_empty() {
            warn!(client = ?client.id(), "screencopy refused: the region is empty");
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
        _client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        data: &FrameData,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        let (buffer, with_damage) = match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => (buffer, false),
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => (buffer, true),
            _ => return,
        };
        if data.used.swap(true, Ordering::SeqCst) {
            frame.post_error(
                zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                "copy was already requested",
            );
            return;
        }
        match state.capture_into(&buffer, data.region) {
            Ok(()) => {
                frame.flags(zwlr_screencopy_frame_v1::Flags::empty());
                if with_damage {
                    frame.damage(0, 0, data.region.size.w as u32, data.region.size.h as u32);
                }
                let t = state.now();
                let secs = t.as_secs();
                frame.ready((secs >> 32) as u32, secs as u32, t.subsec_nanos());
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

fn output_rect(output: &Output) -> Rectangle<i32, smithay::utils::Physical> {
    let size = output.current_mode().map(|m| m.size).unwrap_or_default();
    Rectangle::from_size(size)
}

/// Why a capture did not happen.
pub enum CaptureError {
    /// The client's buffer is not what was announced (a protocol error).
    BadBuffer(String),
    Failed(String),
}

impl State {
    /// Copies `region` of the last presented frame into a wl_shm buffer as XRGB8888.
    pub fn capture_into(
        &mut self,
        buffer: &WlBuffer,
        region: Rectangle<i32, smithay::utils::Physical>,
    ) -> Result<(), CaptureError> {
        if !self.ensure_backend() {
            return Err(CaptureError::Failed("no renderer".into()));
        }
        if !self.presented_any {
            self.present();
        }
        let image = self
            .backend
            .as_mut()
            .ok_or_else(|| CaptureError::Failed("no renderer".into()))?
            .read_rgba()
            .map_err(|e| CaptureError::Failed(e.to_string()))?;
        let (w, h) = (region.size.w as usize, region.size.h as usize);
        let result = with_buffer_contents_mut(buffer, |ptr, len, data| {
            if data.format != wl_shm::Format::Xrgb8888 && data.format != wl_shm::Format::Argb8888 {
                return Err(format!(
                    "buffer format {:?}, XRGB8888 was announced",
                    data.format
                ));
            }
            if (data.width as usize, data.height as usize) != (w, h)
                || (data.stride as usize) < w * 4
            {
                return Err(format!(
                    "buffer is {}x{} with stride {}, {w}x{h} with stride {} was announced",
                    data.width,
                    data.height,
                    data.stride,
                    w * 4
                ));
            }
            let start = data.offset as usize;
            let need = start + data.stride as usize * h;
            if need > len {
                return Err(format!("buffer needs {need} bytes, the pool has {len}"));
            }
            // SAFETY: the pool is mapped for `len` bytes and the range is checked above.
            let dst = unsafe { std::slice::from_raw_parts_mut(ptr.add(start), need - start) };
            for y in 0..h {
                let src_row =
                    (region.loc.y as usize + y) * image.width as usize + region.loc.x as usize;
                let src = &image.data[src_row * 4..(src_row + w) * 4];
                let row = &mut dst[y * data.stride as usize..][..w * 4];
                for (d, s) in row.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&[s[2], s[1], s[0], 255]);
                }
            }
            Ok(())
        });
        match result {
            Ok(Ok(())) => {
                info!(
                    width = w,
                    height = h,
                    "output captured into a client buffer"
                );
                Ok(())
            }
            Ok(Err(why)) => Err(CaptureError::BadBuffer(why)),
            Err(e) => Err(CaptureError::BadBuffer(format!(
                "not a wl_shm buffer: {e:?}"
            ))),
        }
    }

    /// Capture is for clients planar started (the command and its descendants, by the
    /// socket peer's pid) and planar's own tools (planar-client next to the planar
    /// binary), unless `--allow-capture all`.
    pub fn may_capture(&self, client: &Client, dh: &DisplayHandle) -> Result<(), String> {
        // Before anything else, `--allow-capture all` included: a sandboxed client never
        // captures (wp_security_context_v1).
        if crate::handlers::desktop::is_sandboxed(client) {
            return Err("the client is sandboxed (it connected through a security context)".into());
        }
        if self.allow_capture_all {
            return Ok(());
        }
        let pid = client
            .get_credentials(dh)
            .map_err(|_| "the client's credentials cannot be read".to_string())?
            .pid;
        if let Some(child) = self.child_pid {
            let mut p = pid as u32;
            for _ in 0..64 {
                if p == child {
                    return Ok(());
                }
                match parent_pid(p) {
                    Some(pp) if pp > 1 => p = pp,
                    _ => break,
                }
            }
        }
        let own_tool = std::env::current_exe()
            .ok()
            .and_then(|me| me.parent().map(|d| d.join("planar-client")))
            .zip(std::fs::read_link(format!("/proc/{pid}/exe")).ok())
            .is_some_and(|(tool, exe)| tool == exe);
        if own_tool {
            return Ok(());
        }
        Err(format!(
            "pid {pid} was not started by planar run (use --allow-capture all to let any client capture)"
        ))
    }
}

/// The parent of `pid`, from /proc/PID/stat (the field after the parenthesised name).
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
}
