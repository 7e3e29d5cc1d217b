//! The CPU path's limits and its correctness under partial updates (issue 12):
//! huge sparse buffers are refused at creation instead of costing gigabytes, the budget
//! is given back when a buffer goes, import records are held for live buffers only,
//! partial damage of a y-inverted buffer re-reads the right rows, and a CPU-path texture
//! follows the surface's buffer scale and transform.
//!
//! Clients run in this process on real sockets; "dma-bufs" are sealed memfds, sparse
//! where they are large (they cost the client nothing).

use std::{os::fd::AsFd, os::fd::OwnedFd, time::Duration};

use planar_image::RgbaImage;
use planar_protocol::validate::FLAG_Y_INVERT;
use planar_tests::{
    dmabuf_client::{cpu_path_client, AddPlane, CpuPathClient, DmabufConn, Outcome},
    fixture::{bin, planar_run, runtime_dir, Server},
    proc::{peer_pid, status_kib},
    test_client::PlanarTest,
    window::Window,
};
use wayland_client::{protocol::wl_output::Transform, Connection};

const XR24: u32 = drm_fourcc::DrmFourcc::Xrgb8888 as u32;
const MIB: u64 = 1 << 20;

/// A sealed memfd of `len` bytes that holds no pages: nothing is written to it.
fn sparse(len: u64) -> OwnedFd {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let fd = memfd_create("sparse", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
    ftruncate(&fd, len).unwrap();
    fcntl_add_seals(&fd, SealFlags::SHRINK).unwrap();
    fd
}

/// A sealed memfd of an XRGB8888 image, `px(x, y)` giving (R, G, B).
fn xrgb(w: u32, h: u32, px: impl Fn(u32, u32) -> [u8; 3]) -> OwnedFd {
    let bytes = xrgb_bytes(w, h, px);
    planar_tests::memfd::sealed("xrgb", &bytes).unwrap()
}

fn xrgb_bytes(w: u32, h: u32, px: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = px(x, y);
            bytes.extend_from_slice(&[b, g, r, 255]);
        }
    }
    bytes
}

fn create(dmabuf: &mut DmabufConn, fd: &OwnedFd, w: u32, h: u32, flags: u32) -> Outcome {
    let plane = AddPlane {
        fd: fd.as_fd(),
        plane_idx: 0,
        offset: 0,
        stride: w * 4,
        modifier: 0,
    };
    dmabuf.create(&[plane], w as i32, h as i32, XR24, flags)
}

fn capture(conn: &Connection) -> RgbaImage {
    PlanarTest::new(conn)
        .unwrap()
        .capture()
        .unwrap()
        .expect("capture allowed")
        .0
}

fn rgb(img: &RgbaImage, x: u32, y: u32) -> [u8; 3] {
    let p = img.pixel(x, y);
    [p[0], p[1], p[2]]
}

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];

/// Issue 12, failure 4: one 16384x16384 XRGB8888 buffer from a sparse memfd on the CPU
/// path took planar to 3.2 GB. It is past the default budget (1 GiB mapped + 1 GiB
/// converted > 512 MiB): `failed` at creation, with the reason logged, and planar's
/// peak RSS stays far from it. Then six at once: all refused, planar alive, well under
/// 4 GiB, and still showing another client's buffer right.
#[test]
fn huge_sparse_cpu_buffers_are_refused_at_creation() {
    let dir = runtime_dir();
    let report = dir.path().join("huge.json");
    let server = Server::start(&[
        "--import",
        "cpu",
        "--allow-capture",
        "all",
        "--report",
        report.to_str().unwrap(),
    ])
    .unwrap();
    let conn = server.connect().unwrap();
    let pid = peer_pid(&conn).expect("planar's pid");
    let mut dmabuf = DmabufConn::new(conn.clone(), 5).unwrap();
    let side = 16384u32;
    let len = u64::from(side) * u64::from(side) * 4;

    let one = sparse(len);
    let outcome = create(&mut dmabuf, &one, side, side, 0);
    assert!(
        matches!(outcome, Outcome::Failed),
        "{outcome:?}\n{}",
        server.log()
    );
    assert!(server.log().contains("CPU-path budget"), "{}", server.log());
    let hwm = status_kib(pid, "VmHWM").unwrap() * 1024;
    eprintln!("one 16384x16384 buffer: planar VmHWM {} MiB", hwm / MIB);
    assert!(hwm < 1024 * MIB, "VmHWM {} MiB", hwm / MIB);

    let six: Vec<OwnedFd> = (0..6).map(|_| sparse(len)).collect();
    for fd in &six {
        let outcome = create(&mut dmabuf, fd, side, side, 0);
        assert!(matches!(outcome, Outcome::Failed), "{outcome:?}");
    }
    let hwm = status_kib(pid, "VmHWM").unwrap() * 1024;
    eprintln!("six more at once: planar VmHWM {} MiB", hwm / MIB);
    assert!(hwm < 4096 * MIB, "VmHWM {} MiB", hwm / MIB);
    assert!(hwm < 1024 * MIB, "VmHWM {} MiB", hwm / MIB);

    // Another client is served as before.
    let other = server.connect().unwrap();
    let mut cfg = planar_tests::show::ShowConfig::new(drm_fourcc::DrmFourcc::Nv12, 64, 48);
    cfg.verify = Some(4);
    let shown = planar_tests::show::show(other, &cfg).unwrap();
    assert_eq!(
        shown,
        planar_tests::show::ShowResult::Shown,
        "{}",
        server.log()
    );
    drop(six);
    let mut server = server;
    assert!(server.alive());
    assert!(server.stop().success());

    // The report says why, for each of the seven.
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let refused: Vec<&serde_json::Value> = records.iter().filter(|r| r["width"] == 16384).collect();
    assert_eq!(refused.len(), 7, "{records:?}");
    for r in refused {
        assert_eq!(r["path"], "rejected", "{r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.contains("2048 MiB (mapped and converted) is past the CPU-path budget"),
            "{reason}"
        );
    }
}

