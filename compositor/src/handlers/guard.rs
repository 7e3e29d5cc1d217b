//! Client-supplied sizes and coordinates, checked before smithay sees them.
//!
//! smithay 0.7 builds `Size`/`Rectangle` straight from request arguments in its request
//! handlers; `Size::new` has a `debug_assert!` on negative values (and dev profiles assert
//! in dependencies too), and later geometry arithmetic (`loc + size`) overflows on values
//! near `i32::MAX`. Each interface below is dispatched here first, then handed on to
//! smithay's own `Dispatch` with values that cannot hurt it:
//!
//! - `wl_surface.damage` / `damage_buffer`, `wl_region.add` / `subtract`: an empty or
//!   negative rectangle is ignored (the protocol defines no error) with a debug line;
//!   the rest is clamped to ±`LIMIT`.
//! - `xdg_surface.set_window_geometry` with a zero or negative size: `invalid_size`.
//! - `xdg_toplevel.set_min_size` / `set_max_size` negative: `invalid_size` (the
//!   toplevel's error, as xdg-shell says); values clamped to `LIMIT`.
//! - `wl_subsurface.set_position`, `xdg_positioner.set_offset` / `set_anchor_rect` /
//!   `set_size` / `set_parent_size`: clamped to ±`LIMIT`, a negative parent size to 0
//!   (smithay already refuses non-positive positioner sizes with `invalid_input`).
//!
//! - `wl_subsurface.place_above` / `place_below` relative to the sub-surface itself:
//!   `bad_surface` (smithay would panic).
//!
//! - `wl_shm_pool.resize` to 0 or less: `invalid_fd` (smithay would panic at 0).
//!
//! Already safe in smithay and not wrapped: `wp_viewport` (checks every value and wl_fixed
//! is bounded), `damage_buffer` negatives (smithay returns early, clamped here anyway),
//! attach/offset (the buffer delta is stored and never used in arithmetic by smithay's
//! renderer or desktop code).
//!
//! Known limit: a clamped value changes the request's meaning only for rectangles or
//! positions more than `LIMIT` pixels away, which no output of planar's can show.

use smithay::{
    reexports::{
        wayland_protocols::xdg::shell::server::{
            xdg_positioner::{self, XdgPositioner},
            xdg_surface::{self, XdgSurface},
            xdg_toplevel::{self, XdgToplevel},
        },
        wayland_server::{
            protocol::{
                wl_region::{self, WlRegion},
                wl_shm,
                wl_shm_pool::{self, WlShmPool},
                wl_subsurface::{self, WlSubsurface},
                wl_surface::{self, WlSurface},
            },
            Client, Resource,
        },
    },
    wayland::{
        compositor::{CompositorState, RegionUserData, SubsurfaceUserData, SurfaceUserData},
        shell::xdg::{
            XdgPositionerUserData, XdgShellState, XdgShellSurfaceUserData, XdgSurfaceUserData,
        },
        shm::{ShmPoolUserData, ShmState},
    },
};
use tracing::{debug, warn};

use super::dispatch::intercept;

/// The largest coordinate or size passed on to smithay: 2^20 pixels, far past any output,
/// and small enough that sums and products by any sane scale stay inside i32.
pub const LIMIT: i32 = 1 << 20;

fn coord(v: i32) -> i32 {
    v.clamp(-LIMIT, LIMIT)
}

fn size(v: i32) -> i32 {
    v.clamp(0, LIMIT)
}

/// A damage or region rectangle, clamped; `None` when it is empty or negative.
fn rect(x: i32, y: i32, w: i32, h: i32) -> Option<(i32, i32, i32, i32)> {
    (w > 0 && h > 0).then(|| (coord(x), coord(y), size(w), size(h)))
}

/// `request` with the rectangle of the listed variants (fields x, y, width, height)
/// clamped by `rect`; an empty or negative one is dropped with a debug line naming it.
macro_rules! clamp_rects {
    ($client:expr, $request:expr, $($variant:ident => $what:literal),+) => {
        match $request {
            $($variant { x, y, width, height } => {
                let clamped = rect(x, y, width, height)
                    .map(|(x, y, width, height)| $variant { x, y, width, height });
                if clamped.is_none() {
                    debug!(client = %crate::client_name::label($client), width, height, "{} with an empty or negative size ignored", $what);
                }
                clamped
            })+
            other => Some(other),
        }
    };
}

// Each check sees the request first (the state is not needed: the `_`).
intercept!(WlSurface, SurfaceUserData => CompositorState, |_, client, _, request| {
    use wl_surface::Request::{Damage, DamageBuffer};
    #[cfg(debug_assertions)]
    if let Damage { x, .. } = request {
        crate::panic::test_trigger(x);
    }
    clamp_rects!(client, request, Damage => "wl_surface.damage", DamageBuffer => "wl_surface.damage_buffer")
});
intercept!(WlRegion, RegionUserData => CompositorState, |_, client, _, request| {
    use wl_region::Request::{Add, Subtract};
    clamp_rects!(client, request, Add => "wl_region.add", Subtract => "wl_region.subtract")
});
intercept!(WlSubsurface, SubsurfaceUserData => CompositorState, |_, c, r, q| check_subsurface(c, r, q));
intercept!(WlShmPool, ShmPoolUserData => ShmState, |_, c, r, q| check_shm_pool(c, r, q));
intercept!(XdgSurface, XdgSurfaceUserData => XdgShellState, |_, c, r, q| check_xdg_surface(c, r, q));
intercept!(XdgToplevel, XdgShellSurfaceUserData => XdgShellState, |_, c, r, q| check_toplevel(c, r, q));
intercept!(XdgPositioner, XdgPositionerUserData => XdgShellState, |_, c, r, q| check_positioner(c, r, q));

