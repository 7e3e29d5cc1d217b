//! Errors of the renderer crate.

use smithay::backend::{
    egl::Error as EglError,
    renderer::{gles::GlesError, pixman::PixmanError},
};

/// Everything that can go wrong while choosing a renderer or drawing a frame.
#[derive(Debug, thiserror::Error)]
pub enum RendererError {
    #[error("EGL: {0}")]
    Egl(#[from] EglError),
    #[error("GLES: {0}")]
    Gles(#[from] GlesError),
    #[error("pixman: {0}")]
    Pixman(#[from] PixmanError),
    #[error("no renderer could be created: {0}")]
    NoneAvailable(String),
    #[error("rendering the output failed: {0}")]
    Render(String),
    #[error("nested window: {0}")]
    Window(String),
}

/// Why rows of a CPU-path buffer could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{fourcc} conversion failed: {source}")]
    Yuv {
        fourcc: drm_fourcc::DrmFourcc,
        source: yuv::YuvError,
    },
    #[error("{0} is not a YUV format planar converts")]
    NotYuv(drm_fourcc::DrmFourcc),
}

/// The CPU buffer's read path (`cpu/buffer.rs`) still carries its errors as strings.
impl From<ConvertError> for String {
    fn from(e: ConvertError) -> String {
        e.to_string()
    }
}
