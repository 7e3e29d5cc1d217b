//! The DRM format table: one row per fourcc planar knows, and every path reads its row —
//! validation (planes, bytes per block, subsampling), the CPU conversion (family and channel
//! layout), the EGL probe, and planar-client's encoders. Modelled on Weston's
//! `libweston/pixel-formats.c`. Adding a format is adding a row here (and, for a new family,
//! its conversion in the renderer's `cpu/convert.rs`).
//!
//! Codes and names come from the `drm-fourcc` crate (each row names its `DrmFourcc` variant,
//! so a typo does not compile). Known limit: 16-bit UNORM RGBA (ABGR16161616, 'AB48') is
//! missing from drm-fourcc 2.2, and so from smithay's `Dmabuf` type; planar cannot carry it
//! until those crates have it.

use drm_fourcc::DrmFourcc as Fourcc;

/// Most planes a dma-buf can have (the protocol's plane_idx limit).
pub const MAX_PLANES: usize = 4;

/// How the pixels of a format are laid out, as far as a conversion needs to know: the
/// column every reader (CPU conversion, shaders) dispatches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// One little-endian word per pixel: (shift, bits) of R, G, B, A; bits 0 means the
    /// channel is absent (0 for a colour, opaque for alpha).
    Rgb { channels: [(u8, u8); 4] },
    /// Four 16-bit half floats per pixel: the index of R, G and B in the pixel, and of A
    /// when it has one.
    HalfFloat { order: [u8; 3], alpha: Option<u8> },
    /// A luma plane, then one plane of interleaved chroma (NV12, P010). `swap_uv`: V
    /// comes first (NV21).
    SemiPlanarYuv { swap_uv: bool },
    /// A luma plane and two chroma planes (YUV420). `swap_uv`: the V plane is plane 1.
    PlanarYuv { swap_uv: bool },
    /// 4:2:2 packed in one plane, two pixels a four-byte block (YUYV and its orders).
    PackedYuv422,
}

/// The layout facts of one DRM format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatInfo {
    pub fourcc: Fourcc,
    /// The `DrmFourcc` variant's name (`Xrgb8888`): DRM's DRM_FORMAT_ name, case aside.
    pub name: &'static str,
    /// Number of planes (1 to 3).
    pub planes: u8,
    /// Bytes per block, per plane.
    pub block_bytes: [u8; 3],
    /// Pixels per block horizontally (2 for packed 4:2:2 such as YUYV, else 1).
    pub block_width: u8,
    /// Horizontal and vertical subsampling of the planes after the first.
    pub hsub: u8,
    pub vsub: u8,
    pub alpha: bool,
    pub yuv: bool,
    pub family: Family,
}

impl FormatInfo {
    /// Width in pixels of plane `plane` of a `width`-wide image.
    pub fn plane_width(&self, plane: usize, width: u32) -> u32 {
        if plane == 0 {
            width
        } else {
            width.div_ceil(u32::from(self.hsub))
        }
    }

    /// Height in rows of plane `plane` of a `height`-high image.
    pub fn plane_height(&self, plane: usize, height: u32) -> u32 {
        if plane == 0 {
            height
        } else {
            height.div_ceil(u32::from(self.vsub))
        }
    }

    /// The fewest bytes a row of plane `plane` needs, or `None` on overflow.
    pub fn min_stride(&self, plane: usize, width: u32) -> Option<u64> {
        let blocks = u64::from(
            self.plane_width(plane, width)
                .div_ceil(u32::from(self.block_width)),
        );
        blocks.checked_mul(u64::from(self.block_bytes[plane]))
    }
}

/// A single-plane RGB row of `bytes` per pixel.
const fn one_plane(
    fourcc: Fourcc,
    name: &'static str,
    bytes: u8,
    alpha: bool,
    family: Family,
) -> FormatInfo {
    FormatInfo {
        fourcc,
        name,
        planes: 1,
        block_bytes: [bytes, 0, 0],
        block_width: 1,
        hsub: 1,
        vsub: 1,
        alpha,
        yuv: false,
        family,
    }
}

