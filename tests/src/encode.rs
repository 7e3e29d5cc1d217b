//! Encoding RGB patterns into every format planar knows, in any plane layout.
//!
//! This is written from the DRM fourcc definitions independently of planar's decoder
//! (`planar_renderer::cpu::convert`), so a channel-order mistake on either side shows up
//! as a wrong pixel instead of cancelling out.

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::format::{format_info, FormatInfo};

/// How the YUV samples were made: BT.601 or BT.709, limited or full range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Encoding {
    pub bt709: bool,
    pub full_range: bool,
}

impl Encoding {
    fn coefficients(&self) -> (f32, f32) {
        if self.bt709 {
            (0.2126, 0.0722)
        } else {
            (0.299, 0.114)
        }
    }

    /// RGB (0–255) to Y, Cb, Cr samples (0–255).
    pub fn to_ycbcr(&self, [r, g, b]: [u8; 3]) -> [u8; 3] {
        let (kr, kb) = self.coefficients();
        let (r, g, b) = (
            f32::from(r) / 255.0,
            f32::from(g) / 255.0,
            f32::from(b) / 255.0,
        );
        let y = kr * r + (1.0 - kr - kb) * g + kb * b;
        let cb = (b - y) / (2.0 * (1.0 - kb));
        let cr = (r - y) / (2.0 * (1.0 - kr));
        let (ys, yo, cs) = if self.full_range {
            (255.0, 0.0, 255.0)
        } else {
            (219.0, 16.0, 224.0)
        };
        let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        [q(yo + ys * y), q(128.0 + cs * cb), q(128.0 + cs * cr)]
    }

    /// Y, Cb, Cr back to RGB, as a compositor should decode them.
    pub fn to_rgb(&self, [y, cb, cr]: [u8; 3]) -> [u8; 3] {
        let (kr, kb) = self.coefficients();
        let (ys, yo, cs) = if self.full_range {
            (255.0, 0.0, 255.0)
        } else {
            (219.0, 16.0, 224.0)
        };
        let y = (f32::from(y) - yo) / ys;
        let cb = (f32::from(cb) - 128.0) / cs;
        let cr = (f32::from(cr) - 128.0) / cs;
        let r = y + 2.0 * (1.0 - kr) * cr;
        let b = y + 2.0 * (1.0 - kb) * cb;
        let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
        let q = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
        [q(r), q(g), q(b)]
    }
}

/// Where each plane lives: which fd, at what offset, with what stride.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub format: &'static FormatInfo,
    pub width: u32,
    pub height: u32,
    /// Per plane: (fd index, offset, stride).
    pub planes: Vec<(usize, u32, u32)>,
    /// Size of each fd's buffer.
    pub fd_sizes: Vec<usize>,
}

impl Layout {
    /// Strides of `min + pad` (plane 0's stride `stride` when given), the first plane of
    /// each fd at `offset`; planes follow each other in one fd, or get one fd each.
    pub fn new(
        fourcc: Fourcc,
        width: u32,
        height: u32,
        stride: Option<u32>,
        pad: u32,
        offset: u32,
        one_fd: bool,
    ) -> Result<Self, String> {
        let format = format_info(fourcc as u32)
            .ok_or_else(|| format!("{fourcc} is not in planar's table"))?;
        let mut planes = Vec::new();
        let mut fd_sizes: Vec<usize> = Vec::new();
        for i in 0..usize::from(format.planes) {
            let min = format.min_stride(i, width).ok_or("row size overflows")? as u32;
            let s = match (i, stride) {
                (0, Some(s)) => s,
                _ => min + pad,
            };
            if s < min {
                return Err(format!(
                    "plane {i}: stride {s} is less than the {min} bytes a row needs"
                ));
            }
            let size = s as usize * format.plane_height(i, height) as usize;
            if one_fd && i > 0 {
                let off = fd_sizes[0] as u32;
                planes.push((0, off, s));
                fd_sizes[0] += size;
            } else {
                planes.push((fd_sizes.len(), offset, s));
                fd_sizes.push(offset as usize + size);
            }
        }
        Ok(Layout {
            format,
            width,
            height,
            planes,
            fd_sizes,
        })
    }

