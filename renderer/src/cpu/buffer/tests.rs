//! Unit tests of `CpuBuffer`: fences, sync, costs, row order, whole reads and copy frames
//! (memfd "dma-bufs", with stand-ins for the fence wait and the sync ioctl).

use super::*;
use smithay::backend::allocator::{dmabuf::DmabufFlags, Modifier};
use std::cell::RefCell;

thread_local! {
    static SYNCS: RefCell<Vec<SyncPoint>> = const { RefCell::new(Vec::new()) };
}

fn record_sync(_: BorrowedFd<'_>, point: SyncPoint) -> std::io::Result<()> {
    SYNCS.with(|s| s.borrow_mut().push(point));
    Ok(())
}

fn refuse_start(_: BorrowedFd<'_>, point: SyncPoint) -> std::io::Result<()> {
    SYNCS.with(|s| s.borrow_mut().push(point));
    match point {
        SyncPoint::Start => Err(std::io::Error::from_raw_os_error(libc::EBUSY)),
        SyncPoint::End => Ok(()),
    }
}

fn never_signals(_: &[BorrowedFd<'_>], _: Duration) -> bool {
    false
}

thread_local! {
    static WAITED: RefCell<Duration> = const { RefCell::new(Duration::ZERO) };
}

fn never_signals_counting(_: &[BorrowedFd<'_>], bound: Duration) -> bool {
    WAITED.with(|w| *w.borrow_mut() += bound);
    false
}

/// A fence that never signals, with a client committing again and again: the main
/// loop waits the bound once, then only polls (before, each commit waited 100 ms, so
/// ten commits a second held planar's main loop all the time).
#[test]
fn a_fence_that_never_signals_is_waited_for_once() {
    let (mut cpu, _fd) = buffer([0, 0, 255, 255]);
    cpu.sync = record_sync;
    cpu.fence_wait = never_signals_counting;
    let mut scratch = Vec::new();
    for _ in 0..10 {
        let r = cpu.read(0..4, &mut scratch, |_, _| Ok(()));
        assert!(matches!(r, Err(ReadError::FenceTimeout)), "{r:?}");
    }
    assert_eq!(WAITED.with(|w| *w.borrow()), FENCE_WAIT);
    assert_eq!(cpu.stats.fence_timeouts, 10);
    cpu.fence_wait = signalled;
    assert_eq!(cpu.read(0..4, &mut scratch, |_, _| Ok(())).unwrap(), 0..4);
    // Signalled once: the next timeout waits the full bound again.
    cpu.fence_wait = never_signals_counting;
    let _ = cpu.read(0..4, &mut scratch, |_, _| Ok(()));
    assert_eq!(WAITED.with(|w| *w.borrow()), FENCE_WAIT * 2);
}

fn signalled(_: &[BorrowedFd<'_>], _: Duration) -> bool {
    true
}

/// A 4x4 XRGB8888 memfd "dma-buf", every pixel `px`, taken for a real dma-buf (so
/// reads wait for fences and sync), with the pixman layout (frame kept).
fn buffer(px: [u8; 4]) -> (CpuBuffer, std::os::fd::OwnedFd) {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let fd = memfd_create("t", MemfdFlags::ALLOW_SEALING).unwrap();
    ftruncate(&fd, 64).unwrap();
    rustix::io::pwrite(&fd, &px.repeat(16), 0).unwrap();
    fcntl_add_seals(&fd, SealFlags::SHRINK).unwrap();
    let mut b = Dmabuf::builder(
        (4, 4),
        Fourcc::Xrgb8888,
        Modifier::Linear,
        DmabufFlags::empty(),
    );
    b.add_plane(fd.try_clone().unwrap(), 0, 0, 16);
    let dmabuf = b.build().unwrap();
    let info = planar_protocol::format::format_info(Fourcc::Xrgb8888 as u32).unwrap();
    let kinds = [FdKind::DmaBuf { exporter: None }];
    let cpu = CpuBuffer::new(
        &dmabuf,
        info,
        &kinds,
        &[],
        YuvEncoding::default(),
        (true, false),
    )
    .unwrap();
    (cpu, fd)
}

/// A fence that does not signal: nothing is read, synced or handed to the renderer,
/// the frame keeps the previous contents, the timeout is counted; once it signals,
/// the next read brackets itself with one START and one END.
#[test]
fn fence_timeout_keeps_the_previous_contents() {
    let (mut cpu, fd) = buffer([0, 0, 255, 255]);
    cpu.sync = record_sync;
    let mut scratch = Vec::new();
    assert_eq!(cpu.read(0..4, &mut scratch, |_, _| Ok(())).unwrap(), 0..4);
    let red = cpu.frame.clone().unwrap();
    SYNCS.with(|s| s.borrow_mut().clear());

    rustix::io::pwrite(&fd, &[255, 0, 0, 255].repeat(16), 0).unwrap();
    cpu.fence_wait = never_signals;
    let mut handed = 0;
    for _ in 0..2 {
        let r = cpu.read(0..4, &mut scratch, |_, _| {
            handed += 1;
            Ok(())
        });
        assert!(matches!(r, Err(ReadError::FenceTimeout)), "{r:?}");
    }
    assert_eq!(handed, 0);
    assert_eq!(cpu.frame.as_ref(), Some(&red), "the previous contents stay");
    assert_eq!(cpu.stats.fence_timeouts, 2);
    assert_eq!(cpu.stats.reads, 1);
    assert!(
        SYNCS.with(|s| s.borrow().is_empty()),
        "no SYNC without a signalled fence"
    );

    cpu.fence_wait = signalled;
    assert_eq!(cpu.read(0..4, &mut scratch, |_, _| Ok(())).unwrap(), 0..4);
    assert_ne!(cpu.frame.as_ref(), Some(&red));
    assert_eq!(
        SYNCS.with(|s| s.take()),
        vec![SyncPoint::Start, SyncPoint::End]
    );
    assert_eq!(cpu.stats.syncs, 4);
}

/// A memfd "dma-buf" of `fourcc` at `w`x`h`, planes packed one after the other, with
/// the pixman layout (frame kept).
fn yuv_buffer(fourcc: Fourcc, w: u32, h: u32, direct: &[Fourcc]) -> CpuBuffer {
    tight_buffer(fourcc, w, h, direct, (true, false))
}

/// The same with `frames`: (keep_frame, copy_frame).
fn tight_buffer(
    fourcc: Fourcc,
    w: u32,
    h: u32,
    direct: &[Fourcc],
    frames: (bool, bool),
) -> CpuBuffer {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let info = planar_protocol::format::format_info(fourcc as u32).unwrap();
    let mut b = Dmabuf::builder(
        (w as i32, h as i32),
        fourcc,
        Modifier::Linear,
        DmabufFlags::empty(),
    );
    let fd = memfd_create("t", MemfdFlags::ALLOW_SEALING).unwrap();
    let mut offset = 0;
    let mut kinds = Vec::new();
    for i in 0..usize::from(info.planes) {
        let px = info.plane_width(i, w).div_ceil(u32::from(info.block_width));
        let stride = px * u32::from(info.block_bytes[i]);
        b.add_plane(fd.try_clone().unwrap(), i as u32, offset, stride);
        offset += stride * info.plane_height(i, h);
        kinds.push(FdKind::SealedFile);
    }
    ftruncate(&fd, u64::from(offset)).unwrap();
    fcntl_add_seals(&fd, SealFlags::SHRINK).unwrap();
    cpu_of(&b.build().unwrap(), &kinds, direct, frames)
}

/// `dmabuf` on the CPU path, default encoding.
fn cpu_of(dmabuf: &Dmabuf, kinds: &[FdKind], direct: &[Fourcc], frames: (bool, bool)) -> CpuBuffer {
    let info = planar_protocol::format::format_info(dmabuf.format().code as u32).unwrap();
    CpuBuffer::new(dmabuf, info, kinds, direct, YuvEncoding::default(), frames).unwrap()
}

/// The budget counts what the buffer really holds: YUV the renderer converts costs its
/// plane textures (NV12 1.5 bytes a pixel), not an RGBA frame (4), and keeps no frame.
#[test]
fn planes_taken_as_they_are_cost_their_own_size() {
    let (w, h) = (1920usize, 1080usize);
    let converted = yuv_buffer(Fourcc::Nv12, w as u32, h as u32, &[]);
    let direct = yuv_buffer(Fourcc::Nv12, w as u32, h as u32, &[Fourcc::Nv12]);
    assert!(!converted.planes_direct && direct.planes_direct);
    let mapped = (w * h * 3 / 2) as u64;
    assert_eq!(converted.stats.bytes_mapped, mapped);
    assert_eq!(converted.cost(), mapped + (w * h * 4) as u64);
    assert_eq!(direct.cost(), mapped + mapped);
    assert!(
        direct.frame.is_none(),
        "no converted frame for planes taken as they are"
    );
    assert_eq!(direct.plane_textures(), vec![(w, h, 1), (w / 2, h / 2, 2)]);
}

/// Texture sizes at odd sizes: chroma rounds up, packed 4:2:2 is one four-byte texel
/// for two pixels, 16-bit samples are two bytes.
#[test]
fn plane_textures_at_odd_sizes() {
    let t = |f, d: &[Fourcc]| yuv_buffer(f, 61, 35, d).plane_textures();
    assert_eq!(t(Fourcc::Nv12, &[]), vec![(61, 35, 1), (31, 18, 2)]);
    assert_eq!(t(Fourcc::Yuyv, &[]), vec![(31, 35, 4)]);
    assert_eq!(t(Fourcc::P010, &[]), vec![(61, 35, 2), (31, 18, 4)]);
    assert_eq!(
        t(Fourcc::Yuv420, &[]),
        vec![(61, 35, 1), (31, 18, 1), (31, 18, 1)]
    );
    let yuyv = yuv_buffer(Fourcc::Yuyv, 61, 35, &[Fourcc::Yuyv]);
    assert_eq!(yuyv.cost(), yuyv.stats.bytes_mapped + 31 * 35 * 4);
}

/// A whole read is pending for a new buffer and after a new encoding, and stays
/// pending through failed reads (a fence that did not signal) until one succeeds;
/// only then are damaged rows enough. Planes the renderer converts are not read again
/// for a new encoding.
#[test]
fn a_whole_read_stays_pending_until_one_succeeds() {
    let mut cpu = yuv_buffer(Fourcc::Nv12, 8, 8, &[]);
    cpu.sync = record_sync;
    let mut scratch = Vec::new();
    assert_eq!(cpu.rows_to_read(2..4), 0..8, "a new buffer is read whole");
    cpu.fence_wait = signalled;
    cpu.read(cpu.rows_to_read(2..4), &mut scratch, |_, _| Ok(()))
        .unwrap();
    assert_eq!(cpu.rows_to_read(2..4), 2..4);
    let bt709 = YuvEncoding {
        matrix: super::super::convert::Matrix::Bt709,
        full_range: true,
    };
    assert!(cpu.set_encoding(bt709));
    assert_eq!(cpu.rows_to_read(2..4), 0..8, "a new encoding is read whole");
    cpu.fence_wait = never_signals;
    for _ in 0..2 {
        let r = cpu.read(cpu.rows_to_read(2..4), &mut scratch, |_, _| Ok(()));
        assert!(matches!(r, Err(ReadError::FenceTimeout)), "{r:?}");
        assert_eq!(
            cpu.rows_to_read(2..4),
            0..8,
            "still pending after a failure"
        );
    }
    cpu.fence_wait = signalled;
    // A partial read does not settle it either.
    cpu.read(2..4, &mut scratch, |_, _| Ok(())).unwrap();
    assert_eq!(cpu.rows_to_read(2..4), 0..8);
    cpu.read(cpu.rows_to_read(2..4), &mut scratch, |_, _| Ok(()))
        .unwrap();
    assert_eq!(cpu.rows_to_read(2..4), 2..4);

    let mut direct = yuv_buffer(Fourcc::Nv12, 8, 8, &[Fourcc::Nv12]);
    direct.full_pending = false;
    assert!(direct.set_encoding(bt709));
    assert_eq!(direct.rows_to_read(2..4), 2..4, "planes stay as they are");
}

/// With a copy frame, rows are converted straight into the XR24 memfd, as BGRA,
/// nothing goes through the scratch chunk, and the frame holds the image top row
/// first for a y-inverted buffer too; without the renderer taking it, the buffer
/// goes back to the RGBA texture and a whole read.
#[test]
fn copy_frames_are_converted_in_place_as_bgra() {
    for y_invert in [false, true] {
        // As on GLES: the renderer takes XR24 from memory as it is.
        let direct = [Fourcc::Xrgb8888, Fourcc::Argb8888];
        let mut cpu = rows_buffer(y_invert, &direct, (false, true));
        let frame = cpu.copy_frame().expect("a copy frame").clone();
        assert_eq!(frame.format().code, Fourcc::Xrgb8888);
        let mut scratch = Vec::new();
        let mut handed = Vec::new();
        cpu.read(0..4, &mut scratch, |rows, _| {
            handed.push(rows);
            Ok(())
        })
        .unwrap();
        assert!(scratch.is_empty(), "no scratch for a copy frame");
        assert_eq!(handed, vec![0..4]);
        let map = Mapping::new(frame.handles().next().unwrap(), 64).unwrap();
        // Image row r is blue 10*r (memory row r, or 3-r when y-inverted); BGRA: B first.
        for r in 0..4u8 {
            let blue = if y_invert { (3 - r) * 10 } else { r * 10 };
            let px = &map.bytes()[usize::from(r) * 16..][..4];
            assert_eq!(px, [blue, 0, 0, 255], "y_invert {y_invert} row {r}");
        }
        cpu.drop_copy_frame();
        assert!(cpu.copy_frame().is_none());
        // XR24 is uploaded as it is again (the renderer takes it from memory).
        assert_eq!((cpu.upload, cpu.order), (Fourcc::Xrgb8888, Order::Rgba));
        assert_eq!(cpu.rows_to_read(1..2), 0..4);
    }
    // Not for a format with alpha (it is blended, never copied).
    let alpha = tight_buffer(Fourcc::Argb8888, 4, 4, &[], (false, true));
    assert!(alpha.copy_frame().is_none());
}

/// A 4x4 XRGB8888 memfd buffer whose memory row m is blue m*10 (alpha 255).
fn rows_buffer(y_invert: bool, direct: &[Fourcc], frames: (bool, bool)) -> CpuBuffer {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let fd = memfd_create("t", MemfdFlags::ALLOW_SEALING).unwrap();
    ftruncate(&fd, 64).unwrap();
    let bytes: Vec<u8> = (0..4u8)
        .flat_map(|m| [m * 10, 0, 0, 255].repeat(4))
        .collect();
    rustix::io::pwrite(&fd, &bytes, 0).unwrap();
    fcntl_add_seals(&fd, SealFlags::SHRINK).unwrap();
    let flags = if y_invert {
        DmabufFlags::Y_INVERT
    } else {
        DmabufFlags::empty()
    };
    let mut b = Dmabuf::builder((4, 4), Fourcc::Xrgb8888, Modifier::Linear, flags);
    b.add_plane(fd, 0, 0, 16);
    cpu_of(&b.build().unwrap(), &[FdKind::SealedFile], direct, frames)
}

/// A refused START is an error, with nothing to END and nothing converted.
#[test]
fn refused_sync_start_reads_nothing() {
    let (mut cpu, _fd) = buffer([0, 0, 255, 255]);
    cpu.fence_wait = signalled;
    cpu.sync = refuse_start;
    let mut handed = 0;
    let r = cpu.read(0..4, &mut Vec::new(), |_, _| {
        handed += 1;
        Ok(())
    });
    assert!(matches!(r, Err(ReadError::Sync(_))), "{r:?}");
    assert_eq!(handed, 0);
    assert_eq!(SYNCS.with(|s| s.take()), vec![SyncPoint::Start]);
    assert_eq!((cpu.stats.syncs, cpu.stats.reads), (0, 0));
}

/// Image rows of a y-inverted buffer are read from the mirrored memory rows, and the
/// chunk handed on is in image order.
#[test]
fn y_inverted_rows_come_from_the_mirrored_memory_rows() {
    // Memory row m holds blue m*10 (XRGB8888 little-endian: B first), converted.
    let mut cpu = rows_buffer(true, &[], (false, false));
    let mut seen = Vec::new();
    let changed = cpu
        .read(0..1, &mut Vec::new(), |rows, bytes| {
            seen.push((rows, bytes[2]));
            Ok(())
        })
        .unwrap();
    // Image row 0 is memory row 3; converted to RGBA, blue is byte 2.
    assert_eq!(changed, 0..1);
    assert_eq!(seen, vec![(0..1, 30)]);
    seen.clear();
    cpu.read(1..3, &mut Vec::new(), |rows, bytes| {
        seen.push((rows, bytes[2]));
        seen.push((usize::MAX..usize::MAX, bytes[16 + 2]));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![(1..3, 20), (usize::MAX..usize::MAX, 10)]);
}

/// A buffer with a copy frame, as the copy path handles it: a commit only marks rows
/// stale (all of them at first), a draw-time read converts just its rectangle into the
/// target inside the fence wait, a fence that did not signal leaves the target as it
/// was and asks for a redraw, and the copy frame is converted only when asked for.
#[test]
fn draw_time_reads_follow_the_fence_and_leave_the_frame_stale() {
    use crate::cpu::direct::Placed;
    let direct = [Fourcc::Xrgb8888, Fourcc::Argb8888];
    let mut cpu = rows_buffer(false, &direct, (false, true));
    cpu.sync = record_sync;
    assert_eq!(cpu.note_damage(1..2), 0..4, "the first commit is whole");
    assert_eq!(cpu.note_damage(1..2), 1..2);
    assert!(cpu.frame_stale());
    // A 6x6 target; the buffer's 2x2 at (1, 2) goes to (3, 0).
    let rect = Placed {
        src: smithay::utils::Rectangle::new((1, 2).into(), (2, 2).into()),
        at: (3, 0),
    };
    let (stride, fill) = (24, 0x77);
    let mut target = vec![fill; stride * 6];
    let mut scratch = Vec::new();
    cpu.fence_wait = never_signals;
    let late = cpu.convert_into(&[rect], &mut target, stride, &mut scratch);
    assert!(matches!(late, Err(ReadError::FenceTimeout)), "{late:?}");
    assert!(target.iter().all(|&b| b == fill), "nothing written");
    assert!(cpu.take_retry(), "the draw asks to be made again");
    assert!(!cpu.take_retry());
    assert_eq!((cpu.stats.reads, cpu.stats.fence_timeouts), (0, 1));
    // The copy frame a fallback draw reads: late too, it asks for a redraw as well.
    let late = cpu.refresh_frame();
    assert!(matches!(late, Err(ReadError::FenceTimeout)), "{late:?}");
    assert!(cpu.take_retry(), "a late copy frame asks to be drawn again");
    assert!(cpu.frame_stale());

    cpu.fence_wait = signalled;
    cpu.convert_into(&[rect], &mut target, stride, &mut scratch)
        .unwrap();
    assert!(!cpu.take_retry());
    assert_eq!((cpu.stats.reads, cpu.stats.rows_converted), (1, 2));
    for y in 0..6 {
        for x in 0..6 {
            let px = &target[y * stride + x * 4..][..4];
            // Memory row m is blue m*10: rows 2 and 3 of the buffer at target rows 0, 1.
            let want = match (x, y) {
                (3..=4, 0..=1) => [(y as u8 + 2) * 10, 0, 0, 255],
                _ => [fill; 4],
            };
            assert_eq!(px, want, "({x}, {y})");
        }
    }
    assert!(
        cpu.frame_stale(),
        "a draw straight in leaves the copy frame alone"
    );
    let frame = cpu.copy_frame().unwrap().clone();
    cpu.refresh_frame().unwrap();
    assert!(!cpu.frame_stale());
    let map = Mapping::new(frame.handles().next().unwrap(), 64).unwrap();
    assert_eq!(&map.bytes()[3 * 16..][..4], [30, 0, 0, 255]);
}
