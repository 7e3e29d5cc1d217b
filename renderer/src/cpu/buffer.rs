//! One client buffer on the CPU path: its mappings (one per distinct file, however many
//! planes share it), read row range by row range, converted in bounded chunks.
//!
//! Memory: the converted frame is kept only where the renderer composites from it
//! (pixman); with GLES the texture is the one converted copy, and rows reach it through a
//! scratch chunk of at most [`CHUNK_BYTES`] shared by all buffers. YUV that the renderer
//! converts itself (GLES, see `gles_yuv`) is not converted here: its mapped plane rows go
//! to the renderer as they are ([`CpuBuffer::read_planes`]). An opaque buffer on a GLES
//! renderer with the copy path (see `blit`) has a copy frame instead of a texture, an
//! XRGB8888 memfd the renderer imports once: a commit only marks its damaged rows stale
//! ([`CpuBuffer::note_damage`]); a draw converts the damage straight into the output's
//! target ([`CpuBuffer::convert_into`], `cpu::direct`), or, when the draw reads the
//! frame, the stale rows into the frame ([`CpuBuffer::refresh_frame`]). The frame's
//! pages are touched only then (same budget: w×h×4, counted whether resident or not).

use std::{ops::Range, os::fd::BorrowedFd, time::Duration};

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{fd::FdKind, format::FormatInfo};
use smithay::backend::allocator::{dmabuf::Dmabuf, Buffer};
use tracing::warn;

use crate::error::{ConvertError, CpuError, UploadError};

use super::{
    convert::{conversion, convert_rows_to, Conversion, Order, Planes, YuvEncoding},
    map::{sync_read, wait_for_all_writers, Mapping, SyncGuard, SyncPoint},
};

/// The fence wait: all files, one bound. A field so unit tests can stand in a fence that
/// never signals (the host has no dma-bufs).
type FenceWait = fn(&[BorrowedFd<'_>], Duration) -> bool;
/// DMA_BUF_IOCTL_SYNC, for the same reason.
type Sync = for<'a> fn(BorrowedFd<'a>, SyncPoint) -> std::io::Result<()>;

/// How long a read waits for a client's GPU to finish writing.
const FENCE_WAIT: Duration = Duration::from_millis(100);

/// The most converted bytes held at once for one read: rows are converted and handed on
/// in chunks of this size (at least one row, or one chroma row pair).
pub const CHUNK_BYTES: usize = 4 << 20;

/// Why a read did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A write fence had not signalled within the bound: nothing was read, the previous
    /// contents stay, the next commit tries again.
    #[error("a write fence did not signal within {FENCE_WAIT:?}")]
    FenceTimeout,
    /// DMA_BUF_IOCTL_SYNC START failed: nothing was read.
    #[error("DMA_BUF_IOCTL_SYNC start: {0}")]
    Sync(std::io::Error),
    /// Converting the rows failed.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// The renderer did not take the rows (or the planes).
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// Counters that go into the import record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStats {
    pub bytes_mapped: u64,
    /// DMA_BUF_IOCTL_SYNC calls made (START and END each count).
    pub syncs: u64,
    pub rows_converted: u64,
    pub reads: u64,
    /// Commits whose read was skipped because a write fence had not signalled in time.
    pub fence_timeouts: u64,
}

struct MappedFile {
    map: Mapping,
    /// Index of the plane whose fd is used for this file's poll and sync.
    plane: usize,
    dmabuf: bool,
}

/// The copy path's frame of one CPU-path buffer: an XRGB8888 linear memfd planar owns,
/// mapped writable, imported by the renderer as a copy source (see `blit`).
struct CopyFrame {
    map: Mapping,
    /// The memfd as a dma-buf, for the renderer's EGL import.
    dmabuf: Dmabuf,
}

impl CopyFrame {
    fn new(width: usize, height: usize) -> std::io::Result<Self> {
        let (dmabuf, map) = super::map::xr24_memfd("planar-cpu-frame", width, height)?;
        Ok(CopyFrame { map, dmabuf })
    }
}

