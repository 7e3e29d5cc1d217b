//! A wayland-client side of zwp_linux_dmabuf_v1 that does exactly what it is told: any
//! plane layout, any format, well-formed or not. It reports what the compositor answered
//! (created, failed, or the protocol error that ended the connection) and what it
//! advertised (v3 format/modifier events, v4+ feedback).

use std::os::fd::{AsFd, BorrowedFd};

use anyhow::Context;
use wayland_client::{
    globals::registry_queue_init, protocol::wl_buffer::WlBuffer, Connection, Dispatch, EventQueue,
    Proxy, QueueHandle,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::{
    zwp_linux_buffer_params_v1::{self, ZwpLinuxBufferParamsV1},
    zwp_linux_dmabuf_feedback_v1::{self, ZwpLinuxDmabufFeedbackV1},
    zwp_linux_dmabuf_v1::{self, ZwpLinuxDmabufV1},
};

/// One `add` request.
#[derive(Debug, Clone, Copy)]
pub struct AddPlane<'a> {
    pub fd: BorrowedFd<'a>,
    pub plane_idx: u32,
    pub offset: u32,
    pub stride: u32,
    pub modifier: u64,
}

/// What the compositor answered to a create.
#[derive(Debug)]
pub enum Outcome {
    Created(WlBuffer),
    Failed,
    /// The connection was ended with this protocol error.
    ProtocolError {
        interface: String,
        code: u32,
        message: String,
    },
}

impl Outcome {
    pub fn protocol_code(&self) -> Option<u32> {
        match self {
            Outcome::ProtocolError { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// One tranche of feedback, indices resolved through the format table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackTranche {
    pub device: u64,
    pub flags: u32,
    pub formats: Vec<(u32, u64)>,
}

/// A whole feedback as a client sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feedback {
    pub table: Vec<(u32, u64)>,
    pub main_device: u64,
    /// Whether `main_device` was sent (v6 no longer sends it).
    pub main_device_sent: bool,
    pub tranches: Vec<FeedbackTranche>,
    pub done: bool,
}

#[derive(Default)]
struct State {
    formats: Vec<u32>,
    modifiers: Vec<(u32, u64)>,
    created: Option<WlBuffer>,
    failed: bool,
    feedback: Feedback,
    pending: FeedbackTranche,
}

/// A connection with a bound zwp_linux_dmabuf_v1.
pub struct DmabufConn {
    pub conn: Connection,
    queue: EventQueue<State>,
    qh: QueueHandle<State>,
    pub dmabuf: ZwpLinuxDmabufV1,
    state: State,
}

impl DmabufConn {
    /// Binds zwp_linux_dmabuf_v1 at `version` (or the highest offered, if lower).
    pub fn new(conn: Connection, version: u32) -> anyhow::Result<Self> {
        let (globals, mut queue) = registry_queue_init::<State>(&conn)?;
        let qh = queue.handle();
        let dmabuf: ZwpLinuxDmabufV1 = globals
            .bind(&qh, 1..=version, ())
            .context("zwp_linux_dmabuf_v1 is not offered")?;
        let mut state = State::default();
        queue.roundtrip(&mut state)?;
        Ok(DmabufConn {
            conn,
            queue,
            qh,
            dmabuf,
            state,
        })
    }

    pub fn version(&self) -> u32 {
        self.dmabuf.version()
    }

    /// Formats from v1–v3 `format` events.
    pub fn formats(&self) -> &[u32] {
        &self.state.formats
    }

    /// Pairs from v3 `modifier` events.
    pub fn modifiers(&self) -> &[(u32, u64)] {
        &self.state.modifiers
    }

    /// Asks for the default feedback and waits for its `done`.
    pub fn default_feedback(&mut self) -> anyhow::Result<Feedback> {
        self.state.feedback = Feedback::default();
        let fb = self.dmabuf.get_default_feedback(&self.qh, ());
        while !self.state.feedback.done {
            self.queue.blocking_dispatch(&mut self.state)?;
        }
        fb.destroy();
        Ok(self.state.feedback.clone())
    }

    /// Sends `add` for each plane, then `create`, and waits for the answer.
    pub fn create(
        &mut self,
        planes: &[AddPlane<'_>],
        w: i32,
        h: i32,
        format: u32,
        flags: u32,
    ) -> Outcome {
        let params = self.params(planes);
        params.create(
            w,
            h,
            format,
            zwp_linux_buffer_params_v1::Flags::from_bits_retain(flags),
        );
        self.state.created = None;
        self.state.failed = false;
        loop {
            if let Err(outcome) = self.dispatch() {
                return outcome;
            }
            if let Some(b) = self.state.created.take() {
                params.destroy();
                return Outcome::Created(b);
            }
            if self.state.failed {
                params.destroy();
                return Outcome::Failed;
            }
        }
    }

    /// Sends `add` for each plane, then `create_immed`, and roundtrips: no error means the
    /// buffer exists.
    pub fn create_immed(
        &mut self,
        planes: &[AddPlane<'_>],
        w: i32,
        h: i32,
        format: u32,
        flags: u32,
    ) -> Outcome {
        let params = self.params(planes);
        let buffer = params.create_immed(
            w,
            h,
            format,
            zwp_linux_buffer_params_v1::Flags::from_bits_retain(flags),
            &self.qh,
            (),
        );
        self.state.failed = false;
        if let Err(outcome) = self.roundtrip() {
            return outcome;
        }
        params.destroy();
        if self.state.failed {
            Outcome::Failed
        } else {
            Outcome::Created(buffer)
        }
    }

    /// Sends raw params requests (for malformed sequences) and returns the object.
    pub fn params(&mut self, planes: &[AddPlane<'_>]) -> ZwpLinuxBufferParamsV1 {
        let params = self.dmabuf.create_params(&self.qh, ());
        for p in planes {
            params.add(
                p.fd.as_fd(),
                p.plane_idx,
                p.offset,
                p.stride,
                (p.modifier >> 32) as u32,
                p.modifier as u32,
            );
        }
        params
    }

    /// A roundtrip; a protocol error is returned as the outcome that ended the connection.
    pub fn roundtrip(&mut self) -> Result<(), Outcome> {
        match self.queue.roundtrip(&mut self.state) {
            Ok(_) => Ok(()),
            Err(_) => Err(self.error_outcome()),
        }
    }

    fn dispatch(&mut self) -> Result<(), Outcome> {
        match self.queue.blocking_dispatch(&mut self.state) {
            Ok(_) => Ok(()),
            Err(_) => Err(self.error_outcome()),
        }
    }

    fn error_outcome(&self) -> Outcome {
        match self.conn.protocol_error() {
            Some(e) => Outcome::ProtocolError {
                interface: e.object_interface,
                code: e.code,
                message: e.message,
            },
            None => Outcome::ProtocolError {
                interface: String::new(),
                code: u32::MAX,
                message: "connection lost without a protocol error".into(),
            },
        }
    }
}

crate::ignore_registry_events!(State);

impl Dispatch<ZwpLinuxDmabufV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufV1,
        event: zwp_linux_dmabuf_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_linux_dmabuf_v1::Event::Format { format } => state.formats.push(format),
            zwp_linux_dmabuf_v1::Event::Modifier {
                format,
                modifier_hi,
                modifier_lo,
            } => state.modifiers.push((
                format,
                (u64::from(modifier_hi) << 32) | u64::from(modifier_lo),
            )),
            _ => {}
        }
    }
}

impl Dispatch<ZwpLinuxBufferParamsV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxBufferParamsV1,
        event: zwp_linux_buffer_params_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_linux_buffer_params_v1::Event::Created { buffer } => state.created = Some(buffer),
            zwp_linux_buffer_params_v1::Event::Failed => state.failed = true,
            _ => {}
        }
    }

    wayland_client::event_created_child!(State, ZwpLinuxBufferParamsV1, [
        zwp_linux_buffer_params_v1::EVT_CREATED_OPCODE => (WlBuffer, ()),
    ]);
}

