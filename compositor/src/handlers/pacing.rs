//! wp_fifo_manager_v1 and wp_commit_timing_manager_v1 (smithay's, managed mode): smithay
//! holds back a content update that waits on a fifo barrier or has a target time; planar
//! decides when to let it through.
//!
//! - With a refresh rate, on each refresh tick: fifo barriers of content already shown are
//!   cleared (at most one fifo update per surface per refresh), and updates whose target
//!   time falls before the next frame are released.
//! - With `--refresh 0` (frames on demand) there is no tick: held updates are released as
//!   soon as the loop is idle, each one presented in turn. Nothing then depends on wall
//!   time, so `--refresh 0 --clock virtual` runs stay deterministic with fifo and
//!   commit-timing in use.
//!
//! Target times are read in the output's clock (`State::now`: monotonic, or virtual with
//! `--clock virtual`). A target more than `FAR_AHEAD` past the next frame is released at
//! once, with a warning: it is in another clock (a client using the real monotonic clock
//! under `--clock virtual`), and waiting for it would freeze the client.

use std::time::Duration;

use smithay::{
    delegate_commit_timing, delegate_fifo,
    reexports::wayland_server::{
        backend::ClientId, protocol::wl_surface::WlSurface, Client, Resource, Weak,
    },
    utils::{Monotonic, Time},
    wayland::{
        commit_timing::{CommitTimerBarrierStateUserData, CommitTimerStateUserData},
        compositor::{add_pre_commit_hook, with_states},
        fifo::FifoBarrierCachedState,
    },
};
use tracing::{trace, warn};

use crate::state::{ClientState, State};

/// See the module header.
const FAR_AHEAD: Duration = Duration::from_secs(1);
/// Rounds of release-and-present per idle loop with `--refresh 0` (each round lets one
/// more queued update per surface through); bounds the work a client can ask for at once.
const MAX_ROUNDS: usize = 64;

/// Surfaces that may have a fifo barrier or commit timers to release.
#[derive(Default)]
pub struct Pacing {
    fifo: Vec<Weak<WlSurface>>,
    timed: Vec<Weak<WlSurface>>,
    /// `--refresh 0 --clock virtual`: refresh intervals the virtual clock skipped to
    /// reach commit-timing targets (added to the frame count in `State::now`).
    pub skipped_frames: u64,
    /// The target a wake-up timer is armed for.
    wake_armed: Option<Duration>,
}

fn remember(list: &mut Vec<Weak<WlSurface>>, surface: &WlSurface) {
    if !list.iter().any(|w| w.id() == surface.id()) {
        list.push(surface.downgrade());
    }
}

impl State {
    /// Called for every new wl_surface: notes surfaces that commit with a target time
    /// (smithay's own hook, added later, turns the target into a blocker).
    pub fn watch_pacing(&mut self, surface: &WlSurface) {
        add_pre_commit_hook::<Self, _>(surface, |state, _, surface| {
            let timed = with_states(surface, |states| {
                states
                    .data_map
                    .get::<CommitTimerStateUserData>()
                    .is_some_and(|t| t.borrow().timestamp.is_some())
            });
            if timed {
                remember(&mut state.desktop.pacing.timed, surface);
            }
        });
    }

    /// Called when a content update is applied: notes a fifo barrier to clear once it
    /// has been shown.
    pub fn note_fifo_barrier(&mut self, surface: &WlSurface) {
        let has_barrier = with_states(surface, |states| {
            states
                .cached_state
                .get::<FifoBarrierCachedState>()
                .current()
                .barrier
                .is_some()
        });
        if has_barrier {
            remember(&mut self.desktop.pacing.fifo, surface);
        }
    }

    /// The refresh tick (or, with `--refresh 0`, an idle loop): releases what may go.
    pub fn release_paced(&mut self) {
        let rounds = if self.on_demand { MAX_ROUNDS } else { 1 };
        for _ in 0..rounds {
            if !self.release_round() {
                break;
            }
        }
    }

