//! `planar-client conformance`: a linux-dmabuf conformance check that runs against any
//! compositor. Every malformed request the protocol defines an error for is sent on its
//! own connection, and the compositor must answer with that error and still serve a new
//! client afterwards; every advertised pair that a CPU allocator can lay out must import;
//! a LINEAR buffer with a padded stride and an offset must show the right pixels (checked
//! through a capture protocol when the compositor has one).

use std::os::fd::{AsFd, OwnedFd};

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{
    advertise::{MOD_INVALID, MOD_LINEAR},
    format::format_info,
    names::{fourcc_chars, modifier_name},
};
use wayland_client::Connection;

use crate::{
    client::{allocate, ShowConfig},
    dmabuf_client::{AddPlane, DmabufConn, Outcome},
    memfd,
};

/// zwp_linux_buffer_params_v1 error codes, as numbers a client sees.
pub mod codes {
    use planar_protocol::validate::ParamsError;
    pub const ALREADY_USED: u32 = ParamsError::AlreadyUsed as u32;
    pub const PLANE_IDX: u32 = ParamsError::PlaneIdx as u32;
    pub const PLANE_SET: u32 = ParamsError::PlaneSet as u32;
    pub const INCOMPLETE: u32 = ParamsError::Incomplete as u32;
    pub const INVALID_FORMAT: u32 = ParamsError::InvalidFormat as u32;
    pub const INVALID_DIMENSIONS: u32 = ParamsError::InvalidDimensions as u32;
    pub const OUT_OF_BOUNDS: u32 = ParamsError::OutOfBounds as u32;
    pub const INVALID_WL_BUFFER: u32 = ParamsError::InvalidWlBuffer as u32;
    pub const INVALID_DEV_T_SIZE: u32 = ParamsError::InvalidDevTSize as u32;
}
use codes::*;

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub name: &'static str,
    pub verdict: Verdict,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        })
    }
}

/// The whole run.
pub struct Report {
    pub version: u32,
    pub cases: Vec<CaseResult>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .count()
    }

    /// The table, one case a line.
    pub fn table(&self) -> String {
        let mut out = format!("zwp_linux_dmabuf_v1 version {}\n", self.version);
        out += &format!(
            "{:<32} {:<6} {:<34} {}\n",
            "case", "result", "expected", "actual"
        );
        for c in &self.cases {
            out += &format!(
                "{:<32} {:<6} {:<34} {}\n",
                c.name,
                c.verdict.to_string(),
                c.expected,
                c.actual
            );
        }
        let count = |v| self.cases.iter().filter(|c| c.verdict == v).count();
        out += &format!(
            "{} passed, {} failed, {} skipped\n",
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Skip)
        );
        out
    }
}

pub(crate) fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Created(_) => "created".into(),
        Outcome::Failed => "failed event".into(),
        Outcome::ProtocolError {
            interface, code, ..
        } if code == &u32::MAX => format!("disconnected ({interface})"),
        Outcome::ProtocolError {
            interface, code, ..
        } => format!("{interface} error {code}"),
    }
}

fn error_name(code: u32) -> &'static str {
    match code {
        ALREADY_USED => "ALREADY_USED",
        PLANE_IDX => "PLANE_IDX",
        PLANE_SET => "PLANE_SET",
        INCOMPLETE => "INCOMPLETE",
        INVALID_FORMAT => "INVALID_FORMAT",
        INVALID_DIMENSIONS => "INVALID_DIMENSIONS",
        OUT_OF_BOUNDS => "OUT_OF_BOUNDS",
        INVALID_DEV_T_SIZE => "INVALID_DEV_T_SIZE",
        _ => "?",
    }
}