/// Packed RGB: `channels` as in [`Family::Rgb`].
const fn rgb(fourcc: Fourcc, name: &'static str, bytes: u8, channels: [(u8, u8); 4]) -> FormatInfo {
    one_plane(
        fourcc,
        name,
        bytes,
        channels[3].1 > 0,
        Family::Rgb { channels },
    )
}

/// Half-float RGB(A): `order` and `alpha` as in [`Family::HalfFloat`].
const fn half(fourcc: Fourcc, name: &'static str, order: [u8; 3], alpha: Option<u8>) -> FormatInfo {
    let family = Family::HalfFloat { order, alpha };
    one_plane(fourcc, name, 8, alpha.is_some(), family)
}

const fn yuv(
    fourcc: Fourcc,
    name: &'static str,
    family: Family,
    block_bytes: [u8; 3],
    hsub: u8,
    vsub: u8,
) -> FormatInfo {
    let (planes, block_width) = match family {
        Family::SemiPlanarYuv { .. } => (2, 1),
        Family::PlanarYuv { .. } => (3, 1),
        _ => (1, 2),
    };
    FormatInfo {
        fourcc,
        name,
        planes,
        block_bytes,
        block_width,
        hsub,
        vsub,
        alpha: false,
        yuv: true,
        family,
    }
}

/// One row, named by its `DrmFourcc` variant: `row!(Argb8888, rgb, 4, [...])`.
macro_rules! row {
    ($variant:ident, $make:ident $(, $arg:expr)*) => {
        $make(Fourcc::$variant, stringify!($variant) $(, $arg)*)
    };
}

const N: (u8, u8) = (0, 0);
const NV: Family = Family::SemiPlanarYuv { swap_uv: false };
const NV_SWAP: Family = Family::SemiPlanarYuv { swap_uv: true };
const PLANAR: Family = Family::PlanarYuv { swap_uv: false };
const PLANAR_SWAP: Family = Family::PlanarYuv { swap_uv: true };
const PACKED: Family = Family::PackedYuv422;

