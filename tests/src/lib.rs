//! planar-tests: fixtures for running planar, the patterns test clients draw, and the
//! wayland-client code that draws them. The demo client and the scenario tests share it.

pub mod alloc;
pub mod capture;
pub mod client;
pub mod conformance;
pub mod dmabuf_client;
pub mod encode;
pub mod fixture;
pub mod input_client;
pub mod memfd;
pub mod pattern;
pub mod shm_client;
pub mod test_client;
pub mod window;
pub mod x11;
