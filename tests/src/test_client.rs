//! The client side of planar-test-v1: capture after prior commits are shown, a buffer's
//! import record, a frame on demand; from version 2 injected input and waits.

use anyhow::{bail, Context};
use planar_image::RgbaImage;
use planar_protocol::test_protocol::client::{
    planar_test_capture_v1::{self, PlanarTestCaptureV1},
    planar_test_record_v1::{self, PlanarTestRecordV1},
    planar_test_v1::PlanarTestV1,
    planar_test_wait_v1::{self, PlanarTestWaitV1},
};
use wayland_client::{
    delegate_noop,
    globals::registry_queue_init,
    protocol::{
        wl_buffer::WlBuffer,
        wl_callback::WlCallback,
        wl_output::{self, WlOutput},
        wl_shm::WlShm,
        wl_shm_pool::WlShmPool,
    },
    Connection, Dispatch, EventQueue, QueueHandle, WEnum,
};

/// What the record object answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Found {
        path: String,
        reason: String,
        json: serde_json::Value,
    },
    Unknown,
}

#[derive(Default)]
struct State {
    mode: Option<(i32, i32)>,
    /// Per wl_output bound (registry order): its current mode.
    modes: Vec<Option<(i32, i32)>>,
    capture: Option<Result<u64, String>>,
    record: Option<Record>,
    frame: Option<u32>,
    /// A wait's answer: the frame's sequence number, or `None` on timeout.
    wait: Option<Option<u64>>,
}

/// A connection with planar_test_v1 bound.
pub struct PlanarTest {
    queue: EventQueue<State>,
    qh: QueueHandle<State>,
    test: PlanarTestV1,
    output: WlOutput,
    /// Every wl_output at connection time, in registry order (the first is `output`).
    outputs: Vec<WlOutput>,
    shm: WlShm,
    state: State,
}

impl PlanarTest {
    pub fn new(conn: &Connection) -> anyhow::Result<Self> {
        let (globals, mut queue) = registry_queue_init::<State>(conn)?;
        let qh = queue.handle();
        let test: PlanarTestV1 = globals
            .bind(&qh, 1..=3, ())
            .context("planar_test_v1 is not offered: is this planar?")?;
        let outputs: Vec<WlOutput> = globals.contents().with_list(|list| {
            list.iter()
                .filter(|g| g.interface == "wl_output")
                .enumerate()
                .map(|(i, g)| globals.registry().bind(g.name, g.version.min(4), &qh, i))
                .collect()
        });
        let output = outputs.first().cloned().context("wl_output")?;
        let shm: WlShm = globals.bind(&qh, 1..=1, ()).context("wl_shm")?;
        let mut state = State {
            modes: vec![None; outputs.len()],
            ..State::default()
        };
        queue.roundtrip(&mut state)?;
        Ok(PlanarTest {
            queue,
            qh,
            test,
            output,
            outputs,
            shm,
            state,
        })
    }

    /// Adds the output `name` (planar-test-v1 v2 `set_output`, spec as `--output`), or
    /// changes it; returns once planar has handled it.
    pub fn set_output(&mut self, name: &str, spec: &str) -> anyhow::Result<()> {
        self.test.set_output(name.into(), spec.into());
        self.queue.roundtrip(&mut self.state)?;
        Ok(())
    }

    /// Removes the output `name`; returns once planar has handled it.
    pub fn remove_output(&mut self, name: &str) -> anyhow::Result<()> {
        self.test.remove_output(name.into());
        self.queue.roundtrip(&mut self.state)?;
        Ok(())
    }

