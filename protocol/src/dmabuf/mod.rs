//! The `zwp_linux_dmabuf_v1` global (versions 1 to 6), owned by planar.
//!
//! smithay 0.7's implementation carries on after INVALID_DIMENSIONS, checks only the
//! fourcc, and bounds-checks only the first plane, so planar has its own. Created
//! `wl_buffer`s carry smithay's [`Dmabuf`] as user data, so the rest of smithay
//! (`buffer_type`, `ImportDma`) works with them unchanged.
//!
//! The import decision is asked of the handler ([`DmabufHandler::dmabuf_import`]) when the
//! buffer is created, with the one [`ImportRequest`]; planar's handler passes it straight to
//! the renderer (`planar_renderer::import`), which also says what is advertised. A buffer
//! that cannot be imported gets `failed` (INVALID_WL_BUFFER for create_immed), never a dead
//! client at commit.

mod feedback;
mod limits;
mod params;

use std::sync::Arc;

use smithay::backend::allocator::dmabuf::Dmabuf;
use tracing::debug;
use wayland_protocols::wp::linux_dmabuf::zv1::server::{
    zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1,
    zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1,
    zwp_linux_dmabuf_v1::{self, ZwpLinuxDmabufV1},
};
use wayland_server::{
    backend::{ClientId, GlobalId},
    protocol::wl_buffer::{self, WlBuffer},
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};

pub use feedback::FormatTable;
pub use limits::DmabufLimits;
pub use params::ParamsData;

use crate::{advertise::Advertised, fd::FdKind, format::FormatInfo};

/// The highest version planar implements.
pub const MAX_VERSION: u32 = 6;

/// What the handler is asked to import: a validated buffer, with its format's table row and
/// what each plane's fd is. The renderer's import decision takes it as it is.
pub struct ImportRequest<'a> {
    pub client: ClientId,
    /// The client as a person reads it: "pid N (command)".
    pub client_name: String,
    pub dmabuf: &'a Dmabuf,
    pub format: &'static FormatInfo,
    /// One per plane.
    pub fd_kinds: &'a [FdKind],
}

/// The compositor's side of linux-dmabuf.
pub trait DmabufHandler {
    fn dmabuf_state(&mut self) -> &mut DmabufState;
    /// A client is about to see the advertised set: make it ready now (planar chooses its
    /// renderer in the background, and the set depends on it).
    fn dmabuf_advertise(&mut self);
    /// Why an import was refused; its Display is the reason given in the log and the
    /// `failed` event.
    type ImportError: std::fmt::Display;
    /// The import decision for a validated buffer, at creation.
    fn dmabuf_import(&mut self, request: ImportRequest<'_>) -> Result<(), Self::ImportError>;
    /// A dma-buf wl_buffer was destroyed.
    fn dmabuf_buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
    /// The client as a person reads it ("pid N (command)", [`crate::client::client_name`]),
    /// for log lines and import records. Asked at every create and protocol error: the
    /// handler names a connection once and keeps the name with its client data, rather
    /// than reading `/proc` per buffer.
    fn dmabuf_client_name(&self, client: &Client, dh: &DisplayHandle) -> String;
}

/// Global data: the version cap.
pub struct DmabufGlobalData {
    version: u32,
}

/// User data of a `wl_buffer` from a failed create_immed: it exists only so the client
/// can be sent its error.
pub struct FailedBuffer;

/// State of the global: the advertised set, once it is known, and what each client holds.
pub struct DmabufState {
    table: Option<Arc<FormatTable>>,
    global: GlobalId,
    limits: DmabufLimits,
    usage: limits::Usages,
}

impl DmabufState {
    /// Creates the global at `version` (capped to [`MAX_VERSION`]).
    pub fn new<D>(dh: &DisplayHandle, version: u32) -> Self
    where
        D: GlobalDispatch<ZwpLinuxDmabufV1, DmabufGlobalData> + 'static,
    {
        let version = version.clamp(1, MAX_VERSION);
        let global =
            dh.create_global::<D, ZwpLinuxDmabufV1, _>(version, DmabufGlobalData { version });
        DmabufState {
            table: None,
            global,
            limits: DmabufLimits::default(),
            usage: limits::Usages::default(),
        }
    }

    /// Sets the per-client limits (see [`DmabufLimits`]).
    pub fn set_limits(&mut self, limits: DmabufLimits) {
        self.limits = limits;
    }

    /// Sets what is advertised from now on.
    pub fn set_advertised(&mut self, advertised: Advertised) -> std::io::Result<()> {
        self.table = Some(Arc::new(FormatTable::new(advertised)?));
        Ok(())
    }

    /// What is advertised (empty until set).
    pub fn advertised(&self) -> Option<&Advertised> {
        self.table.as_ref().map(|t| &t.advertised)
    }

    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }

    fn table(&self) -> Option<Arc<FormatTable>> {
        self.table.clone()
    }
}

