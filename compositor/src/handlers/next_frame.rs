//! planar_test_v1.next_frame, coalesced. Each request asks for a frame drawn now; a client
//! that asks in a loop (without waiting for its callbacks) had planar draw once per
//! request, and every other client waited behind those frames. Now a client gets at most
//! one such frame per refresh interval: a request that comes sooner is parked, and one
//! frame, drawn when the client's interval is over (a one-shot timer), answers all its
//! parked callbacks. Every callback is still answered by a frame drawn after it was asked
//! for, so a client that waits for each answer sees consecutive sequence numbers as before.
//!
//! Each client's timer is a `WakeTimer`: at most one per client, removed with the client's
//! pacer once the client is gone.
//!
//! Known limits: counted per connection (each connection has its own interval); the parked
//! callbacks are wl_callback objects the client made, bounded like its other objects.

use std::{collections::HashMap, time::Instant};

use smithay::reexports::wayland_server::{
    backend::ClientId, protocol::wl_callback::WlCallback, Client, Resource,
};
use tracing::{debug, warn};

use super::wake::WakeTimer;
use crate::state::State;

/// Per client: when its last frame on demand was drawn, and the callbacks waiting for the
/// next one.
#[derive(Default)]
pub struct NextFrames {
    clients: HashMap<ClientId, Pacer>,
}

/// `next_frame` callbacks one client may have waiting for its next frame: a flood between
/// two frames would otherwise cost planar memory at the client's pace.
const MAX_PARKED: usize = 4096;

#[derive(Default)]
struct Pacer {
    last: Option<Instant>,
    parked: Vec<WlCallback>,
    /// Armed while callbacks are parked; removed with the pacer of a client that is gone.
    timer: WakeTimer,
}

impl State {
    /// Answers `next_frame`: draws now, or parks `callback` until the client's interval is
    /// over (module header).
    pub fn next_frame(&mut self, who: &Client, callback: WlCallback) {
        let client = who.id();
        let now = Instant::now();
        let refresh = self.refresh;
        let dh = &self.display_handle;
        let handle = self.loop_handle.as_ref();
        let clients = &mut self.next_frames.clients;
        // Clients idle for an interval are forgotten, and disconnected ones with their
        // timer: every pacer left has a live client, and at most one timer.
        clients.retain(|id, p| {
            let keep = dh.backend_handle().get_client_data(id.clone()).is_ok()
                && (!p.parked.is_empty() || p.last.is_some_and(|t| now < t + refresh));
            if let (false, Some(handle)) = (keep, handle) {
                p.timer.disarm(handle);
            }
            keep
        });
        let pacer = clients.entry(client.clone()).or_default();
        if !pacer.parked.is_empty() {
            // A timer is armed already.
            if pacer.parked.len() >= MAX_PARKED {
                let message = format!(
                    "more than {MAX_PARKED} planar_test_v1.next_frame requests waiting for one frame: planar's limit"
                );
                crate::limits::disconnect_no_memory(&self.display_handle, who, message);
                return;
            }
            pacer.parked.push(callback);
            return;
        }
        let due = pacer.last.map(|t| t + refresh).filter(|&t| t > now);
        if let (Some(due), Some(handle)) = (due, handle) {
            let armed = pacer.timer.arm_by(handle, due, move |state: &mut State| {
                state.release_parked(&client);
            });
            match armed {
                Ok(()) => return pacer.parked.push(callback),
                Err(err) => warn!(%err, "no timer for a parked next_frame: drawing now"),
            }
        }
        pacer.last = Some(now);
        self.draw_for(vec![callback]);
    }

    /// The frame `client`'s parked callbacks waited for.
    fn release_parked(&mut self, client: &ClientId) {
        let Some(pacer) = self.next_frames.clients.get_mut(client) else {
            return;
        };
        pacer.timer.fired();
        pacer.last = Some(Instant::now());
        let parked: Vec<_> = std::mem::take(&mut pacer.parked)
            .into_iter()
            .filter(|c| c.is_alive())
            .collect();
        if !parked.is_empty() {
            debug!(
                callbacks = parked.len(),
                "next_frame requests answered by one frame"
            );
            self.draw_for(parked);
        }
    }

    /// Draws a frame now; `callbacks` are done with its sequence number once this dispatch
    /// is over (`done` destroys a callback: it must not be sent from the request that
    /// creates it, or wayland-backend would panic initialising a dead object).
    fn draw_for(&mut self, callbacks: Vec<WlCallback>) {
        self.ensure_backend();
        self.present();
        let seq = self.frame_seq as u32;
        self.pending_callbacks
            .extend(callbacks.into_iter().map(|c| (c, seq)));
    }
}
