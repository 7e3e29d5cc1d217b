//! One fuzz client: its own connection, a seeded RNG, and a loop that binds random globals
//! at random versions and sends random requests with random arguments on the objects it
//! holds, adding the objects that requests and events create (new_id) so deeper
//! interfaces are reached. It ends after its request budget, or when the compositor ends
//! it with a protocol error (expected), and keeps the last requests in a ring buffer so a
//! crash can be reproduced.
//!
//! It speaks through wayland-backend's low-level client API, which checks that each
//! argument has the type the interface descriptor says: so the fuzzer sends well-formed
//! messages with hostile values, and object arguments of the right interface (or null
//! where allowed), never raw garbage. The wire-level parser is wayland-backend's, not
//! planar's.

use std::{
    collections::{HashMap, VecDeque},
    ffi::CString,
    os::unix::net::UnixStream,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fastrand::Rng;
use wayland_backend::{
    client::{Backend, ObjectData, ObjectId, WaylandError},
    protocol::{AllowNull, Argument, ArgumentType, Interface, Message, MessageDesc},
};

use super::gen::{self, FdKind, Fds};

mod scaffold;

/// How many recent requests each client remembers for a failure report.
const RING: usize = 40;

/// What one session is given.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub seed: u64,
    /// Requests to send before leaving.
    pub max_requests: u64,
    /// At most this many fds sent per session, so the compositor's fd use stays bounded
    /// even without its own per-client limit.
    pub fd_budget: u32,
    /// How long a roundtrip may take before the compositor counts as hung.
    pub timeout: Duration,
    /// (interface, word): requests of that interface whose name contains the word are
    /// never sent.
    pub skip: Vec<(String, String)>,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Budget,
    ProtocolError {
        interface: String,
        code: u32,
        message: String,
    },
    /// The connection broke without a protocol error.
    Closed(String),
    /// A roundtrip got no answer within the timeout.
    Hang,
    ConnectFailed(String),
}

/// What one session did.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    pub requests: u64,
    pub per_interface: HashMap<&'static str, u64>,
    /// (interface, request) pairs sent.
    pub per_request: HashMap<(&'static str, &'static str), u64>,
    pub globals: Vec<(String, u32)>,
    pub end: End,
    pub recent: Vec<String>,
}

#[derive(Clone)]
struct Obj {
    id: ObjectId,
    version: u32,
}

#[derive(Default)]
struct Shared {
    live: Vec<Obj>,
    /// (name, interface, version) from wl_registry.global.
    globals: Vec<(u32, String, u32)>,
    sync: Option<ObjectId>,
    sync_done: bool,
    /// The first uint of recent events (mostly serials: configure, enter …), for requests
    /// that must echo one (ack_configure, set_cursor …).
    serials: VecDeque<u32>,
}

/// The object data of every object the fuzz client holds: it records new objects and
/// globals, and forgets destroyed objects.
struct Data(Mutex<Shared>);

impl ObjectData for Data {
    fn event(
        self: Arc<Self>,
        backend: &Backend,
        msg: Message<ObjectId, std::os::fd::OwnedFd>,
    ) -> Option<Arc<dyn ObjectData>> {
        let mut s = self.0.lock().unwrap();
        let iface = msg.sender_id.interface().name;
        if iface == "wl_registry" {
            match (msg.opcode, msg.args.as_slice()) {
                (0, [Argument::Uint(name), Argument::Str(Some(i)), Argument::Uint(v)]) => {
                    s.globals
                        .push((*name, i.to_string_lossy().into_owned(), *v));
                }
                (1, [Argument::Uint(name)]) => s.globals.retain(|g| g.0 != *name),
                _ => {}
            }
        }
        if let Some(Argument::Uint(u)) = msg.args.iter().find(|a| matches!(a, Argument::Uint(_))) {
            if s.serials.len() == 16 {
                s.serials.pop_front();
            }
            s.serials.push_back(*u);
        }
        if iface == "wl_callback" && s.sync.as_ref() == Some(&msg.sender_id) {
            s.sync_done = true;
        }
        let mut child = None;
        for arg in &msg.args {
            if let Argument::NewId(id) = arg {
                if !id.is_null() {
                    let version = backend.info(id.clone()).map(|i| i.version).unwrap_or(1);
                    s.live.push(Obj {
                        id: id.clone(),
                        version,
                    });
                    child = Some(self.clone() as Arc<dyn ObjectData>);
                }
            }
        }
        child
    }

