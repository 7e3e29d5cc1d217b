//! The CPU path: buffers the GPU path cannot take are mapped read-only and converted on
//! the CPU (`yuv` crate for YUV, swizzles for RGB), only the damaged rows each time, then
//! uploaded to the renderer. Known limit: the result is 8 bits per channel.

mod buffer;
pub mod convert;
pub mod map;

pub use buffer::{CpuBuffer, CpuStats};
