//! Pixel conversion of rows of a mapped buffer into RGBA8 (R, G, B, A bytes), or a plain
//! copy when the renderer takes the buffer's own format.
//!
//! YUV goes through the `yuv` crate (SIMD). RGB is swizzled here: it is a per-pixel shift
//! and mask that the `yuv` crate does not cover for packed 10-bit and 16-bit layouts.
//! 10- and 16-bit formats lose their low bits: the composition target is 8-bit.

use drm_fourcc::DrmFourcc as Fourcc;
use yuv::{
    YuvBiPlanarImage, YuvConversionMode, YuvPackedImage, YuvPlanarImage, YuvRange,
    YuvStandardMatrix,
};

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

const fn p(bytes: usize, r: (u8, u8), g: (u8, u8), b: (u8, u8), a: (u8, u8)) -> Conversion {
    Conversion::Packed(PackedRgb {
        bytes,
        channels: [r, g, b, a],
    })
}

/// How the CPU path reads `fourcc`, or `None` when it cannot.
pub fn conversion(fourcc: Fourcc) -> Option<Conversion> {
    use Fourcc::*;
    const N: (u8, u8) = (0, 0);
    Some(match fourcc {
        Argb8888 => p(4, (16, 8), (8, 8), (0, 8), (24, 8)),
        Xrgb8888 => p(4, (16, 8), (8, 8), (0, 8), N),
        Abgr8888 => p(4, (0, 8), (8, 8), (16, 8), (24, 8)),
        Xbgr8888 => p(4, (0, 8), (8, 8), (16, 8), N),
        Rgba8888 => p(4, (24, 8), (16, 8), (8, 8), (0, 8)),
        Rgbx8888 => p(4, (24, 8), (16, 8), (8, 8), N),
        Bgra8888 => p(4, (8, 8), (16, 8), (24, 8), (0, 8)),
        Bgrx8888 => p(4, (8, 8), (16, 8), (24, 8), N),
        Rgb888 => p(3, (16, 8), (8, 8), (0, 8), N),
        Bgr888 => p(3, (0, 8), (8, 8), (16, 8), N),
        Rgb565 => p(2, (11, 5), (5, 6), (0, 5), N),
        Bgr565 => p(2, (0, 5), (5, 6), (11, 5), N),
        Argb2101010 => p(4, (20, 10), (10, 10), (0, 10), (30, 2)),
        Xrgb2101010 => p(4, (20, 10), (10, 10), (0, 10), N),
        Abgr2101010 => p(4, (0, 10), (10, 10), (20, 10), (30, 2)),
        Xbgr2101010 => p(4, (0, 10), (10, 10), (20, 10), N),
        Rgba1010102 => p(4, (22, 10), (12, 10), (2, 10), (0, 2)),
        Rgbx1010102 => p(4, (22, 10), (12, 10), (2, 10), N),
        Bgra1010102 => p(4, (2, 10), (12, 10), (22, 10), (0, 2)),
        Bgrx1010102 => p(4, (2, 10), (12, 10), (22, 10), N),
        R8 => p(1, (0, 8), N, N, N),
        R16 => p(2, (0, 16), N, N, N),
        Gr88 => p(2, (0, 8), (8, 8), N, N),
        Rg88 => p(2, (8, 8), (0, 8), N, N),
        Gr1616 => p(4, (0, 16), (16, 16), N, N),
        Rg1616 => p(4, (16, 16), (0, 16), N, N),
        Abgr16161616f => Conversion::HalfFloat {
            order: [0, 1, 2],
            alpha: Some(3),
        },
        Xbgr16161616f => Conversion::HalfFloat {
            order: [0, 1, 2],
            alpha: None,
        },
        Argb16161616f => Conversion::HalfFloat {
            order: [2, 1, 0],
            alpha: Some(3),
        },
        Xrgb16161616f => Conversion::HalfFloat {
            order: [2, 1, 0],
            alpha: None,
        },
        Nv12 | Nv21 | Nv16 | Nv61 | Nv24 | Nv42 | P010 | P012 | P016 | Yuv420 | Yvu420 | Yuv422
        | Yvu422 | Yuv444 | Yvu444 | Yuyv | Yvyu | Uyvy | Vyuy => Conversion::Yuv(fourcc),
        _ => return None,
    })
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
) -> Result<(), String> {
    match conv {
        Conversion::Copy { bytes_per_pixel } => {
            let row = width * bytes_per_pixel;
            for (i, y) in (y0..y1).enumerate() {
                let src = &planes.data[0][y * planes.stride[0]..][..row];
                out[i * row..(i + 1) * row].copy_from_slice(src);
            }
            Ok(())
        }
        Conversion::Packed(p) => {
            for (i, y) in (y0..y1).enumerate() {
                let src = &planes.data[0][y * planes.stride[0]..][..width * p.bytes];
                let dst = &mut out[i * width * 4..(i + 1) * width * 4];
                packed_row(p, src, dst);
            }
            Ok(())
        }
        Conversion::HalfFloat { order, alpha } => {
            for (i, y) in (y0..y1).enumerate() {
                let src = &planes.data[0][y * planes.stride[0]..][..width * 8];
                let dst = &mut out[i * width * 4..(i + 1) * width * 4];
                for (s, d) in src.chunks_exact(8).zip(dst.chunks_exact_mut(4)) {
                    let ch = |k: usize| {
                        let v = half::f16::from_le_bytes([s[2 * k], s[2 * k + 1]]).to_f32();
                        (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
                    };
                    d.copy_from_slice(&[
                        ch(order[0]),
                        ch(order[1]),
                        ch(order[2]),
                        alpha.map_or(255, ch),
                    ]);
                }
            }
            Ok(())
        }
        Conversion::Yuv(fourcc) => yuv_rows(fourcc, planes, width, y0, y1, encoding, out),
    }
}

fn packed_row(p: PackedRgb, src: &[u8], dst: &mut [u8]) {
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
        d[0] = scale(w, p.channels[0], 0);
        d[1] = scale(w, p.channels[1], 0);
        d[2] = scale(w, p.channels[2], 0);
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

fn yuv_rows(
    fourcc: Fourcc,
    pl: &Planes<'_>,
    width: usize,
    y0: usize,
    y1: usize,
    enc: YuvEncoding,
    out: &mut [u8],
) -> Result<(), String> {
    use Fourcc::*;
    let (range, matrix) = enc.yuv();
    let h = y1 - y0;
    let w32 = width as u32;
    let out_stride = w32 * 4;
    let err = |e: yuv::YuvError| format!("{fourcc} conversion failed: {e}");
    let cw = width.div_ceil(2);
    match fourcc {
        Nv12 | Nv21 | Nv16 | Nv61 | Nv24 | Nv42 => {
            let (vsub, uv_row) = match fourcc {
                Nv12 | Nv21 => (2, cw * 2),
                Nv16 | Nv61 => (1, cw * 2),
                _ => (1, width * 2),
            };
            let img = YuvBiPlanarImage {
                y_plane: rows(pl.data[0], pl.stride[0], y0, h, width),
                y_stride: pl.stride[0] as u32,
                uv_plane: rows(
                    pl.data[1],
                    pl.stride[1],
                    y0 / vsub,
                    h.div_ceil(vsub),
                    uv_row,
                ),
                uv_stride: pl.stride[1] as u32,
                width: w32,
                height: h as u32,
            };
            let mode = YuvConversionMode::Balanced;
            match fourcc {
                Nv12 => yuv::yuv_nv12_to_rgba(&img, out, out_stride, range, matrix, mode),
                Nv21 => yuv::yuv_nv21_to_rgba(&img, out, out_stride, range, matrix, mode),
                Nv16 => yuv::yuv_nv16_to_rgba(&img, out, out_stride, range, matrix, mode),
                Nv61 => yuv::yuv_nv61_to_rgba(&img, out, out_stride, range, matrix, mode),
                Nv24 => yuv::yuv_nv24_to_rgba(&img, out, out_stride, range, matrix, mode),
                _ => yuv::yuv_nv42_to_rgba(&img, out, out_stride, range, matrix, mode),
            }
            .map_err(err)
        }
        Yuv420 | Yvu420 | Yuv422 | Yvu422 | Yuv444 | Yvu444 => {
            let (vsub, c) = match fourcc {
                Yuv420 | Yvu420 => (2, cw),
                Yuv422 | Yvu422 => (1, cw),
                _ => (1, width),
            };
            let (u, v) = if matches!(fourcc, Yvu420 | Yvu422 | Yvu444) {
                (2, 1)
            } else {
                (1, 2)
            };
            let img = YuvPlanarImage {
                y_plane: rows(pl.data[0], pl.stride[0], y0, h, width),
                y_stride: pl.stride[0] as u32,
                u_plane: rows(pl.data[u], pl.stride[u], y0 / vsub, h.div_ceil(vsub), c),
                u_stride: pl.stride[u] as u32,
                v_plane: rows(pl.data[v], pl.stride[v], y0 / vsub, h.div_ceil(vsub), c),
                v_stride: pl.stride[v] as u32,
                width: w32,
                height: h as u32,
            };
            match fourcc {
                Yuv420 | Yvu420 => yuv::yuv420_to_rgba(&img, out, out_stride, range, matrix),
                Yuv422 | Yvu422 => yuv::yuv422_to_rgba(&img, out, out_stride, range, matrix),
                _ => yuv::yuv444_to_rgba(&img, out, out_stride, range, matrix),
            }
            .map_err(err)
        }
        Yuyv | Yvyu | Uyvy | Vyuy => {
            let img = YuvPackedImage {
                yuy: rows(pl.data[0], pl.stride[0], y0, h, cw * 4),
                yuy_stride: pl.stride[0] as u32,
                width: w32,
                height: h as u32,
            };
            match fourcc {
                Yuyv => yuv::yuyv422_to_rgba(&img, out, out_stride, range, matrix),
                Yvyu => yuv::yvyu422_to_rgba(&img, out, out_stride, range, matrix),
                Uyvy => yuv::uyvy422_to_rgba(&img, out, out_stride, range, matrix),
                _ => yuv::vyuy422_to_rgba(&img, out, out_stride, range, matrix),
            }
            .map_err(err)
        }
        P010 | P012 | P016 => p01x_rows(pl, width, y0, y1, range, matrix, out).map_err(err),
        other => Err(format!("{other} is not a YUV format planar converts")),
    }
}

/// P010/P012/P016: MSB-aligned 16-bit samples, interleaved chroma. The `yuv` crate's own
/// p010 path has no x86 SIMD (40–110x a memcpy here), so the samples are shifted down to
/// 10 bits and split into an I010 layout, which `i010_to_rgba` converts with AVX2.
fn p01x_rows(
    pl: &Planes<'_>,
    width: usize,
    y0: usize,
    y1: usize,
    range: YuvRange,
    matrix: YuvStandardMatrix,
    out: &mut [u8],
) -> Result<(), yuv::YuvError> {
    thread_local! {
        // Reused between frames: a 1080p frame's I010 planes are 6 MB.
        static SCRATCH: std::cell::RefCell<[Vec<u16>; 3]> = const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    }
    let h = y1 - y0;
    let cw = width.div_ceil(2);
    let ch = h.div_ceil(2);
    SCRATCH.with_borrow_mut(|[y, u, v]| {
        y.resize(width * h, 0);
        u.resize(cw * ch, 0);
        v.resize(cw * ch, 0);
        for (r, dst) in y.chunks_exact_mut(width).enumerate() {
            let src = &pl.data[0][(y0 + r) * pl.stride[0]..][..width * 2];
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = u16::from_le_bytes([s[0], s[1]]) >> 6;
            }
        }
        for r in 0..ch {
            let src = &pl.data[1][(y0 / 2 + r) * pl.stride[1]..][..cw * 4];
            let (ur, vr) = (&mut u[r * cw..(r + 1) * cw], &mut v[r * cw..(r + 1) * cw]);
            for ((du, dv), s) in ur.iter_mut().zip(vr.iter_mut()).zip(src.chunks_exact(4)) {
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
        yuv::i010_to_rgba(&img, out, width as u32 * 4, range, matrix)
    })
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            one_px(Fourcc::Argb8888, &[0, 0, 255, 0x80]),
            [255, 0, 0, 0x80]
        );
        assert_eq!(
            one_px(Fourcc::Xrgb8888, &[0, 0, 255, 0x12]),
            [255, 0, 0, 255]
        );
        assert_eq!(
            one_px(Fourcc::Abgr8888, &[255, 0, 0, 0x80]),
            [255, 0, 0, 0x80]
        );
        assert_eq!(
            one_px(Fourcc::Rgba8888, &[0x80, 0, 0, 255]),
            [255, 0, 0, 0x80]
        );
        assert_eq!(one_px(Fourcc::Bgrx8888, &[0, 255, 0, 0]), [255, 0, 0, 255]);
        assert_eq!(one_px(Fourcc::Rgb888, &[0, 0, 255]), [255, 0, 0, 255]);
        assert_eq!(one_px(Fourcc::Bgr888, &[255, 0, 0]), [255, 0, 0, 255]);
        assert_eq!(
            one_px(Fourcc::Rgb565, &0xf800u16.to_le_bytes()),
            [255, 0, 0, 255]
        );
        assert_eq!(
            one_px(Fourcc::Rgb565, &0x07e0u16.to_le_bytes()),
            [0, 255, 0, 255]
        );
        assert_eq!(
            one_px(Fourcc::Xrgb2101010, &(0x3ffu32 << 20).to_le_bytes()),
            [255, 0, 0, 255]
        );
        assert_eq!(
            one_px(Fourcc::Argb2101010, &(0xc000_03ffu32).to_le_bytes()),
            [0, 0, 255, 255]
        );
        assert_eq!(one_px(Fourcc::Gr88, &[200, 100]), [200, 100, 0, 255]);
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
}
