//! The renderer selection chain: GLES on a GBM device (when a DRM node exists) → GLES on
//! the EGL software device → GLES on the surfaceless platform → pixman. Every step is
//! logged with the reason it was taken or skipped, and kept in [`RendererInfo::steps`] so
//! `planar info` can print the same story.

use std::{ffi::CStr, fmt, path::PathBuf};

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
use tracing::{info, warn};

use crate::{frame::Engine, RendererError};

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
    /// GLES on the EGL display of a nested window (`--backend nested`), sharing textures
    /// with the window's context; the DRM node when EGL names one.
    GlesWindow(Option<PathBuf>),
    /// pixman, pure CPU.
    Pixman,
}

impl RendererKind {
    /// Whether this is one of the GLES kinds.
    pub fn is_gles(&self) -> bool {
        !matches!(self, RendererKind::Pixman)
    }
}

impl fmt::Display for RendererKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RendererKind::GlesGbm(node) => write!(f, "gles (GBM on {})", node.display()),
            RendererKind::GlesSoftwareDevice => f.write_str("gles (EGL software device)"),
            RendererKind::GlesSurfaceless => f.write_str("gles (EGL surfaceless)"),
            RendererKind::GlesWindow(Some(node)) => {
                write!(f, "gles (EGL display of the window, on {})", node.display())
            }
            RendererKind::GlesWindow(None) => {
                f.write_str("gles (EGL display of the window, software or unnamed device)")
            }
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
    /// dma-buf format+modifier pairs EGL lists.
    pub dmabuf_formats: Vec<Format>,
    /// Of those (in planar's table), the pairs that really import zero-copy (probed).
    pub zero_copy: Vec<(u32, u64)>,
    /// Listed by EGL but refused when tried: these take the CPU path.
    pub refused: Vec<(u32, u64)>,
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
        let prepared = self
            .worker
            .take()
            .expect("finish is called once")
            .join()
            .map_err(|_| RendererError::NoneAvailable("the selection thread panicked".into()))?;
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

/// The renderer for `--backend nested`: GLES on the EGL display of the window, in a
/// context that shares textures with `window` (the window's own context), so the frame
/// drawn offscreen is put on the window without a copy through memory. Dma-bufs are
/// imported on this display, with the same decision and CPU fallback as headless.
pub fn for_window(
    window: &EGLContext,
    size: Size<i32, smithay::utils::Physical>,
) -> Result<(Engine, RendererInfo), RendererError> {
    let display = window.display();
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
    let kind = RendererKind::GlesWindow(node);
    let (context, strings) = context_on(display.clone(), probe, |d| {
        EGLContext::new_shared(d, window)
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
    // SAFETY: the context is fresh, current on no thread, and used only by this renderer.
    let renderer = unsafe { GlesRenderer::new(context) }?;
    let (renderer, gl) = gl_renderer_string(renderer)?;
    let mut strings = strings;
    strings.gl_renderer = gl;
    let engine = Engine::gles(
        renderer,
        size,
        strings.importable.clone(),
        strings.refused.clone(),
    )?;
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
            match open().and_then(|display| context_on(display, probe, EGLContext::new)) {
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
    /// The pairs of planar's table that really import (see `probe`).
    importable: Vec<(u32, u64)>,
    /// Listed by EGL but refused when tried.
    refused: Vec<(u32, u64)>,
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
    let (importable, refused) = if probe {
        crate::probe::probe(&display, &listed)
    } else {
        let known = listed
            .iter()
            .copied()
            .filter(|(f, _)| planar_protocol::format::format_info(*f).is_some())
            .collect();
        (known, Vec::new())
    };
    let context = new_context(&display)?;
    Ok((
        context,
        EglStrings {
            vendor,
            version,
            gl_renderer: None,
            dmabuf_formats,
            importable,
            refused,
        },
    ))
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
        zero_copy: strings.importable,
        refused: strings.refused,
    };
    (engine, info)
}
