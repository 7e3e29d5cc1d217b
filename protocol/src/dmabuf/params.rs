//! zwp_linux_buffer_params_v1: collecting planes, then `create` / `create_immed`.

use std::{
    os::fd::{AsFd, OwnedFd},
    sync::Mutex,
};

use smithay::backend::allocator::{
    dmabuf::{Dmabuf, DmabufFlags},
    Fourcc, Modifier,
};
use tracing::{debug, info, warn};
use wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_buffer_params_v1::{
    self, ZwpLinuxBufferParamsV1,
};
use wayland_server::{
    backend::ClientId, protocol::wl_buffer::WlBuffer, Client, DataInit, Dispatch, DisplayHandle,
    New, Resource,
};

use super::{limits, DmabufHandler, DmabufState, FailedBuffer, ImportRequest};
use crate::{
    fd::{self, FdKind},
    format::MAX_PLANES,
    names::fourcc_name,
    validate::{
        check_add, check_create, check_sampling_device, CreateRequest, Plane, Rejection,
        FLAG_Y_INVERT,
    },
};

/// One plane as added: the fd, its layout, and what the fd is (or why it cannot be used).
struct AddedPlane {
    fd: OwnedFd,
    plane: Plane,
    kind: Result<FdKind, String>,
}

#[derive(Default)]
struct Inner {
    used: bool,
    /// Made past the client's params limit: not counted, holds nothing.
    refused: bool,
    planes: [Option<AddedPlane>; MAX_PLANES],
}

impl Inner {
    fn fds(&self) -> usize {
        self.planes.iter().filter(|p| p.is_some()).count()
    }
}

/// User data of a params object.
#[derive(Default)]
pub struct ParamsData(Mutex<Inner>);

impl ParamsData {
    /// A params object past the client's limit (the client is being disconnected).
    pub(super) fn refused() -> Self {
        ParamsData(Mutex::new(Inner {
            refused: true,
            ..Inner::default()
        }))
    }
}

impl<D> Dispatch<ZwpLinuxBufferParamsV1, ParamsData, D> for DmabufState
where
    D: Dispatch<ZwpLinuxBufferParamsV1, ParamsData>
        + Dispatch<WlBuffer, Dmabuf>
        + Dispatch<WlBuffer, FailedBuffer>
        + DmabufHandler
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        params: &ZwpLinuxBufferParamsV1,
        request: zwp_linux_buffer_params_v1::Request,
        data: &ParamsData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        use zwp_linux_buffer_params_v1::Request;
        match request {
            Request::Add {
                fd,
                plane_idx,
                offset,
                stride,
                modifier_hi,
                modifier_lo,
            } => {
                let modifier = (u64::from(modifier_hi) << 32) | u64::from(modifier_lo);
                let mut inner = data.0.lock().unwrap_or_else(|e| e.into_inner());
                if inner.refused {
                    return;
                }
                let planes = inner.planes.each_ref().map(|p| p.as_ref().map(|p| p.plane));
                if let Err(rejection) =
                    check_add(&planes, inner.used, plane_idx, modifier, params.version())
                {
                    post(state, params, client, dh, rejection);
                    return;
                }
                let dmabuf = state.dmabuf_state();
                let limit = dmabuf.limits.fds;
                if dmabuf.usage.get(&client.id()).fds >= limit {
                    // `fd` is closed here, not held.
                    limits::refuse(client, dh, "fds in unused params objects", "fds", limit);
                    return;
                }
                dmabuf.usage.update(&client.id(), |u| u.fds += 1);
                let kind = fd::classify(fd.as_fd());
                let size = kind.as_ref().ok().and_then(|k| fd::size(fd.as_fd(), k));
                inner.planes[plane_idx as usize] = Some(AddedPlane {
                    fd,
                    plane: Plane {
                        offset,
                        stride,
                        modifier,
                        size,
                    },
                    kind,
                });
            }
            request @ (Request::Create { .. } | Request::CreateImmed { .. }) => {
                let Some((req, immed)) = create_args(params, request) else {
                    return;
                };
                match (create(state, client, dh, data, &req), immed) {
                    (Ok(dmabuf), None) => {
                        match client.create_resource::<WlBuffer, Dmabuf, D>(dh, 1, dmabuf) {
                            Ok(buffer) => {
                                count_buffer(state, client);
                                params.created(&buffer);
                            }
                            Err(err) => warn!(?err, "linux-dmabuf: creating the wl_buffer failed"),
                        }
                    }
                    (Ok(dmabuf), Some(buffer_id)) => {
                        data_init.init(buffer_id, dmabuf);
                        count_buffer(state, client);
                    }
                    (Err(Rejection::Failed(msg)), None) => {
                        warn!(client = %state.dmabuf_client_name(client, dh), "linux-dmabuf create failed: {msg}");
                        params.failed();
                    }
                    (Err(rejection), None) => post(state, params, client, dh, rejection),
                    (Err(rejection), Some(buffer_id)) => {
                        // The new id must be given an object before the client is sent its
                        // error; the error is on the params object, as the protocol says.
                        data_init.init(buffer_id, FailedBuffer);
                        post(state, params, client, dh, rejection);
                    }
                }
            }
            Request::SetSamplingDevice { device } => match check_sampling_device(&device) {
                // planar samples on one device (or the CPU): the hint changes nothing, and
                // the protocol makes an unadvertised device no error.
                Ok(device) => {
                    debug!(client = %state.dmabuf_client_name(client, dh), device, "sampling device set")
                }
                Err(rejection) => post(state, params, client, dh, rejection),
            },
            Request::Destroy => {}
            _ => {}
        }
    }

    fn destroyed(state: &mut D, client: ClientId, _: &ZwpLinuxBufferParamsV1, data: &ParamsData) {
        let inner = data.0.lock().unwrap_or_else(|e| e.into_inner());
        let (fds, counted) = (inner.fds(), !inner.refused);
        state.dmabuf_state().usage.update(&client, |u| {
            u.fds = u.fds.saturating_sub(fds);
            u.params = u.params.saturating_sub(usize::from(counted));
        });
    }
}

