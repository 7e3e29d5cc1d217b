//! Capture: the output copied into a client's wl_shm buffer, through three protocols
//! (`wlr`: wlr-screencopy v3, `ext`: ext-image-copy-capture v1 with its output source,
//! `planar_test`: planar-test-v1's capture request). This module holds what they share:
//! who may capture (`CapturePolicy`), the registration of the capture globals, what each
//! wlr or ext frame keeps (`FrameBook`: its filter, its slot against the client's limit,
//! its output, its one copy), region clipping against the output as it is now, and the
//! copy.
//!
//! Permission is a filter given to each global when it is created (its global data, as
//! niri's screencopy does with `can_view`), handed down to every object made from it, and
//! checked again at every step that hands out pixels — session creation, frame creation
//! and the copy itself — so a refused client cannot reach pixels by any later request.
//! The globals stay visible to everyone: a refused client gets the protocol's failure
//! (`failed`, `stopped`) and a log line saying why, which tells a user more than a
//! missing global. Permission is checked before a frame takes a slot against the client's
//! limit, and each kind of refusal is logged at warn once per connection (then at debug):
//! a client asking in a loop grows neither its slots nor the log.
//!
//! Who may capture, unless `--allow-capture all`:
//! - the command `planar run` started and its descendants (by the socket peer's pid,
//!   walking /proc parents);
//! - any process that carries planar's capture secret in its environment
//!   (`PLANAR_CAPTURE_TOKEN`, 128 random bits made at start and given only to the
//!   command). Descendants inherit it, so planar's own tools (planar-client capture) run
//!   by the command work even when they were reparented. A stranger cannot present it: it
//!   is read from the peer's own /proc/PID/environ, which a process cannot change after
//!   exec, and reading another process's environment needs ptrace rights over it.
//!
//! A client's answer is kept for its connection (/proc is read once, not for every
//! frame): its ancestry and environment were set when it started. A read that failed for
//! a reason that may pass (fds exhausted for a moment) settles nothing: the next request
//! asks again.
//!
//! Known limits: wl_shm XRGB8888 targets only; no cursor; a process with ptrace rights
//! over the command (same user, yama ptrace_scope 0) can read the secret — but it could
//! make the command capture for it anyway. Likewise an allowed client that hands its
//! connection to another process (SCM_RIGHTS) hands its permission with it.

pub mod ext;
pub mod planar_test;
pub mod wlr;

