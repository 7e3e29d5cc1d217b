//! planar-compositor: the `planar` compositor as a library. The `planar` binary
//! (`main.rs`) is a thin CLI over it; Rust tests embed it with [`Headless`].
//!
//! Feature `nested` (default): `--backend nested` through winit. It links libwayland's
//! client (wayland-backend `client_system`); a test crate that depends on this library
//! with `default-features = false` keeps the pure-Rust wayland-client backend, whose
//! protocol error messages planar's tests read (see `scripts/build`).

// Without nested mode, the host input and window-resize paths have no caller.
#![cfg_attr(not(feature = "nested"), allow(dead_code))]

mod backend;
mod capture;
mod child;
pub mod cli;
mod client_name;
pub mod compare;
pub mod fixture;
mod handlers;
pub mod help;
pub mod info;
mod inject;
mod input;
mod keymap;
mod limits;
mod listen;
mod outputs;
mod panic;
mod present;
pub mod results;
pub mod run;
mod runtime_dir;
mod script;
mod serve;
mod shm;
mod state;
mod waits;
mod xwayland;

pub use backend::BackendKind;
pub use fixture::{Fuzz, Headless, HeadlessBuilder};
pub use planar_image::{CheckOptions, CheckOutcome, RgbaImage};
pub use planar_renderer::{
    import::{ImportPolicy, ImportRecord},
    RendererChoice,
};
