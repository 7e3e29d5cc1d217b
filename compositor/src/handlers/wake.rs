//! One-shot wake-up timers that never pile up. Pacing (commit-timing targets with frames
//! on demand) and `next_frame` (one frame per refresh interval) each wake the loop at a
//! time a client chose; a timer inserted per request and left to fire on its own would
//! accumulate when a client asks repeatedly (each re-arm for an earlier time left the later
//! timer behind). A [`WakeTimer`] holds at most one armed calloop timer: arming it earlier
//! removes the one armed, arming it later keeps that, and `disarm` removes it when nothing
//! waits any more.
//!
//! Known limit: the owner's callback must call [`WakeTimer::fired`] (calloop drops a fired
//! one-shot source itself; the timer only forgets its token).

use std::time::Instant;

use calloop::{
    timer::{TimeoutAction, Timer},
    LoopHandle, RegistrationToken,
};

/// At most one armed one-shot timer (module header).
#[derive(Default, Debug)]
pub struct WakeTimer {
    armed: Option<(Instant, RegistrationToken)>,
}

impl WakeTimer {
    /// Makes sure the loop wakes at `at` or earlier: keeps an armed timer that fires by
    /// then, and otherwise replaces it with one that runs `fire` at `at`.
    pub fn arm_by<D: 'static>(
        &mut self,
        handle: &LoopHandle<'static, D>,
        at: Instant,
        mut fire: impl FnMut(&mut D) + 'static,
    ) -> calloop::Result<()> {
        if self.armed.is_some_and(|(armed, _)| armed <= at) {
            return Ok(());
        }
        self.disarm(handle);
        let token = handle
            .insert_source(Timer::from_deadline(at), move |_, _, state| {
                fire(state);
                TimeoutAction::Drop
            })
            .map_err(|e| e.error)?;
        self.armed = Some((at, token));
        Ok(())
    }

    /// Called from the timer's callback: calloop drops the fired source.
    pub fn fired(&mut self) {
        self.armed = None;
    }

    /// Removes the armed timer, if any: nothing waits for it any more.
    pub fn disarm<D>(&mut self, handle: &LoopHandle<'static, D>) {
        if let Some((_, token)) = self.armed.take() {
            handle.remove(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What the test loop's state counts: fired timers, and the one timer under test.
    #[derive(Default)]
    struct Counts {
        fired: Vec<&'static str>,
        timer: WakeTimer,
    }

    fn test_loop() -> (
        calloop::EventLoop<'static, Counts>,
        LoopHandle<'static, Counts>,
        Counts,
    ) {
        let event_loop = calloop::EventLoop::<Counts>::try_new().unwrap();
        let handle = event_loop.handle();
        (event_loop, handle, Counts::default())
    }

    fn run_for(event_loop: &mut calloop::EventLoop<'static, Counts>, counts: &mut Counts) {
        let end = Instant::now() + Duration::from_millis(400);
        while Instant::now() < end {
            event_loop
                .dispatch(Some(Duration::from_millis(20)), counts)
                .unwrap();
        }
    }

    fn arm(counts: &mut Counts, handle: &LoopHandle<'static, Counts>, ms: u64, name: &'static str) {
        let at = Instant::now() + Duration::from_millis(ms);
        counts
            .timer
            .arm_by(handle, at, move |c: &mut Counts| {
                c.timer.fired();
                c.fired.push(name);
            })
            .unwrap();
    }

    /// Re-armed earlier, the later timer is removed: one wake-up, not two.
    #[test]
    fn rearming_earlier_replaces_the_armed_timer() {
        let (mut event_loop, handle, mut counts) = test_loop();
        arm(&mut counts, &handle, 250, "late");
        arm(&mut counts, &handle, 50, "early");
        // Later than the armed one: already covered, nothing new is armed.
        arm(&mut counts, &handle, 150, "later");
        run_for(&mut event_loop, &mut counts);
        assert_eq!(counts.fired, ["early"]);
        assert!(counts.timer.armed.is_none());
    }

    /// Disarmed, it never fires; armed again after firing, it fires again.
    #[test]
    fn disarmed_timers_do_not_fire_and_fired_ones_can_be_rearmed() {
        let (mut event_loop, handle, mut counts) = test_loop();
        arm(&mut counts, &handle, 50, "disarmed");
        counts.timer.disarm(&handle);
        run_for(&mut event_loop, &mut counts);
        assert!(counts.fired.is_empty());
        arm(&mut counts, &handle, 20, "first");
        run_for(&mut event_loop, &mut counts);
        arm(&mut counts, &handle, 20, "second");
        run_for(&mut event_loop, &mut counts);
        assert_eq!(counts.fired, ["first", "second"]);
    }
}
