//! What the renderer advertises for linux-dmabuf, and in which tranche: the other half of
//! the import decision, kept beside it so that every advertised pair is one the decision
//! takes.
//!
//! - Tranche 1, zero-copy: the pairs EGL really imports (probed at start; see `probe.rs`),
//!   when they are in planar's format table (validation needs each format's layout).
//! - Tranche 2, CPU path only: every CPU-readable format with LINEAR, plus the pairs EGL
//!   lists but refused when probed (with their own modifier, the implicit one included:
//!   clients expect what the driver says, and the CPU path reads memfds, udmabuf and
//!   dma-heaps), and with `--import cpu` the implicit modifier for every format.
//!
//! `--import egl` drops tranche 2, `--import cpu` tranche 1, `--linear-only` every
//! modifier but LINEAR. The main device is the DRM node's dev_t, or 0 when there is none
//! (a dev_t cannot be invented).

use std::collections::BTreeSet;

use planar_protocol::{
    advertise::{Advertised, Tranche, MOD_INVALID, MOD_LINEAR},
    format::{format_info, FORMATS},
};

use super::{ImportChoice, ImportPath, ImportPolicy};
use crate::{cpu::convert::cpu_readable, Engine, RendererKind};

/// A (fourcc, modifier) pair.
pub type Pair = (u32, u64);

/// The EGL pairs as probed when the renderer started: the one store of them, held by the
/// engine and read by the decision, the advertising and `planar info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EglPairs {
    /// Pairs (in planar's table) that import zero-copy.
    pub zero_copy: Vec<Pair>,
    /// Pairs EGL lists but refused when tried: they can only take the CPU path.
    pub refused: Vec<Pair>,
}

/// What is advertised, tranche by tranche.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// dev_t of the main device (and of both tranches), 0 without a DRM node.
    pub device: u64,
    /// Tranche 1: pairs imported zero-copy.
    pub zero_copy: Vec<Pair>,
    /// Tranche 2: pairs only the CPU path takes.
    pub cpu: Vec<Pair>,
}

impl Offer {
    /// The path a buffer of `pair` is offered for, `None` when it is not advertised.
    pub fn path_of(&self, pair: Pair) -> Option<ImportPath> {
        if self.zero_copy.contains(&pair) {
            Some(ImportPath::Egl)
        } else if self.cpu.contains(&pair) {
            Some(ImportPath::Cpu)
        } else {
            None
        }
    }

    /// The offer as the linux-dmabuf global sends it (empty tranches left out).
    pub fn advertised(&self) -> Advertised {
        let tranches = [&self.zero_copy, &self.cpu]
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(|formats| Tranche {
                device: self.device,
                flags: 0,
                formats: formats.clone(),
            })
            .collect();
        Advertised {
            main_device: self.device,
            tranches,
        }
    }
}

/// What `engine`, chosen as `kind`, advertises under `policy`.
pub fn offer(
    engine: &Engine,
    kind: &RendererKind,
    policy: &ImportPolicy,
    linear_only: bool,
) -> Offer {
    offer_for(engine.egl_pairs(), main_device(kind), policy, linear_only)
}

/// The main device: the dev_t of the GBM device's node, or of the node EGL names for a
/// shared (nested) display; 0 without one.
pub fn main_device(kind: &RendererKind) -> u64 {
    kind.drm_node()
        .and_then(|node| rustix::fs::stat(node).ok())
        .map_or(0, |s| s.st_rdev)
}

/// The tranches for probed `pairs` on `device` (see the module docs).
pub fn offer_for(pairs: &EglPairs, device: u64, policy: &ImportPolicy, linear_only: bool) -> Offer {
    let keep = |&(_, m): &Pair| !linear_only || m == MOD_LINEAR;
    let readable = |f: u32| format_info(f).is_some_and(cpu_readable);
    let zero_copy: Vec<Pair> = if policy.choice == ImportChoice::Cpu {
        Vec::new()
    } else {
        pairs
            .zero_copy
            .iter()
            .copied()
            .filter(|(f, _)| format_info(*f).is_some())
            .filter(keep)
            .collect()
    };
    let cpu_modifiers: &[u64] = if policy.choice == ImportChoice::Cpu && !linear_only {
        &[MOD_LINEAR, MOD_INVALID]
    } else {
        &[MOD_LINEAR]
    };
    let cpu = if policy.choice == ImportChoice::Egl {
        Vec::new()
    } else {
        let refused = pairs
            .refused
            .iter()
            .copied()
            .filter(|&(f, _)| readable(f))
            .filter(keep);
        let linear = FORMATS
            .iter()
            .filter(|f| cpu_readable(f))
            .flat_map(|f| cpu_modifiers.iter().map(move |&m| (f.fourcc as u32, m)));
        let mut seen = BTreeSet::new();
        refused
            .chain(linear)
            .filter(|p| !zero_copy.contains(p) && seen.insert(*p))
            .collect()
    };
    Offer {
        device,
        zero_copy,
        cpu,
    }
}

