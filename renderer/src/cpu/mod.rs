//! The CPU path: buffers the GPU path cannot take are mapped and converted on the CPU.
pub mod convert;
