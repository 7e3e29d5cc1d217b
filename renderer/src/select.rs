//! The renderer selection chain: GLES on a GBM device (when a DRM node exists) → GLES on
//! the EGL software device → GLES on the surfaceless platform → pixman. Every step is
//! logged with the reason it was taken or skipped, and kept in [`RendererInfo::steps`] so
//! `planar info` can print the same story.
//!
//! A backend that already has an EGL context (a nested window's) skips the chain:
//! [`sharing`] makes the renderer on that context's display. The renderer knows nothing
//! of windows; the backend presents the frame.

use std::{
    ffi::CStr,
    fmt,
    path::{Path, PathBuf},
    time::Instant,
};

use smithay::{
    backend::{
        allocator::{gbm::GbmDevice, Format, Fourcc},
        egl::{
            ffi::egl as eglffi,
            native::{EGLNativeDisplay, EGLSurfacelessDisplay},
            EGLContext, EGLDevice, EGLDisplay,
        },
        renderer::{gles::GlesRenderer, pixman::PixmanRenderer, ImportMem},
    },
    utils::Size,
};
use tracing::{debug, info, warn};

use crate::{engine::Engine, RendererError};

/// What the user asked for with `--renderer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RendererChoice {
    #[default]
    Auto,
    Gles,
    /// GLES on a software EGL display only (no GBM), even where a DRM node exists.
    GlesSoftware,
    Pixman,
}

/// The renderer that was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RendererKind {
    /// GLES on an EGL display made from a GBM device on this DRM node.
    GlesGbm(PathBuf),
    /// GLES on an EGL device that is a software rasteriser (Mesa llvmpipe).
    GlesSoftwareDevice,
    /// GLES on EGL_PLATFORM_SURFACELESS_MESA.
    GlesSurfaceless,
    /// GLES on an EGL display the caller already has (a nested backend's), in a context
    /// that shares textures with the caller's; `owner` says whose display it is, `node` is
    /// the DRM node when EGL names one.
    GlesShared {
        owner: String,
        node: Option<PathBuf>,
    },
    /// pixman, pure CPU.
    Pixman,
}

impl RendererKind {
    /// Whether this is one of the GLES kinds.
    pub fn is_gles(&self) -> bool {
        !matches!(self, RendererKind::Pixman)
    }

    /// The DRM node the renderer draws on, when there is one (linux-dmabuf's main device).
    pub fn drm_node(&self) -> Option<&Path> {
        match self {
            RendererKind::GlesGbm(node) => Some(node),
            RendererKind::GlesShared { node, .. } => node.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for RendererKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RendererKind::GlesGbm(node) => write!(f, "gles (GBM on {})", node.display()),
            RendererKind::GlesSoftwareDevice => f.write_str("gles (EGL software device)"),
            RendererKind::GlesSurfaceless => f.write_str("gles (EGL surfaceless)"),
            RendererKind::GlesShared {
                owner,
                node: Some(node),
            } => write!(f, "gles (EGL display of {owner}, on {})", node.display()),
            RendererKind::GlesShared { owner, node: None } => write!(
                f,
                "gles (EGL display of {owner}, software or unnamed device)"
            ),
            RendererKind::Pixman => f.write_str("pixman"),
        }
    }
}

/// What was chosen and why, and what the chosen renderer can take.
#[derive(Debug, Clone)]
pub struct RendererInfo {
    pub kind: RendererKind,
    /// One line per step of the chain, in order.
    pub steps: Vec<String>,
    pub egl_vendor: Option<String>,
    pub egl_version: Option<String>,
    pub gl_renderer: Option<String>,
    /// wl_shm formats the renderer imports.
    pub shm_formats: Vec<Fourcc>,
    /// dma-buf format+modifier pairs EGL lists (which of them import: `Engine::egl_pairs`).
    pub dmabuf_formats: Vec<Format>,
}

