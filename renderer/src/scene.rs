//! From the scene to render elements, and the import of committed buffers.
//!
//! smithay's own element builder imports every buffer through the renderer's dma-buf
//! import, which is exactly what a CPU-path buffer must not go through. So planar walks
//! the surface trees itself (the same walk as smithay's `render_elements_from_surface_tree`)
//! and uses a texture element for CPU-path buffers, smithay's surface element for the rest.
//! Either is wrapped in a copy element where the copy path (`blit`) will draw it; there a
//! CPU-path buffer with a copy frame is not copied but converted at draw time straight
//! into the output's target (`cpu::direct`; its commits only record damage).
//! A window's xdg popups (`popups::topmost_first`) are drawn above it, each surface tree
//! where its popup was placed.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::{
    backend::renderer::{
        element::{
            render_elements,
            surface::{WaylandSurfaceRenderElement, WaylandSurfaceTexture},
            texture::{TextureRenderBuffer, TextureRenderElement},
            Element as _, Kind,
        },
        utils::{import_surface, RendererSurfaceStateUserData, SurfaceView},
        ImportAll, ImportMem, Renderer, Texture,
    },
    desktop::{Space, Window},
    output::Output,
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Resource},
    utils::{Physical, Point, Rectangle, Scale, Transform},
    wayland::{
        compositor::{with_surface_tree_downward, TraversalAction},
        dmabuf::get_dmabuf,
    },
};
use std::rc::Rc;
use tracing::{debug, warn};

use crate::{
    blit::{would_copy, CopyDraw, CopyElement, CopySources, Via},
    cpu::{
        convert::YuvEncoding,
        direct::{Direct, SharedBuffer, TargetPixels},
        gles_yuv::{YuvDraw, YuvElement},
        ReadError, CHUNK_BYTES,
    },
    import::{CpuUpload, Entry, ImportRecord, Imports, ZeroCopy},
};
use smithay::wayland::compositor::SurfaceData;

render_elements! {
    pub PlanarElement<R> where R: ImportAll + ImportMem + YuvDraw + CopyDraw;
    Surface=WaylandSurfaceRenderElement<R>,
    Copy=CopyElement<R, WaylandSurfaceRenderElement<R>>,
    Cpu=TextureRenderElement<<R as smithay::backend::renderer::RendererSuper>::TextureId>,
    CpuCopy=CopyElement<R, TextureRenderElement<<R as smithay::backend::renderer::RendererSuper>::TextureId>>,
    Yuv=YuvElement,
}

/// The output elements are built for: its scale, transform, area (physical, as turned)
/// and its target's memory (`space_elements`' `pixels`).
#[derive(Clone, Copy)]
struct OnOutput<'a> {
    scale: Scale<f64>,
    turned: Transform,
    area: Rectangle<i32, Physical>,
    pixels: Option<&'a Rc<TargetPixels>>,
}

/// The elements of every window in `space` and of its popups, topmost first.
/// `pixels`: the output target's memory, where CPU-path buffers that would be copied are
/// converted straight in (`cpu::direct`).
pub(crate) fn space_elements<R>(
    renderer: &mut R,
    (imports, copies): (&mut Imports<R::TextureId>, &mut CopySources<R::TextureId>),
    pixels: Option<&Rc<TargetPixels>>,
    space: &Space<Window>,
    output: &Output,
) -> Vec<PlanarElement<R>>
where
    R: Renderer + ImportAll + ImportMem + YuvDraw + CopyDraw,
    R::TextureId: Clone + Texture + Send + 'static,
{
    let scale = Scale::from(output.current_scale().fractional_scale());
    // Windows are placed in the layout; each output draws them relative to its own origin.
    let origin = space
        .output_geometry(output)
        .map(|g| g.loc)
        .unwrap_or_default();
    renderer.free_dropped(copies);
    // Copies only onto an untransformed output (see `blit::CopyDraw::copy_draw`), and
    // converts straight into a target only where it would copy (`pixels` is only there
    // for a target the copy path copies onto: `engine::OutputTarget`).
    let turned = output.current_transform();
    let size = output.current_mode().map(|m| m.size).unwrap_or_default();
    let on = OnOutput {
        scale,
        turned,
        area: Rectangle::from_size(turned.transform_size(size)),
        pixels,
    };
    let mut out = Vec::new();
    for window in space.elements().rev() {
        let (Some(location), Some(surface)) = (
            space.element_location(window),
            crate::xwayland::window_surface(window),
        ) else {
            continue;
        };
        // Its popups first (topmost first), above it: each where the positioner put it,
        // relative to the window's geometry.
        let at = crate::popups::sub(location, origin);
        for (popup, offset) in crate::popups::topmost_first(&surface) {
            let popup_at = crate::popups::add(at, offset).to_physical_precise_round(scale);
            let sinks = (&mut *imports, &mut *copies);
            tree_elements(renderer, sinks, &popup, popup_at, on, &mut out);
        }
        let location = (location - window.geometry().loc - origin).to_physical_precise_round(scale);
        let sinks = (&mut *imports, &mut *copies);
        tree_elements(renderer, sinks, &surface, location, on, &mut out);
    }
    out
}

