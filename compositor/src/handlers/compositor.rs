//! wl_compositor / wl_subcompositor: buffers are imported at commit, and a window whose
//! client disconnects freezes the screenshot before its surfaces go away.

use std::sync::atomic::Ordering;

use smithay::{
    backend::renderer::utils::{on_commit_buffer_handler, with_renderer_surface_state},
    reexports::wayland_server::{
        protocol::{
            wl_callback::WlCallback, wl_compositor::WlCompositor,
            wl_subcompositor::WlSubcompositor, wl_surface::WlSurface,
        },
        Client,
    },
    wayland::compositor::{
        get_parent, get_role, with_states, CompositorClientState, CompositorHandler,
        CompositorState, SurfaceAttributes,
    },
    wayland::shell::xdg::XDG_POPUP_ROLE,
};

use crate::state::{ClientState, Shown, State};

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        match client.get_data::<ClientState>() {
            Some(data) => &data.compositor_state,
            // Xwayland's connection carries smithay's client data, not planar's.
            None => crate::xwayland::compositor_client_state(client)
                .expect("every client is inserted with ClientState or by XWayland::spawn"),
        }
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        self.watch_pacing(surface);
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<Self>(surface);
        self.note_fifo_barrier(surface);
        let root = root_of(surface);
        // Callbacks planar answers (a window's or a popup's tree, not a cursor's) count
        // for answering at once (see `present`).
        if !self.on_demand
            && (get_role(&root) == Some(XDG_POPUP_ROLE) || self.window_for(&root).is_some())
            && asks_frame(surface)
        {
            self.answers.asked();
        }
        if super::popup::popup_committed(self, &root) {
            return;
        }
        if self.window_for(&root).is_none() && self.xwayland.is_some() {
            // An X11 window's surface: pair it if Xwayland has announced it.
            self.pair_x11_surfaces();
        }
        surface_committed(self, &root);
    }

    fn destroyed(&mut self, surface: &WlSurface) {
        // A client that disconnects has its wl_surface destroyed before its xdg_toplevel:
        // the window goes away here.
        self.window_going(surface);
    }
}

/// The root of `surface`'s tree (itself unless it is a subsurface).
pub fn root_of(surface: &WlSurface) -> WlSurface {
    let mut root = surface.clone();
    while let Some(parent) = get_parent(&root) {
        root = parent;
    }
    root
}

/// Whether `surface`'s commit left frame callbacks to answer.
fn asks_frame(surface: &WlSurface) -> bool {
    with_states(surface, |states| {
        !states
            .cached_state
            .get::<SurfaceAttributes>()
            .current()
            .frame_callbacks
            .is_empty()
    })
}

/// A window's surface tree (`root`) was committed: import its buffers, draw, and give it
/// the keyboard when first shown. Nothing for surfaces that are no window (yet).
pub fn surface_committed(state: &mut State, root: &WlSurface) {
    let Some(window) = state.window_for(root).cloned() else {
        return;
    };
    window.on_commit();
    state.input.commits += 1;
    if let Some(toplevel) = window.toplevel() {
        if !toplevel.is_initial_configure_sent() {
            toplevel.send_configure();
        }
    }
    if let Some(backend) = state.backend.as_mut() {
        backend.import_surface_tree(root);
    }
    crate::xwayland::name_in_record(state, &window, root);
    let has_buffer = with_renderer_surface_state(root, |s| s.buffer().is_some()).unwrap_or(false);
    let was_shown = Shown::on(&window);
    // A window never shown that commits without a buffer (its first commit, asking for a
    // configure) changes nothing on the output: no frame. Drawing one made the frame count
    // depend on whether the renderer was ready yet (before it is, `present` draws nothing),
    // so `--clock virtual` runs numbered a client's first frame 1 or 2 by start-up timing.
    // With frames on demand a frame callback asked for on that commit is still answered
    // (the refresh tick answers it otherwise).
    if has_buffer || was_shown {
        state.present();
    } else if state.on_demand {
        state.send_frame_callbacks();
    }
    if has_buffer {
        window.user_data().insert_if_missing(Shown::default);
        if let Some(shown) = window.user_data().get::<Shown>() {
            let first = !shown.0.swap(true, Ordering::SeqCst);
            // Focus on first show (not before: foot 1.13 crashes on an enter before
            // its first configure), headless only: nested, a person at the host's
            // keyboard focuses by clicking (see `input`).
            if first && !state.is_nested() {
                state.focus_window(Some(window.clone()));
            }
        }
    }
}

// smithay's delegate_compositor! minus wl_surface, wl_region and wl_subsurface, which
// `guard` dispatches first (client sizes checked before smithay sees them).
super::dispatch::delegate_to!(CompositorState:
    globals [WlCompositor: (), WlSubcompositor: ()]
    objects [WlCompositor: (), WlCallback: (), WlSubcompositor: ()]
);
