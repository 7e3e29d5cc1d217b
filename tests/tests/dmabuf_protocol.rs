//! linux-dmabuf through a real wayland-client against a real planar: every bad request
//! gets its exact protocol error (or `failed`), a second client keeps working, planar
//! survives every case, and what v3 and v4 clients are told matches.

use std::os::fd::AsFd;

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::advertise::{MOD_INVALID, MOD_LINEAR};
use planar_tests::{
    dmabuf_client::{AddPlane, DmabufConn, Outcome},
    fixture::{gles_unavailable, skip, Server},
    memfd,
    shm_client::{self, ShmClientConfig},
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;

use planar_tests::conformance::codes::*;

const XR24: u32 = Fourcc::Xrgb8888 as u32;
const NV12: u32 = Fourcc::Nv12 as u32;

fn plane(
    fd: &std::os::fd::OwnedFd,
    idx: u32,
    offset: u32,
    stride: u32,
    modifier: u64,
) -> AddPlane<'_> {
    AddPlane {
        fd: fd.as_fd(),
        plane_idx: idx,
        offset,
        stride,
        modifier,
    }
}

/// A 64x64 XRGB8888 buffer, stride 256: 16384 bytes.
fn xrgb_fd() -> std::os::fd::OwnedFd {
    memfd::sealed("xr24", &vec![0x80; 16384]).unwrap()
}

fn server() -> Option<Server> {
    if let Some(reason) = gles_unavailable() {
        skip("egl_dmabuf_protocol", &reason);
        return None;
    }
    Some(Server::start(&["--renderer", "gles"]).expect("planar starts"))
}

/// Runs one case on a fresh connection and checks that planar and a bystander client
/// are still fine afterwards.
fn case(
    server: &mut Server,
    bystander: &mut DmabufConn,
    f: impl FnOnce(&mut DmabufConn) -> Outcome,
) -> Outcome {
    let mut conn = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let outcome = f(&mut conn);
    assert!(server.alive(), "planar died: {outcome:?}");
    bystander
        .roundtrip()
        .expect("the bystander client is still served");
    outcome
}

fn expect_error(outcome: Outcome, code: u32, needle: &str) {
    match outcome {
        Outcome::ProtocolError {
            interface,
            code: got,
            message,
        } => {
            assert_eq!(interface, "zwp_linux_buffer_params_v1", "{message}");
            assert_eq!(got, code, "{message}");
            assert!(
                !message.is_empty(),
                "the client got no error message: this test was built together with the \
                 compositor, whose winit gives every client libwayland's backend, which keeps \
                 messages to itself; build and test as scripts/test does"
            );
            assert!(
                message.contains(needle),
                "message {message:?} lacks {needle:?}"
            );
        }
        other => panic!("expected protocol error {code}, got {other:?}"),
    }
}

