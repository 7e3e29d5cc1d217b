//! The engine: the renderer planar runs on with its offscreen targets (one per output),
//! composition of a frame, readback as RGBA, and the import decision and cache for dma-bufs.
//!
//! Both renderers go through the same generic functions; [`Engine`] only picks the
//! variant. A target keeps its contents between frames, so frames after the first are
//! drawn with buffer age 1 and only damaged regions are repainted. A frame whose elements
//! all map texel for pixel is sampled with nearest filtering (the same pixels as linear
//! there, and the cheaper sampling on llvmpipe). On GLES a target is an XR24 memory
//! buffer where EGL allows, so that opaque XR24 buffers are copied rather than drawn
//! (`blit`). Known limit: every output is drawn by the one renderer, into a target
//! swapped in per output.

use drm_fourcc::DrmFourcc as Fourcc;
use smithay::{
    backend::{
        allocator::dmabuf::Dmabuf,
        renderer::{
            damage::OutputDamageTracker,
            element::Element,
            gles::{GlesRenderer, GlesTexture},
            pixman::{PixmanRenderer, PixmanTexture},
            Bind, ExportMem, ImportAll, ImportDma, ImportMem, Offscreen, Renderer, Texture,
            TextureFilter, TextureMapping,
        },
    },
    desktop::{Space, Window},
    output::Output,
    reexports::{pixman::Image, wayland_server::protocol::wl_surface::WlSurface},
    utils::{Buffer, Physical, Rectangle, Scale, Size, Transform},
};
use std::{ops::Range, rc::Rc};

use crate::{
    background::{render_frame, ClearDraw},
    blit::{self, CopyDraw, CopySources},
    cpu::{direct::TargetPixels, gles_yuv::YuvDraw, CpuBuffer},
    error::UploadError,
    import::{
        Capabilities, CpuLimits, CpuUpload, EglPairs, ImportError, ImportPath, ImportPolicy,
        ImportRecord, ImportRequest, Imports, ZeroCopy, ZeroCopyError, PIXMAN_MAX_SIZE,
    },
    scene::{import_tree, space_elements, EncodingOf},
    RendererError,
};

/// Rectangles of the output redrawn by a frame.
pub type Damage = Vec<Rectangle<i32, Physical>>;

/// One output's offscreen buffer, with the age its next frame is drawn at.
struct OutputTarget<T> {
    buffer: T,
    size: Size<i32, Physical>,
    /// Age to pass to the damage tracker: 0 before the first frame, then 1.
    age: usize,
    /// Its memory, for CPU-path buffers converted straight into it (`cpu::direct`): only
    /// an XR24 target has it (`blit::xrgb_target`), and only onto one are buffers copied.
    pixels: Option<Rc<TargetPixels>>,
}

/// A renderer with everything planar keeps beside it: the outputs' offscreen targets, the
/// dma-buf import cache, and the format lists the import decision reads.
pub struct RendererState<R: Renderer, T> {
    pub renderer: R,
    /// The current output's target (`render_space` and `read_rgba` work on it).
    target: OutputTarget<T>,
    /// The output `target` belongs to ("" for the first one drawn).
    current: String,
    /// The other outputs' targets, swapped in by `select`.
    stash: Vec<(String, OutputTarget<T>)>,
    imports: Imports<R::TextureId>,
    /// The EGL pairs as probed (none on pixman).
    egl: EglPairs,
    /// Formats the renderer uploads from memory as they are.
    direct: Vec<Fourcc>,
    /// What the CPU path may take on this renderer.
    cpu_limits: CpuLimits,
    /// Client buffers as copy sources (see `blit`).
    copies: CopySources<R::TextureId>,
}

/// The renderer planar runs on.
pub enum Engine {
    // Boxed: GlesRenderer is 6 KB, and an Engine is moved around while it is set up.
    // The GLES target is a texture so that a nested window can draw it (see `gles_frame`).
    Gles(Box<RendererState<GlesRenderer, GlesTexture>>),
    Pixman(Box<RendererState<PixmanRenderer, Image<'static, 'static>>>),
}

