//! What a client's buffer fd really is: a dma-buf (and which exporter made it), a memfd
//! sealed against shrinking, or something planar must refuse.
//!
//! A memfd that can shrink would let a client truncate it after `created` and SIGBUS the
//! compositor on the next read (llvmpipe's EGL import mmaps it too), so only sealed ones
//! are taken, on every import path.

use std::os::fd::{AsRawFd, BorrowedFd};

use rustix::fs::{fcntl_get_seals, fstat, fstatfs, SealFlags};

/// `f_type` of dma-buf fds (DMA_BUF_MAGIC in linux/magic.h).
pub const DMA_BUF_MAGIC: i64 = 0x444d_4142;

/// What kind of fd a plane came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdKind {
    /// A real dma-buf; `exporter` is `exp_name` from /proc/self/fdinfo (udmabuf,
    /// system for the dma-heap, a DRM driver name …).
    DmaBuf { exporter: Option<String> },
    /// Not a dma-buf, but sealed against shrinking: safe to map.
    SealedFile,
}

impl FdKind {
    /// Whether the buffer certainly has a linear layout even with the implicit modifier:
    /// it cannot come from a tiling GPU.
    pub fn implicitly_linear(&self) -> bool {
        match self {
            FdKind::SealedFile => true,
            FdKind::DmaBuf { exporter } => exporter.as_deref().is_some_and(|e| {
                e == "udmabuf" || e.starts_with("system") || e.starts_with("dma_heap")
            }),
        }
    }
}

/// Classifies `fd`, or says why it cannot be taken.
pub fn classify(fd: BorrowedFd<'_>) -> Result<FdKind, String> {
    let fs = fstatfs(fd).map_err(|e| format!("fstatfs failed: {e}"))?;
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between libcs
    if fs.f_type as i64 == DMA_BUF_MAGIC {
        return Ok(FdKind::DmaBuf {
            exporter: exporter_name(fd),
        });
    }
    let st = fstat(fd).map_err(|e| format!("fstat failed: {e}"))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(format!(
            "not a dma-buf and not a regular file (f_type {:#x}): it cannot be mapped",
            fs.f_type
        ));
    }
    match fcntl_get_seals(fd) {
        Ok(seals) if seals.contains(SealFlags::SHRINK) => Ok(FdKind::SealedFile),
        Ok(_) => Err(
            "not a dma-buf and not sealed against shrinking (F_SEAL_SHRINK): a truncate would crash the reader"
                .into(),
        ),
        Err(e) => Err(format!(
            "not a dma-buf, and its seals cannot be read ({e}): only sealed memfds are taken"
        )),
    }
}

/// The buffer's size: `lseek(fd, 0, SEEK_END)` for a dma-buf (its size is only told that
/// way), `st_size` for a file. `None` when it cannot be told.
pub fn size(fd: BorrowedFd<'_>, kind: &FdKind) -> Option<u64> {
    match kind {
        FdKind::SealedFile => fstat(fd).ok().map(|st| st.st_size as u64),
        FdKind::DmaBuf { .. } => {
            // The offset is shared with the client's copy of the fd: put it back.
            let here = rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).ok();
            let end = rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0)).ok();
            if let Some(here) = here {
                let _ = rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(here));
            }
            end
        }
    }
}

/// `exp_name` of a dma-buf, from /proc/self/fdinfo.
pub fn exporter_name(fd: BorrowedFd<'_>) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("exp_name:"))
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags};
    use std::os::fd::AsFd;

    #[test]
    fn sealed_memfd_is_taken_unsealed_is_not() {
        let fd = memfd_create("t", MemfdFlags::ALLOW_SEALING).unwrap();
        ftruncate(&fd, 4096).unwrap();
        let err = classify(fd.as_fd()).unwrap_err();
        assert!(err.contains("F_SEAL_SHRINK"), "{err}");
        fcntl_add_seals(&fd, SealFlags::SHRINK).unwrap();
        let kind = classify(fd.as_fd()).unwrap();
        assert_eq!(kind, FdKind::SealedFile);
        assert!(kind.implicitly_linear());
        assert_eq!(size(fd.as_fd(), &kind), Some(4096));
    }

    #[test]
    fn memfd_without_sealing_support_is_refused() {
        let fd = memfd_create("t", MemfdFlags::empty()).unwrap();
        ftruncate(&fd, 64).unwrap();
        assert!(classify(fd.as_fd()).is_err());
    }

    #[test]
    fn pipe_is_refused() {
        let (r, _w) = rustix::pipe::pipe().unwrap();
        let err = classify(r.as_fd()).unwrap_err();
        assert!(err.contains("cannot be mapped"), "{err}");
    }

    #[test]
    fn only_cpu_exporters_count_as_implicitly_linear() {
        let k = |e: &str| FdKind::DmaBuf {
            exporter: Some(e.into()),
        };
        assert!(k("udmabuf").implicitly_linear());
        assert!(k("system").implicitly_linear());
        assert!(!k("virtio_gpu").implicitly_linear());
        assert!(!FdKind::DmaBuf { exporter: None }.implicitly_linear());
    }
}
