//! planar-client's `show`: allocate a buffer of any format and layout, encode a pattern
//! into it, submit it through zwp_linux_dmabuf_v1 and show it in a window.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::Context;
use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{
    advertise::{MOD_INVALID, MOD_LINEAR},
    format::{format_info, FORMATS},
    names::fourcc_chars,
    validate::FLAG_Y_INVERT,
};
use wayland_client::{protocol::wl_buffer::WlBuffer, Connection};

use crate::{
    dmabuf_client::{AddPlane, DmabufConn, Outcome},
    encode::{Encoding, Layout},
    pattern::quads_rgb,
    window::Window,
};

/// A pattern to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Red, green / blue, white quadrants.
    Quads,
    /// Eight vertical bars: white, yellow, cyan, green, magenta, red, blue, black.
    Bars,
    /// Red rising left to right, green rising top to bottom.
    Gradient,
    /// An 8-pixel black and white checkerboard.
    Checker,
    Solid([u8; 3]),
}

impl Pattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "quads" => Ok(Pattern::Quads),
            "bars" => Ok(Pattern::Bars),
            "gradient" => Ok(Pattern::Gradient),
            "checker" => Ok(Pattern::Checker),
            _ => {
                let hex = s.strip_prefix("solid:").ok_or_else(|| {
                    format!(
                        "unknown pattern {s:?} (quads, bars, gradient, checker or solid:RRGGBB)"
                    )
                })?;
                let v =
                    u32::from_str_radix(hex, 16).map_err(|_| format!("{hex:?} is not RRGGBB"))?;
                Ok(Pattern::Solid([(v >> 16) as u8, (v >> 8) as u8, v as u8]))
            }
        }
    }

    /// The RGB colour the pattern has at (x, y) of a w x h image.
    pub fn rgb(&self, w: u32, h: u32, x: u32, y: u32) -> [u8; 3] {
        const BARS: [[u8; 3]; 8] = [
            [255, 255, 255],
            [255, 255, 0],
            [0, 255, 255],
            [0, 255, 0],
            [255, 0, 255],
            [255, 0, 0],
            [0, 0, 255],
            [0, 0, 0],
        ];
        match self {
            Pattern::Quads => quads_rgb(w, h, x, y),
            Pattern::Bars => BARS[(x as usize * 8 / w.max(1) as usize).min(7)],
            Pattern::Gradient => {
                let ramp = |v: u32, n: u32| (v * 255 / n.saturating_sub(1).max(1)) as u8;
                [ramp(x, w), ramp(y, h), 64]
            }
            Pattern::Checker => {
                if (x / 8 + y / 8).is_multiple_of(2) {
                    [255, 255, 255]
                } else {
                    [0, 0, 0]
                }
            }
            Pattern::Solid(c) => *c,
        }
    }

    /// Whether (x, y) is within `band` pixels of a colour edge, where a compositor's chroma
    /// upsampling legitimately blends neighbours.
    pub fn near_edge(&self, w: u32, h: u32, x: u32, y: u32, band: u32) -> bool {
        if matches!(self, Pattern::Gradient | Pattern::Solid(_)) {
            return false;
        }
        let here = self.rgb(w, h, x, y);
        let (x0, x1) = (x.saturating_sub(band), (x + band).min(w - 1));
        let (y0, y1) = (y.saturating_sub(band), (y + band).min(h - 1));
        [(x0, y), (x1, y), (x, y0), (x, y1)]
            .iter()
            .any(|&(a, b)| self.rgb(w, h, a, b) != here)
    }
}

/// Parses a fourcc name (`NV12`, `XR24`) or a format name (`xrgb8888`, `nv12`): the
/// format table's name column.
pub fn parse_format(s: &str) -> Result<Fourcc, String> {
    let upper = s.to_ascii_uppercase();
    FORMATS
        .iter()
        .find(|f| {
            fourcc_chars(f.fourcc as u32).trim_end() == upper
                || f.name.to_ascii_uppercase() == upper
        })
        .map(|f| f.fourcc)
        .ok_or_else(|| format!("unknown format {s:?}"))
}

pub use planar_protocol::names::parse_modifier;