impl ZeroCopy for GlesRenderer {
    fn zero_copy(&mut self, dmabuf: &Dmabuf) -> Option<Result<(u64, GlesTexture), ZeroCopyError>> {
        Some(
            ImportDma::import_dmabuf(self, dmabuf, None)
                .map(|t| (u64::from(t.tex_id()), t))
                .map_err(ZeroCopyError::from),
        )
    }
}

impl ZeroCopy for PixmanRenderer {
    fn zero_copy(
        &mut self,
        _dmabuf: &Dmabuf,
    ) -> Option<Result<(u64, PixmanTexture), ZeroCopyError>> {
        // smithay's pixman dma-buf import fails on memfds and brackets its sync wrongly;
        // planar's CPU path is the pixman path.
        None
    }
}

/// GLES: the texture is the one converted copy. smithay's `update_memory` reads the
/// region out of a whole-frame slice (GL_UNPACK_SKIP_ROWS), which would need the whole
/// converted frame in memory; planar uploads each converted chunk itself.
impl CpuUpload for GlesRenderer {
    fn cpu_texture(&mut self, buffer: &mut CpuBuffer) -> Result<GlesTexture, UploadError> {
        if buffer.planes_direct {
            return crate::cpu::gles_yuv::create(self, buffer);
        }
        let size = (buffer.width as i32, buffer.height as i32);
        Offscreen::<GlesTexture>::create_buffer(self, buffer.upload, size.into())
            .map_err(UploadError::Gles)
    }

    fn cpu_upload(
        &mut self,
        texture: &GlesTexture,
        format: Fourcc,
        width: usize,
        rows: Range<usize>,
        bytes: &[u8],
    ) -> Result<(), UploadError> {
        use smithay::backend::renderer::gles::{ffi, format::fourcc_to_gl_formats};
        let (_, gl_format, layout) =
            fourcc_to_gl_formats(format).ok_or(UploadError::NoGlesFormat(format))?;
        let n = rows.end - rows.start;
        if bytes.len() < width * n * 4 {
            return Err(UploadError::ShortChunk {
                len: bytes.len(),
                rows: n,
                width,
            });
        }
        let tex = texture.tex_id();
        self.with_context(|gl| unsafe {
            gl.BindTexture(ffi::TEXTURE_2D, tex);
            gl.PixelStorei(ffi::UNPACK_ALIGNMENT, 4);
            gl.TexSubImage2D(
                ffi::TEXTURE_2D,
                0,
                0,
                rows.start as i32,
                width as i32,
                n as i32,
                gl_format,
                layout,
                bytes.as_ptr().cast(),
            );
            gl.BindTexture(ffi::TEXTURE_2D, 0);
        })
        .map_err(UploadError::Gles)
    }
}

/// pixman composites straight from the converted frame: the texture's image is the
/// buffer's own memory, so an upload is nothing (the damage is added by the caller).
impl CpuUpload for PixmanRenderer {
    fn cpu_texture(&mut self, buffer: &mut CpuBuffer) -> Result<PixmanTexture, UploadError> {
        let format = smithay::reexports::pixman::FormatCode::try_from(buffer.upload)
            .map_err(|_| UploadError::NoPixmanFormat(buffer.upload))?;
        let stride = buffer.width * buffer.out_bpp;
        let bits = buffer.frame_ptr().ok_or(UploadError::NoFrame)?;
        // SAFETY: the memory lives in the CpuBuffer, which outlives the texture (the cache
        // entry drops the texture first), and it is never resized.
        let image = unsafe {
            Image::from_raw_mut(format, buffer.width, buffer.height, bits, stride, false)
        }
        .map_err(|_| UploadError::PixmanImage)?;
        Ok(PixmanTexture::from(image))
    }

    fn cpu_upload(
        &mut self,
        _texture: &PixmanTexture,
        _format: Fourcc,
        _width: usize,
        _rows: Range<usize>,
        _bytes: &[u8],
    ) -> Result<(), UploadError> {
        Ok(())
    }
}

