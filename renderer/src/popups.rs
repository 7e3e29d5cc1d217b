//! The xdg popups of a window, topmost first, with where their surfaces go.
//!
//! The compositor tracks popups in smithay's `PopupManager`, which keeps each toplevel's
//! popups in a tree. Its `popups_for_surface` lists a popup's children before the popup
//! (nested popups come out above their parent) but siblings oldest first, where
//! xdg-shell stacks "a newly created xdg_popup on top of all previously created
//! xdg_popup surfaces associated with the same xdg_toplevel". [`topmost_first`] keeps
//! children above their parent and puts newer siblings above older ones.
//!
//! Known limits: only popups smithay's tree lists (alive, and under alive parents);
//! offsets are summed with saturating arithmetic, so a popup placed past i32 is drawn at
//! the edge rather than panicking (the compositor clamps positions long before).

use std::collections::HashMap;

use smithay::{
    desktop::{PopupKind, PopupManager},
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Resource},
    utils::{Logical, Point},
};

/// `a + b` component-wise, saturating.
pub fn add(a: Point<i32, Logical>, b: Point<i32, Logical>) -> Point<i32, Logical> {
    (a.x.saturating_add(b.x), a.y.saturating_add(b.y)).into()
}

/// `a - b` component-wise, saturating.
pub fn sub(a: Point<i32, Logical>, b: Point<i32, Logical>) -> Point<i32, Logical> {
    (a.x.saturating_sub(b.x), a.y.saturating_sub(b.y)).into()
}

/// The popups of the toplevel whose wl_surface is `toplevel`, topmost first: each popup's
/// surface and where that surface's origin is, relative to the origin of the toplevel's
/// window geometry.
pub fn topmost_first(toplevel: &WlSurface) -> Vec<(WlSurface, Point<i32, Logical>)> {
    let listed: Vec<(PopupKind, Point<i32, Logical>)> =
        PopupManager::popups_for_surface(toplevel).collect();
    if listed.is_empty() {
        return Vec::new();
    }
    // Each parent's children, oldest first (smithay's tree keeps them in creation order).
    let mut children: HashMap<_, Vec<usize>> = HashMap::new();
    for (i, (popup, _)) in listed.iter().enumerate() {
        let parent = match popup {
            PopupKind::Xdg(p) => p.get_parent_surface(),
            PopupKind::InputMethod(_) => None,
        };
        let key = parent.map_or_else(|| toplevel.id(), |p| p.id());
        children.entry(key).or_default().push(i);
    }
    // A pre-order walk, oldest child first, reversed: every popup after its children
    // (so below them), newer siblings' subtrees before older ones. A loop, not recursion:
    // the depth is the client's choice (the compositor bounds it, this does not rely on it).
    let mut order = Vec::with_capacity(listed.len());
    let mut stack: Vec<usize> = children
        .get(&toplevel.id())
        .map(|c| c.iter().rev().copied().collect())
        .unwrap_or_default();
    while let Some(i) = stack.pop() {
        if order.len() == listed.len() {
            break; // not a tree after all: never loop
        }
        order.push(i);
        if let Some(c) = children.get(&listed[i].0.wl_surface().id()) {
            stack.extend(c.iter().rev().copied());
        }
    }
    order
        .into_iter()
        .rev()
        .map(|i| {
            let (popup, at) = &listed[i];
            (popup.wl_surface().clone(), sub(*at, popup.geometry().loc))
        })
        .collect()
}
