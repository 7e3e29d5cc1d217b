//! The nested window's host connection: knowing when the host compositor or X server is
//! gone, so planar stops in order (screenshot, report, CMD ended) instead of dying inside
//! winit or Xlib.

use std::{
    ffi::c_void,
    sync::atomic::{AtomicBool, Ordering},
};

use calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};
use smithay::{
    backend::winit::{WinitEvent, WinitEventLoop},
    reexports::winit::{
        raw_window_handle::{HasDisplayHandle, RawDisplayHandle},
        window::Window as WinitWindow,
    },
};
use tracing::warn;

/// Set once the host is known to be gone (an X I/O error, or winit failing on it).
static HOST_GONE: AtomicBool = AtomicBool::new(false);

pub fn host_gone() -> bool {
    HOST_GONE.load(Ordering::SeqCst)
}

pub(super) fn mark_host_gone() {
    HOST_GONE.store(true, Ordering::SeqCst);
}

/// Which kind of session winit connected to.
pub(super) fn host_kind(window: &WinitWindow) -> &'static str {
    match window.display_handle().map(|h| h.as_raw()) {
        Ok(RawDisplayHandle::Wayland(_)) => "wayland",
        Ok(RawDisplayHandle::Xlib(_) | RawDisplayHandle::Xcb(_)) => "x11",
        _ => "unknown",
    }
}

unsafe extern "C" fn x_io_error_exit(_display: *mut c_void, _data: *mut c_void) {
    mark_host_gone();
}

/// Replaces Xlib's default I/O error handler, which exits too.
unsafe extern "C" fn x_io_error(_display: *mut c_void) -> i32 {
    mark_host_gone();
    0
}

/// Xlib's default I/O error handlers end the process on the spot (exit(1)), and the
/// screenshot and report would be lost. libX11 1.7 and later let both handlers return
/// instead, after which every Xlib call fails; planar then stops as when its window is
/// closed. Looked up with dlsym: winit loads libX11 itself at run time, and x11-dl (what
/// winit loads it with) predates XSetIOErrorExitHandler.
pub(super) fn keep_running_when_x_goes_away(window: &WinitWindow) {
    let Ok(handle) = window.display_handle() else {
        return;
    };
    let RawDisplayHandle::Xlib(xlib) = handle.as_raw() else {
        return;
    };
    let Some(display) = xlib.display else {
        return;
    };
    type ExitHandler = unsafe extern "C" fn(*mut c_void, *mut c_void);
    type SetExitHandler = unsafe extern "C" fn(*mut c_void, Option<ExitHandler>, *mut c_void);
    type Handler = unsafe extern "C" fn(*mut c_void) -> i32;
    type SetHandler = unsafe extern "C" fn(Option<Handler>) -> Option<Handler>;
    // SAFETY: libX11 is already loaded (RTLD_NOLOAD); the symbol has the signature above
    // (Xlib.h), and the display is winit's, alive as long as the window.
    unsafe {
        let lib = libc::dlopen(c"libX11.so.6".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        if lib.is_null() {
            return;
        }
        let set_exit = libc::dlsym(lib, c"XSetIOErrorExitHandler".as_ptr());
        let set_handler = libc::dlsym(lib, c"XSetIOErrorHandler".as_ptr());
        if set_exit.is_null() || set_handler.is_null() {
            warn!("libX11 is older than 1.7: if the X server goes away, planar exits at once");
            return;
        }
        let set_exit: SetExitHandler = std::mem::transmute(set_exit);
        let set_handler: SetHandler = std::mem::transmute(set_handler);
        set_handler(Some(x_io_error));
        set_exit(
            display.as_ptr(),
            Some(x_io_error_exit),
            std::ptr::null_mut(),
        );
    }
}

/// The window's events, and `None` when the host is gone: winit's loop ended (the Wayland
/// connection broke; smithay's source only removes itself then), an X I/O error was
/// seen, or winit panicked on a dead connection.
pub struct HostEvents(WinitEventLoop);

impl HostEvents {
    pub fn new(events: WinitEventLoop) -> Self {
        HostEvents(events)
    }
}

impl EventSource for HostEvents {
    type Event = Option<WinitEvent>;
    type Metadata = ();
    type Ret = ();
    type Error = std::io::Error;

    const NEEDS_EXTRA_LIFECYCLE_EVENTS: bool = true;

    fn before_sleep(&mut self) -> calloop::Result<Option<(Readiness, Token)>> {
        self.0.before_sleep()
    }

    fn before_handle_events(&mut self, events: calloop::EventIterator<'_>) {
        self.0.before_handle_events(events)
    }

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, Self::Error>
    where
        F: FnMut(Self::Event, &mut Self::Metadata) -> Self::Ret,
    {
        if host_gone() {
            callback(None, &mut ());
            return Ok(PostAction::Remove);
        }
        // winit unwraps X replies: on a dead connection it panics in here.
        let events = &mut self.0;
        let action = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            events.process_events(readiness, token, |event, meta| callback(Some(event), meta))
        }));
        let action = match action {
            Ok(action) => action?,
            Err(_) => {
                mark_host_gone();
                PostAction::Remove
            }
        };
        if matches!(action, PostAction::Remove) || host_gone() {
            callback(None, &mut ());
            return Ok(PostAction::Remove);
        }
        Ok(action)
    }

    fn register(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.0.register(poll, factory)
    }

    fn reregister(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.0.reregister(poll, factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.0.unregister(poll)
    }
}
