//! Where frames go: an offscreen target only (headless), or also a window in another
//! session (nested). Callers match on the variant, not on generics.
//!
//! A backend owns how it starts and its event sources; `run.rs` and the embedded fixture
//! only call [`prepare`] before the state exists and [`start`] once it does:
//! - headless: `prepare` starts the renderer selection chain on its worker (Mesa loads
//!   while the socket is opened and clients are answered) and wakes the loop when it is
//!   done; `State::ensure_backend` then finishes the [`Pending`] backend.
//! - nested: `start` opens the window on the main thread (winit's loop lives there),
//!   makes the renderer on its EGL display and inserts the window's events into the loop.
//!
//! Adding a backend: a folder `backend/NAME/` (or one file, as `headless.rs`) holding its
//! type, its `start` and its event sources; a variant in [`BackendKind`] (its `--backend`
//! value) and one in [`Backend`], with their arms in this file ([`prepare`], [`start`],
//! [`Backend::render`], [`Backend::engine`], [`Backend::listening_on`]). A backend whose
//! renderer is chosen on the worker adds a variant to [`Pending`] too. Its renderer comes
//! from `planar_renderer::select` (offscreen) or `planar_renderer::sharing` (on an EGL
//! context the backend already has). Nothing outside `backend/` changes.

mod headless;
#[cfg(feature = "nested")]
mod nested;

pub use headless::Headless;
#[cfg(feature = "nested")]
pub use nested::Nested;

use calloop::LoopHandle;
use planar_image::RgbaImage;
use planar_renderer::{PendingRenderer, RendererChoice, RendererError, RendererInfo};
use smithay::{
    desktop::{Space, Window},
    output::Output,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
};

use crate::state::State;

/// Background colour behind all windows: a fixed dark grey-blue, so screenshots are
/// reproducible and an empty output is told apart from a black client.
pub const BACKGROUND: [f32; 4] = [0.125, 0.125, 0.1875, 1.0];

/// `--backend`: where the output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackendKind {
    // Plain comments on the variants: doc comments would change `--help`.
    // Offscreen only.
    #[default]
    Headless,
    // Also a window on the host session (needs the `nested` feature).
    Nested,
}

// Boxed: the damage tracker alone is ~450 bytes.
pub enum Backend {
    Headless(Box<Headless>),
    #[cfg(feature = "nested")]
    Nested(Box<Nested>),
}

/// A backend whose renderer is still being chosen on its worker thread.
pub enum Pending {
    Headless(PendingRenderer),
}

impl Pending {
    /// Waits for the renderer and makes the backend around it, drawing `output`.
    pub fn finish(self, output: &Output) -> Result<(Backend, RendererInfo), RendererError> {
        let size = output
            .current_mode()
            .map(|m| m.size)
            .unwrap_or_else(|| (1, 1).into());
        match self {
            Pending::Headless(pending) => {
                let (engine, info) = pending.finish(size)?;
                let headless = Headless::new(engine, output);
                Ok((Backend::Headless(Box::new(headless)), info))
            }
        }
    }
}

/// What a backend starts before the state exists; the [`Pending`] backend goes to
/// `State::new`. Refuses what `kind` cannot do (nested draws with GLES only).
pub fn prepare(
    kind: BackendKind,
    renderer: RendererChoice,
    handle: &LoopHandle<'static, State>,
) -> anyhow::Result<Option<Pending>> {
    match kind {
        BackendKind::Headless => Ok(Some(Pending::Headless(headless::prepare(
            renderer, handle,
        )?))),
        BackendKind::Nested => {
            if renderer == RendererChoice::Pixman {
                anyhow::bail!("--backend nested draws with GLES on the window's EGL display; --renderer pixman is headless only");
            }
            #[cfg(not(feature = "nested"))]
            anyhow::bail!("this planar was built without the `nested` feature");
            #[cfg(feature = "nested")]
            Ok(None)
        }
    }
}

/// What a backend starts once the state exists (nested: its window and its events).
pub fn start(
    kind: BackendKind,
    state: &mut State,
    handle: &LoopHandle<'static, State>,
) -> anyhow::Result<()> {
    match kind {
        BackendKind::Headless => Ok(()),
        #[cfg(feature = "nested")]
        BackendKind::Nested => nested::start(state, handle),
        #[cfg(not(feature = "nested"))]
        BackendKind::Nested => {
            let _ = (state, handle);
            anyhow::bail!("this planar was built without the `nested` feature")
        }
    }
}