    fn destroyed(&self, object_id: ObjectId) {
        let mut s = self.0.lock().unwrap();
        if let Some(i) = s.live.iter().position(|o| o.id == object_id) {
            s.live.swap_remove(i);
        }
    }
}

struct Session<'a> {
    cfg: &'a SessionConfig,
    rng: Rng,
    backend: Backend,
    data: Arc<Data>,
    fds: Fds,
    fds_sent: u32,
    /// The kinds of the fds in the request being built, for its description.
    fd_kinds: Vec<FdKind>,
    /// Small, mostly valid numbers and the sealed memfd: this client gets deeper before
    /// a protocol error ends it. Half the clients are tame.
    tame: bool,
    /// The scaffold's buffer fds, kept open for the session.
    extra_fds: Vec<std::os::fd::OwnedFd>,
    requests: u64,
    per_interface: HashMap<&'static str, u64>,
    per_request: HashMap<(&'static str, &'static str), u64>,
    recent: VecDeque<String>,
    table: &'a HashMap<&'static str, &'static Interface>,
}

/// Runs one fuzz client against the compositor listening on `socket`. `dir` is where its
/// directory and file fds live.
pub fn run(
    socket: &Path,
    dir: &Path,
    table: &HashMap<&'static str, &'static Interface>,
    cfg: &SessionConfig,
) -> Outcome {
    let mut rng = Rng::with_seed(cfg.seed);
    let fail = |end| Outcome {
        seed: cfg.seed,
        requests: 0,
        per_interface: HashMap::new(),
        per_request: HashMap::new(),
        globals: Vec::new(),
        end,
        recent: Vec::new(),
    };
    let stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => return fail(End::ConnectFailed(e.to_string())),
    };
    let fds = match Fds::new(&mut rng, dir) {
        Ok(f) => f,
        Err(e) => return fail(End::ConnectFailed(format!("error making fds: {e}"))),
    };
    let backend = Backend::connect(stream).expect("the pure-Rust backend always connects");
    let data = Arc::new(Data(Mutex::new(Shared::default())));
    data.0.lock().unwrap().live.push(Obj {
        id: backend.display_id(),
        version: 1,
    });
    let tame = rng.bool();
    let mut s = Session {
        cfg,
        rng,
        backend,
        data,
        fds,
        fds_sent: 0,
        fd_kinds: Vec::new(),
        tame,
        extra_fds: Vec::new(),
        requests: 0,
        per_interface: HashMap::new(),
        per_request: HashMap::new(),
        recent: VecDeque::new(),
        table,
    };
    let end = s.run();
    let globals = s
        .data
        .0
        .lock()
        .unwrap()
        .globals
        .iter()
        .map(|(_, n, v)| (n.clone(), *v))
        .collect();
    Outcome {
        seed: cfg.seed,
        requests: s.requests,
        per_interface: s.per_interface,
        per_request: s.per_request,
        globals,
        end,
        recent: s.recent.into_iter().collect(),
    }
}

