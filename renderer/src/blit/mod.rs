//! Putting an opaque XRGB8888 dma-buf on the target by a copy instead of a textured quad.
//!
//! Why planar draws this way: on llvmpipe the fragment code that samples the one 1080p
//! quad is ~85% of a frame's CPU. Mesa's glBlitFramebuffer becomes a plain row copy
//! (gallium's `util_try_blit_via_copy_region`) only when source and target have the same
//! pipe format, no scaling, no flip and no scissor. A client's XR24 buffer is
//! B8G8R8X8, and no GLES internal format gives that, so on GLES each output's target is
//! itself an XR24 memory buffer imported through EGL, and a client buffer is imported a
//! second time as a TEXTURE_2D (smithay's import is an external texture, which can be
//! neither a framebuffer attachment nor a copy source). Measured (bench/fps, 1080p XR24):
//! 19.6 ms of CPU per frame as a quad, 1.1 ms as a copy, most of it the copy's memmove.
//! A blit into the ABGR8888 (or ARGB8888) target runs Mesa's blit shader instead, which
//! cost more than smithay's quad; glCopyImageSubData refuses these format pairs.
//!
//! CPU-path buffers of an opaque format (every YUV format, XRGB-like RGB) take the same
//! road, one pass shorter: where a copy would happen they are converted at draw time
//! straight into the output's XR24 target (`cpu::direct`). Each also has a copy frame, a
//! planar-owned XRGB8888 memfd (`cpu::CpuBuffer`) imported here once as a TEXTURE_2D
//! that is both the buffer's texture and a copy source: no RGBA upload. It is brought up
//! to date only for a draw that reads it (scaled, turned, onto a target that is not
//! XR24), after [`CopyDraw::wait_copy_reads`] has waited for the GPU to finish reading it
//! (glFinish: the frame is single-buffered; on llvmpipe the copy itself runs on the
//! calling thread, so the wait finds nothing pending).
//!
//! A copy source is made only when a copy will happen (an unscaled, untransformed,
//! opaque draw onto an untransformed output of an XR24 target), once per buffer, with
//! its framebuffer; a failed import is remembered and not retried.
//!
//! Memory: on llvmpipe a client buffer's copy source maps the buffer, and the pages a copy
//! reads stay in planar's resident set for as long as the source lives. A source not
//! copied from for [`KEEP_RENDERS`] renders and [`KEEP_FOR`] (its window covered, or its
//! buffer no longer attached) is dropped, its import closed in the same render whether or
//! not that render draws a frame, and made again, untouched, when it is asked for next.
//!
//! Known limits: XRGB8888 sources only (other formats would go through Mesa's blit
//! shader, slower than smithay's quad); `PLANAR_NO_BLIT=1` turns the XR24 target, the
//! copy frames and the copy off (the screenshot tests compare the two).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use drm_fourcc::DrmFourcc as Fourcc;
use smithay::{
    backend::{
        allocator::{
            dmabuf::{Dmabuf, WeakDmabuf},
            Buffer as _,
        },
        egl::ffi::egl as eglffi,
        renderer::{
            element::{Element, RenderElement, UnderlyingStorage},
            gles::{ffi, GlesError, GlesFrame, GlesRenderer, GlesTexture},
            pixman::PixmanRenderer,
            Renderer, Texture,
        },
    },
    utils::{Buffer, Physical, Point, Rectangle, Scale, Size, Transform},
};
use tracing::debug;

/// Whether the copy path is on for this process (`PLANAR_NO_BLIT` unset).
pub(crate) fn enabled() -> bool {
    std::env::var_os("PLANAR_NO_BLIT").is_none()
}

/// What a copy reads from: the buffer as a texture, and the renderer's framebuffer on it
/// (GLES: an FBO id, made once with the source; 0 where the renderer has none).
#[derive(Clone)]
pub struct Source<T> {
    pub(crate) texture: T,
    fbo: u32,
    /// Set by a draw that copied from it; read and cleared by [`CopySources::prune`].
    copied: Arc<AtomicBool>,
}