fn tree_elements<R>(
    renderer: &mut R,
    (imports, copies): (&mut Imports<R::TextureId>, &mut CopySources<R::TextureId>),
    root: &WlSurface,
    location: Point<i32, Physical>,
    on: OnOutput<'_>,
    out: &mut Vec<PlanarElement<R>>,
) where
    R: Renderer + ImportAll + ImportMem + YuvDraw + CopyDraw,
    R::TextureId: Clone + Texture + Send + 'static,
{
    let scale = on.scale;
    with_surface_tree_downward(
        root,
        location.to_f64(),
        |_, states, location| {
            let view = states
                .data_map
                .get::<RendererSurfaceStateUserData>()
                .and_then(|d| d.lock().unwrap().view());
            match view {
                Some(view) => {
                    TraversalAction::DoChildren(*location + view.offset.to_f64().to_physical(scale))
                }
                None => TraversalAction::SkipChildren,
            }
        },
        |surface, states, location| {
            let Some(data) = states.data_map.get::<RendererSurfaceStateUserData>() else {
                return;
            };
            let (view, dmabuf) = {
                let d = data.lock().unwrap();
                (
                    d.view(),
                    d.buffer().and_then(|b| get_dmabuf(b).ok().cloned()),
                )
            };
            let Some(view) = view else { return };
            let location = *location + view.offset.to_f64().to_physical(scale);
            if let Some(dmabuf) = &dmabuf {
                match imports.entries.get_mut(&dmabuf.weak()) {
                    Some(Entry::Cpu {
                        record,
                        texture: Some(texture),
                        raw,
                        buffer,
                        ..
                    }) => {
                        record.frames_shown += 1;
                        let cpu = (&*buffer, texture, raw.as_ref());
                        let view = (location, &view);
                        let made = cpu_element(renderer, copies, (dmabuf, cpu), view, on);
                        if made.copied {
                            record.frames_copied += 1;
                        }
                        out.push(made.element);
                        return;
                    }
                    Some(Entry::Cpu { .. }) => return,
                    Some(Entry::Egl {
                        record, flipped, ..
                    }) => {
                        record.frames_shown += 1;
                        if let Some((_, texture)) = flipped {
                            out.push(PlanarElement::Cpu(texture_element(
                                location, texture, &view,
                            )));
                            return;
                        }
                    }
                    // Not decided by planar: nothing to show.
                    None => return,
                }
            }
            match WaylandSurfaceRenderElement::from_surface(
                renderer,
                surface,
                states,
                location,
                1.0,
                Kind::Unspecified,
            ) {
                Ok(Some(inner)) => {
                    // The source is made only for a draw that will be a copy.
                    let copyable = matches!(inner.texture(), WaylandSurfaceTexture::Texture(_))
                        && would_copy(&inner, scale, on.turned);
                    let source = dmabuf
                        .filter(|_| copyable)
                        .and_then(|d| Some((renderer.copy_source(copies, &d)?, d)));
                    out.push(match source {
                        Some((source, d)) => {
                            if let Some(Entry::Egl { record, .. }) =
                                imports.entries.get_mut(&d.weak())
                            {
                                record.frames_copied += 1;
                            }
                            let via = Via::Copy(source);
                            PlanarElement::Copy(CopyElement { inner, via })
                        }
                        None => PlanarElement::Surface(inner),
                    })
                }
                Ok(None) => {}
                Err(err) => warn!(%err, "a surface's buffer could not be imported"),
            }
        },
        |_, _, _| true,
    );
}

/// What [`cpu_element`] made: the element, and whether the copy path draws it (a copy
/// of its copy frame, or a conversion straight into the target).
struct CpuElement<R: ImportAll + ImportMem + YuvDraw + CopyDraw> {
    element: PlanarElement<R>,
    copied: bool,
}

