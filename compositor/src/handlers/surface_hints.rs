//! wp_content_type_manager_v1, wp_alpha_modifier_v1, xdg_wm_dialog_v1 and
//! xdg_toplevel_icon_manager_v1: hints about a surface, kept by smithay in the surface's
//! state. The alpha multiplier is applied by smithay's surface render element, i.e. to
//! wl_shm buffers and dma-bufs drawn through EGL; planar's CPU-path dma-buf textures are
//! drawn without it (a known limit). Content type, dialog modality and icons change
//! nothing in a headless compositor that has one placement policy and no title bars.

use smithay::{
    delegate_alpha_modifier, delegate_content_type, delegate_xdg_dialog,
    wayland::{
        shell::xdg::{dialog::XdgDialogHandler, ToplevelSurface},
        xdg_toplevel_icon::XdgToplevelIconHandler,
    },
};
use tracing::debug;

use crate::state::State;

impl XdgDialogHandler for State {
    fn modal_changed(&mut self, _toplevel: ToplevelSurface, is_modal: bool) {
        debug!(is_modal, "dialog modality changed");
    }
}

impl XdgToplevelIconHandler for State {}

delegate_content_type!(State);
delegate_alpha_modifier!(State);
delegate_xdg_dialog!(State);
// xdg_toplevel_icon's dispatch is in `toplevel_icon` (one request is checked first).
