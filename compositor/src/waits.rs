//! Waiting for clients without sleeps: planar-test-v1's `barrier` and `wait_window`, and
//! the script's `wait-idle` and `wait-window` steps, share these conditions.
//!
//! - idle: every xdg_wm_base client answered a ping sent when the wait began (so it has
//!   read every event sent before it), then no toplevel was committed for a quiet period
//!   (two refresh intervals, at least `MIN_QUIET`); then a frame is presented.
//! - window: a toplevel whose title contains the text has had a buffer, and was
//!   presented.
//!
//! Waits are polled from the main loop after each dispatch (`State::poll_input`), which
//! runs every few milliseconds while any wait is pending. Known limit: a client that does
//! not commit after an input within the quiet period (a slow renderer) is seen as idle
//! too early; the quiet period is what a frame of a toolkit on llvmpipe takes here.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use planar_protocol::test_protocol::server::planar_test_wait_v1::PlanarTestWaitV1;
use smithay::{
    reexports::wayland_server::Resource,
    utils::SERIAL_COUNTER,
    wayland::{
        compositor::with_states,
        shell::xdg::{ShellClient, ToplevelSurface, XdgToplevelSurfaceData},
    },
};
use tracing::debug;

use crate::state::{Shown, State};

/// The shortest quiet period an idle wait asks for.
pub const MIN_QUIET: Duration = Duration::from_millis(100);

/// Waits one client may have pending: each is polled every few ms.
pub const MAX_WAITS_PER_CLIENT: usize = 64;

/// Pongs a shell client has answered, kept in its user data.
#[derive(Default)]
pub struct Pongs(pub AtomicU64);

/// What a wait waits for.
pub enum Condition {
    Window {
        title: String,
    },
    Idle {
        /// Toplevels whose client was pinged, and the pong count that answers the ping.
        pinged: Vec<(ToplevelSurface, u64)>,
        /// When every pong was in, or the last commit seen after that.
        quiet_since: Option<Instant>,
        commits: u64,
    },
}

/// The answer of one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    Pending,
    /// Holds, with the sequence number of the frame presented.
    Done(u64),
}

/// A planar-test-v1 wait: the condition, its deadline and the object to answer.
pub struct ProtocolWait {
    condition: Condition,
    deadline: Instant,
    object: PlanarTestWaitV1,
}

/// Pending planar-test-v1 waits.
#[derive(Default)]
pub struct Waits {
    list: Vec<ProtocolWait>,
}

impl Waits {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How many waits `client` has pending.
    pub fn count_for(
        &self,
        client: &smithay::reexports::wayland_server::backend::ClientId,
    ) -> usize {
        self.list
            .iter()
            .filter(|w| w.object.client().is_some_and(|c| &c.id() == client))
            .count()
    }
}

fn pongs(client: &ShellClient) -> Option<u64> {
    client
        .with_data(|data| {
            data.insert_if_missing_threadsafe(Pongs::default);
            data.get::<Pongs>()
                .map(|p| p.0.load(Ordering::SeqCst))
                .unwrap_or_default()
        })
        .ok()
}

fn title_of(toplevel: &ToplevelSurface) -> String {
    with_states(toplevel.wl_surface(), |states| {
        states
            .data_map
            .get::<XdgToplevelSurfaceData>()
            .and_then(|d| d.lock().ok().and_then(|d| d.title.clone()))
            .unwrap_or_default()
    })
}

impl State {
    /// Starts an idle condition: pings every shell client now.
    pub fn idle_condition(&mut self) -> Condition {
        let mut pinged = Vec::new();
        let serial = SERIAL_COUNTER.next_serial();
        for toplevel in self.xdg_shell_state.toplevel_surfaces() {
            let client = toplevel.client();
            let Some(count) = pongs(&client) else {
                continue;
            };
            // A ping already pending is answered by the next pong all the same.
            match client.send_ping(serial) {
                Ok(()) | Err(smithay::wayland::shell::PingError::PingAlreadyPending(_)) => {
                    pinged.push((toplevel.clone(), count + 1))
                }
                Err(_) => {}
            }
        }
        debug!(clients = pinged.len(), "idle wait: pinged");
        Condition::Idle {
            pinged,
            quiet_since: None,
            commits: self.input.commits,
        }
    }

    /// A shell client answered a ping.
    pub fn pong(&mut self, client: &ShellClient) {
        let _ = client.with_data(|data| {
            data.insert_if_missing_threadsafe(Pongs::default);
            if let Some(p) = data.get::<Pongs>() {
                p.0.fetch_add(1, Ordering::SeqCst);
            }
        });
    }

    /// How long clients must stay quiet for an idle wait.
    pub fn quiet_period(&self) -> Duration {
        (self.refresh * 2).max(MIN_QUIET)
    }

    /// Whether `condition` holds now; presents a frame when it does.
    pub fn poll_condition(&mut self, condition: &mut Condition) -> Poll {
        match condition {
            Condition::Window { title } => {
                let found = self.space.elements().any(|w| {
                    let shown = Shown::on(w);
                    // X11 windows (`--xwayland`) count too, by their X11 title.
                    let window_title = match (w.toplevel(), w.x11_surface()) {
                        (Some(t), _) => Some(title_of(t)),
                        (None, Some(x)) => Some(x.title()),
                        (None, None) => None,
                    };
                    shown && window_title.is_some_and(|t| t.contains(&*title))
                });
                if !found {
                    return Poll::Pending;
                }
            }
            Condition::Idle {
                pinged,
                quiet_since,
                commits,
            } => {
                // A client that went away answers no more pings and needs none.
                pinged.retain(|(t, _)| t.alive());
                let answered = pinged
                    .iter()
                    .all(|(t, want)| !matches!(pongs(&t.client()), Some(n) if n < *want));
                if !answered {
                    return Poll::Pending;
                }
                let now = Instant::now();
                if quiet_since.is_none() || *commits != self.input.commits {
                    *quiet_since = Some(now);
                    *commits = self.input.commits;
                }
                if now.duration_since(quiet_since.unwrap_or(now)) < self.quiet_period() {
                    return Poll::Pending;
                }
            }
        }
        self.ensure_backend();
        self.present();
        Poll::Done(self.frame_seq)
    }

    /// Adds a planar-test-v1 wait.
    pub fn add_wait(&mut self, object: PlanarTestWaitV1, condition: Condition, timeout: Duration) {
        self.input.waits.list.push(ProtocolWait {
            condition,
            deadline: Instant::now() + timeout,
            object,
        });
    }

    /// Answers the planar-test-v1 waits that hold or ran out.
    pub fn poll_waits(&mut self) {
        let mut list = std::mem::take(&mut self.input.waits.list);
        list.retain_mut(|wait| {
            if !wait.object.is_alive() {
                return false;
            }
            match self.poll_condition(&mut wait.condition) {
                Poll::Done(seq) => {
                    wait.object.done((seq >> 32) as u32, seq as u32);
                    false
                }
                Poll::Pending if Instant::now() >= wait.deadline => {
                    wait.object.timeout();
                    false
                }
                Poll::Pending => true,
            }
        });
        // Waits added while polling (none today) go after the ones kept.
        list.append(&mut self.input.waits.list);
        self.input.waits.list = list;
    }
}