#[test]
fn egl_every_bad_request_gets_its_exact_error() {
    let Some(mut server) = server() else { return };
    let mut bystander = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let fd = xrgb_fd();

    let o = case(&mut server, &mut bystander, |c| {
        c.create(&[plane(&fd, 4, 0, 256, MOD_LINEAR)], 64, 64, XR24, 0)
    });
    expect_error(o, PLANE_IDX, "plane index 4");

    let o = case(&mut server, &mut bystander, |c| {
        c.create(
            &[
                plane(&fd, 0, 0, 256, MOD_LINEAR),
                plane(&fd, 0, 0, 256, MOD_LINEAR),
            ],
            64,
            64,
            XR24,
            0,
        )
    });
    expect_error(o, PLANE_SET, "plane 0 was already set");

    let o = case(&mut server, &mut bystander, |c| {
        c.create(&[plane(&fd, 0, 0, 64, MOD_LINEAR)], 64, 64, NV12, 0)
    });
    expect_error(o, INCOMPLETE, "plane 1 was not added");

    let o = case(&mut server, &mut bystander, |c| {
        c.create(&[plane(&fd, 0, 0, 256, MOD_LINEAR)], 64, 64, 0x2020_2020, 0)
    });
    expect_error(o, INVALID_FORMAT, "not a format planar knows");

    let o = case(&mut server, &mut bystander, |c| {
        c.create(
            &[plane(&fd, 0, 0, 256, 0x0100_0000_0000_0001)],
            64,
            64,
            XR24,
            0,
        )
    });
    expect_error(o, INVALID_FORMAT, "was not advertised");

    let o = case(&mut server, &mut bystander, |c| {
        c.create(&[plane(&fd, 0, 0, 256, MOD_LINEAR)], 0, 64, XR24, 0)
    });
    expect_error(o, INVALID_DIMENSIONS, "0x64");

    let o = case(&mut server, &mut bystander, |c| {
        c.create(&[plane(&fd, 0, 1, 256, MOD_LINEAR)], 64, 64, XR24, 0)
    });
    expect_error(o, OUT_OF_BOUNDS, "16385");

    let o = case(&mut server, &mut bystander, |c| {
        let p = c.params(&[plane(&fd, 0, 0, 256, MOD_LINEAR)]);
        p.create(64, 64, XR24, Flags::empty());
        p.create(64, 64, XR24, Flags::empty());
        c.roundtrip().err().unwrap_or(Outcome::Failed)
    });
    expect_error(o, ALREADY_USED, "already used");

    let o = case(&mut server, &mut bystander, |c| {
        let p = c.params(&[plane(&fd, 0, 0, 256, MOD_LINEAR)]);
        p.create(64, 64, XR24, Flags::empty());
        p.add(fd.as_fd(), 1, 0, 256, 0, 0);
        c.roundtrip().err().unwrap_or(Outcome::Failed)
    });
    expect_error(o, ALREADY_USED, "already used");

    let o = case(&mut server, &mut bystander, |c| {
        c.create(
            &[
                plane(&fd, 0, 0, 64, MOD_LINEAR),
                plane(&fd, 1, 4096, 64, MOD_INVALID),
            ],
            64,
            64,
            NV12,
            0,
        )
    });
    expect_error(o, INVALID_FORMAT, "modifier");

    let unsealed = memfd::unsealed("unsealed", &vec![0; 16384]).unwrap();
    let o = case(&mut server, &mut bystander, |c| {
        c.create_immed(&[plane(&unsealed, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 0)
    });
    expect_error(o, INVALID_WL_BUFFER, "F_SEAL_SHRINK");
}

#[test]
fn egl_failed_cases_keep_the_client_alive() {
    let Some(mut server) = server() else { return };
    let mut bystander = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    let mut conn = DmabufConn::new(server.connect().unwrap(), 5).unwrap();

    // An unsealed memfd: it could be truncated under the compositor.
    let unsealed = memfd::unsealed("unsealed", &vec![0; 16384]).unwrap();
    assert!(matches!(
        conn.create(&[plane(&unsealed, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 0),
        Outcome::Failed
    ));
    // A pipe.
    let (r, _w) = rustix::pipe::pipe().unwrap();
    assert!(matches!(
        conn.create(&[plane(&r, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 0),
        Outcome::Failed
    ));
    // Interlaced content.
    let fd = xrgb_fd();
    assert!(matches!(
        conn.create(&[plane(&fd, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 2),
        Outcome::Failed
    ));
    // And the same client can still create a good buffer, both ways.
    assert!(matches!(
        conn.create(&[plane(&fd, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 0),
        Outcome::Created(_)
    ));
    assert!(matches!(
        conn.create_immed(&[plane(&fd, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 1),
        Outcome::Created(_)
    ));
    bystander.roundtrip().expect("bystander served");
    assert!(server.alive());
    let log = server.log();
    for why in ["F_SEAL_SHRINK", "cannot be mapped", "interlaced"] {
        assert!(log.contains(why), "no log line says {why:?}:\n{log}");
    }
}

#[test]
fn egl_truncating_after_create_cannot_hurt() {
    let Some(mut server) = server() else { return };
    let mut conn = DmabufConn::new(server.connect().unwrap(), 5).unwrap();
    // A sealed memfd cannot shrink: the truncate fails, the buffer stays whole.
    let fd = xrgb_fd();
    assert!(matches!(
        conn.create(&[plane(&fd, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 0),
        Outcome::Created(_)
    ));
    assert!(rustix::fs::ftruncate(&fd, 0).is_err());
    // An unsealed one is refused at create, so truncating it later touches nothing of ours.
    let unsealed = memfd::unsealed("unsealed", &vec![0; 16384]).unwrap();
    assert!(matches!(
        conn.create(&[plane(&unsealed, 0, 0, 256, MOD_LINEAR)], 64, 64, XR24, 0),
        Outcome::Failed
    ));
    rustix::fs::ftruncate(&unsealed, 0).unwrap();
    let conn2 = server.connect().unwrap();
    shm_client::run_on(conn2, &ShmClientConfig::default()).expect("planar still draws");
    assert!(server.alive());
}

#[test]
fn egl_v4_feedback_matches_v3_events() {
    if let Some(reason) = gles_unavailable() {
        return skip("egl_v4_feedback_matches_v3_events", &reason);
    }
    let v5 = Server::start(&["--renderer", "gles"]).unwrap();
    let mut c5 = DmabufConn::new(v5.connect().unwrap(), 5).unwrap();
    assert_eq!(c5.version(), 5);
    assert!(
        c5.formats().is_empty() && c5.modifiers().is_empty(),
        "v4+ clients get no format events"
    );
    let fb = c5.default_feedback().unwrap();
    assert!(!fb.table.is_empty());
    assert!(!fb.tranches.is_empty());
    let mut from_tranches: Vec<(u32, u64)> =
        fb.tranches.iter().flat_map(|t| t.formats.clone()).collect();
    from_tranches.sort_unstable();
    from_tranches.dedup();
    let mut table = fb.table.clone();
    table.sort_unstable();
    assert_eq!(from_tranches, table, "every table entry is in a tranche");

    let v3 = Server::start(&["--renderer", "gles", "--dmabuf-version", "3"]).unwrap();
    let c3 = DmabufConn::new(v3.connect().unwrap(), 5).unwrap();
    assert_eq!(c3.version(), 3);
    let mut pairs = c3.modifiers().to_vec();
    pairs.sort_unstable();
    assert_eq!(
        pairs, table,
        "v3 modifier events and v4 feedback advertise the same pairs"
    );
    let mut formats = c3.formats().to_vec();
    formats.sort_unstable();
    let mut expect: Vec<u32> = table.iter().map(|p| p.0).collect();
    expect.dedup();
    assert_eq!(formats, expect);

    // The exact set llvmpipe gives, as a snapshot; a different EGL driver is a different
    // set, so only the software device is compared.
    let info = std::process::Command::new(planar_tests::fixture::bin("planar"))
        .args(["info", "--renderer", "gles"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&info.stdout).contains("EGL software device") {
        let text = render_feedback(&fb);
        insta::assert_snapshot!("llvmpipe_default_feedback", text);
    } else {
        skip(
            "egl_v4_feedback_matches_v3_events[snapshot]",
            "not the EGL software device",
        );
    }
}

fn render_feedback(fb: &planar_tests::dmabuf_client::Feedback) -> String {
    let name = planar_protocol::names::fourcc_chars;
    let modifier = planar_protocol::names::modifier_name;
    let mut out = format!(
        "main_device: {:#x}\ntable entries: {}\n",
        fb.main_device,
        fb.table.len()
    );
    for (i, t) in fb.tranches.iter().enumerate() {
        out += &format!("tranche {i}: device {:#x} flags {}\n", t.device, t.flags);
        for &(f, m) in &t.formats {
            out += &format!("  {} {}\n", name(f), modifier(m));
        }
    }
    out
}
