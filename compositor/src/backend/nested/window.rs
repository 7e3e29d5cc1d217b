//! The nested backend's window: planar's output shown in another session (Wayland or X11,
//! through smithay's winit backend).
//!
//! The frame is composed exactly as headless composes it, into the engine's offscreen
//! texture, so screenshots, captures and the import report do not depend on the backend.
//! The engine's GLES context shares textures with the window's, and putting a frame on the
//! window is one textured quad drawn by the window's renderer.

use anyhow::Context;
use planar_renderer::{Engine, RendererError, RendererInfo};
use smithay::{
    backend::{
        renderer::{damage::OutputDamageTracker, gles::GlesRenderer, Frame, Renderer},
        winit::{self, WinitEventLoop, WinitGraphicsBackend},
    },
    desktop::{Space, Window},
    output::Output,
    reexports::winit::{dpi::PhysicalSize, window::Window as WinitWindow},
    utils::{Buffer, Physical, Rectangle, Size, Transform},
};
use tracing::info;

use super::host;
use crate::backend::BACKGROUND;

pub struct Nested {
    pub engine: Engine,
    tracker: OutputDamageTracker,
    window: WinitGraphicsBackend<GlesRenderer>,
    /// The window shows something older than the engine's target (first frame, resize,
    /// expose): the next present puts the frame on it even if nothing was redrawn.
    stale: bool,
}

/// Opens the window (`size` is asked for; the host may give another) and the renderer on
/// its EGL display. Must run on the main thread: winit's event loop lives there.
pub fn open(
    size: (i32, i32),
) -> anyhow::Result<(WinitGraphicsBackend<GlesRenderer>, WinitEventLoop)> {
    let attributes = WinitWindow::default_attributes()
        .with_inner_size(PhysicalSize::new(size.0 as u32, size.1 as u32))
        .with_title("planar")
        // planar draws no decorations; without them the output starts at the window's
        // top-left on every host, which is what a screenshot of the host can check.
        .with_decorations(false)
        .with_visible(true);
    let opened = winit::init_from_attributes::<GlesRenderer>(attributes).map_err(|e| {
        anyhow::anyhow!(
            "nested window: cannot open it ({e}): no Wayland or X11 session; is WAYLAND_DISPLAY or DISPLAY set?"
        )
    })?;
    host::keep_running_when_x_goes_away(opened.0.window());
    Ok(opened)
}

impl Nested {
    /// The renderer on the window's EGL display, with a target of the window's size.
    pub fn new(
        mut window: WinitGraphicsBackend<GlesRenderer>,
    ) -> anyhow::Result<(Self, RendererInfo)> {
        let size = window.window_size();
        let (engine, info) =
            planar_renderer::sharing(window.renderer().egl_context(), "the window", size)
                .context("error creating the nested renderer")?;
        let host = host::host_kind(window.window());
        info!(width = size.w, height = size.h, host, "nested window open");
        let nested = Nested {
            engine,
            // Replaced in `attach`, once the output has the window's size.
            tracker: OutputDamageTracker::new(size, 1.0, Transform::Normal),
            window,
            stale: true,
        };
        Ok((nested, info))
    }

    /// The window's size in pixels: the output's size.
    pub fn window_size(&self) -> Size<i32, Physical> {
        self.window.window_size()
    }

    /// Follows the output after it was given the window's size.
    pub fn attach(&mut self, output: &Output) -> Result<(), RendererError> {
        let size = output
            .current_mode()
            .map(|m| m.size)
            .unwrap_or_else(|| self.window_size());
        self.engine.resize(size)?;
        self.tracker = OutputDamageTracker::from_output(output);
        self.stale = true;
        Ok(())
    }

    /// Names the window after planar's socket, so nested instances are told apart.
    pub fn set_title(&self, socket: &str) {
        self.window.window().set_title(&format!("planar: {socket}"));
    }

    /// The window must be drawn again whole (it was exposed).
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Returns whether anything changed.
    pub fn render(
        &mut self,
        space: &Space<Window>,
        output: &Output,
    ) -> Result<bool, RendererError> {
        let damage = self
            .engine
            .render(&mut self.tracker, space, output, BACKGROUND)?;
        let changed = !damage.is_empty();
        if (!damage.is_empty() || self.stale) && !host::host_gone() {
            // The host is told what changed (it uploads and redraws only that), except
            // when the window is stale and all of it must be.
            let damage = (!self.stale).then_some(damage);
            // winit unwraps X replies: on a dead connection it panics in here.
            let window = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.put_on_window(damage.as_deref())
            }));
            match window {
                Ok(result) => result?,
                Err(_) => host::mark_host_gone(),
            }
            self.stale = false;
        }
        Ok(changed)
    }

    /// Draws the engine's target over the whole window (a window surface may have several
    /// buffers, none of them known to hold the last frame) and swaps with `damage`.
    fn put_on_window(
        &mut self,
        damage: Option<&[Rectangle<i32, Physical>]>,
    ) -> Result<(), RendererError> {
        let size = self.engine.size();
        let err = |what: &str, e: &dyn std::fmt::Display| {
            RendererError::Render(format!("nested window: {what}: {e}"))
        };
        let Some(texture) = self.engine.gles_frame()? else {
            return Err(RendererError::Render(
                "nested mode needs the GLES renderer".into(),
            ));
        };
        let whole = Rectangle::from_size(size);
        let (renderer, mut framebuffer) = self.window.bind().map_err(|e| err("bind", &e))?;
        // EGL window surfaces are bottom-up; the offscreen texture was drawn top-down.
        let mut frame = renderer
            .render(&mut framebuffer, size, Transform::Flipped180)
            .map_err(|e| err("render", &e))?;
        // No clear: the offscreen frame is opaque (drawn over planar's background) and
        // covers the whole window, drawn without blending (its opaque region is all of
        // it). smithay's clear is a solid quad whose shader llvmpipe compiles at start.
        Frame::render_texture_from_to(
            &mut frame,
            texture,
            Rectangle::<f64, Buffer>::from_size((size.w as f64, size.h as f64).into()),
            whole,
            &[whole],
            &[whole],
            Transform::Normal,
            1.0,
        )
        .map_err(|e| err("draw", &e))?;
        // The swap that follows orders the window's commands; nothing waits on this sync.
        let _sync = frame.finish().map_err(|e| err("finish", &e))?;
        drop(framebuffer);
        self.window.submit(damage).map_err(|e| err("swap", &e))?;
        Ok(())
    }
}
