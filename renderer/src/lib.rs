//! planar-renderer: which renderer planar runs on, how a frame is composed into an
//! offscreen target, and how that frame is read back as RGBA.
//!
//! The compositor hands this crate a smithay `Space` and an `Output`; everything that
//! touches GL or pixman lives here. Known limit: one output, one offscreen target.

// Before `cpu`: its `element_via_inner!` serves the YUV element too.
#[macro_use]
mod blit;
mod background;
pub mod cpu;
mod engine;
mod error;
pub mod import;
pub mod popups;
mod probe;
mod report;
mod scene;
mod select;
pub mod steps;
pub mod xwayland;

pub use engine::Engine;
pub use error::RendererError;
pub use scene::EncodingOf;
pub use select::{select, sharing, PendingRenderer, RendererChoice, RendererInfo, RendererKind};