/// A buffer on the CPU path.
pub struct CpuBuffer {
    dmabuf: Dmabuf,
    pub format: &'static FormatInfo,
    conv: Conversion,
    /// The byte order rows are converted to (BGRA for the copy frame).
    order: Order,
    /// The conversion and texture format without the copy frame, should the renderer not
    /// take it ([`CpuBuffer::drop_copy_frame`]).
    plain: (Conversion, Fourcc),
    /// The copy path's frame, rows converted straight into it.
    copy: Option<CopyFrame>,
    /// The next read must be of every row: the buffer has not been read whole yet since
    /// it was made or its encoding changed (a failed read keeps this set).
    full_pending: bool,
    /// Image rows of the copy frame not converted since they were last damaged. A buffer
    /// with a copy frame is converted at draw time straight into the output's target
    /// (`cpu::direct`); its copy frame is only brought up to date when a draw needs it
    /// ([`CpuBuffer::refresh_frame`]).
    stale: Range<usize>,
    /// A draw-time read did not happen (a write fence had not signalled): the next
    /// render must draw the buffer again ([`CpuBuffer::take_retry`]).
    retry: bool,
    /// Whether the buffer was drawn straight into a target before (logged once).
    pub(crate) went_direct: bool,
    /// Whether a draw-time read of it failed before (warned of once).
    pub(crate) draw_warned: bool,
    /// YUV the renderer converts: planes are handed on unconverted, and the renderer's
    /// textures hold them as they are (see [`CpuBuffer::cost`]).
    pub planes_direct: bool,
    /// The renderer's own state for a `planes_direct` buffer (its plane textures).
    pub(crate) gles: Option<super::gles_yuv::Planes>,
    /// The texture format the rows are converted to.
    pub upload: Fourcc,
    pub out_bpp: usize,
    pub width: usize,
    pub height: usize,
    y_invert: bool,
    vsub: usize,
    files: Vec<MappedFile>,
    /// Per plane: (file index, offset, stride).
    planes: Vec<(usize, usize, usize)>,
    encoding: YuvEncoding,
    /// The converted frame, top row first, only when the renderer composites from it;
    /// u32 words so pixman can use it as an image's bits.
    frame: Option<Vec<u32>>,
    /// Whether a fence timeout was logged for this buffer (once per buffer).
    fence_warned: bool,
    /// The last read's fence wait timed out: the next ones only poll (no wait) until the
    /// fence signals, so a fence that never does costs the main loop one bound, not one
    /// per commit.
    fence_pending: bool,
    fence_wait: FenceWait,
    sync: Sync,
    pub stats: CpuStats,
}