impl State {
    /// Stops planar (once) when the backend's host session is gone: as when the nested
    /// window is closed, the screenshot and report are written and CMD is ended.
    pub fn host_went_away(&mut self) {
        if self.stop.is_none() {
            tracing::warn!("the nested window's host went away; stopping");
            self.stop = Some(crate::state::Stop::WindowClosed);
        }
    }
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

    /// Whether the output is a window on a host session (there, a person at the host's
    /// keyboard focuses a window by clicking it).
    pub fn is_nested(&self) -> bool {
        match self {
            Backend::Headless(_) => false,
            #[cfg(feature = "nested")]
            Backend::Nested(_) => true,
        }
    }

    /// Whether the session the output is shown in has gone away (nested: the host
    /// compositor or X server); planar then stops (`State::host_went_away`).
    pub fn host_gone(&self) -> bool {
        match self {
            Backend::Headless(_) => false,
            #[cfg(feature = "nested")]
            Backend::Nested(_) => nested::host_gone(),
        }
    }

    /// planar listens on `socket` now (nested: the window is named after it, so nested
    /// instances are told apart).
    #[cfg_attr(not(feature = "nested"), allow(unused_variables))]
    pub fn listening_on(&self, socket: &str) {
        match self {
            Backend::Headless(_) => {}
            #[cfg(feature = "nested")]
            Backend::Nested(n) => n.set_title(socket),
        }
    }

    pub fn import_surface_tree(&mut self, surface: &WlSurface) {
        self.engine()
            .import_surface_tree(surface, &crate::handlers::color_representation_of)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use smithay::output::{Mode, PhysicalProperties, Subpixel};

    use super::*;
    use crate::cli::{Cli, Command};

    fn backend_of(argv: &[&str]) -> Result<BackendKind, clap::Error> {
        let argv = ["planar", "run"].iter().chain(argv).chain(&["--", "true"]);
        match Cli::try_parse_from(argv)?.command {
            Command::Run(args) => Ok(args.backend),
            _ => unreachable!("a run command line"),
        }
    }

    #[test]
    fn backend_is_a_typed_value_headless_by_default() {
        assert_eq!(backend_of(&[]).unwrap(), BackendKind::Headless);
        assert_eq!(
            backend_of(&["--backend", "headless"]).unwrap(),
            BackendKind::Headless
        );
        assert_eq!(
            backend_of(&["--backend", "nested"]).unwrap(),
            BackendKind::Nested
        );
        let err = backend_of(&["--backend", "drm"]).unwrap_err().to_string();
        assert!(err.contains("[possible values: headless, nested]"), "{err}");
    }

    /// `prepare` on a loop of its own (a headless worker's wake-up then goes nowhere).
    fn prepare_alone(
        kind: BackendKind,
        renderer: RendererChoice,
    ) -> anyhow::Result<Option<Pending>> {
        let event_loop = calloop::EventLoop::<State>::try_new().unwrap();
        prepare(kind, renderer, &event_loop.handle())
    }

    #[test]
    fn nested_refuses_pixman_before_anything_starts() {
        let err = prepare_alone(BackendKind::Nested, RendererChoice::Pixman)
            .err()
            .expect("nested with pixman is refused");
        assert!(
            err.to_string()
                .contains("--renderer pixman is headless only"),
            "{err}"
        );
    }

    /// What `State::ensure_backend` does with a headless backend: the renderer from the
    /// worker, drawing into a target of the output's size.
    #[test]
    fn a_pending_headless_backend_finishes_at_the_outputs_size() {
        let pending = prepare_alone(BackendKind::Headless, RendererChoice::Pixman)
            .unwrap()
            .expect("headless chooses its renderer on the worker");
        let output = Output::new(
            "test".into(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "planar".into(),
                model: "test".into(),
            },
        );
        let mode = Mode {
            size: (64, 48).into(),
            refresh: 60_000,
        };
        output.change_current_state(Some(mode), None, None, None);
        let (mut backend, info) = pending.finish(&output).unwrap();
        assert!(matches!(backend, Backend::Headless(_)));
        assert_eq!(info.kind, planar_renderer::RendererKind::Pixman);
        let image = backend.read_rgba().unwrap();
        assert_eq!((image.width, image.height), (64, 48));
    }
}
