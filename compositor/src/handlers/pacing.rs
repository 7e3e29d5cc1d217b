//! wp_fifo_manager_v1 and wp_commit_timing_manager_v1 (smithay's, managed mode): smithay
//! holds back a content update that waits on a fifo barrier or has a target time; planar
//! decides when to let it through. A released update is drawn at once (present-on-commit).
//!
//! - With a refresh rate, on each refresh tick: fifo barriers of content already shown are
//!   cleared (at most one fifo update per surface per refresh), and updates whose target is
//!   at or before the time the frame will be stamped with are released (never early).
//! - With `--refresh 0` (frames on demand) there is no tick: held fifo updates go through
//!   as soon as the loop is idle, each presented in turn. Commit-timing updates: with
//!   `--clock virtual` the virtual clock jumps to the earliest target; with the real clock
//!   a one-shot timer wakes the loop at it. Nothing then depends on wall time with the
//!   virtual clock, so `--refresh 0 --clock virtual` runs stay byte-identical with fifo and
//!   commit-timing in use.
//!
//! Target times are read in the output's clock (`State::now`: monotonic, or virtual with
//! `--clock virtual`). A target more than `FAR_AHEAD` past the next frame is released at
//! once, with a warning: it is in another clock (a client using the real monotonic clock
//! under `--clock virtual`), and waiting for it would freeze the client.
//!
//! Known limit: a surface that is not drawn (an unmapped popup) still has its barriers
//! cleared, as if shown; the protocol allows that for surfaces that are not visible.
//! A client may have at most `MAX_HELD_COMMITS` commits made and not yet applied (counted
//! per client: smithay keeps one transaction queue per client and scans all of it at every
//! commit, so n held commits cost n² work on the main loop — 12,000 fifo commits, ~360 KB
//! sent, froze planar for over 100 s). Past it the client is disconnected with
//! `wl_display.no_memory`, as for planar's other per-client limits. A real client holds a
//! few (its swapchain).
//!
//! `wp_commit_timer_v1.set_timestamp` with a second or more of nanoseconds gets the
//! protocol's `invalid_timestamp` before smithay stores it.

use std::{collections::HashSet, time::Duration};

use rustix::fs::Timespec;

use smithay::reexports::wayland_protocols::wp::commit_timing::v1::server::{
    wp_commit_timer_v1::{self, WpCommitTimerV1},
    wp_commit_timing_manager_v1::WpCommitTimingManagerV1,
};
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::compositor::is_sync_subsurface;
use smithay::{
    delegate_fifo,
    reexports::wayland_server::{
        backend::{ClientId, ObjectId},
        protocol::wl_surface::WlSurface,
        Client, Resource, Weak,
    },
    utils::{Monotonic, Time},
    wayland::{
        commit_timing::{
            CommitTimerBarrierStateUserData, CommitTimerStateUserData, CommitTimingManagerState,
            Timestamp,
        },
        compositor::{add_pre_commit_hook, with_states},
        fifo::FifoBarrierCachedState,
    },
};
use tracing::{trace, warn};

use super::dispatch::{delegate_to, intercept};
use crate::state::{ClientState, State};

/// See the module header.
const FAR_AHEAD: Duration = Duration::from_secs(1);
/// Rounds of release-and-present per idle loop with `--refresh 0` (each round lets one
/// more queued update per surface through); bounds the work a client can ask for at once.
const MAX_ROUNDS: usize = 64;
/// See the module header.
pub const MAX_HELD_COMMITS: usize = 256;

/// Surfaces that may have a fifo barrier or commit timers to release.
#[derive(Default)]
pub struct Pacing {
    fifo: SurfaceSet,
    timed: SurfaceSet,
    /// `--refresh 0 --clock virtual`: refresh intervals the virtual clock skipped to
    /// reach commit-timing targets (added to the frame count in `State::now`).
    pub skipped_frames: u64,
    /// With frames on demand and the real clock: the one timer that wakes the loop at
    /// the earliest target (re-armed, never added to; removed when nothing waits).
    wake: super::wake::WakeTimer,
}

/// A client's target time as a Duration on the clock. smithay's own conversion
/// debug-asserts a non-negative time and panics on a carry overflow, and the seconds and
/// nanoseconds are the client's: negative seconds are the distant past, and nanoseconds
/// past a second carry, saturating.
fn target_of(t: Timestamp) -> Duration {
    let t = Timespec::from(Time::<Monotonic>::from(t));
    let Ok(secs) = u64::try_from(t.tv_sec) else {
        return Duration::ZERO;
    };
    let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
    Duration::from_secs(secs).saturating_add(Duration::from_nanos(nanos))
}

/// Surfaces in the order they were first noted (so releases happen in the same order run
/// after run), each once.
#[derive(Default)]
struct SurfaceSet {
    order: Vec<Weak<WlSurface>>,
    ids: HashSet<ObjectId>,
}

impl SurfaceSet {
    fn insert(&mut self, surface: &WlSurface) {
        if self.ids.insert(surface.id()) {
            self.order.push(surface.downgrade());
        }
    }

    fn take(&mut self) -> Vec<Weak<WlSurface>> {
        self.ids.clear();
        std::mem::take(&mut self.order)
    }
}

impl State {
    /// Called for every new wl_surface: notes surfaces that commit with a target time
    /// (smithay's own hook, added later, turns the target into a blocker).
    pub fn watch_pacing(&mut self, surface: &WlSurface) {
        add_pre_commit_hook::<Self, _>(surface, |state, dh, surface| {
            count_held_commit(dh, surface);
            let timed = with_states(surface, |states| {
                states
                    .data_map
                    .get::<CommitTimerStateUserData>()
                    .is_some_and(|t| t.borrow().timestamp.is_some())
            });
            if timed {
                state.desktop.pacing.timed.insert(surface);
            }
        });
    }

