//! Mapping a client's buffer for reading, and the dma-buf rules around every read: wait
//! for the implicit write fence (bounded), and bracket the read with
//! DMA_BUF_IOCTL_SYNC START|READ … END|READ, every START paired with its END by
//! [`SyncGuard`].
//!
//! Known limit: SYNC START waits on the same write fences as the poll, without a
//! timeout. It is only called once the poll has seen them signalled, so it does not block
//! unless a new fence is attached between the two calls (a client racing its own reads).
//!
//! The ioctl goes through `libc` rather than rustix: rustix's typed ioctl wants the opcode
//! as a const generic, and this one call is clearer written out.

use std::{
    os::fd::{AsRawFd, BorrowedFd},
    ptr::NonNull,
    time::Duration,
};

/// A shared mapping of the first `len` bytes of an fd: read-only for client buffers,
/// writable for planar's own ([`Mapping::writable`]).
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

impl Mapping {
    pub fn new(fd: BorrowedFd<'_>, len: usize) -> std::io::Result<Self> {
        Self::map(fd, len, false)
    }

    /// A read-write mapping, for a memfd planar made and sized itself (never a client's:
    /// a client could shrink it under us).
    pub fn writable(fd: BorrowedFd<'_>, len: usize) -> std::io::Result<Self> {
        Self::map(fd, len, true)
    }

