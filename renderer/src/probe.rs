//! Which advertised EGL pairs really import: each is tried once with a small sealed-memfd
//! buffer when the renderer starts. EGL lists formats it cannot import from every kind of
//! buffer (llvmpipe lists multi-planar YUV but refuses it from memfds with EGL_BAD_ALLOC),
//! and a pair in the zero-copy tranche must not fail. The probe runs on the renderer
//! selection thread: creating an EGLImage needs the display only, not a context.
//!
//! Not cached: the ~100 test imports take ~2 ms (debug build, logged as "EGL pairs known"),
//! against ~60 ms for loading Mesa. A cache on disk was built and measured: no difference in
//! screenshot tests per minute, and one more thing that can go stale (Mesa's environment
//! variables, planar's own build) was not worth it.

use std::os::fd::OwnedFd;

use planar_protocol::{format::format_info, names::fourcc_chars};
use smithay::backend::{
    allocator::{
        dmabuf::{Dmabuf, DmabufFlags},
        Fourcc, Modifier,
    },
    egl::{ffi::egl as eglffi, EGLDisplay},
};
use tracing::info;

use crate::import::EglPairs;

const PROBE_SIZE: u32 = 64;

/// Splits `pairs` into those EGL imports and those it refuses.
pub(crate) fn probe(display: &EGLDisplay, pairs: &[(u32, u64)]) -> EglPairs {
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for &(code, modifier) in pairs {
        match probe_one(display, code, modifier) {
            Some(true) => ok.push((code, modifier)),
            Some(false) => refused.push((code, modifier)),
            // Formats outside planar's table are never accepted by validation anyway.
            None => {}
        }
    }
    if !refused.is_empty() {
        let names: Vec<String> = refused
            .iter()
            .map(|(f, m)| format!("{}:{m:#x}", fourcc_chars(*f)))
            .collect();
        info!(refused = %names.join(" "), "EGL lists these pairs but refuses them from memory buffers; they go to the CPU path");
    }
    EglPairs {
        zero_copy: ok,
        refused,
    }
}

fn probe_one(display: &EGLDisplay, code: u32, modifier: u64) -> Option<bool> {
    let info = format_info(code)?;
    let fourcc = Fourcc::try_from(code).ok()?;
    let mut builder = Dmabuf::builder(
        (PROBE_SIZE as i32, PROBE_SIZE as i32),
        fourcc,
        Modifier::from(modifier),
        DmabufFlags::empty(),
    );
    for i in 0..usize::from(info.planes) {
        let stride = (info.min_stride(i, PROBE_SIZE)? as u32).next_multiple_of(256);
        let size = stride as u64 * u64::from(info.plane_height(i, PROBE_SIZE));
        let fd = sealed_memfd(size).ok()?;
        builder.add_plane(fd, i as u32, 0, stride);
    }
    let dmabuf = builder.build()?;
    match display.create_image_from_dmabuf(&dmabuf) {
        Ok(image) => {
            // SAFETY: the image was just created on this display and is not used.
            unsafe { eglffi::DestroyImageKHR(**display.get_display_handle(), image) };
            Some(true)
        }
        Err(_) => Some(false),
    }
}

fn sealed_memfd(size: u64) -> std::io::Result<OwnedFd> {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let fd = memfd_create(
        "planar-egl-probe",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    ftruncate(&fd, size)?;
    fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW)?;
    Ok(fd)
}
