//! A CPU-path buffer converted at draw time straight into the output's target: one pass
//! over the frame, as for an XR24 buffer's copy.
//!
//! Where a CPU-path buffer of an opaque format would be copied (see `blit`: unscaled,
//! untransformed, opaque, onto an untransformed output with an XR24 target), its element
//! is a `blit::CopyElement` drawn [`Direct`]ly: the draw converts the damaged rectangles of the client's mapped
//! planes into the target's memory (planar's own memfd, mapped here as
//! [`TargetPixels`]), at the element's place, clipped to each rectangle in rows and
//! columns, so that what the damage tracker did not ask for (a window above, outside
//! the damage) is never written. The buffer's copy frame (`cpu::CpuBuffer`) is then not
//! touched; it is brought up to date only for a draw that reads it (scaled, turned, a
//! target that is not XR24, `PLANAR_NO_BLIT` aside: then there is no frame at all).
//!
//! Ordering with the GPU: llvmpipe runs queued quads and clears at its next flush, so
//! before every CPU write the draw finishes the GL work queued so far (glFinish): what is
//! below (and a quad drawn between two direct draws) lands first, what is drawn after
//! lands on top. A glFinish with nothing queued costs little; copies (glBlitFramebuffer)
//! run at once on llvmpipe. Readback reads the target's memory itself after a glFinish
//! (`TargetPixels::rgba`), captures read it through GL, both after the frame: they see the
//! CPU writes.
//!
//! The client's buffer is read at render time: it is the surface's current buffer, which
//! smithay holds (and does not release) until another buffer is committed. The read is
//! inside the same fence wait and DMA_BUF_IOCTL_SYNC bracket as a commit-time read; when
//! a fence has not signalled the draw shows the copy frame (the buffer's rows as last
//! read) as a quad if it is up to date, else leaves the last frame's pixels, and the
//! buffer is drawn again at the next render (the refresh tick's; with frames on demand,
//! at the next commit).
//!
//! Conversions: a rectangle of whole rows that starts and ends on chroma rows, in memory
//! order, is converted straight into the target (the `yuv` crate writes only each row's
//! pixels, never the bytes between). Anything else (a rectangle narrower than the
//! buffer, odd rows of 4:2:0, a y-inverted buffer, the last rows where the target has
//! no whole stride left) goes through a small scratch band of whole buffer rows, and
//! only the rectangle's pixels are copied on: the bytes are those of the whole-frame
//! conversion. A band is converted once for every rectangle in its rows (however finely
//! the damage was cut); a narrow rectangle still converts its rows' full width.

use std::{cell::RefCell, ops::Range, rc::Rc};

use smithay::{
    backend::renderer::Frame,
    utils::{Buffer, Physical, Point, Rectangle, Size, Transform},
};
use tracing::{debug, warn};

use super::{
    convert::{convert_rows_into, Conversion, Order, Out, Planes, YuvEncoding},
    map::Mapping,
    CpuBuffer, ReadError,
};
use crate::blit::CopyDraw;

/// A CPU-path buffer as shared by its cache entry and the elements that draw it in the
/// current render (one thread: the renderer's).
pub type SharedBuffer = Rc<RefCell<CpuBuffer>>;

/// The bytes a scratch band may take: whole buffer rows, at least one chroma row pair
/// (a 1080p band is 32 rows, 240 KB: it stays in cache between conversion and copy).
const BAND_BYTES: usize = 256 << 10;

/// An output target's memory (an XRGB8888 memfd planar made, see `blit::xrgb_target`),
/// mapped for the draws that convert into it.
pub struct TargetPixels {
    map: RefCell<Mapping>,
    size: Size<i32, Physical>,
    stride: usize,
    /// The scratch band of conversions that cannot go straight into the target.
    scratch: RefCell<Vec<u8>>,
}

