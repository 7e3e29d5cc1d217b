//! PNG files: writing and reading [`RgbaImage`]s.
//!
//! PNG encoding uses the png crate's fast settings: screenshots are written in every test
//! run, and a slow deflate would dominate them.

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
