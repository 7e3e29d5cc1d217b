//! The DRM format table: for each fourcc planar knows, its planes, the bytes per block of
//! each plane, the chroma subsampling, and whether it has alpha and is YUV.
//!
//! Codes come from the `drm-fourcc` crate. Known limit: 16-bit UNORM RGBA
//! (ABGR16161616, 'AB48') is missing from drm-fourcc 2.2, and so from smithay's `Dmabuf`
//! type; planar cannot carry it until those crates have it.

use drm_fourcc::DrmFourcc as Fourcc;

/// Most planes a dma-buf can have (the protocol's plane_idx limit).
pub const MAX_PLANES: usize = 4;

/// The layout facts of one DRM format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatInfo {
    pub fourcc: Fourcc,
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

const fn rgb(fourcc: Fourcc, bytes: u8, alpha: bool) -> FormatInfo {
    FormatInfo {
        fourcc,
        planes: 1,
        block_bytes: [bytes, 0, 0],
        block_width: 1,
        hsub: 1,
        vsub: 1,
        alpha,
        yuv: false,
    }
}

const fn yuv(fourcc: Fourcc, planes: u8, block_bytes: [u8; 3], hsub: u8, vsub: u8) -> FormatInfo {
    FormatInfo {
        fourcc,
        planes,
        block_bytes,
        block_width: 1,
        hsub,
        vsub,
        alpha: false,
        yuv: true,
    }
}

const fn packed422(fourcc: Fourcc) -> FormatInfo {
    FormatInfo {
        fourcc,
        planes: 1,
        block_bytes: [4, 0, 0],
        block_width: 2,
        hsub: 2,
        vsub: 1,
        alpha: false,
        yuv: true,
    }
}

/// Every format planar knows, RGB first.
pub const FORMATS: &[FormatInfo] = &[
    rgb(Fourcc::Argb8888, 4, true),
    rgb(Fourcc::Xrgb8888, 4, false),
    rgb(Fourcc::Abgr8888, 4, true),
    rgb(Fourcc::Xbgr8888, 4, false),
    rgb(Fourcc::Rgba8888, 4, true),
    rgb(Fourcc::Rgbx8888, 4, false),
    rgb(Fourcc::Bgra8888, 4, true),
    rgb(Fourcc::Bgrx8888, 4, false),
    rgb(Fourcc::Rgb888, 3, false),
    rgb(Fourcc::Bgr888, 3, false),
    rgb(Fourcc::Rgb565, 2, false),
    rgb(Fourcc::Bgr565, 2, false),
    rgb(Fourcc::Argb2101010, 4, true),
    rgb(Fourcc::Xrgb2101010, 4, false),
    rgb(Fourcc::Abgr2101010, 4, true),
    rgb(Fourcc::Xbgr2101010, 4, false),
    rgb(Fourcc::Rgba1010102, 4, true),
    rgb(Fourcc::Rgbx1010102, 4, false),
    rgb(Fourcc::Bgra1010102, 4, true),
    rgb(Fourcc::Bgrx1010102, 4, false),
    rgb(Fourcc::Abgr16161616f, 8, true),
    rgb(Fourcc::Xbgr16161616f, 8, false),
    rgb(Fourcc::Argb16161616f, 8, true),
    rgb(Fourcc::Xrgb16161616f, 8, false),
    rgb(Fourcc::R8, 1, false),
    rgb(Fourcc::R16, 2, false),
    rgb(Fourcc::Gr88, 2, false),
    rgb(Fourcc::Rg88, 2, false),
    rgb(Fourcc::Gr1616, 4, false),
    rgb(Fourcc::Rg1616, 4, false),
    yuv(Fourcc::Nv12, 2, [1, 2, 0], 2, 2),
    yuv(Fourcc::Nv21, 2, [1, 2, 0], 2, 2),
    yuv(Fourcc::Nv16, 2, [1, 2, 0], 2, 1),
    yuv(Fourcc::Nv61, 2, [1, 2, 0], 2, 1),
    yuv(Fourcc::Nv24, 2, [1, 2, 0], 1, 1),
    yuv(Fourcc::Nv42, 2, [1, 2, 0], 1, 1),
    yuv(Fourcc::P010, 2, [2, 4, 0], 2, 2),
    yuv(Fourcc::P012, 2, [2, 4, 0], 2, 2),
    yuv(Fourcc::P016, 2, [2, 4, 0], 2, 2),
    yuv(Fourcc::Yuv420, 3, [1, 1, 1], 2, 2),
    yuv(Fourcc::Yvu420, 3, [1, 1, 1], 2, 2),
    yuv(Fourcc::Yuv422, 3, [1, 1, 1], 2, 1),
    yuv(Fourcc::Yvu422, 3, [1, 1, 1], 2, 1),
    yuv(Fourcc::Yuv444, 3, [1, 1, 1], 1, 1),
    yuv(Fourcc::Yvu444, 3, [1, 1, 1], 1, 1),
    packed422(Fourcc::Yuyv),
    packed422(Fourcc::Yvyu),
    packed422(Fourcc::Uyvy),
    packed422(Fourcc::Vyuy),
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
}