fn count_buffer<D: DmabufHandler>(state: &mut D, client: &Client) {
    state
        .dmabuf_state()
        .usage
        .update(&client.id(), |u| u.buffers += 1);
}

/// The arguments of `create` or `create_immed` (with the new buffer's id for the latter).
fn create_args(
    params: &ZwpLinuxBufferParamsV1,
    request: zwp_linux_buffer_params_v1::Request,
) -> Option<(CreateRequest, Option<New<WlBuffer>>)> {
    use zwp_linux_buffer_params_v1::Request;
    let (width, height, format, flags, immed) = match request {
        Request::Create {
            width,
            height,
            format,
            flags,
        } => (width, height, format, flags, None),
        Request::CreateImmed {
            buffer_id,
            width,
            height,
            format,
            flags,
        } => (width, height, format, flags, Some(buffer_id)),
        _ => return None,
    };
    let flags = match flags {
        wayland_server::WEnum::Value(f) => f.bits(),
        wayland_server::WEnum::Unknown(bits) => bits,
    };
    let req = CreateRequest {
        width,
        height,
        format,
        flags,
        version: params.version(),
    };
    Some((req, immed))
}

/// Posts `rejection` as a protocol error on the params object (a `failed` as
/// INVALID_WL_BUFFER: see [`Rejection::into_protocol`]).
fn post<D: DmabufHandler>(
    state: &D,
    params: &ZwpLinuxBufferParamsV1,
    client: &Client,
    dh: &DisplayHandle,
    rejection: Rejection,
) {
    let (code, msg) = rejection.into_protocol();
    warn!(client = %state.dmabuf_client_name(client, dh), error = ?code, "linux-dmabuf protocol error: {msg}");
    params.post_error(code as u32, msg);
}

/// Validates, builds the smithay `Dmabuf` and asks the handler to import it.
fn create<D: DmabufHandler>(
    state: &mut D,
    client: &Client,
    dh: &DisplayHandle,
    data: &ParamsData,
    req: &CreateRequest,
) -> Result<Dmabuf, Rejection> {
    state.dmabuf_advertise();
    let mut inner = data.0.lock().unwrap_or_else(|e| e.into_inner());
    if inner.refused {
        return Err(Rejection::Failed(
            "the client is past its params limit".into(),
        ));
    }
    let planes = inner.planes.each_ref().map(|p| p.as_ref().map(|p| p.plane));
    let advertised = state
        .dmabuf_state()
        .advertised()
        .cloned()
        .unwrap_or_default();
    let result = check_create(req, &planes, inner.used, &advertised);
    inner.used = true;
    let format = result?;
    let added: Vec<AddedPlane> = inner.planes.iter_mut().filter_map(Option::take).collect();
    let dmabuf_state = state.dmabuf_state();
    dmabuf_state
        .usage
        .update(&client.id(), |u| u.fds = u.fds.saturating_sub(added.len()));
    let limit = dmabuf_state.limits.buffers;
    if dmabuf_state.usage.get(&client.id()).buffers >= limit {
        return Err(Rejection::Failed(format!(
            "the client has {limit} dma-buf wl_buffers already (planar's limit; raise it with \
             --limit buffers=N)"
        )));
    }
    let mut kinds = Vec::with_capacity(added.len());
    for (i, p) in added.iter().enumerate() {
        match &p.kind {
            Ok(kind) => kinds.push(kind.clone()),
            Err(why) => return Err(Rejection::Failed(format!("plane {i}: {why}"))),
        }
    }
    let modifier = added[0].plane.modifier;
    let mut flags = DmabufFlags::empty();
    if req.flags & FLAG_Y_INVERT != 0 {
        flags |= DmabufFlags::Y_INVERT;
    }
    let mut builder = Dmabuf::builder(
        (req.width, req.height),
        format.fourcc as Fourcc,
        Modifier::from(modifier),
        flags,
    );
    for (i, p) in added.into_iter().enumerate() {
        builder.add_plane(p.fd, i as u32, p.plane.offset, p.plane.stride);
    }
    let dmabuf = builder
        .build()
        .ok_or_else(|| Rejection::Failed("smithay refused the plane set".into()))?;
    let name = fourcc_name(req.format);
    let who = state.dmabuf_client_name(client, dh);
    state
        .dmabuf_import(ImportRequest {
            client: client.id(),
            client_name: who.clone(),
            dmabuf: &dmabuf,
            format,
            fd_kinds: &kinds,
        })
        .map_err(|why| Rejection::Failed(format!("{name} {}x{}: {why}", req.width, req.height)))?;
    info!(client = %who, format = %name, width = req.width, height = req.height, modifier = format_args!("{modifier:#x}"), "linux-dmabuf buffer created");
    Ok(dmabuf)
}
