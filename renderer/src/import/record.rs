//! The import record: everything planar knows about what happened to one buffer, as the
//! log, the `--report` file and the test protocol show it.

use serde::{Deserialize, Serialize};
use smithay::backend::allocator::{dmabuf::Dmabuf, Buffer};

use crate::cpu::CpuBuffer;

/// The path a buffer took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImportPath {
    Egl,
    Cpu,
    #[default]
    Rejected,
}

/// One plane's layout as the client gave it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlaneRecord {
    pub offset: u32,
    pub stride: u32,
}

/// Everything planar knows about what happened to one buffer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct ImportRecord {
    pub id: u64,
    pub client: String,
    pub fourcc: String,
    pub modifier: String,
    pub width: i32,
    pub height: i32,
    pub y_invert: bool,
    pub planes: Vec<PlaneRecord>,
    pub path: ImportPath,
    pub reason: String,
    pub import_us: u64,
    pub bytes_mapped: u64,
    pub frames_shown: u64,
    /// Of `frames_shown`, those that handed the buffer to the copy path rather than a
    /// textured quad (see `blit`): an XR24 buffer itself, a CPU-path buffer's copy frame,
    /// or a CPU-path buffer converted straight into the target (`cpu::direct`). Counted
    /// like `frames_shown`, when the scene is built: a copy the damage tracker then
    /// skips, or one that falls back to a quad, still counts.
    pub frames_copied: u64,
    /// DMA_BUF_IOCTL_SYNC calls (CPU path).
    pub syncs: u64,
    /// Rows read and converted (CPU path): at commit, at draw time for a buffer
    /// converted straight into a target (whole chroma rows of each damage rectangle), and
    /// into the copy frame when a draw reads that.
    pub rows_converted: u64,
    /// Reads of the buffer (CPU path): one per commit read, per draw converting straight
    /// into a target (all its rectangles in one fence wait and sync bracket), per copy
    /// frame update.
    pub reads: u64,
    /// EGL imports after the first (a cache miss).
    pub reimports: u64,
    /// Reads not made because a write fence had not signalled in time (CPU path).
    pub fence_timeouts: u64,
    /// The X11 window that showed the buffer (Xwayland's dma-bufs): `TITLE (CLASS)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x11_window: Option<String>,
}

impl ImportRecord {
    /// The record of a buffer just decided: its layout, the path and why.
    pub(crate) fn new(
        id: u64,
        client: &str,
        dmabuf: &Dmabuf,
        path: ImportPath,
        reason: String,
    ) -> Self {
        let format = dmabuf.format();
        let size = dmabuf.size();
        ImportRecord {
            id,
            client: client.to_string(),
            fourcc: planar_protocol::names::fourcc_chars(format.code as u32),
            modifier: format!("{:#018x}", u64::from(format.modifier)),
            width: size.w,
            height: size.h,
            y_invert: dmabuf.y_inverted(),
            planes: dmabuf
                .offsets()
                .zip(dmabuf.strides())
                .map(|(offset, stride)| PlaneRecord { offset, stride })
                .collect(),
            path,
            reason,
            ..ImportRecord::default()
        }
    }

    /// Brings the CPU path's counters up to date.
    pub(crate) fn sync_stats(&mut self, buffer: &CpuBuffer) {
        self.bytes_mapped = buffer.stats.bytes_mapped;
        self.syncs = buffer.stats.syncs;
        self.rows_converted = buffer.stats.rows_converted;
        self.reads = buffer.stats.reads;
        self.fence_timeouts = buffer.stats.fence_timeouts;
    }
}
