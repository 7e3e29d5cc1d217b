//! `planar run --script FILE`: test steps run inside planar's event loop.
//!
//! The runner is a state machine polled from the main loop (`State::poll_input`, every few
//! milliseconds while a step waits): input steps act on the seat at once, waiting steps
//! (`wait-window`, `wait-idle`, `sleep`) keep the runner on their line until their
//! condition holds. No thread touches `State`. Each step is logged with its line; the
//! first failing step stops the run (`Stop::StepFailed`, exit `EXIT_STEP_FAILED`) with a
//! message naming the line. When every step has run, planar stops as on SIGTERM and exits
//! 0. The command exiting first fails the step it interrupts, unless only `wait-idle` and
//! `sleep` are left: then the run ends with the command's status. Known limit: fixed
//! timeouts per wait (`WAIT_WINDOW_TIMEOUT`, `WAIT_IDLE_TIMEOUT`).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use planar_image::{check_against, CheckOptions};
use planar_renderer::steps::{ScriptLine, Step, PIXELS_PER_NOTCH};
use smithay::backend::input::Axis;
use tracing::{info, warn};

use crate::{
    state::{State, Stop},
    waits::{Condition, Poll},
};

/// How long `wait-window` waits for the window.
pub const WAIT_WINDOW_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `wait-idle` waits for clients to settle.
pub const WAIT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

enum Running {
    Wait {
        condition: Condition,
        deadline: Instant,
        timeout: Duration,
    },
    Sleep {
        until: Instant,
    },
}

/// A script being run.
pub struct Script {
    steps: Vec<ScriptLine>,
    next: usize,
    running: Option<(ScriptLine, Running)>,
    /// `--bless`: `expect` steps write their references.
    bless: bool,
    /// Why the run stopped, when a step failed.
    pub failure: Option<String>,
}

impl Script {
    pub fn new(steps: Vec<ScriptLine>, bless: bool) -> Self {
        Script {
            steps,
            next: 0,
            running: None,
            bless,
            failure: None,
        }
    }

    /// The line still running or not yet run, when the script has not finished.
    pub fn unfinished(&self) -> Option<&ScriptLine> {
        self.running
            .as_ref()
            .map(|(line, _)| line)
            .or_else(|| self.steps.get(self.next))
    }

    /// When the command exits now: the line it interrupts, unless only `wait-idle` and
    /// `sleep` steps are left (an app that quits on the last key it was sent is done).
    pub fn interrupted(&self) -> Option<&ScriptLine> {
        let mut rest = self
            .running
            .iter()
            .map(|(line, _)| line)
            .chain(self.steps.iter().skip(self.next));
        let first = rest.clone().next()?;
        rest.any(|l| !matches!(l.step, Step::WaitIdle | Step::Sleep { .. }))
            .then_some(first)
    }
}

impl State {
    /// Whether anything waits on clients: the main loop then polls every few ms.
    pub fn input_busy(&self) -> bool {
        !self.input.waits.is_empty()
            || self
                .input
                .script
                .as_ref()
                .is_some_and(|s| s.failure.is_none() && s.unfinished().is_some())
    }

    /// Polls the protocol waits and runs the script as far as it can go now.
    pub fn poll_input(&mut self) {
        self.poll_waits();
        if self.stop.is_some() {
            return;
        }
        let Some(mut script) = self.input.script.take() else {
            return;
        };
        self.advance_script(&mut script);
        self.input.script = Some(script);
    }

    fn advance_script(&mut self, script: &mut Script) {
        if script.failure.is_some() {
            return;
        }
        // The renderer must exist for anything that draws or reads the output.
        if !self.ensure_backend() {
            return;
        }
        loop {
            if let Some((line, mut running)) = script.running.take() {
                match self.poll_running(&mut running) {
                    Ok(true) => info!(line = line.line, step = %line.text, "script step done"),
                    Ok(false) => {
                        script.running = Some((line, running));
                        return;
                    }
                    Err(why) => return self.fail_step(script, &line, why),
                }
            }
            let Some(line) = script.steps.get(script.next).cloned() else {
                info!("script finished");
                self.stop.get_or_insert(Stop::ScriptDone);
                return;
            };
            script.next += 1;
            info!(line = line.line, step = %line.text, "script step");
            match self.start_step(&line.step, script.bless) {
                Ok(Some(running)) => script.running = Some((line, running)),
                Ok(None) => {}
                Err(why) => return self.fail_step(script, &line, why),
            }
        }
    }

    fn fail_step(&mut self, script: &mut Script, line: &ScriptLine, why: String) {
        let message = format!("script line {} ({}): {why}", line.line, line.text);
        warn!("{message}");
        script.failure = Some(message);
        self.stop.get_or_insert(Stop::StepFailed);
    }

