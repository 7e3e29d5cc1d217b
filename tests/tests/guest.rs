//! The guest tier: tests that need real dma-bufs (udmabuf, the system dma-heap) and a
//! real DRM device (virtio-gpu). `scripts/guest-test` runs them inside a Linux guest;
//! anywhere else each prints a SKIP line with the reason.

use std::{path::Path, time::Duration};

use planar_tests::fixture::{planar_run, runtime_dir, skip};

/// A hang guard for `planar run`, as long as scripts/guest-test's own limit.
const LIMIT: Duration = Duration::from_secs(600);

/// A planar server for a guest test. Its watchdog allows ten minutes (scripts/guest-test's
/// own limit): under TCG on a loaded 2-core machine one planar start took up to a minute,
/// and a test runs several clients against one planar.
fn start(args: &[&str]) -> planar_tests::fixture::Server {
    planar_tests::fixture::Server::start_with_watchdog(args, Duration::from_secs(600))
        .expect("planar starts")
}

fn need(test: &str, path: &str) -> bool {
    if Path::new(path).exists() {
        true
    } else {
        skip(
            test,
            &format!("{path} does not exist: run in the guest tier (scripts/guest-test)"),
        );
        false
    }
}

#[derive(Debug, serde::Deserialize)]
struct Record {
    id: u64,
    fourcc: String,
    path: String,
    reason: String,
    syncs: u64,
    rows_converted: u64,
}

/// What one `planar-client show` did under a shared planar.
struct Shown {
    code: Option<i32>,
    record: Option<Record>,
    log: String,
}

