//! `planar-client do STEP…`: the test steps of `planar run --script`, run from a shell
//! inside the session through planar-test-v1 (same parser: `planar_renderer::steps`).
//!
//! Each argument is one step (`planar-client do 'click 10 20' 'type hi' wait-idle`). Input
//! steps are synced with planar (a roundtrip) so a refusal or an unmappable character
//! fails the step that caused it. Known limit: the waits' timeouts are fixed, as in
//! `--script` (30 s for a window, 10 s for idle).

use std::time::Duration;

use anyhow::{bail, Context};
use planar_image::{check_against, CheckOptions};
use planar_renderer::steps::{parse_step, Step, PIXELS_PER_NOTCH};

use crate::test_client::PlanarTest;

/// Exit status of `planar-client do` when a step fails: the same as `planar run --script`.
pub const EXIT_STEP_FAILED: i32 = 123;

const WAIT_WINDOW_TIMEOUT: Duration = Duration::from_secs(30);
const WAIT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses every step first (a typo fails before anything runs), then runs them in order.
/// The error names the step (1-based) and its text.
pub fn run(test: &mut PlanarTest, steps: &[String]) -> anyhow::Result<()> {
    let parsed = steps
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_step(text).map_err(|e| anyhow::anyhow!("step {} ({text}): {e}", i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (i, step) in parsed.iter().enumerate() {
        run_step(test, step).with_context(|| format!("step {} ({})", i + 1, steps[i]))?;
        eprintln!("planar-client: step {} done: {}", i + 1, steps[i]);
    }
    Ok(())
}

fn run_step(test: &mut PlanarTest, step: &Step) -> anyhow::Result<()> {
    match step {
        Step::WaitWindow { title } => {
            if test.wait_window(title, WAIT_WINDOW_TIMEOUT)?.is_none() {
                bail!(
                    "no window titled {title:?} was shown within {} s",
                    WAIT_WINDOW_TIMEOUT.as_secs()
                );
            }
        }
        Step::WaitIdle => {
            if test.barrier(WAIT_IDLE_TIMEOUT)?.is_none() {
                bail!(
                    "clients did not settle within {} s",
                    WAIT_IDLE_TIMEOUT.as_secs()
                );
            }
        }
        Step::Sleep { ms } => std::thread::sleep(Duration::from_millis(*ms)),
        Step::Move { x, y } => {
            test.pointer_motion(None, *x, *y)?;
            test.sync()?;
        }
        Step::Click { x, y, button } => {
            test.pointer_motion(None, *x, *y)?;
            test.pointer_button(*button, true)?;
            test.pointer_button(*button, false)?;
            test.sync()?;
        }
        Step::Scroll { dx, dy } => {
            for (axis, notches) in [(0, *dy), (1, *dx)] {
                if notches != 0 {
                    test.pointer_axis(axis, f64::from(notches) * PIXELS_PER_NOTCH, notches * 120)?;
                }
            }
            test.sync()?;
        }
        Step::Type { text } => {
            test.text(text)?;
            test.sync()?;
        }
        Step::Key { modifiers, key } => {
            for m in modifiers {
                test.key(m.raw(), true)?;
            }
            test.key(key.raw(), true)?;
            test.key(key.raw(), false)?;
            for m in modifiers.iter().rev() {
                test.key(m.raw(), false)?;
            }
            test.sync()?;
        }
        Step::Screenshot { path } => {
            let (image, _) = test
                .capture()?
                .map_err(|why| anyhow::anyhow!("capture failed: {why}"))?;
            image
                .write_png(path)
                .with_context(|| format!("error writing {}", path.display()))?;
        }
        Step::Expect {
            reference,
            fuzz,
            clip,
        } => {
            let (image, _) = test
                .capture()?
                .map_err(|why| anyhow::anyhow!("capture failed: {why}"))?;
            let options = CheckOptions {
                fuzz: *fuzz,
                clip: *clip,
                diff: None,
                bless: false,
            };
            let outcome = check_against(&image, reference, &options)
                .with_context(|| format!("error comparing with {}", reference.display()))?;
            if !outcome.passed() {
                bail!("{}", outcome.message(reference));
            }
        }
    }
    Ok(())
}