impl Dispatch<WlBuffer, ()> for State {
    fn event(
        _: &mut Self,
        _: &WlBuffer,
        _: wayland_client::protocol::wl_buffer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwpLinuxDmabufFeedbackV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufFeedbackV1,
        event: zwp_linux_dmabuf_feedback_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwp_linux_dmabuf_feedback_v1::Event;
        let fb = &mut state.feedback;
        match event {
            Event::FormatTable { fd, size } => {
                fb.table = read_table(fd.as_fd(), size).unwrap_or_default()
            }
            Event::MainDevice { device } => {
                fb.main_device = dev_t(&device);
                fb.main_device_sent = true;
            }
            Event::TrancheTargetDevice { device } => state.pending.device = dev_t(&device),
            Event::TrancheFlags { flags } => {
                state.pending.flags = match flags {
                    wayland_client::WEnum::Value(f) => f.bits(),
                    wayland_client::WEnum::Unknown(b) => b,
                }
            }
            Event::TrancheFormats { indices } => {
                for idx in indices
                    .chunks_exact(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                {
                    if let Some(pair) = fb.table.get(usize::from(idx)) {
                        state.pending.formats.push(*pair);
                    }
                }
            }
            Event::TrancheDone => fb.tranches.push(std::mem::take(&mut state.pending)),
            Event::Done => fb.done = true,
            _ => {}
        }
    }
}

fn dev_t(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    u64::from_ne_bytes(b)
}

/// Maps the table read-only and private, as the protocol says clients must.
fn read_table(fd: BorrowedFd<'_>, size: u32) -> std::io::Result<Vec<(u32, u64)>> {
    use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
    if size == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: a fresh private read-only mapping of `size` bytes, unmapped below.
    unsafe {
        let ptr = mmap(
            std::ptr::null_mut(),
            size as usize,
            ProtFlags::READ,
            MapFlags::PRIVATE,
            fd,
            0,
        )?;
        let bytes = std::slice::from_raw_parts(ptr as *const u8, size as usize);
        let out = bytes
            .chunks_exact(16)
            .map(|e| {
                let f = u32::from_ne_bytes(e[0..4].try_into().unwrap());
                let m = u64::from_ne_bytes(e[8..16].try_into().unwrap());
                (f, m)
            })
            .collect();
        munmap(ptr, size as usize)?;
        Ok(out)
    }
}

/// What the CPU-path tests start from: planar with `--renderer RENDERER --import cpu
/// --allow-capture all`, a connection, a window titled `title` and a linux-dmabuf v5 client.
pub struct CpuPathClient {
    pub server: crate::fixture::Server,
    pub conn: Connection,
    pub window: crate::window::Window,
    pub dmabuf: DmabufConn,
}

/// Starts a [`CpuPathClient`]; panics (a test's failure) when planar or the client cannot.
pub fn cpu_path_client(renderer: &str, title: &str) -> CpuPathClient {
    let args = [
        "--renderer",
        renderer,
        "--import",
        "cpu",
        "--allow-capture",
        "all",
    ];
    let server = crate::fixture::Server::start(&args).expect("start planar");
    let conn = server.connect().expect("connect to planar");
    let window = crate::window::Window::new(&conn, title).expect("a window");
    let dmabuf = DmabufConn::new(conn.clone(), 5).expect("bind linux-dmabuf v5");
    CpuPathClient {
        server,
        conn,
        window,
        dmabuf,
    }
}