impl TargetPixels {
    /// The target's writable mapping `map` (from `map::xr24_memfd`: 4 bytes a pixel,
    /// rows tightly packed) of `size`.
    pub(crate) fn new(map: Mapping, size: Size<i32, Physical>) -> Self {
        TargetPixels {
            map: RefCell::new(map),
            size,
            stride: size.w.max(0) as usize * 4,
            scratch: RefCell::new(Vec::new()),
        }
    }

    /// The target as tightly packed RGBA, top row first, once nothing is left to draw into
    /// it (the caller waits for the GL queue). Cheaper than glReadPixels on llvmpipe, which
    /// reads this same memory through its format conversion.
    pub(crate) fn rgba(&self) -> Vec<u8> {
        let map = self.map.borrow();
        let len = self.stride * self.size.h.max(0) as usize;
        let mut out = vec![0; len];
        planar_image::swap_red_blue_opaque(&mut out, &map.bytes()[..len]);
        out
    }

    /// Converts the `damage` rectangles (relative to `dst`, where the buffer region from
    /// `src` is drawn) of `buffer` into the target, clipped to `dst` and the target.
    fn write(
        &self,
        buffer: &mut CpuBuffer,
        src: Point<i32, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
    ) -> Result<(), ReadError> {
        let rects = placements(src, dst, damage, self.size);
        let mut map = self.map.borrow_mut();
        // Always writable (made by `new`); nothing is written otherwise.
        let Some(target) = map.bytes_mut() else {
            return Ok(());
        };
        let mut scratch = self.scratch.borrow_mut();
        buffer.convert_into(&rects, target, self.stride, &mut scratch)
    }
}

/// A rectangle of a buffer's image (top row first) and where its top-left pixel goes in
/// the target (x, y).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub src: Rectangle<i32, Buffer>,
    pub at: (usize, usize),
}

/// The damage rectangles as buffer rectangles and target places, clipped to the
/// element's destination and to the target (negative places cut off).
fn placements(
    src: Point<i32, Buffer>,
    dst: Rectangle<i32, Physical>,
    damage: &[Rectangle<i32, Physical>],
    target: Size<i32, Physical>,
) -> Vec<Placed> {
    let bounds = Rectangle::from_size(dst.size);
    let target = Rectangle::from_size(target);
    damage
        .iter()
        .filter_map(|d| d.intersection(bounds))
        .filter_map(|r| {
            let on = Rectangle::new(dst.loc + r.loc, r.size).intersection(target)?;
            let from = on.loc - dst.loc;
            Some(Placed {
                src: Rectangle::new(
                    (src.x + from.x, src.y + from.y).into(),
                    (on.size.w, on.size.h).into(),
                ),
                at: (on.loc.x as usize, on.loc.y as usize),
            })
        })
        .collect()
}

/// What a conversion of one buffer needs to know about it.
pub struct Spec {
    pub conv: Conversion,
    pub encoding: (YuvEncoding, Order),
    /// Width and height of the image.
    pub size: (usize, usize),
    pub vsub: usize,
    pub y_invert: bool,
}

/// One rectangle's rows that go through the scratch band: its memory rows (whole chroma
/// rows), the image rows and columns it shows, and where its first image row goes.
struct Banded {
    mem: Range<usize>,
    rows: Range<usize>,
    x: Range<usize>,
    at: (usize, usize),
}