use smithay::output::Output;
use std::{
    io::Read,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use smithay::{
    reexports::wayland_server::{
        delegate_global_dispatch,
        protocol::{wl_buffer::WlBuffer, wl_shm},
        Client, DisplayHandle,
    },
    utils::{Physical, Rectangle},
    wayland::shm::with_buffer_contents_mut,
};
use tracing::{debug, info, warn};
use wayland_protocols::ext::{
    image_capture_source::v1::server::ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
    image_copy_capture::v1::server::ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1,
};
use wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1;

use crate::handlers::dispatch::BindPlain;
use crate::state::{ClientState, State};

/// The environment variable that carries the capture secret to the command.
pub const TOKEN_ENV: &str = "PLANAR_CAPTURE_TOKEN";

/// Who may capture: the filter every capture global is created with.
pub struct CapturePolicy {
    allow_all: AtomicBool,
    /// `--limit captures=N`: capture frames one client may hold.
    pending_limit: AtomicUsize,
    /// The command's pid, once it is started.
    child: Mutex<Option<u32>>,
    /// The secret given to the command in `TOKEN_ENV`, as hex.
    token: String,
}

impl CapturePolicy {
    pub fn new() -> Self {
        CapturePolicy {
            allow_all: AtomicBool::new(false),
            pending_limit: AtomicUsize::new(crate::limits::Limits::default().captures),
            child: Mutex::new(None),
            token: random_token(),
        }
    }

    /// `--allow-capture all`.
    pub fn set_allow_all(&self, all: bool) {
        self.allow_all.store(all, Ordering::SeqCst);
    }

    /// `--limit captures=N`.
    pub fn set_pending_limit(&self, n: usize) {
        self.pending_limit.store(n, Ordering::SeqCst);
    }

    /// A slot for one more capture frame of `client`, or `None` (and a warn line) when it
    /// holds as many as the limit allows.
    pub fn take_slot(&self, client: &Client, protocol: &str) -> Option<CaptureSlot> {
        let count = client.get_data::<ClientState>()?.pending_captures.clone();
        let limit = self.pending_limit.load(Ordering::SeqCst);
        let taken = count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            let why = format!("the client holds {limit} capture frames already (planar's limit; raise it with --limit captures=N)");
            log_refusal(client, LOGGED_LIMIT, protocol, &why);
            return None;
        }
        Some(CaptureSlot(count))
    }

    /// The command planar started: it and its descendants may capture.
    pub fn set_child(&self, pid: u32) {
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(pid);
    }

    /// The secret to put in the command's environment as `TOKEN_ENV`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `client` may capture; the error says why not.
    pub fn permits(&self, client: &Client, dh: &DisplayHandle) -> Result<(), String> {
        self.permits_with(client, dh, self.allow_all.load(Ordering::SeqCst))
    }

    /// The same rule with another "all" switch: injected input follows it, opened to
    /// everyone by `--allow-input all` rather than `--allow-capture all`.
    pub fn permits_with(
        &self,
        client: &Client,
        dh: &DisplayHandle,
        allow_all: bool,
    ) -> Result<(), String> {
        // Before anything else, `--allow-capture all` included: a sandboxed client never
        // captures (wp_security_context_v1).
        if crate::handlers::desktop::is_sandboxed(client) {
            return Err("the client is sandboxed (it connected through a security context)".into());
        }
        if allow_all {
            return Ok(());
        }
        // /proc is read once per connection: a client asks for every frame (three times:
        // session, frame, copy), and its ancestry and environment were set when it started.
        // An answer /proc could not give (fds exhausted for a moment) is asked again.
        let Some(data) = client.get_data::<ClientState>() else {
            return self.started_by_planar(client, dh).0;
        };
        if let Some(known) = data.started_by_planar.get() {
            return known.clone();
        }
        let (answer, settled) = self.started_by_planar(client, dh);
        if settled {
            let _ = data.started_by_planar.set(answer.clone());
        }
        answer
    }

    /// Whether the client's process descends from the command planar started, or carries
    /// its capture secret (the error says why not), and whether that is settled (false
    /// when a read failed for a reason that may pass: the answer is asked again).
    fn started_by_planar(&self, client: &Client, dh: &DisplayHandle) -> (Result<(), String>, bool) {
        let Ok(credentials) = client.get_credentials(dh) else {
            return (Err("the client's credentials cannot be read".into()), false);
        };
        let pid = credentials.pid as u32;
        let child = *self.child.lock().unwrap_or_else(|e| e.into_inner());
        let descends = child.map_or(Ok(false), |child| descends_from(pid, child));
        if matches!(descends, Ok(true)) {
            // Its environment (a size the client chooses) need not be read.
            return (Ok(()), true);
        }
        let carries = carries_token(pid, &self.token);
        match (descends, carries) {
            (Ok(true), _) | (_, Ok(true)) => (Ok(()), true),
            (d, c) => (
                Err(format!(
                    "pid {pid} was not started by planar run and does not carry its capture \
                     secret (use --allow-capture all to let any client capture)"
                )),
                d.is_ok() && c.is_ok(),
            ),
        }
    }

    /// `permits`, logging a refusal for `protocol` (at warn the first time for this
    /// client, then at debug).
    pub fn check(&self, client: &Client, dh: &DisplayHandle, protocol: &str) -> Result<(), String> {
        self.permits(client, dh)
            .inspect_err(|why| log_refusal(client, LOGGED_PERMISSION, protocol, why))
    }
}

/// Kinds of capture refusal, as bits of `ClientState::capture_refusals_logged`.
const LOGGED_PERMISSION: u8 = 1;
const LOGGED_LIMIT: u8 = 2;

/// Logs a refusal of `kind`: at warn the first time this connection gets it, at debug
/// after that, so that the log does not grow at the pace of a client's requests.
fn log_refusal(client: &Client, kind: u8, protocol: &str, why: &str) {
    let first = client
        .get_data::<ClientState>()
        .is_none_or(|d| d.capture_refusals_logged.fetch_or(kind, Ordering::SeqCst) & kind == 0);
    let client = crate::client_name::label(client);
    if first {
        warn!(%client, protocol, "capture refused: {why} (further refusals of this client are logged at debug)");
    } else {
        debug!(%client, protocol, "capture refused: {why}");
    }
}

/// One capture frame counted against its client's limit until it is dropped (with the
/// frame's user data, when the frame is destroyed).
pub struct CaptureSlot(Arc<AtomicUsize>);

