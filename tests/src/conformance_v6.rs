//! The linux-dmabuf v6 cases of `planar-client conformance`: v6 drops the `main_device`
//! event for the `sampling` tranche flag (every tranche must carry a flag), and adds
//! `set_sampling_device`, whose array must be exactly one dev_t (INVALID_DEV_T_SIZE) and
//! which is no error for a device the compositor did not advertise. Before v6 the
//! feedback must still name its main device and use no flag that does not exist yet.

use std::os::fd::AsFd;

use drm_fourcc::DrmFourcc as Fourcc;
use wayland_client::Connection;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;

use crate::{
    conformance::{codes::INVALID_DEV_T_SIZE, describe, CaseResult, Verdict},
    dmabuf_client::{AddPlane, DmabufConn, Outcome},
    memfd,
};

/// `zwp_linux_dmabuf_feedback_v1.tranche_flags.sampling` (since v6).
const SAMPLING: u32 = 2;

/// The v6 cases (and the pre-v6 check of the same events). `bound` is the version the
/// compositor gave; `modifier` the XRGB8888 modifier it takes, if any.
pub fn cases(
    connect: &dyn Fn() -> anyhow::Result<Connection>,
    version: u32,
    bound: u32,
    modifier: Option<u64>,
) -> anyhow::Result<Vec<CaseResult>> {
    let mut cases = Vec::new();
    cases.push(feedback_device_events(connect, version, bound)?);
    let (dev_name, dev_expected) = ("invalid_dev_t_size", "INVALID_DEV_T_SIZE");
    let (ok_name, ok_expected) = ("sampling_device_then_create", "created");
    let Some(modifier) = modifier.filter(|_| bound >= 6) else {
        let why = if bound < 6 {
            format!("v{bound}: set_sampling_device is v6")
        } else {
            "XRGB8888 is not advertised".into()
        };
        cases.push(CaseResult::skip(dev_name, dev_expected, why.clone()));
        cases.push(CaseResult::skip(ok_name, ok_expected, why));
        return Ok(cases);
    };
    let fd = memfd::sealed("conformance-v6", &vec![0x80; 64 * 64 * 4])?;
    let plane = [AddPlane {
        fd: fd.as_fd(),
        plane_idx: 0,
        offset: 0,
        stride: 256,
        modifier,
    }];
    let xr24 = Fourcc::Xrgb8888 as u32;

    // Half a dev_t: a protocol error on the params object; the compositor carries on.
    let mut c = DmabufConn::new(connect()?, version)?;
    let params = c.params(&plane);
    params.set_sampling_device(vec![0; 4]);
    params.create(64, 64, xr24, Flags::empty());
    let outcome = c.roundtrip().err().unwrap_or(Outcome::Failed);
    let alive = DmabufConn::new(connect()?, version).is_ok();
    let ok = alive
        && matches!(&outcome, Outcome::ProtocolError { interface, code, .. }
            if interface == "zwp_linux_buffer_params_v1" && *code == INVALID_DEV_T_SIZE);
    let mut actual = describe(&outcome);
    if !alive {
        actual += "; compositor no longer answers";
    }
    cases.push(CaseResult {
        name: dev_name,
        verdict: Verdict::from_ok(ok),
        expected: dev_expected.into(),
        actual,
    });

    // A whole dev_t, of a device nobody advertised: only a hint, the buffer is created.
    let mut c = DmabufConn::new(connect()?, version)?;
    let feedback = c.default_feedback()?;
    let device = feedback.tranches.first().map_or(0, |t| t.device);
    let params = c.params(&plane);
    params.set_sampling_device(device.to_ne_bytes().to_vec());
    params.destroy();
    let unadvertised = c.params(&plane);
    unadvertised.set_sampling_device(u64::MAX.to_ne_bytes().to_vec());
    unadvertised.destroy();
    let outcome = c.create(&plane, 64, 64, xr24, 0);
    cases.push(CaseResult {
        name: ok_name,
        verdict: Verdict::from_ok(matches!(outcome, Outcome::Created(_))),
        expected: ok_expected.into(),
        actual: describe(&outcome),
    });
    Ok(cases)
}

/// v6: no main_device, every tranche flagged sampling; v4/v5: a main_device, and no
/// tranche with the v6-only sampling flag.
fn feedback_device_events(
    connect: &dyn Fn() -> anyhow::Result<Connection>,
    version: u32,
    bound: u32,
) -> anyhow::Result<CaseResult> {
    let name = "feedback_device_events";
    if bound < 4 {
        return Ok(CaseResult::skip(
            name,
            "feedback (v4+)",
            format!("v{bound}: no feedback"),
        ));
    }
    let mut c = DmabufConn::new(connect()?, version)?;
    let fb = c.default_feedback()?;
    let flags: Vec<u32> = fb.tranches.iter().map(|t| t.flags).collect();
    let (expected, ok) = if bound >= 6 {
        (
            "no main_device; all tranches sampling",
            !fb.main_device_sent && !flags.is_empty() && flags.iter().all(|f| f & SAMPLING != 0),
        )
    } else {
        (
            "main_device; no sampling flag",
            fb.main_device_sent && flags.iter().all(|f| f & SAMPLING == 0),
        )
    };
    Ok(CaseResult {
        name,
        verdict: Verdict::from_ok(ok),
        expected: expected.into(),
        actual: format!(
            "main_device {}; tranche flags {flags:?}",
            if fb.main_device_sent {
                "sent"
            } else {
                "not sent"
            }
        ),
    })
}