impl Session<'_> {
    fn run(&mut self) -> End {
        // The registry first, so there is something to bind.
        let display = self.backend.display_id();
        let _ = self.send(&display, 1, vec![Argument::NewId(ObjectId::null())], None);
        if let Err(end) = self.roundtrip() {
            return end;
        }
        // Half the clients start from a shown window, so random requests also reach what
        // only a mapped toplevel with a buffer exercises (composition, capture, feedback).
        if self.rng.bool() {
            if let Err(end) = self.scaffold() {
                return end;
            }
        }
        while self.requests < self.cfg.max_requests {
            let r = self.rng.u8(..100);
            if r < 8 {
                self.bind();
            } else if r < 10 {
                if let Err(end) = self.roundtrip() {
                    return end;
                }
            } else if r == 10 && self.rng.u8(..8) == 0 {
                self.fds.resize_unsealed(&mut self.rng);
            } else {
                self.random_request();
            }
            if self.requests.is_multiple_of(16) {
                if let Err(end) = self.flush_and_read() {
                    return end;
                }
            }
        }
        // One last roundtrip: the compositor has handled everything before we leave.
        match self.roundtrip() {
            Ok(()) => End::Budget,
            Err(end) => end,
        }
    }

    fn pick_global(&mut self) -> Option<(u32, &'static Interface, u32)> {
        let globals = self.data.0.lock().unwrap().globals.clone();
        if globals.is_empty() {
            return None;
        }
        let (name, iface, advertised) = &globals[self.rng.usize(..globals.len())];
        let iface = self.table.get(iface.as_str())?;
        Some((*name, iface, *advertised))
    }

    /// wl_registry.bind of a random global at a random version ≤ the advertised one (and
    /// ≤ what the client-side descriptor knows), rarely 0 or one past the advertised.
    fn bind(&mut self) {
        let Some((name, iface, advertised)) = self.pick_global() else {
            return;
        };
        let registry = {
            let s = self.data.0.lock().unwrap();
            s.live
                .iter()
                .find(|o| o.id.interface().name == "wl_registry")
                .map(|o| o.id.clone())
        };
        let Some(registry) = registry else { return };
        let top = advertised.min(iface.version).max(1);
        let version = match self.rng.u16(..1000) {
            0 => 0,
            1 => advertised + 1,
            _ => self.rng.u32(1..=top),
        };
        let name = if self.rng.u16(..1000) == 0 {
            self.rng.u32(..)
        } else {
            name
        };
        let args = vec![
            Argument::Uint(name),
            Argument::Str(Some(Box::new(CString::new(iface.name).unwrap()))),
            Argument::Uint(version),
            Argument::NewId(ObjectId::null()),
        ];
        if let Some(id) = self.send(&registry, 0, args, Some((iface, version))) {
            self.data.0.lock().unwrap().live.push(Obj { id, version });
        }
    }

    /// A random request on a random live object, interfaces weighted equally so rare
    /// interfaces get as many requests as common ones.
    fn random_request(&mut self) {
        let (obj, others) = {
            let s = self.data.0.lock().unwrap();
            let mut names: Vec<&'static str> =
                s.live.iter().map(|o| o.id.interface().name).collect();
            names.sort_unstable();
            names.dedup();
            let mut name = names[self.rng.usize(..names.len())];
            // wl_display and wl_registry are always there: pick them less often.
            if matches!(name, "wl_display" | "wl_registry") && self.rng.u8(..4) != 0 {
                name = names[self.rng.usize(..names.len())];
            }
            let of: Vec<&Obj> = s
                .live
                .iter()
                .filter(|o| o.id.interface().name == name)
                .collect();
            (of[self.rng.usize(..of.len())].clone(), s.live.clone())
        };
        let iface = obj.id.interface();
        if iface.requests.is_empty() {
            return;
        }
        // Mostly requests the bound version has (rarely a newer one: the compositor must
        // refuse it); destructors less often, so objects live long enough to be used.
        let skip = &self.cfg.skip;
        let valid: Vec<usize> = (0..iface.requests.len())
            .filter(|&i| iface.requests[i].since <= obj.version || self.rng.u16(..1000) == 0)
            .filter(|&i| {
                !skip
                    .iter()
                    .any(|(f, w)| f == iface.name && iface.requests[i].name.contains(w.as_str()))
            })
            .collect();
        if valid.is_empty() {
            return;
        }
        let mut opcode = valid[self.rng.usize(..valid.len())];
        if iface.requests[opcode].is_destructor && self.rng.u8(..4) != 0 {
            opcode = valid[self.rng.usize(..valid.len())];
        }
        let desc = &iface.requests[opcode];
        if desc.signature.contains(&ArgumentType::NewId) && desc.child_interface.is_none() {
            // The generic constructor (wl_registry.bind) has its own path.
            return self.bind();
        }
        let Some(args) = self.args(desc, &others) else {
            return;
        };
        if let Some(id) = self.send(&obj.id, opcode as u16, args, None) {
            if !id.is_null() {
                self.data.0.lock().unwrap().live.push(Obj {
                    id,
                    version: obj.version,
                });
            }
        }
    }

    /// Random arguments for `desc`, or None when an object argument has no candidate
    /// and may not be null, or the fd budget is spent.
    fn args(
        &mut self,
        desc: &MessageDesc,
        live: &[Obj],
    ) -> Option<Vec<Argument<ObjectId, std::os::fd::RawFd>>> {
        let mut object_args = desc.arg_interfaces.iter();
        self.fd_kinds.clear();
        let tame = self.tame;
        let serials: Vec<u32> = self
            .data
            .0
            .lock()
            .unwrap()
            .serials
            .iter()
            .copied()
            .collect();
        let mut args = Vec::with_capacity(desc.signature.len());
        for t in desc.signature {
            let rng = &mut self.rng;
            args.push(match t {
                ArgumentType::Int => Argument::Int(gen::int(rng, tame)),
                ArgumentType::Uint if !serials.is_empty() && rng.u8(..8) == 0 => {
                    Argument::Uint(serials[rng.usize(..serials.len())])
                }
                ArgumentType::Uint => Argument::Uint(gen::uint(rng, tame)),
                ArgumentType::Fixed => Argument::Fixed(gen::fixed(rng, tame)),
                ArgumentType::Str(null) => {
                    if *null == AllowNull::Yes && rng.u8(..8) == 0 {
                        Argument::Str(None)
                    } else {
                        Argument::Str(Some(Box::new(gen::string(rng))))
                    }
                }
                ArgumentType::Object(null) => {
                    let want = object_args.next()?;
                    let anonymous = want.name == "<anonymous>";
                    let candidates: Vec<&Obj> = live
                        .iter()
                        .filter(|o| anonymous || o.id.interface().name == want.name)
                        .collect();
                    let may_null = *null == AllowNull::Yes;
                    if candidates.is_empty() || (may_null && rng.u8(..6) == 0) {
                        if !may_null {
                            return None;
                        }
                        Argument::Object(ObjectId::null())
                    } else {
                        Argument::Object(candidates[rng.usize(..candidates.len())].id.clone())
                    }
                }
                ArgumentType::NewId => Argument::NewId(ObjectId::null()),
                ArgumentType::Array => Argument::Array(Box::new(gen::array(rng))),
                ArgumentType::Fd => {
                    if self.fds_sent >= self.cfg.fd_budget {
                        return None;
                    }
                    self.fds_sent += 1;
                    let (kind, fd) = self.fds.pick(rng, tame);
                    self.fd_kinds.push(kind);
                    Argument::Fd(fd)
                }
            });
        }
        Some(args)
    }

    /// Sends one request and records it; returns the new object, if it made one.
    fn send(
        &mut self,
        target: &ObjectId,
        opcode: u16,
        args: Vec<Argument<ObjectId, std::os::fd::RawFd>>,
        child: Option<(&'static Interface, u32)>,
    ) -> Option<ObjectId> {
        let iface = target.interface();
        let desc = &iface.requests[opcode as usize];
        let line = describe(target, desc, &args, &self.fd_kinds);
        let makes_object = desc.signature.contains(&ArgumentType::NewId);
        let msg = Message {
            sender_id: target.clone(),
            opcode,
            args: args.into(),
        };
        let data = makes_object.then(|| self.data.clone() as Arc<dyn ObjectData>);
        let res = self.backend.send_request(msg, data, child);
        self.requests += 1;
        *self.per_interface.entry(iface.name).or_default() += 1;
        *self.per_request.entry((iface.name, desc.name)).or_default() += 1;
        if self.recent.len() == RING {
            self.recent.pop_front();
        }
        self.recent.push_back(match &res {
            Ok(id) if !id.is_null() => format!("{line} -> {id}"),
            _ => line,
        });
        res.ok().filter(|id| !id.is_null())
    }

    fn flush_and_read(&mut self) -> Result<(), End> {
        match self.backend.flush() {
            Ok(()) => {}
            Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The compositor is behind: let it catch up before sending more.
                self.wait_readable(Duration::from_millis(50))?;
            }
            Err(_) => return Err(self.connection_end()),
        }
        self.read()
    }

    /// Reads and dispatches whatever events have arrived, without blocking.
    fn read(&mut self) -> Result<(), End> {
        let Some(guard) = self.backend.prepare_read() else {
            return Ok(());
        };
        match guard.read() {
            Ok(_) => Ok(()),
            Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(end_of(e)),
        }
    }

    fn wait_readable(&mut self, timeout: Duration) -> Result<bool, End> {
        use rustix::event::{poll, PollFd, PollFlags};
        let fd = self.backend.poll_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let ts = rustix::event::Timespec::try_from(timeout).unwrap();
        let ready = poll(&mut fds, Some(&ts)).unwrap_or(0) > 0;
        if ready {
            self.read()?;
        }
        Ok(ready)
    }

    /// wl_display.sync and waits for its done: the compositor handled everything before.
    fn roundtrip(&mut self) -> Result<(), End> {
        let display = self.backend.display_id();
        let Some(cb) = self.send(&display, 0, vec![Argument::NewId(ObjectId::null())], None) else {
            return Err(self.connection_end());
        };
        {
            let mut s = self.data.0.lock().unwrap();
            s.sync = Some(cb);
            s.sync_done = false;
        }
        let start = Instant::now();
        loop {
            if let Err(e) = self.backend.flush() {
                if !matches!(&e, WaylandError::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock)
                {
                    return Err(self.connection_end());
                }
            }
            self.wait_readable(Duration::from_millis(100))?;
            if self.data.0.lock().unwrap().sync_done {
                return Ok(());
            }
            if start.elapsed() > self.cfg.timeout {
                return Err(End::Hang);
            }
        }
    }

    /// After a failed write: reads what is left, to find the protocol error that ended the
    /// connection (the compositor sends it, then closes).
    fn connection_end(&mut self) -> End {
        if let Some(WaylandError::Protocol(p)) = self.backend.last_error() {
            return end_of(WaylandError::Protocol(p));
        }
        // The compositor may still be writing its error: wait until the socket is readable
        // (the error, or the end of the stream), up to a second.
        {
            use rustix::event::{poll, PollFd, PollFlags};
            let fd = self.backend.poll_fd();
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            let ts = rustix::event::Timespec::try_from(Duration::from_secs(1)).unwrap();
            let _ = poll(&mut fds, Some(&ts));
        }
        if let Some(mut end) = unread_error(&self.backend) {
            if let End::ProtocolError { interface, .. } = &mut end {
                let id: Option<u32> = interface
                    .strip_prefix("object ")
                    .and_then(|n| n.parse().ok());
                let s = self.data.0.lock().unwrap();
                if let Some(o) = s.live.iter().find(|o| Some(o.id.protocol_id()) == id) {
                    *interface = o.id.interface().name.to_string();
                }
            }
            return end;
        }
        match self.backend.last_error() {
            Some(e) => end_of(e),
            None => End::Closed("write failed, no error received".into()),
        }
    }
}

