//! Composition of one frame into the offscreen target, and readback as RGBA.
//!
//! Both renderers go through the same generic functions; [`Engine`] only picks the
//! variant. The target keeps its contents between frames, so frames after the first are
//! drawn with buffer age 1 and only damaged regions are repainted.

use smithay::{
    backend::renderer::{
        damage::OutputDamageTracker,
        element::surface::WaylandSurfaceRenderElement,
        gles::{GlesRenderbuffer, GlesRenderer},
        pixman::PixmanRenderer,
        utils::import_surface_tree,
        Bind, ExportMem, ImportAll, Offscreen, Renderer, Texture, TextureMapping,
    },
    desktop::{space::render_output, Space, Window},
    output::Output,
    reexports::{pixman::Image, wayland_server::protocol::wl_surface::WlSurface},
    utils::{Physical, Rectangle, Size},
};

use smithay::backend::allocator::Fourcc;

use crate::RendererError;

/// A renderer together with the offscreen target it draws the output into.
pub struct Target<R, T> {
    pub renderer: R,
    target: T,
    size: Size<i32, Physical>,
    /// Age to pass to the damage tracker: 0 before the first frame, then 1.
    age: usize,
}

/// The renderer planar runs on.
pub enum Engine {
    // Boxed: GlesRenderer is 6 KB, and an Engine is moved around while it is set up.
    Gles(Box<Target<GlesRenderer, GlesRenderbuffer>>),
    Pixman(Target<PixmanRenderer, Image<'static, 'static>>),
}

/// What drawing a frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOutcome {
    /// Whether any pixel changed; an undamaged frame leaves the target as it was.
    pub damaged: bool,
}

impl Engine {
    pub(crate) fn gles(
        mut renderer: GlesRenderer,
        size: Size<i32, Physical>,
    ) -> Result<Self, RendererError> {
        let target = Offscreen::<GlesRenderbuffer>::create_buffer(
            &mut renderer,
            Fourcc::Abgr8888,
            (size.w, size.h).into(),
        )?;
        Ok(Engine::Gles(Box::new(Target {
            renderer,
            target,
            size,
            age: 0,
        })))
    }

    pub(crate) fn pixman(
        mut renderer: PixmanRenderer,
        size: Size<i32, Physical>,
    ) -> Result<Self, RendererError> {
        let target = Offscreen::<Image<'static, 'static>>::create_buffer(
            &mut renderer,
            Fourcc::Abgr8888,
            (size.w, size.h).into(),
        )?;
        Ok(Engine::Pixman(Target {
            renderer,
            target,
            size,
            age: 0,
        }))
    }

    /// Draws `space` as seen by `output` over `clear`.
    pub fn render(
        &mut self,
        tracker: &mut OutputDamageTracker,
        space: &Space<Window>,
        output: &Output,
        clear: [f32; 4],
    ) -> Result<FrameOutcome, RendererError> {
        match self {
            Engine::Gles(t) => render_space(t, tracker, space, output, clear),
            Engine::Pixman(t) => render_space(t, tracker, space, output, clear),
        }
    }

    /// Reads the whole target back as tightly packed RGBA, top row first.
    pub fn read_rgba(&mut self) -> Result<Vec<u8>, RendererError> {
        match self {
            // glReadPixels returns the bottom row first; smithay's mapping does not say so.
            Engine::Gles(t) => read_rgba(t, true),
            Engine::Pixman(t) => read_rgba(t, false),
        }
    }

    /// Imports the buffers just committed on `surface` and its subsurfaces. planar imports
    /// at commit rather than at the next frame: a client that commits and disconnects at
    /// once has its buffer destroyed before any frame is drawn, and its last picture must
    /// still be shown.
    pub fn import_surface_tree(&mut self, surface: &WlSurface) -> Result<(), RendererError> {
        match self {
            Engine::Gles(t) => import_surface_tree(&mut t.renderer, surface)?,
            Engine::Pixman(t) => import_surface_tree(&mut t.renderer, surface)?,
        }
        Ok(())
    }