    /// Captures the `index`-th output (registry order at connection time).
    pub fn capture_output(
        &mut self,
        index: usize,
    ) -> anyhow::Result<Result<(RgbaImage, u64), String>> {
        let output = self.outputs.get(index).cloned().context("no such output")?;
        let (w, h) = self.state.modes[index].context("no output mode")?;
        let target =
            crate::capture::ShmTarget::new(&self.shm, &self.qh, w as u32, h as u32, w as u32 * 4)?;
        self.state.capture = None;
        let capture = self.test.capture(&output, &target.buffer, &self.qh, ());
        while self.state.capture.is_none() {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        capture.destroy();
        match self.state.capture.take().unwrap() {
            Ok(seq) => Ok(Ok((target.image()?, seq))),
            Err(why) => {
                target.destroy();
                Ok(Err(why))
            }
        }
    }

    /// The output's size in pixels.
    pub fn output_size(&self) -> Option<(i32, i32)> {
        self.state.mode
    }

    /// Captures the output once everything committed so far is presented; returns the
    /// image and the sequence number of the frame, or the compositor's reason.
    pub fn capture(&mut self) -> anyhow::Result<Result<(RgbaImage, u64), String>> {
        let (w, h) = self.state.mode.context("no output mode")?;
        let target =
            crate::capture::ShmTarget::new(&self.shm, &self.qh, w as u32, h as u32, w as u32 * 4)?;
        self.state.capture = None;
        let capture = self
            .test
            .capture(&self.output, &target.buffer, &self.qh, ());
        while self.state.capture.is_none() {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        capture.destroy();
        let seq = match self.state.capture.take().unwrap() {
            Ok(seq) => seq,
            Err(why) => {
                target.destroy();
                return Ok(Err(why));
            }
        };
        Ok(Ok((target.image()?, seq)))
    }

    /// The import record of `buffer`.
    pub fn query(&mut self, buffer: &WlBuffer) -> anyhow::Result<Record> {
        self.state.record = None;
        let record = self.test.query_buffer(buffer, &self.qh, ());
        while self.state.record.is_none() {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        record.destroy();
        Ok(self.state.record.take().unwrap())
    }

    /// The version of planar_test_v1 bound (input and waits need 2).
    pub fn version(&self) -> u32 {
        wayland_client::Proxy::version(&self.test)
    }

    fn need_input(&self) -> anyhow::Result<()> {
        if self.version() < 2 {
            bail!("this planar's planar_test_v1 is version 1: it takes no input");
        }
        Ok(())
    }

    /// Sends what was asked and waits for planar to have handled it: a protocol error
    /// (refused, unmappable) comes back here with planar's message.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.queue
            .roundtrip(&mut self.state)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("planar refused the input: {e}"))
    }

    /// Moves the pointer to (x, y): output coordinates, or relative to `surface`.
    pub fn pointer_motion(
        &mut self,
        surface: Option<&wayland_client::protocol::wl_surface::WlSurface>,
        x: f64,
        y: f64,
    ) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.pointer_motion(surface, x, y);
        Ok(())
    }