impl CpuBuffer {
    /// Maps `dmabuf` for the CPU path. `direct` lists the formats the renderer uploads as
    /// they are (no conversion: RGB it samples, YUV it converts itself); `keep_frame`: the renderer composites from the converted
    /// frame, which is then kept (allocated lazily: untouched pages cost nothing);
    /// `copy_frame`: the renderer copies an opaque buffer's XRGB8888 frame onto its
    /// outputs, so such a buffer is converted into one (not for YUV it converts itself).
    pub fn new(
        dmabuf: &Dmabuf,
        format: &'static FormatInfo,
        kinds: &[FdKind],
        direct: &[Fourcc],
        encoding: YuvEncoding,
        (keep_frame, copy_frame): (bool, bool),
    ) -> Result<Self, CpuError> {
        let fourcc = format.fourcc;
        let mut conv = conversion(fourcc).ok_or(CpuError::Unreadable(fourcc))?;
        let planes_direct = matches!(conv, Conversion::Yuv(_)) && direct.contains(&fourcc);
        let (upload, out_bpp) = match conv {
            Conversion::Packed(p) if direct.contains(&fourcc) && p.bytes == 4 => {
                conv = Conversion::Copy { bytes_per_pixel: 4 };
                (fourcc, 4)
            }
            _ if format.alpha => (Fourcc::Abgr8888, 4),
            _ => (Fourcc::Xbgr8888, 4),
        };
        let size = dmabuf.size();
        let (width, height) = (size.w as usize, size.h as usize);
        let plain = (conv, upload);
        let copy = (copy_frame && !format.alpha && !planes_direct)
            .then(|| CopyFrame::new(width, height))
            .and_then(|made| {
                made.map_err(|err| warn!(%err, "no copy frame; the buffer is uploaded"))
                    .ok()
            });
        let (conv, upload, order) = match (&copy, conversion(fourcc)) {
            (Some(_), _) if fourcc == Fourcc::Xrgb8888 => (
                Conversion::Copy { bytes_per_pixel: 4 },
                Fourcc::Xrgb8888,
                Order::Bgra,
            ),
            (Some(_), Some(conv)) => (conv, Fourcc::Xrgb8888, Order::Bgra),
            _ => (conv, upload, Order::Rgba),
        };
        let handles: Vec<BorrowedFd<'_>> = dmabuf.handles().collect();
        let offsets: Vec<u32> = dmabuf.offsets().collect();
        let strides: Vec<u32> = dmabuf.strides().collect();
        // Planes in the same file are mapped once: same device and inode.
        let mut files: Vec<(u64, u64, usize, usize)> = Vec::new(); // dev, ino, plane, len
        let mut planes = Vec::new();
        for (i, fd) in handles.iter().enumerate() {
            let st =
                rustix::fs::fstat(fd).map_err(|source| CpuError::Fstat { plane: i, source })?;
            let rows = format.plane_height(i, height as u32) as usize;
            let end = offsets[i] as usize + strides[i] as usize * rows;
            let key = (st.st_dev, st.st_ino);
            let idx = match files.iter().position(|f| (f.0, f.1) == key) {
                Some(idx) => {
                    files[idx].3 = files[idx].3.max(end);
                    idx
                }
                None => {
                    files.push((key.0, key.1, i, end));
                    files.len() - 1
                }
            };
            planes.push((idx, offsets[i] as usize, strides[i] as usize));
        }
        let mut mapped = Vec::new();
        let mut stats = CpuStats::default();
        for (_, _, plane, len) in files {
            let map = Mapping::new(handles[plane], len).map_err(|source| CpuError::Map {
                plane,
                len,
                source,
            })?;
            stats.bytes_mapped += len as u64;
            mapped.push(MappedFile {
                map,
                plane,
                dmabuf: matches!(kinds.get(plane), Some(FdKind::DmaBuf { .. })),
            });
        }
        Ok(CpuBuffer {
            dmabuf: dmabuf.clone(),
            format,
            conv,
            order,
            plain,
            copy,
            full_pending: true,
            stale: 0..height,
            retry: false,
            went_direct: false,
            draw_warned: false,
            planes_direct,
            gles: None,
            upload,
            out_bpp,
            width,
            height,
            y_invert: dmabuf.y_inverted(),
            vsub: if format.yuv {
                usize::from(format.vsub)
            } else {
                1
            },
            files: mapped,
            planes,
            encoding,
            frame: (keep_frame && !planes_direct).then(|| vec![0; width * height * out_bpp / 4]),
            fence_warned: false,
            fence_pending: false,
            fence_wait: wait_for_all_writers,
            sync: sync_read,
            stats,
        })
    }

    /// Sets the YUV encoding the buffer is read with; true when it changed (the whole
    /// buffer must then be read again).
    pub fn set_encoding(&mut self, encoding: YuvEncoding) -> bool {
        let changed = self.encoding != encoding && matches!(self.conv, Conversion::Yuv(_));
        self.encoding = encoding;
        // Planes the renderer converts stay as they are: only its uniforms change.
        self.full_pending |= changed && !self.planes_direct;
        changed
    }

    /// The rows the next read must cover: `damaged`, or all of them while a whole read
    /// is pending (a new buffer, a new encoding, and until such a read succeeds).
    pub fn rows_to_read(&self, damaged: Range<usize>) -> Range<usize> {
        if self.full_pending {
            0..self.height
        } else {
            damaged
        }
    }

    /// The copy frame as a dma-buf for the renderer's import, when the buffer has one.
    pub fn copy_frame(&self) -> Option<&Dmabuf> {
        self.copy.as_ref().map(|c| &c.dmabuf)
    }

    /// Goes back to the plain conversion and upload (the renderer did not take the copy
    /// frame): the frame is freed and the next read is whole.
    pub fn drop_copy_frame(&mut self) {
        if self.copy.take().is_some() {
            (self.conv, self.upload) = self.plain;
            self.order = Order::Rgba;
            self.full_pending = true;
        }
    }