/// Runs every case; `connect` opens a new connection to the compositor under test.
pub fn run(
    connect: &dyn Fn() -> anyhow::Result<Connection>,
    version: u32,
) -> anyhow::Result<Report> {
    let probe = DmabufConn::new(connect()?, version)?;
    let bound = probe.version();
    let mut advertised: Vec<(u32, u64)> = if bound >= 4 {
        let mut p = probe;
        p.default_feedback()?.table
    } else {
        probe.modifiers().to_vec()
    };
    if bound < 3 {
        // v1/v2 advertise formats only: assume the implicit modifier.
        let p = DmabufConn::new(connect()?, version)?;
        advertised = p.formats().iter().map(|&f| (f, MOD_INVALID)).collect();
    }
    advertised.sort_unstable();
    advertised.dedup();
    let mut cases = Vec::new();

    // The XRGB8888 modifier the compositor takes, preferring LINEAR.
    let xr24 = Fourcc::Xrgb8888 as u32;
    let base_mod = [MOD_LINEAR, MOD_INVALID]
        .into_iter()
        .find(|m| advertised.contains(&(xr24, *m)));
    let fd = memfd::sealed("conformance", &vec![0x80; 64 * 64 * 4])?;
    let p = |fd: &OwnedFd, idx, offset, stride, m| -> (OwnedFd, u32, u32, u32, u64) {
        (fd.try_clone().unwrap(), idx, offset, stride, m)
    };

    let error_case = |name: &'static str,
                      code: u32,
                      planes: Vec<(OwnedFd, u32, u32, u32, u64)>,
                      w: i32,
                      h: i32,
                      format: u32,
                      twice: bool|
     -> CaseResult {
        let Some(_) = base_mod else {
            return CaseResult {
                name,
                verdict: Verdict::Skip,
                expected: error_name(code).into(),
                actual: "XRGB8888 is not advertised".into(),
            };
        };
        let result = (|| -> anyhow::Result<(Outcome, bool)> {
            let mut c = DmabufConn::new(connect()?, version)?;
            let add: Vec<AddPlane<'_>> = planes
                .iter()
                .map(|(fd, idx, offset, stride, m)| AddPlane {
                    fd: fd.as_fd(),
                    plane_idx: *idx,
                    offset: *offset,
                    stride: *stride,
                    modifier: *m,
                })
                .collect();
            let outcome = if twice {
                let params = c.params(&add);
                params.create(w, h, format, wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags::empty());
                params.create(w, h, format, wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags::empty());
                match c.roundtrip() {
                    Err(o) => o,
                    Ok(()) => Outcome::Failed,
                }
            } else {
                c.create(&add, w, h, format, 0)
            };
            // Still alive: a new client gets a roundtrip.
            let alive = DmabufConn::new(connect()?, version).is_ok();
            Ok((outcome, alive))
        })();
        let (verdict, actual) = match result {
            Ok((o, alive)) => {
                let ok = o.protocol_code() == Some(code)
                    && matches!(&o, Outcome::ProtocolError { interface, .. } if interface == "zwp_linux_buffer_params_v1");
                let mut actual = describe(&o);
                if !alive {
                    actual += "; compositor no longer answers";
                }
                (
                    if ok && alive {
                        Verdict::Pass
                    } else {
                        Verdict::Fail
                    },
                    actual,
                )
            }
            Err(e) => (Verdict::Fail, format!("{e:#}")),
        };
        CaseResult {
            name,
            verdict,
            expected: error_name(code).into(),
            actual,
        }
    };

    let m = base_mod.unwrap_or(MOD_LINEAR);
    cases.push(error_case(
        "plane_idx",
        PLANE_IDX,
        vec![p(&fd, 4, 0, 256, m)],
        64,
        64,
        xr24,
        false,
    ));
    cases.push(error_case(
        "plane_set",
        PLANE_SET,
        vec![p(&fd, 0, 0, 256, m), p(&fd, 0, 0, 256, m)],
        64,
        64,
        xr24,
        false,
    ));
    cases.push(error_case(
        "incomplete_too_many_planes",
        INCOMPLETE,
        vec![p(&fd, 0, 0, 256, m), p(&fd, 1, 0, 256, m)],
        64,
        64,
        xr24,
        false,
    ));
    let nv12 = Fourcc::Nv12 as u32;
    if advertised.iter().any(|&(f, _)| f == nv12) {
        let nm = advertised.iter().find(|&&(f, _)| f == nv12).unwrap().1;
        cases.push(error_case(
            "incomplete_missing_plane",
            INCOMPLETE,
            vec![p(&fd, 0, 0, 64, nm)],
            64,
            48,
            nv12,
            false,
        ));
    } else {
        cases.push(CaseResult {
            name: "incomplete_missing_plane",
            verdict: Verdict::Skip,
            expected: "INCOMPLETE".into(),
            actual: "NV12 is not advertised".into(),
        });
    }
    cases.push(error_case(
        "invalid_format_unknown",
        INVALID_FORMAT,
        vec![p(&fd, 0, 0, 256, m)],
        64,
        64,
        0x2020_2020,
        false,
    ));
    if bound >= 4 {
        cases.push(error_case(
            "invalid_format_modifier",
            INVALID_FORMAT,
            vec![p(&fd, 0, 0, 256, 0x00ff_ffff_0000_0042)],
            64,
            64,
            xr24,
            false,
        ));
    } else {
        cases.push(CaseResult {
            name: "invalid_format_modifier",
            verdict: Verdict::Skip,
            expected: "INVALID_FORMAT".into(),
            actual: format!("v{bound}: a protocol error only from v4"),
        });
    }
    if bound >= 5 && advertised.iter().any(|&(f, _)| f == nv12) {
        let big = memfd::sealed("conformance", &vec![0x80; 64 * 48 * 2])?;
        cases.push(error_case(
            "invalid_format_mixed_modifiers",
            INVALID_FORMAT,
            vec![
                p(&big, 0, 0, 64, MOD_LINEAR),
                p(&big, 1, 4096, 64, MOD_INVALID),
            ],
            64,
            48,
            nv12,
            false,
        ));
    } else {
        cases.push(CaseResult {
            name: "invalid_format_mixed_modifiers",
            verdict: Verdict::Skip,
            expected: "INVALID_FORMAT".into(),
            actual: format!("v{bound} or no NV12: a protocol error only from v5"),
        });
    }
    cases.push(error_case(
        "invalid_dimensions_zero",
        INVALID_DIMENSIONS,
        vec![p(&fd, 0, 0, 256, m)],
        0,
        64,
        xr24,
        false,
    ));
    cases.push(error_case(
        "invalid_dimensions_negative",
        INVALID_DIMENSIONS,
        vec![p(&fd, 0, 0, 256, m)],
        64,
        -1,
        xr24,
        false,
    ));
    cases.push(error_case(
        "out_of_bounds_offset",
        OUT_OF_BOUNDS,
        vec![p(&fd, 0, 64 * 64 * 4, 256, m)],
        64,
        64,
        xr24,
        false,
    ));
    cases.push(error_case(
        "out_of_bounds_one_byte_over",
        OUT_OF_BOUNDS,
        vec![p(&fd, 0, 1, 256, m)],
        64,
        64,
        xr24,
        false,
    ));
    cases.push(error_case(
        "out_of_bounds_u32_overflow",
        OUT_OF_BOUNDS,
        vec![p(&fd, 0, 0xffff_ff00, 256, m)],
        64,
        64,
        xr24,
        false,
    ));
    cases.push(error_case(
        "already_used",
        ALREADY_USED,
        vec![p(&fd, 0, 0, 256, m)],
        64,
        64,
        xr24,
        true,
    ));

    // Every advertised pair a CPU allocator can lay out (LINEAR, or the implicit modifier
    // from a memfd) must import.
    let layable: Vec<(u32, u64)> = advertised
        .iter()
        .copied()
        .filter(|&(f, m)| (m == MOD_LINEAR || m == MOD_INVALID) && format_info(f).is_some())
        .collect();
    let mut failed = Vec::new();
    for &(f, m) in &layable {
        let cfg = ShowConfig {
            modifier: m,
            dmabuf_version: version,
            ..ShowConfig::new(Fourcc::try_from(f).unwrap(), 64, 48)
        };
        let (layout, fds) = allocate(&cfg)?;
        let mut c = DmabufConn::new(connect()?, version)?;
        let add = crate::client::layout_planes(&layout, &fds, m);
        let o = c.create(&add, 64, 48, f, 0);
        if !matches!(o, Outcome::Created(_)) {
            failed.push(format!("{}:{}", fourcc_chars(f).trim(), modifier_name(m)));
        }
    }
    let skipped = advertised.len() - layable.len();
    cases.push(CaseResult {
        name: "advertised_pairs_import",
        verdict: if layable.is_empty() {
            Verdict::Skip
        } else if failed.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        expected: format!("{} of {} created", layable.len(), layable.len()),
        actual: if failed.is_empty() {
            format!(
                "{} created ({skipped} tiled pairs not tried)",
                layable.len()
            )
        } else {
            format!("{} failed: {}", failed.len(), failed.join(" "))
        },
    });

    cases.extend(crate::conformance_v6::cases(
        connect, version, bound, base_mod,
    )?);
    cases.push(padded_pixels(connect, version, base_mod)?);
    Ok(Report {
        version: bound,
        cases,
    })
}