#[cfg(test)]
mod tests {
    use drm_fourcc::DrmFourcc as Fourcc;

    use super::*;

    const XR24: u32 = Fourcc::Xrgb8888 as u32;
    const NV12: u32 = Fourcc::Nv12 as u32;
    /// A fourcc outside planar's table.
    const UNKNOWN: u32 = 0x3030_3030;

    /// llvmpipe's shape: XR24 imports, NV12 is listed but refused, both with both
    /// modifiers; a pair outside the table too.
    fn probed() -> EglPairs {
        EglPairs {
            zero_copy: vec![
                (XR24, MOD_LINEAR),
                (XR24, MOD_INVALID),
                (UNKNOWN, MOD_LINEAR),
            ],
            refused: vec![(NV12, MOD_LINEAR), (NV12, MOD_INVALID)],
        }
    }

    fn policy(choice: ImportChoice) -> ImportPolicy {
        ImportPolicy {
            choice,
            ..ImportPolicy::default()
        }
    }

    #[test]
    fn zero_copy_first_then_every_cpu_readable_format_linear() {
        let offer = offer_for(&probed(), 7, &policy(ImportChoice::Auto), false);
        assert_eq!(
            offer.zero_copy,
            vec![(XR24, MOD_LINEAR), (XR24, MOD_INVALID)]
        );
        // The refused pairs keep their modifiers, first; then LINEAR for every format but
        // the one already zero-copy.
        assert_eq!(&offer.cpu[..2], &[(NV12, MOD_LINEAR), (NV12, MOD_INVALID)]);
        assert_eq!(offer.cpu.len(), 2 + FORMATS.len() - 2);
        assert!(offer.cpu.iter().skip(2).all(|&(_, m)| m == MOD_LINEAR));
        assert!(!offer.cpu.contains(&(XR24, MOD_LINEAR)));
        assert_eq!(offer.path_of((XR24, MOD_INVALID)), Some(ImportPath::Egl));
        assert_eq!(offer.path_of((NV12, MOD_INVALID)), Some(ImportPath::Cpu));
        assert_eq!(offer.path_of((UNKNOWN, MOD_LINEAR)), None);
        let advertised = offer.advertised();
        assert_eq!(advertised.main_device, 7);
        assert_eq!(advertised.tranches.len(), 2);
        assert!(advertised.tranches.iter().all(|t| t.device == 7));
        assert_eq!(advertised.tranches[0].formats, offer.zero_copy);
    }

    #[test]
    fn import_cpu_offers_the_implicit_modifier_and_no_zero_copy() {
        let offer = offer_for(&probed(), 0, &policy(ImportChoice::Cpu), false);
        assert!(offer.zero_copy.is_empty());
        for f in FORMATS {
            for m in [MOD_LINEAR, MOD_INVALID] {
                let pair = (f.fourcc as u32, m);
                assert_eq!(offer.path_of(pair), Some(ImportPath::Cpu), "{}", f.name);
            }
        }
        assert_eq!(offer.advertised().tranches.len(), 1);
    }

    #[test]
    fn import_egl_offers_zero_copy_only() {
        let offer = offer_for(&probed(), 0, &policy(ImportChoice::Egl), false);
        assert!(offer.cpu.is_empty());
        assert_eq!(offer.advertised().pairs(), offer.zero_copy);
    }

    #[test]
    fn linear_only_drops_every_other_modifier() {
        for choice in [ImportChoice::Auto, ImportChoice::Cpu, ImportChoice::Egl] {
            let offer = offer_for(&probed(), 0, &policy(choice), true);
            let pairs = offer.advertised().pairs();
            assert!(!pairs.is_empty(), "{choice:?}");
            assert!(pairs.iter().all(|&(_, m)| m == MOD_LINEAR), "{choice:?}");
        }
    }

    #[test]
    fn pixman_offers_the_cpu_tranche_alone() {
        let offer = offer_for(&EglPairs::default(), 0, &policy(ImportChoice::Auto), false);
        assert!(offer.zero_copy.is_empty());
        let cpu: Vec<Pair> = FORMATS
            .iter()
            .map(|f| (f.fourcc as u32, MOD_LINEAR))
            .collect();
        assert_eq!(offer.cpu, cpu);
    }
}
