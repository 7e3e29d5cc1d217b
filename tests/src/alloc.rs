//! Where client buffers come from: GBM on a DRM render node (a GPU's own buffer, LINEAR,
//! single-plane RGB formats), udmabuf (a memfd turned into a real dma-buf by
//! /dev/udmabuf), the system dma-heap (/dev/dma_heap/system), or a sealed memfd (any
//! machine). The host kernel of planar's CI machines has none but the memfd; the guest
//! tier has them all.

use std::{
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::Path,
};

use anyhow::{bail, Context};

use crate::memfd;

/// An allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alloc {
    Gbm,
    Memfd,
    Udmabuf,
    Heap,
}

const UDMABUF: &str = "/dev/udmabuf";
const HEAP: &str = "/dev/dma_heap/system";

/// The first DRM render node.
pub fn render_node() -> Option<std::path::PathBuf> {
    let mut nodes: Vec<_> = std::fs::read_dir("/dev/dri")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    nodes.sort();
    nodes.into_iter().find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("renderD"))
    })
}

/// `--alloc`: auto picks the most real allocator the machine has for this format (GBM
/// only for single-plane RGB) and says which.
pub fn pick(asked: &str, single_plane_rgb: bool) -> anyhow::Result<(Alloc, String)> {
    let has = |p: &str| Path::new(p).exists();
    let node = render_node();
    Ok(match asked {
        "gbm" if node.is_some() && single_plane_rgb => (
            Alloc::Gbm,
            format!("gbm on {} (asked)", node.unwrap().display()),
        ),
        "gbm" if node.is_some() => bail!("--alloc gbm takes single-plane RGB formats only"),
        "gbm" => bail!("--alloc gbm: no DRM render node in /dev/dri on this machine"),
        "auto" if node.is_some() && single_plane_rgb => (
            Alloc::Gbm,
            format!(
                "gbm on {} (a DRM render node exists)",
                node.unwrap().display()
            ),
        ),
        "memfd" => (Alloc::Memfd, "sealed memfd (asked)".into()),
        "udmabuf" if has(UDMABUF) => (Alloc::Udmabuf, "udmabuf (asked)".into()),
        "heap" if has(HEAP) => (Alloc::Heap, "dma-heap system (asked)".into()),
        "udmabuf" | "heap" => bail!(
            "--alloc {asked}: {} does not exist on this machine",
            if asked == "heap" { HEAP } else { UDMABUF }
        ),
        "auto" if has(UDMABUF) => (Alloc::Udmabuf, format!("udmabuf ({UDMABUF} exists)")),
        "auto" if has(HEAP) => (Alloc::Heap, format!("dma-heap system ({HEAP} exists)")),
        "auto" => (
            Alloc::Memfd,
            format!("sealed memfd (no {UDMABUF}, no {HEAP})"),
        ),
        other => bail!("unknown allocator {other:?} (auto, gbm, udmabuf, heap, memfd)"),
    })
}

/// A buffer holding `bytes` (its size rounded up to whole pages for the dma-buf kinds).
pub fn alloc(kind: Alloc, bytes: &[u8]) -> anyhow::Result<OwnedFd> {
    match kind {
        Alloc::Memfd => Ok(memfd::sealed("planar-client", bytes)?),
        Alloc::Gbm => bail!("GBM buffers are allocated with their layout: use gbm_buffer"),
        Alloc::Udmabuf => udmabuf(bytes),
        Alloc::Heap => heap(bytes),
    }
}

fn page_round(n: usize) -> usize {
    n.div_ceil(4096).max(1) * 4096
}

#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}

/// _IOW('u', 0x42, struct udmabuf_create)
const UDMABUF_CREATE: libc::c_ulong = 0x4018_7542;
const UDMABUF_FLAGS_CLOEXEC: u32 = 1;

