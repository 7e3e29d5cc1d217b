//! The headless backend: one virtual output drawn into an offscreen target.

use planar_renderer::{Engine, RendererError};
use smithay::{
    backend::renderer::damage::OutputDamageTracker,
    desktop::{Space, Window},
    output::Output,
};

/// Background colour behind all windows: a fixed dark grey-blue, so screenshots are
/// reproducible and an empty output is told apart from a black client.
pub const BACKGROUND: [f32; 4] = [0.125, 0.125, 0.1875, 1.0];

pub struct Headless {
    pub engine: Engine,
    tracker: OutputDamageTracker,
}

impl Headless {
    pub fn new(engine: Engine, output: &Output) -> Self {
        Headless {
            engine,
            tracker: OutputDamageTracker::from_output(output),
        }
    }

    /// Returns whether anything changed.
    pub fn render(
        &mut self,
        space: &Space<Window>,
        output: &Output,
    ) -> Result<bool, RendererError> {
        self.engine
            .render(&mut self.tracker, space, output, BACKGROUND)
            .map(|damage| !damage.is_empty())
    }
}
