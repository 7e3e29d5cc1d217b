//! One frame through the damage tracker, with the background cleared without a shader
//! where the whole output is redrawn.
//!
//! smithay's `OutputDamageTracker::render_output` clears the damage no opaque element
//! covers by drawing a solid quad, and on llvmpipe the first quad of a process
//! JIT-compiles its fragment shader through LLVM: ~6 ms of CPU in every `planar run`
//! (perf, 8 runs), where the client's buffer itself is copied without a shader (`blit`).
//! A `glClear` of the whole framebuffer needs no shader on llvmpipe (a scissored one
//! does: llvmpipe's clear cannot scissor, so Mesa clears with a quad of its own). So on
//! GLES a frame whose damage covers the whole output (a target's first frame, buffer age
//! 0) and leaves some of it bare is cleared whole with `glClear`, under the windows too,
//! which then draw over it; a frame with nothing bare clears nothing, as smithay's; any
//! other frame is cleared exactly as smithay clears it.
//!
//! Why not smithay's `render_output` with an opaque background element at the bottom (so
//! that it has nothing left to clear): the tracker damages an element whose z-index
//! changed, and the background's changes with every window mapped or unmapped: the whole
//! output would be damaged, and reported as damaged, each time. So the damage comes from
//! smithay's own `damage_output` (the same damage and element state `render_output`
//! keeps), and [`render_frame`] draws it as `render_output` does: the same visible
//! elements, each with the damage not covered by opaque elements above it, bottom first.
//! `PLANAR_QUAD_CLEAR=1` renders through `render_output` itself; tests/tests/background.rs
//! compares the screenshots of both. Pixman always goes through `render_output`.

use smithay::{
    backend::renderer::{
        damage::{Error as DamageError, OutputDamageTracker},
        element::{Element, RenderElement},
        gles::{ffi, GlesError, GlesFrame, GlesRenderer},
        pixman::PixmanRenderer,
        Color32F, Frame, Renderer, Texture,
    },
    utils::{Physical, Rectangle, Scale, Size, Transform},
};
use tracing::debug;

/// Whether a frame redrawing the whole output is cleared with `glClear` in this process
/// (`PLANAR_QUAD_CLEAR` unset).
fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PLANAR_QUAD_CLEAR").is_none())
}

/// How a renderer clears a whole framebuffer.
pub trait ClearDraw: Renderer + Sized {
    /// Whether frames go through [`render_frame`] (else smithay's `render_output`).
    const CLEARS_WHOLE: bool = false;

    /// Fills the frame's whole framebuffer (`output`: the output's whole area) with
    /// `color`.
    fn clear_whole(
        frame: &mut Self::Frame<'_, '_>,
        color: Color32F,
        output: Rectangle<i32, Physical>,
    ) -> Result<(), Self::Error> {
        frame.clear(color, &[output])
    }
}

impl ClearDraw for PixmanRenderer {}

impl ClearDraw for GlesRenderer {
    const CLEARS_WHOLE: bool = true;

    fn clear_whole(
        frame: &mut GlesFrame<'_, '_>,
        color: Color32F,
        _output: Rectangle<i32, Physical>,
    ) -> Result<(), GlesError> {
        // SAFETY: plain GL calls on the frame's current context; the scissor box and the
        // clear colour are put back as they were (smithay keeps the scissor test on, its
        // box the viewport, which is the whole framebuffer).
        frame.with_context(|gl| unsafe {
            let mut scissor = [0i32; 4];
            gl.GetIntegerv(ffi::SCISSOR_BOX, scissor.as_mut_ptr());
            let mut viewport = [0i32; 4];
            gl.GetIntegerv(ffi::VIEWPORT, viewport.as_mut_ptr());
            let mut clear = [0f32; 4];
            gl.GetFloatv(ffi::COLOR_CLEAR_VALUE, clear.as_mut_ptr());
            gl.Scissor(viewport[0], viewport[1], viewport[2], viewport[3]);
            gl.ClearColor(color.r(), color.g(), color.b(), color.a());
            gl.Clear(ffi::COLOR_BUFFER_BIT);
            gl.Scissor(scissor[0], scissor[1], scissor[2], scissor[3]);
            gl.ClearColor(clear[0], clear[1], clear[2], clear[3]);
        })
    }
}

