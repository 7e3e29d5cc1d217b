//! CPU-path buffers converted at draw time straight into the output's target
//! (renderer/src/cpu/direct.rs) show exactly what the old path showed: every capture of a
//! sequence of commits is byte-identical with `PLANAR_NO_BLIT=1` (rows converted at
//! commit and uploaded) and without. The sequence exercises the edges of the direct
//! conversion: a small damage rectangle starting on odd columns and rows (inside 4:2:0
//! chroma pairs) in the middle of a YUV buffer, with an opaque CPU-path window above it
//! (drawn straight in too) and a translucent one (a quad blended after the CPU write)
//! overlapping the rectangle's surroundings; the buffer re-attached after another one;
//! a second output at scale 2 (the copy frame drawn as a quad, brought up to date
//! lazily); the buffer drawn scaled at last (buffer_scale 2) on the one output, whose
//! copy frame was never needed before (every row stale); y-inverted buffers.
//!
//! Clients run in this process on real sockets; their "dma-bufs" are sealed memfds.

use std::os::fd::OwnedFd;

use drm_fourcc::DrmFourcc as Fourcc;
use planar_image::RgbaImage;
use planar_protocol::validate::FLAG_Y_INVERT;
use planar_tests::{
    dmabuf_client::{DmabufConn, Outcome},
    encode::{Encoding, Layout},
    fixture::{gles_unavailable, skip, Server},
    show::layout_planes,
    test_client::PlanarTest,
    window::Window,
};
use wayland_client::protocol::wl_buffer::WlBuffer;

/// The buffer under test, and the rectangle damaged on it: odd x and y starts.
const W: u32 = 400;
const H: u32 = 200;
const DAMAGE: (i32, i32, i32, i32) = (41, 41, 70, 50);
/// Where the pixels change inside the damage: whole 2x2 blocks (a 4:2:0 chroma sample
/// shared with a pixel outside the damage would change that pixel too).
const CHANGED: (u32, u32, u32, u32) = (42, 42, 110, 90);

/// The picture: colour ramps, so that every conversion shows in the bytes.
fn picture(x: u32, y: u32) -> [u8; 3] {
    [
        (x * 255 / W) as u8,
        (y * 255 / H) as u8,
        ((x + y) % 256) as u8,
    ]
}

/// The picture with `colour` in the changed region.
fn changed(colour: [u8; 3]) -> impl Fn(u32, u32) -> [u8; 3] {
    move |x, y| {
        let (x0, y0, x1, y1) = CHANGED;
        if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
            colour
        } else {
            picture(x, y)
        }
    }
}

/// One buffer of `fourcc`: its fds (written again by `fill`), layout and wl_buffer.
struct Buffer {
    fds: Vec<OwnedFd>,
    layout: Layout,
    y_invert: bool,
    wl: WlBuffer,
}

impl Buffer {
    fn new(dmabuf: &mut DmabufConn, fourcc: Fourcc, (w, h): (u32, u32), y_invert: bool) -> Self {
        let layout = Layout::new(fourcc, w, h, None, 0, 0, false).unwrap();
        let fds: Vec<OwnedFd> = layout
            .fd_sizes
            .iter()
            .map(|&n| planar_tests::memfd::sealed("direct", &vec![0u8; n]).unwrap())
            .collect();
        let flags = if y_invert { FLAG_Y_INVERT } else { 0 };
        let planes = layout_planes(&layout, &fds, 0);
        let outcome = dmabuf.create(&planes, w as i32, h as i32, fourcc as u32, flags);
        let Outcome::Created(wl) = outcome else {
            panic!("{fourcc} {w}x{h} not created: {outcome:?}");
        };
        Buffer {
            fds,
            layout,
            y_invert,
            wl,
        }
    }

    /// Writes the image `px(x, y)` (top row first, whatever the memory order).
    fn fill(&self, px: impl Fn(u32, u32) -> [u8; 3]) {
        let h = self.layout.height;
        let bytes = if self.y_invert {
            self.layout
                .fill(Encoding::default(), |x, y| px(x, h - 1 - y))
        } else {
            self.layout.fill(Encoding::default(), px)
        };
        for (fd, bytes) in self.fds.iter().zip(bytes) {
            rustix::io::pwrite(fd, &bytes, 0).unwrap();
        }
    }
}

