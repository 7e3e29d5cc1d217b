//! `planar run --backend nested`: the output is a window on the host session, its size is
//! the window's, and the host's input goes to planar's clients.
//!
//! The backend owns its event source, as niri's winit backend does: [`start`] opens the
//! window (`window`), inserts the window's events into planar's loop (wrapped by `host`,
//! which turns a dead host into an orderly stop), and this module answers them.
//!
//! Known limits: one window, showing the first output only; winit's event loop must live
//! on the main thread, so the renderer is made there, not on a worker as headless does.

mod host;
mod window;

pub use host::host_gone;
pub use window::Nested;

use anyhow::Context;
use calloop::LoopHandle;
use smithay::backend::winit::WinitEvent;
use tracing::{info, warn};

use crate::{
    backend::Backend,
    state::{State, Stop},
};
use host::HostEvents;

/// Opens the window, makes the renderer on its EGL display and starts taking its events.
pub fn start(state: &mut State, handle: &LoopHandle<'static, State>) -> anyhow::Result<()> {
    let size = state
        .output
        .current_mode()
        .map(|m| (m.size.w, m.size.h))
        .unwrap_or((1280, 720));
    let (window, events) = window::open(size)?;
    let (mut nested, info) = Nested::new(window)?;
    // The host decides the window's size (a tiling or kiosk shell fills its output).
    state.resize_output(nested.window_size());
    nested
        .attach(&state.output)
        .context("error sizing the nested renderer")?;
    state.install_backend(Backend::Nested(Box::new(nested)), info);
    handle
        .insert_source(HostEvents::new(events), |event, _, state| match event {
            Some(event) => state.on_window_event(event),
            None => state.host_went_away(),
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