/// Runs the selection chain and creates the renderer with an offscreen target of `size`.
pub fn select(
    choice: RendererChoice,
    size: Size<i32, smithay::utils::Physical>,
) -> Result<(Engine, RendererInfo), RendererError> {
    PendingRenderer::start(choice, || {}).finish(size)
}

/// A renderer being chosen on a worker thread.
///
/// Loading Mesa and initialising EGL takes tens of milliseconds, longer than everything
/// else planar does at start-up. It happens on a worker thread while the compositor
/// already answers clients; only the GLES renderer itself (not `Send`) is made on the
/// calling thread, in [`PendingRenderer::finish`].
pub struct PendingRenderer {
    worker: Option<std::thread::JoinHandle<Prepared>>,
}

/// What the worker hands over: an EGL context ready for a renderer, or pixman.
struct Prepared {
    steps: Vec<String>,
    choice: RendererChoice,
    gles: Option<(RendererKind, EGLContext, EglStrings)>,
}

impl PendingRenderer {
    /// Starts the selection chain; `ready` is called on the worker when it is done.
    pub fn start(choice: RendererChoice, ready: impl FnOnce() + Send + 'static) -> Self {
        let worker = std::thread::Builder::new()
            .name("planar-renderer-select".into())
            .spawn(move || {
                let prepared = prepare(choice);
                ready();
                prepared
            })
            .expect("spawning the renderer selection thread");
        PendingRenderer {
            worker: Some(worker),
        }
    }

    /// Waits for the chain and creates the renderer on this thread.
    pub fn finish(
        mut self,
        size: Size<i32, smithay::utils::Physical>,
    ) -> Result<(Engine, RendererInfo), RendererError> {
        let waiting = Instant::now();
        let prepared = self
            .worker
            .take()
            .expect("finish is called once")
            .join()
            .map_err(|_| RendererError::NoneAvailable("the selection thread panicked".into()))?;
        debug!(
            ms = ms_since(waiting),
            "renderer selection: waited for the worker"
        );
        let Prepared {
            mut steps,
            choice,
            gles,
        } = prepared;
        let mut step = |line: String| {
            info!("renderer selection: {line}");
            steps.push(line);
        };
        if let Some((kind, context, strings)) = gles {
            match gles_engine(context, strings, size) {
                Ok((engine, strings)) => {
                    step(format!("{kind}: chosen"));
                    return Ok(finish(engine, kind, steps, strings));
                }
                Err(err) => {
                    warn!(%err, "renderer selection: {kind} failed");
                    step(format!("{kind}: failed creating the renderer: {err}"));
                }
            }
        }
        if matches!(choice, RendererChoice::Gles | RendererChoice::GlesSoftware) {
            return Err(RendererError::NoneAvailable(format!(
                "--renderer gles was asked for, but no EGL display works: {}",
                steps.join("; ")
            )));
        }
        let renderer = PixmanRenderer::new()?;
        let engine = Engine::pixman(renderer, size)?;
        step("pixman: chosen".into());
        Ok(finish(
            engine,
            RendererKind::Pixman,
            steps,
            EglStrings::default(),
        ))
    }
}