/// How a renderer makes an output's target.
pub trait MakeTarget<T>: Offscreen<T> {
    /// ABGR8888 by default, not mapped.
    fn make_target(
        &mut self,
        size: Size<i32, Physical>,
    ) -> Result<(T, Option<TargetPixels>), Self::Error> {
        let target = self.create_buffer(Fourcc::Abgr8888, (size.w, size.h).into())?;
        Ok((target, None))
    }
}

impl MakeTarget<Image<'static, 'static>> for PixmanRenderer {}

/// GLES: XR24 where it can, so that XR24 client buffers copy onto it (see `blit`). The
/// copy is glBlitFramebuffer, which GLES 3 has (smithay's Blit capability).
impl MakeTarget<GlesTexture> for GlesRenderer {
    fn make_target(
        &mut self,
        size: Size<i32, Physical>,
    ) -> Result<(GlesTexture, Option<TargetPixels>), Self::Error> {
        let blits = self
            .capabilities()
            .contains(&smithay::backend::renderer::gles::Capability::Blit);
        match (blit::enabled() && blits)
            .then(|| blit::xrgb_target(self, size))
            .flatten()
        {
            Some((target, pixels)) => Ok((target, Some(pixels))),
            None => Ok((
                self.create_buffer(Fourcc::Abgr8888, (size.w, size.h).into())?,
                None,
            )),
        }
    }
}

impl<T> OutputTarget<T> {
    /// A target for an output of `size`, drawn whole first.
    fn new<R: MakeTarget<T>>(
        renderer: &mut R,
        size: Size<i32, Physical>,
    ) -> Result<Self, R::Error> {
        let (buffer, pixels) = renderer.make_target(size)?;
        Ok(OutputTarget {
            pixels: pixels.map(Rc::new),
            buffer,
            size,
            age: 0,
        })
    }
}

fn new_state<R, T>(
    renderer: R,
    target: OutputTarget<T>,
    egl: EglPairs,
    cpu_limits: CpuLimits,
    copy: bool,
) -> RendererState<R, T>
where
    R: Renderer + ImportMem,
{
    let direct = renderer.mem_formats().collect();
    RendererState {
        renderer,
        target,
        current: String::new(),
        stash: Vec::new(),
        imports: Imports::default(),
        egl,
        direct,
        cpu_limits,
        copies: CopySources::new(copy),
    }
}

/// The import decision on `t`'s renderer, with what it imports and may take.
fn decide<R: ZeroCopy, T>(
    t: &mut RendererState<R, T>,
    req: &ImportRequest<'_>,
    policy: &ImportPolicy,
) -> Result<ImportPath, ImportError>
where
    R::TextureId: Clone + 'static,
{
    let caps = Capabilities {
        egl: &t.egl,
        direct: &t.direct,
        limits: t.cpu_limits,
    };
    t.imports.decide(&mut t.renderer, req, policy, &caps)
}

impl<R: Renderer + MakeTarget<T>, T> RendererState<R, T> {
    /// Makes `name`'s target the current one (creating it at `size` the first time, and
    /// again when the size changed), so `render_space` and `read_rgba` work on it. One
    /// offscreen target per output, all drawn by the one renderer: swapping keeps every
    /// other function single-target.
    fn select(&mut self, name: &str, size: Size<i32, Physical>) -> Result<(), R::Error> {
        if self.current.is_empty() {
            self.current = name.to_string();
        }
        if self.current != name {
            let target = match self.stash.iter().position(|(n, _)| n == name) {
                Some(i) => self.stash.swap_remove(i).1,
                None => OutputTarget::new(&mut self.renderer, size)?,
            };
            let old_target = std::mem::replace(&mut self.target, target);
            let old_name = std::mem::replace(&mut self.current, name.to_string());
            self.stash.push((old_name, old_target));
        }
        if size != self.target.size {
            self.resize(size)?;
        }
        Ok(())
    }

    fn resize(&mut self, size: Size<i32, Physical>) -> Result<(), R::Error> {
        self.target = OutputTarget::new(&mut self.renderer, size)?;
        Ok(())
    }

    fn forget_output(&mut self, name: &str) {
        self.stash.retain(|(n, _)| n != name);
    }
}

