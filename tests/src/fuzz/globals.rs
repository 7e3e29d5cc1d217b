//! The table of every global interface the fuzzer can bind, by name: planar's own globals
//! and the ones a desktop compositor offers (so a global planar gains is fuzzed the day it
//! appears). Deeper interfaces (wl_surface, xdg_toplevel, buffer params, capture frames …)
//! need no entry: they are reached through the `new_id` arguments of requests and events,
//! whose descriptors name their interface.
//!
//! Known limit: a global whose interface is in none of the crates below cannot be bound;
//! the fuzzer reports it as unknown and fails, so the table gets the new line.

use std::collections::{BTreeSet, HashMap};

use wayland_backend::protocol::Interface;
use wayland_client::Proxy;

macro_rules! interfaces {
    ($($t:ty),* $(,)?) => {
        vec![$(<$t as Proxy>::interface()),*]
    };
}

/// Global interfaces by name.
pub fn table() -> HashMap<&'static str, &'static Interface> {
    use wayland_client::protocol::*;
    use wayland_protocols::{ext, wp, xdg};
    use wayland_protocols_misc as misc;
    use wayland_protocols_wlr as wlr;
    let list: Vec<&'static Interface> = interfaces![
        wl_compositor::WlCompositor,
        wl_subcompositor::WlSubcompositor,
        wl_shm::WlShm,
        wl_output::WlOutput,
        wl_seat::WlSeat,
        wl_data_device_manager::WlDataDeviceManager,
        xdg::shell::client::xdg_wm_base::XdgWmBase,
        xdg::xdg_output::zv1::client::zxdg_output_manager_v1::ZxdgOutputManagerV1,
        xdg::decoration::zv1::client::zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
        xdg::activation::v1::client::xdg_activation_v1::XdgActivationV1,
        xdg::dialog::v1::client::xdg_wm_dialog_v1::XdgWmDialogV1,
        xdg::toplevel_icon::v1::client::xdg_toplevel_icon_manager_v1::XdgToplevelIconManagerV1,
        xdg::toplevel_tag::v1::client::xdg_toplevel_tag_manager_v1::XdgToplevelTagManagerV1,
        xdg::toplevel_drag::v1::client::xdg_toplevel_drag_manager_v1::XdgToplevelDragManagerV1,
        xdg::system_bell::v1::client::xdg_system_bell_v1::XdgSystemBellV1,
        xdg::foreign::zv2::client::zxdg_exporter_v2::ZxdgExporterV2,
        xdg::foreign::zv2::client::zxdg_importer_v2::ZxdgImporterV2,
        wp::viewporter::client::wp_viewporter::WpViewporter,
        wp::presentation_time::client::wp_presentation::WpPresentation,
        wp::single_pixel_buffer::v1::client::wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1,
        wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1,
        wp::fractional_scale::v1::client::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1,
        wp::cursor_shape::v1::client::wp_cursor_shape_manager_v1::WpCursorShapeManagerV1,
        wp::pointer_constraints::zv1::client::zwp_pointer_constraints_v1::ZwpPointerConstraintsV1,
        wp::relative_pointer::zv1::client::zwp_relative_pointer_manager_v1::ZwpRelativePointerManagerV1,
        wp::pointer_gestures::zv1::client::zwp_pointer_gestures_v1::ZwpPointerGesturesV1,
        wp::pointer_warp::v1::client::wp_pointer_warp_v1::WpPointerWarpV1,
        wp::fifo::v1::client::wp_fifo_manager_v1::WpFifoManagerV1,
        wp::commit_timing::v1::client::wp_commit_timing_manager_v1::WpCommitTimingManagerV1,
        wp::content_type::v1::client::wp_content_type_manager_v1::WpContentTypeManagerV1,
        wp::alpha_modifier::v1::client::wp_alpha_modifier_v1::WpAlphaModifierV1,
        wp::security_context::v1::client::wp_security_context_manager_v1::WpSecurityContextManagerV1,
        wp::linux_drm_syncobj::v1::client::wp_linux_drm_syncobj_manager_v1::WpLinuxDrmSyncobjManagerV1,
        wp::color_representation::v1::client::wp_color_representation_manager_v1::WpColorRepresentationManagerV1,
        wp::color_management::v1::client::wp_color_manager_v1::WpColorManagerV1,
        wp::tearing_control::v1::client::wp_tearing_control_manager_v1::WpTearingControlManagerV1,
        wp::idle_inhibit::zv1::client::zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1,
        wp::keyboard_shortcuts_inhibit::zv1::client::zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1,
        wp::primary_selection::zv1::client::zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
        wp::text_input::zv3::client::zwp_text_input_manager_v3::ZwpTextInputManagerV3,
        wp::tablet::zv2::client::zwp_tablet_manager_v2::ZwpTabletManagerV2,
        wp::input_timestamps::zv1::client::zwp_input_timestamps_manager_v1::ZwpInputTimestampsManagerV1,
        wp::linux_explicit_synchronization::zv1::client::zwp_linux_explicit_synchronization_v1::ZwpLinuxExplicitSynchronizationV1,
        wp::drm_lease::v1::client::wp_drm_lease_device_v1::WpDrmLeaseDeviceV1,
        ext::image_copy_capture::v1::client::ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1,
        ext::image_capture_source::v1::client::ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
        ext::image_capture_source::v1::client::ext_foreign_toplevel_image_capture_source_manager_v1::ExtForeignToplevelImageCaptureSourceManagerV1,
        ext::foreign_toplevel_list::v1::client::ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1,
        ext::data_control::v1::client::ext_data_control_manager_v1::ExtDataControlManagerV1,
        ext::idle_notify::v1::client::ext_idle_notifier_v1::ExtIdleNotifierV1,
        ext::session_lock::v1::client::ext_session_lock_manager_v1::ExtSessionLockManagerV1,
        ext::transient_seat::v1::client::ext_transient_seat_manager_v1::ExtTransientSeatManagerV1,
        ext::workspace::v1::client::ext_workspace_manager_v1::ExtWorkspaceManagerV1,
        wlr::screencopy::v1::client::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
        wlr::data_control::v1::client::zwlr_data_control_manager_v1::ZwlrDataControlManagerV1,
        wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
        wlr::layer_shell::v1::client::zwlr_layer_shell_v1::ZwlrLayerShellV1,
        wlr::foreign_toplevel::v1::client::zwlr_foreign_toplevel_manager_v1::ZwlrForeignToplevelManagerV1,
        wlr::output_management::v1::client::zwlr_output_manager_v1::ZwlrOutputManagerV1,
        wlr::output_power_management::v1::client::zwlr_output_power_manager_v1::ZwlrOutputPowerManagerV1,
        wlr::gamma_control::v1::client::zwlr_gamma_control_manager_v1::ZwlrGammaControlManagerV1,
        wlr::export_dmabuf::v1::client::zwlr_export_dmabuf_manager_v1::ZwlrExportDmabufManagerV1,
        misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
        misc::zwp_input_method_v2::client::zwp_input_method_manager_v2::ZwpInputMethodManagerV2,
        misc::gtk_primary_selection::client::gtk_primary_selection_device_manager::GtkPrimarySelectionDeviceManager,
        misc::server_decoration::client::org_kde_kwin_server_decoration_manager::OrgKdeKwinServerDecorationManager,
        planar_protocol::test_protocol::client::planar_test_v1::PlanarTestV1,
    ];
    list.into_iter().map(|i| (i.name, i)).collect()
}

/// Every interface reachable from `roots` through requests' and events' `new_id` and
/// object arguments: what the fuzzer can create objects of, once those globals are bound.
pub fn reachable(roots: &[&'static Interface]) -> BTreeSet<&'static str> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&'static Interface> = roots.to_vec();
    while let Some(i) = todo.pop() {
        if !seen.insert(i.name) {
            continue;
        }
        for m in i.requests.iter().chain(i.events.iter()) {
            todo.extend(m.child_interface);
        }
    }
    seen
}

/// Every (interface, request) reachable from `roots` (and wl_display's and wl_registry's).
pub fn reachable_requests(roots: &[&'static Interface]) -> BTreeSet<(&'static str, &'static str)> {
    let mut todo = roots.to_vec();
    todo.push(<wayland_client::protocol::wl_display::WlDisplay as Proxy>::interface());
    let mut seen = BTreeSet::new();
    let mut out = BTreeSet::new();
    while let Some(i) = todo.pop() {
        if !seen.insert(i.name) {
            continue;
        }
        for m in i.requests {
            out.insert((i.name, m.name));
        }
        for m in i.requests.iter().chain(i.events.iter()) {
            todo.extend(m.child_interface);
        }
    }
    out
}
