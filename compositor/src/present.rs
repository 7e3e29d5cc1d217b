//! When frames are drawn, and what clients are told about them.
//!
//! A commit to a shown window is drawn at once (present-on-commit): every commit a client
//! makes is presented before it can be undone, so a client that draws and exits, or is
//! killed, is in the screenshot. Frame callbacks go out on the refresh tick only, so
//! clients are paced at the output's refresh rate.

use std::time::Duration;

use smithay::{
    desktop::utils::OutputPresentationFeedback,
    reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind,
    utils::Monotonic, wayland::presentation::Refresh,
};
use tracing::{info, warn};

use crate::state::State;

impl State {
    /// Draws the scene now and sends presentation feedback for it.
    pub fn present(&mut self) {
        let Some(backend) = self.backend.as_mut() else {
            return;
        };
        let rendered = backend.render(&self.space, &self.output);
        #[cfg(feature = "nested")]
        if crate::backend::host_gone() {
            self.host_went_away();
        }
        if let Err(err) = rendered {
            warn!(%err, "drawing a frame failed");
            return;
        }
        self.presented_any = true;
        self.frame_seq += 1;
        let now = self.now();
        let output = self.output.clone();
        let mut feedback = OutputPresentationFeedback::new(&output);
        for window in self.space.elements() {
            window.take_presentation_feedback(
                &mut feedback,
                |_, _| Some(output.clone()),
                |_, _| Kind::empty(),
            );
        }
        feedback.presented::<_, Monotonic>(
            now,
            Refresh::fixed(self.refresh),
            self.frame_seq,
            Kind::empty(),
        );
        if self
            .screenshot
            .after_frames
            .is_some_and(|n| self.frame_seq >= n)
        {
            self.freeze_screenshot("the asked number of frames was presented");
        }
        if self.on_demand {
            // No refresh tick: clients hear about every frame at once.
            self.send_frame_callbacks();
        }
    }

    /// The time frames are stamped with: the monotonic clock, or with `--clock virtual`
    /// the frame number times the refresh interval.
    pub fn now(&self) -> Duration {
        if self.virtual_clock {
            self.refresh * (self.frame_seq + self.desktop.pacing.skipped_frames) as u32
        } else {
            self.clock.now().into()
        }
    }

    fn send_frame_callbacks(&mut self) {
        let now = self.now();
        let output = self.output.clone();
        for window in self.space.elements() {
            window.send_frame(&output, now, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
        }
    }

    /// The refresh tick: draws what changed without a commit (a window that went away),
    /// then tells every client it may draw again.
    pub fn tick(&mut self) {
        self.space.refresh();
        self.present();
        self.send_frame_callbacks();
        self.release_paced();
    }

    /// Freezes the screenshot: the last frame presented, read back. Later calls keep the
    /// first picture.
    pub fn freeze_screenshot(&mut self, why: &str) {
        if !self.screenshot.wanted || self.screenshot.frozen.is_some() {
            return;
        }
        if !self.ensure_backend() {
            return;
        }
        if !self.presented_any {
            self.present();
        }
        let Some(backend) = self.backend.as_mut() else {
            return;
        };
        match backend.read_rgba() {
            Ok(image) => {
                info!(why, "screenshot taken");
                self.screenshot.frozen = Some(image);
            }
            Err(err) => warn!(%err, "reading the output back for the screenshot failed"),
        }
    }
}