/// The element of a CPU-path buffer: its planes converted by the renderer (`gles_yuv`),
/// converted straight into the output's target (`cpu::direct`) where a copy would
/// happen, or its texture (the copy frame, brought up to date first) drawn by a copy or
/// as a quad.
#[allow(clippy::type_complexity)]
fn cpu_element<R>(
    renderer: &mut R,
    copies: &mut CopySources<R::TextureId>,
    (dmabuf, (buffer, texture, raw)): (
        &Dmabuf,
        (
            &SharedBuffer,
            &mut TextureRenderBuffer<R::TextureId>,
            Option<&R::TextureId>,
        ),
    ),
    (location, view): (Point<f64, Physical>, &SurfaceView),
    on: OnOutput<'_>,
) -> CpuElement<R>
where
    R: Renderer + ImportAll + ImportMem + YuvDraw + CopyDraw,
    R::TextureId: Clone + Texture + Send + 'static,
{
    let mut b = buffer.borrow_mut();
    if b.take_retry() {
        // The last draw-time read found a write fence unsignalled and left the target's
        // old pixels: the whole buffer is damaged, so this render draws it again.
        let whole = b.row_region(0..b.height);
        let _ = texture.render().draw(|_| Ok::<_, String>(vec![whole]));
    }
    let element = || texture_element(location, texture, view);
    if let Some(yuv) = R::yuv_element(&b, element) {
        return CpuElement {
            element: PlanarElement::Yuv(yuv),
            copied: false,
        };
    }
    let inner = element();
    let framed = b.copy_frame().is_some();
    let copyable = framed && would_copy(&inner, on.scale, on.turned);
    if let (true, Some(target)) = (copyable, on.pixels) {
        let via = Via::Direct(Direct {
            buffer: buffer.clone(),
            target: target.clone(),
        });
        return CpuElement {
            element: PlanarElement::CpuCopy(CopyElement { inner, via }),
            copied: true,
        };
    }
    // The copy frame is read by this draw: its stale rows are converted first, once the
    // GPU has finished reading it. Not for an output the buffer is not on (another
    // output may convert it straight into its target every frame).
    let on_output = inner.geometry(on.scale).overlaps(on.area);
    if framed && on_output && b.frame_stale() {
        renderer.wait_copy_reads();
        if let Err(err) = b.refresh_frame() {
            debug!(%err, "the copy frame keeps its old rows until the next draw");
        }
    }
    // A copy frame is drawn by a copy where one will happen.
    let source = match raw {
        Some(raw) if copyable => renderer.frame_source(copies, dmabuf, raw),
        _ => None,
    };
    let copied = source.is_some();
    let element = match source {
        Some(source) => {
            let via = Via::Copy(source);
            PlanarElement::CpuCopy(CopyElement { inner, via })
        }
        None => PlanarElement::Cpu(inner),
    };
    CpuElement { element, copied }
}

/// A planar-made texture (CPU-path frame, flipped EGL twin) drawn where the surface's
/// view puts its buffer.
fn texture_element<T: Texture + Clone>(
    location: Point<f64, Physical>,
    texture: &TextureRenderBuffer<T>,
    view: &SurfaceView,
) -> TextureRenderElement<T> {
    TextureRenderElement::from_texture_render_buffer(
        location,
        texture,
        None,
        Some(view.src),
        Some(view.dst),
        Kind::Unspecified,
    )
}

/// The YUV encoding the compositor gives a surface's buffer (wp-color-representation is
/// the compositor's business; the renderer only takes the value). `None`: keep what the
/// buffer has.
pub type EncodingOf<'a> = &'a dyn Fn(&SurfaceData) -> Option<YuvEncoding>;

/// Brings the textures of a committed surface tree up to date: CPU-path buffers re-read
/// their damaged rows, everything else is imported by smithay (a cached EGL import is
/// checked for being the same texture, to count re-imports).
pub(crate) fn import_tree<R>(
    renderer: &mut R,
    imports: &mut Imports<R::TextureId>,
    root: &WlSurface,
    encoding_of: EncodingOf<'_>,
) where
    R: Renderer + ImportAll + ImportMem + ZeroCopy + CpuUpload + YuvDraw + CopyDraw,
    R::TextureId: Clone + Texture + Send + 'static,
{
    with_surface_tree_downward(
        root,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |surface, states, _| import_committed(renderer, imports, surface, states, encoding_of),
        |_, _, _| true,
    );
}

