//! planar-renderer: which renderer planar runs on, how a frame is composed into an
//! offscreen target, and how that frame is read back as RGBA.
//!
//! The compositor hands this crate a smithay `Space` and an `Output`; everything that
//! touches GL or pixman lives here. Known limit: one output, one offscreen target.

mod error;
mod frame;
pub mod image;
mod select;

pub use error::RendererError;
pub use frame::{Engine, FrameOutcome};
pub use select::{select, RendererChoice, RendererInfo, RendererKind};
