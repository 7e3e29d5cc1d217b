//! xdg_popup: menus, popovers and tooltips are shown, answered and go away.
//!
//! Every popup is tracked in smithay's `PopupManager` (`State::popups`), so smithay's
//! `Window::send_frame` and `take_presentation_feedback` reach it, and the renderer draws
//! it above its parent (`planar_renderer::popups`). Placement: the positioner's geometry
//! relative to the parent's window geometry, moved onto the output of the popup's
//! toplevel as far as the client's constraint_adjustment allows (smithay's
//! `get_unconstrained_geometry`, against the output's rectangle in the parent's
//! coordinates), at the popup's first commit (the initial configure answers it, as
//! xdg-shell asks) and at every `reposition`. A popup's commit imports its buffers as a
//! window's does and draws; `xdg_popup.destroy` draws the frame without it.
//!
//! Hostile input: positions are clamped to ±`guard::LIMIT` relative to the parent, and
//! popups nest at most `MAX_DEPTH` deep (one deeper is dismissed at once and never
//! shown), so smithay's sums of popup positions (plain `+`) stay far inside i32.
//!
//! Known limits: no grabs (planar's pointer is injected; `xdg_popup.grab` is accepted and
//! ignored, so a click outside does not dismiss a popup, and keys go to the toplevel, not
//! the menu); at most `MAX_POPUPS` per client; the pointer's focus follows a popup that
//! appears or goes under it at the next motion (a click step moves first); a popup is not placed again when
//! its output changes or its toplevel moves (it keeps its offset to the parent; its
//! preferred scale follows the toplevel's output: `outputs::set_preferred_scale`); when a
//! toplevel goes, its popups hear `popup_done`; a popup destroyed before its own child
//! popups takes them with it (they hear `popup_done`: xdg-shell makes it the
//! `not_the_topmost_popup` error, which smithay does not post).

use std::sync::atomic::Ordering;

use planar_renderer::popups::{add, sub};
use smithay::{
    backend::renderer::utils::with_renderer_surface_state,
    desktop::{PopupKind, PopupManager},
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Resource},
    utils::{IsAlive, Logical, Point, Rectangle},
    wayland::{
        compositor::{get_role, with_states},
        shell::xdg::{
            PopupSurface, PositionerState, XdgPopupSurfaceData, XDG_POPUP_ROLE, XDG_TOPLEVEL_ROLE,
        },
    },
};
use tracing::{debug, warn};

use super::guard::LIMIT;
use crate::state::{ClientState, Shown, State};

/// How deep popups may nest (GTK's menus nest a handful). With positions clamped to
/// ±LIMIT (2^20) each, 32 levels sum to at most 2^25.
pub const MAX_DEPTH: usize = 32;
/// How many popups one client may have at once: smithay lists every popup tree at each
/// popup commit and planar orders a window's popups at each frame, so thousands would
/// stall every client. A real menu tree has a handful.
pub const MAX_POPUPS: usize = 256;

/// On a tracked popup's wl_surface: it is counted in its client's `ClientState::popups`
/// until it goes (set back to false once counted out).
#[derive(Default)]
struct Counted(std::sync::atomic::AtomicBool);

/// The toplevel's wl_surface at the top of `popup`'s parent chain, and the origin of the
/// popup's parent's window geometry relative to the toplevel's. `None` for a popup with
/// no parent, under a destroyed popup (smithay clears a destroyed popup's parent), or
/// nested deeper than [`MAX_DEPTH`].
fn parent_chain(popup: &PopupSurface) -> Option<(WlSurface, Point<i32, Logical>)> {
    chain_from(popup.wl_surface())
}

/// The parent of the popup whose wl_surface is `surface` (none for other surfaces).
fn popup_parent(surface: &WlSurface) -> Option<WlSurface> {
    with_states(surface, |states| {
        let data = states.data_map.get::<XdgPopupSurfaceData>()?;
        let parent = data.lock().unwrap().parent.clone();
        parent
    })
}

/// [`parent_chain`] of the popup whose wl_surface is `surface`.
fn chain_from(surface: &WlSurface) -> Option<(WlSurface, Point<i32, Logical>)> {
    let mut parent = popup_parent(surface)?;
    let mut offset = Point::default();
    for _ in 0..MAX_DEPTH {
        if get_role(&parent) != Some(XDG_POPUP_ROLE) {
            // Only a chain that ends at a toplevel is shown: one under a role-less
            // surface could later become a loop (that surface made a popup of this one).
            return (get_role(&parent) == Some(XDG_TOPLEVEL_ROLE)).then_some((parent, offset));
        }
        let (loc, next) = with_states(&parent, |states| {
            let data = states
                .data_map
                .get::<XdgPopupSurfaceData>()?
                .lock()
                .unwrap();
            Some((data.current.geometry.loc, data.parent.clone()))
        })?;
        offset = add(offset, loc);
        parent = next?;
    }
    None
}

