//! A basic seat for nested mode: the host's pointer and keyboard go to the client under
//! the pointer and to the focused client. A click focuses (and raises) the window under
//! the pointer; keyboard focus follows it. Headless has a seat without devices.

use smithay::{
    backend::input::{
        AbsolutePositionEvent, Axis, AxisSource, ButtonState, Event, InputBackend, InputEvent,
        KeyboardKeyEvent, PointerAxisEvent, PointerButtonEvent,
    },
    input::{
        keyboard::{FilterResult, XkbConfig},
        pointer::{AxisFrame, ButtonEvent, MotionEvent},
    },
    utils::{Logical, Point, SERIAL_COUNTER},
};
use tracing::{debug, warn};

use crate::state::State;

/// Repeat rate and delay given to clients (the common desktop defaults).
const REPEAT_DELAY_MS: i32 = 200;
const REPEAT_RATE: i32 = 25;

impl State {
    /// Gives the seat a keyboard (the default XKB keymap, as a nested compositor's clients
    /// expect the host's usual layout) and a pointer.
    pub fn add_input_devices(&mut self) {
        if let Err(err) = self
            .seat
            .add_keyboard(XkbConfig::default(), REPEAT_DELAY_MS, REPEAT_RATE)
        {
            warn!(%err, "no keyboard: the default XKB keymap could not be loaded");
        }
        self.seat.add_pointer();
    }

    pub fn on_input<B: InputBackend>(&mut self, event: InputEvent<B>) {
        match event {
            InputEvent::PointerMotionAbsolute { event } => {
                let size = self.output_logical_size();
                let location = event.position_transformed(size);
                self.pointer_moved(location, event.time_msec());
            }
            InputEvent::PointerButton { event } => {
                self.pointer_button(event.button_code(), event.state(), event.time_msec())
            }
            InputEvent::PointerAxis { event } => self.pointer_axis::<B>(&event),
            InputEvent::Keyboard { event } => {
                let Some(keyboard) = self.seat.get_keyboard() else {
                    return;
                };
                let serial = SERIAL_COUNTER.next_serial();
                keyboard.input::<(), _>(
                    self,
                    event.key_code(),
                    event.state(),
                    serial,
                    event.time_msec(),
                    |_, _, _| FilterResult::Forward,
                );
            }
            _ => {}
        }
    }

    fn pointer_moved(&mut self, location: Point<f64, Logical>, time: u32) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let focus = self.surface_under(location);
        let serial = SERIAL_COUNTER.next_serial();
        pointer.motion(
            self,
            focus,
            &MotionEvent {
                location,
                serial,
                time,
            },
        );
        pointer.frame(self);
    }

    fn pointer_button(&mut self, button: u32, state: ButtonState, time: u32) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let serial = SERIAL_COUNTER.next_serial();
        if state == ButtonState::Pressed {
            let location = pointer.current_location();
            let window = self.window_under(location).map(|(w, _)| w);
            if let Some(window) = &window {
                self.space.raise_element(window, true);
            }
            let focus = window
                .as_ref()
                .and_then(planar_renderer::xwayland::window_surface);
            debug!(?focus, "click: keyboard focus");
            if let Some(keyboard) = self.seat.get_keyboard() {
                keyboard.set_focus(self, focus, serial);
            }
            self.x11_focus_changed(window.as_ref());
        }
        pointer.button(
            self,
            &ButtonEvent {
                button,
                state,
                serial,
                time,
            },
        );
        pointer.frame(self);
    }

    fn pointer_axis<B: InputBackend>(&mut self, event: &B::PointerAxisEvent) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let source = event.source();
        let mut frame = AxisFrame::new(event.time_msec()).source(source);
        for axis in [Axis::Horizontal, Axis::Vertical] {
            // Wheels give v120 steps and no amount; 15 px a notch, as libinput does.
            let amount = event
                .amount(axis)
                .or_else(|| event.amount_v120(axis).map(|v| v * 15.0 / 120.0));
            if let Some(amount) = amount.filter(|a| *a != 0.0) {
                frame = frame.value(axis, amount);
                if let Some(v120) = event.amount_v120(axis) {
                    frame = frame.v120(axis, v120 as i32);
                }
            } else if source == AxisSource::Finger && amount.is_some() {
                frame = frame.stop(axis);
            }
        }
        pointer.axis(self, frame);
        pointer.frame(self);
    }

    /// The surface under `location` and where that surface's origin is on the output.
    fn surface_under(
        &self,
        location: Point<f64, Logical>,
    ) -> Option<(
        smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
        Point<f64, Logical>,
    )> {
        let (window, at) = self.window_under(location)?;
        let (surface, offset) =
            crate::xwayland::window_surface_under(&window, location - at.to_f64())?;
        Some((surface, (at + offset).to_f64()))
    }
}