/// One surface of a committed tree: a dma-buf goes the way its import decision says, any
/// other buffer (wl_shm, single-pixel) through smithay's import.
fn import_committed<R>(
    renderer: &mut R,
    imports: &mut Imports<R::TextureId>,
    surface: &WlSurface,
    states: &SurfaceData,
    encoding_of: EncodingOf<'_>,
) where
    R: Renderer + ImportAll + ImportMem + ZeroCopy + CpuUpload + YuvDraw + CopyDraw,
    R::TextureId: Clone + Texture + Send + 'static,
{
    let Some(data) = states.data_map.get::<RendererSurfaceStateUserData>() else {
        return;
    };
    let dmabuf = data
        .lock()
        .unwrap()
        .buffer()
        .and_then(|b| get_dmabuf(b).ok().cloned());
    let Some(dmabuf) = dmabuf else {
        if let Err(err) = import_surface(renderer, states) {
            warn!(%err, "importing a committed buffer failed");
        }
        return;
    };
    match imports.entries.get_mut(&dmabuf.weak()) {
        Some(Entry::Egl {
            record,
            texture_id,
            flipped,
        }) => {
            let egl = EglEntry {
                record,
                texture_id,
                flipped,
            };
            update_egl(renderer, egl, &dmabuf, states);
        }
        Some(entry @ Entry::Cpu { .. }) => {
            let chosen = encoding_of(states);
            update_cpu(renderer, &mut imports.scratch, entry, surface, chosen, data);
        }
        None => {}
    }
}

/// The parts of a zero-copy cache entry a commit updates.
struct EglEntry<'a, T: Texture> {
    record: &'a mut ImportRecord,
    texture_id: &'a mut Option<u64>,
    flipped: &'a mut Option<(Dmabuf, TextureRenderBuffer<T>)>,
}

/// Brings a zero-copy buffer's texture up to date with a commit, and counts a re-import
/// when the texture is not the one imported before.
fn update_egl<R>(
    renderer: &mut R,
    e: EglEntry<'_, R::TextureId>,
    dmabuf: &Dmabuf,
    states: &SurfaceData,
) where
    R: Renderer + ImportAll + ZeroCopy,
    R::TextureId: Clone + Texture + 'static,
{
    let imported = match e.flipped {
        // The twin is what is drawn; a new commit of the same buffer may have new
        // contents: the whole texture is damaged.
        Some((twin, texture)) => renderer.zero_copy(twin).map(|r| {
            r.map(|(id, t)| {
                texture.update_from_texture(renderer, t, 1, Transform::Flipped180, None);
                id
            })
        }),
        None => {
            if let Err(err) = import_surface(renderer, states) {
                warn!(%err, "importing a committed dma-buf failed");
            }
            renderer.zero_copy(dmabuf).map(|r| r.map(|(id, _)| id))
        }
    };
    if let Some(Ok(id)) = imported {
        if e.texture_id.is_some_and(|old| old != id) {
            e.record.reimports += 1;
        }
        *e.texture_id = Some(id);
    }
}

