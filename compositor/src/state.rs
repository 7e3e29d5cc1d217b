//! The compositor's one `State`: smithay's protocol states, the scene, the backend, and
//! what `planar run` needs to finish (the screenshot, the reason to stop).

use std::{
    path::PathBuf,
    process::ExitStatus,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use planar_renderer::image::RgbaImage;
use smithay::{
    desktop::{Space, Window},
    input::{Seat, SeatState},
    output::{Mode, Output, PhysicalProperties, Scale, Subpixel},
    reexports::wayland_server::{
        backend::{ClientData, ClientId, DisconnectReason},
        protocol::wl_surface::WlSurface,
        DisplayHandle,
    },
    utils::{Clock, Monotonic, Transform},
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

use crate::backend::Backend;

/// Why the compositor is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The client command exited with this status.
    ChildExited(ExitStatus),
    /// `--timeout` ran out.
    TimedOut,
    /// SIGINT or SIGTERM.
    Signal,
}

/// Per-client data smithay needs.
#[derive(Default)]
pub struct ClientState {
    pub compositor_state: CompositorClientState,
}

impl ClientData for ClientState {
    fn disconnected(&self, client_id: ClientId, reason: DisconnectReason) {
        info!(?client_id, ?reason, "client disconnected");
    }
}

/// Window user data: set once the window has had a buffer, i.e. has been shown.
#[derive(Default, Debug)]
pub struct Shown(pub AtomicBool);

/// The last frame to write with `--screenshot`, frozen at the first moment that matters.
#[derive(Default)]
pub struct Screenshot {
    pub path: Option<PathBuf>,
    pub frozen: Option<RgbaImage>,
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

    pub space: Space<Window>,
    pub output: Output,
    pub backend: Backend,
    pub clock: Clock<Monotonic>,
    pub refresh: Duration,
    /// Presentation sequence number: one per frame drawn.
    pub frame_seq: u64,
    pub screenshot: Screenshot,
    pub stop: Option<Stop>,
}

/// Output settings from the command line.
pub struct OutputConfig {
    pub size: (i32, i32),
    pub scale: i32,
    pub refresh_hz: u32,
}

impl State {
    pub fn new(
        display_handle: DisplayHandle,
        engine: planar_renderer::Engine,
        shm_formats: Vec<smithay::reexports::wayland_server::protocol::wl_shm::Format>,
        config: &OutputConfig,
    ) -> Self {
        let dh = &display_handle;
        let compositor_state = CompositorState::new::<Self>(dh);
        let xdg_shell_state = XdgShellState::new::<Self>(dh);
        let shm_state = ShmState::new::<Self>(dh, shm_formats);
        let output_manager_state = OutputManagerState::new_with_xdg_output::<Self>(dh);
        let mut seat_state = SeatState::new();
        // A seat without devices: clients that look for one find it; headless has no input.
        let seat = seat_state.new_wl_seat(dh, "seat0");
        let viewporter_state = ViewporterState::new::<Self>(dh);
        let presentation_state =
            PresentationState::new::<Self>(dh, rustix::time::ClockId::Monotonic as u32);
        let single_pixel_buffer_state = SinglePixelBufferState::new::<Self>(dh);

        let output = Output::new(
            "HEADLESS-1".into(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "planar".into(),
                model: "headless".into(),
            },
        );
        let _global = output.create_global::<Self>(dh);
        let mode = Mode {
            size: config.size.into(),
            refresh: config.refresh_hz as i32 * 1000,
        };
        output.change_current_state(
            Some(mode),
            Some(Transform::Normal),
            Some(Scale::Integer(config.scale)),
            Some((0, 0).into()),
        );
        output.set_preferred(mode);
        let mut space = Space::default();
        space.map_output(&output, (0, 0));
        let output_for_backend = output.clone();

        State {
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
            space,
            output,
            backend: Backend::Headless(crate::backend::Headless::new(engine, &output_for_backend)),
            clock: Clock::new(),
            refresh: Duration::from_nanos(1_000_000_000 / u64::from(config.refresh_hz)),
            frame_seq: 0,
            screenshot: Screenshot::default(),
            stop: None,
        }
    }

    /// Draws a frame and tells every client it was shown: frame callbacks and
    /// presentation feedback.
    pub fn frame(&mut self) {
        if let Err(err) = self.backend.render(&self.space, &self.output) {
            warn!(%err, "drawing a frame failed");
            return;
        }
        self.frame_seq += 1;
        let now = self.clock.now();
        let output = self.output.clone();
        let mut feedback = smithay::desktop::utils::OutputPresentationFeedback::new(&output);
        for window in self.space.elements() {
            window.send_frame(&output, now, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
            window.take_presentation_feedback(
                &mut feedback,
                |_, _| Some(output.clone()),
                |_, _| smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind::empty(),
            );
        }
        feedback.presented::<_, Monotonic>(
            now,
            smithay::wayland::presentation::Refresh::fixed(self.refresh),
            self.frame_seq,
            smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind::empty(),
        );
        self.space.refresh();
    }

    /// Freezes the screenshot: draws what is pending and reads the output back. Later calls
    /// keep the first picture.
    pub fn freeze_screenshot(&mut self, why: &str) {
        if self.screenshot.path.is_none() || self.screenshot.frozen.is_some() {
            return;
        }
        self.frame();
        match self.backend.read_rgba() {
            Ok(image) => {
                info!(why, "screenshot taken");
                self.screenshot.frozen = Some(image);
            }
            Err(err) => warn!(%err, "reading the output back for the screenshot failed"),
        }
    }

    /// A shown window is going away (its client closed it, exited or was killed): the
    /// screenshot keeps the picture with it, drawn while its surface still holds its last
    /// buffer.
    pub fn window_going(&mut self, surface: &WlSurface) {
        let shown = self.window_for(surface).is_some_and(|w| {
            w.user_data()
                .get::<Shown>()
                .is_some_and(|s| s.0.load(Ordering::SeqCst))
        });
        if shown {
            self.freeze_screenshot("a window that had been shown went away");
        }
    }

    /// The window whose toplevel is `surface`.
    pub fn window_for(&self, surface: &WlSurface) -> Option<&Window> {
        self.space
            .elements()
            .find(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
    }
}