impl<D> GlobalDispatch<ZwpLinuxDmabufV1, DmabufGlobalData, D> for DmabufState
where
    D: GlobalDispatch<ZwpLinuxDmabufV1, DmabufGlobalData>
        + Dispatch<ZwpLinuxDmabufV1, ()>
        + DmabufHandler
        + 'static,
{
    fn bind(
        state: &mut D,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ZwpLinuxDmabufV1>,
        global_data: &DmabufGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        let dmabuf = data_init.init(resource, ());
        debug_assert!(dmabuf.version() <= global_data.version);
        // Whatever the version, a client that binds is about to use the advertised set.
        state.dmabuf_advertise();
        if dmabuf.version() >= 4 {
            // v4+ clients ask for feedback objects; nothing is sent at bind.
            return;
        }
        let Some(table) = state.dmabuf_state().table() else {
            return;
        };
        let pairs = table.advertised.pairs();
        let mut formats: Vec<u32> = pairs.iter().map(|&(f, _)| f).collect();
        formats.dedup();
        for f in formats {
            dmabuf.format(f);
        }
        if dmabuf.version() >= 3 {
            for (f, m) in pairs {
                dmabuf.modifier(f, (m >> 32) as u32, m as u32);
            }
        }
    }
}

impl<D> Dispatch<ZwpLinuxDmabufV1, (), D> for DmabufState
where
    D: Dispatch<ZwpLinuxDmabufV1, ()>
        + Dispatch<ZwpLinuxBufferParamsV1, ParamsData>
        + Dispatch<ZwpLinuxDmabufFeedbackV1, ()>
        + DmabufHandler
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        _resource: &ZwpLinuxDmabufV1,
        request: zwp_linux_dmabuf_v1::Request,
        _data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match request {
            zwp_linux_dmabuf_v1::Request::CreateParams { params_id } => {
                let dmabuf = state.dmabuf_state();
                let id = client.id();
                if dmabuf.usage.get(&id).params >= dmabuf.limits.params {
                    let limit = dmabuf.limits.params;
                    // The new id must be given an object even though the client is
                    // disconnected; this one is not counted.
                    data_init.init(params_id, ParamsData::refused());
                    limits::refuse(client, dh, "params objects", "params", limit);
                    return;
                }
                dmabuf.usage.update(&id, |u| u.params += 1);
                data_init.init(params_id, ParamsData::default());
            }
            zwp_linux_dmabuf_v1::Request::GetDefaultFeedback { id }
            | zwp_linux_dmabuf_v1::Request::GetSurfaceFeedback { id, .. } => {
                // One output and one renderer: a surface's feedback is the default one.
                let feedback = data_init.init(id, ());
                state.dmabuf_advertise();
                match state.dmabuf_state().table() {
                    Some(table) => table.send(&feedback),
                    None => debug!("linux-dmabuf feedback asked before anything is advertised"),
                }
            }
            zwp_linux_dmabuf_v1::Request::Destroy => {}
            _ => {}
        }
    }
}

impl<D> Dispatch<ZwpLinuxDmabufFeedbackV1, (), D> for DmabufState
where
    D: Dispatch<ZwpLinuxDmabufFeedbackV1, ()>,
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _resource: &ZwpLinuxDmabufFeedbackV1,
        _request: wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_dmabuf_feedback_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
    }
}

impl<D> Dispatch<WlBuffer, Dmabuf, D> for DmabufState
where
    D: Dispatch<WlBuffer, Dmabuf> + DmabufHandler,
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _resource: &WlBuffer,
        request: wl_buffer::Request,
        _data: &Dmabuf,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        match request {
            wl_buffer::Request::Destroy => {}
            _ => unreachable!(),
        }
    }

    fn destroyed(state: &mut D, client: ClientId, resource: &WlBuffer, _data: &Dmabuf) {
        state
            .dmabuf_state()
            .usage
            .update(&client, |u| u.buffers = u.buffers.saturating_sub(1));
        state.dmabuf_buffer_destroyed(resource);
    }
}

impl<D> Dispatch<WlBuffer, FailedBuffer, D> for DmabufState
where
    D: Dispatch<WlBuffer, FailedBuffer>,
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _resource: &WlBuffer,
        _request: wl_buffer::Request,
        _data: &FailedBuffer,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
    }
}

/// Delegates linux-dmabuf and its wl_buffers to [`DmabufState`].
#[macro_export]
macro_rules! delegate_dmabuf {
    ($ty: ty) => {
        $crate::reexports::wayland_server::delegate_global_dispatch!($ty: [
            $crate::reexports::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1: $crate::dmabuf::DmabufGlobalData
        ] => $crate::dmabuf::DmabufState);
        $crate::delegate_dmabuf!(@dispatch $ty: [
            $crate::reexports::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1: (),
            $crate::reexports::zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1: $crate::dmabuf::ParamsData,
            $crate::reexports::zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1: (),
            $crate::reexports::wayland_server::protocol::wl_buffer::WlBuffer: $crate::reexports::Dmabuf,
            $crate::reexports::wayland_server::protocol::wl_buffer::WlBuffer: $crate::dmabuf::FailedBuffer
        ]);
    };
    (@dispatch $ty: ty: [$($interface: ty: $udata: ty),*]) => {
        $(
            $crate::reexports::wayland_server::delegate_dispatch!($ty: [
                $interface: $udata
            ] => $crate::dmabuf::DmabufState);
        )*
    };
}
