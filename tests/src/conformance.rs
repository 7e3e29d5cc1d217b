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
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;

use crate::{
    dmabuf_client::{AddPlane, DmabufConn, Outcome},
    memfd,
    show::{allocate, ShowConfig},
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

impl CaseResult {
    /// A case that could not run here, and why.
    pub(crate) fn skip(name: &'static str, expected: &str, why: String) -> CaseResult {
        CaseResult {
            name,
            verdict: Verdict::Skip,
            expected: expected.into(),
            actual: why,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

impl Verdict {
    pub(crate) fn from_ok(ok: bool) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
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

/// A plane as the error cases send it: fd, plane index, offset, stride, modifier.
type Plane = (OwnedFd, u32, u32, u32, u64);

fn plane(fd: &OwnedFd, idx: u32, offset: u32, stride: u32, modifier: u64) -> Plane {
    (fd.try_clone().unwrap(), idx, offset, stride, modifier)
}

/// How an error case sends its create request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Create {
    Once,
    /// Twice on the same params object (ALREADY_USED).
    Twice,
}

/// What every case needs: how to reach the compositor, what it advertised, and a buffer
/// to point planes at.
struct Ctx<'a> {
    connect: &'a dyn Fn() -> anyhow::Result<Connection>,
    version: u32,
    /// The version the compositor gave.
    bound: u32,
    /// Advertised (fourcc, modifier) pairs, sorted.
    advertised: Vec<(u32, u64)>,
    /// The XRGB8888 modifier the compositor takes, preferring LINEAR.
    base_mod: Option<u64>,
    /// A 64x64 XRGB8888 sealed memfd.
    fd: OwnedFd,
}

impl<'a> Ctx<'a> {
    /// Binds the global once to learn the version and what it advertises.
    fn probe(
        connect: &'a dyn Fn() -> anyhow::Result<Connection>,
        version: u32,
    ) -> anyhow::Result<Self> {
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
        let xr24 = Fourcc::Xrgb8888 as u32;
        let base_mod = [MOD_LINEAR, MOD_INVALID]
            .into_iter()
            .find(|m| advertised.contains(&(xr24, *m)));
        Ok(Ctx {
            connect,
            version,
            bound,
            advertised,
            base_mod,
            fd: memfd::sealed("conformance", &vec![0x80; 64 * 64 * 4])?,
        })
    }

    /// A plane on the shared buffer with the XRGB8888 modifier (LINEAR when none).
    fn plane(&self, idx: u32, offset: u32, stride: u32) -> Plane {
        plane(
            &self.fd,
            idx,
            offset,
            stride,
            self.base_mod.unwrap_or(MOD_LINEAR),
        )
    }

    /// The modifier of the first advertised NV12 pair.
    fn nv12(&self) -> Option<u64> {
        let nv12 = Fourcc::Nv12 as u32;
        self.advertised
            .iter()
            .find(|&&(f, _)| f == nv12)
            .map(|&(_, m)| m)
    }

    /// Sends one malformed request on a new connection: the compositor must answer with
    /// `code` on zwp_linux_buffer_params_v1 and still serve a new client afterwards.
    fn expect_error(
        &self,
        name: &'static str,
        code: u32,
        planes: Vec<Plane>,
        (w, h): (i32, i32),
        format: u32,
        create: Create,
    ) -> CaseResult {
        if self.base_mod.is_none() {
            return CaseResult::skip(name, error_name(code), "XRGB8888 is not advertised".into());
        }
        let (verdict, actual) = match self.send_malformed(&planes, (w, h), format, create) {
            Ok((o, alive)) => {
                let ok = o.protocol_code() == Some(code)
                    && matches!(&o, Outcome::ProtocolError { interface, .. } if interface == "zwp_linux_buffer_params_v1");
                let mut actual = describe(&o);
                if !alive {
                    actual += "; compositor no longer answers";
                }
                (Verdict::from_ok(ok && alive), actual)
            }
            Err(e) => (Verdict::Fail, format!("{e:#}")),
        };
        CaseResult {
            name,
            verdict,
            expected: error_name(code).into(),
            actual,
        }
    }

    /// The request of [`Ctx::expect_error`]: what came back, and whether a new client
    /// still gets a roundtrip.
    fn send_malformed(
        &self,
        planes: &[Plane],
        (w, h): (i32, i32),
        format: u32,
        create: Create,
    ) -> anyhow::Result<(Outcome, bool)> {
        let mut c = DmabufConn::new((self.connect)()?, self.version)?;
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
        let outcome = match create {
            Create::Twice => {
                let params = c.params(&add);
                params.create(w, h, format, Flags::empty());
                params.create(w, h, format, Flags::empty());
                match c.roundtrip() {
                    Err(o) => o,
                    Ok(()) => Outcome::Failed,
                }
            }
            Create::Once => c.create(&add, w, h, format, 0),
        };
        let alive = DmabufConn::new((self.connect)()?, self.version).is_ok();
        Ok((outcome, alive))
    }
}

/// One case of the table.
type Case = fn(&Ctx) -> anyhow::Result<CaseResult>;

/// The cases before the v6 ones, in table order.
const CASES: &[Case] = &[
    plane_idx,
    plane_set,
    incomplete_too_many_planes,
    incomplete_missing_plane,
    invalid_format_unknown,
    invalid_format_modifier,
    invalid_format_mixed_modifiers,
    invalid_dimensions_zero,
    invalid_dimensions_negative,
    out_of_bounds_offset,
    out_of_bounds_one_byte_over,
    out_of_bounds_u32_overflow,
    already_used,
    advertised_pairs_import,
];

const XR24: u32 = Fourcc::Xrgb8888 as u32;

/// Runs every case; `connect` opens a new connection to the compositor under test.
pub fn run(
    connect: &dyn Fn() -> anyhow::Result<Connection>,
    version: u32,
) -> anyhow::Result<Report> {
    let cx = Ctx::probe(connect, version)?;
    let mut cases = CASES
        .iter()
        .map(|case| case(&cx))
        .collect::<anyhow::Result<Vec<_>>>()?;
    cases.extend(crate::conformance_v6::cases(
        connect,
        version,
        cx.bound,
        cx.base_mod,
    )?);
    cases.push(padded_pixels(connect, version, cx.base_mod)?);
    Ok(Report {
        version: cx.bound,
        cases,
    })
}

fn plane_idx(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(4, 0, 256)];
    Ok(cx.expect_error("plane_idx", PLANE_IDX, planes, (64, 64), XR24, Create::Once))
}

fn plane_set(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 0, 256), cx.plane(0, 0, 256)];
    Ok(cx.expect_error("plane_set", PLANE_SET, planes, (64, 64), XR24, Create::Once))
}