/// A window showing one single-plane buffer of `fourcc` whose every pixel is the bytes
/// `px` (memory order), whole.
fn window_of(
    conn: &wayland_client::Connection,
    dmabuf: &mut DmabufConn,
    (fourcc, size): (Fourcc, (u32, u32)),
    px: [u8; 4],
) -> (Window, Buffer) {
    let mut window = Window::new(conn, "above").unwrap();
    let buffer = Buffer::new(dmabuf, fourcc, size, false);
    let bytes: Vec<u8> = px.repeat((size.0 * size.1) as usize);
    rustix::io::pwrite(&buffer.fds[0], &bytes, 0).unwrap();
    window.show(&buffer.wl, size.0 as i32, None, size.1 as i32);
    window.wait_presented().unwrap();
    (window, buffer)
}

/// Every output captured, in order.
fn captures(test: &mut PlanarTest, outputs: usize) -> Vec<RgbaImage> {
    (0..outputs)
        .map(|i| test.capture_output(i).unwrap().expect("capture allowed").0)
        .collect()
}

/// Runs the sequence on planar with `outputs` and returns every capture, and planar's log.
fn sequence(
    fourcc: Fourcc,
    y_invert: bool,
    outputs: &[&str],
    blit: bool,
) -> (Vec<RgbaImage>, String) {
    let mut args = vec![
        "--renderer",
        "gles",
        "--import",
        "cpu",
        "--allow-capture",
        "all",
    ];
    for o in outputs {
        args.extend(["--output", o]);
    }
    let server = start(&args, blit).expect("start planar");
    let conn = server.connect().unwrap();
    let mut dmabuf = DmabufConn::new(conn.clone(), 5).unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    let mut shots = Vec::new();
    let mut window = Window::new(&conn, "under").unwrap();
    let a = Buffer::new(&mut dmabuf, fourcc, (W, H), y_invert);
    let b = Buffer::new(&mut dmabuf, fourcc, (W, H), y_invert);
    a.fill(picture);
    window.show(&a.wl, W as i32, None, H as i32);
    window.wait_presented().unwrap();
    // Above it, at the same top-left corner: an opaque CPU-path window (drawn straight in
    // as well), then a translucent one (a quad drawn over the CPU writes).
    // Green, opaque; blue at half alpha (B, G, R, A in memory).
    let opaque = (Fourcc::Xrgb8888, (100, 80));
    let (_opaque, _o) = window_of(&conn, &mut dmabuf, opaque, [0, 255, 0, 255]);
    let glass = (Fourcc::Argb8888, (60, 120));
    let (_glass, _g) = window_of(&conn, &mut dmabuf, glass, [255, 0, 0, 128]);
    shots.extend(captures(&mut test, outputs.len()));
    // The damage rectangle alone, in the same buffer.
    a.fill(changed([250, 20, 20]));
    window.show_damaged(&a.wl, &[DAMAGE]);
    window.wait_presented().unwrap();
    shots.extend(captures(&mut test, outputs.len()));
    // Another buffer with the same picture, then the first one again, changed in the
    // damage only.
    b.fill(changed([250, 20, 20]));
    window.show(&b.wl, W as i32, None, H as i32);
    window.wait_presented().unwrap();
    a.fill(changed([20, 20, 250]));
    window.show_damaged(&a.wl, &[DAMAGE]);
    window.wait_presented().unwrap();
    shots.extend(captures(&mut test, outputs.len()));
    // Drawn scaled: its copy frame, never read on a lone output until now, is needed.
    window.surface().set_buffer_scale(2);
    window.show_damaged(&a.wl, &[DAMAGE]);
    window.wait_presented().unwrap();
    shots.extend(captures(&mut test, outputs.len()));
    let log = server.log();
    drop(conn);
    server.stop();
    (shots, log)
}

/// Starts planar with `args`, with `PLANAR_NO_BLIT=1` unless `blit`. planar reads the
/// variables from its environment, inherited from this process when it is spawned: the
/// tests of one binary run on parallel threads, so every start holds one lock.
fn start(args: &[&str], blit: bool) -> anyhow::Result<Server> {
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = ENV.lock().unwrap_or_else(|e| e.into_inner());
    if !blit {
        std::env::set_var("PLANAR_NO_BLIT", "1");
    }
    // The renderer's debug lines say which buffers went straight in.
    std::env::set_var("PLANAR_LOG", "info,planar_renderer=debug");
    let started = Server::start(args);
    std::env::remove_var("PLANAR_NO_BLIT");
    std::env::remove_var("PLANAR_LOG");
    started
}

