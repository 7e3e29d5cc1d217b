//! zwp_linux_dmabuf_v1: planar-protocol owns the protocol; this handler builds the
//! advertised set from the renderer and makes the import decision at creation.

use planar_protocol::{
    advertise::{Advertised, Tranche},
    delegate_dmabuf,
    dmabuf::{DmabufHandler, DmabufState, ImportRequest},
    format::format_info,
};
use planar_renderer::{Engine, RendererInfo, RendererKind};

use crate::state::State;

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf_state
    }

    fn dmabuf_advertise(&mut self) {
        self.ensure_backend();
    }

    fn dmabuf_import(&mut self, request: ImportRequest<'_>) -> Result<(), String> {
        let backend = self
            .backend
            .as_mut()
            .ok_or_else(|| "no renderer is running".to_string())?;
        backend.engine().import_dmabuf(request.dmabuf)
    }
}

delegate_dmabuf!(State);

/// The advertised set: the pairs the renderer imports that planar's format table knows
/// (validation needs the layout of every format it accepts). With a DRM node, its dev_t is
/// the main device; without one, 0 (see the README: a dev_t cannot be invented).
pub fn advertised(engine: &Engine, info: &RendererInfo) -> Advertised {
    let device = match &info.kind {
        RendererKind::GlesGbm(node) => rustix::fs::stat(node).map(|s| s.st_rdev).unwrap_or(0),
        _ => 0,
    };
    let gpu: Vec<(u32, u64)> = engine
        .dmabuf_pairs()
        .into_iter()
        .filter(|(f, _)| format_info(*f).is_some())
        .collect();
    Advertised {
        main_device: device,
        tranches: vec![Tranche {
            device,
            flags: 0,
            formats: gpu,
        }],
    }
}