    /// The bytes of each fd, holding `pixel(x, y)` (RGB) encoded with `enc`.
    pub fn fill(&self, enc: Encoding, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<Vec<u8>> {
        let mut fds: Vec<Vec<u8>> = self.fd_sizes.iter().map(|&n| vec![0u8; n]).collect();
        let f = self.format;
        let (w, h) = (self.width, self.height);
        if !f.yuv {
            let (fd, off, stride) = self.planes[0];
            for y in 0..h {
                for x in 0..w {
                    let px = encode_rgb(f.fourcc, pixel(x, y));
                    let at = off as usize + y as usize * stride as usize + x as usize * px.len();
                    fds[fd][at..at + px.len()].copy_from_slice(&px);
                }
            }
            return fds;
        }
        // Chroma of a block is that of its top-left pixel: test patterns keep blocks flat.
        let (hs, vs) = (u32::from(f.hsub), u32::from(f.vsub));
        let ycc = |x: u32, y: u32| enc.to_ycbcr(pixel(x.min(w - 1), y.min(h - 1)));
        let mut put = |plane: usize, x: usize, y: usize, bytes: &[u8]| {
            let (fd, off, stride) = self.planes[plane];
            let at = off as usize + y * stride as usize + x * bytes.len();
            fds[fd][at..at + bytes.len()].copy_from_slice(bytes);
        };
        use Fourcc::*;
        match f.fourcc {
            Yuyv | Yvyu | Uyvy | Vyuy => {
                for y in 0..h {
                    for bx in 0..w.div_ceil(2) {
                        let [y0, cb, cr] = ycc(2 * bx, y);
                        let y1 = ycc(2 * bx + 1, y)[0];
                        let quad = match f.fourcc {
                            Yuyv => [y0, cb, y1, cr],
                            Yvyu => [y0, cr, y1, cb],
                            Uyvy => [cb, y0, cr, y1],
                            _ => [cr, y0, cb, y1],
                        };
                        put(0, bx as usize, y as usize, &quad);
                    }
                }
            }
            P010 | P012 | P016 => {
                let word = |v: u8| ((u16::from(v) << 8) | u16::from(v)) & 0xffc0;
                for y in 0..h {
                    for x in 0..w {
                        put(0, x as usize, y as usize, &word(ycc(x, y)[0]).to_le_bytes());
                    }
                }
                for y in 0..h.div_ceil(2) {
                    for x in 0..w.div_ceil(2) {
                        let [_, cb, cr] = ycc(2 * x, 2 * y);
                        let mut b = [0u8; 4];
                        b[..2].copy_from_slice(&word(cb).to_le_bytes());
                        b[2..].copy_from_slice(&word(cr).to_le_bytes());
                        put(1, x as usize, y as usize, &b);
                    }
                }
            }
            _ => {
                for y in 0..h {
                    for x in 0..w {
                        put(0, x as usize, y as usize, &[ycc(x, y)[0]]);
                    }
                }
                let swap = matches!(f.fourcc, Nv21 | Nv61 | Nv42 | Yvu420 | Yvu422 | Yvu444);
                for y in 0..h.div_ceil(vs) {
                    for x in 0..w.div_ceil(hs) {
                        let [_, cb, cr] = ycc(x * hs, y * vs);
                        let (first, second) = if swap { (cr, cb) } else { (cb, cr) };
                        if f.planes == 2 {
                            put(1, x as usize, y as usize, &[first, second]);
                        } else {
                            put(1, x as usize, y as usize, &[first]);
                            put(2, x as usize, y as usize, &[second]);
                        }
                    }
                }
            }
        }
        fds
    }
}

/// The colour a compositor must show for `rgb` stored in `fourcc` (formats without some
/// channels show them as 0; YUV goes through its encoding).
pub fn expected(fourcc: Fourcc, enc: Encoding, rgb: [u8; 3]) -> [u8; 3] {
    use Fourcc::*;
    let [r, g, b] = rgb;
    match fourcc {
        R8 | R16 => [r, 0, 0],
        Gr88 | Rg88 | Gr1616 | Rg1616 => [r, g, 0],
        // 5- and 6-bit channels: what survives the truncation, expanded back.
        Rgb565 | Bgr565 => {
            let e5 = |v: u8| ((u32::from(v >> 3) * 255 + 15) / 31) as u8;
            let e6 = |v: u8| ((u32::from(v >> 2) * 255 + 31) / 63) as u8;
            [e5(r), e6(g), e5(b)]
        }
        f if format_info(f as u32).is_some_and(|i| i.yuv) => enc.to_rgb(enc.to_ycbcr(rgb)),
        _ => rgb,
    }
}

/// The colour a compositor must show at (x, y) of an image whose pixels are `pixel`,
/// stored in `fourcc`: for subsampled YUV the pixel's own luma with its block's chroma,
/// which is what `Layout::fill` encodes (the chroma of a block's top-left pixel).
pub fn expected_at(
    fourcc: Fourcc,
    enc: Encoding,
    pixel: impl Fn(u32, u32) -> [u8; 3],
    x: u32,
    y: u32,
) -> [u8; 3] {
    let Some(info) = format_info(fourcc as u32).filter(|i| i.yuv) else {
        return expected(fourcc, enc, pixel(x, y));
    };
    let (hs, vs) = (u32::from(info.hsub), u32::from(info.vsub));
    let [luma, _, _] = enc.to_ycbcr(pixel(x, y));
    let [_, cb, cr] = enc.to_ycbcr(pixel(x / hs * hs, y / vs * vs));
    enc.to_rgb([luma, cb, cr])
}

/// One RGB pixel in a packed RGB format, opaque; padding bytes (X) hold garbage on
/// purpose, to show they are ignored.
pub fn encode_rgb(fourcc: Fourcc, [r, g, b]: [u8; 3]) -> Vec<u8> {
    use Fourcc::*;
    let x = 0x5a;
    let ten = |v: u8| (u32::from(v) * 1023 + 127) / 255;
    let w32 = |v: u32| v.to_le_bytes().to_vec();
    let f16 = |vals: [f32; 4]| {
        vals.iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let n = |v: u8| f32::from(v) / 255.0;
    match fourcc {
        Argb8888 => vec![b, g, r, 0xff],
        Xrgb8888 => vec![b, g, r, x],
        Abgr8888 => vec![r, g, b, 0xff],
        Xbgr8888 => vec![r, g, b, x],
        Rgba8888 => vec![0xff, b, g, r],
        Rgbx8888 => vec![x, b, g, r],
        Bgra8888 => vec![0xff, r, g, b],
        Bgrx8888 => vec![x, r, g, b],
        Rgb888 => vec![b, g, r],
        Bgr888 => vec![r, g, b],
        Rgb565 => ((u16::from(r >> 3) << 11) | (u16::from(g >> 2) << 5) | u16::from(b >> 3))
            .to_le_bytes()
            .to_vec(),
        Bgr565 => ((u16::from(b >> 3) << 11) | (u16::from(g >> 2) << 5) | u16::from(r >> 3))
            .to_le_bytes()
            .to_vec(),
        Argb2101010 => w32((3 << 30) | (ten(r) << 20) | (ten(g) << 10) | ten(b)),
        Xrgb2101010 => w32((ten(r) << 20) | (ten(g) << 10) | ten(b)),
        Abgr2101010 => w32((3 << 30) | (ten(b) << 20) | (ten(g) << 10) | ten(r)),
        Xbgr2101010 => w32((ten(b) << 20) | (ten(g) << 10) | ten(r)),
        Rgba1010102 => w32((ten(r) << 22) | (ten(g) << 12) | (ten(b) << 2) | 3),
        Rgbx1010102 => w32((ten(r) << 22) | (ten(g) << 12) | (ten(b) << 2)),
        Bgra1010102 => w32((ten(b) << 22) | (ten(g) << 12) | (ten(r) << 2) | 3),
        Bgrx1010102 => w32((ten(b) << 22) | (ten(g) << 12) | (ten(r) << 2)),
        Abgr16161616f => f16([n(r), n(g), n(b), 1.0]),
        Xbgr16161616f => f16([n(r), n(g), n(b), 0.25]),
        Argb16161616f => f16([n(b), n(g), n(r), 1.0]),
        Xrgb16161616f => f16([n(b), n(g), n(r), 0.25]),
        R8 => vec![r],
        R16 => vec![r, r],
        Gr88 => vec![r, g],
        Rg88 => vec![g, r],
        Gr1616 => vec![r, r, g, g],
        Rg1616 => vec![g, g, r, r],
        other => panic!("{other} is not a packed RGB format"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ycbcr_round_trips_within_two() {
        for enc in [
            Encoding::default(),
            Encoding {
                bt709: true,
                full_range: true,
            },
        ] {
            for rgb in [
                [255, 0, 0],
                [0, 255, 0],
                [0, 0, 255],
                [255, 255, 255],
                [30, 90, 200],
            ] {
                let back = enc.to_rgb(enc.to_ycbcr(rgb));
                for c in 0..3 {
                    assert!(
                        (i16::from(back[c]) - i16::from(rgb[c])).abs() <= 3,
                        "{enc:?} {rgb:?} -> {back:?}"
                    );
                }
            }
        }
        assert_eq!(
            Encoding::default().to_ycbcr([255, 255, 255]),
            [235, 128, 128]
        );
        assert_eq!(Encoding::default().to_ycbcr([0, 0, 0]), [16, 128, 128]);
    }

    #[test]
    fn layouts_pad_offset_and_share_fds() {
        let l = Layout::new(Fourcc::Nv12, 64, 48, None, 64, 256, true).unwrap();
        assert_eq!(l.planes, vec![(0, 256, 128), (0, 256 + 128 * 48, 128)]);
        assert_eq!(l.fd_sizes, vec![256 + 128 * 48 + 128 * 24]);
        let l = Layout::new(Fourcc::Yuv420, 64, 48, None, 0, 16, false).unwrap();
        assert_eq!(l.planes, vec![(0, 16, 64), (1, 16, 32), (2, 16, 32)]);
        assert!(Layout::new(Fourcc::Xrgb8888, 64, 48, Some(100), 0, 0, true).is_err());
    }
}