impl Engine {
    /// `egl`: what EGL really imports (probed when the display was opened).
    pub(crate) fn gles(
        mut renderer: GlesRenderer,
        size: Size<i32, Physical>,
        egl: EglPairs,
    ) -> Result<Self, RendererError> {
        let target = OutputTarget::new(&mut renderer, size)?;
        let mut max = 0;
        renderer.with_context(|gl| unsafe {
            gl.GetIntegerv(
                smithay::backend::renderer::gles::ffi::MAX_TEXTURE_SIZE,
                &mut max,
            )
        })?;
        // The copy path needs the XR24 target (`blit::xrgb_target`).
        let copy = target.pixels.is_some();
        let limits = CpuLimits {
            max_size: max,
            keep_frame: false,
            copy_frame: copy,
        };
        let mut t = new_state(renderer, target, egl, limits, copy);
        // YUV the shader converts is taken as it is too (planes uploaded, not converted).
        let yuv = crate::cpu::gles_yuv::formats(&mut t.renderer);
        t.direct.extend(yuv);
        Ok(Engine::Gles(Box::new(t)))
    }

    pub(crate) fn pixman(
        mut renderer: PixmanRenderer,
        size: Size<i32, Physical>,
    ) -> Result<Self, RendererError> {
        let target = OutputTarget::new(&mut renderer, size)?;
        Ok(Engine::Pixman(Box::new(new_state(
            renderer,
            target,
            EglPairs::default(),
            CpuLimits {
                max_size: PIXMAN_MAX_SIZE,
                keep_frame: true,
                copy_frame: false,
            },
            false,
        ))))
    }

    /// Draws `space` as seen by `output` over `clear`; returns the redrawn rectangles
    /// (none when nothing changed).
    pub fn render(
        &mut self,
        tracker: &mut OutputDamageTracker,
        space: &Space<Window>,
        output: &Output,
        clear: [f32; 4],
    ) -> Result<Damage, RendererError> {
        match self {
            Engine::Gles(t) => render_space(t, tracker, space, output, clear),
            Engine::Pixman(t) => render_space(t, tracker, space, output, clear),
        }
    }

    /// Reads the whole target back as tightly packed RGBA, top row first.
    pub fn read_rgba(&mut self) -> Result<Vec<u8>, RendererError> {
        match self {
            // planar's own XR24 target: its memory, once the GL queue is drained.
            Engine::Gles(t) if t.target.pixels.is_some() => {
                t.renderer.wait_copy_reads();
                Ok(t.target
                    .pixels
                    .as_deref()
                    .map(TargetPixels::rgba)
                    .unwrap_or_default())
            }
            // Other targets through glReadPixels (`read_rgba` puts the rows top first).
            Engine::Gles(t) => read_rgba(t, true),
            Engine::Pixman(t) => read_rgba(t, false),
        }
    }

    /// Imports the buffers just committed on `surface` and its subsurfaces. planar imports
    /// at commit rather than at the next frame: a client that commits and disconnects at
    /// once has its buffer destroyed before any frame is drawn, and its last picture must
    /// still be shown.
    /// `encoding_of` gives the YUV encoding of each surface's buffer (see [`EncodingOf`]).
    pub fn import_surface_tree(&mut self, surface: &WlSurface, encoding_of: EncodingOf<'_>) {
        match self {
            Engine::Gles(t) => import_tree(&mut t.renderer, &mut t.imports, surface, encoding_of),
            Engine::Pixman(t) => import_tree(&mut t.renderer, &mut t.imports, surface, encoding_of),
        }
    }

    /// The import decision for a new dma-buf, made once, when it is created.
    pub fn import_dmabuf(
        &mut self,
        req: &ImportRequest<'_>,
        policy: &ImportPolicy,
    ) -> Result<ImportPath, ImportError> {
        match self {
            Engine::Gles(t) => decide(t, req, policy),
            Engine::Pixman(t) => decide(t, req, policy),
        }
    }

    /// Drops the cache entry of a destroyed buffer (its record goes to the report).
    pub fn forget_dmabuf(&mut self, dmabuf: &Dmabuf) {
        match self {
            Engine::Gles(t) => t.imports.forget(dmabuf),
            Engine::Pixman(t) => t.imports.forget(dmabuf),
        }
    }

