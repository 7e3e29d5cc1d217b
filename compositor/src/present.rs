//! When frames are drawn, and what clients are told about them.
//!
//! A commit to a shown window is drawn at once (present-on-commit): every commit a client
//! makes is presented before it can be undone, so a client that draws and exits, or is
//! killed, is in the screenshot. Frame callbacks go out on the refresh tick, so clients
//! are paced at the output's refresh rate; a commit that comes when no callback was
//! answered for a whole refresh interval is answered at once (the first frame of a
//! client, or of one drawing after a pause, is not held back up to an interval: a
//! screenshot test's client waited 8 ms on average for the first tick), and the tick after
//! it keeps its callbacks for the next one. Commits never move the tick.
//!
//! Only callbacks of windows' and popups' trees count as asked for (planar does not answer
//! a cursor surface's). Known limits: a dismissed popup's callbacks count though never
//! answered; a callback that could not be answered when it was asked for (an X11 surface
//! not paired yet) and is answered by a later tick does not count as an answer, so its
//! client can hear the next one less than an interval later.

use std::time::{Duration, Instant};

use smithay::{
    desktop::utils::OutputPresentationFeedback,
    reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind,
    utils::Monotonic, wayland::presentation::Refresh,
};
use tracing::{info, warn};

use crate::state::State;

/// When frame callbacks last answered a commit, in real time (the tick runs on it with
/// `--clock virtual` too).
#[derive(Debug, Default)]
pub struct Answers {
    /// When callbacks last went out with at least one asked for: at a tick or at once.
    last: Option<Instant>,
    /// When callbacks last went out at once (`answer_if_idle`).
    at_once: Option<Instant>,
    /// A frame callback was asked for since callbacks last went out.
    asked: bool,
}

impl Answers {
    /// A surface was committed with a frame callback.
    pub fn asked(&mut self) {
        self.asked = true;
    }

    /// Callbacks went out at `now` (after the frame was drawn).
    fn sent(&mut self, now: Instant) {
        if std::mem::take(&mut self.asked) {
            self.last = Some(now);
        }
    }
}

impl State {
    /// Draws the scene now and sends presentation feedback for it.
    pub fn present(&mut self) {
        let Some(backend) = self.backend.as_mut() else {
            return;
        };
        let rendered = backend.render(&self.space, &self.outputs);
        if backend.host_gone() {
            self.host_went_away();
        }
        let changed = match rendered {
            Ok(changed) => changed,
            Err(err) => {
                warn!(%err, "drawing a frame failed");
                return;
            }
        };
        // With the virtual clock and frames on demand, a frame that changes nothing on the
        // output (a commit without new content, such as Mesa's Vulkan WSI makes to wait on
        // a fifo barrier, more or fewer of them as its threads' timing goes) is no new
        // frame: the clock and the frame count stand still, so runs stay byte-identical.
        let same_frame = self.virtual_clock && self.on_demand && !changed && self.presented_any;
        self.presented_any = true;
        if !same_frame {
            self.frame_seq += 1;
        }
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

    /// Frame callbacks of every window, done now.
    pub(crate) fn send_frame_callbacks(&mut self) {
        let now = self.now();
        let output = self.output.clone();
        for window in self.space.elements() {
            window.send_frame(&output, now, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
        }
        self.send_x11_frame_callbacks(now);
    }

    /// The refresh tick: draws what changed without a commit (a window that went away),
    /// then tells every client it may draw again — but for a tick less than an interval
    /// after callbacks went out at once: they wait for the next tick, so that no client
    /// hears two answers closer than an interval. The tick itself never moves, so fifo and
    /// commit-timing updates are released on it whatever clients commit.
    pub fn tick(&mut self) {
        self.space.refresh();
        self.present();
        let now = Instant::now();
        let just_answered = self
            .answers
            .at_once
            .is_some_and(|at| now.duration_since(at) < self.refresh);
        if !just_answered {
            self.answers.sent(now);
            self.send_frame_callbacks();
        }
        self.release_paced();
    }

    /// After the clients' requests were handled (with a refresh rate): answers the frame
    /// callbacks asked for at once when none were answered for a refresh interval (a
    /// client's first frame, or one after a pause, does not wait up to an interval for the
    /// tick). A client that heard an answer less than an interval ago made `last` that
    /// recent, so it waits for the tick.
    pub fn answer_if_idle(&mut self) {
        let now = Instant::now();
        if self.on_demand
            || !self.answers.asked
            || self
                .answers
                .last
                .is_some_and(|last| now.duration_since(last) < self.refresh)
        {
            return;
        }
        self.answers.asked = false;
        self.answers.last = Some(now);
        self.answers.at_once = Some(now);
        self.send_frame_callbacks();
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
        for (name, _) in self.screenshot.per_output.clone() {
            match self.output_named(&name) {
                Some(output) => {
                    if let Some(image) = self.read_output(&output) {
                        self.screenshot.frozen_outputs.push((name, image));
                    }
                }
                None => warn!(output = %name, "no output of that name to take a screenshot of"),
            }
        }
        match self.layout_image() {
            Some(image) => {
                info!(why, "screenshot taken");
                self.screenshot.frozen = Some(image);
            }
            None => warn!("reading the outputs back for the screenshot failed"),
        }
    }
}
