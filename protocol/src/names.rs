//! How fourccs, modifiers and sizes are spelled on command lines and in messages, written
//! once for planar, planar-client and the tests. The spellings are public (`--fail-import
//! NV12:linear`, `--modifier 0x0`, `--size 640x480`): keep them stable.

use crate::advertise::{MOD_INVALID, MOD_LINEAR};

/// The four characters of a fourcc code, when they are all printable.
fn printable(code: u32) -> Option<String> {
    let bytes = code.to_le_bytes();
    bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ')
        .then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// A fourcc code as its four characters, trailing spaces kept (`R8  `), or hex when they
/// are not printable: what the import report's `fourcc` holds.
pub fn fourcc_chars(code: u32) -> String {
    printable(code).unwrap_or_else(|| format!("{code:#010x}"))
}

/// A fourcc code for a message: its characters in quotes (`'NV12'`), or hex.
pub fn fourcc_name(code: u32) -> String {
    printable(code).map_or_else(|| format!("{code:#010x}"), |c| format!("'{c}'"))
}

/// Parses a fourcc as one to four characters (`NV12`, `R8`: padded with spaces).
pub fn parse_fourcc(s: &str) -> Result<u32, String> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > 4 {
        return Err(format!(
            "{s:?} is not a fourcc (one to four characters, e.g. NV12)"
        ));
    }
    let mut code = [b' '; 4];
    code[..bytes.len()].copy_from_slice(bytes);
    Ok(u32::from_le_bytes(code))
}

/// Parses a modifier: `linear`, `invalid`, or hex with or without `0x`.
pub fn parse_modifier(s: &str) -> Result<u64, String> {
    match s {
        "linear" => Ok(MOD_LINEAR),
        "invalid" => Ok(MOD_INVALID),
        hex => u64::from_str_radix(hex.trim_start_matches("0x"), 16)
            .map_err(|_| format!("{hex:?} is not a modifier (linear, invalid or hex)")),
    }
}

/// A modifier for a person: `LINEAR`, `INVALID`, or hex.
pub fn modifier_name(modifier: u64) -> String {
    match modifier {
        MOD_LINEAR => "LINEAR".to_string(),
        MOD_INVALID => "INVALID".to_string(),
        m => format!("{m:#x}"),
    }
}

/// Parses `WxH`, each side from 1 to `max`.
pub fn parse_size(s: &str, max: u32) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("size {s:?} is not WxH"))?;
    let side = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("size {s:?}: {v:?} is not a number from 1 to {max}"))
    };
    Ok((side(w)?, side(h)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use drm_fourcc::DrmFourcc as Fourcc;

    #[test]
    fn fourccs_are_named_and_parsed_back() {
        assert_eq!(fourcc_chars(Fourcc::R8 as u32), "R8  ");
        assert_eq!(fourcc_name(Fourcc::Nv12 as u32), "'NV12'");
        assert_eq!(fourcc_name(0x0102_0304), "0x01020304");
        assert_eq!(fourcc_chars(0x0102_0304), "0x01020304");
        assert_eq!(parse_fourcc("R8"), Ok(Fourcc::R8 as u32));
        assert_eq!(parse_fourcc("XR24"), Ok(Fourcc::Xrgb8888 as u32));
        assert!(parse_fourcc("").is_err());
        assert!(parse_fourcc("TOOLONG").is_err());
    }

    #[test]
    fn modifiers_are_named_and_parsed_back() {
        for m in [MOD_LINEAR, MOD_INVALID, 0x0100_0000_0000_0001] {
            let name = modifier_name(m);
            assert_eq!(parse_modifier(&name.to_ascii_lowercase()), Ok(m), "{name}");
        }
        assert_eq!(parse_modifier("0x0"), Ok(MOD_LINEAR));
        assert_eq!(parse_modifier("ff"), Ok(0xff));
        assert!(parse_modifier("zz").is_err());
    }

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(parse_size("1920x1080", 16384), Ok((1920, 1080)));
        assert!(parse_size("1920", 16384).is_err());
        assert!(parse_size("0x10", 16384).is_err());
        assert!(parse_size("10x99999", 16384).is_err());
        assert_eq!(parse_size("10x99999", u32::MAX), Ok((10, 99999)));
    }
}
