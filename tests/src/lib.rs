//! planar-tests: fixtures for running planar, the patterns test clients draw, and the
//! wayland-client code that draws them. The demo client and the scenario tests share it.

/// An empty `Dispatch<WlRegistry, GlobalListContents>` for a client state that lists the
/// globals once (`registry_queue_init`) and wants no registry events after.
#[macro_export]
macro_rules! ignore_registry_events {
    ($state:ty) => {
        impl
            wayland_client::Dispatch<
                wayland_client::protocol::wl_registry::WlRegistry,
                wayland_client::globals::GlobalListContents,
            > for $state
        {
            fn event(
                _: &mut Self,
                _: &wayland_client::protocol::wl_registry::WlRegistry,
                _: wayland_client::protocol::wl_registry::Event,
                _: &wayland_client::globals::GlobalListContents,
                _: &wayland_client::Connection,
                _: &wayland_client::QueueHandle<Self>,
            ) {
            }
        }
    };
}

pub mod alloc;
pub mod capture;
pub mod conformance;
pub mod conformance_v6;
pub mod desktop_client;
pub mod dmabuf_client;
pub mod encode;
pub mod fixture;
pub mod fuzz;
pub mod input_client;
pub mod memfd;
pub mod pattern;
pub mod popup;
pub mod proc;
pub mod shm_client;
pub mod show;
pub mod soak;
pub mod steps_client;
pub mod test_client;
pub mod window;
pub mod x11;
pub mod xwayland;
