//! The desktop globals a user's compositor offers (clipboard, decorations, fractional
//! scale, activation, cursor shape, pointer constraints, fifo, commit timing, content
//! type, alpha modifier, dialogs, toplevel icons, the foreign toplevel list, security
//! contexts), in one struct so `State` gains one field. Each protocol's handler is in its
//! own file beside this one; smithay 0.7 implements every protocol itself.
//!
//! Known limits: `wp_linux_drm_syncobj_manager_v1` is not offered (it needs a DRM device
//! that supports syncobjs; the host has none, and smithay's implementation needs its
//! `backend_drm` feature and a `DrmDeviceFd`).

use smithay::{
    reexports::wayland_server::{Client, DisplayHandle},
    wayland::{
        alpha_modifier::AlphaModifierState,
        commit_timing::CommitTimingManagerState,
        content_type::ContentTypeState,
        cursor_shape::CursorShapeManagerState,
        fifo::FifoManagerState,
        foreign_toplevel_list::ForeignToplevelListState,
        fractional_scale::FractionalScaleManagerState,
        pointer_constraints::PointerConstraintsState,
        relative_pointer::RelativePointerManagerState,
        security_context::SecurityContextState,
        selection::{data_device::DataDeviceState, primary_selection::PrimarySelectionState},
        shell::xdg::{decoration::XdgDecorationState, dialog::XdgDialogState},
        xdg_activation::XdgActivationState,
        xdg_toplevel_icon::XdgToplevelIconManager,
    },
};

use crate::state::{ClientState, State};

/// The states of the desktop globals; most only own their global.
#[allow(dead_code)] // most fields own a global: kept for the compositor's lifetime
pub struct DesktopStates {
    pub data_device: DataDeviceState,
    pub primary_selection: PrimarySelectionState,
    pub decoration: XdgDecorationState,
    pub fractional_scale: FractionalScaleManagerState,
    pub activation: XdgActivationState,
    pub cursor_shape: CursorShapeManagerState,
    pub pointer_constraints: PointerConstraintsState,
    pub relative_pointer: RelativePointerManagerState,
    pub fifo: FifoManagerState,
    pub commit_timing: CommitTimingManagerState,
    pub content_type: ContentTypeState,
    pub alpha_modifier: AlphaModifierState,
    pub dialog: XdgDialogState,
    pub toplevel_icon: XdgToplevelIconManager,
    pub foreign_toplevels: ForeignToplevelListState,
    pub security_context: SecurityContextState,
    pub pacing: super::pacing::Pacing,
    /// Live security-context listeners (bounded: see `security_context`).
    pub security_listeners: super::security_context::Listeners,
    /// xdg_toplevel_icon_v1 objects given to a toplevel (see `toplevel_icon`).
    /// Mime types offered so far by each data source (see `selection`).
    pub source_offers:
        std::collections::HashMap<smithay::reexports::wayland_server::backend::ObjectId, usize>,
    pub frozen_icons:
        std::collections::HashSet<smithay::reexports::wayland_server::backend::ObjectId>,
}

/// Whether `client` connected through a wp_security_context_v1 (a sandboxed client).
pub fn is_sandboxed(client: &Client) -> bool {
    client
        .get_data::<ClientState>()
        .is_some_and(|d| d.security_context.is_some())
}

impl DesktopStates {
    pub fn new(dh: &DisplayHandle) -> Self {
        DesktopStates {
            data_device: DataDeviceState::new::<State>(dh),
            primary_selection: PrimarySelectionState::new::<State>(dh),
            decoration: XdgDecorationState::new::<State>(dh),
            fractional_scale: FractionalScaleManagerState::new::<State>(dh),
            activation: XdgActivationState::new::<State>(dh),
            cursor_shape: CursorShapeManagerState::new::<State>(dh),
            pointer_constraints: PointerConstraintsState::new::<State>(dh),
            relative_pointer: RelativePointerManagerState::new::<State>(dh),
            fifo: FifoManagerState::new::<State>(dh),
            commit_timing: CommitTimingManagerState::new::<State>(dh),
            content_type: ContentTypeState::new::<State>(dh),
            alpha_modifier: AlphaModifierState::new::<State>(dh),
            dialog: XdgDialogState::new::<State>(dh),
            toplevel_icon: XdgToplevelIconManager::new::<State>(dh),
            // Listing every window is for the user's own tools, not for sandboxed apps.
            foreign_toplevels: ForeignToplevelListState::new_with_filter::<State>(dh, |c| {
                !is_sandboxed(c)
            }),
            // The protocol requires that clients inside a context cannot make another one.
            security_context: SecurityContextState::new::<State, _>(dh, |c| !is_sandboxed(c)),
            pacing: Default::default(),
            security_listeners: Default::default(),
            frozen_icons: Default::default(),
            source_offers: Default::default(),
        }
    }
}