/// Starts one planar (`planar run PLANAR --report …`) and runs `planar-client show
/// --size 64x48 --verify CLIENT` against it for each client, one after the other; then
/// stops planar and pairs each client with its import record from the report. Under TCG
/// a planar start (Mesa loading, EGL set-up, shader compiles) costs seconds, so a test
/// starts one per set of planar options rather than one per buffer.
fn show_each(planar: &[&str], clients: &[&[&str]]) -> Vec<Shown> {
    let dir = runtime_dir();
    let report = dir.path().join("r.json");
    // The clients are not planar's children: --verify's capture needs `all`.
    let mut args = vec![
        "--report",
        report.to_str().unwrap(),
        "--allow-capture",
        "all",
        // A small output: each frame and capture of a 1280x720 one costs seconds under TCG.
        "--size",
        "128x96",
    ];
    args.extend_from_slice(planar);
    let server = start(&args);
    let mut shown: Vec<Shown> = clients
        .iter()
        .map(|client| {
            let out = server
                .client_command(&planar_tests::fixture::bin("planar-client"))
                .args(["show", "--size", "64x48", "--verify"])
                .args(*client)
                .stdin(std::process::Stdio::null())
                .output()
                .expect("planar-client runs");
            Shown {
                code: out.status.code(),
                record: None,
                log: format!(
                    "{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        })
        .collect();
    let log = server.log();
    let status = server.stop();
    assert!(status.success(), "planar {planar:?} exited {status}: {log}");
    let mut records: Vec<Record> = std::fs::read_to_string(&report)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    // One buffer per client, created in client order.
    records.sort_by_key(|r| r.id);
    let logs: Vec<&str> = shown.iter().map(|s| s.log.as_str()).collect();
    assert_eq!(
        records.len(),
        clients.len(),
        "{records:?}\nclients: {logs:#?}\nplanar: {log}"
    );
    for (s, r) in shown.iter_mut().zip(records) {
        s.record = Some(r);
    }
    shown
}

#[test]
fn guest_udmabuf_through_both_paths_with_sync() {
    if !need("guest_udmabuf_through_both_paths_with_sync", "/dev/udmabuf") {
        return;
    }
    for (import, formats) in [("cpu", ["NV12", "XR24"]), ("auto", ["XR24", "YUYV"])] {
        let clients = formats.map(|format| {
            [
                "--alloc", "udmabuf", "--format", format, "--pad", "64", "--offset", "4096",
                "--one-fd",
            ]
        });
        let clients: Vec<&[&str]> = clients.iter().map(|c| &c[..]).collect();
        for (format, shown) in formats
            .iter()
            .zip(show_each(&["--import", import], &clients))
        {
            let log = &shown.log;
            assert_eq!(shown.code, Some(0), "{import} {format}: {log}");
            let r = shown.record.expect("paired with a record");
            if r.path == "cpu" {
                // A real dma-buf: every read is bracketed by DMA_BUF_IOCTL_SYNC start and end.
                assert!(r.syncs >= 2 && r.rows_converted >= 48, "{r:?}");
            }
            eprintln!(
                "guest: udmabuf {format} --import {import}: {} ({})",
                r.path, r.reason
            );
            if import == "auto" && *format == "XR24" && Path::new("/dev/dri/renderD128").exists() {
                // GBM on virtio-gpu lists XRGB8888 but cannot import a foreign udmabuf
                // (EGL_BAD_ALLOC): the buffer falls back to the CPU path, the client is fine.
                assert_eq!(r.path, "cpu", "{r:?}");
                assert!(r.reason.contains("EGL import failed"), "{r:?}");
            }
        }
    }
}

#[test]
fn guest_dma_heap_buffers() {
    if !need("guest_dma_heap_buffers", "/dev/dma_heap/system") {
        return;
    }
    let formats = ["XR24", "NV12", "P010"];
    let clients = formats.map(|format| ["--alloc", "heap", "--format", format]);
    let clients: Vec<&[&str]> = clients.iter().map(|c| &c[..]).collect();
    for (format, shown) in formats
        .iter()
        .zip(show_each(&["--import", "cpu"], &clients))
    {
        assert_eq!(shown.code, Some(0), "{format}: {}", shown.log);
        let r = shown.record.expect("paired with a record");
        assert!(r.syncs >= 2, "{r:?}");
    }
}

#[test]
fn guest_lseek_bounds_on_a_real_dmabuf() {
    if !need("guest_lseek_bounds_on_a_real_dmabuf", "/dev/udmabuf") {
        return;
    }
    use planar_tests::{
        alloc::{alloc, Alloc},
        dmabuf_client::{AddPlane, DmabufConn, Outcome},
    };
    use std::os::fd::AsFd;
    // A one-page udmabuf: lseek says 4096 bytes. 64x64 XRGB8888 needs 16384.
    let fd = alloc(Alloc::Udmabuf, &[0x55; 100]).unwrap();
    let server = start(&["--renderer", "pixman"]);
    let mut c = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let plane = |offset, stride| AddPlane {
        fd: fd.as_fd(),
        plane_idx: 0,
        offset,
        stride,
        modifier: 0,
    };
    let o = c.create(&[plane(0, 256)], 64, 16, 0x3432_5258, 0);
    assert!(
        matches!(o, Outcome::Created(_)),
        "exact fit (4096 bytes): {o:?}"
    );
    let mut c = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let o = c.create(&[plane(0, 256)], 64, 17, 0x3432_5258, 0);
    assert_eq!(o.protocol_code(), Some(6), "one row over: {o:?}");
    assert!(
        server.log().contains("4096-byte buffer"),
        "{}",
        server.log()
    );
}

#[test]
fn guest_gbm_renderer_and_main_device() {
    let Some(node) = std::fs::read_dir("/dev/dri").ok().and_then(|d| {
        d.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("renderD"))
        })
    }) else {
        return skip(
            "guest_gbm_renderer_and_main_device",
            "no DRM render node: run in the guest tier with virtio-gpu",
        );
    };
    let out = std::process::Command::new(planar_tests::fixture::bin("planar"))
        .arg("info")
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    // The render node, or the primary node when the render node cannot allocate (no
    // 3D driver: virtio-gpu without virgl).
    let chosen = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("renderer: gles (GBM on ")
                .and_then(|r| r.strip_suffix(')'))
        })
        .unwrap_or_else(|| panic!("GLES on GBM was not chosen:\n{info}"))
        .to_string();
    eprintln!(
        "guest: planar chose GBM on {chosen} (render node {})",
        node.display()
    );
    let server = start(&["--size", "128x96"]);
    let mut c = planar_tests::dmabuf_client::DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let fb = c.default_feedback().unwrap();
    let rdev = rustix::fs::stat(chosen.as_str()).unwrap().st_rdev;
    assert_eq!(
        fb.main_device, rdev,
        "feedback main_device is the node planar renders on"
    );
}

