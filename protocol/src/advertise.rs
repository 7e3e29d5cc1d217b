//! What the linux-dmabuf global advertises: a main device and preference tranches of
//! format+modifier pairs. The compositor builds it from what its renderer really imports.

use std::collections::BTreeSet;

/// DRM_FORMAT_MOD_LINEAR.
pub const MOD_LINEAR: u64 = 0;
/// DRM_FORMAT_MOD_INVALID: the implicit modifier.
pub const MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

/// One preference tranche.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tranche {
    /// dev_t of the target device.
    pub device: u64,
    /// zwp_linux_dmabuf_feedback_v1 tranche flags (1: scanout).
    pub flags: u32,
    /// (fourcc, modifier) pairs, in the order they are advertised.
    pub formats: Vec<(u32, u64)>,
}

/// Everything the global advertises.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advertised {
    /// dev_t of the main device. 0 when the machine has no DRM node: a dev_t cannot be
    /// invented, and 0:0 names no device, so clients fall back to the format table.
    pub main_device: u64,
    pub tranches: Vec<Tranche>,
}

impl Advertised {
    /// Whether any tranche holds this fourcc.
    pub fn has_format(&self, code: u32) -> bool {
        self.tranches
            .iter()
            .any(|t| t.formats.iter().any(|&(f, _)| f == code))
    }

    /// Whether any tranche holds this fourcc+modifier pair.
    pub fn has_pair(&self, code: u32, modifier: u64) -> bool {
        self.tranches
            .iter()
            .any(|t| t.formats.contains(&(code, modifier)))
    }

    /// Every pair once, in advertised order: the order of the format table.
    pub fn pairs(&self) -> Vec<(u32, u64)> {
        let mut seen = BTreeSet::new();
        self.tranches
            .iter()
            .flat_map(|t| t.formats.iter().copied())
            .filter(|p| seen.insert(*p))
            .collect()
    }
}