/// Renders a source is kept for after its last copy: more than a swapchain's length, so
/// that a window shown at every frame keeps its sources, and few enough that a covered
/// window's pages leave planar's resident set within a fraction of a second.
pub(crate) const KEEP_RENDERS: u64 = 8;

/// And the time: each output's render counts, so with several outputs at a high refresh
/// rate eight renders can pass between two frames of one window.
pub(crate) const KEEP_FOR: Duration = Duration::from_millis(250);

/// A renderer that may put a buffer on its target by a copy. The defaults say it cannot
/// (pixman has its own fast paths for unscaled opaque images).
pub trait CopyDraw: Renderer + Sized {
    /// The client buffer `dmabuf` as a copy source (made once, cached in `cache`), None
    /// where this renderer cannot copy it.
    fn copy_source(
        &mut self,
        _cache: &mut CopySources<Self::TextureId>,
        _dmabuf: &Dmabuf,
    ) -> Option<Source<Self::TextureId>> {
        None
    }

    /// A CPU-path buffer's copy frame texture as a copy source (cached under the client
    /// buffer `key`).
    fn frame_source(
        &mut self,
        _cache: &mut CopySources<Self::TextureId>,
        _key: &Dmabuf,
        _texture: &Self::TextureId,
    ) -> Option<Source<Self::TextureId>> {
        None
    }

    /// A CPU-path buffer's copy frame (an XR24 memfd) as its texture; None where the
    /// renderer does not take it (the buffer then goes back to an uploaded texture).
    fn frame_texture(&mut self, _frame: &Dmabuf) -> Option<Self::TextureId> {
        None
    }

    /// Waits until the GPU has finished the work queued (reading every copy frame, before
    /// one is written; drawing the target, before its memory is read back).
    fn wait_copy_reads(&mut self) {}

