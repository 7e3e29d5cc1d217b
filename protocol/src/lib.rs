//! planar-protocol: the dma-buf buffer model and planar's own linux-dmabuf implementation.
//!
//! No renderer and no EGL here: the format table and the validation are pure functions
//! (unit-tested and fuzzed), and the `zwp_linux_dmabuf_v1` global asks its handler for the
//! import decision when a buffer is created.

pub mod advertise;
pub mod client;
pub mod dmabuf;
pub mod fd;
pub mod format;
pub mod names;
pub mod test_protocol;
pub mod validate;

/// Re-exports for the delegate macro.
pub mod reexports {
    pub use smithay::backend::allocator::dmabuf::Dmabuf;
    pub use wayland_protocols::wp::linux_dmabuf::zv1::server::{
        zwp_linux_buffer_params_v1, zwp_linux_dmabuf_feedback_v1, zwp_linux_dmabuf_v1,
    };
    pub use wayland_server;
}