/// Every format planar knows, RGB first.
pub const FORMATS: &[FormatInfo] = &[
    row!(Argb8888, rgb, 4, [(16, 8), (8, 8), (0, 8), (24, 8)]),
    row!(Xrgb8888, rgb, 4, [(16, 8), (8, 8), (0, 8), N]),
    row!(Abgr8888, rgb, 4, [(0, 8), (8, 8), (16, 8), (24, 8)]),
    row!(Xbgr8888, rgb, 4, [(0, 8), (8, 8), (16, 8), N]),
    row!(Rgba8888, rgb, 4, [(24, 8), (16, 8), (8, 8), (0, 8)]),
    row!(Rgbx8888, rgb, 4, [(24, 8), (16, 8), (8, 8), N]),
    row!(Bgra8888, rgb, 4, [(8, 8), (16, 8), (24, 8), (0, 8)]),
    row!(Bgrx8888, rgb, 4, [(8, 8), (16, 8), (24, 8), N]),
    row!(Rgb888, rgb, 3, [(16, 8), (8, 8), (0, 8), N]),
    row!(Bgr888, rgb, 3, [(0, 8), (8, 8), (16, 8), N]),
    row!(Rgb565, rgb, 2, [(11, 5), (5, 6), (0, 5), N]),
    row!(Bgr565, rgb, 2, [(0, 5), (5, 6), (11, 5), N]),
    row!(Argb2101010, rgb, 4, [(20, 10), (10, 10), (0, 10), (30, 2)]),
    row!(Xrgb2101010, rgb, 4, [(20, 10), (10, 10), (0, 10), N]),
    row!(Abgr2101010, rgb, 4, [(0, 10), (10, 10), (20, 10), (30, 2)]),
    row!(Xbgr2101010, rgb, 4, [(0, 10), (10, 10), (20, 10), N]),
    row!(Rgba1010102, rgb, 4, [(22, 10), (12, 10), (2, 10), (0, 2)]),
    row!(Rgbx1010102, rgb, 4, [(22, 10), (12, 10), (2, 10), N]),
    row!(Bgra1010102, rgb, 4, [(2, 10), (12, 10), (22, 10), (0, 2)]),
    row!(Bgrx1010102, rgb, 4, [(2, 10), (12, 10), (22, 10), N]),
    row!(Abgr16161616f, half, [0, 1, 2], Some(3)),
    row!(Xbgr16161616f, half, [0, 1, 2], None),
    row!(Argb16161616f, half, [2, 1, 0], Some(3)),
    row!(Xrgb16161616f, half, [2, 1, 0], None),
    row!(R8, rgb, 1, [(0, 8), N, N, N]),
    row!(R16, rgb, 2, [(0, 16), N, N, N]),
    row!(Gr88, rgb, 2, [(0, 8), (8, 8), N, N]),
    row!(Rg88, rgb, 2, [(8, 8), (0, 8), N, N]),
    row!(Gr1616, rgb, 4, [(0, 16), (16, 16), N, N]),
    row!(Rg1616, rgb, 4, [(16, 16), (0, 16), N, N]),
    row!(Nv12, yuv, NV, [1, 2, 0], 2, 2),
    row!(Nv21, yuv, NV_SWAP, [1, 2, 0], 2, 2),
    row!(Nv16, yuv, NV, [1, 2, 0], 2, 1),
    row!(Nv61, yuv, NV_SWAP, [1, 2, 0], 2, 1),
    row!(Nv24, yuv, NV, [1, 2, 0], 1, 1),
    row!(Nv42, yuv, NV_SWAP, [1, 2, 0], 1, 1),
    row!(P010, yuv, NV, [2, 4, 0], 2, 2),
    row!(P012, yuv, NV, [2, 4, 0], 2, 2),
    row!(P016, yuv, NV, [2, 4, 0], 2, 2),
    row!(Yuv420, yuv, PLANAR, [1, 1, 1], 2, 2),
    row!(Yvu420, yuv, PLANAR_SWAP, [1, 1, 1], 2, 2),
    row!(Yuv422, yuv, PLANAR, [1, 1, 1], 2, 1),
    row!(Yvu422, yuv, PLANAR_SWAP, [1, 1, 1], 2, 1),
    row!(Yuv444, yuv, PLANAR, [1, 1, 1], 1, 1),
    row!(Yvu444, yuv, PLANAR_SWAP, [1, 1, 1], 1, 1),
    row!(Yuyv, yuv, PACKED, [4, 0, 0], 2, 1),
    row!(Yvyu, yuv, PACKED, [4, 0, 0], 2, 1),
    row!(Uyvy, yuv, PACKED, [4, 0, 0], 2, 1),
    row!(Vyuy, yuv, PACKED, [4, 0, 0], 2, 1),
];