    /// Inside a frame: runs the GL work queued so far, before the CPU writes into the
    /// target or a copy frame (`cpu::direct`).
    fn finish_queued(_frame: &mut Self::Frame<'_, '_>) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Frees what the sources dropped since the last call held (their framebuffers, then
    /// their textures, and with a client buffer's texture its import: fd and mapping).
    fn free_dropped(&mut self, _cache: &mut CopySources<Self::TextureId>) {}

    /// Copies `src.loc` onwards of `source`, texel for pixel, to `dst` for the `damage`
    /// rectangles (relative to `dst`). Ok(false) when it could not.
    fn copy_draw(
        _frame: &mut Self::Frame<'_, '_>,
        _source: &Source<Self::TextureId>,
        _src: Point<i32, Buffer>,
        _dst: Rectangle<i32, Physical>,
        _damage: &[Rectangle<i32, Physical>],
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

/// Copy sources by buffer, made on first use and dropped once the buffer is gone, or once
/// no copy read them for [`KEEP_RENDERS`] renders and [`KEEP_FOR`]. None: the import
/// failed, and is not tried again for that buffer.
pub struct CopySources<T> {
    /// Off when the current output's target is not XR24 (then nothing is copied onto it).
    pub(crate) on: bool,
    map: HashMap<WeakDmabuf, Option<Source<T>>>,
    /// Framebuffers of dropped sources, freed by the renderer ([`CopyDraw::free_dropped`]).
    dropped: Vec<u32>,
    /// Renders so far (one `prune` each).
    renders: u64,
    /// The render, and when, each source was last copied from (none: never, so its
    /// buffer's pages were not touched through it).
    last_copied: HashMap<WeakDmabuf, (u64, Instant)>,
}

impl<T> CopySources<T> {
    pub(crate) fn new(on: bool) -> Self {
        CopySources {
            on,
            map: HashMap::new(),
            dropped: Vec::new(),
            renders: 0,
            last_copied: HashMap::new(),
        }
    }

    /// Called once per render, before the elements are built. Drops the sources of
    /// destroyed buffers, and those copied from once but neither in the last
    /// [`KEEP_RENDERS`] renders nor within [`KEEP_FOR`] (their framebuffers and textures,
    /// and with a client buffer's texture llvmpipe's import of it, go at the next
    /// [`CopyDraw::free_dropped`], in the same render). A source never copied from is
    /// kept: it holds no resident pages, and dropping it would only make it again at the
    /// next render.
    pub(crate) fn prune(&mut self) {
        self.prune_at(Instant::now());
    }

    /// [`prune`](Self::prune) at the time `at` (the tests give it: a loaded machine can
    /// take longer than [`KEEP_FOR`] between two calls).
    fn prune_at(&mut self, at: Instant) {
        self.renders += 1;
        let now = self.renders;
        let (dropped, last) = (&mut self.dropped, &mut self.last_copied);
        let before = self.map.len();
        self.map.retain(|k, v| {
            if v.as_ref()
                .is_some_and(|s| s.copied.swap(false, Ordering::Relaxed))
            {
                last.insert(k.clone(), (now, at));
            }
            let idle = last
                .get(k)
                .is_some_and(|&(n, t)| now - n > KEEP_RENDERS && at - t > KEEP_FOR);
            let keep = k.upgrade().is_some() && !idle;
            if !keep {
                dropped.extend(v.as_ref().map(|s| s.fbo));
                last.remove(k);
            }
            keep
        });
        if self.map.len() < before {
            let held = self.map.len();
            debug!(dropped = before - held, held, "copy sources dropped");
        }
    }
}

impl CopyDraw for PixmanRenderer {}

impl CopyDraw for GlesRenderer {
    fn copy_source(
        &mut self,
        cache: &mut CopySources<GlesTexture>,
        dmabuf: &Dmabuf,
    ) -> Option<Source<GlesTexture>> {
        if !cache.on || dmabuf.format().code != Fourcc::Xrgb8888 || dmabuf.y_inverted() {
            return None;
        }
        if let Some(known) = cache.map.get(&dmabuf.weak()) {
            return known.clone();
        }
        let made = texture_2d(self, dmabuf, false).and_then(|t| source_on(self, t));
        remember(cache, dmabuf, made, false)
    }

    fn frame_source(
        &mut self,
        cache: &mut CopySources<GlesTexture>,
        key: &Dmabuf,
        texture: &GlesTexture,
    ) -> Option<Source<GlesTexture>> {
        if !cache.on {
            return None;
        }
        match cache.map.get(&key.weak()) {
            // The same texture as when the source was made (a remade one gets a new source).
            Some(Some(s)) if s.texture.tex_id() == texture.tex_id() => return Some(s.clone()),
            Some(None) => return None,
            Some(Some(old)) => cache.dropped.push(old.fbo),
            None => {}
        }
        let made = source_on(self, texture.clone());
        remember(cache, key, made, true)
    }

    fn frame_texture(&mut self, frame: &Dmabuf) -> Option<GlesTexture> {
        texture_2d(self, frame, false)
            .map_err(|err| debug!(%err, "copy frame not imported; the buffer is uploaded"))
            .ok()
    }

    fn wait_copy_reads(&mut self) {
        // SAFETY: a plain GL call on the renderer's context.
        let _ = self.with_context(|gl| unsafe { gl.Finish() });
    }

    fn finish_queued(frame: &mut GlesFrame<'_, '_>) -> Result<(), GlesError> {
        // SAFETY: a plain GL call on the frame's current context.
        frame.with_context(|gl| unsafe { gl.Finish() })
    }

    fn free_dropped(&mut self, cache: &mut CopySources<GlesTexture>) {
        if cache.dropped.is_empty() {
            return;
        }
        let fbos = std::mem::take(&mut cache.dropped);
        // SAFETY: framebuffers made by `source_on` on this context, no longer used.
        let _ = self.with_context(|gl| unsafe {
            gl.DeleteFramebuffers(fbos.len() as i32, fbos.as_ptr());
        });
        // The dropped sources' textures are only queued for deletion, and smithay deletes
        // them when a frame finishes. A render whose damage is empty (a covered window,
        // windows that commit without damage) draws no frame: they, and llvmpipe's import
        // of the client buffer (a dup of its fd, a mapping with the pages copies read)
        // would stay until the next drawn frame, which may never come. Their framebuffers
        // are gone (above), so nothing else holds them.
        if let Err(err) = self.cleanup_texture_cache() {
            debug!(%err, "dropped copy sources' textures not freed");
        }
    }

    fn copy_draw(
        frame: &mut GlesFrame<'_, '_>,
        source: &Source<GlesTexture>,
        src: Point<i32, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
    ) -> Result<bool, GlesError> {
        // A rotated or flipped output is drawn through smithay's projection; a blit writes
        // raw framebuffer coordinates, so only an untransformed output is copied.
        if smithay::backend::renderer::Frame::transformation(frame) != Transform::Normal {
            return Ok(false);
        }
        let bounds = Rectangle::from_size(dst.size);
        // SAFETY: plain GL calls on the frame's current context; the read framebuffer and
        // the scissor test are put back as smithay left them.
        frame.with_context(|gl| unsafe {
            let mut read_fb = 0;
            gl.GetIntegerv(ffi::READ_FRAMEBUFFER_BINDING, &mut read_fb);
            gl.BindFramebuffer(ffi::READ_FRAMEBUFFER, source.fbo);
            // A scissor test makes Mesa take its blit shader instead of the row copy.
            let scissor = gl.IsEnabled(ffi::SCISSOR_TEST) == ffi::TRUE;
            gl.Disable(ffi::SCISSOR_TEST);
            for r in damage.iter().filter_map(|d| d.intersection(bounds)) {
                let (sx, sy) = (src.x + r.loc.x, src.y + r.loc.y);
                let (dx, dy) = (dst.loc.x + r.loc.x, dst.loc.y + r.loc.y);
                let (w, h) = (r.size.w, r.size.h);
                let (color, nearest) = (ffi::COLOR_BUFFER_BIT, ffi::NEAREST);
                gl.BlitFramebuffer(
                    sx,
                    sy,
                    sx + w,
                    sy + h,
                    dx,
                    dy,
                    dx + w,
                    dy + h,
                    color,
                    nearest,
                );
            }
            if scissor {
                gl.Enable(ffi::SCISSOR_TEST);
            }
            gl.BindFramebuffer(ffi::READ_FRAMEBUFFER, read_fb as u32);
            true
        })
    }
}

/// Caches what making `key`'s source gave (a failure too, so it is not retried).
fn remember(
    cache: &mut CopySources<GlesTexture>,
    key: &Dmabuf,
    made: Result<Source<GlesTexture>, String>,
    cpu_frame: bool,
) -> Option<Source<GlesTexture>> {
    let size = key.size();
    let source = match made {
        Ok(s) => {
            debug!(w = size.w, h = size.h, cpu_frame, "copy source made");
            Some(s)
        }
        Err(err) => {
            debug!(%err, cpu_frame, "no copy source; the buffer is drawn as a quad");
            None
        }
    };
    cache.map.insert(key.weak(), source.clone());
    source
}

/// A read framebuffer on `texture`, made once and kept with the source.
fn source_on(
    renderer: &mut GlesRenderer,
    texture: GlesTexture,
) -> Result<Source<GlesTexture>, String> {
    let tex = texture.tex_id();
    // SAFETY: plain GL calls on the renderer's context; the read framebuffer binding is
    // put back.
    let fbo = renderer
        .with_context(|gl| unsafe {
            let mut read_fb = 0;
            gl.GetIntegerv(ffi::READ_FRAMEBUFFER_BINDING, &mut read_fb);
            let mut fbo = 0;
            gl.GenFramebuffers(1, &mut fbo);
            gl.BindFramebuffer(ffi::READ_FRAMEBUFFER, fbo);
            let at = ffi::COLOR_ATTACHMENT0;
            gl.FramebufferTexture2D(ffi::READ_FRAMEBUFFER, at, ffi::TEXTURE_2D, tex, 0);
            let ok = gl.CheckFramebufferStatus(ffi::READ_FRAMEBUFFER) == ffi::FRAMEBUFFER_COMPLETE;
            gl.BindFramebuffer(ffi::READ_FRAMEBUFFER, read_fb as u32);
            if !ok {
                gl.DeleteFramebuffers(1, &fbo);
            }
            ok.then_some(fbo)
        })
        .map_err(|e| e.to_string())?
        .ok_or("the copy source's framebuffer is incomplete")?;
    Ok(Source {
        texture,
        fbo,
        copied: Arc::default(),
    })
}

/// `dmabuf` as a TEXTURE_2D. The EGLImage is destroyed at once: the texture keeps the
/// memory it was made from.
fn texture_2d(
    renderer: &mut GlesRenderer,
    dmabuf: &Dmabuf,
    target: bool,
) -> Result<GlesTexture, String> {
    let display = renderer.egl_context().display().clone();
    let image = display
        .create_image_from_dmabuf(dmabuf)
        .map_err(|e| e.to_string())?;
    let size = dmabuf.size();
    let made = renderer.with_context(|gl| unsafe {
        let mut tex = 0;
        gl.GenTextures(1, &mut tex);
        gl.BindTexture(ffi::TEXTURE_2D, tex);
        gl.EGLImageTargetTexture2DOES(ffi::TEXTURE_2D, image);
        let err = gl.GetError();
        gl.BindTexture(ffi::TEXTURE_2D, 0);
        (tex, err)
    });
    // SAFETY: the image was made on this display above and is not used elsewhere.
    unsafe { eglffi::DestroyImageKHR(**display.get_display_handle(), image) };
    let (tex, err) = made.map_err(|e| e.to_string())?;
    // SAFETY: `tex` was just made on this renderer's context; the GlesTexture owns it.
    let texture = unsafe {
        GlesTexture::from_raw(
            renderer,
            Some(ffi::BGRA_EXT),
            true,
            tex,
            (size.w, size.h).into(),
        )
    };
    if err != ffi::NO_ERROR {
        return Err(format!("EGLImageTargetTexture2DOES: GL error {err:#x}"));
    }
    if target {
        debug!(w = size.w, h = size.h, "XR24 output target");
    }
    Ok(texture)
}

/// An output target on an XR24 memory buffer, so that XR24 buffers copy onto it, and
/// its memory mapped for CPU-path buffers converted straight into it (`cpu::direct`);
/// None where EGL does not take memfds (then the usual ABGR8888 texture is used).
pub(crate) fn xrgb_target(
    renderer: &mut GlesRenderer,
    size: Size<i32, Physical>,
) -> Option<(GlesTexture, crate::cpu::direct::TargetPixels)> {
    let (w, h) = (usize::try_from(size.w).ok()?, usize::try_from(size.h).ok()?);
    let (dmabuf, map) = crate::cpu::map::xr24_memfd("planar-target", w, h)
        .map_err(|err| debug!(%err, "no XR24 target"))
        .ok()?;
    let pixels = crate::cpu::direct::TargetPixels::new(map, size);
    let texture = texture_2d(renderer, &dmabuf, true)
        .map_err(|err| debug!(%err, "no XR24 target"))
        .ok()?;
    Some((texture, pixels))
}

/// An element (a client's surface, or a CPU-path buffer's texture) drawn by a copy where
/// that gives the same pixels (an opaque buffer, unscaled, untransformed, fully opaque),
/// as its `inner` element draws itself otherwise.
pub struct CopyElement<R: Renderer, E> {
    pub(crate) inner: E,
    pub(crate) via: Via<R::TextureId>,
}

/// How a [`CopyElement`] is put on the target without a quad.
pub enum Via<T> {
    /// Copied from a source (glBlitFramebuffer).
    Copy(Source<T>),
    /// A CPU-path buffer converted straight into the target's memory.
    Direct(crate::cpu::direct::Direct),
}

/// Whether `element` is drawn texel for pixel, unturned and unfaded, onto an output
/// that is not turned either: what a copy can draw (decided before a source is made).
pub(crate) fn would_copy<E: Element>(element: &E, scale: Scale<f64>, output: Transform) -> bool {
    let size = element.geometry(scale).size;
    output == Transform::Normal && copies(element.src(), size, element.transform(), element.alpha())
}

/// `impl Element` for a wrapper element that draws differently but is placed, damaged
/// and ordered exactly as its `inner` element (`element_via_inner!(impl<..> Type)`).
macro_rules! element_via_inner {
    (impl<$($g:ident: $b:path),*> $t:ty) => {
        impl<$($g: $b),*> smithay::backend::renderer::element::Element for $t {
            fn id(&self) -> &smithay::backend::renderer::element::Id {
                self.inner.id()
            }
            fn current_commit(&self) -> smithay::backend::renderer::utils::CommitCounter {
                self.inner.current_commit()
            }
            fn location(&self, scale: Scale<f64>) -> Point<i32, Physical> {
                self.inner.location(scale)
            }
            fn src(&self) -> Rectangle<f64, Buffer> {
                self.inner.src()
            }
            fn transform(&self) -> Transform {
                self.inner.transform()
            }
            fn geometry(&self, scale: Scale<f64>) -> Rectangle<i32, Physical> {
                self.inner.geometry(scale)
            }
            fn damage_since(
                &self,
                scale: Scale<f64>,
                commit: Option<smithay::backend::renderer::utils::CommitCounter>,
            ) -> smithay::backend::renderer::utils::DamageSet<i32, Physical> {
                self.inner.damage_since(scale, commit)
            }
            fn opaque_regions(
                &self,
                scale: Scale<f64>,
            ) -> smithay::backend::renderer::utils::OpaqueRegions<i32, Physical> {
                self.inner.opaque_regions(scale)
            }
            fn alpha(&self) -> f32 {
                self.inner.alpha()
            }
            fn kind(&self) -> smithay::backend::renderer::element::Kind {
                self.inner.kind()
            }
        }
    };
}

element_via_inner!(impl<R: Renderer, E: Element> CopyElement<R, E>);

impl<R, E> RenderElement<R> for CopyElement<R, E>
where
    R: Renderer + CopyDraw,
    R::TextureId: Texture + 'static,
    E: RenderElement<R>,
{
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        src: Rectangle<f64, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        let copied = copies(src, dst.size, self.inner.transform(), self.inner.alpha());
        let drawn = match &self.via {
            Via::Copy(source) => {
                let drawn = copied && R::copy_draw(frame, source, at(src), dst, damage)?;
                source.copied.fetch_or(drawn, Ordering::Relaxed);
                drawn
            }
            Via::Direct(direct) => direct.draw::<R>(frame, copied, (at(src), dst), damage)?,
        };
        if drawn {
            return Ok(());
        }
        self.inner.draw(frame, src, dst, damage, opaque_regions)
    }

    fn underlying_storage(&self, renderer: &mut R) -> Option<UnderlyingStorage<'_>> {
        self.inner.underlying_storage(renderer)
    }
}

fn at(src: Rectangle<f64, Buffer>) -> Point<i32, Buffer> {
    Point::from((src.loc.x as i32, src.loc.y as i32))
}

/// Whether a copy draws what the quad would: texel for pixel (whole texels, the same
/// size, as for nearest sampling), not turned, not faded.
fn copies(src: Rectangle<f64, Buffer>, dst: Size<i32, Physical>, t: Transform, alpha: f32) -> bool {
    t == Transform::Normal && alpha == 1.0 && crate::engine::unscaled(src, dst, t)
}

#[cfg(test)]
mod tests;
