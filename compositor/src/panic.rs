//! The last line of defence: a panic while planar handles a request (a bug in planar or
//! smithay that a client's input reached) must not lose the run. The main loop runs each
//! iteration under `catch_unwind`; a panic is logged, and `planar run` then stops as it
//! does on a signal, except that it exits 70: the screenshot and report it has are
//! written and the command is ended.
//!
//! Known limits: only unwinding panics are caught (the release profile must keep
//! `panic = "unwind"`); smithay's or wayland-server's state may be inconsistent after one,
//! so nothing more is dispatched to clients; and a second panic while finishing is caught
//! too, leaving out whatever it was making.

use std::{
    any::Any,
    panic::{catch_unwind, AssertUnwindSafe},
};

use tracing::error;

/// Runs `f`, turning a panic into `Err` with the panic's message, logged.
pub fn catch<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = message(payload.as_ref());
        error!(panic = %message, "planar panicked while {what}; stopping: the screenshot and report are written, the command is ended, exit 70");
        message
    })
}

fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}

/// A deliberate panic for the test of this module (debug builds only): `wl_surface.damage`
/// at x = -1337 panics when `PLANAR_TEST_PANIC` is set in planar's environment.
#[cfg(debug_assertions)]
pub fn test_trigger(x: i32) {
    if x == -1337 && std::env::var_os("PLANAR_TEST_PANIC").is_some() {
        panic!("PLANAR_TEST_PANIC: a deliberate panic in wl_surface.damage");
    }
}