#[test]
fn guest_gbm_buffers_of_every_rgb_format() {
    if planar_tests::alloc::render_node().is_none() {
        return skip(
            "guest_gbm_buffers_of_every_rgb_format",
            "no DRM render node: run in the guest tier with virtio-gpu",
        );
    }
    let Tried {
        shown,
        failures,
        unallocatable,
    } = every_format_where(
        &every_format_server(),
        planar_tests::alloc::Alloc::Gbm,
        |f| f.planes == 1 && !f.yuv,
    );
    assert!(failures.is_empty(), "{failures:#?}");
    // Every GBM device allocates these two; without them the loop proved nothing.
    for must in ["XR24", "AR24"] {
        assert!(
            shown.iter().any(|f| f == must),
            "{must} was not shown (shown: {shown:?}, unallocatable: {unallocatable:?})"
        );
    }
    eprintln!("guest: GBM buffers shown and verified for {} single-plane RGB formats ({}); it cannot allocate: {}", shown.len(), shown.join(" "), unallocatable.join(" "));
}

#[test]
fn guest_gbm_buffer_imports_zero_copy() {
    if planar_tests::alloc::render_node().is_none() {
        return skip(
            "guest_gbm_buffer_imports_zero_copy",
            "no DRM render node: run in the guest tier with virtio-gpu",
        );
    }
    let shown = show_each(&[], &[&["--alloc", "gbm", "--format", "XR24"]]);
    let Shown { code, record, log } = shown.into_iter().next().expect("one client");
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("gbm buffer:"), "{log}");
    let r = record.expect("paired with a record");
    assert_eq!(
        r.path, "egl",
        "a GBM buffer of the render node imports zero-copy: {r:?}"
    );
    eprintln!("guest: GBM XR24 buffer: {} ({})", r.path, r.reason);
}

#[test]
fn guest_weston_simple_dmabuf_feedback() {
    if planar_tests::alloc::render_node().is_none() {
        return skip(
            "guest_weston_simple_dmabuf_feedback",
            "no DRM render node: run in the guest tier with virtio-gpu",
        );
    }
    if planar_tests::fixture::find_program("weston-simple-dmabuf-feedback").is_none() {
        return skip(
            "guest_weston_simple_dmabuf_feedback",
            "weston-simple-dmabuf-feedback is not installed",
        );
    }
    let dir = runtime_dir();
    let report = dir.path().join("r.json");
    let out = planar_run(
        Some(dir.path()),
        &["--report", report.to_str().unwrap()],
        &["sh", "-c", "weston-simple-dmabuf-feedback 2>&1 & p=$!; sleep 5; kill $p 2>/dev/null; wait $p; echo client-exit=$?"],
        LIMIT,
    );
    // A third-party client: what it did is reported, planar must simply survive it.
    eprintln!(
        "guest: weston-simple-dmabuf-feedback under planar:\n{}",
        out.stdout
    );
    eprintln!(
        "guest: import records: {}",
        std::fs::read_to_string(&report).unwrap_or_default()
    );
    assert_eq!(out.code(), Some(0), "planar: {}", out.stderr);
}

#[test]
fn guest_real_dmabufs_through_the_egl_path() {
    if !need("guest_real_dmabufs_through_the_egl_path", "/dev/udmabuf") {
        return;
    }
    // virtio-gpu's GBM EGL refuses foreign buffers, so the EGL path for udmabuf and
    // dma-heap buffers is shown on llvmpipe's EGL (`--renderer gles-software`).
    let cases = [
        ("udmabuf", "XR24"),
        ("udmabuf", "AB24"),
        ("heap", "XR24"),
        ("heap", "AB24"),
    ];
    let clients = cases.map(|(alloc, format)| {
        [
            "--alloc", alloc, "--format", format, "--pad", "64", "--offset", "4096", "--one-fd",
        ]
    });
    let clients: Vec<&[&str]> = clients.iter().map(|c| &c[..]).collect();
    let planar = ["--renderer", "gles-software", "--import", "egl"];
    for ((alloc, format), shown) in cases.iter().zip(show_each(&planar, &clients)) {
        assert_eq!(shown.code, Some(0), "{alloc} {format}: {}", shown.log);
        let r = shown.record.expect("paired with a record");
        assert_eq!(r.path, "egl", "{alloc} {format}: {r:?}");
        eprintln!(
            "guest: {alloc} {format} on llvmpipe: {} ({})",
            r.path, r.reason
        );
    }
}

/// The planar the every-format tests show their buffers in.
fn every_format_server() -> planar_tests::fixture::Server {
    start(&["--allow-capture", "all", "--size", "128x96"])
}

