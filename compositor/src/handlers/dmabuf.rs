//! zwp_linux_dmabuf_v1: planar-protocol owns the protocol and the renderer the decision
//! (`planar_renderer::import`); this handler only connects them: each validated buffer
//! goes to the engine's import decision, each destroyed one out of its cache, and a client
//! is named by the name kept in its `ClientState` (`client_name`).

use planar_protocol::{
    delegate_dmabuf,
    dmabuf::{DmabufHandler, DmabufState, ImportRequest},
};
use planar_renderer::import::ImportError;
use smithay::{
    reexports::wayland_server::{protocol::wl_buffer::WlBuffer, Client, DisplayHandle},
    wayland::dmabuf::get_dmabuf,
};

use crate::state::State;

impl DmabufHandler for State {
    type ImportError = ImportError;

    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf_state
    }

    fn dmabuf_advertise(&mut self) {
        self.ensure_backend();
    }

    fn dmabuf_import(&mut self, request: ImportRequest<'_>) -> Result<(), ImportError> {
        let backend = self.backend.as_mut().ok_or(ImportError::NoRenderer)?;
        backend
            .engine()
            .import_dmabuf(&request, &self.import_policy)
            .map(|_| ())
    }

    fn dmabuf_client_name(&self, client: &Client, dh: &DisplayHandle) -> String {
        crate::client_name::label_or_name(client, dh)
    }

    fn dmabuf_buffer_destroyed(&mut self, buffer: &WlBuffer) {
        if let (Ok(dmabuf), Some(backend)) = (get_dmabuf(buffer), self.backend.as_mut()) {
            backend.engine().forget_dmabuf(dmabuf);
        }
    }
}

delegate_dmabuf!(State);
