//! Which wl_shm formats planar advertises: a compositor policy, fixed before the renderer
//! is known. The renderer only says which memory formats it can import
//! (`RendererInfo::shm_formats`); `State::install_backend` withdraws any of these it cannot.

use smithay::backend::allocator::Fourcc;

/// The wl_shm formats planar advertises, before it knows which renderer it will get: the
/// ones that both GLES (llvmpipe and GPU drivers with GL_EXT_texture_type_2_10_10_10_REV)
/// and pixman import. Advertising a fixed set lets clients bind wl_shm while the renderer
/// is still starting, and makes a client behave the same under both renderers.
pub const SHM_FORMATS: &[Fourcc] = &[
    Fourcc::Argb8888,
    Fourcc::Xrgb8888,
    Fourcc::Abgr8888,
    Fourcc::Xbgr8888,
    Fourcc::Abgr2101010,
    Fourcc::Xbgr2101010,
];

/// The wl_shm code of a DRM fourcc (ARGB/XRGB8888 have their own codes; every other
/// format uses its fourcc): smithay's table.
pub use smithay::wayland::shm::fourcc_to_shm_format as shm_format;

#[cfg(test)]
mod tests {
    use super::*;
    use smithay::reexports::wayland_server::protocol::wl_shm;

    /// Every advertised format has a wl_shm code, and the two with their own codes get them.
    #[test]
    fn every_advertised_format_has_a_wl_shm_code() {
        for f in SHM_FORMATS {
            assert!(shm_format(*f).is_some(), "{f}");
        }
        assert_eq!(shm_format(Fourcc::Argb8888), Some(wl_shm::Format::Argb8888));
        assert_eq!(shm_format(Fourcc::Xrgb8888), Some(wl_shm::Format::Xrgb8888));
        assert_eq!(shm_format(Fourcc::Abgr8888), Some(wl_shm::Format::Abgr8888));
    }
}