    /// For a buffer with a copy frame, at commit: nothing is read, the damaged image rows
    /// (all of them while a whole read is pending) are only marked stale in the copy
    /// frame, and returned: the draw converts what the damage tracker asks for.
    pub fn note_damage(&mut self, damaged: Range<usize>) -> Range<usize> {
        let rows = self.rows_to_read(damaged);
        let rows = rows.start.min(self.height)..rows.end.min(self.height);
        self.full_pending = false;
        self.stale = super::direct::span(self.stale.clone(), rows.clone());
        rows
    }

    /// Brings the copy frame up to date (its stale rows converted into it), for a draw
    /// that reads it rather than converting straight into the target. The caller has
    /// waited for the GPU to finish reading the frame. On a fence timeout the rows stay
    /// stale (and the frame keeps its old pixels), and the next render draws the buffer
    /// again ([`CpuBuffer::take_retry`]).
    pub fn refresh_frame(&mut self) -> Result<(), ReadError> {
        if self.copy.is_none() || self.stale.is_empty() {
            return Ok(());
        }
        let rows = self.stale.clone();
        // Rows are converted in place into the frame: no scratch chunk (an empty Vec does
        // not allocate).
        if let Err(err) = self.read(rows, &mut Vec::new(), |_, _| Ok(())) {
            // Drawn with its old rows now; the next render draws the buffer again.
            self.retry |= matches!(err, ReadError::FenceTimeout);
            return Err(err);
        }
        self.stale = 0..0;
        Ok(())
    }

    /// Whether rows of the copy frame wait to be converted into it.
    pub fn frame_stale(&self) -> bool {
        self.stale.start < self.stale.end
    }

    /// Converts the image rectangles `rects` of the buffer straight into `target` (an
    /// XRGB8888 image `stride` bytes a row), each at its place, inside one fence wait
    /// and DMA_BUF_IOCTL_SYNC bracket; `scratch` takes the bands that cannot go straight
    /// in (see `cpu::direct`). Counts one read. A fence that has not signalled leaves
    /// the target as it was and asks for a redraw ([`CpuBuffer::take_retry`]).
    pub fn convert_into(
        &mut self,
        rects: &[super::direct::Placed],
        target: &mut [u8],
        stride: usize,
        scratch: &mut Vec<u8>,
    ) -> Result<(), ReadError> {
        if rects.is_empty() {
            return Ok(());
        }
        let converted = self.bracket(|this| {
            let spec = super::direct::Spec {
                conv: this.conv,
                encoding: (this.encoding, this.order),
                size: (this.width, this.height),
                vsub: this.vsub,
                y_invert: this.y_invert,
            };
            let planes = mapped_planes(&this.files, &this.planes);
            super::direct::convert_rects(&spec, &planes, rects, (target, stride), scratch)
        });
        match converted {
            Ok(rows) => {
                self.stats.rows_converted += rows as u64;
                self.stats.reads += 1;
                Ok(())
            }
            Err(err) => {
                self.retry |= matches!(err, ReadError::FenceTimeout);
                Err(err)
            }
        }
    }

    /// Whether a draw-time read failed since the last call: the buffer must be drawn
    /// again (its element damaged whole).
    pub fn take_retry(&mut self) -> bool {
        std::mem::take(&mut self.retry)
    }

    /// The YUV encoding the buffer is read with.
    pub fn encoding(&self) -> YuvEncoding {
        self.encoding
    }

    /// Whether the buffer's memory holds the image's last row first.
    pub fn y_inverted(&self) -> bool {
        self.y_invert
    }

    /// Per plane: (texels a row, rows, bytes a texel) of the texture that holds it as it
    /// is: a texel is a block of the format table (packed 4:2:2 such as YUYV: one texel
    /// for two pixels).
    pub fn plane_textures(&self) -> Vec<(usize, usize, usize)> {
        let f = self.format;
        (0..usize::from(f.planes))
            .map(|i| {
                let px = f.plane_width(i, self.width as u32) as usize;
                let blocks = px.div_ceil(usize::from(f.block_width));
                let rows = f.plane_height(i, self.height as u32) as usize;
                (blocks, rows, usize::from(f.block_bytes[i]))
            })
            .collect()
    }