/// The sequence with and without the copy path gives the same bytes, and the default
/// run did convert straight into the target (its log says so) where the other did not.
fn same_with_and_without(name: &str, fourcc: Fourcc, y_invert: bool, layouts: &[&[&str]]) {
    if let Some(why) = gles_unavailable() {
        return skip(name, &why);
    }
    for outputs in layouts {
        same_on(name, fourcc, y_invert, outputs);
    }
}

/// One layout of `same_with_and_without`.
fn same_on(name: &str, fourcc: Fourcc, y_invert: bool, outputs: &[&str]) {
    let (on, log_on) = sequence(fourcc, y_invert, outputs, true);
    let (off, log_off) = sequence(fourcc, y_invert, outputs, false);
    let direct = "CPU-path buffer converted straight into the target";
    assert!(
        log_on.contains(direct),
        "{name}: not drawn straight in:\n{log_on}"
    );
    assert!(!log_off.contains(direct), "{name}:\n{log_off}");
    assert_eq!(on.len(), off.len());
    for (i, (a, b)) in on.iter().zip(&off).enumerate() {
        let at = a
            .data
            .chunks(4)
            .zip(b.data.chunks(4))
            .position(|(p, q)| p != q);
        if let Some(px) = at {
            let (x, y) = (px as u32 % a.width, px as u32 / a.width);
            panic!(
                "{name}: capture {i} differs at ({x}, {y}): {:?} direct, {:?} without\n{log_on}",
                a.pixel(x, y),
                b.pixel(x, y)
            );
        }
    }
    let n = outputs.len();
    // The damaged commits reached the screen (both runs could equally show a stale
    // picture): in the changed region, outside both windows above, the new colour.
    for (step, want) in [(1, [250i16, 20, 20]), (2, [20, 20, 250])] {
        let got = on[step * n].pixel(105, 85);
        let off_by = (0..3).map(|c| (i16::from(got[c]) - want[c]).abs()).max();
        assert!(
            off_by.is_some_and(|d| d <= 16),
            "{name}: step {step} shows {got:?} at (105, 85), not about {want:?}"
        );
    }
    // The opaque window above stayed whole where the damage met it (the captures
    // after the damage: on the first output, the second capture of each step).
    for shot in on.iter().step_by(n).skip(1).take(2) {
        for (x, y) in [(70, 45), (99, 79), (65, 41)] {
            assert_eq!(shot.pixel(x, y), [0, 255, 0, 255], "{name}: ({x}, {y})");
        }
    }
}

/// One output, and a second one at scale 2 beside it showing the buffer's right part.
const TWO: [&str; 2] = ["320x240,name=A", "200x160,name=B,scale=2,pos=320,0"];
const ONE: [&str; 1] = ["320x240,name=A"];

#[test]
fn egl_nv12_direct_matches_the_upload_path() {
    let name = "egl_nv12_direct_matches_the_upload_path";
    same_with_and_without(name, Fourcc::Nv12, false, &[&ONE, &TWO]);
}

#[test]
fn egl_nv12_y_inverted_direct_matches_the_upload_path() {
    let name = "egl_nv12_y_inverted_direct_matches_the_upload_path";
    same_with_and_without(name, Fourcc::Nv12, true, &[&TWO]);
}

#[test]
fn egl_p010_direct_matches_the_upload_path() {
    let name = "egl_p010_direct_matches_the_upload_path";
    same_with_and_without(name, Fourcc::P010, false, &[&TWO]);
}

#[test]
fn egl_yuyv_direct_matches_the_upload_path() {
    let name = "egl_yuyv_direct_matches_the_upload_path";
    same_with_and_without(name, Fourcc::Yuyv, false, &[&ONE]);
}

#[test]
fn egl_yuv420_y_inverted_direct_matches_the_upload_path() {
    let name = "egl_yuv420_y_inverted_direct_matches_the_upload_path";
    same_with_and_without(name, Fourcc::Yuv420, true, &[&ONE]);
}