/// Everything `show` needs.
#[derive(Debug, Clone)]
pub struct ShowConfig {
    pub format: Fourcc,
    pub modifier: u64,
    pub width: u32,
    pub height: u32,
    pub stride: Option<u32>,
    pub pad: u32,
    pub offset: u32,
    pub one_fd: bool,
    pub pattern: Pattern,
    pub encoding: Encoding,
    pub y_invert: bool,
    pub immed: bool,
    pub frames: Option<u32>,
    pub dmabuf_version: u32,
    /// Buffers in the swapchain, cycled on frame callbacks.
    pub buffers: u32,
    /// Rows damaged on each commit after the first (`None`: the whole buffer).
    pub damage_rows: Option<u32>,
    /// Print the wp_presentation timestamp of every frame shown.
    pub print_presentation: bool,
    /// Ask planar (planar-test-v1) what it did with the first buffer, and print it.
    pub query: bool,
    /// Declare the encoding with wp-color-representation-v1.
    pub color_representation: bool,
    /// Capture the output after the first frame and check the pattern: the worst channel
    /// difference allowed.
    pub verify: Option<u8>,
    /// Take the modifier from the feedback (`--modifier auto`).
    pub auto_modifier: bool,
    pub alloc: crate::alloc::Alloc,
}

impl ShowConfig {
    /// `format` at `width`x`height`, LINEAR, minimal strides in separate fds, the quads
    /// pattern (BT.601 limited), one frame from one sealed-memfd buffer.
    pub fn new(format: Fourcc, width: u32, height: u32) -> Self {
        ShowConfig {
            format,
            modifier: MOD_LINEAR,
            width,
            height,
            stride: None,
            pad: 0,
            offset: 0,
            one_fd: false,
            pattern: Pattern::Quads,
            encoding: Encoding::default(),
            y_invert: false,
            immed: false,
            frames: Some(1),
            dmabuf_version: 5,
            buffers: 1,
            damage_rows: None,
            print_presentation: false,
            query: false,
            color_representation: false,
            verify: None,
            auto_modifier: false,
            alloc: crate::alloc::Alloc::Memfd,
        }
    }
}

/// The `add` requests for a layout's planes.
pub fn layout_planes<'a>(layout: &Layout, fds: &'a [OwnedFd], modifier: u64) -> Vec<AddPlane<'a>> {
    layout
        .planes
        .iter()
        .enumerate()
        .map(|(i, &(fd, offset, stride))| AddPlane {
            fd: fds[fd].as_fd(),
            plane_idx: i as u32,
            offset,
            stride,
            modifier,
        })
        .collect()
}

/// What happened to the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum ShowResult {
    Shown,
    /// `--verify` found the output differs from the pattern.
    VerifyFailed(String),
    Failed,
    ProtocolError {
        code: u32,
        message: String,
    },
}

/// The buffer's fds with the pattern encoded, and its layout.
pub fn allocate(cfg: &ShowConfig) -> anyhow::Result<(Layout, Vec<OwnedFd>)> {
    let layout = Layout::new(
        cfg.format, cfg.width, cfg.height, cfg.stride, cfg.pad, cfg.offset, cfg.one_fd,
    )
    .map_err(anyhow::Error::msg)?;
    let (w, h) = (cfg.width, cfg.height);
    let pattern = cfg.pattern;
    // A y-inverted buffer holds its rows bottom-up; the compositor flips it back.
    let fds = layout
        .fill(cfg.encoding, |x, y| {
            let y = if cfg.y_invert { h - 1 - y } else { y };
            pattern.rgb(w, h, x, y)
        })
        .into_iter()
        .map(|bytes| crate::alloc::alloc(cfg.alloc, &bytes))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("error allocating with {:?}", cfg.alloc))?;
    Ok((layout, fds))
}

/// Allocates one buffer as `cfg` says and asks the compositor to create it. The fds are
/// returned to be kept open while the buffer is in use.
pub fn create_buffer(
    dmabuf: &mut DmabufConn,
    cfg: &ShowConfig,
) -> anyhow::Result<Result<(WlBuffer, Vec<OwnedFd>), ShowResult>> {
    if cfg.alloc == crate::alloc::Alloc::Gbm {
        return create_gbm_buffer(dmabuf, cfg);
    }
    let (layout, fds) = allocate(cfg)?;
    let planes = layout_planes(&layout, &fds, cfg.modifier);
    let flags = if cfg.y_invert { FLAG_Y_INVERT } else { 0 };
    let (w, h) = (cfg.width as i32, cfg.height as i32);
    let outcome = if cfg.immed {
        dmabuf.create_immed(&planes, w, h, cfg.format as u32, flags)
    } else {
        dmabuf.create(&planes, w, h, cfg.format as u32, flags)
    };
    Ok(match outcome {
        Outcome::Created(b) => Ok((b, fds)),
        Outcome::Failed => Err(ShowResult::Failed),
        Outcome::ProtocolError { code, message, .. } => {
            Err(ShowResult::ProtocolError { code, message })
        }
    })
}

