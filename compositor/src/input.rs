//! The seat, one code path for both backends: a pointer, a keyboard and touch. Nested
//! mode feeds it the host's pointer and keyboard; headless and nested alike take injected
//! input (planar-test-v1, `--script`, virtual keyboard/pointer, see `inject`).
//!
//! The keyboard is made when first needed: a client binds wl_seat (so the capabilities
//! it hears of name it), input is injected, the host types. Compiling the keymap is
//! ~4 ms of CPU, a twentieth of a screenshot test whose client never binds a seat. A
//! layout given with `--keymap` is compiled at start, so a wrong name stops planar there.
//! Until the keyboard exists, focus is kept by planar and its effects (activated state,
//! clipboard focus) happen as they would; the keyboard starts on that focus.
//!
//! Keyboard focus, deterministically: headless, a new toplevel is raised and activated
//! when it is created (its first configure says activated) and gets keyboard focus when
//! it is first shown (its first buffer; an enter before the first configure crashes foot
//! 1.13). Nested, a new toplevel is raised only: a person at the host's keyboard focuses
//! by clicking, so a key typed before the click does not reach it. On both, a button
//! press on a window raises, activates and focuses it (on the background: no focus);
//! xdg-activation moves focus too; when the focused toplevel goes away, the topmost
//! remaining one gets focus. The activated state always follows keyboard focus.

use smithay::{
    backend::input::{
        AbsolutePositionEvent, Axis, AxisSource, ButtonState, Event, InputBackend, InputEvent,
        KeyboardKeyEvent, PointerAxisEvent, PointerButtonEvent,
    },
    desktop::Window,
    input::{
        keyboard::{FilterResult, KeyboardHandle},
        pointer::{AxisFrame, ButtonEvent, MotionEvent},
    },
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Resource},
    utils::{Logical, Point, SERIAL_COUNTER},
};
use tracing::{debug, info, warn};

use crate::{
    keymap::{KeymapIndex, KeymapNames},
    state::State,
};

/// Repeat rate and delay given to clients (the common desktop defaults).
const REPEAT_DELAY_MS: i32 = 200;
const REPEAT_RATE: i32 = 25;

impl State {
    /// Gives the seat a pointer and touch, and a keyboard with the keymap `names` describe
    /// (XKB's default when empty): made now when a layout is named, else when first needed.
    pub fn add_input_devices(&mut self, names: &KeymapNames) -> anyhow::Result<()> {
        self.input.keyboard_names = Some(names.clone());
        if !names.layout.is_empty() {
            self.make_keyboard()?;
        }
        self.seat.add_pointer();
        self.seat.add_touch();
        crate::handlers::virtual_input::create_globals(&self.display_handle);
        Ok(())
    }

    /// The seat's keyboard, made now if it was not yet (module header); `None` when the
    /// keymap does not compile (warned of once) or the seat has none.
    pub fn keyboard(&mut self) -> Option<KeyboardHandle<State>> {
        if let Some(keyboard) = self.seat.get_keyboard() {
            return Some(keyboard);
        }
        self.input.keyboard_names.as_ref()?;
        match self.make_keyboard() {
            Ok(keyboard) => Some(keyboard),
            Err(err) => {
                self.input.keyboard_names = None;
                warn!(%err, "the seat has no keyboard");
                None
            }
        }
    }

    fn make_keyboard(&mut self) -> anyhow::Result<KeyboardHandle<State>> {
        let names = self.input.keyboard_names.clone().unwrap_or_default();
        let keyboard = self
            .seat
            .add_keyboard(names.xkb_config(), REPEAT_DELAY_MS, REPEAT_RATE)
            .map_err(|err| anyhow::anyhow!("error loading the keymap {:?}: {err}", names.layout))?;
        info!(layout = %names.layout, "keyboard made (keymap compiled)");
        // A new keyboard, a new keymap: its index is built afresh when next needed.
        self.input.keymap = Default::default();
        if let Some(focus) = self.input.focus.take().filter(|f| f.is_alive()) {
            keyboard.set_focus(self, Some(focus), SERIAL_COUNTER.next_serial());
        }
        Ok(keyboard)
    }