    /// Presses (or releases) an evdev button.
    pub fn pointer_button(&mut self, button: u32, pressed: bool) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.pointer_button(button, u32::from(pressed));
        Ok(())
    }

    /// Scrolls: axis 0 vertical, 1 horizontal; non-zero v120 for a wheel.
    pub fn pointer_axis(&mut self, axis: u32, value: f64, v120: i32) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.pointer_axis(axis, value, v120);
        Ok(())
    }

    /// Presses (or releases) the key producing `keysym`.
    pub fn key(&mut self, keysym: u32, pressed: bool) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.key(keysym, u32::from(pressed));
        Ok(())
    }

    /// Types `text` through planar's keymap.
    pub fn text(&mut self, text: &str) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.text(text.to_string());
        Ok(())
    }

    pub fn touch_down(&mut self, id: i32, x: f64, y: f64) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.touch_down(id, x, y);
        Ok(())
    }

    pub fn touch_motion(&mut self, id: i32, x: f64, y: f64) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.touch_motion(id, x, y);
        Ok(())
    }

    pub fn touch_up(&mut self, id: i32) -> anyhow::Result<()> {
        self.need_input()?;
        self.test.touch_up(id);
        Ok(())
    }

    fn wait(
        &mut self,
        make: impl FnOnce(&Self) -> PlanarTestWaitV1,
    ) -> anyhow::Result<Option<u64>> {
        self.need_input()?;
        self.state.wait = None;
        let wait = make(self);
        while self.state.wait.is_none() {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        wait.destroy();
        Ok(self.state.wait.take().flatten())
    }

    /// Asks for a barrier and does not wait for it (for tests of planar's limits).
    pub fn barrier_nowait(&mut self, timeout: std::time::Duration) -> anyhow::Result<()> {
        self.need_input()?;
        let ms = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        self.test.barrier(ms, &self.qh, ());
        Ok(())
    }

    /// Waits until every client took the input sent so far and settled, and planar drew
    /// a frame; `None` when `timeout` ran out first.
    pub fn barrier(&mut self, timeout: std::time::Duration) -> anyhow::Result<Option<u64>> {
        let ms = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        self.wait(|s| s.test.barrier(ms, &s.qh, ()))
    }

    /// Waits for a toplevel whose title contains `title` to be shown; `None` on timeout.
    pub fn wait_window(
        &mut self,
        title: &str,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Option<u64>> {
        let ms = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        self.wait(|s| s.test.wait_window(title.to_string(), ms, &s.qh, ()))
    }

    /// Makes planar draw a frame now; returns its sequence number (low 32 bits).
    pub fn next_frame(&mut self) -> anyhow::Result<u32> {
        self.state.frame = None;
        self.test.next_frame(&self.qh, ());
        while self.state.frame.is_none() {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        match self.state.frame.take() {
            Some(seq) => Ok(seq),
            None => bail!("no frame"),
        }
    }
}

impl Dispatch<WlOutput, usize> for State {
    fn event(
        state: &mut Self,
        _: &WlOutput,
        event: wl_output::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_output::Event::Mode {
            flags: WEnum::Value(flags),
            width,
            height,
            ..
        } = event
        {
            if flags.contains(wl_output::Mode::Current) {
                if *index == 0 {
                    state.mode = Some((width, height));
                }
                if let Some(m) = state.modes.get_mut(*index) {
                    *m = Some((width, height));
                }
            }
        }
    }
}

impl Dispatch<PlanarTestCaptureV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &PlanarTestCaptureV1,
        event: planar_test_capture_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            planar_test_capture_v1::Event::Done { seq_hi, seq_lo } => {
                state.capture = Some(Ok((u64::from(seq_hi) << 32) | u64::from(seq_lo)))
            }
            planar_test_capture_v1::Event::Failed { reason } => state.capture = Some(Err(reason)),
            _ => {}
        }
    }
}

impl Dispatch<PlanarTestRecordV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &PlanarTestRecordV1,
        event: planar_test_record_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.record = Some(match event {
            planar_test_record_v1::Event::Record { path, reason, json } => Record::Found {
                path,
                reason,
                json: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
            },
            _ => Record::Unknown,
        });
    }
}

impl Dispatch<PlanarTestWaitV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &PlanarTestWaitV1,
        event: planar_test_wait_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.wait = Some(match event {
            planar_test_wait_v1::Event::Done { seq_hi, seq_lo } => {
                Some((u64::from(seq_hi) << 32) | u64::from(seq_lo))
            }
            _ => None,
        });
    }
}

impl Dispatch<WlCallback, ()> for State {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        event: wayland_client::protocol::wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wayland_client::protocol::wl_callback::Event::Done { callback_data } = event {
            state.frame = Some(callback_data);
        }
    }
}

crate::ignore_registry_events!(State);

delegate_noop!(State: ignore PlanarTestV1);
delegate_noop!(State: ignore WlShm);
delegate_noop!(State: ignore WlShmPool);
delegate_noop!(State: ignore WlBuffer);
