//! Injected input: what planar-test-v1's input requests, `--script` steps and the
//! virtual pointer do to the seat. Everything goes through the same seat functions the
//! nested backend's host events use (`input`), so focus and raising behave alike.
//!
//! Keys are injected as the keymap's keycodes (`keymap::KeymapIndex`): a keysym or
//! character that needs Shift or AltGr gets those modifier keys pressed around it, so the
//! client sees exactly what a person typing would produce. Who may inject is decided by
//! `may_inject` (the capture rule, with `--allow-input all`).
//! Known limits: event times are the monotonic clock in ms, also with `--clock virtual`
//! (toolkits compare them for double clicks; pictures do not depend on them).

use std::collections::HashMap;

use smithay::{
    backend::input::{Axis, AxisSource, ButtonState, KeyState},
    input::{
        keyboard::{FilterResult, Keycode, Keysym},
        pointer::AxisFrame,
        touch::{DownEvent, MotionEvent as TouchMotion, TouchHandle, UpEvent},
    },
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Client, DisplayHandle},
    utils::{Logical, Point, SERIAL_COUNTER},
    wayland::compositor::{get_parent, with_states, SubsurfaceCachedState},
};
use tracing::{debug, info};

use crate::{
    keymap::{KeyPlace, LazyIndex},
    state::State,
};

/// The seat's injection state: kept in `State::input`.
#[derive(Default)]
pub struct InputState {
    /// The keymap's reverse lookup, built on first use (`State::keymap_index`).
    pub keymap: LazyIndex,
    /// Modifier keys pressed for a key that needed them, released with it.
    held_for: HashMap<u32, Vec<Keycode>>,
    /// `--allow-input all`.
    pub allow_all: bool,
    /// Waits of planar-test-v1 and the script (see `waits`).
    pub waits: crate::waits::Waits,
    /// The `--script` being run, if any.
    pub script: Option<crate::script::Script>,
    /// Commits of toplevel surface trees so far: waits watch it to see clients settle.
    pub commits: u64,
    /// The keymap of the keyboard made when first needed (`State::keyboard`); `None`
    /// before `add_input_devices` and after the keymap failed to compile.
    pub keyboard_names: Option<crate::keymap::KeymapNames>,
    /// Keyboard focus while the seat has no keyboard yet.
    pub focus: Option<WlSurface>,
}

/// Why a key or text could not be injected.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("the keymap could not be indexed")]
    NoKeymap,
    #[error("keysym {0} is not in the keymap")]
    UnmappableKeysym(String),
    #[error("character {0:?} is not in the keymap")]
    UnmappableChar(char),
}

impl State {
    /// Input is for the clients capture is for (the command, its descendants, holders
    /// of the capture secret; never a sandboxed client), unless `--allow-input all`.
    pub fn may_inject(&self, client: &Client, dh: &DisplayHandle) -> Result<(), String> {
        self.capture_policy
            .permits_with(client, dh, self.input.allow_all)
            .map_err(|why| {
                why.replace(
                    "--allow-capture all to let any client capture",
                    "--allow-input all to let any client inject input",
                )
            })
    }

    /// Milliseconds for input event timestamps.
    pub fn input_time(&self) -> u32 {
        let now: std::time::Duration = self.clock.now().into();
        now.as_millis() as u32
    }

    /// Where `surface` (a toplevel or one of its subsurfaces) has its origin on the
    /// output, if it is shown.
    pub fn surface_origin(&self, surface: &WlSurface) -> Option<Point<f64, Logical>> {
        let mut root = surface.clone();
        let mut offset = Point::<i32, Logical>::default();
        while let Some(parent) = get_parent(&root) {
            offset += with_states(&root, |s| {
                s.cached_state
                    .get::<SubsurfaceCachedState>()
                    .current()
                    .location
            });
            root = parent;
        }
        let window = self.window_for(&root)?;
        let at = self.space.element_location(window)? - window.geometry().loc;
        Some((at + offset).to_f64())
    }

    /// Moves the pointer to `location` (output coordinates, logical).
    pub fn inject_motion(&mut self, location: Point<f64, Logical>) {
        let size = self.output_logical_size().to_f64();
        let clamped = Point::from((
            location.x.clamp(0.0, (size.w - 1.0).max(0.0)),
            location.y.clamp(0.0, (size.h - 1.0).max(0.0)),
        ));
        debug!(x = clamped.x, y = clamped.y, "injected pointer motion");
        self.pointer_moved(clamped, self.input_time());
    }

    pub fn inject_button(&mut self, button: u32, pressed: bool) {
        let state = if pressed {
            ButtonState::Pressed
        } else {
            ButtonState::Released
        };
        debug!(button, pressed, "injected pointer button");
        self.pointer_button(button, state, self.input_time());
    }

