//! PNG files: writing and reading [`RgbaImage`]s.
//!
//! Encoding uses the png crate's fastest settings, because every test run writes
//! screenshots: `Compression::Fast` (fdeflate, tuned for filtered image rows) with the
//! `Sub` filter on every row. Measured on two 1920x1080 planar screenshots (a
//! weston-simple-shm window on the background, and gtk4-widget-factory), counting
//! instructions with callgrind: Sub takes the fewest of the fixed filters (Up 1.04-1.11x,
//! Avg 1.3x, Paeth 1.6-2.2x), per-row adaptive filtering costs 1.7x or more of Sub in time,
//! and zlib (`Compression::Default`) 16-72x. Unfiltered rows defeat fdeflate, which then
//! writes stored blocks: 8 MB files, slower still. Known limit: the files are 1.9-5.4x larger
//! than zlib's; the tests read them back, nobody ships them. Every setting is fixed, so
//! the same pixels always give the same bytes.

use std::{fs::File, io::BufWriter, path::Path};

use crate::RgbaImage;

impl RgbaImage {
    /// Writes the image as a PNG file.
    pub fn write_png(&self, path: &Path) -> std::io::Result<()> {
        let file = BufWriter::new(File::create(path)?);
        let mut encoder = png::Encoder::new(file, self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        encoder.set_filter(png::FilterType::Sub);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&self.data)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    }

    /// Reads a PNG file into RGBA8, expanding palette, grey and 16-bit images.
    pub fn read_png(path: &Path) -> std::io::Result<Self> {
        let mut decoder = png::Decoder::new(File::open(path)?);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(std::io::Error::other)?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).map_err(std::io::Error::other)?;
        buf.truncate(info.buffer_size());
        let data = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            png::ColorType::GrayscaleAlpha => buf
                .chunks_exact(2)
                .flat_map(|p| [p[0], p[0], p[0], p[1]])
                .collect(),
            png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
            png::ColorType::Indexed => {
                return Err(std::io::Error::other("indexed PNG was not expanded"))
            }
        };
        Ok(RgbaImage {
            width: info.width,
            height: info.height,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG read back gives the pixels written, and writing the same pixels twice gives
    /// the same bytes (the determinism the screenshot tests rely on).
    #[test]
    fn round_trip_and_same_bytes() {
        let dir = std::env::temp_dir().join(format!("planar-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut img = RgbaImage::filled(37, 23, [10, 20, 30, 255]);
        for (i, v) in img.data.iter_mut().enumerate().filter(|(i, _)| i % 7 == 0) {
            *v = (i % 251) as u8;
        }
        let (a, b) = (dir.join("a.png"), dir.join("b.png"));
        img.write_png(&a).unwrap();
        img.write_png(&b).unwrap();
        assert_eq!(RgbaImage::read_png(&a).unwrap(), img);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
