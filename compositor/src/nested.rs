//! `planar run --backend nested`: the output is a window on the host session, its size is
//! the window's, and the host's input goes to planar's clients.

use anyhow::Context;
use calloop::{EventSource, LoopHandle, Poll, PostAction, Readiness, Token, TokenFactory};
use smithay::backend::winit::{WinitEvent, WinitEventLoop};
use tracing::{info, warn};

use crate::{
    backend::{open_window, Backend, Nested},
    state::{State, Stop},
};

/// Opens the window, makes the renderer on its EGL display and starts taking its events.
pub fn start(state: &mut State, handle: &LoopHandle<'static, State>) -> anyhow::Result<()> {
    let size = state
        .output
        .current_mode()
        .map(|m| (m.size.w, m.size.h))
        .unwrap_or((1280, 720));
    let (window, events) = open_window(size)?;
    let (mut nested, info) = Nested::new(window).context("error creating the nested renderer")?;
    // The host decides the window's size (a tiling or kiosk shell fills its output).
    state.resize_output(nested.window_size());
    nested
        .attach(&state.output)
        .context("error sizing the nested renderer")?;
    state.install_backend(Backend::Nested(Box::new(nested)), info);
    state.add_input_devices();
    handle
        .insert_source(HostEvents(events), |event, _, state| match event {
            Some(event) => state.on_window_event(event),
            None => {
                warn!("the nested window's host went away; stopping");
                state.stop.get_or_insert(Stop::WindowClosed);
            }
        })
        .map_err(|e| anyhow::anyhow!("error watching the nested window: {e}"))?;
    // The window shows the background until a client draws.
    state.present();
    Ok(())
}

impl State {
    fn on_window_event(&mut self, event: WinitEvent) {
        match event {
            WinitEvent::Resized { size, .. } => {
                self.resize_output(size);
                if let Some(Backend::Nested(nested)) = self.backend.as_mut() {
                    if let Err(err) = nested.attach(&self.output) {
                        warn!(%err, "error resizing the output's target");
                    }
                }
                self.present();
            }
            WinitEvent::Redraw => {
                if let Some(Backend::Nested(nested)) = self.backend.as_mut() {
                    nested.mark_stale();
                }
                self.present();
            }
            WinitEvent::Input(event) => self.on_input(event),
            WinitEvent::CloseRequested => {
                info!("the nested window was closed");
                self.stop.get_or_insert(Stop::WindowClosed);
            }
            WinitEvent::Focus(_) => {}
        }
    }
}

/// The window's events, and `None` once when winit's loop ends: the host connection broke
/// (the host compositor or X server exited). smithay's source only removes itself then,
/// and planar must stop rather than run on without a window.
struct HostEvents(WinitEventLoop);

impl EventSource for HostEvents {
    type Event = Option<WinitEvent>;
    type Metadata = ();
    type Ret = ();
    type Error = std::io::Error;

    const NEEDS_EXTRA_LIFECYCLE_EVENTS: bool = true;

    fn before_sleep(&mut self) -> calloop::Result<Option<(Readiness, Token)>> {
        self.0.before_sleep()
    }

    fn before_handle_events(&mut self, events: calloop::EventIterator<'_>) {
        self.0.before_handle_events(events)
    }

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, Self::Error>
    where
        F: FnMut(Self::Event, &mut Self::Metadata) -> Self::Ret,
    {
        let action = self
            .0
            .process_events(readiness, token, |event, meta| callback(Some(event), meta))?;
        if matches!(action, PostAction::Remove) {
            callback(None, &mut ());
        }
        Ok(action)
    }

    fn register(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.0.register(poll, factory)
    }

    fn reregister(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.0.reregister(poll, factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.0.unregister(poll)
    }
}
