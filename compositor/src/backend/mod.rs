//! Where frames go. Only the headless backend exists today; nested (a window in another
//! session) will be a second variant, and callers match on the variant, not on generics.

mod headless;

pub use headless::Headless;

use planar_renderer::{image::RgbaImage, RendererError};
use smithay::{
    desktop::{Space, Window},
    output::Output,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
};

pub enum Backend {
    Headless(Headless),
}

impl Backend {
    pub fn render(&mut self, space: &Space<Window>, output: &Output) -> Result<(), RendererError> {
        match self {
            Backend::Headless(h) => h.render(space, output),
        }
    }

    pub fn read_rgba(&mut self) -> Result<RgbaImage, RendererError> {
        match self {
            Backend::Headless(h) => h.read_rgba(),
        }
    }

    pub fn engine(&mut self) -> &mut planar_renderer::Engine {
        match self {
            Backend::Headless(h) => &mut h.engine,
        }
    }

    pub fn import_surface_tree(&mut self, surface: &WlSurface) {
        self.engine().import_surface_tree(surface)
    }
}