impl Drop for PendingRenderer {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// A renderer for a backend that already has an EGL context (a nested window's): GLES on
/// that context's display, in a new context sharing textures with `share_with`, so the
/// backend can put the frame drawn offscreen on its own surface without a copy through
/// memory. Dma-bufs are imported on this display, with the same decision and CPU fallback
/// as headless. `owner` names the display in the renderer's kind ("the window").
pub fn sharing(
    share_with: &EGLContext,
    owner: &str,
    size: Size<i32, smithay::utils::Physical>,
) -> Result<(Engine, RendererInfo), RendererError> {
    let display = share_with.display();
    // A GPU's own buffers import even where memory buffers are refused, so only a
    // software (or unnamed) device is probed, as in the headless chain.
    let (node, probe) = match EGLDevice::device_for_display(display) {
        Ok(device) if !device.is_software() => {
            let node = device
                .try_get_render_node()
                .ok()
                .flatten()
                .and_then(|n| n.dev_path());
            (node, false)
        }
        _ => (None, true),
    };
    let kind = RendererKind::GlesShared {
        owner: owner.to_string(),
        node,
    };
    let (context, strings) = context_on(display.clone(), probe, |d| {
        EGLContext::new_shared(d, share_with)
    })?;
    let (engine, strings) = gles_engine(context, strings, size)?;
    let mut line = format!("{kind}: chosen");
    if strings.dmabuf_formats.is_empty() {
        // Mesa on an X server without DRI3 (Xvfb) offers no EGL_EXT_image_dma_buf_import.
        line += "; this display imports no dma-buf, every one takes the CPU path";
        warn!("renderer selection: {line}");
    } else {
        info!("renderer selection: {line}");
    }
    Ok(finish(engine, kind, vec![line], strings))
}

/// The GLES renderer on a prepared context, with its offscreen target.
fn gles_engine(
    context: EGLContext,
    strings: EglStrings,
    size: Size<i32, smithay::utils::Physical>,
) -> Result<(Engine, EglStrings), RendererError> {
    let making = Instant::now();
    // SAFETY: the context is fresh, current on no thread, and used only by this renderer.
    let renderer = unsafe { GlesRenderer::new(context) }?;
    debug!(ms = ms_since(making), "GLES renderer made");
    let (renderer, gl) = gl_renderer_string(renderer)?;
    let mut strings = strings;
    strings.gl_renderer = gl;
    let engine = Engine::gles(renderer, size, strings.egl.clone())?;
    Ok((engine, strings))
}

/// The part of the chain that can run off the main thread: open EGL displays in order
/// until one gives a context.
fn prepare(choice: RendererChoice) -> Prepared {
    let mut steps = Vec::new();
    let mut step = |line: String| {
        info!("renderer selection: {line}");
        steps.push(line);
    };
    let mut gles = None;
    if choice != RendererChoice::Pixman {
        for (kind, open) in gles_candidates(&mut step) {
            if choice == RendererChoice::GlesSoftware && matches!(kind, RendererKind::GlesGbm(_)) {
                step(format!("{kind}: skipped, --renderer gles-software"));
                continue;
            }
            // On a GBM device EGL imports the device's own buffers; a memory buffer failing
            // there (EGL_BAD_ALLOC on virtio-gpu) says nothing about them, so only the
            // software displays are probed. On GBM a failed import falls back at create.
            let probe = !matches!(kind, RendererKind::GlesGbm(_));
            let opening = Instant::now();
            let opened = open().inspect(|_| {
                debug!(%kind, ms = ms_since(opening), "renderer selection: EGL display opened");
            });
            match opened.and_then(|display| context_on(display, probe, EGLContext::new)) {
                Ok((context, strings)) => {
                    gles = Some((kind, context, strings));
                    break;
                }
                Err(err) => {
                    warn!(%err, "renderer selection: {kind} failed");
                    step(format!("{kind}: failed: {err}"));
                }
            }
        }
    } else {
        step("gles: skipped, --renderer pixman".into());
    }
    Prepared {
        steps,
        choice,
        gles,
    }
}

/// A display not opened yet: opening one has a cost (llvmpipe compiles shaders), so only
/// the one that is chosen is opened.
type Candidate = (
    RendererKind,
    Box<dyn FnOnce() -> Result<EGLDisplay, RendererError>>,
);

/// EGL displays to try, best first. A DRM node that cannot be opened is a logged step, not
/// an error: the software paths still work.
fn gles_candidates(step: &mut impl FnMut(String)) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let nodes = drm_nodes();
    if nodes.is_empty() {
        step("gles on GBM: skipped, no DRM node in /dev/dri".into());
    }
    for node in nodes {
        let path = node.clone();
        let open = move || {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| {
                    RendererError::NoneAvailable(format!("open {}: {e}", path.display()))
                })?;
            let gbm = GbmDevice::new(file)
                .map_err(|e| RendererError::NoneAvailable(format!("gbm: {e}")))?;
            // A node that cannot allocate a linear buffer cannot map imported ones either:
            // without a 3D driver (virtio-gpu without virgl) Mesa falls back to dumb
            // buffers, which only a primary node may create or map, and sampling an
            // import on the render node would crash. The primary node is tried next.
            gbm.create_buffer_object::<()>(16, 16, Fourcc::Xrgb8888, gbm_flags_linear())
                .map_err(|e| {
                    RendererError::NoneAvailable(format!(
                        "{} cannot allocate a linear buffer ({e}): no 3D driver on this node",
                        path.display()
                    ))
                })?;
            egl_display(gbm)
        };
        out.push((
            RendererKind::GlesGbm(node),
            Box::new(open) as Box<dyn FnOnce() -> _>,
        ));
    }
    let software = || {
        let device = EGLDevice::enumerate()?
            .find(|d| d.is_software())
            .ok_or_else(|| RendererError::NoneAvailable("no software EGL device".into()))?;
        egl_display(device)
    };
    out.push((RendererKind::GlesSoftwareDevice, Box::new(software)));
    out.push((
        RendererKind::GlesSurfaceless,
        Box::new(|| egl_display(EGLSurfacelessDisplay)),
    ));
    out
}