/// The budget counts live buffers only: a buffer that fits is shown, a second one past
/// the budget is refused, and once the first is destroyed its bytes are free again.
/// pixman's own size cap refuses a buffer wider than 16384. Prints planar's RSS growth
/// for a shown 4096x4096 CPU-path buffer (64 MiB mapped + 64 MiB converted).
#[test]
fn cpu_budget_follows_live_buffers() {
    for renderer in ["auto", "pixman"] {
        let server = Server::start(&[
            "--renderer",
            renderer,
            "--import",
            "cpu",
            "--cpu-budget",
            "160M",
        ])
        .unwrap();
        let conn = server.connect().unwrap();
        let pid = peer_pid(&conn).unwrap();
        let mut window = Window::new(&conn, "budget").unwrap();
        let mut dmabuf = DmabufConn::new(conn.clone(), 5).unwrap();
        let side = 4096u32;
        let len = u64::from(side) * u64::from(side) * 4;
        let rss0 = status_kib(pid, "VmRSS").unwrap();

        let first = sparse(len);
        let Outcome::Created(buffer) = create(&mut dmabuf, &first, side, side, 0) else {
            panic!(
                "{renderer}: a 128 MiB buffer within a 160 MiB budget\n{}",
                server.log()
            );
        };
        window.show(&buffer, side as i32, None, side as i32);
        window.wait_presented().unwrap();
        let rss1 = status_kib(pid, "VmRSS").unwrap();
        eprintln!(
            "{renderer}: a shown 4096x4096 CPU-path buffer grew planar's RSS by {} MiB",
            (rss1.saturating_sub(rss0)) / 1024
        );

        let second = sparse(len);
        let outcome = create(&mut dmabuf, &second, side, side, 0);
        assert!(
            matches!(outcome, Outcome::Failed),
            "{renderer}: {outcome:?}"
        );
        assert!(
            server.log().contains("128 of 160 MiB in use"),
            "{}",
            server.log()
        );

        buffer.destroy();
        let Outcome::Created(_third) = create(&mut dmabuf, &second, side, side, 0) else {
            panic!(
                "{renderer}: the budget was not given back\n{}",
                server.log()
            );
        };

        if renderer == "pixman" {
            let wide = sparse(16385 * 4 * 2);
            let outcome = create(&mut dmabuf, &wide, 16385, 2, 0);
            assert!(matches!(outcome, Outcome::Failed), "{outcome:?}");
            assert!(server.log().contains("largest texture"), "{}", server.log());
        }
    }
}

