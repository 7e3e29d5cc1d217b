//! The CPU path: buffers the GPU path cannot take are mapped read-only and converted on
//! the CPU (`yuv` crate for YUV, swizzles for RGB), only the damaged rows each time, then
//! uploaded to the renderer — or, for YUV on a GLES renderer that converts it in a shader
//! (`gles_yuv`), uploaded unconverted; or, for an opaque buffer the copy path would copy,
//! converted at draw time straight into the output's target (`direct`). Known limit: the
//! result is 8 bits per channel.
//!
//! What one buffer may cost is bounded at creation (see `import`): the CPU-path budget and
//! the renderer's largest texture.

mod buffer;
pub mod convert;
pub(crate) mod direct;
pub(crate) mod gles_yuv;
pub mod map;

pub use crate::error::UploadError;
pub use buffer::{CpuBuffer, CpuStats, ReadError, CHUNK_BYTES};