/// The wl_display.error event still unread in the socket. The backend stops reading once
/// a write has failed (it keeps the write error), but the compositor sent its error before
/// closing: it is in the socket, after any events the backend had not read yet.
fn unread_error(backend: &Backend) -> Option<End> {
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0;
    while len < buf.len() {
        match rustix::io::read(backend.poll_fd(), &mut buf[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
    };
    let mut at = 0;
    while at + 8 <= len {
        let (sender, size_op) = (word(at)?, word(at + 4)?);
        let size = (size_op >> 16) as usize;
        if size < 8 {
            return None;
        }
        // wl_display@1.error(object, code, message)
        if sender == 1 && size_op & 0xffff == 0 {
            let code = word(at + 12)?;
            let slen = word(at + 16)? as usize;
            let msg = buf.get(at + 20..at + 20 + slen.saturating_sub(1))?;
            return Some(End::ProtocolError {
                interface: format!("object {}", word(at + 8)?),
                code,
                message: String::from_utf8_lossy(msg).into_owned(),
            });
        }
        at += size;
    }
    None
}

fn end_of(e: WaylandError) -> End {
    match e {
        WaylandError::Protocol(p) => End::ProtocolError {
            interface: p.object_interface,
            code: p.code,
            message: p.message,
        },
        WaylandError::Io(io) => End::Closed(io.to_string()),
    }
}

/// `interface@id.request(args)` for the ring buffer.
fn describe(
    target: &ObjectId,
    desc: &MessageDesc,
    args: &[Argument<ObjectId, std::os::fd::RawFd>],
    fd_kinds: &[FdKind],
) -> String {
    let mut kinds = fd_kinds.iter();
    let args: Vec<String> = args
        .iter()
        .map(|a| match a {
            Argument::Int(i) => i.to_string(),
            Argument::Uint(u) if *u > 0xffff => format!("{u:#x}"),
            Argument::Uint(u) => u.to_string(),
            Argument::Fixed(f) => format!("{}f", f64::from(*f) / 256.0),
            Argument::Str(None) => "null".into(),
            Argument::Str(Some(s)) => {
                let s = s.to_string_lossy();
                if s.len() > 40 {
                    format!(
                        "{:?}…({} bytes)",
                        &s[..s.floor_char_boundary_compat(40)],
                        s.len()
                    )
                } else {
                    format!("{s:?}")
                }
            }
            Argument::Object(o) if o.is_null() => "null".into(),
            Argument::Object(o) => o.to_string(),
            Argument::NewId(_) => "new_id".into(),
            Argument::Array(a) => format!("[{} bytes]", a.len()),
            Argument::Fd(_) => match kinds.next() {
                Some(k) => format!("fd:{k:?}"),
                None => "fd".into(),
            },
        })
        .collect();
    format!("{target}.{}({})", desc.name, args.join(", "))
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