    /// The surface with keyboard focus (kept by planar until the keyboard is made).
    pub fn keyboard_focus(&self) -> Option<WlSurface> {
        match self.seat.get_keyboard() {
            Some(keyboard) => keyboard.current_focus(),
            None => self.input.focus.clone(),
        }
    }

    /// Moves keyboard focus to `focus`: the keyboard's, or planar's until there is one,
    /// with the same effects (`SeatHandler::focus_changed`).
    pub fn set_keyboard_focus(&mut self, focus: Option<WlSurface>) {
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.set_focus(self, focus, SERIAL_COUNTER.next_serial());
            return;
        }
        if self.input.focus == focus {
            return;
        }
        self.input.focus.clone_from(&focus);
        let seat = self.seat.clone();
        smithay::input::SeatHandler::focus_changed(self, &seat, focus.as_ref());
    }

    /// The seat's keymap index (which key gives a keysym), built from the keymap the
    /// keyboard holds the first time it is asked for; `None` without a keyboard.
    pub(crate) fn keymap_index(&mut self) -> Option<&KeymapIndex> {
        if self.input.keymap.index.get().is_none() {
            let Some(keyboard) = self.keyboard() else {
                // Not kept: a keyboard added later is asked again (warned of once).
                if !std::mem::replace(&mut self.input.keymap.warned, true) {
                    warn!("the seat has no keyboard: keys and text cannot be injected");
                }
                return None;
            };
            let index = keyboard.with_xkb_state(self, |context| {
                let xkb = context.xkb().lock().unwrap();
                // SAFETY: the index's xkb state (a reference to the keymap) is dropped
                // before the keymap's lock is.
                KeymapIndex::from_keymap(unsafe { xkb.keymap() })
            });
            let _ = self.input.keymap.index.set(index);
        }
        self.input.keymap.index.get()
    }

    /// Whether the output is a window on a host session.
    pub fn is_nested(&self) -> bool {
        self.backend
            .as_ref()
            .is_some_and(crate::backend::Backend::is_nested)
    }

    /// Gives keyboard focus to `window` (none when `None`), raising it.
    pub fn focus_window(&mut self, window: Option<Window>) {
        if let Some(window) = &window {
            self.space.raise_element(window, false);
        }
        let focus = window
            .as_ref()
            .and_then(planar_renderer::xwayland::window_surface);
        debug!(?focus, "keyboard focus");
        self.set_keyboard_focus(focus);
        self.x11_focus_changed(window.as_ref());
    }

    /// Keyboard focus moved: the focused toplevel is activated, every other one is not;
    /// toplevels that already had their first configure hear of the change.
    pub fn keyboard_focus_changed(&mut self, focused: Option<&WlSurface>) {
        for window in self.space.elements() {
            let Some(toplevel) = window.toplevel() else {
                continue;
            };
            window.set_activated(focused == Some(toplevel.wl_surface()));
            // Sent when the state differs from the last configure's, not only when
            // `set_activated` changed it: a new toplevel mapped activated deactivates the
            // others in their pending state only, and they kept showing themselves active.
            if toplevel.is_initial_configure_sent() {
                toplevel.send_pending_configure();
            }
        }
    }

    /// The focused toplevel went away: focus the topmost remaining one.
    pub fn refocus_after(&mut self, gone: &WlSurface) {
        let focused = self.keyboard_focus().is_some_and(|f| &f == gone);
        if focused {
            let top = self
                .space
                .elements()
                .rev()
                .find(|w| planar_renderer::xwayland::window_surface(w).is_some_and(|s| &s != gone))
                .cloned();
            self.focus_window(top);
        }
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
                let Some(keyboard) = self.keyboard() else {
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

    pub(crate) fn pointer_moved(&mut self, location: Point<f64, Logical>, time: u32) {
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

    pub(crate) fn pointer_button(&mut self, button: u32, state: ButtonState, time: u32) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let serial = SERIAL_COUNTER.next_serial();
        if state == ButtonState::Pressed {
            let location = pointer.current_location();
            let window = self.window_under(location).map(|(w, _)| w);
            self.focus_window(window);
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
    pub(crate) fn surface_under(
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
