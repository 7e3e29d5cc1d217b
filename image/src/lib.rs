//! planar-image: RGBA images and what planar does with them besides rendering — PNG
//! files, comparison against a reference with a fuzz and a clip, the diff image and
//! bless. `planar compare`, `planar run --expect`, the capture writers and the tests all
//! call this crate, so one comparison serves them all.
//!
//! The `png` feature (on by default) adds PNG reading and writing and the reference check;
//! without it the crate is the image type and the pure comparison only.

#[cfg(feature = "png")]
pub mod check;
pub mod compare;
#[cfg(feature = "png")]
mod png;

#[cfg(feature = "png")]
pub use check::{bless_from_env, check_against, sibling, CheckOptions, CheckOutcome};
pub use compare::{compare, parse_clip, parse_fuzz, Clip, Comparison, Fuzz, Worst};

/// Copies 4-byte pixels from `src` into `dst` with the first and third bytes swapped and
/// the fourth set to 255: RGBA to XRGB8888's memory order (B, G, R, X) and back, opaque.
pub fn swap_red_blue_opaque(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
        d.copy_from_slice(&[s[2], s[1], s[0], 255]);
    }
}

/// A tightly packed RGBA8 image, top row first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbaImage {
    /// A `width`x`height` image of one colour.
    pub fn filled(width: u32, height: u32, px: [u8; 4]) -> RgbaImage {
        RgbaImage {
            width,
            height,
            data: px.repeat(width as usize * height as usize),
        }
    }

    /// The pixel at (x, y) as [r, g, b, a].
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ]
    }

    /// The `w`x`h` rectangle at (x, y), clipped to the image.
    pub fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> RgbaImage {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        let (x0, y0) = (x.min(x1), y.min(y1));
        let row = |r: u32| {
            let start = ((r * self.width + x0) * 4) as usize;
            &self.data[start..start + ((x1 - x0) * 4) as usize]
        };
        RgbaImage {
            width: x1 - x0,
            height: y1 - y0,
            data: (y0..y1).flat_map(row).copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn red_and_blue_swap_and_every_pixel_is_opaque() {
        let xrgb = [10, 20, 30, 0, 1, 2, 3, 77];
        let mut rgba = [9; 8];
        super::swap_red_blue_opaque(&mut rgba, &xrgb);
        assert_eq!(rgba, [30, 20, 10, 255, 3, 2, 1, 255]);
        let mut back = [9; 8];
        super::swap_red_blue_opaque(&mut back, &rgba);
        assert_eq!(back, [10, 20, 30, 255, 1, 2, 3, 255]);
    }
}