/// Brings a CPU-path texture up to date with a commit: the damaged rows are re-read (all
/// of them for a new texture or a new YUV encoding, until such a read succeeds), and the
/// texture follows the surface's buffer scale and transform. When a read fails (a write
/// fence has not signalled in time) the texture keeps its contents and the commit is not
/// marked seen, so the next commit reads its damage too. `chosen`: the encoding the
/// compositor gives the surface's buffer. A buffer with a copy frame is not read at
/// commit: its damage is recorded (the texture damaged, the copy frame's rows marked
/// stale), and the draw converts it (`cpu::direct`, or the copy frame when a draw reads
/// that).
fn update_cpu<R>(
    renderer: &mut R,
    scratch: &mut Vec<u8>,
    entry: &mut Entry<R::TextureId>,
    surface: &WlSurface,
    chosen: Option<YuvEncoding>,
    data: &RendererSurfaceStateUserData,
) where
    R: Renderer + CpuUpload + YuvDraw + CopyDraw,
    R::TextureId: Clone + Texture + 'static,
{
    let Entry::Cpu {
        record,
        buffer,
        texture: shown,
        raw: kept,
        geometry,
        seen,
    } = entry
    else {
        return;
    };
    let mut buffer = buffer.borrow_mut();
    let (damage, commit, buffer_scale, transform) = {
        let d = data.lock().unwrap();
        let since = seen
            .as_ref()
            .filter(|(id, _)| *id == surface.id())
            .map(|(_, c)| *c);
        let rects: Vec<Rectangle<i32, smithay::utils::Buffer>> =
            d.damage_since(since).iter().copied().collect();
        (
            rects,
            d.current_commit(),
            d.buffer_scale(),
            d.buffer_transform(),
        )
    };
    let recode = chosen.is_some_and(|enc| buffer.set_encoding(enc));
    if *seen == Some((surface.id(), commit)) && shown.is_some() && !recode {
        return;
    }
    let new = shown.is_none();
    // An opaque format covers everything under it, as smithay's surface element says of
    // a buffer without alpha: the damage tracker then clears nothing beneath it.
    let opaque = (!buffer.format.alpha).then(|| vec![buffer.row_region(0..buffer.height)]);
    if new {
        let frame = buffer.copy_frame().and_then(|f| renderer.frame_texture(f));
        if frame.is_none() {
            buffer.drop_copy_frame();
        }
        match frame.map_or_else(|| renderer.cpu_texture(&mut buffer), Ok) {
            Ok(t) => {
                *shown = Some(TextureRenderBuffer::from_texture(
                    renderer,
                    t.clone(),
                    buffer_scale,
                    transform,
                    opaque.clone(),
                ));
                *kept = Some(t);
                *geometry = (buffer_scale, transform);
            }
            Err(err) => {
                warn!(record = record.id, %err, "creating a CPU-path texture failed");
                return;
            }
        }
    }
    let (Some(texture), Some(raw)) = (shown.as_mut(), kept.as_ref()) else {
        return;
    };
    if *geometry != (buffer_scale, transform) {
        // The same texture, drawn with the surface's new scale and transform (smithay's
        // render buffer fixes both when it is made).
        texture.update_from_texture(renderer, raw.clone(), buffer_scale, transform, opaque);
        *geometry = (buffer_scale, transform);
    }
    let damaged = damaged_rows(&damage, buffer.height);
    let rows = buffer.rows_to_read(damaged.clone());
    let (format, width) = (buffer.upload, buffer.width);
    if buffer.copy_frame().is_some() {
        let whole = rows != damaged || recode;
        let rows = buffer.note_damage(rows);
        let bounds = buffer.row_region(0..buffer.height);
        let rects = if whole {
            vec![buffer.row_region(rows)]
        } else {
            damage
                .iter()
                .filter_map(|r| r.intersection(bounds))
                .collect()
        };
        let _ = texture.render().draw(|_| Ok::<_, String>(rects));
        *seen = Some((surface.id(), commit));
        return;
    }
    let read = if buffer.planes_direct {
        renderer.read_planes(&mut buffer, rows)
    } else {
        buffer.read(rows, scratch, |rows, bytes| {
            renderer.cpu_upload(raw, format, width, rows, bytes)
        })
    };
    // The chunk stays for the next read, unless a wide buffer made it grow past one.
    if scratch.capacity() > CHUNK_BYTES {
        *scratch = Vec::new();
    }
    match read {
        Ok(changed) => {
            // A new encoding of planes the renderer converts changes every pixel, though
            // no plane is uploaded again.
            let changed = if recode { 0..buffer.height } else { changed };
            if !changed.is_empty() {
                let region = buffer.row_region(changed);
                let _ = texture.render().draw(|_| Ok::<_, String>(vec![region]));
            }
        }
        Err(ReadError::FenceTimeout) => {
            if new {
                // Nothing was shown before: no texture rather than an empty one.
                *shown = None;
                *kept = None;
            }
            return;
        }
        Err(err) => {
            warn!(record = record.id, %err, "reading a CPU-path buffer failed");
            return;
        }
    }
    *seen = Some((surface.id(), commit));
}

/// The rows covered by any damage rectangle, as one span (clamped to the buffer).
fn damaged_rows(
    damage: &[Rectangle<i32, smithay::utils::Buffer>],
    height: usize,
) -> std::ops::Range<usize> {
    let mut lo = usize::MAX;
    let mut hi = 0usize;
    for r in damage {
        let y0 = r.loc.y.max(0) as usize;
        let y1 = (r.loc.y.saturating_add(r.size.h)).max(0) as usize;
        lo = lo.min(y0);
        hi = hi.max(y1);
    }
    if lo >= hi {
        0..0
    } else {
        lo.min(height)..hi.min(height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_becomes_one_row_span() {
        let r = |y, h| Rectangle::new((0, y).into(), (10, h).into());
        assert_eq!(damaged_rows(&[r(10, 5), r(40, 2)], 100), 10..42);
        assert_eq!(damaged_rows(&[], 100), 0..0);
        assert_eq!(damaged_rows(&[r(90, 50)], 100), 90..100);
        assert_eq!(damaged_rows(&[r(-5, 10)], 100), 0..5);
    }
}
