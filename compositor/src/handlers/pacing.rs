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
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Resource, Weak},
    utils::{Monotonic, Time},
    wayland::{
        commit_timing::{CommitTimerBarrierStateUserData, CommitTimerStateUserData, Timestamp},
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
        let next_frame = self.now() + self.refresh;
        let deadline: Time<Monotonic> = next_frame.into();
        let far: Time<Monotonic> = (next_frame + FAR_AHEAD).into();
        let far = Timestamp::from(far);
        let on_demand = self.on_demand;
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

        let mut still_timed = Vec::new();
        for weak in std::mem::take(&mut self.desktop.pacing.timed) {
            let Ok(surface) = weak.upgrade() else {
                continue;
            };
            let (released, pending) = with_states(&surface, |states| {
                let Some(timers) = states.data_map.get::<CommitTimerBarrierStateUserData>() else {
                    return (false, false);
                };
                let mut timers = timers.lock().unwrap();
                let next = timers.next_deadline();
                let released = match next {
                    Some(_) if on_demand => {
                        let mut any = false;
                        while let Some(t) = timers.next_deadline() {
                            any |= timers.signal_until(t);
                        }
                        any
                    }
                    Some(t) if t > far => {
                        warn!("a commit-timing target is far past the next frame (another clock?); released now");
                        timers.signal_until(t)
                    }
                    Some(_) => timers.signal_until(deadline),
                    None => false,
                };
                (released, timers.next_deadline().is_some())
            });
            if released {
                clients.extend(surface.client());
            }
            if pending {
                still_timed.push(weak);
            }
        }
        self.desktop.pacing.timed.extend(still_timed);

        let mut seen = Vec::new();
        clients.retain(|c| {
            let new = !seen.contains(&c.id());
            seen.push(c.id());
            new
        });
        let any = !clients.is_empty();
        let dh = self.display_handle.clone();
        for client in clients {
            trace!(client = ?client.id(), "releasing held content updates");
            if let Some(data) = client.get_data::<ClientState>() {
                data.compositor_state.blocker_cleared(self, &dh);
            }
        }
        any
    }
}

delegate_fifo!(State);
delegate_commit_timing!(State);
