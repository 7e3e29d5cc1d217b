//! Pixel conversion of rows of a mapped buffer into RGBA8 (R, G, B, A bytes), or a plain
//! copy when the renderer takes the buffer's own format.
//!
//! YUV goes through the `yuv` crate (SIMD). RGB is swizzled here: it is a per-pixel shift
//! and mask that the `yuv` crate does not cover for packed 10-bit and 16-bit layouts.
//! 10- and 16-bit formats lose their low bits: the composition target is 8-bit.
//!
//! Every layout fact (channel shifts, bytes per plane, subsampling, chroma order) is read
//! from the format's row in `planar_protocol::format`; only the choice of the `yuv` crate
//! function is made here.
//!
//! Conversions run on rayon's pool in bands of rows (the `yuv` crate's `rayon` feature, and
//! P010's own pre-pass here): the bytes are the same as on one thread, the frame is ready
//! sooner on a machine with a core to spare, and the CPU time per frame grows a little.

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::format::{format_info, Family, FormatInfo};
use rayon::iter::{IndexedParallelIterator, ParallelIterator};
use rayon::slice::ParallelSliceMut;

pub use crate::error::ConvertError;
use yuv::{
    YuvBiPlanarImage, YuvConversionMode, YuvPackedImage, YuvPlanarImage, YuvRange,
    YuvStandardMatrix,
};

/// The rows of one band of P010's split-and-convert (one rayon task): fewer cost more in
/// hand-off than the work they do (a 1080p row is 3840 bytes of luma).
const ROWS_PER_TASK: usize = 16;

/// Which YUV→RGB matrix and range a buffer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YuvEncoding {
    pub matrix: Matrix,
    pub full_range: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matrix {
    #[default]
    Bt601,
    Bt709,
    Bt2020,
}

impl YuvEncoding {
    fn yuv(&self) -> (YuvRange, YuvStandardMatrix) {
        let range = if self.full_range {
            YuvRange::Full
        } else {
            YuvRange::Limited
        };
        let matrix = match self.matrix {
            Matrix::Bt601 => YuvStandardMatrix::Bt601,
            Matrix::Bt709 => YuvStandardMatrix::Bt709,
            Matrix::Bt2020 => YuvStandardMatrix::Bt2020,
        };
        (range, matrix)
    }
}

/// Source planes of a buffer: each a byte slice starting at the plane's first byte, and
/// its stride.
#[derive(Clone, Copy)]
pub struct Planes<'a> {
    pub data: [&'a [u8]; 3],
    pub stride: [usize; 3],
}

/// How a row range of one format becomes RGBA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Rows are copied as they are; the renderer takes the format itself.
    Copy {
        bytes_per_pixel: usize,
    },
    /// Packed RGB: shifts and widths of R, G, B, A in a little-endian word.
    Packed(PackedRgb),
    /// Half-float RGBA/RGBX, channel order as in memory (indices of R, G, B, A; A may be
    /// absent).
    HalfFloat {
        order: [usize; 3],
        alpha: Option<usize>,
    },
    Yuv(Fourcc),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedRgb {
    pub bytes: usize,
    /// (shift, bits) of R, G, B, A; bits 0: absent (0 for colour, opaque for alpha).
    pub channels: [(u8, u8); 4],
}

/// How the CPU path reads `fourcc`, or `None` when it cannot: from its format table row.
pub fn conversion(fourcc: Fourcc) -> Option<Conversion> {
    let info = format_info(fourcc as u32)?;
    Some(match info.family {
        Family::Rgb { channels } => Conversion::Packed(PackedRgb {
            bytes: usize::from(info.block_bytes[0]),
            channels,
        }),
        Family::HalfFloat { order, alpha } => Conversion::HalfFloat {
            order: order.map(usize::from),
            alpha: alpha.map(usize::from),
        },
        Family::SemiPlanarYuv { .. } | Family::PlanarYuv { .. } | Family::PackedYuv422 => {
            Conversion::Yuv(fourcc)
        }
    })
}

/// Whether the CPU path can read `format`: the one answer the advertising, `planar info`
/// and the import decision all use.
pub fn cpu_readable(format: &FormatInfo) -> bool {
    conversion(format.fourcc).is_some()
}