fn udmabuf(bytes: &[u8]) -> anyhow::Result<OwnedFd> {
    let mut padded = bytes.to_vec();
    padded.resize(page_round(bytes.len()), 0);
    // udmabuf wants a memfd sealed against shrinking.
    let mem = memfd::sealed("planar-udmabuf", &padded)?;
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(UDMABUF)
        .context(UDMABUF)?;
    let arg = UdmabufCreate {
        memfd: mem.as_raw_fd() as u32,
        flags: UDMABUF_FLAGS_CLOEXEC,
        offset: 0,
        size: padded.len() as u64,
    };
    // SAFETY: UDMABUF_CREATE reads the struct; on success it returns a new fd we own.
    let fd = unsafe { libc::ioctl(dev.as_raw_fd(), UDMABUF_CREATE as _, &arg) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("UDMABUF_CREATE");
    }
    // SAFETY: a fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[repr(C)]
struct HeapAlloc {
    len: u64,
    fd: u32,
    fd_flags: u32,
    heap_flags: u64,
}

/// _IOWR('H', 0x0, struct dma_heap_allocation_data)
const DMA_HEAP_IOCTL_ALLOC: libc::c_ulong = 0xC018_4800;

fn heap(bytes: &[u8]) -> anyhow::Result<OwnedFd> {
    let len = page_round(bytes.len());
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(HEAP)
        .context(HEAP)?;
    let mut arg = HeapAlloc {
        len: len as u64,
        fd: 0,
        fd_flags: (libc::O_RDWR | libc::O_CLOEXEC) as u32,
        heap_flags: 0,
    };
    // SAFETY: DMA_HEAP_IOCTL_ALLOC fills in `fd`.
    if unsafe { libc::ioctl(dev.as_raw_fd(), DMA_HEAP_IOCTL_ALLOC as _, &mut arg) } < 0 {
        return Err(std::io::Error::last_os_error()).context("DMA_HEAP_IOCTL_ALLOC");
    }
    // SAFETY: a fresh fd from the kernel.
    let fd = unsafe { OwnedFd::from_raw_fd(arg.fd as i32) };
    write_dmabuf(&fd, len, bytes)?;
    Ok(fd)
}

/// Writes into a dma-buf through a mapping, bracketed by DMA_BUF_IOCTL_SYNC for writing.
fn write_dmabuf(fd: &OwnedFd, len: usize, bytes: &[u8]) -> anyhow::Result<()> {
    const SYNC: libc::c_ulong = 0x4008_6200;
    let sync = |flags: u64| -> anyhow::Result<()> {
        loop {
            // SAFETY: DMA_BUF_IOCTL_SYNC reads one u64.
            if unsafe { libc::ioctl(fd.as_raw_fd(), SYNC as _, &flags) } == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if !matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EAGAIN)) {
                return Err(e).context("DMA_BUF_IOCTL_SYNC");
            }
        }
    };
    // SAFETY: a fresh shared mapping of the whole buffer, unmapped below.
    unsafe {
        let ptr = rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED,
            fd,
            0,
        )?;
        sync(2)?; // START | WRITE
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.cast::<u8>(), bytes.len());
        sync(2 | 4)?; // END | WRITE
        rustix::mm::munmap(ptr, len)?;
    }
    Ok(())
}

/// A GBM buffer object on the render node, LINEAR, filled row by row by `row(y, bytes)`;
/// returns its fd, offset, stride and modifier. GBM chooses the stride.
pub fn gbm_buffer(
    fourcc: drm_fourcc::DrmFourcc,
    width: u32,
    height: u32,
    mut row: impl FnMut(u32, &mut [u8]),
) -> anyhow::Result<(OwnedFd, u32, u32, u64)> {
    use gbm::{BufferObjectFlags, Device};
    // The render node first; then the primary node: without a 3D-capable driver (virtio-gpu
    // without virgl) GBM allocates dumb buffers, which only a primary node may create.
    let mut nodes: Vec<_> = std::fs::read_dir("/dev/dri")
        .context("/dev/dri")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("renderD")
                    || n.to_string_lossy().starts_with("card")
            })
        })
        .collect();
    nodes.sort_by_key(|p| !p.to_string_lossy().contains("renderD"));
    let mut last_err = None;
    let mut found = None;
    for node in nodes {
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&node)
        else {
            continue;
        };
        let Ok(device) = Device::new(file) else {
            continue;
        };
        match device.create_buffer_object::<()>(width, height, fourcc, BufferObjectFlags::LINEAR) {
            Ok(bo) => {
                found = Some((bo, node));
                break;
            }
            Err(e) => last_err = Some(format!("{}: {e}", node.display())),
        }
    }
    let (mut bo, node) = found.with_context(|| {
        format!(
            "gbm_bo_create (LINEAR) failed on every node: {}",
            last_err.unwrap_or_default()
        )
    })?;
    eprintln!("planar-client: gbm buffer object from {}", node.display());
    let bpp = planar_protocol::format::format_info(fourcc as u32)
        .and_then(|f| f.min_stride(0, 1))
        .context("unknown format")? as usize;
    bo.map_mut(0, 0, width, height, |m| {
        let stride = m.stride() as usize;
        let buf = m.buffer_mut();
        for y in 0..height {
            row(y, &mut buf[y as usize * stride..][..width as usize * bpp]);
        }
    })
    .context("gbm_bo_map")?;
    let fd = bo.fd().context("gbm_bo_get_fd")?;
    Ok((fd, bo.offset(0), bo.stride(), u64::from(bo.modifier())))
}