/// Converts the rectangles `rects` of the image of `planes` into `target` (rows `stride`
/// bytes apart), each at its place, clipped to the image. Whole chroma rows of the full
/// width go straight in; the rest goes through `scratch` a band of whole rows at a time,
/// each band converted once for all the rectangles in its rows (smithay cuts a window's
/// damage around what lies above it: many narrow pieces of the same rows). Returns the
/// memory rows converted.
pub fn convert_rects(
    spec: &Spec,
    planes: &Planes<'_>,
    rects: &[Placed],
    (target, stride): (&mut [u8], usize),
    scratch: &mut Vec<u8>,
) -> Result<usize, ReadError> {
    let (w, h) = spec.size;
    let image = Rectangle::<i32, Buffer>::from_size((w as i32, h as i32).into());
    let vsub = spec.vsub;
    let mut converted = 0;
    let mut banded = Vec::new();
    for r in rects {
        let Some(clip) = r.src.intersection(image) else {
            continue;
        };
        let at = (
            r.at.0 + (clip.loc.x - r.src.loc.x) as usize,
            r.at.1 + (clip.loc.y - r.src.loc.y) as usize,
        );
        let x = clip.loc.x as usize..(clip.loc.x + clip.size.w) as usize;
        let rows = clip.loc.y as usize..(clip.loc.y + clip.size.h) as usize;
        let mem = if spec.y_invert {
            h - rows.end..h - rows.start
        } else {
            rows.clone()
        };
        let (y0, y1) = (
            mem.start / vsub * vsub,
            (mem.end.div_ceil(vsub) * vsub).min(h),
        );
        let mut next = y0;
        if !spec.y_invert && x == (0..w) && (y0, y1) == (mem.start, mem.end) {
            let offset = at.1 * stride + at.0 * 4;
            // The rows with a whole stride left in the target (the `yuv` crate wants them).
            let fit = target.len().saturating_sub(offset) / stride;
            let n = if fit >= y1 - y0 {
                y1 - y0
            } else {
                fit / vsub * vsub
            };
            if n > 0 {
                let out = Out {
                    bytes: &mut target[offset..],
                    stride,
                };
                convert_rows_into(spec.conv, planes, w, y0..y0 + n, spec.encoding, out)?;
                next = y0 + n;
                converted += n;
            }
        }
        if next < y1 {
            banded.push(Banded {
                mem: next..y1,
                rows,
                x,
                at,
            });
        }
    }
    converted += convert_banded(spec, planes, &mut banded, (target, stride), scratch)?;
    Ok(converted)
}

/// The scratch-band part of [`convert_rects`]: memory rows any of `banded` needs are
/// converted once, a band at a time, and each rectangle's pixels copied out of the band.
/// The rectangles are sorted once and swept (a client can cut its damage into many
/// pieces with windows above it): no rescan of all of them per band.
fn convert_banded(
    spec: &Spec,
    planes: &Planes<'_>,
    banded: &mut [Banded],
    (target, stride): (&mut [u8], usize),
    scratch: &mut Vec<u8>,
) -> Result<usize, ReadError> {
    let (w, h) = spec.size;
    let row = w * 4;
    let band = ((BAND_BYTES / row.max(1)) / spec.vsub * spec.vsub).max(spec.vsub);
    banded.sort_unstable_by_key(|b| b.mem.start);
    // The runs of memory rows without a gap: each starts on a chroma row (a rectangle's
    // start), and bands are whole chroma rows, so every band starts on one.
    let mut runs: Vec<Range<usize>> = Vec::new();
    for b in banded.iter() {
        match runs.last_mut() {
            Some(run) if b.mem.start <= run.end => run.end = run.end.max(b.mem.end),
            _ => runs.push(b.mem.clone()),
        }
    }
    let mut converted = 0;
    // Rectangles before `first` end at or before the current band.
    let mut first = 0;
    for run in runs {
        let mut start = run.start;
        while start < run.end {
            let end = (start + band).min(run.end);
            let len = (end - start) * row;
            if scratch.len() < len {
                scratch.resize(len, 0);
            }
            let out = Out {
                bytes: &mut scratch[..len],
                stride: row,
            };
            convert_rows_into(spec.conv, planes, w, start..end, spec.encoding, out)?;
            converted += end - start;
            while banded.get(first).is_some_and(|b| b.mem.end <= start) {
                first += 1;
            }
            for b in banded[first..].iter().take_while(|b| b.mem.start < end) {
                for m in b.mem.start.max(start)..b.mem.end.min(end) {
                    let y = if spec.y_invert { h - 1 - m } else { m };
                    if !b.rows.contains(&y) {
                        continue;
                    }
                    let from = &scratch[(m - start) * row..][b.x.start * 4..b.x.end * 4];
                    let to = (b.at.1 + y - b.rows.start) * stride + b.at.0 * 4;
                    target[to..to + from.len()].copy_from_slice(from);
                }
            }
            start = end;
        }
    }
    Ok(converted)
}