fn incomplete_too_many_planes(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 0, 256), cx.plane(1, 0, 256)];
    let name = "incomplete_too_many_planes";
    Ok(cx.expect_error(name, INCOMPLETE, planes, (64, 64), XR24, Create::Once))
}

fn incomplete_missing_plane(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let name = "incomplete_missing_plane";
    let Some(nm) = cx.nv12() else {
        return Ok(CaseResult::skip(
            name,
            "INCOMPLETE",
            "NV12 is not advertised".into(),
        ));
    };
    let planes = vec![plane(&cx.fd, 0, 0, 64, nm)];
    let nv12 = Fourcc::Nv12 as u32;
    Ok(cx.expect_error(name, INCOMPLETE, planes, (64, 48), nv12, Create::Once))
}

fn invalid_format_unknown(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 0, 256)];
    let name = "invalid_format_unknown";
    Ok(cx.expect_error(
        name,
        INVALID_FORMAT,
        planes,
        (64, 64),
        0x2020_2020,
        Create::Once,
    ))
}

fn invalid_format_modifier(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let name = "invalid_format_modifier";
    if cx.bound < 4 {
        let why = format!("v{}: a protocol error only from v4", cx.bound);
        return Ok(CaseResult::skip(name, "INVALID_FORMAT", why));
    }
    let planes = vec![plane(&cx.fd, 0, 0, 256, 0x00ff_ffff_0000_0042)];
    Ok(cx.expect_error(name, INVALID_FORMAT, planes, (64, 64), XR24, Create::Once))
}

