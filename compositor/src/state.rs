//! The compositor's one `State`: smithay's protocol states, the scene, the backend, and
//! what `planar run` needs to finish (the screenshot, the reason to stop).

use std::{
    path::PathBuf,
    process::ExitStatus,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use planar_image::RgbaImage;
use smithay::{
    desktop::{Space, Window},
    input::{Seat, SeatState},
    output::{Mode, Output, PhysicalProperties, Subpixel},
    reexports::wayland_server::{
        backend::{ClientData, ClientId, DisconnectReason},
        protocol::wl_surface::WlSurface,
        DisplayHandle,
    },
    utils::{Clock, Logical, Monotonic, Physical, Size, Transform},
    wayland::{
        compositor::{CompositorClientState, CompositorState},
        output::OutputManagerState,
        presentation::PresentationState,
        shell::xdg::XdgShellState,
        shm::ShmState,
        single_pixel_buffer::SinglePixelBufferState,
        viewporter::ViewporterState,
    },
};
use tracing::{info, warn};

use crate::backend::{Backend, Pending};
use crate::shm::{shm_format, SHM_FORMATS};
use planar_renderer::RendererInfo;

/// Why the compositor is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The client command exited with this status.
    ChildExited(ExitStatus),
    /// `--timeout` ran out.
    TimedOut,
    /// SIGINT or SIGTERM.
    Signal,
    /// The nested window was closed on the host.
    WindowClosed,
    /// No renderer could be created; the message is in `State::failure`.
    Failed,
    /// Every step of `--script` ran.
    ScriptDone,
    /// A `--script` step failed; the message is in the script's `failure`.
    StepFailed,
    /// planar panicked handling a request (see `panic`): finish, then exit 70.
    Panicked,
}

/// Per-client data smithay needs.
#[derive(Default)]
pub struct ClientState {
    pub compositor_state: CompositorClientState,
    /// Set for clients that connected through a wp_security_context_v1 (sandboxed).
    pub security_context: Option<smithay::wayland::security_context::SecurityContext>,
    /// Capture frames this client holds (see `capture::CaptureSlot`).
    pub pending_captures: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Commits made and not yet applied (held by fifo or commit-timing; see `pacing`).
    pub held_commits: std::sync::atomic::AtomicUsize,
    /// wp_security_context_v1 objects this connection made and has not committed (each
    /// holds two fds: see `handlers::security_context`).
    pub security_contexts: std::sync::atomic::AtomicUsize,
    /// The committed ones among them that are still objects (so that destroying one is
    /// not counted out a second time).
    pub committed_contexts: std::sync::Mutex<
        std::collections::HashSet<smithay::reexports::wayland_server::backend::ObjectId>,
    >,
    /// Whether a security context of this client was refused (logged at warn once).
    pub security_refusal_logged: std::sync::atomic::AtomicBool,
    /// `pid N (command)`, set when the client connects (see `client_name`).
    pub name: std::sync::OnceLock<String>,
    /// Kinds of capture refusal already logged at warn for this client (see `capture`).
    pub capture_refusals_logged: std::sync::atomic::AtomicU8,
    /// Whether the client was started by `planar run` (or carries the capture secret),
    /// once /proc settled it; kept for the connection (see `capture`).
    pub started_by_planar: std::sync::OnceLock<Result<(), String>>,
    /// xdg popups of this client planar tracks (at most `handlers::popup::MAX_POPUPS`).
    pub popups: std::sync::atomic::AtomicUsize,
}

impl ClientData for ClientState {
    fn disconnected(&self, _client_id: ClientId, reason: DisconnectReason) {
        let client = self.name.get().map_or("pid ? (unknown)", String::as_str);
        info!(client, ?reason, "client disconnected");
    }
}

/// Window user data: set once the window has had a buffer, i.e. has been shown.
#[derive(Default, Debug)]
pub struct Shown(pub AtomicBool);

impl Shown {
    /// Whether `window` has been shown (had a buffer).
    pub fn on(window: &Window) -> bool {
        window
            .user_data()
            .get::<Shown>()
            .is_some_and(|s| s.0.load(Ordering::SeqCst))
    }
}