impl Drop for CaptureSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Creates the capture globals (wlr-screencopy v3, ext-image-copy-capture v1 and its
/// output source manager). The two that hand out pixels have `policy` as their filter
/// (their global data, which `BindPlain` hands to every manager object); a capture
/// source names an output and shows nothing, so its manager has none.
pub fn register(dh: &DisplayHandle, policy: &Arc<CapturePolicy>) {
    dh.create_global::<State, ZwlrScreencopyManagerV1, _>(3, policy.clone());
    dh.create_global::<State, ExtImageCopyCaptureManagerV1, _>(1, policy.clone());
    dh.create_global::<State, ExtOutputImageCaptureSourceManagerV1, _>(1, ());
}

delegate_global_dispatch!(State: [ZwlrScreencopyManagerV1: Arc<CapturePolicy>] => BindPlain);
delegate_global_dispatch!(State: [ExtImageCopyCaptureManagerV1: Arc<CapturePolicy>] => BindPlain);
delegate_global_dispatch!(State: [ExtOutputImageCaptureSourceManagerV1: ()] => BindPlain);

/// What a capture frame of either protocol (wlr, ext) keeps: the filter it came with, its
/// slot against the client's limit, the output it copies, and whether its one copy was
/// asked for already.
pub struct FrameBook {
    policy: Arc<CapturePolicy>,
    protocol: &'static str,
    /// The frame's slot against the client's limit, or why it was refused when made (a
    /// client refused permission takes no slot); a refused frame only fails.
    slot: Result<CaptureSlot, Refusal>,
    /// `None`: the output was gone when the frame was made (or it is no output source).
    pub output: Option<Output>,
    used: AtomicBool,
}

/// Why a frame may not be copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client may not capture (logged by `CapturePolicy::check`).
    Permission,
    /// The client holds as many frames as `--limit captures` allows (logged at creation).
    Limit,
}

impl FrameBook {
    /// A new frame of `client`'s: permission first, then a slot if one is free.
    pub fn new(
        policy: &Arc<CapturePolicy>,
        client: &Client,
        dh: &DisplayHandle,
        protocol: &'static str,
        output: Option<Output>,
    ) -> Self {
        let slot = match policy.check(client, dh, protocol) {
            Err(_) => Err(Refusal::Permission),
            Ok(()) => policy.take_slot(client, protocol).ok_or(Refusal::Limit),
        };
        FrameBook {
            slot,
            policy: policy.clone(),
            protocol,
            output,
            used: AtomicBool::new(false),
        }
    }

    /// Why the frame was refused when it was made, if it was.
    pub fn refused_at_creation(&self) -> Option<Refusal> {
        self.slot.as_ref().err().copied()
    }

    /// Why the frame may not hand out pixels now, if it may not: its refusal at creation,
    /// or permission checked again (at the copy).
    pub fn refusal(&self, client: &Client, dh: &DisplayHandle) -> Option<Refusal> {
        if let Some(refusal) = self.refused_at_creation() {
            return Some(refusal);
        }
        self.policy
            .check(client, dh, self.protocol)
            .err()
            .map(|_| Refusal::Permission)
    }

    /// Whether this is the frame's first copy request (each frame copies once).
    pub fn first_use(&self) -> bool {
        !self.used.swap(true, Ordering::SeqCst)
    }
}

/// A presentation time as the capture protocols send it: seconds high and low 32 bits,
/// nanoseconds.
pub fn split_time(t: std::time::Duration) -> (u32, u32, u32) {
    let secs = t.as_secs();
    ((secs >> 32) as u32, secs as u32, t.subsec_nanos())
}

/// 128 bits from the kernel's random source, as hex. Without one (no /dev/urandom), no
/// process can present the secret: only descendants and `--allow-capture all` remain.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if let Err(err) = read {
        warn!(%err, "no random source: the capture secret is disabled");
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `pid` is `ancestor` or one of its descendants, by /proc parents.
fn descends_from(pid: u32, ancestor: u32) -> Result<bool, Unsettled> {
    let mut p = pid;
    for _ in 0..64 {
        if p == ancestor {
            return Ok(true);
        }
        match parent_pid(p)? {
            Some(pp) if pp > 1 => p = pp,
            _ => return Ok(false),
        }
    }
    Ok(false)
}

/// A /proc read failed for a reason that may pass (planar out of fds or memory for a
/// moment): the question is asked again rather than answered no for good.
struct Unsettled;

/// Reads a /proc file of another process; a file that is gone (the process ended) or not
/// readable reads as None.
fn read_proc(path: &str) -> Result<Option<Vec<u8>>, Unsettled> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            ) =>
        {
            Err(Unsettled)
        }
        Err(_) => Ok(None),
    }
}

/// The parent of `pid`, from /proc/PID/stat (the field after the parenthesised name).
fn parent_pid(pid: u32) -> Result<Option<u32>, Unsettled> {
    let Some(stat) = read_proc(&format!("/proc/{pid}/stat"))? else {
        return Ok(None);
    };
    let stat = String::from_utf8_lossy(&stat);
    let parent = stat
        .rfind(')')
        .and_then(|close| stat.get(close + 2..))
        .and_then(|after| after.split_whitespace().nth(1)?.parse().ok());
    Ok(parent)
}

