//! Random request arguments, biased towards the values that break code: edge integers
//! (0, ±1, i32::MIN/MAX, u32::MAX …), small numbers that pass validation and get deeper,
//! DRM fourccs where a format is expected, odd strings, and file descriptors of every kind
//! a client can pass (sealed and unsealed memfds with data, both pipe ends, /dev/null, a
//! directory opened O_RDONLY and O_PATH, a real file, a socket).
//!
//! Known limit: memfds are at most 4 MiB, so a buffer over them stays small; the memory a
//! huge sparse buffer costs on the CPU path is tested elsewhere (bench/soak, issue 12).

use std::{
    ffi::CString,
    fs::File,
    os::fd::{AsRawFd, OwnedFd, RawFd},
    path::Path,
};

use fastrand::Rng;
use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};

/// DRM fourccs, so format arguments often name a real format.
const FOURCCS: &[&[u8; 4]] = &[
    b"XR24", b"AR24", b"XB24", b"AB24", b"RG16", b"NV12", b"NV21", b"NV16", b"P010", b"YU12",
    b"YUYV", b"UYVY", b"XR30", b"AR30", b"R8  ", b"GR88", b"Y410", b"XR48",
];

/// An i32 argument. `tame`: mostly small non-negative values, which pass validation and
/// let a client go deeper before a protocol error ends it.
pub fn int(rng: &mut Rng, tame: bool) -> i32 {
    if tame && rng.u8(..10) != 0 {
        return rng.i32(0..=256);
    }
    match rng.u8(..100) {
        0..=34 => rng.i32(0..=16),
        35..=49 => rng.i32(0..=4096),
        50..=74 => *pick(
            rng,
            &[
                0,
                -1,
                1,
                2,
                -2,
                i32::MIN,
                i32::MAX,
                i32::MIN + 1,
                i32::MAX - 1,
                65535,
                65536,
                16384,
                -16384,
                0x4000_0000,
            ],
        ),
        _ => rng.i32(..),
    }
}

/// A u32 argument (`tame` as for [`int`]).
pub fn uint(rng: &mut Rng, tame: bool) -> u32 {
    if tame && rng.u8(..10) != 0 {
        return rng.u32(0..=8);
    }
    match rng.u8(..100) {
        0..=34 => rng.u32(0..=16),
        35..=44 => u32::from_le_bytes(**pick(rng, FOURCCS)),
        45..=54 => rng.u32(0..=4096),
        55..=74 => *pick(
            rng,
            &[
                0,
                1,
                2,
                u32::MAX,
                u32::MAX - 1,
                0x7fff_ffff,
                0x8000_0000,
                0xffff,
                0x1_0000,
            ],
        ),
        _ => rng.u32(..),
    }
}

/// A wl_fixed argument (24.8 fixed point, raw).
pub fn fixed(rng: &mut Rng, tame: bool) -> i32 {
    match rng.u8(..4) {
        0 => int(rng, tame) << 8,
        1 => int(rng, tame),
        _ => rng.i32(-256 * 4096..=256 * 4096),
    }
}

/// A string argument (never with an interior NUL: the wire cannot carry one).
pub fn string(rng: &mut Rng) -> CString {
    let s: String = match rng.u8(..8) {
        0 => String::new(),
        1 => "planar fuzz".into(),
        2 => "x".repeat(rng.usize(1..4096)),
        3 => "ñ∑😀\u{200b}\u{fffd}".into(),
        4 => "%s%n%x/../../etc/passwd".into(),
        5 => "wl_surface".into(),
        _ => (0..rng.usize(0..64))
            .map(|_| char::from(rng.u8(1..=127)))
            .collect(),
    };
    CString::new(s).unwrap_or_default()
}

/// An array argument.
pub fn array(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.u8(..4) {
        0 => 0,
        1 => 4 * rng.usize(1..16),
        2 => rng.usize(1..64),
        _ => rng.usize(0..1024),
    };
    (0..len).map(|_| rng.u8(..)).collect()
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

/// The kinds of file descriptor the fuzzer passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    SealedMemfd,
    UnsealedMemfd,
    PipeRead,
    PipeWrite,
    DevNull,
    DirRdonly,
    DirPath,
    RealFile,
    Socket,
}

/// One fd of each kind, opened once per fuzz client: the backend dups an fd when it
/// marshals it, so passing the same one many times costs the client nothing.
pub struct Fds {
    fds: Vec<(FdKind, OwnedFd)>,
}

impl Fds {
    /// `dir` is the directory to pass and to make the real file in.
    pub fn new(rng: &mut Rng, dir: &Path) -> std::io::Result<Fds> {
        use FdKind::*;
        let mut fds = Vec::new();
        fds.push((SealedMemfd, memfd(rng, true)?));
        fds.push((UnsealedMemfd, memfd(rng, false)?));
        let (r, w) = rustix::pipe::pipe()?;
        fds.push((PipeRead, r));
        fds.push((PipeWrite, w));
        fds.push((DevNull, File::open("/dev/null")?.into()));
        fds.push((DirRdonly, File::open(dir)?.into()));
        let path = rustix::fs::open(
            dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        fds.push((DirPath, path));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("fuzz-file"))?;
        file.set_len(65536)?;
        rustix::io::pwrite(&file, &[0x5a; 4096], 0)?;
        fds.push((RealFile, file.into()));
        let (a, _b) = std::os::unix::net::UnixStream::pair()?;
        fds.push((Socket, a.into()));
        Ok(Fds { fds })
    }

    /// A random fd, mostly a memfd (what most fd arguments want); `tame`: mostly the
    /// sealed one.
    pub fn pick(&self, rng: &mut Rng, tame: bool) -> (FdKind, RawFd) {
        let i = match rng.u8(..10) {
            0..=7 if tame => 0,
            0..=4 => rng.usize(..2),
            _ => rng.usize(..self.fds.len()),
        };
        let (kind, fd) = &self.fds[i];
        (*kind, fd.as_raw_fd())
    }

    /// Shrinks or grows the unsealed memfd after it may have been passed: a client that
    /// truncates a buffer under the compositor.
    pub fn resize_unsealed(&self, rng: &mut Rng) {
        if let Some((_, fd)) = self.fds.iter().find(|(k, _)| *k == FdKind::UnsealedMemfd) {
            let _ = ftruncate(fd, *pick(rng, &[0, 1, 4096, 65536]));
        }
    }
}

/// A memfd of 0 bytes to 4 MiB with a pattern in its first 64 KiB; sealed against
/// shrinking (and sometimes growing and writing) when `sealed`.
fn memfd(rng: &mut Rng, sealed: bool) -> std::io::Result<OwnedFd> {
    let fd = memfd_create(
        "planar-fuzz",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let size = *pick(rng, &[0u64, 4096, 16384, 65536, 262_144, 1 << 20, 4 << 20]);
    ftruncate(&fd, size)?;
    let head: Vec<u8> = (0..size.min(65536)).map(|i| (i * 37 % 251) as u8).collect();
    rustix::io::pwrite(&fd, &head, 0)?;
    if sealed {
        let mut seals = SealFlags::SHRINK;
        if rng.u8(..4) == 0 {
            seals |= SealFlags::GROW | SealFlags::WRITE;
        }
        fcntl_add_seals(&fd, seals)?;
    }
    Ok(fd)
}