/// A GBM buffer: GBM decides the stride and the modifier; the pattern is written through
/// a mapping.
fn create_gbm_buffer(
    dmabuf: &mut DmabufConn,
    cfg: &ShowConfig,
) -> anyhow::Result<Result<(WlBuffer, Vec<OwnedFd>), ShowResult>> {
    let (w, h) = (cfg.width, cfg.height);
    let (fd, offset, stride, modifier) = crate::alloc::gbm_buffer(cfg.format, w, h, |y, row| {
        let y = if cfg.y_invert { h - 1 - y } else { y };
        let mut at = 0;
        for x in 0..w {
            let px = crate::encode::encode_rgb(cfg.format, cfg.pattern.rgb(w, h, x, y));
            row[at..at + px.len()].copy_from_slice(&px);
            at += px.len();
        }
    })?;
    println!("planar-client: gbm buffer: offset {offset}, stride {stride}, modifier {modifier:#x}");
    let planes = [AddPlane {
        fd: fd.as_fd(),
        plane_idx: 0,
        offset,
        stride,
        modifier,
    }];
    let flags = if cfg.y_invert { FLAG_Y_INVERT } else { 0 };
    let outcome = if cfg.immed {
        dmabuf.create_immed(&planes, w as i32, h as i32, cfg.format as u32, flags)
    } else {
        dmabuf.create(&planes, w as i32, h as i32, cfg.format as u32, flags)
    };
    Ok(match outcome {
        Outcome::Created(b) => Ok((b, vec![fd])),
        Outcome::Failed => Err(ShowResult::Failed),
        Outcome::ProtocolError { code, message, .. } => {
            Err(ShowResult::ProtocolError { code, message })
        }
    })
}

/// With v4+, reads the default feedback and picks the first tranche (the most preferred)
/// that has the format: with `--modifier auto` it takes that tranche's modifier (LINEAR
/// first, then the implicit one), else it checks the asked modifier is there. It says
/// what it chose and why.
fn choose_tranche(dmabuf: &mut DmabufConn, cfg: &ShowConfig) -> anyhow::Result<ShowConfig> {
    let mut cfg = cfg.clone();
    let fourcc = cfg.format as u32;
    let name = cfg.format.to_string();
    if dmabuf.version() < 4 {
        let has = dmabuf
            .modifiers()
            .iter()
            .any(|&(f, m)| f == fourcc && (cfg.auto_modifier || m == cfg.modifier))
            || dmabuf.formats().contains(&fourcc);
        if cfg.auto_modifier {
            cfg.modifier = if dmabuf.modifiers().contains(&(fourcc, MOD_LINEAR)) {
                MOD_LINEAR
            } else {
                MOD_INVALID
            };
        }
        println!(
            "planar-client: linux-dmabuf v{} (no feedback): {name} {} advertised; modifier {:#x}",
            dmabuf.version(),
            if has { "is" } else { "is not" },
            cfg.modifier
        );
        return Ok(cfg);
    }
    let fb = dmabuf.default_feedback()?;
    let pick = fb.tranches.iter().enumerate().find_map(|(i, t)| {
        let mods: Vec<u64> = t
            .formats
            .iter()
            .filter(|(f, _)| *f == fourcc)
            .map(|(_, m)| *m)
            .collect();
        if mods.is_empty() {
            return None;
        }
        let m = if cfg.auto_modifier {
            [MOD_LINEAR, MOD_INVALID]
                .into_iter()
                .find(|m| mods.contains(m))
                .unwrap_or(mods[0])
        } else if mods.contains(&cfg.modifier) {
            cfg.modifier
        } else {
            return None;
        };
        Some((i, t.device, t.flags, m))
    });
    match pick {
        Some((i, device, flags, m)) => {
            println!(
                "planar-client: feedback: main device {:#x}; chose tranche {i} (device {device:#x}, flags {flags}): the most preferred one with {name} modifier {m:#x}",
                fb.main_device
            );
            cfg.modifier = m;
        }
        None => println!(
            "planar-client: feedback: no tranche has {name} with modifier {:#x}; submitting it anyway",
            cfg.modifier
        ),
    }
    Ok(cfg)
}

