//! Client-side buffers on the host: memfds standing in for dma-bufs. The host kernel has
//! no udmabuf or dma-heap; Mesa's llvmpipe imports a sealed memfd as a dma-buf.

use std::os::fd::OwnedFd;

use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};

/// A memfd of `bytes`, sealed against shrinking (what planar accepts).
pub fn sealed(name: &str, bytes: &[u8]) -> std::io::Result<OwnedFd> {
    let fd = unsealed(name, bytes)?;
    fcntl_add_seals(&fd, SealFlags::SHRINK)?;
    Ok(fd)
}

/// A memfd of `bytes` that can still shrink (what planar must refuse).
pub fn unsealed(name: &str, bytes: &[u8]) -> std::io::Result<OwnedFd> {
    let fd = memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    ftruncate(&fd, bytes.len() as u64)?;
    rustix::io::pwrite(&fd, bytes, 0)?;
    Ok(fd)
}
