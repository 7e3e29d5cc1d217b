//! Validation of zwp_linux_buffer_params_v1 requests as pure functions. Each answer is the
//! exact protocol error (or a `failed`), with a message naming the plane and numbers.
//!
//! Arithmetic is done in u64 with checked operations: every input is at most 32 bits, so
//! nothing a client sends can wrap.

use crate::{
    advertise::{Advertised, MOD_INVALID, MOD_LINEAR},
    format::{format_info, FormatInfo, MAX_PLANES},
    names::fourcc_name,
};

/// zwp_linux_buffer_params_v1 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ParamsError {
    AlreadyUsed = 0,
    PlaneIdx = 1,
    PlaneSet = 2,
    Incomplete = 3,
    InvalidFormat = 4,
    InvalidDimensions = 5,
    OutOfBounds = 6,
    InvalidWlBuffer = 7,
    /// v6: `set_sampling_device` with an array that is not one dev_t.
    InvalidDevTSize = 8,
}

/// Buffer flags from the protocol.
pub const FLAG_Y_INVERT: u32 = 1;
pub const FLAG_INTERLACED: u32 = 2;
pub const FLAG_BOTTOM_FIRST: u32 = 4;

/// One plane as `add` gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    pub offset: u32,
    pub stride: u32,
    pub modifier: u64,
    /// The fd's size from `lseek(fd, 0, SEEK_END)`, `None` when lseek cannot tell.
    pub size: Option<u64>,
}

/// The arguments of `create` / `create_immed`, and the version the client bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateRequest {
    pub width: i32,
    pub height: i32,
    pub format: u32,
    pub flags: u32,
    pub version: u32,
}

/// Why a request is refused: every check here answers with one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A fatal protocol error on the params object.
    Protocol(ParamsError, String),
    /// Not the client's obvious fault: the `failed` event (INVALID_WL_BUFFER for
    /// create_immed).
    Failed(String),
}

impl Rejection {
    /// The protocol error to post: a `failed` becomes INVALID_WL_BUFFER, as create_immed
    /// has no `failed` event.
    pub fn into_protocol(self) -> (ParamsError, String) {
        match self {
            Rejection::Protocol(code, msg) => (code, msg),
            Rejection::Failed(msg) => (ParamsError::InvalidWlBuffer, msg),
        }
    }
}

/// Checks a v6 `set_sampling_device` array: exactly one native-endian dev_t.
pub fn check_sampling_device(device: &[u8]) -> Result<u64, Rejection> {
    let bytes: [u8; 8] = device.try_into().map_err(|_| {
        Rejection::Protocol(
            ParamsError::InvalidDevTSize,
            format!(
                "set_sampling_device: the device array has {} bytes; a dev_t has {}",
                device.len(),
                std::mem::size_of::<rustix::fs::Dev>()
            ),
        )
    })?;
    Ok(u64::from_ne_bytes(bytes))
}

