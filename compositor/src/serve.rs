//! The compositor's core, shared by `planar run` and the embedded fixture: the event loop,
//! the display and the state made together, the display and the refresh timer watched,
//! one turn of the loop with panics caught, and the teardown.
//!
//! What differs between the two (the command, signals, the timeout; the fixture's request
//! channel) stays with the caller.

use std::time::Duration;

use anyhow::Context;
use calloop::{
    generic::Generic,
    timer::{TimeoutAction, Timer},
    EventLoop, Interest, Mode, PostAction,
};
use planar_renderer::RendererChoice;
use smithay::reexports::wayland_server::{Display, ListeningSocket};

use crate::{
    backend::BackendKind,
    state::{OutputConfig, State, Stop},
};

/// A compositor: its state, display and loop.
pub(crate) struct Planar {
    // Dropped in this order: the state (its globals) before the display, the loop last.
    pub state: State,
    pub display: Display<State>,
    pub event_loop: EventLoop<'static, State>,
}

impl Planar {
    /// The loop, the backend being prepared (see `backend::prepare`: a headless renderer
    /// is chosen on a worker from here on), the display and the state.
    pub fn new(
        backend: BackendKind,
        renderer: RendererChoice,
        config: &OutputConfig,
    ) -> anyhow::Result<Self> {
        let event_loop: EventLoop<State> =
            EventLoop::try_new().context("error creating the event loop")?;
        let pending = crate::backend::prepare(backend, renderer, &event_loop.handle())?;
        let display: Display<State> = Display::new().context("error creating the display")?;
        let mut state = State::new(display.handle(), pending, config);
        state.loop_handle = Some(event_loop.handle());
        Ok(Planar {
            state,
            display,
            event_loop,
        })
    }

    /// Accepts clients on `socket`; their requests wake the loop, and so does the refresh
    /// timer unless on demand.
    pub fn listen(&mut self, socket: ListeningSocket) -> anyhow::Result<()> {
        let handle = self.event_loop.handle();
        crate::listen::watch(&handle, socket, self.display.handle())?;
        let poll_fd = self
            .display
            .backend()
            .poll_fd()
            .try_clone_to_owned()
            .context("error cloning the display fd")?;
        // Only wakes the loop: the dispatch happens in `serve_clients`, where the display
        // is at hand.
        handle
            .insert_source(
                Generic::new(poll_fd, Interest::READ, Mode::Level),
                |_, _, _| Ok(PostAction::Continue),
            )
            .map_err(|e| anyhow::anyhow!("error watching the display: {e}"))?;
        let refresh = self.state.refresh;
        if !self.state.on_demand {
            handle
                .insert_source(Timer::from_duration(refresh), move |_, _, state| {
                    state.tick();
                    TimeoutAction::ToDuration(refresh)
                })
                .map_err(|e| anyhow::anyhow!("error adding the frame timer: {e}"))?;
        }
        Ok(())
    }

    /// One turn of the loop: waits up to `wake` for its sources, calls `woke`, then serves
    /// the clients. `read_first` reads the clients' messages before waiting too, so they
    /// are handled before a source that fired after them (the fixture's requests). A
    /// panic stops planar with [`Stop::Panicked`].
    pub fn turn(
        &mut self,
        wake: Duration,
        read_first: bool,
        woke: impl FnOnce(&mut State),
    ) -> anyhow::Result<()> {
        let Planar {
            state,
            display,
            event_loop,
        } = self;
        let step = crate::panic::catch("handling a request", || -> anyhow::Result<()> {
            if read_first {
                display
                    .dispatch_clients(state)
                    .context("error dispatching clients")?;
            }
            event_loop
                .dispatch(Some(wake), state)
                .context("error in the event loop")?;
            woke(state);
            serve_clients(display, state)
        });
        match step {
            Ok(result) => result,
            Err(_) => {
                state.stop = Some(Stop::Panicked);
                Ok(())
            }
        }
    }

    /// Ends the compositor. After a panic its state may be inconsistent: tearing it down
    /// could panic again, and the process (or the fixture's thread) ends now anyway.
    pub fn teardown(self) {
        let Planar {
            state,
            display,
            event_loop,
        } = self;
        if state.stop == Some(Stop::Panicked) {
            std::mem::forget(state);
            std::mem::forget(display);
        } else {
            drop(state);
            drop(display);
        }
        drop(event_loop);
    }
}

/// One pass over the clients after the event loop woke: their requests, what follows from
/// them (Xwayland pairing, paced updates when on demand, input waits), frame callbacks,
/// then the replies.
fn serve_clients(display: &mut Display<State>, state: &mut State) -> anyhow::Result<()> {
    display
        .dispatch_clients(state)
        .context("error dispatching clients")?;
    state.pair_x11_surfaces();
    if state.on_demand {
        // No refresh tick: fifo and commit-timing updates go through when idle.
        state.release_paced();
    } else {
        // After every commit read so far was applied and drawn (a parent's commit applies
        // its synchronised children first, each drawn on its own).
        state.answer_if_idle();
    }
    state.poll_input();
    for (callback, data) in state.pending_callbacks.drain(..) {
        callback.done(data);
    }
    display.flush_clients().context("error flushing clients")?;
    Ok(())
}
