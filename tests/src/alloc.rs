//! Where client buffers come from: a sealed memfd (any machine), udmabuf (a memfd turned
//! into a real dma-buf by /dev/udmabuf) or the system dma-heap (/dev/dma_heap/system).
//! GBM is not in this build yet. The host kernel of planar's CI machines has neither
//! udmabuf nor dma-heaps; the guest tier does.

use std::{
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::Path,
};

use anyhow::{bail, Context};

use crate::memfd;

/// An allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alloc {
    Memfd,
    Udmabuf,
    Heap,
}

const UDMABUF: &str = "/dev/udmabuf";
const HEAP: &str = "/dev/dma_heap/system";

/// `--alloc`: auto picks the most real allocator the machine has and says which.
pub fn pick(asked: &str) -> anyhow::Result<(Alloc, String)> {
    let has = |p: &str| Path::new(p).exists();
    Ok(match asked {
        "memfd" => (Alloc::Memfd, "sealed memfd (asked)".into()),
        "udmabuf" if has(UDMABUF) => (Alloc::Udmabuf, "udmabuf (asked)".into()),
        "heap" if has(HEAP) => (Alloc::Heap, "dma-heap system (asked)".into()),
        "udmabuf" | "heap" => bail!(
            "--alloc {asked}: {} does not exist on this machine",
            if asked == "heap" { HEAP } else { UDMABUF }
        ),
        "gbm" => bail!("--alloc gbm is not in this build yet"),
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