    /// The whole-width rectangle of `rows` of the converted frame, in buffer coordinates.
    pub fn row_region(
        &self,
        rows: Range<usize>,
    ) -> smithay::utils::Rectangle<i32, smithay::utils::Buffer> {
        smithay::utils::Rectangle::new(
            (0, rows.start as i32).into(),
            (self.width as i32, (rows.end - rows.start) as i32).into(),
        )
    }

    /// The bytes this buffer can make resident: its mappings, read whole at the first
    /// commit, and one converted frame (the texture, or the kept frame) — or, for planes
    /// the renderer converts, its plane textures (NV12: 1.5 bytes a pixel, not 4).
    pub fn cost(&self) -> u64 {
        let textures = if self.planes_direct {
            self.plane_textures()
                .iter()
                .map(|(w, h, b)| (w * h * b) as u64)
                .sum()
        } else {
            (self.width * self.height * self.out_bpp) as u64
        };
        self.stats.bytes_mapped + textures
    }

    /// The converted frame's memory, for a renderer that composites from it directly. It
    /// stays at the same address for the buffer's life (it is never resized). None when
    /// the buffer was made without `keep_frame`.
    pub fn frame_ptr(&mut self) -> Option<*mut u32> {
        self.frame.as_mut().map(|f| f.as_mut_ptr())
    }

    /// Re-reads the rows `rows` of the image (buffer coordinates: top row first, whatever
    /// the memory order), converting them in chunks through `scratch`; each chunk goes to
    /// `sink` as (rows of the image, tightly packed converted bytes), and into the kept
    /// frame. Returns the rows of the image that changed.
    ///
    /// When a write fence has not signalled within the bound, nothing is read: the
    /// previous contents stay, the timeout is counted and logged once per buffer.
    pub fn read(
        &mut self,
        rows: Range<usize>,
        scratch: &mut Vec<u8>,
        mut sink: impl FnMut(Range<usize>, &[u8]) -> Result<(), UploadError>,
    ) -> Result<Range<usize>, ReadError> {
        self.read_with(rows, |this, y0, y1| {
            this.convert(y0, y1, scratch, &mut sink)
        })
    }

    /// Like [`CpuBuffer::read`], for a renderer that takes the planes as they are: `sink`
    /// gets the memory rows `y0..y1` (whole chroma rows, in memory order whatever the
    /// y_invert) and the mapped planes, starting at memory row 0, inside the
    /// DMA_BUF_IOCTL_SYNC bracket. Returns the rows of the image that changed.
    pub fn read_planes(
        &mut self,
        rows: Range<usize>,
        mut sink: impl FnMut(Range<usize>, &Planes<'_>) -> Result<(), UploadError>,
    ) -> Result<Range<usize>, ReadError> {
        self.read_with(rows, |this, y0, y1| Ok(sink(y0..y1, &this.planes())?))
    }

    fn planes(&self) -> Planes<'_> {
        mapped_planes(&self.files, &self.planes)
    }

    /// The fence wait and sync bracket around `body`, which reads memory rows `y0..y1`.
    fn read_with(
        &mut self,
        rows: Range<usize>,
        body: impl FnOnce(&mut Self, usize, usize) -> Result<(), ReadError>,
    ) -> Result<Range<usize>, ReadError> {
        let (rows, h) = (
            (rows.start.min(self.height))..rows.end.min(self.height),
            self.height,
        );
        // Memory rows: a y-inverted buffer stores the image's last row first.
        let mem = if self.y_invert {
            h - rows.end..h - rows.start
        } else {
            rows
        };
        let y0 = (mem.start / self.vsub) * self.vsub;
        let y1 = (mem.end.div_ceil(self.vsub) * self.vsub).min(h);
        if y0 >= y1 {
            return Ok(0..0);
        }
        self.bracket(|this| body(this, y0, y1))?;
        if y0 == 0 && y1 == h {
            self.full_pending = false;
        }
        self.stats.rows_converted += (y1 - y0) as u64;
        self.stats.reads += 1;
        Ok(self.image_rows(y0..y1))
    }