/// The last frame to write with `--screenshot`, frozen at the first moment that matters.
#[derive(Default)]
pub struct Screenshot {
    /// Whether a screenshot is taken at all (`--screenshot` or `--expect`).
    pub wanted: bool,
    pub path: Option<PathBuf>,
    /// `--after-frames N`: taken once N frames have been presented.
    pub after_frames: Option<u64>,
    pub frozen: Option<RgbaImage>,
    /// `--screenshot NAME=FILE`: one output's frame each.
    pub per_output: Vec<(String, PathBuf)>,
    /// Their frames, frozen with `frozen`.
    pub frozen_outputs: Vec<(String, RgbaImage)>,
}

pub struct State {
    #[allow(dead_code)] // owns a global: kept for the compositor's lifetime
    pub display_handle: DisplayHandle,
    pub compositor_state: CompositorState,
    pub xdg_shell_state: XdgShellState,
    pub shm_state: ShmState,
    #[allow(dead_code)] // owns a global: kept for the compositor's lifetime
    pub output_manager_state: OutputManagerState,
    pub seat_state: SeatState<State>,
    #[allow(dead_code)] // owns a global: kept for the compositor's lifetime
    pub viewporter_state: ViewporterState,
    #[allow(dead_code)] // owns a global: kept for the compositor's lifetime
    pub presentation_state: PresentationState,
    #[allow(dead_code)] // owns a global: kept for the compositor's lifetime
    pub single_pixel_buffer_state: SinglePixelBufferState,
    #[allow(dead_code)] // owns a global: kept for the compositor's lifetime
    pub seat: Seat<State>,
    pub dmabuf_state: planar_protocol::dmabuf::DmabufState,
    /// The desktop globals (clipboard, decorations, fifo …): see `handlers::desktop`.
    pub desktop: crate::handlers::desktop::DesktopStates,
    /// The event loop, for sources made at run time (security-context listeners).
    pub loop_handle: Option<calloop::LoopHandle<'static, State>>,

    pub space: Space<Window>,
    /// Every xdg_popup, in trees under its toplevel (see `handlers::popup`).
    pub popups: smithay::desktop::PopupManager,
    /// The first output: the nested window's, and the one frames are reported on.
    pub output: Output,
    /// Every output, the first one first (see `outputs`).
    pub outputs: Vec<Output>,
    pub output_globals: Vec<(
        String,
        smithay::reexports::wayland_server::backend::GlobalId,
    )>,
    /// `--refresh`, for outputs added at run time.
    pub refresh_hz: u32,
    /// `None` while the renderer is still being chosen on its worker thread.
    pub backend: Option<Backend>,
    pending_backend: Option<Pending>,
    pub renderer_info: Option<RendererInfo>,
    pub failure: Option<String>,
    pub clock: Clock<Monotonic>,
    /// The refresh interval (1/60 s with `--refresh 0`, for timestamps).
    pub refresh: Duration,
    /// `--refresh 0`: no timers; frame callbacks follow every frame.
    pub on_demand: bool,
    /// `--clock virtual`: timestamps are frame number x refresh interval.
    pub virtual_clock: bool,
    /// Presentation sequence number: one per frame drawn.
    pub frame_seq: u64,
    /// When frame callbacks last answered commits (see `present`).
    pub answers: crate::present::Answers,
    /// Whether anything was ever drawn into the target.
    pub presented_any: bool,
    pub screenshot: Screenshot,
    pub stop: Option<Stop>,
    pub import_policy: planar_renderer::import::ImportPolicy,
    pub linear_only: bool,
    /// Who may capture: the filter the capture globals were created with.
    pub capture_policy: std::sync::Arc<crate::capture::CapturePolicy>,
    /// The seat's injected input, waits and script (see `inject`).
    pub input: crate::inject::InputState,
    /// `--xwayland`: the X server and its window manager (see `xwayland`).
    pub xwayland: Option<crate::xwayland::Xwayland>,
    /// wl_callbacks to fire once the current dispatch is over.
    pub pending_callbacks: Vec<(
        smithay::reexports::wayland_server::protocol::wl_callback::WlCallback,
        u32,
    )>,
    /// planar_test_v1.next_frame requests waiting for their client's next interval.
    pub next_frames: crate::handlers::next_frame::NextFrames,
}

