//! zwp_linux_dmabuf_v1: planar-protocol owns the protocol; this handler builds the
//! advertised set from the renderer and makes the import decision at creation.

use planar_protocol::{
    advertise::{Advertised, Tranche, MOD_INVALID, MOD_LINEAR},
    delegate_dmabuf,
    dmabuf::{DmabufHandler, DmabufState, ImportRequest},
    format::{format_info, FORMATS},
};
use planar_renderer::{
    cpu::convert::conversion,
    import::{self, ImportChoice, ImportPolicy},
    Engine, RendererInfo,
};
use smithay::{
    reexports::wayland_server::protocol::wl_buffer::WlBuffer, wayland::dmabuf::get_dmabuf,
};

use crate::state::State;

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf_state
    }

    fn dmabuf_advertise(&mut self) {
        self.ensure_backend();
    }

    fn dmabuf_import(&mut self, request: ImportRequest<'_>) -> Result<(), String> {
        let policy = self.import_policy.clone();
        let backend = self
            .backend
            .as_mut()
            .ok_or_else(|| "no renderer is running".to_string())?;
        let req = import::ImportRequest {
            client: request.client_name,
            dmabuf: request.dmabuf,
            format: request.format,
            fd_kinds: request.fd_kinds,
        };
        backend.engine().import_dmabuf(&req, &policy).map(|_| ())
    }

    fn dmabuf_buffer_destroyed(&mut self, buffer: &WlBuffer) {
        if let (Ok(dmabuf), Some(backend)) = (get_dmabuf(buffer), self.backend.as_mut()) {
            backend.engine().forget_dmabuf(dmabuf);
        }
    }
}

delegate_dmabuf!(State);

/// The advertised set, asked of the renderer. Tranche 1: the pairs the GPU path really
/// imports (probed; and in planar's format table, since validation needs each format's
/// layout). Tranche 2: the pairs only the CPU path takes: every CPU-readable format with
/// LINEAR, plus the pairs EGL lists but refused (with their implicit modifier; the CPU
/// path reads it from memfds, udmabuf and dma-heaps), and with `--import cpu` the implicit
/// modifier for every format. With a DRM
/// node (the GBM device's, or the one EGL names for a nested window's display), its dev_t
/// is the main device; without one, 0 (a dev_t cannot be invented).
pub fn advertised(
    engine: &Engine,
    info: &RendererInfo,
    policy: &ImportPolicy,
    linear_only: bool,
) -> Advertised {
    let device = match info.kind.drm_node() {
        Some(node) => rustix::fs::stat(node).map(|s| s.st_rdev).unwrap_or(0),
        None => 0,
    };
    let keep = |&(_, m): &(u32, u64)| !linear_only || m == MOD_LINEAR;
    let gpu: Vec<(u32, u64)> = if policy.choice == ImportChoice::Cpu {
        Vec::new()
    } else {
        engine
            .dmabuf_pairs()
            .into_iter()
            .filter(|(f, _)| format_info(*f).is_some())
            .filter(keep)
            .collect()
    };
    let cpu_modifiers: &[u64] = if policy.choice == ImportChoice::Cpu && !linear_only {
        &[MOD_LINEAR, MOD_INVALID]
    } else {
        &[MOD_LINEAR]
    };
    let cpu_readable = |f: u32| format_info(f).is_some_and(|i| conversion(i.fourcc).is_some());
    let cpu: Vec<(u32, u64)> = if policy.choice == ImportChoice::Egl {
        Vec::new()
    } else {
        // Pairs EGL lists but refuses keep their modifiers (the implicit one included):
        // clients expect what the driver says, and the CPU path reads them.
        let mut cpu: Vec<(u32, u64)> = engine
            .egl_refused_pairs()
            .into_iter()
            .filter(|&(f, _)| cpu_readable(f))
            .filter(keep)
            .collect();
        cpu.extend(
            FORMATS
                .iter()
                .filter(|f| conversion(f.fourcc).is_some())
                .flat_map(|f| cpu_modifiers.iter().map(move |&m| (f.fourcc as u32, m))),
        );
        let mut seen = std::collections::BTreeSet::new();
        cpu.retain(|p| !gpu.contains(p) && seen.insert(*p));
        cpu
    };
    let tranches = [gpu, cpu]
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(|formats| Tranche {
            device,
            flags: 0,
            formats,
        })
        .collect();
    Advertised {
        main_device: device,
        tranches,
    }
}
