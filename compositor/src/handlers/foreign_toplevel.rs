//! ext_foreign_toplevel_list_v1: every toplevel is listed with its title and app id from
//! the moment its xdg_toplevel exists until it is destroyed. The handle is kept in the
//! surface's data map. Sandboxed clients do not see the global (see `desktop`).

use smithay::{
    delegate_foreign_toplevel_list,
    wayland::{
        compositor::with_states,
        foreign_toplevel_list::{
            ForeignToplevelHandle, ForeignToplevelListHandler, ForeignToplevelListState,
        },
        shell::xdg::{ToplevelSurface, XdgToplevelSurfaceData},
    },
};

use crate::state::State;

impl ForeignToplevelListHandler for State {
    fn foreign_toplevel_list_state(&mut self) -> &mut ForeignToplevelListState {
        &mut self.desktop.foreign_toplevels
    }
}

/// The title and app id a toplevel has set (empty when unset).
fn title_and_app_id(toplevel: &ToplevelSurface) -> (String, String) {
    with_states(toplevel.wl_surface(), |states| {
        states
            .data_map
            .get::<XdgToplevelSurfaceData>()
            .map(|d| {
                let d = d.lock().unwrap();
                (
                    d.title.clone().unwrap_or_default(),
                    d.app_id.clone().unwrap_or_default(),
                )
            })
            .unwrap_or_default()
    })
}

fn handle_of(toplevel: &ToplevelSurface) -> Option<ForeignToplevelHandle> {
    with_states(toplevel.wl_surface(), |states| {
        states.data_map.get::<ForeignToplevelHandle>().cloned()
    })
}

impl State {
    /// A new toplevel: listed for every client bound to the list.
    pub fn list_toplevel(&mut self, toplevel: &ToplevelSurface) {
        let (title, app_id) = title_and_app_id(toplevel);
        let handle = self
            .desktop
            .foreign_toplevels
            .new_toplevel::<State>(title, app_id);
        with_states(toplevel.wl_surface(), |states| {
            states.data_map.insert_if_missing(|| handle);
        });
    }

    /// The toplevel's title or app id changed: listeners hear the new ones.
    pub fn relist_toplevel(&mut self, toplevel: &ToplevelSurface) {
        let Some(handle) = handle_of(toplevel) else {
            return;
        };
        let (title, app_id) = title_and_app_id(toplevel);
        if handle.title() != title || handle.app_id() != app_id {
            handle.send_title(&title);
            handle.send_app_id(&app_id);
            handle.send_done();
        }
    }

    /// The toplevel is gone: listeners get `closed`.
    pub fn unlist_toplevel(&mut self, toplevel: &ToplevelSurface) {
        if let Some(handle) = handle_of(toplevel) {
            self.desktop.foreign_toplevels.remove_toplevel(&handle);
        }
    }
}

delegate_foreign_toplevel_list!(State);