/// Output settings from the command line.
pub struct OutputConfig {
    pub dmabuf_version: u32,
    pub import_policy: planar_renderer::import::ImportPolicy,
    pub linear_only: bool,
    pub size: (i32, i32),
    pub scale: i32,
    pub refresh_hz: u32,
    pub virtual_clock: bool,
    /// `--output`s; empty: one output of `size` and `scale`.
    pub outputs: Vec<crate::outputs::OutputSpec>,
}

impl State {
    /// `pending_backend`: a backend whose renderer is being chosen on its worker (see
    /// `backend::prepare`); None when the backend installs itself (`backend::start`).
    pub fn new(
        display_handle: DisplayHandle,
        pending_backend: Option<Pending>,
        config: &OutputConfig,
    ) -> Self {
        let dh = &display_handle;
        let compositor_state = CompositorState::new::<Self>(dh);
        let xdg_shell_state = XdgShellState::new::<Self>(dh);
        let shm_state =
            ShmState::new::<Self>(dh, SHM_FORMATS.iter().filter_map(|f| shm_format(*f)));
        let output_manager_state = OutputManagerState::new_with_xdg_output::<Self>(dh);
        let mut seat_state = SeatState::new();
        // Its pointer, keyboard and touch are added by `add_input_devices`.
        let seat = seat_state.new_wl_seat(dh, "seat0");
        let viewporter_state = ViewporterState::new::<Self>(dh);
        let presentation_state =
            PresentationState::new::<Self>(dh, rustix::time::ClockId::Monotonic as u32);
        let single_pixel_buffer_state = SinglePixelBufferState::new::<Self>(dh);
        let capture_policy = std::sync::Arc::new(crate::capture::CapturePolicy::new());
        crate::capture::register(dh, &capture_policy);
        dh.create_global::<Self, planar_protocol::test_protocol::server::planar_test_v1::PlanarTestV1, _>(3, ());
        dh.create_global::<Self, wayland_protocols::wp::color_representation::v1::server::wp_color_representation_manager_v1::WpColorRepresentationManagerV1, _>(1, ());
        let dmabuf_state =
            planar_protocol::dmabuf::DmabufState::new::<Self>(dh, config.dmabuf_version);
        let desktop = crate::handlers::desktop::DesktopStates::new(dh);

        let mut state = State {
            display_handle,
            compositor_state,
            xdg_shell_state,
            shm_state,
            output_manager_state,
            seat_state,
            viewporter_state,
            presentation_state,
            single_pixel_buffer_state,
            seat,
            dmabuf_state,
            desktop,
            loop_handle: None,
            space: Space::default(),
            popups: Default::default(),
            // Replaced by the first output below.
            output: Output::new(
                "none".into(),
                PhysicalProperties {
                    size: (0, 0).into(),
                    subpixel: Subpixel::Unknown,
                    make: "planar".into(),
                    model: "headless".into(),
                },
            ),
            outputs: Vec::new(),
            output_globals: Vec::new(),
            refresh_hz: config.refresh_hz,
            backend: None,
            pending_backend,
            renderer_info: None,
            failure: None,
            clock: Clock::new(),
            refresh: Duration::from_nanos(
                1_000_000_000
                    / u64::from(if config.refresh_hz == 0 {
                        60
                    } else {
                        config.refresh_hz
                    }),
            ),
            on_demand: config.refresh_hz == 0,
            virtual_clock: config.virtual_clock,
            frame_seq: 0,
            answers: Default::default(),
            presented_any: false,
            screenshot: Screenshot::default(),
            stop: None,
            import_policy: config.import_policy.clone(),
            linear_only: config.linear_only,
            capture_policy,
            input: Default::default(),
            pending_callbacks: Vec::new(),
            next_frames: Default::default(),
            xwayland: None,
        };
        let specs = if config.outputs.is_empty() {
            vec![crate::outputs::OutputSpec {
                size: config.size,
                refresh_hz: None,
                scale: f64::from(config.scale),
                transform: Transform::Normal,
                name: None,
                pos: Some((0, 0)),
            }]
        } else {
            config.outputs.clone()
        };
        for spec in &specs {
            if let Err(err) = state.add_output(spec, config.refresh_hz) {
                // Names are checked when the command line is read; this is a duplicate.
                warn!(%err, "output not added");
            }
        }
        if let Some(first) = state.outputs.first() {
            state.output = first.clone();
        }
        state
    }