/// The popup of `toplevel`'s tree (smithay's) whose wl_surface is `surface`.
fn tracked_under(toplevel: &WlSurface, surface: Option<&WlSurface>) -> Option<PopupKind> {
    let surface = surface?;
    PopupManager::popups_for_surface(toplevel)
        .map(|(popup, _)| popup)
        .find(|popup| popup.wl_surface() == surface)
}

/// The wl_surface's "has been shown" flag, set to `now`; returns what it was.
fn swap_shown(surface: &WlSurface, now: bool) -> bool {
    with_states(surface, |states| {
        states.data_map.insert_if_missing_threadsafe(Shown::default);
        states
            .data_map
            .get::<Shown>()
            .is_some_and(|s| s.0.swap(now, Ordering::SeqCst))
    })
}

impl State {
    /// A new xdg_popup: tracked, or dismissed when planar will not show it.
    pub(super) fn track_popup(&mut self, popup: PopupSurface) {
        let Some((toplevel, _)) = parent_chain(&popup) else {
            debug!(
                surface = %popup.wl_surface().id(),
                max_depth = MAX_DEPTH,
                "a popup not under a toplevel, or nested too deep: dismissed"
            );
            popup.send_popup_done();
            return;
        };
        // Its parent is the toplevel or one of its tracked popups (dismissing a popup
        // takes the popups above it out of smithay's tree too, so the parent's being there
        // means every popup between is).
        let parent = popup.get_parent_surface();
        let parent_tracked = parent.as_ref() == Some(&toplevel)
            || tracked_under(&toplevel, parent.as_ref()).is_some();
        if !parent_tracked {
            // Under a popup planar dismissed (and the client has not destroyed yet):
            // smithay would file it under the toplevel, where it is never drawn.
            debug!(surface = %popup.wl_surface().id(), "a popup under a dismissed one: dismissed");
            popup.send_popup_done();
            return;
        }
        let surface = popup.wl_surface().clone();
        let counted = self.count_popup(&surface, true);
        if counted == Some(false) {
            warn!(
                surface = %surface.id(),
                max = MAX_POPUPS,
                "a client with too many popups: the new one is dismissed"
            );
            popup.send_popup_done();
            return;
        }
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(popup)) {
            warn!(?err, "a popup could not be tracked");
            self.count_popup(&surface, false);
        }
    }

    /// Counts `surface`'s popup in (`add`) or out of its client's popups, once each way.
    /// `Some(false)` when the client already has `MAX_POPUPS`; `None` for a client
    /// without planar's data (not counted).
    fn count_popup(&self, surface: &WlSurface, add: bool) -> Option<bool> {
        let client = self.display_handle.get_client(surface.id()).ok()?;
        let data = client.get_data::<ClientState>()?;
        with_states(surface, |states| {
            states
                .data_map
                .insert_if_missing_threadsafe(Counted::default);
            let mark = &states.data_map.get::<Counted>()?.0;
            // Only a change of the mark changes the count: a popup counts once each way.
            if mark
                .compare_exchange(!add, add, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return Some(true);
            }
            let changed = if add {
                data.popups
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n < MAX_POPUPS).then_some(n + 1)
                    })
                    .is_ok()
            } else {
                data.popups.fetch_sub(1, Ordering::SeqCst);
                true
            };
            if !changed {
                mark.store(false, Ordering::SeqCst);
            }
            Some(changed)
        })
    }

    /// The output of the toplevel at the top of the chain of the popup whose wl_surface is
    /// `surface`.
    pub(super) fn popup_output(&self, surface: &WlSurface) -> Option<smithay::output::Output> {
        let (toplevel, _) = chain_from(surface)?;
        let window = self.window_for(&toplevel)?;
        Some(self.output_of(window))
    }

    /// Where `positioner` puts a popup: its geometry relative to the parent's window
    /// geometry, kept on the toplevel's output as far as the positioner allows, the
    /// position clamped to ±LIMIT. `None` when the popup is not shown (see
    /// [`parent_chain`]).
    fn popup_geometry(
        &self,
        popup: &PopupSurface,
        positioner: PositionerState,
    ) -> Option<Rectangle<i32, Logical>> {
        let (toplevel, offset) = parent_chain(popup)?;
        let target = self.window_for(&toplevel).and_then(|window| {
            let at = self.space.element_location(window)?;
            let output = self.space.output_geometry(&self.output_of(window))?;
            let parent_origin = add(at, offset);
            Some(Rectangle::new(sub(output.loc, parent_origin), output.size))
        });
        let mut geometry = match target {
            Some(target) => positioner.get_unconstrained_geometry(target),
            None => positioner.get_geometry(),
        };
        geometry.loc = (
            geometry.loc.x.clamp(-LIMIT, LIMIT),
            geometry.loc.y.clamp(-LIMIT, LIMIT),
        )
            .into();
        Some(geometry)
    }

    /// Places `popup` by `positioner` (pending until the next configure). `false` when it
    /// is not shown: it is dismissed.
    fn place_popup(&mut self, popup: &PopupSurface, positioner: PositionerState) -> bool {
        let Some(geometry) = self.popup_geometry(popup, positioner) else {
            popup.send_popup_done();
            return false;
        };
        popup.with_pending_state(|state| {
            state.geometry = geometry;
            state.positioner = positioner;
        });
        true
    }

    /// `xdg_popup.reposition`: placed again, answered with `repositioned` and a configure.
    pub(super) fn reposition_popup(
        &mut self,
        popup: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        if self.place_popup(&popup, positioner) {
            popup.send_repositioned(token);
        }
    }

    /// A popup went away (`xdg_popup.destroy`, or its client): the popups above it are
    /// dismissed with it, and a frame without it is drawn while its client is connected
    /// (on disconnect its surfaces go first, and the screenshot keeps the client's last
    /// frame, as for windows).
    pub(super) fn popup_gone(&mut self, popup: &PopupSurface) {
        self.count_popup(popup.wl_surface(), false);
        let kind = PopupKind::Xdg(popup.clone());
        if let Some((toplevel, _)) = parent_chain(popup) {
            let _ = PopupManager::dismiss_popup(&toplevel, &kind);
        }
        self.popups.cleanup();
        if popup.wl_surface().alive() && swap_shown(popup.wl_surface(), false) {
            self.present();
        }
    }

    /// A toplevel is going: its popups hear `popup_done` (they are no longer shown).
    pub(super) fn dismiss_popups_of(&mut self, toplevel: &WlSurface) {
        if toplevel.alive() {
            for (popup, _) in PopupManager::popups_for_surface(toplevel) {
                let PopupKind::Xdg(xdg) = &popup else {
                    continue;
                };
                // Dismissing a popup dismisses the popups above it too.
                if xdg.get_parent_surface().as_ref() == Some(toplevel) {
                    let _ = PopupManager::dismiss_popup(toplevel, &popup);
                }
            }
        }
        self.popups.cleanup();
    }
}