/// The table entry for a fourcc code, if planar knows it.
pub fn format_info(code: u32) -> Option<&'static FormatInfo> {
    FORMATS.iter().find(|f| f.fourcc as u32 == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once() {
        for (i, a) in FORMATS.iter().enumerate() {
            for b in &FORMATS[i + 1..] {
                assert_ne!(a.fourcc, b.fourcc);
            }
        }
    }

    #[test]
    fn plane_sizes_follow_subsampling() {
        let nv12 = format_info(Fourcc::Nv12 as u32).unwrap();
        assert_eq!(nv12.plane_width(1, 101), 51);
        assert_eq!(nv12.plane_height(1, 101), 51);
        assert_eq!(nv12.min_stride(0, 101), Some(101));
        assert_eq!(nv12.min_stride(1, 101), Some(102));
        let yuyv = format_info(Fourcc::Yuyv as u32).unwrap();
        assert_eq!(yuyv.min_stride(0, 3), Some(8));
        let p010 = format_info(Fourcc::P010 as u32).unwrap();
        assert_eq!(p010.min_stride(1, 64), Some(128));
        let i420 = format_info(Fourcc::Yuv420 as u32).unwrap();
        assert_eq!((i420.planes, i420.plane_height(2, 7)), (3, 4));
        let rgb888 = format_info(Fourcc::Rgb888 as u32).unwrap();
        assert_eq!(rgb888.min_stride(0, 10), Some(30));
        assert!(format_info(0x1234_5678).is_none());
    }

    /// The DRM name a row's channel layout spells, most significant channel first
    /// (`xrgb2101010`, `abgr16161616f`): gaps in the word are `x`.
    fn spelled(f: &FormatInfo) -> Option<String> {
        let letters = ['r', 'g', 'b', 'a'];
        let mut parts: Vec<(u8, char, String)> = Vec::new(); // (position, letter, width)
        let bits = match f.family {
            Family::Rgb { channels } => {
                for (c, &(shift, width)) in letters.iter().zip(&channels) {
                    if width > 0 {
                        parts.push((shift, *c, width.to_string()));
                    }
                }
                f.block_bytes[0] * 8
            }
            Family::HalfFloat { order, alpha } => {
                for (c, &i) in letters.iter().zip(&order) {
                    parts.push((i * 16, *c, "16".into()));
                }
                if let Some(i) = alpha {
                    parts.push((i * 16, 'a', "16".into()));
                }
                64
            }
            _ => return None,
        };
        parts.sort_by_key(|p| std::cmp::Reverse(p.0));
        // Fill the gaps with padding.
        let mut top = bits;
        let mut out: Vec<(char, String)> = Vec::new();
        for (shift, c, width) in parts {
            let end = shift + width.parse::<u8>().unwrap();
            if end < top {
                out.push(('x', (top - end).to_string()));
            }
            out.push((c, width));
            top = shift;
        }
        if top > 0 {
            out.push(('x', top.to_string()));
        }
        let float = matches!(f.family, Family::HalfFloat { .. });
        let name: String = out.iter().map(|p| p.0).collect();
        let widths: String = out.iter().map(|p| p.1.as_str()).collect();
        Some(format!("{name}{widths}{}", if float { "f" } else { "" }))
    }

    #[test]
    fn every_row_agrees_with_its_drm_fourcc_name() {
        for f in FORMATS {
            // The name is the variant's, and the variant is the code's.
            assert_eq!(Fourcc::try_from(f.fourcc as u32), Ok(f.fourcc));
            assert_eq!(
                f.fourcc.to_string(),
                crate::names::fourcc_chars(f.fourcc as u32),
                "{}",
                f.name
            );
            // Planes: a block size for each plane and none past them.
            let planes = usize::from(f.planes);
            assert!(f.block_bytes[..planes].iter().all(|&b| b > 0), "{}", f.name);
            assert!(
                f.block_bytes[planes..].iter().all(|&b| b == 0),
                "{}",
                f.name
            );
            match f.family {
                Family::Rgb { .. } | Family::HalfFloat { .. } => {
                    assert_eq!(spelled(f).as_deref(), Some(&*f.name.to_ascii_lowercase()));
                    assert!(
                        !f.yuv && (f.hsub, f.vsub, f.planes) == (1, 1, 1),
                        "{}",
                        f.name
                    );
                }
                Family::SemiPlanarYuv { swap_uv } => {
                    assert!(f.yuv && f.planes == 2, "{}", f.name);
                    let vu = ["Nv21", "Nv61", "Nv42"].contains(&f.name);
                    assert_eq!(swap_uv, vu, "{}", f.name);
                }
                Family::PlanarYuv { swap_uv } => {
                    assert!(f.yuv && f.planes == 3, "{}", f.name);
                    assert_eq!(swap_uv, f.name.starts_with("Yvu"), "{}", f.name);
                }
                Family::PackedYuv422 => {
                    assert!(f.yuv && f.planes == 1 && f.block_width == 2, "{}", f.name);
                }
            }
            // Subsampling as the name says: 4:2:0, 4:2:2, 4:4:4.
            let (h, v) = match f.name {
                "Nv12" | "Nv21" | "P010" | "P012" | "P016" | "Yuv420" | "Yvu420" => (2, 2),
                "Nv16" | "Nv61" | "Yuv422" | "Yvu422" | "Yuyv" | "Yvyu" | "Uyvy" | "Vyuy" => (2, 1),
                _ => (1, 1),
            };
            assert_eq!((f.hsub, f.vsub), (h, v), "{}", f.name);
        }
    }

    #[test]
    fn a_wrong_channel_layout_is_caught() {
        let mut f = *format_info(Fourcc::Xrgb8888 as u32).unwrap();
        f.family = Family::Rgb {
            channels: [(0, 8), (8, 8), (16, 8), (0, 0)],
        };
        assert_eq!(spelled(&f).as_deref(), Some("xbgr8888"));
        assert_ne!(spelled(&f).as_deref(), Some("xrgb8888"));
    }
}