/// Every CPU-readable format from `alloc`, in `server`: each shown in a window and
/// checked through a capture (planar-client's --verify), in-process so the guest's slow
/// process start-up is paid once.
/// Returns the failures; every such format must have been allocated (an empty selection
/// or a skipped allocation fails here, not silently).
fn every_format_from(
    server: &planar_tests::fixture::Server,
    alloc: planar_tests::alloc::Alloc,
) -> Vec<String> {
    let tried = every_format_where(server, alloc, |_| true);
    let expected = planar_protocol::format::FORMATS
        .iter()
        .filter(|f| planar_renderer::cpu::convert::conversion(f.fourcc).is_some())
        .count();
    assert!(expected > 0, "no CPU-readable format in the table");
    assert!(
        tried.unallocatable.is_empty(),
        "{alloc:?} could not allocate {:?}",
        tried.unallocatable
    );
    // Every selected format lands in one of the three lists: with none unallocatable, a
    // format not shown is a failure, and `expected > 0` keeps the loop from being empty.
    tried.failures
}

/// What `every_format_where` found, format by format (fourcc names).
struct Tried {
    shown: Vec<String>,
    failures: Vec<String>,
    /// The allocator could not allocate these at all (a GBM device supports only some).
    unallocatable: Vec<String>,
}

/// As `every_format_from`, for the formats `keep` selects.
fn every_format_where(
    server: &planar_tests::fixture::Server,
    alloc: planar_tests::alloc::Alloc,
    keep: impl Fn(&planar_protocol::format::FormatInfo) -> bool,
) -> Tried {
    use planar_tests::show::{show, ShowConfig, ShowResult};
    let mut shown = Vec::new();
    let mut failures = Vec::new();
    let mut unallocatable = Vec::new();
    for f in planar_protocol::format::FORMATS
        .iter()
        .filter(|f| planar_renderer::cpu::convert::conversion(f.fourcc).is_some() && keep(f))
    {
        let cfg = ShowConfig {
            alloc,
            pad: 32,
            offset: 4096,
            one_fd: f.planes > 1,
            verify: Some(4),
            ..ShowConfig::new(f.fourcc, 64, 48)
        };
        match show(server.connect().unwrap(), &cfg) {
            Ok(ShowResult::Shown) => shown.push(f.fourcc.to_string()),
            Err(e) if format!("{e:#}").contains("gbm_bo_create") => {
                unallocatable.push(f.fourcc.to_string())
            }
            other => failures.push(format!("{}: {other:?}", f.fourcc)),
        }
    }
    Tried {
        shown,
        failures,
        unallocatable,
    }
}

#[test]
fn every_format_from_memfd_in_one_planar() {
    let failures = every_format_from(&every_format_server(), planar_tests::alloc::Alloc::Memfd);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn guest_every_format_from_udmabuf_and_heap() {
    if !need("guest_every_format_from_udmabuf_and_heap", "/dev/udmabuf")
        || !need(
            "guest_every_format_from_udmabuf_and_heap",
            "/dev/dma_heap/system",
        )
    {
        return;
    }
    // One planar for both allocators: a start costs seconds under TCG.
    let server = every_format_server();
    for alloc in [
        planar_tests::alloc::Alloc::Udmabuf,
        planar_tests::alloc::Alloc::Heap,
    ] {
        let failures = every_format_from(&server, alloc);
        assert!(failures.is_empty(), "{alloc:?}: {failures:#?}");
        eprintln!("guest: every CPU-readable format from {alloc:?}: shown and verified");
    }
}

/// `show_each` on the host (memfds): one planar, each client paired with its own record.
#[test]
fn one_planar_shows_each_client_with_its_record() {
    let shown = show_each(
        &["--import", "cpu"],
        &[
            &["--alloc", "memfd", "--format", "XR24"],
            &["--alloc", "memfd", "--format", "NV12"],
        ],
    );
    assert_eq!(shown.len(), 2);
    for s in &shown {
        assert_eq!(s.code, Some(0), "{}", s.log);
        let r = s.record.as_ref().expect("paired with a record");
        assert_eq!(r.path, "cpu", "{r:?}");
    }
    let fourccs: Vec<&str> = shown
        .iter()
        .map(|s| s.record.as_ref().unwrap().fourcc.as_str())
        .collect();
    assert_eq!(fourccs, ["XR24", "NV12"]);
}