/// A CPU-path buffer with a copy frame, drawn by converting it straight into the
/// target (see the module header): what a `blit::CopyElement` of its copy frame's
/// texture element holds instead of a copy source.
pub struct Direct {
    pub(crate) buffer: SharedBuffer,
    pub(crate) target: Rc<TargetPixels>,
}

impl Direct {
    /// Converts the `damage` rectangles (relative to `dst`, where the buffer region from
    /// `src` goes) into the target when `copied` (the draw is texel for pixel, unturned,
    /// opaque) and the output is not turned: true. Else the copy frame is brought up to
    /// date for the caller to draw it as a quad: false.
    pub(crate) fn draw<R: CopyDraw>(
        &self,
        frame: &mut R::Frame<'_, '_>,
        copied: bool,
        (src, dst): (Point<i32, Buffer>, Rectangle<i32, Physical>),
        damage: &[Rectangle<i32, Physical>],
    ) -> Result<bool, R::Error> {
        // What is queued so far lands before the CPU writes (see the module header); the
        // frame's own draws may read the copy frame as well.
        R::finish_queued(frame)?;
        let mut buffer = self.buffer.borrow_mut();
        if copied && frame.transformation() == Transform::Normal {
            match self.target.write(&mut buffer, src, dst, damage) {
                Ok(()) => {
                    // Logged at the first write itself (tests look for it).
                    if !std::mem::replace(&mut buffer.went_direct, true) {
                        let (w, h) = (buffer.width, buffer.height);
                        debug!(w, h, "CPU-path buffer converted straight into the target");
                    }
                    return Ok(true);
                }
                // Nothing was written: the damaged area holds the last frame's pixels,
                // not this buffer's (after a late fence the buffer is drawn again next
                // render: `take_retry`). A copy frame with no stale rows holds the buffer
                // as last read: it is drawn instead. One that misses rows (a buffer drawn
                // straight in never fills it: all zeros) would be worse than the last
                // frame, and reading it now would fail the same way.
                Err(err) => {
                    if !matches!(err, ReadError::FenceTimeout) {
                        draw_failed(&mut buffer, &err, "converting it into the target");
                    }
                    if buffer.frame_stale() {
                        return Ok(true);
                    }
                }
            }
        }
        match buffer.refresh_frame() {
            // Warned of once per buffer where the fence wait gave up.
            Ok(()) | Err(ReadError::FenceTimeout) => {}
            Err(err) => draw_failed(&mut buffer, &err, "bringing its copy frame up to date"),
        }
        Ok(false)
    }
}

/// Logs a failed draw-time read at warn once per buffer, then at debug: a buffer that
/// keeps failing is drawn (and fails) every frame.
fn draw_failed(buffer: &mut CpuBuffer, err: &ReadError, doing: &str) {
    if std::mem::replace(&mut buffer.draw_warned, true) {
        debug!(%err, "a CPU-path buffer failed at draw time: {doing}");
    } else {
        warn!(%err, "a CPU-path buffer failed at draw time: {doing} (logged once per buffer)");
    }
}

/// The rows `rows` as one span, widened to take in `more` (empty spans are nothing).
pub(crate) fn span(rows: Range<usize>, more: Range<usize>) -> Range<usize> {
    match (rows.is_empty(), more.is_empty()) {
        (true, _) => more,
        (_, true) => rows,
        _ => rows.start.min(more.start)..rows.end.max(more.end),
    }
}

#[cfg(test)]
mod tests;