/// Converts rows `y0..y1` of a `width`-wide image into `out`, which holds those rows
/// tightly packed (`width * out_bpp` bytes each; `out_bpp` is 4, or the source's bytes
/// per pixel for [`Conversion::Copy`]). `planes` start at row 0 of the image. For
/// subsampled YUV the caller aligns `y0` and `y1` to the vertical subsampling.
pub fn convert_rows(
    conv: Conversion,
    planes: &Planes<'_>,
    width: usize,
    y0: usize,
    y1: usize,
    encoding: YuvEncoding,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    convert_rows_to(conv, planes, width, y0..y1, encoding, Order::Rgba, out)
}

/// The byte order of a converted pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// R, G, B, A: what an ABGR8888/XBGR8888 texture holds.
    #[default]
    Rgba,
    /// B, G, R, A: an XRGB8888 buffer's bytes (the copy path's frame, see `blit`). The
    /// `yuv` crate writes it directly, with the same arithmetic as RGBA.
    Bgra,
}

/// [`convert_rows`] into pixels of `order` (ignored by [`Conversion::Copy`]).
pub fn convert_rows_to(
    conv: Conversion,
    planes: &Planes<'_>,
    width: usize,
    ys: std::ops::Range<usize>,
    encoding: YuvEncoding,
    order: Order,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let bpp = match conv {
        Conversion::Copy { bytes_per_pixel } => bytes_per_pixel,
        _ => 4,
    };
    let into = Out {
        bytes: out,
        stride: width * bpp,
    };
    convert_rows_into(conv, planes, width, ys, (encoding, order), into)
}

/// Where converted rows go: row `i` of a conversion starts at `bytes[i * stride]`, and
/// only its `width` pixels are written (the bytes between rows are left alone, so rows
/// can go straight into a wider image, such as an output's target).
pub struct Out<'a> {
    pub bytes: &'a mut [u8],
    pub stride: usize,
}

