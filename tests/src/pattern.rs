//! Known patterns, and the colour each pixel must have.

/// Four quadrants: red top-left, green top-right, blue bottom-left, white bottom-right.
/// Saturated colours survive every renderer bit-exactly, so tests can assert exact values.
pub const QUAD_COLOURS: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];

/// The RGB colour of the quads pattern at (x, y) in a `w`x`h` image.
pub fn quads_rgb(w: u32, h: u32, x: u32, y: u32) -> [u8; 3] {
    let right = x >= w / 2;
    let bottom = y >= h / 2;
    QUAD_COLOURS[usize::from(bottom) * 2 + usize::from(right)]
}

/// The quads pattern as XRGB8888 (little-endian B, G, R, X bytes), `stride` bytes a row.
pub fn quads_xrgb8888(w: u32, h: u32, stride: u32) -> Vec<u8> {
    let mut out = vec![0u8; (stride * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = quads_rgb(w, h, x, y);
            let i = (y * stride + x * 4) as usize;
            out[i..i + 4].copy_from_slice(&[b, g, r, 0xff]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quads_are_laid_out_as_documented() {
        assert_eq!(quads_rgb(10, 10, 0, 0), [255, 0, 0]);
        assert_eq!(quads_rgb(10, 10, 5, 0), [0, 255, 0]);
        assert_eq!(quads_rgb(10, 10, 0, 5), [0, 0, 255]);
        assert_eq!(quads_rgb(10, 10, 9, 9), [255, 255, 255]);
        let bytes = quads_xrgb8888(4, 2, 20);
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[0..4], &[0, 0, 255, 255]);
        assert_eq!(&bytes[8..12], &[0, 255, 0, 255]);
        assert_eq!(&bytes[20..24], &[255, 0, 0, 255]);
    }
}