/// One client (process) may take only its share of the CPU path: past it its buffer is
/// refused while another process's buffer still fits in the total.
#[test]
fn cpu_budget_per_client() {
    let server = Server::start(&[
        "--import",
        "cpu",
        "--cpu-budget",
        "300M",
        "--cpu-budget-per-client",
        "160M",
        "--allow-capture",
        "all",
    ])
    .unwrap();
    let conn = server.connect().unwrap();
    let mut dmabuf = DmabufConn::new(conn.clone(), 5).unwrap();
    let side = 4096u32;
    let len = u64::from(side) * u64::from(side) * 4;
    let first = sparse(len);
    let Outcome::Created(_first) = create(&mut dmabuf, &first, side, side, 0) else {
        panic!("{}", server.log());
    };
    // A second connection of the same process is the same client.
    let mut again = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let second = sparse(len);
    let outcome = create(&mut again, &second, side, side, 0);
    assert!(matches!(outcome, Outcome::Failed), "{outcome:?}");
    assert!(
        server
            .log()
            .contains("past the client's CPU-path budget: 128 of 160 MiB in use"),
        "{}",
        server.log()
    );
    let other = server
        .client_command(&bin("planar-client"))
        .args([
            "show",
            "--size",
            "1024x1024",
            "--alloc",
            "memfd",
            "--verify",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&other.stdout);
    assert_eq!(other.status.code(), Some(0), "{stdout}\n{}", server.log());
}

/// Partial damage of a y-inverted CPU-path buffer: the damaged rows are image rows (top
/// first), which live at the end of memory. The buffer is rewritten whole, but only its
/// top 16 image rows are damaged: exactly those must change on screen.
#[test]
fn y_invert_partial_damage_rereads_the_damaged_rows() {
    for renderer in ["auto", "pixman"] {
        let CpuPathClient {
            server,
            conn,
            mut window,
            mut dmabuf,
        } = cpu_path_client(renderer, "y-invert");
        let fd = xrgb(64, 64, |_, _| RED);
        let Outcome::Created(buffer) = create(&mut dmabuf, &fd, 64, 64, FLAG_Y_INVERT) else {
            panic!("{}", server.log());
        };
        window.show(&buffer, 64, None, 64);
        window.wait_presented().unwrap();
        rustix::io::pwrite(&fd, &xrgb_bytes(64, 64, |_, _| BLUE), 0).unwrap();
        window.show(&buffer, 64, Some((0, 16)), 64);
        window.wait_presented().unwrap();
        let img = capture(&conn);
        for y in [0, 8, 15] {
            assert_eq!(rgb(&img, 32, y), BLUE, "{renderer}: damaged row {y}");
        }
        for y in [16, 40, 63] {
            assert_eq!(rgb(&img, 32, y), RED, "{renderer}: undamaged row {y}");
        }
    }
}

/// A CPU-path texture follows the surface: the same buffer committed again with
/// buffer_scale 2 shows whole at half size, then with transform 180 rotated.
#[test]
fn cpu_texture_follows_buffer_scale_and_transform() {
    for renderer in ["auto", "pixman"] {
        let CpuPathClient {
            server,
            conn,
            mut window,
            mut dmabuf,
        } = cpu_path_client(renderer, "geometry");
        // Quadrants: red, green / blue, white.
        let fd = xrgb(64, 64, |x, y| match (x < 32, y < 32) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        });
        let Outcome::Created(buffer) = create(&mut dmabuf, &fd, 64, 64, 0) else {
            panic!("{}", server.log());
        };
        window.show(&buffer, 64, None, 64);
        window.wait_presented().unwrap();
        let img = capture(&conn);
        assert_eq!(
            [
                rgb(&img, 16, 16),
                rgb(&img, 48, 16),
                rgb(&img, 16, 48),
                rgb(&img, 48, 48)
            ],
            [RED, GREEN, BLUE, WHITE],
            "{renderer}: scale 1"
        );

        window.surface().set_buffer_scale(2);
        window.show(&buffer, 64, None, 64);
        window.wait_presented().unwrap();
        let img = capture(&conn);
        assert_eq!(
            [
                rgb(&img, 8, 8),
                rgb(&img, 24, 8),
                rgb(&img, 8, 24),
                rgb(&img, 24, 24)
            ],
            [RED, GREEN, BLUE, WHITE],
            "{renderer}: buffer_scale 2 shows the whole buffer in 32x32"
        );

        window.surface().set_buffer_scale(1);
        window.surface().set_buffer_transform(Transform::_180);
        window.show(&buffer, 64, None, 64);
        window.wait_presented().unwrap();
        let img = capture(&conn);
        assert_eq!(
            [
                rgb(&img, 16, 16),
                rgb(&img, 48, 16),
                rgb(&img, 16, 48),
                rgb(&img, 48, 48)
            ],
            [WHITE, BLUE, GREEN, RED],
            "{renderer}: transform 180"
        );
    }
}

/// Strips the ANSI colours of planar's log.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Issue 12, failure 5: a record was kept for every buffer ever made. After 300
/// create/show/destroy cycles (and 20 warm-up ones) planar holds no record without
/// --report; with it every record is streamed to the file, none is held, and the report
/// lists each buffer once with what it showed.
#[test]
fn import_records_are_held_for_live_buffers_only() {
    let dir = runtime_dir();
    let report = dir.path().join("soak.json");
    for with_report in [false, true] {
        let mut args = vec!["--refresh", "0"];
        if with_report {
            args.extend(["--report", report.to_str().unwrap()]);
        }
        let cmd = [
            "planar-client",
            "soak",
            "--cycles",
            "300",
            "--warmup",
            "20",
            "--format",
            "NV12",
        ];
        let out = planar_run(Some(dir.path()), &args, &cmd, Duration::from_secs(300));
        let log = plain(&out.stderr);
        assert_eq!(out.code(), Some(0), "{}\n{log}", out.stdout);
        assert!(out.stdout.contains("0 failed"), "{}", out.stdout);
        let streamed = if with_report { 320 } else { 0 };
        assert!(
            log.contains(&format!("held=0 streamed={streamed}")),
            "records held at exit: {}",
            log.lines()
                .filter(|l| l.contains("import records"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(records.len(), 320);
    let mut ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 320);
    assert!(
        records
            .iter()
            .all(|r| r["frames_shown"].as_u64() >= Some(1)),
        "{records:?}"
    );
}