/// Whether the environment `pid` was started with holds `TOKEN_ENV=token`.
fn carries_token(pid: u32, token: &str) -> Result<bool, Unsettled> {
    if token.is_empty() {
        return Ok(false);
    }
    let Some(environ) = read_proc(&format!("/proc/{pid}/environ"))? else {
        return Ok(false);
    };
    let wanted = format!("{TOKEN_ENV}={token}");
    Ok(environ.split(|b| *b == 0).any(|e| e == wanted.as_bytes()))
}

/// Why a capture did not happen.
pub enum CaptureError {
    /// The client's buffer is not what was announced (a protocol error).
    BadBuffer(String),
    Failed(String),
}

/// The output's current rectangle in output pixels (empty once it was removed).
pub fn output_rect(output: &Output) -> Rectangle<i32, Physical> {
    let size = output.current_mode().map(|m| m.size).unwrap_or_default();
    Rectangle::from_size(size)
}

impl State {
    /// Copies `region` of `output`'s last presented frame into a wl_shm buffer as
    /// XRGB8888. The region is clipped against the frame as it is now: a region made
    /// before the output shrank fails instead of reading past the frame.
    pub fn capture_into(
        &mut self,
        output: &Output,
        buffer: &WlBuffer,
        region: Rectangle<i32, Physical>,
    ) -> Result<(), CaptureError> {
        if !self.ensure_backend() {
            return Err(CaptureError::Failed("no renderer".into()));
        }
        if !self.presented_any {
            self.present();
        }
        if !self.outputs.contains(output) {
            return Err(CaptureError::Failed("the output was removed".into()));
        }
        let image = self
            .read_output(output)
            .ok_or_else(|| CaptureError::Failed("the output could not be read back".into()))?;
        let frame =
            Rectangle::<i32, Physical>::from_size((image.width as i32, image.height as i32).into());
        if region.is_empty() || frame.intersection(region) != Some(region) {
            return Err(CaptureError::Failed(format!(
                "the region {region:?} is no longer inside the {}x{} output",
                image.width, image.height
            )));
        }
        let (w, h) = (region.size.w as usize, region.size.h as usize);
        let result = with_buffer_contents_mut(buffer, |ptr, len, data| {
            if data.format != wl_shm::Format::Xrgb8888 && data.format != wl_shm::Format::Argb8888 {
                return Err(format!(
                    "buffer format {:?}, XRGB8888 was announced",
                    data.format
                ));
            }
            if (data.width as usize, data.height as usize) != (w, h)
                || (data.stride as usize) < w * 4
            {
                return Err(format!(
                    "buffer is {}x{} with stride {}, {w}x{h} with stride {} was announced",
                    data.width,
                    data.height,
                    data.stride,
                    w * 4
                ));
            }
            let start = data.offset as usize;
            let need = start + data.stride as usize * h;
            if need > len {
                return Err(format!("buffer needs {need} bytes, the pool has {len}"));
            }
            // SAFETY: the pool is mapped for `len` bytes and the range is checked above.
            let dst = unsafe { std::slice::from_raw_parts_mut(ptr.add(start), need - start) };
            for y in 0..h {
                let src_row =
                    (region.loc.y as usize + y) * image.width as usize + region.loc.x as usize;
                let src = &image.data[src_row * 4..(src_row + w) * 4];
                let row = &mut dst[y * data.stride as usize..][..w * 4];
                planar_image::swap_red_blue_opaque(row, src);
            }
            Ok(())
        });
        match result {
            Ok(Ok(())) => {
                info!(
                    width = w,
                    height = h,
                    "output captured into a client buffer"
                );
                Ok(())
            }
            Ok(Err(why)) => Err(CaptureError::BadBuffer(why)),
            Err(e) => Err(CaptureError::BadBuffer(format!(
                "not a wl_shm buffer: {e:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_read_from_the_process_environment() {
        use std::io::BufRead;
        // Between fork and exec the child still has this process's environment: wait
        // until it runs its own program (it says so, then waits on stdin) before reading.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "echo ready; read x"])
            .env(TOKEN_ENV, "0123abcd")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid = child.id();
        // Until the child has exec'd, /proc/PID/environ is still this process's: wait
        // for the exec (seen as sleep's command line) so the test does not race it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read(format!("/proc/{pid}/cmdline"))
            .map_or(true, |c| !c.starts_with(b"sleep"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let yes = |r: Result<bool, Unsettled>| matches!(r, Ok(true));
        let no = |r: Result<bool, Unsettled>| matches!(r, Ok(false));
        assert!(yes(carries_token(pid, "0123abcd")));
        assert!(no(carries_token(pid, "0123abc")));
        assert!(no(carries_token(pid, "")));
        assert!(no(carries_token(std::process::id(), "0123abcd")));
        assert!(yes(descends_from(pid, std::process::id())));
        assert!(no(descends_from(std::process::id(), pid)));
        // A process that is gone is settled: no.
        assert!(no(descends_from(u32::MAX - 1, std::process::id())));
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