/// Checks an `add` request against the planes already added.
pub fn check_add(
    planes: &[Option<Plane>; MAX_PLANES],
    used: bool,
    plane_idx: u32,
    modifier: u64,
    version: u32,
) -> Result<(), Rejection> {
    if used {
        return Err(Rejection::Protocol(
            ParamsError::AlreadyUsed,
            "add after create: the params object was already used".into(),
        ));
    }
    let idx = plane_idx as usize;
    if idx >= MAX_PLANES {
        return Err(Rejection::Protocol(
            ParamsError::PlaneIdx,
            format!("plane index {plane_idx} is out of bounds (at most {MAX_PLANES} planes)"),
        ));
    }
    if planes[idx].is_some() {
        return Err(Rejection::Protocol(
            ParamsError::PlaneSet,
            format!("plane {plane_idx} was already set"),
        ));
    }
    if version >= 5 {
        if let Some((other, p)) = planes
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.filter(|p| p.modifier != modifier).map(|p| (i, p)))
        {
            return Err(Rejection::Protocol(
                ParamsError::InvalidFormat,
                format!(
                    "plane {plane_idx} has modifier {modifier:#x} but plane {other} has {:#x}",
                    p.modifier
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a `create` / `create_immed` request; on success returns the format's layout.
pub fn check_create(
    req: &CreateRequest,
    planes: &[Option<Plane>; MAX_PLANES],
    used: bool,
    advertised: &Advertised,
) -> Result<&'static FormatInfo, Rejection> {
    use ParamsError::*;
    let protocol = |code, msg: String| Err(Rejection::Protocol(code, msg));
    if used {
        return protocol(
            AlreadyUsed,
            "create after create: the params object was already used".into(),
        );
    }
    if req.width <= 0 || req.height <= 0 {
        return protocol(
            InvalidDimensions,
            format!(
                "invalid size {}x{}: width and height must be positive",
                req.width, req.height
            ),
        );
    }
    let fourcc = fourcc_name(req.format);
    let Some(info) = format_info(req.format) else {
        return protocol(
            InvalidFormat,
            format!("format {fourcc} is not a format planar knows"),
        );
    };
    if !advertised.has_format(req.format) {
        return protocol(InvalidFormat, format!("format {fourcc} was not advertised"));
    }
    let n = usize::from(info.planes);
    for (i, p) in planes.iter().enumerate() {
        match (i < n, p.is_some()) {
            (true, false) => {
                return protocol(
                    Incomplete,
                    format!("format {fourcc} has {n} planes but plane {i} was not added"),
                )
            }
            (false, true) => {
                return protocol(
                    Incomplete,
                    format!("format {fourcc} has {n} planes but plane {i} was added"),
                )
            }
            _ => {}
        }
    }
    let planes: Vec<Plane> = planes[..n]
        .iter()
        .map(|p| p.expect("checked above"))
        .collect();
    let modifier = planes[0].modifier;
    if let Some((i, p)) = planes
        .iter()
        .enumerate()
        .find(|(_, p)| p.modifier != modifier)
    {
        // From v5 on this was a protocol error at `add`; before, it is a failed import.
        return Err(Rejection::Failed(format!(
            "plane {i} has modifier {:#x} but plane 0 has {modifier:#x}",
            p.modifier
        )));
    }
    if !advertised.has_pair(req.format, modifier) {
        let msg = format!("format {fourcc} with modifier {modifier:#x} was not advertised");
        return if req.version >= 4 {
            protocol(InvalidFormat, msg)
        } else {
            Err(Rejection::Failed(msg))
        };
    }
    let known = FLAG_Y_INVERT | FLAG_INTERLACED | FLAG_BOTTOM_FIRST;
    if req.flags & !known != 0 {
        return Err(Rejection::Failed(format!(
            "unknown flags {:#x}",
            req.flags & !known
        )));
    }
    if req.flags & (FLAG_INTERLACED | FLAG_BOTTOM_FIRST) != 0 {
        return Err(Rejection::Failed(format!(
            "flags {:#x}: interlaced buffers are not supported",
            req.flags
        )));
    }
    let (w, h) = (req.width as u32, req.height as u32);
    let linear = modifier == MOD_LINEAR || modifier == MOD_INVALID;
    for (i, p) in planes.iter().enumerate() {
        check_plane_bounds(info, i, p, w, h, linear)
            .map_err(|m| Rejection::Protocol(OutOfBounds, m))?;
    }
    Ok(info)
}

fn check_plane_bounds(
    info: &FormatInfo,
    i: usize,
    p: &Plane,
    w: u32,
    h: u32,
    linear: bool,
) -> Result<(), String> {
    let rows = u64::from(info.plane_height(i, h));
    if linear {
        // Only a linear layout says what a row is; tiled strides are the driver's business.
        let need = info
            .min_stride(i, w)
            .ok_or_else(|| format!("plane {i}: row size of {w} pixels overflows"))?;
        if u64::from(p.stride) < need {
            return Err(format!(
                "plane {i}: stride {} is less than the {need} bytes a row of {} pixels needs",
                p.stride,
                info.plane_width(i, w)
            ));
        }
    }
    let end = u64::from(p.stride)
        .checked_mul(rows)
        .and_then(|b| b.checked_add(u64::from(p.offset)))
        .ok_or_else(|| format!("plane {i}: offset + stride * height overflows"))?;
    match p.size {
        Some(size) if p.offset as u64 >= size => Err(format!(
            "plane {i}: offset {} is at or past the end of the {size}-byte buffer",
            p.offset
        )),
        Some(size) if end > size => Err(format!(
            "plane {i}: offset {} + stride {} * {rows} rows = {end} bytes, past the end of the {size}-byte buffer",
            p.offset, p.stride
        )),
        // lseek cannot tell the size (an exporter without llseek): the layout must still fit
        // the protocol's 32-bit offsets, and the importers refuse the rest safely (EGL
        // checks the buffer object's size; the CPU path maps exactly this range and gets
        // EINVAL, not SIGBUS, past the end of a dma-buf).
        None if end > u64::from(u32::MAX) => Err(format!(
            "plane {i}: offset {} + stride {} * {rows} rows = {end} bytes does not fit in 32 bits",
            p.offset, p.stride
        )),
        _ => Ok(()),
    }
}