/// Renders `elements` (topmost first) into `framebuffer` over `clear`, with `tracker`
/// giving the damage since the buffer of age `age` was drawn; returns the damage (empty
/// when nothing changed).
pub(crate) fn render_frame<R, E>(
    renderer: &mut R,
    framebuffer: &mut R::Framebuffer<'_>,
    tracker: &mut OutputDamageTracker,
    age: usize,
    elements: &[E],
    clear: Color32F,
) -> Result<Vec<Rectangle<i32, Physical>>, DamageError<R::Error>>
where
    R: ClearDraw,
    R::TextureId: Texture,
    E: RenderElement<R>,
{
    if !(R::CLEARS_WHOLE && enabled()) {
        let done = tracker.render_output(renderer, framebuffer, age, elements, clear)?;
        return Ok(done.damage.cloned().unwrap_or_default());
    }
    let (size, scale, transform): (Size<i32, Physical>, Scale<f64>, Transform) =
        tracker.mode().try_into()?;
    // As in `render_output`: the mode's transform turns surfaces; the frame turns back.
    let transform = transform.invert();
    let output = Rectangle::from_size(transform.transform_size(size));
    let damage = match tracker.damage_output(age, elements)?.0 {
        Some(damage) => damage.clone(),
        None => return Ok(Vec::new()),
    };
    let visible = visible_elements(elements, scale, output);
    let drawn = draw_frame(
        renderer,
        framebuffer,
        (size, scale, transform),
        &visible,
        &damage,
        clear,
    );
    if let Err(err) = drawn {
        // As `render_output` does: a frame that failed half-way left the buffer unknown,
        // so the tracker forgets what it drew (the next frame redraws everything).
        *tracker = OutputDamageTracker::from_mode_source(tracker.mode().clone());
        return Err(DamageError::Rendering(err));
    }
    Ok(damage)
}

/// Draws the `visible` elements (bottom first) with `damage` into `framebuffer` over
/// `clear`, as `render_output` does, except for the whole-output clear (module header).
fn draw_frame<R, E>(
    renderer: &mut R,
    framebuffer: &mut R::Framebuffer<'_>,
    (size, scale, transform): (Size<i32, Physical>, Scale<f64>, Transform),
    visible: &Visible<'_, E>,
    damage: &[Rectangle<i32, Physical>],
    clear: Color32F,
) -> Result<(), R::Error>
where
    R: ClearDraw,
    R::TextureId: Texture,
    E: RenderElement<R>,
{
    let output = Rectangle::from_size(transform.transform_size(size));
    let mut frame = renderer.render(framebuffer, size, transform)?;
    // What no opaque element covers: nothing to clear under a full-screen opaque window
    // (a 1080p clear every frame cost llvmpipe more than the window's own copy).
    let all_opaque = visible.opaque.iter().copied();
    let bare = Rectangle::subtract_rects_many_in_place(damage.to_vec(), all_opaque);
    if !bare.is_empty() {
        if damage.iter().any(|d| d.contains_rect(output)) {
            debug!(w = output.size.w, h = output.size.h, "frame cleared whole");
            R::clear_whole(&mut frame, clear, output)?;
        } else {
            frame.clear(clear, &bare)?;
        }
    }
    // Reused from element to element, as `render_output` keeps its own.
    let (mut element_damage, mut opaque) = (Vec::new(), Vec::new());
    for (element, own) in visible.elements.iter().rev() {
        let geometry = element.geometry(scale);
        element_damage.clear();
        element_damage.extend(damage.iter().filter_map(|d| d.intersection(geometry)));
        let above = visible.opaque[..own.start].iter().copied();
        element_damage = Rectangle::subtract_rects_many_in_place(element_damage, above);
        if element_damage.is_empty() {
            continue;
        }
        element_damage
            .iter_mut()
            .for_each(|d| d.loc -= geometry.loc);
        opaque.clear();
        opaque.extend(
            visible.opaque[own.clone()]
                .iter()
                .map(|r| Rectangle::new(r.loc - geometry.loc, r.size)),
        );
        element.draw(
            &mut frame,
            element.src(),
            geometry,
            &element_damage,
            &opaque,
        )?;
    }
    // Not waited on, as with `render_output` before: readers of the target (the copy
    // path, readback) go through the same context.
    let _sync = frame.finish()?;
    Ok(())
}

/// The elements a frame draws, topmost first, and the opaque regions of all of them (on
/// the output, in the same order; each element's own are at its range).
struct Visible<'a, E> {
    elements: Vec<(&'a E, std::ops::Range<usize>)>,
    opaque: Vec<Rectangle<i32, Physical>>,
}

/// What `damage_output` keeps of `elements`: those on the output and not hidden whole
/// behind opaque elements above them.
fn visible_elements<E: Element>(
    elements: &[E],
    scale: Scale<f64>,
    output: Rectangle<i32, Physical>,
) -> Visible<'_, E> {
    let mut visible = Visible {
        elements: Vec::with_capacity(elements.len()),
        opaque: Vec::new(),
    };
    let mut shown = Vec::new();
    for element in elements {
        let geometry = element.geometry(scale);
        let Some(on_output) = geometry.intersection(output) else {
            continue;
        };
        shown.clear();
        shown.push(on_output);
        shown = Rectangle::subtract_rects_many_in_place(shown, visible.opaque.iter().copied());
        if shown.iter().all(|r| r.is_empty()) {
            continue;
        }
        let start = visible.opaque.len();
        visible.opaque.extend(
            element
                .opaque_regions(scale)
                .into_iter()
                .filter_map(|r| Rectangle::new(r.loc + geometry.loc, r.size).intersection(output)),
        );
        visible
            .elements
            .push((element, start..visible.opaque.len()));
    }
    visible
}