    /// `Ok(true)` when the running step is over.
    fn poll_running(&mut self, running: &mut Running) -> Result<bool, String> {
        match running {
            Running::Sleep { until } => Ok(Instant::now() >= *until),
            Running::Wait {
                condition,
                deadline,
                timeout,
            } => match self.poll_condition(condition) {
                Poll::Done(seq) => {
                    info!(seq, "wait over");
                    Ok(true)
                }
                Poll::Pending if Instant::now() >= *deadline => Err(match condition {
                    Condition::Window { title } => format!(
                        "no window titled {title:?} was shown within {} s",
                        timeout.as_secs()
                    ),
                    Condition::Idle { .. } => format!(
                        "clients did not settle within {} s (no answer to a ping, or still committing)",
                        timeout.as_secs()
                    ),
                }),
                Poll::Pending => Ok(false),
            },
        }
    }

    /// Runs `step`; returns what it still waits for, if anything.
    fn start_step(&mut self, step: &Step, bless: bool) -> Result<Option<Running>, String> {
        match step {
            Step::WaitWindow { title } => Ok(Some(Running::Wait {
                condition: Condition::Window {
                    title: title.clone(),
                },
                deadline: Instant::now() + WAIT_WINDOW_TIMEOUT,
                timeout: WAIT_WINDOW_TIMEOUT,
            })),
            Step::WaitIdle => Ok(Some(Running::Wait {
                condition: self.idle_condition(),
                deadline: Instant::now() + WAIT_IDLE_TIMEOUT,
                timeout: WAIT_IDLE_TIMEOUT,
            })),
            Step::Sleep { ms } => Ok(Some(Running::Sleep {
                until: Instant::now() + Duration::from_millis(*ms),
            })),
            Step::Move { x, y } => {
                self.inject_motion((*x, *y).into());
                Ok(None)
            }
            Step::Click { x, y, button } => {
                self.inject_motion((*x, *y).into());
                self.inject_button(*button, true);
                self.inject_button(*button, false);
                Ok(None)
            }
            Step::Scroll { dx, dy } => {
                for (axis, notches) in [(Axis::Vertical, *dy), (Axis::Horizontal, *dx)] {
                    if notches != 0 {
                        self.inject_axis(axis, notches as f64 * PIXELS_PER_NOTCH, notches * 120);
                    }
                }
                Ok(None)
            }
            Step::Type { text } => self
                .inject_text(text)
                .map(|()| None)
                .map_err(|e| e.to_string()),
            Step::Key { modifiers, key } => {
                let mut result = Ok(None);
                let mut down = Vec::new();
                for m in modifiers {
                    match self.inject_keysym(*m, true) {
                        Ok(()) => down.push(*m),
                        Err(e) => {
                            result = Err(e.to_string());
                            break;
                        }
                    }
                }
                if result.is_ok() {
                    result = self
                        .inject_keysym(*key, true)
                        .and_then(|()| self.inject_keysym(*key, false))
                        .map(|()| None)
                        .map_err(|e| e.to_string());
                }
                for m in down.into_iter().rev() {
                    let _ = self.inject_keysym(m, false);
                }
                result
            }
            Step::Screenshot { path } => {
                let image = self.read_layout()?;
                image
                    .write_png(path)
                    .map_err(|e| format!("error writing {}: {e}", path.display()))?;
                info!(path = %path.display(), "script screenshot written");
                Ok(None)
            }
            Step::Expect {
                reference,
                fuzz,
                clip,
            } => {
                let image = self.read_layout()?;
                let options = CheckOptions {
                    fuzz: *fuzz,
                    clip: *clip,
                    diff: None,
                    bless,
                };
                let outcome = check_against(&image, reference, &options)
                    .map_err(|e| format!("error comparing with {}: {e}", reference.display()))?;
                let message = outcome.message(reference);
                if outcome.passed() {
                    info!("{message}");
                    Ok(None)
                } else {
                    Err(message)
                }
            }
        }
    }

    /// The layout as it is now (what `--screenshot FILE` writes): a frame is drawn first,
    /// so every commit so far is in it.
    fn read_layout(&mut self) -> Result<planar_image::RgbaImage, String> {
        self.present();
        self.layout_image()
            .ok_or_else(|| "the output could not be read back (see the log)".to_string())
    }
}

/// Reads and parses a script file; the error names the line.
pub fn load(path: &PathBuf) -> anyhow::Result<Vec<ScriptLine>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("error reading the script {}: {e}", path.display()))?;
    planar_renderer::steps::parse_script(&text)
        .map_err(|e| anyhow::anyhow!("error in the script {}: {e}", path.display()))
}