/// A LINEAR XRGB8888 buffer with a padded stride and an offset shows the right pixels.
fn padded_pixels(
    connect: &dyn Fn() -> anyhow::Result<Connection>,
    version: u32,
    modifier: Option<u64>,
) -> anyhow::Result<CaseResult> {
    let name = "padded_stride_and_offset";
    let expected = "quads at the window's place".to_string();
    let Some(modifier) = modifier else {
        return Ok(CaseResult {
            name,
            verdict: Verdict::Skip,
            expected,
            actual: "XRGB8888 is not advertised".into(),
        });
    };
    let conn = connect()?;
    let cfg = ShowConfig {
        modifier,
        pad: 64,
        offset: 4096,
        one_fd: true,
        dmabuf_version: version,
        ..ShowConfig::new(Fourcc::Xrgb8888, 64, 48)
    };
    let mut window = crate::window::Window::new(&conn, "planar-conformance")?;
    let mut dmabuf = DmabufConn::new(conn.clone(), version)?;
    let (buffer, _fds) = match crate::client::create_buffer(&mut dmabuf, &cfg)? {
        Ok(b) => b,
        Err(r) => {
            return Ok(CaseResult {
                name,
                verdict: Verdict::Fail,
                expected,
                actual: format!("{r:?}"),
            })
        }
    };
    window.show(&buffer, 64, None, 48);
    window.wait_presented()?;
    let capture = connect().and_then(|c| {
        if let Ok(mut t) = crate::test_client::PlanarTest::new(&c) {
            return Ok(t.capture()?.map(|(img, _)| img).ok());
        }
        Ok(
            match crate::capture::ext_image_copy(&c).or_else(|_| crate::capture::wlr_screencopy(&c))
            {
                Ok(crate::capture::Captured::Image(img)) => Some(img),
                _ => None,
            },
        )
    })?;
    let Some(img) = capture else {
        return Ok(CaseResult {
            name,
            verdict: Verdict::Skip,
            expected,
            actual: "created and shown; no capture protocol to check the pixels".into(),
        });
    };
    // The window's position is the compositor's choice: find its red top-left corner.
    let found = (0..img.height.saturating_sub(48))
        .flat_map(|y| (0..img.width.saturating_sub(64)).map(move |x| (x, y)))
        .find(|&(x, y)| {
            [
                (0, 0, [255, 0, 0]),
                (63, 0, [0, 255, 0]),
                (0, 47, [0, 0, 255]),
                (63, 47, [255, 255, 255]),
                (31, 23, [255, 0, 0]),
                (32, 24, [255, 255, 255]),
            ]
            .iter()
            .all(|&(dx, dy, c)| img.pixel(x + dx, y + dy)[..3] == c)
        });
    Ok(match found {
        Some((x, y)) => CaseResult {
            name,
            verdict: Verdict::Pass,
            expected,
            actual: format!("quads at ({x}, {y})"),
        },
        None => CaseResult {
            name,
            verdict: Verdict::Fail,
            expected,
            actual: "the pattern is not on the output".into(),
        },
    })
}