/// [`convert_rows_to`] into rows `out.stride` bytes apart. `out.bytes` must hold
/// `stride` bytes for every row (the last one too: the `yuv` crate walks its output in
/// whole strides and skips a short last row).
pub fn convert_rows_into(
    conv: Conversion,
    planes: &Planes<'_>,
    width: usize,
    ys: std::ops::Range<usize>,
    (encoding, order): (YuvEncoding, Order),
    out: Out<'_>,
) -> Result<(), ConvertError> {
    let (y0, y1) = (ys.start, ys.end);
    let (stride, out) = (out.stride, out.bytes);
    let need = stride * (y1 - y0);
    if out.len() < need {
        return Err(ConvertError::ShortOutput {
            len: out.len(),
            need,
        });
    }
    // Where R and B go in an output pixel.
    let (r, b) = match order {
        Order::Rgba => (0, 2),
        Order::Bgra => (2, 0),
    };
    match conv {
        Conversion::Copy { bytes_per_pixel } => {
            let row = width * bytes_per_pixel;
            for (i, y) in (y0..y1).enumerate() {
                let src = &planes.data[0][y * planes.stride[0]..][..row];
                out[i * stride..][..row].copy_from_slice(src);
            }
            Ok(())
        }
        Conversion::Packed(p) => {
            for (i, y) in (y0..y1).enumerate() {
                let src = &planes.data[0][y * planes.stride[0]..][..width * p.bytes];
                let dst = &mut out[i * stride..][..width * 4];
                packed_row(p, src, dst, (r, b));
            }
            Ok(())
        }
        Conversion::HalfFloat { order, alpha } => {
            for (i, y) in (y0..y1).enumerate() {
                let src = &planes.data[0][y * planes.stride[0]..][..width * 8];
                let dst = &mut out[i * stride..][..width * 4];
                for (s, d) in src.chunks_exact(8).zip(dst.chunks_exact_mut(4)) {
                    let ch = |k: usize| {
                        let v = half::f16::from_le_bytes([s[2 * k], s[2 * k + 1]]).to_f32();
                        (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
                    };
                    d[r] = ch(order[0]);
                    d[1] = ch(order[1]);
                    d[b] = ch(order[2]);
                    d[3] = alpha.map_or(255, ch);
                }
            }
            Ok(())
        }
        Conversion::Yuv(fourcc) => {
            let out = Out { bytes: out, stride };
            yuv_rows((fourcc, width), planes, y0..y1, (encoding, order), out)
        }
    }
}

/// One row of packed RGB; `(r, b)`: where red and blue go in an output pixel.
fn packed_row(p: PackedRgb, src: &[u8], dst: &mut [u8], (r, b): (usize, usize)) {
    let scale = |word: u64, (shift, bits): (u8, u8), absent: u8| -> u8 {
        if bits == 0 {
            return absent;
        }
        let v = (word >> shift) & ((1u64 << bits) - 1);
        if bits >= 8 {
            (v >> (bits - 8)) as u8
        } else {
            // Replicate the top bits so that full scale maps to 255.
            ((v * 255 + ((1 << bits) - 1) / 2) / ((1 << bits) - 1)) as u8
        }
    };
    for (s, d) in src.chunks_exact(p.bytes).zip(dst.chunks_exact_mut(4)) {
        let mut word = [0u8; 8];
        word[..p.bytes].copy_from_slice(s);
        let w = u64::from_le_bytes(word);
        d[r] = scale(w, p.channels[0], 0);
        d[1] = scale(w, p.channels[1], 0);
        d[b] = scale(w, p.channels[2], 0);
        d[3] = scale(w, p.channels[3], 255);
    }
}

fn rows(plane: &[u8], stride: usize, first: usize, count: usize, row_bytes: usize) -> &[u8] {
    // The slice the yuv crate reads: `count` whole rows from `first` (some of its checks
    // want stride * height); the last row only as long as it needs to be when the plane
    // ends right after its last pixel.
    let start = first * stride;
    let whole = count * stride;
    let len = if count == 0 || start + whole <= plane.len() {
        whole
    } else {
        (count - 1) * stride + row_bytes
    };
    &plane[start..start + len]
}

/// Rows `ys` of a YUV image, through the `yuv` crate function for its family.
fn yuv_rows(
    (fourcc, width): (Fourcc, usize),
    pl: &Planes<'_>,
    ys: std::ops::Range<usize>,
    (enc, order): (YuvEncoding, Order),
    out: Out<'_>,
) -> Result<(), ConvertError> {
    let bgra = order == Order::Bgra;
    // The `yuv` crate has one function per output order; `pick` takes the BGRA one when
    // asked (function items of one signature coerce to one pointer type).
    macro_rules! pick {
        ($rgba:path, $bgra:path) => {
            if bgra {
                $bgra
            } else {
                $rgba
            }
        };
    }
    let info = format_info(fourcc as u32)
        .filter(|i| i.yuv)
        .ok_or(ConvertError::NotYuv(fourcc))?;
    let (range, matrix) = enc.yuv();
    let (y0, h) = (ys.start, ys.len());
    let w32 = width as u32;
    let out_stride = u32::try_from(out.stride).map_err(|_| ConvertError::ShortOutput {
        len: out.bytes.len(),
        need: out.stride,
    })?;
    let out = out.bytes;
    let err = |source| ConvertError::Yuv { fourcc, source };
    let vsub = usize::from(info.vsub);
    // The bytes a tight row of `plane` takes, from the table (small: `width` fits in i32).
    let row = |plane: usize| info.min_stride(plane, w32).unwrap_or(u64::MAX) as usize;
    let luma = || rows(pl.data[0], pl.stride[0], y0, h, row(0));
    let chroma = |plane: usize| {
        rows(
            pl.data[plane],
            pl.stride[plane],
            y0 / vsub,
            h.div_ceil(vsub),
            row(plane),
        )
    };
    let sub = (info.hsub, info.vsub);
    match info.family {
        Family::SemiPlanarYuv { .. } if info.block_bytes[0] == 2 => p01x_rows(
            info,
            pl,
            width,
            ys,
            (range, matrix, order),
            out,
            out_stride as usize,
        )
        .map_err(err),
        Family::SemiPlanarYuv { swap_uv } => {
            let img = YuvBiPlanarImage {
                y_plane: luma(),
                y_stride: pl.stride[0] as u32,
                uv_plane: chroma(1),
                uv_stride: pl.stride[1] as u32,
                width: w32,
                height: h as u32,
            };
            let mode = YuvConversionMode::Balanced;
            match (swap_uv, sub) {
                (false, (2, 2)) => pick!(yuv::yuv_nv12_to_rgba, yuv::yuv_nv12_to_bgra)(
                    &img, out, out_stride, range, matrix, mode,
                ),
                (true, (2, 2)) => pick!(yuv::yuv_nv21_to_rgba, yuv::yuv_nv21_to_bgra)(
                    &img, out, out_stride, range, matrix, mode,
                ),
                (false, (2, 1)) => pick!(yuv::yuv_nv16_to_rgba, yuv::yuv_nv16_to_bgra)(
                    &img, out, out_stride, range, matrix, mode,
                ),
                (true, (2, 1)) => pick!(yuv::yuv_nv61_to_rgba, yuv::yuv_nv61_to_bgra)(
                    &img, out, out_stride, range, matrix, mode,
                ),
                (false, _) => pick!(yuv::yuv_nv24_to_rgba, yuv::yuv_nv24_to_bgra)(
                    &img, out, out_stride, range, matrix, mode,
                ),
                (true, _) => pick!(yuv::yuv_nv42_to_rgba, yuv::yuv_nv42_to_bgra)(
                    &img, out, out_stride, range, matrix, mode,
                ),
            }
            .map_err(err)
        }
        Family::PlanarYuv { swap_uv } => {
            let (u, v) = if swap_uv { (2, 1) } else { (1, 2) };
            let img = YuvPlanarImage {
                y_plane: luma(),
                y_stride: pl.stride[0] as u32,
                u_plane: chroma(u),
                u_stride: pl.stride[u] as u32,
                v_plane: chroma(v),
                v_stride: pl.stride[v] as u32,
                width: w32,
                height: h as u32,
            };
            match sub {
                (2, 2) => pick!(yuv::yuv420_to_rgba, yuv::yuv420_to_bgra)(
                    &img, out, out_stride, range, matrix,
                ),
                (2, 1) => pick!(yuv::yuv422_to_rgba, yuv::yuv422_to_bgra)(
                    &img, out, out_stride, range, matrix,
                ),
                _ => pick!(yuv::yuv444_to_rgba, yuv::yuv444_to_bgra)(
                    &img, out, out_stride, range, matrix,
                ),
            }
            .map_err(err)
        }
        Family::PackedYuv422 => {
            let img = YuvPackedImage {
                yuy: luma(),
                yuy_stride: pl.stride[0] as u32,
                width: w32,
                height: h as u32,
            };
            // The component order is the fourcc itself; the table has no column for it.
            match fourcc {
                Fourcc::Yuyv => pick!(yuv::yuyv422_to_rgba, yuv::yuyv422_to_bgra)(
                    &img, out, out_stride, range, matrix,
                ),
                Fourcc::Yvyu => pick!(yuv::yvyu422_to_rgba, yuv::yvyu422_to_bgra)(
                    &img, out, out_stride, range, matrix,
                ),
                Fourcc::Uyvy => pick!(yuv::uyvy422_to_rgba, yuv::uyvy422_to_bgra)(
                    &img, out, out_stride, range, matrix,
                ),
                _ => pick!(yuv::vyuy422_to_rgba, yuv::vyuy422_to_bgra)(
                    &img, out, out_stride, range, matrix,
                ),
            }
            .map_err(err)
        }
        Family::Rgb { .. } | Family::HalfFloat { .. } => Err(ConvertError::NotYuv(fourcc)),
    }
}

/// P010/P012/P016: MSB-aligned 16-bit samples, interleaved chroma. The `yuv` crate's own
/// p010 path has no x86 SIMD (40–110x a memcpy here), so the samples are shifted down to
/// 10 bits and split into an I010 layout, which `i010_to_rgba` converts with AVX2. The
/// split is made band by band ([`ROWS_PER_TASK`] rows, bands in parallel on rayon) into a
/// per-thread scratch of one band (~90 KB at 1080p: it stays in cache), each band
/// converted right after its split, rather than a whole-frame I010 pre-pass (6 MB at
/// 1080p written, then read back).
fn p01x_rows(
    info: &FormatInfo,
    pl: &Planes<'_>,
    width: usize,
    ys: std::ops::Range<usize>,
    (range, matrix, order): (YuvRange, YuvStandardMatrix, Order),
    out: &mut [u8],
    stride: usize,
) -> Result<(), yuv::YuvError> {
    let (y0, y1) = (ys.start, ys.end);
    thread_local! {
        // One band's I010 planes, reused from band to band on each thread.
        static SCRATCH: std::cell::RefCell<[Vec<u16>; 3]> = const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    }
    let vsub = usize::from(info.vsub);
    let cw = info.plane_width(1, width as u32) as usize;
    // Bands start on a chroma row: y0 is aligned to the subsampling by the caller.
    let band = ROWS_PER_TASK.div_ceil(vsub) * vsub;
    let convert = match order {
        Order::Rgba => yuv::i010_to_rgba,
        Order::Bgra => yuv::i010_to_bgra,
    };
    let out = &mut out[..(y1 - y0) * stride];
    out.par_chunks_mut(band * stride)
        .enumerate()
        .try_for_each(|(b, dst)| {
            let top = y0 + b * band;
            let h = band.min(y1 - top);
            let ch = h.div_ceil(vsub);
            SCRATCH.with_borrow_mut(|[y, u, v]| {
                y.resize(width * h, 0);
                u.resize(cw * ch, 0);
                v.resize(cw * ch, 0);
                for (r, dst) in y.chunks_exact_mut(width).enumerate() {
                    let src = &pl.data[0][(top + r) * pl.stride[0]..][..width * 2];
                    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                        *d = u16::from_le_bytes([s[0], s[1]]) >> 6;
                    }
                }
                let chroma = u.chunks_exact_mut(cw).zip(v.chunks_exact_mut(cw));
                for (r, (ur, vr)) in chroma.enumerate() {
                    let src = &pl.data[1][(top / vsub + r) * pl.stride[1]..][..cw * 4];
                    let samples = ur.iter_mut().zip(vr.iter_mut()).zip(src.chunks_exact(4));
                    for ((du, dv), s) in samples {
                        *du = u16::from_le_bytes([s[0], s[1]]) >> 6;
                        *dv = u16::from_le_bytes([s[2], s[3]]) >> 6;
                    }
                }
                let img = YuvPlanarImage {
                    y_plane: y,
                    y_stride: width as u32,
                    u_plane: u,
                    u_stride: cw as u32,
                    v_plane: v,
                    v_stride: cw as u32,
                    width: width as u32,
                    height: h as u32,
                };
                convert(&img, dst, stride as u32, range, matrix)
            })
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn one_px(fourcc: Fourcc, bytes: &[u8]) -> [u8; 4] {
        let conv = conversion(fourcc).unwrap();
        let planes = Planes {
            data: [bytes, &[], &[]],
            stride: [bytes.len(), 0, 0],
        };
        let mut out = [0u8; 4];
        convert_rows(conv, &planes, 1, 0, 1, YuvEncoding::default(), &mut out).unwrap();
        out
    }

    #[test]
    fn packed_rgb_channel_orders() {
        // Memory bytes of one pixel, red (255, 0, 0) with alpha 0x80 where there is one.
        let cases: &[(Fourcc, &[u8], [u8; 4])] = &[
            (Fourcc::Argb8888, &[0, 0, 255, 0x80], [255, 0, 0, 0x80]),
            (Fourcc::Xrgb8888, &[0, 0, 255, 0x12], [255, 0, 0, 255]),
            (Fourcc::Abgr8888, &[255, 0, 0, 0x80], [255, 0, 0, 0x80]),
            (Fourcc::Rgba8888, &[0x80, 0, 0, 255], [255, 0, 0, 0x80]),
            (Fourcc::Bgrx8888, &[0, 255, 0, 0], [255, 0, 0, 255]),
            (Fourcc::Rgb888, &[0, 0, 255], [255, 0, 0, 255]),
            (Fourcc::Bgr888, &[255, 0, 0], [255, 0, 0, 255]),
            (Fourcc::Rgb565, &0xf800u16.to_le_bytes(), [255, 0, 0, 255]),
            (Fourcc::Rgb565, &0x07e0u16.to_le_bytes(), [0, 255, 0, 255]),
            (
                Fourcc::Xrgb2101010,
                &(0x3ffu32 << 20).to_le_bytes(),
                [255, 0, 0, 255],
            ),
            (
                Fourcc::Argb2101010,
                &(0xc000_03ffu32).to_le_bytes(),
                [0, 0, 255, 255],
            ),
            (Fourcc::Gr88, &[200, 100], [200, 100, 0, 255]),
        ];
        for (fourcc, bytes, want) in cases {
            assert_eq!(one_px(*fourcc, bytes), *want, "{fourcc}");
        }
        let half_red: Vec<u8> = [1.0f32, 0.0, 0.0, 1.0]
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        assert_eq!(one_px(Fourcc::Abgr16161616f, &half_red), [255, 0, 0, 255]);
        assert_eq!(one_px(Fourcc::Argb16161616f, &half_red), [0, 0, 255, 255]);
    }

    #[test]
    fn nv12_limited_bt601_grey_and_red() {
        // 2x2 NV12: Y=235 (white), neutral chroma.
        let y = [235u8; 4];
        let uv = [128u8, 128];
        let planes = Planes {
            data: [&y, &uv, &[]],
            stride: [2, 2, 0],
        };
        let mut out = [0u8; 16];
        convert_rows(
            conversion(Fourcc::Nv12).unwrap(),
            &planes,
            2,
            0,
            2,
            YuvEncoding::default(),
            &mut out,
        )
        .unwrap();
        assert!(
            out.chunks(4)
                .all(|p| p[0] >= 253 && p[1] >= 253 && p[2] >= 253 && p[3] == 255),
            "{out:?}"
        );
    }

    /// Every YUV format converts planes sized exactly as its table row says (stride the
    /// row's minimum, rows its subsampled height), at odd sizes, whole and in chunks of
    /// its vertical subsampling, and neutral chroma gives grey: convert reads the same
    /// subsampling, bytes per plane and chroma layout as validation.
    #[test]
    fn subsampling_used_by_convert_matches_the_table() {
        use planar_protocol::format::FORMATS;
        for info in FORMATS.iter().filter(|f| f.yuv) {
            for (w, h) in [(1u32, 1u32), (3, 5), (17, 9), (64, 2)] {
                // Mid-scale samples: 0x80 bytes, or 0x8000 little-endian 16-bit samples.
                let mid: &[u8] = if info.block_bytes[0] == 2 {
                    &[0x00, 0x80]
                } else {
                    &[0x80]
                };
                let bufs = plane_bufs(info, w as usize, h as usize, |len| {
                    mid.iter().copied().cycle().take(len).collect()
                });
                let planes = planes_of(&bufs);
                let conv = conversion(info.fourcc).unwrap();
                let (w, h) = (w as usize, h as usize);
                let mut whole = vec![0u8; w * h * 4];
                let enc = YuvEncoding::default();
                convert_rows(conv, &planes, w, 0, h, enc, &mut whole)
                    .unwrap_or_else(|e| panic!("{} {w}x{h}: {e}", info.name));
                let vsub = usize::from(info.vsub);
                let mut chunked = vec![0u8; w * h * 4];
                for y in (0..h).step_by(vsub) {
                    let end = (y + vsub).min(h);
                    let out = &mut chunked[y * w * 4..end * w * 4];
                    convert_rows(conv, &planes, w, y, end, enc, out)
                        .unwrap_or_else(|e| panic!("{} {w}x{h} rows {y}..{end}: {e}", info.name));
                }
                assert_eq!(whole, chunked, "{} {w}x{h}", info.name);
                for px in whole.chunks(4) {
                    let grey = px[0].abs_diff(px[1]) <= 2 && px[1].abs_diff(px[2]) <= 2;
                    assert!(grey && px[3] == 255, "{} {w}x{h}: {px:?}", info.name);
                }
            }
        }
    }

    /// Tight planes of `info` at `w`x`h`, each filled by `fill(len)`, with their strides.
    fn plane_bufs(
        info: &FormatInfo,
        w: usize,
        h: usize,
        mut fill: impl FnMut(usize) -> Vec<u8>,
    ) -> Vec<(Vec<u8>, usize)> {
        (0..usize::from(info.planes))
            .map(|p| {
                let stride = info.min_stride(p, w as u32).unwrap() as usize;
                (
                    fill(stride * info.plane_height(p, h as u32) as usize),
                    stride,
                )
            })
            .collect()
    }

    /// Pseudo-random bytes (xorshift32 from `seed`), `len` at a time.
    fn noise(mut seed: u32) -> impl FnMut(usize) -> Vec<u8> {
        move |len| {
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed >> 24) as u8
                })
                .collect()
        }
    }

    /// Calls `f` with every format the CPU path reads, on `w` x `h` planes of noise.
    pub(crate) fn each_cpu_format(
        w: usize,
        h: usize,
        seed: u32,
        mut f: impl FnMut(&FormatInfo, Conversion, &Planes<'_>),
    ) {
        let mut noise = noise(seed);
        for info in planar_protocol::format::FORMATS.iter() {
            if let Some(conv) = conversion(info.fourcc) {
                let bufs = plane_bufs(info, w, h, &mut noise);
                f(info, conv, &planes_of(&bufs));
            }
        }
    }

    fn planes_of(bufs: &[(Vec<u8>, usize)]) -> Planes<'_> {
        let mut planes = Planes {
            data: [&[], &[], &[]],
            stride: [0; 3],
        };
        for (i, (data, stride)) in bufs.iter().enumerate() {
            planes.data[i] = data;
            planes.stride[i] = *stride;
        }
        planes
    }

    /// BGRA (the copy frame) is RGBA with red and blue swapped, for every format the CPU
    /// path reads, on pseudo-random samples at an odd size: the copy path shows the
    /// pixels the uploaded texture showed.
    #[test]
    fn bgra_is_rgba_with_red_and_blue_swapped() {
        let (w, h) = (37usize, 11usize);
        each_cpu_format(w, h, 0x2545_f491, |info, conv, planes| {
            let enc = YuvEncoding {
                matrix: Matrix::Bt709,
                full_range: false,
            };
            // Different fillings: a conversion that wrote nothing would leave them unequal.
            let (mut rgba, mut bgra) = (vec![0xaa; w * h * 4], vec![0x55; w * h * 4]);
            convert_rows_to(conv, planes, w, 0..h, enc, Order::Rgba, &mut rgba).unwrap();
            convert_rows_to(conv, planes, w, 0..h, enc, Order::Bgra, &mut bgra).unwrap();
            for px in bgra.chunks_exact_mut(4) {
                px.swap(0, 2);
            }
            assert!(rgba == bgra, "{}: BGRA differs from RGBA", info.name);
        });
    }

    /// Rows converted in parallel bands (the `yuv` crate's `rayon` feature, P010's pre-pass)
    /// are the bytes one thread makes, for every format the CPU path reads, at an odd size
    /// tall enough to be split into several tasks.
    #[test]
    fn parallel_bands_match_one_thread() {
        let (w, h) = (37usize, 8 * ROWS_PER_TASK + 2);
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        let (one, four) = (pool(1), pool(4));
        each_cpu_format(w, h, 0x9e37_79b9, |info, conv, planes| {
            let enc = YuvEncoding {
                matrix: Matrix::Bt2020,
                full_range: true,
            };
            // Each run starts from its own filling: rows one of them left unwritten differ.
            let run = |p: &rayon::ThreadPool, fill: u8| {
                let mut out = vec![fill; w * h * 4];
                p.install(|| convert_rows_to(conv, planes, w, 0..h, enc, Order::Bgra, &mut out))
                    .unwrap();
                out
            };
            let banded = run(&four, 0x55);
            assert!(
                run(&one, 0xaa) == banded,
                "{}: parallel bands differ",
                info.name
            );
            // Against conversions too short to be cut into bands (one chroma row pair at a
            // time): a mistake at a band's edge gives the same wrong bytes on any number
            // of threads, not these.
            let step = if info.yuv { usize::from(info.vsub) } else { 1 };
            let mut rows = vec![0x33u8; w * h * 4];
            for y in (0..h).step_by(step) {
                let end = (y + step).min(h);
                let out = &mut rows[y * w * 4..end * w * 4];
                convert_rows_to(conv, planes, w, y..end, enc, Order::Bgra, out).unwrap();
            }
            assert!(banded == rows, "{}: bands differ from row pairs", info.name);
        });
    }
}