    /// The import record of a live dma-buf.
    pub fn import_record(&mut self, dmabuf: &Dmabuf) -> Option<ImportRecord> {
        match self {
            Engine::Gles(t) => t.imports.record_of(dmabuf),
            Engine::Pixman(t) => t.imports.record_of(dmabuf),
        }
    }

    /// The import records of the buffers alive now (planar holds no others).
    pub fn live_import_records(&mut self) -> Vec<ImportRecord> {
        match self {
            Engine::Gles(t) => t.imports.live_records(),
            Engine::Pixman(t) => t.imports.live_records(),
        }
    }

    /// Names the X11 window `dmabuf` was shown in, in its record.
    pub fn name_x11_window(&mut self, dmabuf: &Dmabuf, window: &str) {
        match self {
            Engine::Gles(t) => t.imports.name_x11_window(dmabuf, window),
            Engine::Pixman(t) => t.imports.name_x11_window(dmabuf, window),
        }
    }

    /// Writes the import report to `path`: every record streamed so far, then the live
    /// buffers'. Returns how many records it holds.
    pub fn write_report(&mut self, path: &std::path::Path) -> std::io::Result<u64> {
        match self {
            Engine::Gles(t) => t.imports.write_report(path),
            Engine::Pixman(t) => t.imports.write_report(path),
        }
    }

    /// Import records held in memory (one per live buffer) and streamed to the report.
    pub fn import_records_held(&self) -> (usize, u64) {
        match self {
            Engine::Gles(t) => t.imports.held(),
            Engine::Pixman(t) => t.imports.held(),
        }
    }

    /// The EGL pairs as probed: what imports zero-copy, what EGL lists but refused.
    pub fn egl_pairs(&self) -> &EglPairs {
        match self {
            Engine::Gles(t) => &t.egl,
            Engine::Pixman(t) => &t.egl,
        }
    }

    /// The last frame as a GLES texture, for a window whose context shares textures with
    /// this renderer's. None on pixman.
    pub fn gles_frame(&mut self) -> Result<Option<&GlesTexture>, RendererError> {
        match self {
            Engine::Gles(t) => {
                // smithay fences every frame drawn into a texture and makes whoever samples
                // it wait on that fence; a fence is seen by another context only once
                // flushed.
                t.renderer.with_context(|gl| unsafe { gl.Flush() })?;
                Ok(Some(&t.target.buffer))
            }
            Engine::Pixman(_) => Ok(None),
        }
    }

    /// Makes a new target of `size` (the output was resized); the next frame is drawn whole.
    pub fn resize(&mut self, size: Size<i32, Physical>) -> Result<(), RendererError> {
        if size == self.size() {
            return Ok(());
        }
        match self {
            Engine::Gles(t) => t.resize(size)?,
            Engine::Pixman(t) => t.resize(size)?,
        }
        Ok(())
    }

    /// Makes the target of the output `name` current, at `size` (made, or remade when
    /// the output's mode changed, as needed): `render`, `read_rgba` and `size` then work
    /// on it. The first output selected owns the target the engine was made with.
    pub fn select_output(
        &mut self,
        name: &str,
        size: Size<i32, Physical>,
    ) -> Result<(), RendererError> {
        match self {
            Engine::Gles(t) => t.select(name, size)?,
            Engine::Pixman(t) => t.select(name, size)?,
        }
        Ok(())
    }

    /// Frees the target of a removed output (not the current one's).
    pub fn forget_output(&mut self, name: &str) {
        match self {
            Engine::Gles(t) => t.forget_output(name),
            Engine::Pixman(t) => t.forget_output(name),
        }
    }

    /// The size of the offscreen target in pixels.
    pub fn size(&self) -> Size<i32, Physical> {
        match self {
            Engine::Gles(t) => t.target.size,
            Engine::Pixman(t) => t.target.size,
        }
    }
}

