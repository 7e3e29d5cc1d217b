//! The guest tier: tests that need real dma-bufs (udmabuf, the system dma-heap) and a
//! real DRM device (virtio-gpu). `scripts/guest-test` runs them inside a Linux guest;
//! anywhere else each prints a SKIP line with the reason.

use std::{path::Path, time::Duration};

use planar_tests::fixture::{planar_run, runtime_dir, skip};

const LIMIT: Duration = Duration::from_secs(120);

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
    path: String,
    reason: String,
    syncs: u64,
    rows_converted: u64,
}

fn run_client(planar: &[&str], client: &[&str]) -> (Option<i32>, Vec<Record>, String) {
    let dir = runtime_dir();
    let report = dir.path().join("r.json");
    let mut args = vec!["--report", report.to_str().unwrap()];
    args.extend_from_slice(planar);
    let mut cmd = vec!["planar-client", "show", "--size", "64x48", "--verify"];
    cmd.extend_from_slice(client);
    let out = planar_run(Some(dir.path()), &args, &cmd, LIMIT);
    let records = std::fs::read_to_string(&report)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    (
        out.code(),
        records,
        format!("{}\n{}", out.stdout, out.stderr),
    )
}

#[test]
fn guest_udmabuf_through_both_paths_with_sync() {
    if !need("guest_udmabuf_through_both_paths_with_sync", "/dev/udmabuf") {
        return;
    }
    for (import, format) in [
        ("cpu", "NV12"),
        ("cpu", "XR24"),
        ("auto", "XR24"),
        ("auto", "YUYV"),
    ] {
        let (code, r, log) = run_client(
            &["--import", import],
            &[
                "--alloc", "udmabuf", "--format", format, "--pad", "64", "--offset", "4096",
                "--one-fd",
            ],
        );
        assert_eq!(code, Some(0), "{import} {format}: {log}");
        assert_eq!(r.len(), 1, "{log}");
        if r[0].path == "cpu" {
            // A real dma-buf: every read is bracketed by DMA_BUF_IOCTL_SYNC start and end.
            assert!(r[0].syncs >= 2 && r[0].rows_converted >= 48, "{r:?}");
        }
        eprintln!(
            "guest: udmabuf {format} --import {import}: {} ({})",
            r[0].path, r[0].reason
        );
        if import == "auto" && format == "XR24" && Path::new("/dev/dri/renderD128").exists() {
            // GBM on virtio-gpu lists XRGB8888 but cannot import a foreign udmabuf
            // (EGL_BAD_ALLOC): the buffer falls back to the CPU path, the client is fine.
            assert_eq!(r[0].path, "cpu", "{r:?}");
            assert!(r[0].reason.contains("EGL import failed"), "{r:?}");
        }
    }
}

#[test]
fn guest_dma_heap_buffers() {
    if !need("guest_dma_heap_buffers", "/dev/dma_heap/system") {
        return;
    }
    for format in ["XR24", "NV12", "P010"] {
        let (code, r, log) = run_client(
            &["--import", "cpu"],
            &["--alloc", "heap", "--format", format],
        );
        assert_eq!(code, Some(0), "{format}: {log}");
        assert!(r[0].syncs >= 2, "{r:?}");
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
    let server = planar_tests::fixture::Server::start(&["--renderer", "pixman"]).unwrap();
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
    let server = planar_tests::fixture::Server::start(&[]).unwrap();
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
    let (failures, unallocatable) =
        every_format_where(planar_tests::alloc::Alloc::Gbm, |f| f.planes == 1 && !f.yuv);
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!("guest: GBM buffers shown and verified for every single-plane RGB format the device allocates; it cannot allocate: {}", unallocatable.join(" "));
}

#[test]
fn guest_gbm_buffer_imports_zero_copy() {
    if planar_tests::alloc::render_node().is_none() {
        return skip(
            "guest_gbm_buffer_imports_zero_copy",
            "no DRM render node: run in the guest tier with virtio-gpu",
        );
    }
    let (code, r, log) = run_client(&[], &["--alloc", "gbm", "--format", "XR24"]);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("gbm buffer:"), "{log}");
    assert_eq!(
        r[0].path, "egl",
        "a GBM buffer of the render node imports zero-copy: {r:?}"
    );
    eprintln!("guest: GBM XR24 buffer: {} ({})", r[0].path, r[0].reason);
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
    for alloc in ["udmabuf", "heap"] {
        for format in ["XR24", "AB24"] {
            let (code, r, log) = run_client(
                &["--renderer", "gles-software", "--import", "egl"],
                &[
                    "--alloc", alloc, "--format", format, "--pad", "64", "--offset", "4096",
                    "--one-fd",
                ],
            );
            assert_eq!(code, Some(0), "{alloc} {format}: {log}");
            assert_eq!(r[0].path, "egl", "{alloc} {format}: {r:?}");
            eprintln!(
                "guest: {alloc} {format} on llvmpipe: {} ({})",
                r[0].path, r[0].reason
            );
        }
    }
}

/// Every CPU-readable format from `alloc`, in one planar: each shown in a window and
/// checked through a capture (planar-client's --verify), in-process so the guest's slow
/// process start-up is paid once.
fn every_format_from(alloc: planar_tests::alloc::Alloc) -> Vec<String> {
    every_format_where(alloc, |_| true).0
}

/// As `every_format_from`, for the formats `keep` selects; also returns the formats the
/// allocator could not allocate at all (a GBM device supports only some).
fn every_format_where(
    alloc: planar_tests::alloc::Alloc,
    keep: impl Fn(&planar_protocol::format::FormatInfo) -> bool,
) -> (Vec<String>, Vec<String>) {
    use planar_tests::show::{show, ShowConfig, ShowResult};
    let server =
        planar_tests::fixture::Server::start(&["--allow-capture", "all", "--size", "128x96"])
            .unwrap();
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
            Ok(ShowResult::Shown) => {}
            Err(e) if format!("{e:#}").contains("gbm_bo_create") => {
                unallocatable.push(f.fourcc.to_string())
            }
            other => failures.push(format!("{}: {other:?}", f.fourcc)),
        }
    }
    (failures, unallocatable)
}

#[test]
fn every_format_from_memfd_in_one_planar() {
    let failures = every_format_from(planar_tests::alloc::Alloc::Memfd);
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
    for alloc in [
        planar_tests::alloc::Alloc::Udmabuf,
        planar_tests::alloc::Alloc::Heap,
    ] {
        let failures = every_format_from(alloc);
        assert!(failures.is_empty(), "{alloc:?}: {failures:#?}");
        eprintln!("guest: all 49 CPU-readable formats from {alloc:?}: shown and verified");
    }
}
