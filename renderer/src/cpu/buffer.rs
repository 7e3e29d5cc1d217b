//! One client buffer on the CPU path: its mappings (one per distinct file, however many
//! planes share it), and the converted RGBA frame, re-read row range by row range.

use std::{
    ops::Range,
    os::fd::{AsFd, BorrowedFd},
    time::Duration,
};

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{fd::FdKind, format::FormatInfo};
use smithay::backend::allocator::{dmabuf::Dmabuf, Buffer};
use tracing::warn;

use super::{
    convert::{conversion, convert_rows, Conversion, Planes, YuvEncoding},
    map::{sync_read, wait_for_writers, Mapping, SyncPoint},
};

/// How long a read waits for a client's GPU to finish writing.
const FENCE_WAIT: Duration = Duration::from_millis(100);

/// Counters that go into the import record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStats {
    pub bytes_mapped: u64,
    /// DMA_BUF_IOCTL_SYNC calls made (START and END each count).
    pub syncs: u64,
    pub rows_converted: u64,
    pub reads: u64,
    pub fence_timeouts: u64,
}

struct MappedFile {
    map: Mapping,
    /// Index of the plane whose fd is used for this file's poll and sync.
    plane: usize,
    dmabuf: bool,
}

/// A buffer on the CPU path.
pub struct CpuBuffer {
    dmabuf: Dmabuf,
    conv: Conversion,
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
    /// The converted frame, top row first; u32 words so pixman can use it as an image's
    /// bits (see `upload`).
    words: Vec<u32>,
    pub stats: CpuStats,
}

impl CpuBuffer {
    /// Maps `dmabuf` for the CPU path. `direct` lists the formats the renderer uploads as
    /// they are (no conversion).
    pub fn new(
        dmabuf: &Dmabuf,
        format: &'static FormatInfo,
        kinds: &[FdKind],
        direct: &[Fourcc],
        encoding: YuvEncoding,
    ) -> Result<Self, String> {
        let fourcc = format.fourcc;
        let mut conv =
            conversion(fourcc).ok_or_else(|| format!("the CPU path cannot read {fourcc}"))?;
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
        let handles: Vec<BorrowedFd<'_>> = dmabuf.handles().collect();
        let offsets: Vec<u32> = dmabuf.offsets().collect();
        let strides: Vec<u32> = dmabuf.strides().collect();
        // Planes in the same file are mapped once: same device and inode.
        let mut files: Vec<(u64, u64, usize, usize)> = Vec::new(); // dev, ino, plane, len
        let mut planes = Vec::new();
        for (i, fd) in handles.iter().enumerate() {
            let st = rustix::fs::fstat(fd).map_err(|e| format!("plane {i}: fstat: {e}"))?;
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
            let map = Mapping::new(handles[plane], len)
                .map_err(|e| format!("plane {plane}: mapping {len} bytes failed: {e}"))?;
            stats.bytes_mapped += len as u64;
            mapped.push(MappedFile {
                map,
                plane,
                dmabuf: matches!(kinds.get(plane), Some(FdKind::DmaBuf { .. })),
            });
        }
        Ok(CpuBuffer {
            dmabuf: dmabuf.clone(),
            conv,
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
            words: vec![0; width * height * out_bpp / 4],
            stats,
        })
    }

    /// Sets the YUV encoding the buffer is read with; true when it changed (the whole
    /// buffer must then be read again).
    pub fn set_encoding(&mut self, encoding: YuvEncoding) -> bool {
        let changed = self.encoding != encoding && matches!(self.conv, Conversion::Yuv(_));
        self.encoding = encoding;
        changed
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

    /// The converted frame as bytes, top row first, `width * out_bpp` bytes a row.
    pub fn pixels(&self) -> &[u8] {
        // SAFETY: plain integers reinterpreted as bytes, within the same allocation.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast(), self.words.len() * 4) }
    }

    /// The converted frame's memory, for a renderer that composites from it directly. It
    /// stays at the same address for the buffer's life (it is never resized).
    pub fn pixels_ptr(&mut self) -> *mut u32 {
        self.words.as_mut_ptr()
    }

    /// Re-reads the buffer rows `rows` (memory order) into `pixels`, and returns the rows
    /// of `pixels` that changed (after y-inversion).
    pub fn read(&mut self, rows: Range<usize>) -> Result<Range<usize>, String> {
        let y0 = (rows.start / self.vsub) * self.vsub;
        let y1 = rows.end.div_ceil(self.vsub) * self.vsub;
        let (y0, y1) = (y0.min(self.height), y1.min(self.height));
        if y0 >= y1 {
            return Ok(0..0);
        }
        let dmabuf = self.dmabuf.clone();
        let handles: Vec<BorrowedFd<'_>> = dmabuf.handles().collect();
        for f in self.files.iter().filter(|f| f.dmabuf) {
            if !wait_for_writers(handles[f.plane].as_fd(), FENCE_WAIT) {
                self.stats.fence_timeouts += 1;
                warn!(
                    "a client's write fence did not signal within {FENCE_WAIT:?}; reading anyway"
                );
            }
            sync_read(handles[f.plane], SyncPoint::Start)
                .map_err(|e| format!("DMA_BUF_IOCTL_SYNC start: {e}"))?;
            self.stats.syncs += 1;
        }
        let converted = self.convert(y0, y1);
        for f in self.files.iter().filter(|f| f.dmabuf) {
            match sync_read(handles[f.plane], SyncPoint::End) {
                Ok(()) => self.stats.syncs += 1,
                Err(e) => warn!(%e, "DMA_BUF_IOCTL_SYNC end failed"),
            }
        }
        converted?;
        self.stats.rows_converted += (y1 - y0) as u64;
        self.stats.reads += 1;
        Ok(if self.y_invert {
            self.height - y1..self.height - y0
        } else {
            y0..y1
        })
    }

    fn convert(&mut self, y0: usize, y1: usize) -> Result<(), String> {
        let mut data: [&[u8]; 3] = [&[], &[], &[]];
        let mut stride = [0usize; 3];
        for (i, &(file, offset, s)) in self.planes.iter().enumerate() {
            data[i] = &self.files[file].map.bytes()[offset..];
            stride[i] = s;
        }
        let planes = Planes { data, stride };
        let row = self.width * self.out_bpp;
        // Disjoint fields: the mappings are read while `words` is written.
        let out: &mut [u8] = bytes_mut(&mut self.words);
        if !self.y_invert {
            let out = &mut out[y0 * row..y1 * row];
            return convert_rows(self.conv, &planes, self.width, y0, y1, self.encoding, out);
        }
        let mut tmp = vec![0u8; (y1 - y0) * row];
        convert_rows(
            self.conv,
            &planes,
            self.width,
            y0,
            y1,
            self.encoding,
            &mut tmp,
        )?;
        for (i, src) in tmp.chunks_exact(row).enumerate() {
            let dst = self.height - 1 - (y0 + i);
            out[dst * row..(dst + 1) * row].copy_from_slice(src);
        }
        Ok(())
    }
}

fn bytes_mut(words: &mut [u32]) -> &mut [u8] {
    // SAFETY: plain integers reinterpreted as bytes, within the same exclusive borrow.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 4) }
}