    /// Scrolls `value` logical pixels on `axis`; a non-zero `v120` makes it a wheel.
    pub fn inject_axis(&mut self, axis: Axis, value: f64, v120: i32) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let source = if v120 != 0 {
            AxisSource::Wheel
        } else {
            AxisSource::Continuous
        };
        let mut frame = AxisFrame::new(self.input_time())
            .source(source)
            .value(axis, value);
        if v120 != 0 {
            frame = frame.v120(axis, v120);
        }
        debug!(?axis, value, v120, "injected axis");
        pointer.axis(self, frame);
        pointer.frame(self);
    }

    fn place_of(&mut self, sym: Keysym) -> Result<KeyPlace, InjectError> {
        let keymap = self.keymap_index().ok_or(InjectError::NoKeymap)?;
        keymap.find(sym).ok_or_else(|| {
            InjectError::UnmappableKeysym(smithay::input::keyboard::xkb::keysym_get_name(sym))
        })
    }

    /// Presses or releases the key producing `sym`, with Shift/AltGr around it when the
    /// keysym needs them.
    pub fn inject_keysym(&mut self, sym: Keysym, pressed: bool) -> Result<(), InjectError> {
        let place = self.place_of(sym)?;
        if pressed {
            let held = self.press_needed(place);
            self.input.held_for.insert(place.keycode.raw(), held);
            self.send_key(place.keycode, true);
        } else {
            self.send_key(place.keycode, false);
            for key in self
                .input
                .held_for
                .remove(&place.keycode.raw())
                .unwrap_or_default()
                .into_iter()
                .rev()
            {
                self.send_key(key, false);
            }
        }
        Ok(())
    }

    /// Types `text`: each character pressed and released on its key. Every character is
    /// looked up first, so a string with one unmappable character types nothing.
    pub fn inject_text(&mut self, text: &str) -> Result<(), InjectError> {
        let keymap = self.keymap_index().ok_or(InjectError::NoKeymap)?;
        let places = text
            .chars()
            .map(|c| keymap.find_char(c).ok_or(InjectError::UnmappableChar(c)))
            .collect::<Result<Vec<_>, _>>()?;
        info!(chars = places.len(), "typing injected text");
        for place in places {
            let held = self.press_needed(place);
            self.send_key(place.keycode, true);
            self.send_key(place.keycode, false);
            for key in held.into_iter().rev() {
                self.send_key(key, false);
            }
        }
        Ok(())
    }

    /// Presses the modifier keys `place` needs that are not down already; returns them.
    fn press_needed(&mut self, place: KeyPlace) -> Vec<Keycode> {
        let Some(keymap) = self.keymap_index() else {
            return Vec::new();
        };
        let (shift, altgr) = keymap.modifier_keys();
        let pressed = self
            .keyboard()
            .map(|k| k.pressed_keys())
            .unwrap_or_default();
        let mut held = Vec::new();
        for (needed, key) in [(place.needs.shift, shift), (place.needs.altgr, altgr)] {
            if let (true, Some(key)) = (needed, key) {
                if !pressed.contains(&key) {
                    self.send_key(key, true);
                    held.push(key);
                }
            }
        }
        held
    }

    fn send_key(&mut self, keycode: Keycode, pressed: bool) {
        let Some(keyboard) = self.keyboard() else {
            return;
        };
        let state = if pressed {
            KeyState::Pressed
        } else {
            KeyState::Released
        };
        let time = self.input_time();
        keyboard.input::<(), _>(
            self,
            keycode,
            state,
            SERIAL_COUNTER.next_serial(),
            time,
            |_, _, _| FilterResult::Forward,
        );
    }

    /// A touch point goes down at `location` (output coordinates) on the surface there.
    pub fn inject_touch_down(&mut self, id: i32, location: Point<f64, Logical>) {
        self.touch_frame(|state, touch| {
            let focus = state.surface_under(location);
            let slot = Some(id as u32).into();
            let serial = SERIAL_COUNTER.next_serial();
            let time = state.input_time();
            let event = DownEvent {
                slot,
                location,
                serial,
                time,
            };
            touch.down(state, focus, &event);
        });
    }

    pub fn inject_touch_motion(&mut self, id: i32, location: Point<f64, Logical>) {
        self.touch_frame(|state, touch| {
            let focus = state.surface_under(location);
            let slot = Some(id as u32).into();
            let time = state.input_time();
            touch.motion(
                state,
                focus,
                &TouchMotion {
                    slot,
                    location,
                    time,
                },
            );
        });
    }

    pub fn inject_touch_up(&mut self, id: i32) {
        self.touch_frame(|state, touch| {
            let slot = Some(id as u32).into();
            let serial = SERIAL_COUNTER.next_serial();
            let time = state.input_time();
            touch.up(state, &UpEvent { slot, serial, time });
        });
    }

    /// One touch event (`send`) and the frame that ends it; nothing without a touch device.
    fn touch_frame(&mut self, send: impl FnOnce(&mut Self, &TouchHandle<Self>)) {
        let Some(touch) = self.seat.get_touch() else {
            return;
        };
        send(self, &touch);
        touch.frame(self);
    }
}