    fn map(fd: BorrowedFd<'_>, len: usize, writable: bool) -> std::io::Result<Self> {
        use rustix::mm::ProtFlags;
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
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
                prot,
                rustix::mm::MapFlags::SHARED,
                fd,
                0,
            )?
        };
        Ok(Mapping {
            ptr: NonNull::new(ptr.cast()).ok_or_else(|| std::io::Error::other("mmap gave null"))?,
            len,
            writable,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, writable; None for a read-only mapping.
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        // SAFETY: the mapping is `len` writable bytes, exclusively borrowed with `self`.
        self.writable
            .then(|| unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An XRGB8888 linear `width` x `height` image in a memfd planar makes (rows tightly
/// packed): as a dma-buf for the renderer's EGL import, and mapped writable for planar's
/// own writes. The copy frames and the output targets of the copy path (see `blit`).
pub(crate) fn xr24_memfd(
    name: &str,
    width: usize,
    height: usize,
) -> std::io::Result<(smithay::backend::allocator::dmabuf::Dmabuf, Mapping)> {
    use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
    use smithay::backend::allocator::{
        dmabuf::{Dmabuf, DmabufFlags},
        Fourcc, Modifier,
    };
    let too_big = || std::io::Error::other("too big for a dma-buf");
    let stride = width.checked_mul(4).ok_or_else(too_big)?;
    let len = stride.checked_mul(height).ok_or_else(too_big)?;
    let (w, h, stride32) = (
        i32::try_from(width).map_err(|_| too_big())?,
        i32::try_from(height).map_err(|_| too_big())?,
        u32::try_from(stride).map_err(|_| too_big())?,
    );
    let fd = memfd_create(name, MemfdFlags::CLOEXEC)?;
    ftruncate(&fd, len as u64)?;
    // Pages are only made resident as rows are written into them.
    let map = Mapping::writable(std::os::fd::AsFd::as_fd(&fd), len)?;
    let mut b = Dmabuf::builder(
        (w, h),
        Fourcc::Xrgb8888,
        Modifier::Linear,
        DmabufFlags::empty(),
    );
    b.add_plane(fd, 0, 0, stride32);
    let dmabuf = b
        .build()
        .ok_or_else(|| std::io::Error::other("no dma-buf"))?;
    Ok((dmabuf, map))
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what new() mapped.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Waits until the buffer's implicit write fence has signalled (POLLIN on a dma-buf), at
/// most `limit`. Returns false on timeout.
pub fn wait_for_writers(fd: BorrowedFd<'_>, limit: Duration) -> bool {
    wait_for_all_writers(&[fd], limit)
}

/// Waits until the write fences of all `fds` have signalled, at most `limit` in all
/// (however many files there are). Returns false on timeout or a poll error.
pub fn wait_for_all_writers(fds: &[BorrowedFd<'_>], limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    let mut waiting: Vec<BorrowedFd<'_>> = fds.to_vec();
    while !waiting.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut polled: Vec<rustix::event::PollFd<'_>> = waiting
            .iter()
            .map(|fd| rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN))
            .collect();
        let timeout = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        match rustix::event::poll(&mut polled, Some(&timeout)) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
        let ready: Vec<bool> = polled
            .iter()
            .map(|p| p.revents().contains(rustix::event::PollFlags::IN))
            .collect();
        drop(polled);
        let mut i = 0;
        waiting.retain(|_| {
            i += 1;
            !ready[i - 1]
        });
        if !waiting.is_empty() && left.is_zero() {
            return false;
        }
    }
    true
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

/// The files of one read, each between its SYNC START and END: dropping the guard ENDs
/// every file that was STARTed, in reverse order, on every path out of the read (an
/// error on a later file, a failed conversion, a panic). `sync` is the ioctl; tests pass
/// a recorder.
pub struct SyncGuard<'a, F: FnMut(BorrowedFd<'a>, SyncPoint) -> std::io::Result<()>> {
    started: Vec<BorrowedFd<'a>>,
    sync: F,
    /// Successful SYNC calls so far (STARTs and ENDs).
    calls: u64,
}

impl<'a, F: FnMut(BorrowedFd<'a>, SyncPoint) -> std::io::Result<()>> SyncGuard<'a, F> {
    /// STARTs every file in order. When one fails, the files already STARTed get their
    /// END before the error is returned, with the number of successful calls made.
    pub fn start(
        fds: impl IntoIterator<Item = BorrowedFd<'a>>,
        sync: F,
    ) -> Result<Self, (std::io::Error, u64)> {
        let mut guard = SyncGuard {
            started: Vec::new(),
            sync,
            calls: 0,
        };
        for fd in fds {
            if let Err(e) = (guard.sync)(fd, SyncPoint::Start) {
                return Err((e, guard.end()));
            }
            guard.calls += 1;
            guard.started.push(fd);
        }
        Ok(guard)
    }

    /// ENDs every STARTed file; the successful SYNC calls made over the guard's life.
    pub fn finish(mut self) -> u64 {
        self.end()
    }

    fn end(&mut self) -> u64 {
        while let Some(fd) = self.started.pop() {
            match (self.sync)(fd, SyncPoint::End) {
                Ok(()) => self.calls += 1,
                Err(e) => tracing::warn!(%e, "DMA_BUF_IOCTL_SYNC end failed"),
            }
        }
        self.calls
    }
}

impl<'a, F: FnMut(BorrowedFd<'a>, SyncPoint) -> std::io::Result<()>> Drop for SyncGuard<'a, F> {
    fn drop(&mut self) {
        self.end();
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

    /// The bound is one bound for all files: a pipe with nothing to read stands in for a
    /// fence that never signals, next to a memfd that is ready.
    #[test]
    fn the_fence_wait_is_bounded_over_all_files() {
        let fd = rustix::fs::memfd_create("t", rustix::fs::MemfdFlags::empty()).unwrap();
        let (r1, _w1) = rustix::pipe::pipe().unwrap();
        let (r2, _w2) = rustix::pipe::pipe().unwrap();
        let (r3, _w3) = rustix::pipe::pipe().unwrap();
        let start = std::time::Instant::now();
        let fds = [fd.as_fd(), r1.as_fd(), r2.as_fd(), r3.as_fd()];
        assert!(!wait_for_all_writers(&fds, Duration::from_millis(200)));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        // Three bounds in a row would take 600 ms; the margin is for a loaded machine.
        assert!(
            took < Duration::from_millis(550),
            "one wait per file: {took:?}"
        );
        assert!(wait_for_all_writers(
            &[fd.as_fd()],
            Duration::from_millis(50)
        ));
    }

    /// Three files, the second refusing START: the first gets its END, the third is never
    /// touched.
    #[test]
    fn failed_start_ends_the_files_already_started() {
        let fds: Vec<_> = (0..3)
            .map(|_| rustix::fs::memfd_create("t", rustix::fs::MemfdFlags::empty()).unwrap())
            .collect();
        let bad = fds[1].as_raw_fd();
        let mut log = Vec::new();
        let result = SyncGuard::start(fds.iter().map(|f| f.as_fd()), |fd, point| {
            log.push((fd.as_raw_fd(), point));
            if fd.as_raw_fd() == bad && point == SyncPoint::Start {
                Err(std::io::Error::from_raw_os_error(libc::EIO))
            } else {
                Ok(())
            }
        });
        let (err, calls) = result.err().expect("the second START fails");
        assert_eq!(err.raw_os_error(), Some(libc::EIO));
        assert_eq!(calls, 2, "one START and its END succeeded");
        let first = fds[0].as_raw_fd();
        assert_eq!(
            log,
            vec![
                (first, SyncPoint::Start),
                (bad, SyncPoint::Start),
                (first, SyncPoint::End)
            ]
        );
    }

    /// Every START gets its END, in reverse order, whether the read finishes or the guard
    /// is dropped (an error or a panic in the conversion).
    #[test]
    fn every_start_is_ended_once() {
        let fds: Vec<_> = (0..2)
            .map(|_| rustix::fs::memfd_create("t", rustix::fs::MemfdFlags::empty()).unwrap())
            .collect();
        let (a, b) = (fds[0].as_raw_fd(), fds[1].as_raw_fd());
        let expected = vec![
            (a, SyncPoint::Start),
            (b, SyncPoint::Start),
            (b, SyncPoint::End),
            (a, SyncPoint::End),
        ];
        let mut log = Vec::new();
        let guard = SyncGuard::start(fds.iter().map(|f| f.as_fd()), |fd, point| {
            log.push((fd.as_raw_fd(), point));
            Ok(())
        })
        .ok()
        .unwrap();
        assert_eq!(guard.finish(), 4);
        assert_eq!(log, expected);

        let log = std::cell::RefCell::new(Vec::new());
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = SyncGuard::start(fds.iter().map(|f| f.as_fd()), |fd, point| {
                log.borrow_mut().push((fd.as_raw_fd(), point));
                Ok(())
            });
            panic!("a conversion panicked");
        }));
        assert!(dropped.is_err());
        assert_eq!(log.into_inner(), expected);
    }

    /// On a memfd (no sync ioctl) the real ioctl fails with ENOTTY at the first START,
    /// and nothing is ENDed.
    #[test]
    fn memfd_start_fails_without_end() {
        let fd = rustix::fs::memfd_create("t", rustix::fs::MemfdFlags::empty()).unwrap();
        let (err, calls) = SyncGuard::start([fd.as_fd()], sync_read).err().unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
        assert_eq!(calls, 0);
    }
}
