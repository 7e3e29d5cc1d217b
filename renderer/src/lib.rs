//! planar-renderer: which renderer planar runs on, how a frame is composed into an
//! offscreen target, and how that frame is read back as RGBA.
//!
//! The compositor hands this crate a smithay `Space` and an `Output`; everything that
//! touches GL or pixman lives here. Known limit: one output, one offscreen target.

pub mod compare;
pub mod cpu;
mod error;
mod frame;
pub mod image;
pub mod import;
mod probe;
mod report;
mod scene;
mod select;
pub mod steps;
pub mod xwayland;

pub use error::RendererError;
pub use frame::Engine;
pub use scene::EncodingOf;
pub use select::{select, sharing, PendingRenderer, RendererChoice, RendererInfo, RendererKind};

use smithay::backend::allocator::Fourcc;

/// The wl_shm formats planar advertises, before it knows which renderer it will get: the
/// ones that both GLES (llvmpipe and GPU drivers with GL_EXT_texture_type_2_10_10_10_REV)
/// and pixman import. Advertising a fixed set lets clients bind wl_shm while the renderer
/// is still starting, and makes a client behave the same under both renderers.
pub const SHM_FORMATS: &[Fourcc] = &[
    Fourcc::Argb8888,
    Fourcc::Xrgb8888,
    Fourcc::Abgr8888,
    Fourcc::Xbgr8888,
    Fourcc::Abgr2101010,
    Fourcc::Xbgr2101010,
];