    /// The fence wait (bounded, then only polled while a fence is late) and the
    /// DMA_BUF_IOCTL_SYNC START … END bracket around `body`, which reads the mappings.
    fn bracket<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        let dmabuf = self.dmabuf.clone();
        let handles: Vec<BorrowedFd<'_>> = dmabuf.handles().collect();
        let synced: Vec<BorrowedFd<'_>> = self
            .files
            .iter()
            .filter(|f| f.dmabuf)
            .map(|f| handles[f.plane])
            .collect();
        // Poll first, with one bound for all files: SYNC START would wait on the same
        // fences with none.
        let bound = if self.fence_pending {
            Duration::ZERO
        } else {
            FENCE_WAIT
        };
        let signalled = (self.fence_wait)(&synced, bound);
        self.fence_pending = !signalled;
        if !signalled {
            self.stats.fence_timeouts += 1;
            if !self.fence_warned {
                self.fence_warned = true;
                warn!(
                    wait = ?FENCE_WAIT,
                    "a client's write fence did not signal in time: the previous contents stay, \
                     it is read again later (logged once per buffer)"
                );
            }
            return Err(ReadError::FenceTimeout);
        }
        let guard = match SyncGuard::start(synced.iter().copied(), self.sync) {
            Ok(guard) => guard,
            Err((e, calls)) => {
                self.stats.syncs += calls;
                return Err(ReadError::Sync(e));
            }
        };
        let done = body(self);
        self.stats.syncs += guard.finish();
        done
    }

    /// The image rows that memory rows `mem` show.
    fn image_rows(&self, mem: Range<usize>) -> Range<usize> {
        if self.y_invert {
            self.height - mem.end..self.height - mem.start
        } else {
            mem
        }
    }

    fn convert(
        &mut self,
        y0: usize,
        y1: usize,
        scratch: &mut Vec<u8>,
        sink: &mut impl FnMut(Range<usize>, &[u8]) -> Result<(), UploadError>,
    ) -> Result<(), ReadError> {
        // Not `self.planes()`: the kept frame is written while the planes are read.
        let planes = mapped_planes(&self.files, &self.planes);
        let row = self.width * self.out_bpp;
        let chunk = ((CHUNK_BYTES / row.max(1)) / self.vsub * self.vsub).max(self.vsub);
        let (h, encoding) = (self.height, (self.encoding, self.order));
        let mut copy = self.copy.as_mut().and_then(|c| c.map.bytes_mut());
        let mut y = y0;
        while y < y1 {
            let end = (y + chunk).min(y1);
            let bytes = (end - y) * row;
            let image = if self.y_invert {
                h - end..h - y
            } else {
                y..end
            };
            // The copy frame is written in place; otherwise through the scratch chunk.
            let out = match copy.as_deref_mut() {
                Some(frame) => &mut frame[image.start * row..image.end * row],
                None => {
                    if scratch.len() < bytes {
                        scratch.resize(bytes, 0);
                    }
                    &mut scratch[..bytes]
                }
            };
            let (conv, w) = (self.conv, self.width);
            convert_rows_to(conv, &planes, w, y..end, encoding.0, encoding.1, out)?;
            if self.y_invert {
                let n = end - y;
                for i in 0..n / 2 {
                    let (top, bottom) = out.split_at_mut((n - 1 - i) * row);
                    top[i * row..(i + 1) * row].swap_with_slice(&mut bottom[..row]);
                }
            }
            if let Some(frame) = self.frame.as_mut() {
                bytes_mut(frame)[image.start * row..image.end * row].copy_from_slice(out);
            }
            sink(image, out)?;
            y = end;
        }
        Ok(())
    }
}

/// The mapped planes, each from its first byte: (file, offset, stride) per plane.
fn mapped_planes<'a>(files: &'a [MappedFile], planes: &[(usize, usize, usize)]) -> Planes<'a> {
    let mut data: [&[u8]; 3] = [&[], &[], &[]];
    let mut stride = [0usize; 3];
    for (i, &(file, offset, s)) in planes.iter().enumerate() {
        data[i] = &files[file].map.bytes()[offset..];
        stride[i] = s;
    }
    Planes { data, stride }
}

fn bytes_mut(words: &mut [u32]) -> &mut [u8] {
    // SAFETY: plain integers reinterpreted as bytes, within the same exclusive borrow.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 4) }
}

#[cfg(test)]
mod tests;
