//! A window that prints every pointer and keyboard event the compositor sends it, one line
//! each, so a test (or a person) sees exactly what reached the client: `planar-client
//! input`. The window shows the quads pattern from wl_shm.

use std::io::Write;

use anyhow::Context;
use rustix::event::{PollFd, PollFlags};
use wayland_client::{
    backend::WaylandError,
    protocol::{
        wl_keyboard::{self, WlKeyboard},
        wl_pointer::{self, WlPointer},
        wl_seat::{self, WlSeat},
        wl_shm::WlShm,
        wl_touch::{self, WlTouch},
    },
    Connection, Dispatch, QueueHandle, WEnum,
};

use crate::{pattern::quads_xrgb8888, shm_client::shm_buffer, window::Window};

/// The evdev code of Escape: the default key that ends the client.
pub const KEY_ESC: u32 = 1;

#[derive(Default)]
struct InputLog {
    pointer: Option<WlPointer>,
    keyboard: Option<WlKeyboard>,
    touch: Option<WlTouch>,
    until_key: u32,
    done: bool,
}

impl InputLog {
    fn line(&self, line: std::fmt::Arguments<'_>) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Shows a `width`x`height` window (asking for fullscreen when `fullscreen`) and prints
/// its configures and input events until the key `until_key` (an evdev code) is released.
pub fn run(
    conn: Connection,
    width: u32,
    height: u32,
    fullscreen: bool,
    until_key: u32,
    title: &str,
) -> anyhow::Result<()> {
    let mut window = if fullscreen {
        Window::new_fullscreen(&conn, title)?
    } else {
        Window::new(&conn, title)?
    };
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .context("wl_shm")?;
    let stride = width * 4;
    let pixels = quads_xrgb8888(width, height, stride);
    let buffer = shm_buffer(&shm, window.queue_handle(), width, height, stride, &pixels)?;
    let mut queue = conn.new_event_queue::<InputLog>();
    let qh = queue.handle();
    let _seat: WlSeat = window
        .globals
        .bind(&qh, 1..=7, ())
        .context("the compositor has no wl_seat")?;
    let mut log = InputLog {
        until_key,
        ..Default::default()
    };
    // The pointer and keyboard exist before the window is shown, so input sent once it
    // is shown (a script's wait-window, then click) reaches them.
    queue.roundtrip(&mut log)?;
    window.show(&buffer, width as i32, None, height as i32);
    window.wait_presented()?;
    log.line(format_args!("shown {width}x{height}"));
    // Two queues (the window's and the seat's) are served by one wait on the socket.
    loop {
        window.dispatch_pending()?;
        queue.dispatch_pending(&mut log)?;
        for (w, h, fullscreen) in window.take_configures() {
            let fullscreen = if fullscreen { " fullscreen" } else { "" };
            log.line(format_args!("configure {w}x{h}{fullscreen}"));
        }
        if log.done {
            break;
        }
        conn.flush()?;
        if let Some(guard) = conn.prepare_read() {
            let fd = guard.connection_fd();
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            rustix::event::poll(&mut fds, None)?;
            match guard.read() {
                Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                other => {
                    other?;
                }
            }
        }
    }
    window.close()?;
    buffer.destroy();
    conn.flush()?;
    Ok(())
}

impl Dispatch<WlSeat, ()> for InputLog {
    fn event(
        log: &mut Self,
        seat: &WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(caps),
        } = event
        {
            log.line(format_args!("seat capabilities {caps:?}"));
            if caps.contains(wl_seat::Capability::Pointer) && log.pointer.is_none() {
                log.pointer = Some(seat.get_pointer(qh, ()));
            }
            if caps.contains(wl_seat::Capability::Keyboard) && log.keyboard.is_none() {
                log.keyboard = Some(seat.get_keyboard(qh, ()));
            }
            if caps.contains(wl_seat::Capability::Touch) && log.touch.is_none() {
                log.touch = Some(seat.get_touch(qh, ()));
            }
        }
    }
}

impl Dispatch<WlPointer, ()> for InputLog {
    fn event(
        log: &mut Self,
        _: &WlPointer,
        event: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_pointer::Event::Enter {
                surface_x,
                surface_y,
                ..
            } => log.line(format_args!("pointer enter {surface_x:.0} {surface_y:.0}")),
            wl_pointer::Event::Leave { .. } => log.line(format_args!("pointer leave")),
            wl_pointer::Event::Motion {
                surface_x,
                surface_y,
                ..
            } => log.line(format_args!("pointer motion {surface_x:.0} {surface_y:.0}")),
            wl_pointer::Event::Button { button, state, .. } => {
                log.line(format_args!("pointer button {button} {}", pressed(state)))
            }
            wl_pointer::Event::Axis { axis, value, .. } => {
                let axis = match axis {
                    WEnum::Value(wl_pointer::Axis::VerticalScroll) => "vertical".to_string(),
                    WEnum::Value(wl_pointer::Axis::HorizontalScroll) => "horizontal".to_string(),
                    other => format!("{other:?}"),
                };
                log.line(format_args!("pointer axis {axis} {value:.0}"))
            }
            _ => {}
        }
    }
}

impl Dispatch<WlKeyboard, ()> for InputLog {
    fn event(
        log: &mut Self,
        _: &WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Keymap { format, size, .. } => {
                let format = match format {
                    WEnum::Value(f) => format!("{f:?}"),
                    WEnum::Unknown(n) => format!("unknown {n}"),
                };
                log.line(format_args!("keyboard keymap {format} {size} bytes"))
            }
            wl_keyboard::Event::Enter { .. } => log.line(format_args!("keyboard enter")),
            wl_keyboard::Event::Leave { .. } => log.line(format_args!("keyboard leave")),
            wl_keyboard::Event::Key { key, state, .. } => {
                let state = match state {
                    WEnum::Value(wl_keyboard::KeyState::Pressed) => "pressed",
                    _ => "released",
                };
                log.line(format_args!("key {key} {state}"));
                if key == log.until_key && state == "released" {
                    log.done = true;
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<WlTouch, ()> for InputLog {
    fn event(
        log: &mut Self,
        _: &WlTouch,
        event: wl_touch::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_touch::Event::Down { id, x, y, .. } => {
                log.line(format_args!("touch down {id} {x:.0} {y:.0}"))
            }
            wl_touch::Event::Motion { id, x, y, .. } => {
                log.line(format_args!("touch motion {id} {x:.0} {y:.0}"))
            }
            wl_touch::Event::Up { id, .. } => log.line(format_args!("touch up {id}")),
            _ => {}
        }
    }
}

fn pressed(state: WEnum<wl_pointer::ButtonState>) -> &'static str {
    match state {
        WEnum::Value(wl_pointer::ButtonState::Pressed) => "pressed",
        _ => "released",
    }
}