    /// One release: returns whether any held update was let through.
    fn release_round(&mut self) -> bool {
        let mut clients = Vec::new();
        for surface in std::mem::take(&mut self.desktop.pacing.fifo) {
            let Ok(surface) = surface.upgrade() else {
                continue;
            };
            let barrier = with_states(&surface, |states| {
                states
                    .cached_state
                    .get::<FifoBarrierCachedState>()
                    .current()
                    .barrier
                    .take()
            });
            if let Some(barrier) = barrier {
                barrier.signal();
                clients.extend(surface.client());
            }
        }
        self.release_timers(&mut clients);

        let mut seen: Vec<ClientId> = Vec::new();
        clients.retain(|c| {
            let new = !seen.contains(&c.id());
            seen.push(c.id());
            new
        });
        let any = !clients.is_empty();
        let dh = self.display_handle.clone();
        for client in clients {
            trace!(client = %crate::client_name::label(&client), "releasing held content updates");
            if let Some(data) = client.get_data::<ClientState>() {
                data.compositor_state.blocker_cleared(self, &dh);
            }
        }
        any
    }

    /// Lets through the commit-timing updates whose target is due (see the module header).
    fn release_timers(&mut self, clients: &mut Vec<Client>) {
        let surfaces: Vec<WlSurface> = self
            .desktop
            .pacing
            .timed
            .iter()
            .filter_map(|w| w.upgrade().ok())
            .collect();
        let next_deadline = |surface: &WlSurface| {
            with_states(surface, |states| {
                states
                    .data_map
                    .get::<CommitTimerBarrierStateUserData>()
                    .and_then(|t| t.lock().unwrap().next_deadline())
            })
        };
        // With frames on demand, the next frame is now.
        let next_frame = if self.on_demand {
            self.now()
        } else {
            self.now() + self.refresh
        };
        let far = next_frame + FAR_AHEAD;
        let earliest = surfaces
            .iter()
            .filter_map(next_deadline)
            .map(|t| Duration::from(Time::<Monotonic>::from(t)))
            .filter(|&t| t <= far)
            .min();
        let mut deadline = next_frame;
        if let Some(t) = earliest {
            if self.on_demand && self.virtual_clock && t > next_frame {
                // Virtual time jumps to the target: the frame it is shown in is stamped at
                // or after it, whatever the wall clock says.
                let frames = t.as_nanos().div_ceil(self.refresh.as_nanos().max(1)) as u64;
                let current = self.frame_seq + self.desktop.pacing.skipped_frames;
                self.desktop.pacing.skipped_frames += frames.saturating_sub(current + 1);
                deadline = t;
            }
        }
        let mut waiting = None::<Duration>;
        self.desktop.pacing.timed.clear();
        for surface in surfaces {
            let (released, next) = with_states(&surface, |states| {
                let Some(timers) = states.data_map.get::<CommitTimerBarrierStateUserData>() else {
                    return (false, None);
                };
                let mut timers = timers.lock().unwrap();
                let mut released = false;
                if let Some(t) = timers.next_deadline() {
                    let t = Duration::from(Time::<Monotonic>::from(t));
                    if t > far {
                        warn!(target_s = t.as_secs_f64(), "a commit-timing target is far past the next frame (another clock?); released now");
                        released |= timers.signal_until(Time::<Monotonic>::from(t));
                    }
                }
                released |= timers.signal_until(Time::<Monotonic>::from(deadline));
                let next = timers
                    .next_deadline()
                    .map(|t| Duration::from(Time::<Monotonic>::from(t)));
                (released, next)
            });
            if released {
                clients.extend(surface.client());
            }
            if let Some(next) = next {
                waiting = Some(waiting.map_or(next, |w| w.min(next)));
                self.desktop.pacing.timed.push(surface.downgrade());
            }
        }
        if let Some(next) = waiting {
            if self.on_demand && !self.virtual_clock {
                self.wake_at(next);
            }
        }
    }

    /// With frames on demand and the monotonic clock nothing else wakes the loop when a
    /// target time comes: a one-shot timer does.
    fn wake_at(&mut self, target: Duration) {
        if self.desktop.pacing.wake_armed.is_some_and(|t| t <= target) {
            return;
        }
        let Some(handle) = self.loop_handle.clone() else {
            return;
        };
        let delay = target.saturating_sub(self.now());
        let timer = calloop::timer::Timer::from_duration(delay);
        let armed = handle.insert_source(timer, |_, _, state| {
            state.desktop.pacing.wake_armed = None;
            state.release_paced();
            calloop::timer::TimeoutAction::Drop
        });
        match armed {
            Ok(_) => self.desktop.pacing.wake_armed = Some(target),
            Err(err) => warn!(%err, "error arming the commit-timing timer"),
        }
    }
}

delegate_fifo!(State);
delegate_commit_timing!(State);