fn check_subsurface(
    _: &Client,
    resource: &WlSubsurface,
    request: wl_subsurface::Request,
) -> Option<wl_subsurface::Request> {
    match request {
        wl_subsurface::Request::SetPosition { x, y } => Some(wl_subsurface::Request::SetPosition {
            x: coord(x),
            y: coord(y),
        }),
        // smithay 0.7's reorder removes the sub-surface from its siblings, then inserts it
        // past the end when the reference is the sub-surface itself (a Vec::insert panic).
        // The protocol says the reference must be a sibling or the parent.
        wl_subsurface::Request::PlaceAbove { ref sibling }
        | wl_subsurface::Request::PlaceBelow { ref sibling }
            if resource
                .data::<SubsurfaceUserData>()
                .is_some_and(|d| d.surface() == sibling) =>
        {
            warn!(subsurface = %resource.id(), "sub-surface placed relative to itself: bad_surface");
            resource.post_error(
                wl_subsurface::Error::BadSurface,
                "a sub-surface cannot be placed above or below itself",
            );
            None
        }
        other => Some(other),
    }
}

/// smithay 0.7 posts `invalid_fd` for a resize to 0 or less, then carries on and unwraps
/// a `NonZeroUsize` of the size: a panic at 0. The error alone is the answer.
fn check_shm_pool(
    _: &Client,
    resource: &WlShmPool,
    request: wl_shm_pool::Request,
) -> Option<wl_shm_pool::Request> {
    match request {
        wl_shm_pool::Request::Resize { size } if size <= 0 => {
            warn!(pool = %resource.id(), size, "wl_shm_pool resized to a non-positive size: invalid_fd");
            resource.post_error(wl_shm::Error::InvalidFd, "invalid wl_shm_pool size");
            None
        }
        other => Some(other),
    }
}

fn check_xdg_surface(
    client: &Client,
    resource: &XdgSurface,
    request: xdg_surface::Request,
) -> Option<xdg_surface::Request> {
    match request {
        xdg_surface::Request::SetWindowGeometry {
            x,
            y,
            width,
            height,
        } => {
            if width <= 0 || height <= 0 {
                warn!(client = %crate::client_name::label(client), width, height, "xdg_surface.set_window_geometry with a zero or negative size: invalid_size");
                resource.post_error(
                    xdg_surface::Error::InvalidSize,
                    format!("window geometry {width}x{height}: width and height must be positive"),
                );
                return None;
            }
            Some(xdg_surface::Request::SetWindowGeometry {
                x: coord(x),
                y: coord(y),
                width: size(width),
                height: size(height),
            })
        }
        other => Some(other),
    }
}

fn check_toplevel(
    client: &Client,
    resource: &XdgToplevel,
    request: xdg_toplevel::Request,
) -> Option<xdg_toplevel::Request> {
    let (min, width, height) = match request {
        xdg_toplevel::Request::SetMinSize { width, height } => (true, width, height),
        xdg_toplevel::Request::SetMaxSize { width, height } => (false, width, height),
        other => return Some(other),
    };
    let which = if min { "min" } else { "max" };
    if width < 0 || height < 0 {
        warn!(client = %crate::client_name::label(client), width, height, "xdg_toplevel.set_{which}_size with a negative size: invalid_size");
        resource.post_error(
            xdg_toplevel::Error::InvalidSize,
            format!("{which} size {width}x{height}: width and height must not be negative"),
        );
        return None;
    }
    let (width, height) = (size(width), size(height));
    Some(if min {
        xdg_toplevel::Request::SetMinSize { width, height }
    } else {
        xdg_toplevel::Request::SetMaxSize { width, height }
    })
}

fn check_positioner(
    _: &Client,
    _: &XdgPositioner,
    request: xdg_positioner::Request,
) -> Option<xdg_positioner::Request> {
    use xdg_positioner::Request::*;
    // Non-positive sizes go through: smithay answers them with invalid_input.
    let keep = |v: i32| if v > 0 { size(v) } else { v };
    Some(match request {
        SetSize { width, height } => SetSize {
            width: keep(width),
            height: keep(height),
        },
        SetAnchorRect {
            x,
            y,
            width,
            height,
        } => SetAnchorRect {
            x: coord(x),
            y: coord(y),
            width: keep(width),
            height: keep(height),
        },
        SetOffset { x, y } => SetOffset {
            x: coord(x),
            y: coord(y),
        },
        SetParentSize {
            parent_width,
            parent_height,
        } => SetParentSize {
            // smithay makes a `Size` of it; xdg-shell defines no error for a negative one.
            parent_width: size(parent_width),
            parent_height: size(parent_height),
        },
        other => other,
    })
}