    /// Called when a content update is applied: notes a fifo barrier to clear once it
    /// has been shown.
    pub fn note_fifo_barrier(&mut self, surface: &WlSurface) {
        if !is_sync_subsurface(surface) {
            let client = surface.client();
            if let Some(data) = client.as_ref().and_then(|c| c.get_data::<ClientState>()) {
                let _ = data.held_commits.fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| Some(n.saturating_sub(1)),
                );
            }
        }
        let has_barrier = with_states(surface, |states| {
            states
                .cached_state
                .get::<FifoBarrierCachedState>()
                .current()
                .barrier
                .is_some()
        });
        if has_barrier {
            self.desktop.pacing.fifo.insert(surface);
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
        for surface in self.desktop.pacing.fifo.take() {
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
            .take()
            .into_iter()
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
        // The time the frame showing a released update is stamped with: it is drawn at
        // once (present-on-commit), so on the real clock now, and on the virtual clock one
        // refresh after the last frame. "Not before the target" holds either way.
        let next_frame = if self.virtual_clock {
            self.now() + self.refresh
        } else {
            self.now()
        };
        let far = next_frame + FAR_AHEAD;
        let earliest = surfaces
            .iter()
            .filter_map(next_deadline)
            .map(target_of)
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
        for surface in surfaces {
            let (released, next) = with_states(&surface, |states| {
                let Some(timers) = states.data_map.get::<CommitTimerBarrierStateUserData>() else {
                    return (false, None);
                };
                let mut timers = timers.lock().unwrap();
                let mut released = false;
                // Compared as the client sent them (the heap's order), so that no
                // conversion of a client's numbers can leave one behind.
                while let Some(next) = timers.next_deadline() {
                    let t = target_of(next);
                    if t <= far {
                        break;
                    }
                    warn!(target_s = t.as_secs_f64(), "a commit-timing target is far past the next frame (another clock?); released now");
                    released |= timers.signal_until(next);
                }
                released |= timers.signal_until(Time::<Monotonic>::from(deadline));
                let next = timers.next_deadline().map(target_of);
                (released, next)
            });
            if released {
                clients.extend(surface.client());
            }
            if let Some(next) = next {
                waiting = Some(waiting.map_or(next, |w| w.min(next)));
                self.desktop.pacing.timed.insert(&surface);
            }
        }
        match waiting {
            Some(next) if self.on_demand && !self.virtual_clock => self.wake_at(next),
            // Nothing waits any more (released, or its surfaces are gone).
            _ => {
                if let Some(handle) = &self.loop_handle {
                    self.desktop.pacing.wake.disarm(handle);
                }
            }
        }
    }

    /// With frames on demand and the monotonic clock nothing else wakes the loop when a
    /// target time comes: a one-shot timer does.
    fn wake_at(&mut self, target: Duration) {
        let Some(handle) = self.loop_handle.clone() else {
            return;
        };
        // Capped: a client's target can be any time (calloop's `Instant + delay` would
        // overflow); waking early only re-arms.
        let delay = target.saturating_sub(self.now()).min(FAR_AHEAD);
        let at = std::time::Instant::now() + delay;
        let armed = self
            .desktop
            .pacing
            .wake
            .arm_by(&handle, at, |state: &mut State| {
                state.desktop.pacing.wake.fired();
                state.release_paced();
            });
        if let Err(err) = armed {
            warn!(%err, "error arming the commit-timing timer");
        }
    }
}

/// Counts a commit of `surface` until it is applied (`note_fifo_barrier`); disconnects
/// the client once it holds more than `MAX_HELD_COMMITS` (module header). Commits of a
/// synchronized subsurface are applied with its parent's and not counted.
fn count_held_commit(dh: &DisplayHandle, surface: &WlSurface) {
    if is_sync_subsurface(surface) {
        return;
    }
    let Some(client) = surface.client() else {
        return;
    };
    let Some(data) = client.get_data::<ClientState>() else {
        return;
    };
    let held = data
        .held_commits
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        + 1;
    if held == MAX_HELD_COMMITS + 1 {
        let message = format!(
            "more than {MAX_HELD_COMMITS} commits held (fifo or commit-timing) and not yet applied: planar's limit"
        );
        crate::limits::disconnect_no_memory(dh, &client, message);
    }
}

delegate_fifo!(State);
// smithay's delegate_commit_timing!, with wp_commit_timer_v1 seen first: smithay stores
// any nanoseconds, and the protocol says a timestamp with a second or more of them is an
// `invalid_timestamp`.
delegate_to!(CommitTimingManagerState:
    globals [WpCommitTimingManagerV1: bool]
    objects [WpCommitTimingManagerV1: bool]
);
intercept!(
    WpCommitTimerV1, Weak<WlSurface> => CommitTimingManagerState,
    |_, client, timer, request| check_timestamp(client, timer, request)
);

fn check_timestamp(
    client: &Client,
    timer: &WpCommitTimerV1,
    request: wp_commit_timer_v1::Request,
) -> Option<wp_commit_timer_v1::Request> {
    if let wp_commit_timer_v1::Request::SetTimestamp { tv_nsec, .. } = request {
        if tv_nsec >= 1_000_000_000 {
            warn!(client = %crate::client_name::label(client), tv_nsec, "wp_commit_timer_v1.set_timestamp with a second or more of nanoseconds: invalid_timestamp");
            timer.post_error(
                wp_commit_timer_v1::Error::InvalidTimestamp,
                format!("tv_nsec {tv_nsec} is not below 1000000000"),
            );
            return None;
        }
    }
    Some(request)
}