fn render_space<R, T>(
    t: &mut RendererState<R, T>,
    tracker: &mut OutputDamageTracker,
    space: &Space<Window>,
    output: &Output,
    clear: [f32; 4],
) -> Result<Damage, RendererError>
where
    R: Renderer + ImportAll + ImportMem + Bind<T> + YuvDraw + CopyDraw + ClearDraw,
    R::TextureId: Clone + Texture + Send + 'static,
{
    t.copies.prune();
    // Each output's own target says whether buffers are copied onto it.
    t.copies.on = t.target.pixels.is_some();
    let elements = space_elements(
        &mut t.renderer,
        (&mut t.imports, &mut t.copies),
        t.target.pixels.as_ref(),
        space,
        output,
    );
    // Sampling cost is most of a frame on llvmpipe (profiled: 24 ms of CPU per 1080p frame
    // with linear filtering, 19 ms with nearest). Weston samples unscaled views with
    // nearest too. Linear stays whenever anything is scaled, so scaled output is unchanged.
    let scale = Scale::from(output.current_scale().fractional_scale());
    let filter = if elements.iter().all(|e| one_to_one(e, scale)) {
        TextureFilter::Nearest
    } else {
        TextureFilter::Linear
    };
    let filters = t
        .renderer
        .upscale_filter(filter)
        .and_then(|()| t.renderer.downscale_filter(filter));
    filters.map_err(|e| RendererError::Render(format!("texture filter: {e}")))?;
    let mut framebuffer = t
        .renderer
        .bind(&mut t.target.buffer)
        .map_err(|e| RendererError::Render(format!("bind: {e}")))?;
    let damage = render_frame(
        &mut t.renderer,
        &mut framebuffer,
        tracker,
        t.target.age,
        &elements,
        clear.into(),
    )
    .map_err(|e| RendererError::Render(format!("{e:?}")))?;
    t.target.age = 1;
    Ok(damage)
}

/// Whether `element` maps its buffer onto the output texel for pixel, where nearest
/// sampling gives what linear does, for less work.
fn one_to_one<E: Element>(element: &E, scale: Scale<f64>) -> bool {
    unscaled(
        element.src(),
        element.geometry(scale).size,
        element.transform(),
    )
}

/// Whether the buffer region `src`, turned by `transform`, covers `dst` texel for pixel:
/// the same size, starting on a texel boundary.
pub(crate) fn unscaled(
    src: Rectangle<f64, Buffer>,
    dst: Size<i32, Physical>,
    transform: Transform,
) -> bool {
    let size = transform.transform_size(src.size);
    src.loc.x.fract() == 0.0
        && src.loc.y.fract() == 0.0
        && size.w == f64::from(dst.w)
        && size.h == f64::from(dst.h)
}

fn read_rgba<R, T>(t: &mut RendererState<R, T>, bottom_up: bool) -> Result<Vec<u8>, RendererError>
where
    R: Renderer + Bind<T> + ExportMem,
    R::TextureMapping: TextureMapping,
{
    let (w, h) = (t.target.size.w, t.target.size.h);
    let framebuffer = t
        .renderer
        .bind(&mut t.target.buffer)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn src(x: f64, y: f64, w: f64, h: f64) -> Rectangle<f64, Buffer> {
        Rectangle::new((x, y).into(), (w, h).into())
    }

    #[test]
    fn nearest_only_where_texels_meet_pixels() {
        let normal = Transform::Normal;
        assert!(unscaled(
            src(0., 0., 1920., 1080.),
            (1920, 1080).into(),
            normal
        ));
        assert!(unscaled(src(8., 4., 100., 50.), (100, 50).into(), normal));
        // A quarter turn swaps the buffer's width and height on the output.
        assert!(unscaled(
            src(0., 0., 100., 50.),
            (50, 100).into(),
            Transform::_90
        ));
        assert!(!unscaled(
            src(0., 0., 100., 50.),
            (100, 50).into(),
            Transform::_90
        ));
        // Scaled (viewporter, buffer scale 2 on a scale-1 output, fractional scale).
        assert!(!unscaled(
            src(0., 0., 512., 512.),
            (256, 256).into(),
            normal
        ));
        assert!(!unscaled(
            src(0., 0., 100., 100.),
            (150, 150).into(),
            normal
        ));
        // A viewport source that starts between texels.
        assert!(!unscaled(src(0.5, 0., 100., 50.), (100, 50).into(), normal));
    }
}