    /// The size of the offscreen target in pixels.
    pub fn size(&self) -> Size<i32, Physical> {
        match self {
            Engine::Gles(t) => t.size,
            Engine::Pixman(t) => t.size,
        }
    }
}

fn render_space<R, T>(
    t: &mut Target<R, T>,
    tracker: &mut OutputDamageTracker,
    space: &Space<Window>,
    output: &Output,
    clear: [f32; 4],
) -> Result<FrameOutcome, RendererError>
where
    R: Renderer + ImportAll + Bind<T>,
    R::TextureId: Clone + Texture + 'static,
{
    let mut framebuffer = t
        .renderer
        .bind(&mut t.target)
        .map_err(|e| RendererError::Render(format!("bind: {e}")))?;
    let result = render_output::<_, WaylandSurfaceRenderElement<R>, _, _>(
        output,
        &mut t.renderer,
        &mut framebuffer,
        1.0,
        t.age,
        [space],
        &[],
        tracker,
        clear,
    )
    .map_err(|e| RendererError::Render(format!("{e:?}")))?;
    let damaged = result.damage.is_some_and(|d| !d.is_empty());
    t.age = 1;
    Ok(FrameOutcome { damaged })
}

fn read_rgba<R, T>(t: &mut Target<R, T>, bottom_up: bool) -> Result<Vec<u8>, RendererError>
where
    R: Renderer + Bind<T> + ExportMem,
    R::TextureMapping: TextureMapping,
{
    let (w, h) = (t.size.w, t.size.h);
    let framebuffer = t
        .renderer
        .bind(&mut t.target)
        .map_err(|e| RendererError::Render(format!("bind: {e}")))?;
    let mapping = t
        .renderer
        .copy_framebuffer(
            &framebuffer,
            Rectangle::from_size((w, h).into()),
            Fourcc::Abgr8888,
        )
        .map_err(|e| RendererError::Render(format!("copy_framebuffer: {e}")))?;
    drop(framebuffer);
    let flipped = mapping.flipped() != bottom_up;
    let bytes = t
        .renderer
        .map_texture(&mapping)
        .map_err(|e| RendererError::Render(format!("map_texture: {e}")))?;
    let row = w as usize * 4;
    if !flipped {
        return Ok(bytes[..row * h as usize].to_vec());
    }
    let mut out = Vec::with_capacity(row * h as usize);
    for y in (0..h as usize).rev() {
        out.extend_from_slice(&bytes[y * row..(y + 1) * row]);
    }
    Ok(out)
}

impl Engine {
    /// The dma-buf (fourcc, modifier) pairs this renderer imports zero-copy.
    pub fn dmabuf_pairs(&self) -> Vec<(u32, u64)> {
        use smithay::backend::renderer::ImportDma;
        let mut pairs: Vec<(u32, u64)> = match self {
            Engine::Gles(t) => t
                .renderer
                .egl_context()
                .display()
                .dmabuf_texture_formats()
                .iter()
                .map(|f| (f.code as u32, u64::from(f.modifier)))
                .collect(),
            Engine::Pixman(t) => t
                .renderer
                .dmabuf_formats()
                .iter()
                .map(|f| (f.code as u32, u64::from(f.modifier)))
                .collect(),
        };
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// Imports a dma-buf for sampling; the texture is cached by the renderer, so the
    /// commit that shows it finds it imported.
    pub fn import_dmabuf(
        &mut self,
        dmabuf: &smithay::backend::allocator::dmabuf::Dmabuf,
    ) -> Result<(), String> {
        use smithay::backend::renderer::ImportDma;
        match self {
            Engine::Gles(t) => t
                .renderer
                .import_dmabuf(dmabuf, None)
                .map(|_| ())
                .map_err(|e| format!("EGL import failed: {e}")),
            Engine::Pixman(t) => t
                .renderer
                .import_dmabuf(dmabuf, None)
                .map(|_| ())
                .map_err(|e| format!("pixman import failed: {e}")),
        }
    }
}