/// DRM nodes to try GBM on: render nodes first, then primary nodes.
fn drm_nodes() -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir("/dev/dri")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    nodes.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("renderD") || n.starts_with("card"))
    });
    nodes.sort_by_key(|p| (!p.to_string_lossy().contains("renderD"), p.clone()));
    nodes
}

fn gbm_flags_linear() -> smithay::backend::allocator::gbm::GbmBufferFlags {
    smithay::backend::allocator::gbm::GbmBufferFlags::LINEAR
}

fn egl_display(native: impl EGLNativeDisplay + 'static) -> Result<EGLDisplay, RendererError> {
    // SAFETY: the native handles (GBM device, EGL device, surfaceless) are owned by the
    // display and live as long as it does.
    Ok(unsafe { EGLDisplay::new(native) }?)
}

#[derive(Default)]
struct EglStrings {
    vendor: Option<String>,
    version: Option<String>,
    gl_renderer: Option<String>,
    dmabuf_formats: Vec<Format>,
    /// Which pairs of planar's table really import (see `probe`).
    egl: crate::import::EglPairs,
}

fn context_on(
    display: EGLDisplay,
    probe: bool,
    new_context: impl FnOnce(&EGLDisplay) -> Result<EGLContext, smithay::backend::egl::Error>,
) -> Result<(EGLContext, EglStrings), RendererError> {
    let query = |name| {
        let handle = display.get_display_handle();
        // SAFETY: the display is initialised; eglQueryString returns a static string or null.
        unsafe {
            let ptr = eglffi::QueryString(handle.handle, name as i32);
            (!ptr.is_null()).then(|| CStr::from_ptr(ptr).to_string_lossy().into_owned())
        }
    };
    let vendor = query(eglffi::VENDOR);
    let version = query(eglffi::VERSION);
    // smithay 0.7's dmabuf_render_formats() reads an uninitialised `external_only` array on
    // llvmpipe, so the texture formats are the ones that can be trusted.
    let mut dmabuf_formats: Vec<Format> =
        display.dmabuf_texture_formats().iter().copied().collect();
    dmabuf_formats.sort_by_key(|f| (f.code as u32, u64::from(f.modifier)));
    let listed: Vec<(u32, u64)> = dmabuf_formats
        .iter()
        .map(|f| (f.code as u32, u64::from(f.modifier)))
        .collect();
    let probing = Instant::now();
    let egl = if probe {
        crate::probe::probe(&display, &listed)
    } else {
        let zero_copy = listed
            .iter()
            .copied()
            .filter(|(f, _)| planar_protocol::format::format_info(*f).is_some())
            .collect();
        crate::import::EglPairs {
            zero_copy,
            refused: Vec::new(),
        }
    };
    debug!(ms = ms_since(probing), "EGL pairs known");
    let making = Instant::now();
    let context = new_context(&display)?;
    debug!(ms = ms_since(making), "EGL context made");
    Ok((
        context,
        EglStrings {
            vendor,
            version,
            gl_renderer: None,
            dmabuf_formats,
            egl,
        },
    ))
}