fn invalid_format_mixed_modifiers(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let name = "invalid_format_mixed_modifiers";
    if cx.bound < 5 || cx.nv12().is_none() {
        let why = format!("v{} or no NV12: a protocol error only from v5", cx.bound);
        return Ok(CaseResult::skip(name, "INVALID_FORMAT", why));
    }
    let big = memfd::sealed("conformance", &vec![0x80; 64 * 48 * 2])?;
    let planes = vec![
        plane(&big, 0, 0, 64, MOD_LINEAR),
        plane(&big, 1, 4096, 64, MOD_INVALID),
    ];
    let nv12 = Fourcc::Nv12 as u32;
    Ok(cx.expect_error(name, INVALID_FORMAT, planes, (64, 48), nv12, Create::Once))
}

fn invalid_dimensions_zero(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 0, 256)];
    let name = "invalid_dimensions_zero";
    Ok(cx.expect_error(
        name,
        INVALID_DIMENSIONS,
        planes,
        (0, 64),
        XR24,
        Create::Once,
    ))
}

fn invalid_dimensions_negative(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 0, 256)];
    let name = "invalid_dimensions_negative";
    Ok(cx.expect_error(
        name,
        INVALID_DIMENSIONS,
        planes,
        (64, -1),
        XR24,
        Create::Once,
    ))
}

fn out_of_bounds_offset(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 64 * 64 * 4, 256)];
    let name = "out_of_bounds_offset";
    Ok(cx.expect_error(name, OUT_OF_BOUNDS, planes, (64, 64), XR24, Create::Once))
}

fn out_of_bounds_one_byte_over(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 1, 256)];
    let name = "out_of_bounds_one_byte_over";
    Ok(cx.expect_error(name, OUT_OF_BOUNDS, planes, (64, 64), XR24, Create::Once))
}

fn out_of_bounds_u32_overflow(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 0xffff_ff00, 256)];
    let name = "out_of_bounds_u32_overflow";
    Ok(cx.expect_error(name, OUT_OF_BOUNDS, planes, (64, 64), XR24, Create::Once))
}

fn already_used(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let planes = vec![cx.plane(0, 0, 256)];
    Ok(cx.expect_error(
        "already_used",
        ALREADY_USED,
        planes,
        (64, 64),
        XR24,
        Create::Twice,
    ))
}

/// Every advertised pair a CPU allocator can lay out (LINEAR, or the implicit modifier
/// from a memfd) must import.
fn advertised_pairs_import(cx: &Ctx) -> anyhow::Result<CaseResult> {
    let layable: Vec<(u32, u64)> = cx
        .advertised
        .iter()
        .copied()
        .filter(|&(f, m)| (m == MOD_LINEAR || m == MOD_INVALID) && format_info(f).is_some())
        .collect();
    let mut failed = Vec::new();
    for &(f, m) in &layable {
        let cfg = ShowConfig {
            modifier: m,
            dmabuf_version: cx.version,
            ..ShowConfig::new(Fourcc::try_from(f).unwrap(), 64, 48)
        };
        let (layout, fds) = allocate(&cfg)?;
        let mut c = DmabufConn::new((cx.connect)()?, cx.version)?;
        let add = crate::show::layout_planes(&layout, &fds, m);
        let o = c.create(&add, 64, 48, f, 0);
        if !matches!(o, Outcome::Created(_)) {
            failed.push(format!("{}:{}", fourcc_chars(f).trim(), modifier_name(m)));
        }
    }
    let skipped = cx.advertised.len() - layable.len();
    Ok(CaseResult {
        name: "advertised_pairs_import",
        verdict: if layable.is_empty() {
            Verdict::Skip
        } else {
            Verdict::from_ok(failed.is_empty())
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
    let (buffer, _fds) = match crate::show::create_buffer(&mut dmabuf, &cfg)? {
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
