//! The headless backend: every virtual output drawn into its own offscreen target (the
//! engine swaps them in; each output has its own damage tracker).

use calloop::LoopHandle;
use planar_renderer::{Engine, PendingRenderer, RendererChoice, RendererError};
use smithay::{
    backend::renderer::damage::OutputDamageTracker,
    desktop::{Space, Window},
    output::Output,
};

use super::BACKGROUND;
use crate::state::State;

/// Starts the renderer selection chain on its worker, which wakes the loop through a
/// channel when it is done; the loop then installs the backend (`State::ensure_backend`).
pub fn prepare(
    choice: RendererChoice,
    handle: &LoopHandle<'static, State>,
) -> anyhow::Result<PendingRenderer> {
    let (ready_tx, ready_rx) = calloop::channel::channel::<()>();
    let pending = PendingRenderer::start(choice, move || {
        let _ = ready_tx.send(());
    });
    handle
        .insert_source(ready_rx, |_, _, state| {
            state.ensure_backend();
        })
        .map_err(|e| anyhow::anyhow!("error watching the renderer worker: {e}"))?;
    Ok(pending)
}

pub struct Headless {
    pub engine: Engine,
    /// Per output: its damage tracker (follows the output's mode, scale and transform).
    trackers: Vec<(Output, OutputDamageTracker)>,
}

impl Headless {
    pub fn new(engine: Engine, output: &Output) -> Self {
        Headless {
            engine,
            trackers: vec![(output.clone(), OutputDamageTracker::from_output(output))],
        }
    }

    /// Draws every output in `outputs` (the first one last, so it stays the current
    /// target); returns whether anything changed on any.
    pub fn render(
        &mut self,
        space: &Space<Window>,
        outputs: &[Output],
    ) -> Result<bool, RendererError> {
        self.trackers.retain(|(o, _)| outputs.contains(o));
        let mut changed = false;
        for output in outputs.iter().rev() {
            let Some(size) = output.current_mode().map(|m| m.size) else {
                continue;
            };
            self.engine.select_output(&output.name(), size)?;
            let i = match self.trackers.iter().position(|(o, _)| o == output) {
                Some(i) => i,
                None => {
                    let tracker = OutputDamageTracker::from_output(output);
                    self.trackers.push((output.clone(), tracker));
                    self.trackers.len() - 1
                }
            };
            let damage = self
                .engine
                .render(&mut self.trackers[i].1, space, output, BACKGROUND)?;
            changed |= !damage.is_empty();
        }
        Ok(changed)
    }
}
