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
}
