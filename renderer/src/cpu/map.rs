//! Mapping a client's buffer for reading, and the dma-buf rules around every read: wait
//! for the implicit write fence (bounded), and bracket the read with
//! DMA_BUF_IOCTL_SYNC START|READ … END|READ.
//!
//! The ioctl goes through `libc` rather than rustix: rustix's typed ioctl wants the opcode
//! as a const generic, and this one call is clearer written out.

use std::{
    os::fd::{AsRawFd, BorrowedFd},
    ptr::NonNull,
    time::Duration,
};

/// A read-only shared mapping of the first `len` bytes of an fd.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    pub fn new(fd: BorrowedFd<'_>, len: usize) -> std::io::Result<Self> {
        if len == 0 {
            return Err(std::io::Error::other("nothing to map"));
        }
        // SAFETY: a fresh mapping; the protocol layer only lets through dma-bufs and memfds
        // sealed against shrinking, so the pages cannot vanish under us (a dma-buf mapping
        // past its end fails here with EINVAL instead).
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::SHARED,
                fd,
                0,
            )?
        };
        Ok(Mapping {
            ptr: NonNull::new(ptr.cast()).ok_or_else(|| std::io::Error::other("mmap gave null"))?,
            len,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what new() mapped.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Waits until the buffer's implicit write fence has signalled (POLLIN on a dma-buf), at
/// most `limit`. Returns false on timeout: the read goes ahead, a warning says so.
pub fn wait_for_writers(fd: BorrowedFd<'_>, limit: Duration) -> bool {
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::time::Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: i64::from(limit.subsec_nanos()),
    };
    matches!(rustix::event::poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
}

const DMA_BUF_SYNC_READ: u64 = 1;
const DMA_BUF_SYNC_START: u64 = 0;
const DMA_BUF_SYNC_END: u64 = 4;
/// _IOW('b', 0, struct dma_buf_sync { __u64 flags; })
const DMA_BUF_IOCTL_SYNC: libc::c_ulong = 0x4008_6200;

/// Which end of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPoint {
    Start,
    End,
}

/// DMA_BUF_IOCTL_SYNC for reading, retried on EINTR/EAGAIN. ENOTTY means the fd is not a
/// dma-buf: the caller knows which fds are, and only calls this on those.
pub fn sync_read(fd: BorrowedFd<'_>, point: SyncPoint) -> std::io::Result<()> {
    let flags = DMA_BUF_SYNC_READ
        | match point {
            SyncPoint::Start => DMA_BUF_SYNC_START,
            SyncPoint::End => DMA_BUF_SYNC_END,
        };
    loop {
        let arg = flags;
        // SAFETY: DMA_BUF_IOCTL_SYNC reads one u64 from the pointer.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), DMA_BUF_IOCTL_SYNC as _, &arg as *const u64) };
        if r == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
            _ => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn memfd_maps_and_has_no_sync_ioctl() {
        let fd = rustix::fs::memfd_create("t", rustix::fs::MemfdFlags::empty()).unwrap();
        rustix::fs::ftruncate(&fd, 8192).unwrap();
        rustix::io::pwrite(&fd, b"planar", 100).unwrap();
        let m = Mapping::new(fd.as_fd(), 8192).unwrap();
        assert_eq!(&m.bytes()[100..106], b"planar");
        let err = sync_read(fd.as_fd(), SyncPoint::Start).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
        // A memfd is always "readable": no fence to wait for.
        assert!(wait_for_writers(fd.as_fd(), Duration::from_millis(10)));
    }
}