/// Submits the buffers and shows them, one per frame, for `frames` frames.
pub fn show(conn: Connection, cfg: &ShowConfig) -> anyhow::Result<ShowResult> {
    let mut window = Window::new(&conn, "planar-client")?;
    if cfg.color_representation {
        window.set_color_representation(cfg.encoding.bt709, cfg.encoding.full_range)?;
    }
    let mut dmabuf = DmabufConn::new(conn.clone(), cfg.dmabuf_version)?;
    let cfg = &choose_tranche(&mut dmabuf, cfg)?;
    let mut buffers = Vec::new();
    for _ in 0..cfg.buffers.max(1) {
        match create_buffer(&mut dmabuf, cfg)? {
            Ok(created) => buffers.push(created),
            Err(result) => return Ok(result),
        }
    }
    let (w, h) = (cfg.width as i32, cfg.height as i32);
    window.show(&buffers[0].0, w, None, h);
    window.wait_presented()?;
    let verified = match cfg.verify {
        Some(tolerance) => Some(verify(&conn, cfg, tolerance)?),
        None => None,
    };
    if cfg.frames.is_none() {
        // Showing until killed: this line tells a script (bench/throughput with a
        // compositor that has no planar-test-v1) that the first frame is on screen.
        use std::io::Write;
        println!("planar-client: shown");
        let _ = std::io::stdout().flush();
    }
    let mut shown = 1u32;
    while cfg.frames.is_none_or(|n| shown < n) {
        let rows = cfg.damage_rows.map(|n| (0, n.min(cfg.height) as i32));
        window.show(&buffers[shown as usize % buffers.len()].0, w, rows, h);
        window.wait_presented()?;
        shown += 1;
    }
    if cfg.query {
        let mut test = crate::test_client::PlanarTest::new(&conn)?;
        match test.query(&buffers[0].0)? {
            crate::test_client::Record::Found { path, reason, json } => {
                println!("planar-client: import path {path}: {reason}");
                println!("planar-client: record {json}");
            }
            crate::test_client::Record::Unknown => println!("planar-client: no import record"),
        }
    }
    if cfg.print_presentation {
        for (secs, nsec, seq) in window.presented() {
            println!("planar-client: presented seq {seq} at {secs}.{nsec:09}");
        }
    }
    window.close()?;
    for (b, _fds) in buffers {
        b.destroy();
    }
    conn.flush()?;
    Ok(match verified {
        Some(Err(why)) => ShowResult::VerifyFailed(why),
        _ => ShowResult::Shown,
    })
}

/// Captures the output (planar-test-v1, else ext-image-copy-capture, else wlr-screencopy)
/// and checks every pattern region of the window, which must be at the output's top-left,
/// against the colours the pattern encodes, decoded with the declared matrix and range.
/// Prints the worst difference.
fn verify(
    conn: &Connection,
    cfg: &ShowConfig,
    tolerance: u8,
) -> anyhow::Result<Result<(), String>> {
    let img = if let Ok(mut t) = crate::test_client::PlanarTest::new(conn) {
        t.capture()?.map_err(anyhow::Error::msg)?.0
    } else {
        match crate::capture::ext_image_copy(conn)
            .or_else(|_| crate::capture::wlr_screencopy(conn))?
        {
            crate::capture::Captured::Image(img) => img,
            crate::capture::Captured::Refused => {
                anyhow::bail!("the compositor refused the capture")
            }
        }
    };
    let (w, h) = (cfg.width.min(img.width), cfg.height.min(img.height));
    let mut worst = (0i16, 0, 0, [0u8; 3], [0u8; 3]);
    for y in 0..h {
        for x in 0..w {
            // Chroma edges blend in the compositor's upsampling: skip a band around the
            // colour edges of subsampled formats.
            if format_info(cfg.format as u32).is_some_and(|f| f.yuv)
                && cfg.pattern.near_edge(cfg.width, cfg.height, x, y, 3)
            {
                continue;
            }
            let pattern = cfg.pattern;
            let want = crate::encode::expected_at(
                cfg.format,
                cfg.encoding,
                |px, py| pattern.rgb(cfg.width, cfg.height, px, py),
                x,
                y,
            );
            let got = img.pixel(x, y);
            for c in 0..3 {
                let d = i16::from(got[c]) - i16::from(want[c]);
                if d.abs() > worst.0.abs() {
                    worst = (d, x, y, [got[0], got[1], got[2]], want);
                }
            }
        }
    }
    let (d, x, y, got, want) = worst;
    println!("planar-client: verify: worst difference {d} at ({x}, {y}): {got:?}, expected {want:?} (tolerance {tolerance})");
    Ok(if d.unsigned_abs() > u16::from(tolerance) {
        Err(format!(
            "difference {d} at ({x}, {y}) is past the tolerance {tolerance}"
        ))
    } else {
        Ok(())
    })
}

/// Parses `WxH` (each side at least 1).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    planar_protocol::names::parse_size(s, u32::MAX)
}