    /// Draws a frame and tells every client it was shown: frame callbacks and
    /// presentation feedback.
    /// Takes the renderer from its worker once it is ready (waiting for it if need be).
    pub fn ensure_backend(&mut self) -> bool {
        if self.backend.is_some() {
            return true;
        }
        let Some(pending) = self.pending_backend.take() else {
            return false;
        };
        match pending.finish(&self.output) {
            Ok((backend, info)) => {
                self.install_backend(backend, info);
                true
            }
            Err(err) => {
                self.failure = Some(format!("error creating the renderer: {err}"));
                self.stop = Some(Stop::Failed);
                false
            }
        }
    }

    /// Starts drawing with `backend`: wl_shm and linux-dmabuf now advertise what its
    /// renderer takes.
    pub fn install_backend(&mut self, mut backend: Backend, info: RendererInfo) {
        info!(renderer = %info.kind, "renderer ready");
        let missing: Vec<_> = SHM_FORMATS
            .iter()
            .filter(|f| !info.shm_formats.contains(f))
            .collect();
        if !missing.is_empty() {
            warn!(?missing, "the renderer cannot import every advertised wl_shm format; no longer advertising those");
            self.shm_state.update_formats(
                SHM_FORMATS
                    .iter()
                    .filter(|f| info.shm_formats.contains(f))
                    .filter_map(|f| shm_format(*f)),
            );
        }
        let offer = planar_renderer::import::advertise::offer(
            backend.engine(),
            &info.kind,
            &self.import_policy,
            self.linear_only,
        );
        if let Err(err) = self.dmabuf_state.set_advertised(offer.advertised()) {
            warn!(%err, "error writing the linux-dmabuf format table");
        }
        // Buffers are imported at commit; those committed while the renderer was still
        // being chosen are imported now, or they would never be drawn.
        for window in self.space.elements() {
            if let Some(surface) = planar_renderer::xwayland::window_surface(window) {
                backend.import_surface_tree(&surface);
                for (popup, _) in smithay::desktop::PopupManager::popups_for_surface(&surface) {
                    backend.import_surface_tree(popup.wl_surface());
                }
            }
        }
        self.backend = Some(backend);
        self.renderer_info = Some(info);
    }

    /// The output's size in logical pixels (what clients are configured with).
    pub fn output_logical_size(&self) -> Size<i32, Logical> {
        self.logical_size_of(&self.output)
    }

    /// Gives the output a new size (the nested window was resized): clients hear the new
    /// mode, and fullscreen or maximized toplevels are configured to fill it.
    pub fn resize_output(&mut self, size: Size<i32, Physical>) {
        let Some(current) = self.output.current_mode() else {
            return;
        };
        if current.size == size {
            return;
        }
        let mode = Mode {
            size,
            refresh: current.refresh,
        };
        self.output.delete_mode(current);
        self.output
            .change_current_state(Some(mode), None, None, None);
        self.output.set_preferred(mode);
        let logical = self.output_logical_size();
        for window in self.space.elements() {
            if let Some(toplevel) = window.toplevel() {
                crate::handlers::fill_output_if_asked(toplevel, logical);
            }
        }
        info!(width = size.w, height = size.h, "output resized");
    }

    /// A shown window is going away (its client closed it, exited or was killed): the
    /// screenshot keeps the last frame presented, which still has it.
    pub fn window_going(&mut self, surface: &WlSurface) {
        let shown = self.window_for(surface).is_some_and(Shown::on);
        if shown {
            self.freeze_screenshot("a window that had been shown went away");
        }
    }

    /// The window whose toplevel (or X11 window's surface) is `surface`.
    pub fn window_for(&self, surface: &WlSurface) -> Option<&Window> {
        self.space
            .elements()
            .find(|w| planar_renderer::xwayland::window_surface(w).as_ref() == Some(surface))
    }
}
