//! Where frames go: an offscreen target only (headless), or also a window in another
//! session (nested). Callers match on the variant, not on generics.

mod headless;
#[cfg(feature = "nested")]
mod host;
#[cfg(feature = "nested")]
mod nested;

pub use headless::Headless;
#[cfg(feature = "nested")]
pub use host::{host_gone, HostEvents};
#[cfg(feature = "nested")]
pub use nested::{open as open_window, Nested};

use planar_renderer::{image::RgbaImage, RendererError};
use smithay::{
    desktop::{Space, Window},
    output::Output,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
};

// Boxed: the damage tracker alone is ~450 bytes.
pub enum Backend {
    Headless(Box<Headless>),
    #[cfg(feature = "nested")]
    Nested(Box<Nested>),
}

impl Backend {
    /// Draws a frame; returns whether anything on the outputs changed. `outputs[0]` is
    /// the first output, the only one nested mode draws.
    pub fn render(
        &mut self,
        space: &Space<Window>,
        outputs: &[Output],
    ) -> Result<bool, RendererError> {
        match self {
            Backend::Headless(h) => h.render(space, outputs),
            #[cfg(feature = "nested")]
            Backend::Nested(n) => match outputs.first() {
                Some(output) => n.render(space, output),
                None => Ok(false),
            },
        }
    }

    /// The last frame drawn (planar's own output, whatever the backend), top row first.
    pub fn read_rgba(&mut self) -> Result<RgbaImage, RendererError> {
        let engine = self.engine();
        let size = engine.size();
        let data = engine.read_rgba()?;
        Ok(RgbaImage {
            width: size.w as u32,
            height: size.h as u32,
            data,
        })
    }

    pub fn engine(&mut self) -> &mut planar_renderer::Engine {
        match self {
            Backend::Headless(h) => &mut h.engine,
            #[cfg(feature = "nested")]
            Backend::Nested(n) => &mut n.engine,
        }
    }

    pub fn import_surface_tree(&mut self, surface: &WlSurface) {
        self.engine()
            .import_surface_tree(surface, &crate::handlers::color_representation_of)
    }
}