/// A commit whose surface tree's root is `root`: when that is an xdg_popup's surface,
/// answers its initial commit with a configure, imports its buffers and draws; returns
/// whether it was a popup's.
pub(super) fn popup_committed(state: &mut State, root: &WlSurface) -> bool {
    if get_role(root) != Some(XDG_POPUP_ROLE) {
        return false;
    }
    state.popups.commit(root);
    // Searched in its toplevel's tree only (smithay's `find_popup` lists every client's).
    let Some(PopupKind::Xdg(popup)) =
        chain_from(root).and_then(|(toplevel, _)| tracked_under(&toplevel, Some(root)))
    else {
        // Dismissed, or under a destroyed popup: not shown.
        return true;
    };
    // Waits for idle (`waits`) watch this: a menu's first buffer is the client at work.
    state.input.commits += 1;
    if !popup.is_initial_configure_sent() {
        // The initial commit (or the first after unmapping): placed now, against where
        // its parent is by now.
        let positioner = popup.with_pending_state(|s| s.positioner);
        if !state.place_popup(&popup, positioner) {
            return true;
        }
        // Its toplevel's output's scale before it draws its first buffer.
        if let Some(output) = state.popup_output(root) {
            crate::outputs::set_preferred_scale(root, &output);
        }
        if let Err(err) = popup.send_configure() {
            warn!(?err, "a popup's initial configure could not be sent");
        }
    }
    if let Some(backend) = state.backend.as_mut() {
        backend.import_surface_tree(root);
    }
    let has_buffer = with_renderer_surface_state(root, |s| s.buffer().is_some()).unwrap_or(false);
    let was_shown = swap_shown(root, has_buffer);
    if has_buffer && !was_shown {
        // Its toplevel's output's scale (a wp_fractional_scale_v1 made before the popup
        // role was given the first output's), then it enters its outputs (wl_surface.enter).
        if let Some(output) = state.popup_output(root) {
            crate::outputs::set_preferred_scale(root, &output);
        }
        state.space.refresh();
    }
    // As for windows: a commit without a buffer to a popup never shown changes nothing.
    if has_buffer || was_shown {
        state.present();
    } else if state.on_demand {
        state.send_frame_callbacks();
    }
    true
}