/// Milliseconds since `t`, for the start-up time line in the log.
fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

type WithGlString = (GlesRenderer, Option<String>);

fn gl_renderer_string(mut renderer: GlesRenderer) -> Result<WithGlString, RendererError> {
    let gl = renderer.with_context(|gl| {
        // SAFETY: the context is current inside with_context.
        unsafe {
            let ptr = gl.GetString(smithay::backend::renderer::gles::ffi::RENDERER);
            (!ptr.is_null()).then(|| CStr::from_ptr(ptr.cast()).to_string_lossy().into_owned())
        }
    })?;
    Ok((renderer, gl))
}

fn finish(
    engine: Engine,
    kind: RendererKind,
    steps: Vec<String>,
    strings: EglStrings,
) -> (Engine, RendererInfo) {
    let mut shm_formats: Vec<Fourcc> = match &engine {
        Engine::Gles(g) => g.renderer.mem_formats().collect(),
        Engine::Pixman(p) => p.renderer.mem_formats().collect(),
    };
    shm_formats.sort_by_key(|f| *f as u32);
    shm_formats.dedup();
    let info = RendererInfo {
        kind,
        steps,
        egl_vendor: strings.vendor,
        egl_version: strings.version,
        gl_renderer: strings.gl_renderer,
        shm_formats,
        dmabuf_formats: strings.dmabuf_formats,
    };
    (engine, info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_display_names_its_owner_and_node() {
        let on_node = RendererKind::GlesShared {
            owner: "the window".into(),
            node: Some("/dev/dri/renderD128".into()),
        };
        assert_eq!(
            on_node.to_string(),
            "gles (EGL display of the window, on /dev/dri/renderD128)"
        );
        assert_eq!(on_node.drm_node(), Some(Path::new("/dev/dri/renderD128")));
        let software = RendererKind::GlesShared {
            owner: "the window".into(),
            node: None,
        };
        assert_eq!(
            software.to_string(),
            "gles (EGL display of the window, software or unnamed device)"
        );
        assert_eq!(software.drm_node(), None);
        let gbm = RendererKind::GlesGbm("/dev/dri/card0".into());
        assert_eq!(gbm.drm_node(), Some(Path::new("/dev/dri/card0")));
        assert_eq!(RendererKind::GlesSurfaceless.drm_node(), None);
        assert_eq!(RendererKind::Pixman.drm_node(), None);
    }

    /// `sharing` needs no window: any EGL context will do (here one on the surfaceless
    /// platform), and the renderer it makes draws and reads back at the size asked for.
    #[test]
    fn sharing_makes_a_renderer_on_the_callers_display() {
        let test = "sharing_makes_a_renderer_on_the_callers_display";
        let theirs = egl_display(EGLSurfacelessDisplay)
            .and_then(|d| EGLContext::new(&d).map_err(RendererError::from));
        let theirs = match theirs {
            Ok(context) => context,
            Err(err) => return println!("SKIP {test}: no surfaceless EGL context: {err}"),
        };
        let (mut engine, info) = sharing(&theirs, "a test context", (40, 30).into())
            .expect("a renderer on the display of a working context");
        assert_eq!(
            info.kind,
            RendererKind::GlesShared {
                owner: "a test context".into(),
                node: None,
            }
        );
        assert_eq!(info.steps.len(), 1, "{:?}", info.steps);
        assert!(info.steps[0].starts_with("gles (EGL display of a test context"));
        assert_eq!(engine.size(), (40, 30).into());
        assert_eq!(engine.read_rgba().unwrap().len(), 40 * 30 * 4);
    }
}
