//! An embeddable planar for Rust tests: [`Headless`] runs the compositor on its own
//! thread, in-process, on a socket in a private runtime directory, and answers
//! screenshots, reference checks and import records through its handle.
//!
//! ```no_run
//! use planar_compositor::Headless;
//! let planar = Headless::builder().size(320, 240).start()?;
//! // Hand the app planar.env() (WAYLAND_DISPLAY, XDG_RUNTIME_DIR), or connect in-process
//! // with planar.connect(); let it draw; then:
//! planar.expect("tests/reference/app.png".as_ref(), planar_compositor::Fuzz::EXACT)?;
//! # anyhow::Ok(())
//! ```
//!
//! Known limits: no command is spawned (the app is the test's business), so capture
//! protocols follow the `all` policy only when asked ([`HeadlessBuilder::allow_capture_all`]);
//! no signal handling (the test process owns its signals); input steps of `--script`
//! are not wired in yet. Its compositor, loop and teardown are `planar run`'s
//! (`serve::Planar`).

use std::{
    os::unix::{fs::DirBuilderExt, net::UnixStream},
    path::{Path, PathBuf},
    sync::mpsc,
    thread::JoinHandle,
    time::Duration,
};

use anyhow::Context;
use calloop::channel::{Channel, Event};
use planar_image::{check_against, CheckOptions, CheckOutcome, RgbaImage};
use planar_renderer::{
    import::{ImportPolicy, ImportRecord},
    RendererChoice,
};
use smithay::reexports::wayland_server::ListeningSocket;
use tracing::warn;

use crate::{
    backend::BackendKind,
    serve::Planar,
    state::{OutputConfig, State, Stop},
};

pub use planar_image::Fuzz;

/// How to start a [`Headless`] planar; every setting has `planar run`'s default.
#[derive(Debug, Clone)]
pub struct HeadlessBuilder {
    size: (i32, i32),
    scale: i32,
    refresh_hz: u32,
    virtual_clock: bool,
    renderer: RendererChoice,
    import_policy: ImportPolicy,
    dmabuf_version: u32,
    allow_capture_all: bool,
}

/// Builder setters that store their one argument in the field of the same name. A macro
/// rather than a builder crate: these are all the setters there are, and no other type
/// needs one.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($field:ident: $ty:ty);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
}

impl HeadlessBuilder {
    /// Output size in pixels (default 1280x720).
    pub fn size(mut self, width: i32, height: i32) -> Self {
        self.size = (width, height);
        self
    }

    setters! {
        /// Integer output scale (default 1).
        scale(scale: i32);
        /// Refresh rate in Hz; 0 repaints only on damage (default 60).
        refresh(refresh_hz: u32);
        /// Presentation timestamps advance by one refresh interval per frame from 0.
        virtual_clock(virtual_clock: bool);
        /// `Auto` (default), `Gles`, `GlesSoftware` or `Pixman`.
        renderer(renderer: RendererChoice);
        /// Which import path dma-bufs take, and injected EGL import failures.
        import_policy(import_policy: ImportPolicy);
        /// Highest zwp_linux_dmabuf_v1 version advertised (1 to 5).
        dmabuf_version(dmabuf_version: u32);
        /// Let every client capture the output (planar's default lets only its own
        /// command, and there is none here).
        allow_capture_all(allow_capture_all: bool);
    }

    /// Starts planar on its own thread; returns once its socket accepts clients.
    pub fn start(self) -> anyhow::Result<Headless> {
        let runtime_dir = private_dir()?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (requests_tx, requests_rx) = calloop::channel::channel();
        let dir = runtime_dir.clone();
        let thread = std::thread::Builder::new()
            .name("planar".into())
            .spawn(move || {
                if let Err(err) = serve(self, &dir, requests_rx, &ready_tx) {
                    // Before the socket is ready this reaches start(); later, the log.
                    let _ = ready_tx.send(Err(format!("{err:#}")));
                    warn!(%err, "the embedded planar stopped");
                }
            })
            .context("error starting planar's thread")?;
        match ready_rx.recv() {
            Ok(Ok(socket)) => Ok(Headless {
                socket,
                runtime_dir,
                requests: requests_tx,
                thread: Some(thread),
            }),
            Ok(Err(why)) => {
                let _ = thread.join();
                let _ = std::fs::remove_dir_all(&runtime_dir);
                anyhow::bail!("error starting planar: {why}")
            }
            Err(_) => {
                let _ = thread.join();
                let _ = std::fs::remove_dir_all(&runtime_dir);
                anyhow::bail!("error starting planar: its thread ended")
            }
        }
    }
}

/// A running planar; stops and removes its runtime directory when dropped.
pub struct Headless {
    socket: String,
    runtime_dir: PathBuf,
    requests: calloop::channel::Sender<Request>,
    thread: Option<JoinHandle<()>>,
}

enum Request {
    Screenshot(mpsc::Sender<Result<RgbaImage, String>>),
    Imports(mpsc::Sender<Vec<ImportRecord>>),
}

impl Headless {
    pub fn builder() -> HeadlessBuilder {
        HeadlessBuilder {
            size: (1280, 720),
            scale: 1,
            refresh_hz: 60,
            virtual_clock: false,
            renderer: RendererChoice::Auto,
            import_policy: ImportPolicy::default(),
            dmabuf_version: planar_protocol::dmabuf::MAX_VERSION,
            allow_capture_all: false,
        }
    }

    /// The socket's name in [`Self::runtime_dir`] (`WAYLAND_DISPLAY`).
    pub fn socket_name(&self) -> &str {
        &self.socket
    }

    /// The private runtime directory (`XDG_RUNTIME_DIR`, mode 0700).
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The environment to give an app: `WAYLAND_DISPLAY` and `XDG_RUNTIME_DIR`.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("WAYLAND_DISPLAY", self.socket.clone()),
            (
                "XDG_RUNTIME_DIR",
                self.runtime_dir.to_string_lossy().into_owned(),
            ),
        ]
    }

    /// A connection to the socket, for a wayland-client in this process
    /// (`Connection::from_socket`).
    pub fn connect(&self) -> std::io::Result<UnixStream> {
        UnixStream::connect(self.runtime_dir.join(&self.socket))
    }

    /// The output as it is now (every commit planar has handled is drawn), RGBA.
    pub fn screenshot(&self) -> anyhow::Result<RgbaImage> {
        let (tx, rx) = mpsc::channel();
        self.requests
            .send(Request::Screenshot(tx))
            .map_err(|_| anyhow::anyhow!("planar has stopped"))?;
        rx.recv()
            .map_err(|_| anyhow::anyhow!("planar stopped before the screenshot"))?
            .map_err(|why| anyhow::anyhow!("error taking the screenshot: {why}"))
    }

    /// Checks a screenshot against a reference PNG as `planar run --expect` does (the
    /// same function: `NAME.actual.png`/`NAME.diff.png` beside it on a mismatch, a
    /// missing reference written as actual, `PLANAR_BLESS=1` blesses). Ok with the
    /// message when it passes; an error naming the worst pixel when not.
    pub fn expect(&self, reference: &Path, fuzz: Fuzz) -> anyhow::Result<String> {
        let outcome = self.check(
            reference,
            &CheckOptions {
                fuzz: Some(fuzz),
                ..CheckOptions::default()
            },
        )?;
        let message = outcome.message(reference);
        if outcome.passed() {
            Ok(message)
        } else {
            Err(anyhow::anyhow!(message))
        }
    }

    /// [`Self::expect`] with every option (clip, diff path, bless), and the outcome.
    pub fn check(&self, reference: &Path, opts: &CheckOptions) -> anyhow::Result<CheckOutcome> {
        let image = self.screenshot()?;
        check_against(&image, reference, opts)
            .with_context(|| format!("error comparing with {}", reference.display()))
    }

    /// What happened to each dma-buf alive now (records as `planar run --report` writes
    /// them; planar keeps no records of destroyed buffers without a report file).
    pub fn import_records(&self) -> anyhow::Result<Vec<ImportRecord>> {
        let (tx, rx) = mpsc::channel();
        self.requests
            .send(Request::Imports(tx))
            .map_err(|_| anyhow::anyhow!("planar has stopped"))?;
        rx.recv()
            .map_err(|_| anyhow::anyhow!("planar stopped before answering"))
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        // Dropping the sender closes the channel, which ends the loop.
        let (dead, _) = calloop::channel::channel();
        drop(std::mem::replace(&mut self.requests, dead));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}

/// A fresh mode-0700 directory under the temp dir.
fn private_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    let pid = std::process::id();
    for n in 0..10_000 {
        let path = base.join(format!("planar-fixture-{pid}-{n}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("error creating {}", path.display())),
        }
    }
    anyhow::bail!("error creating a runtime directory in {}", base.display())
}

fn answer(state: &mut State, request: Request) {
    match request {
        Request::Screenshot(reply) => {
            let image = if state.ensure_backend() {
                state.present();
                match state.backend.as_mut() {
                    Some(b) => b.read_rgba().map_err(|e| e.to_string()),
                    None => Err("no renderer".into()),
                }
            } else {
                Err(state.failure.clone().unwrap_or_default())
            };
            let _ = reply.send(image);
        }
        Request::Imports(reply) => {
            let records = state
                .backend
                .as_mut()
                .map(|b| b.engine().live_import_records())
                .unwrap_or_default();
            let _ = reply.send(records);
        }
    }
}

/// The compositor thread: `planar run`'s compositor (`serve::Planar`) without a command,
/// signals or timeout, answering the handle's requests.
fn serve(
    cfg: HeadlessBuilder,
    dir: &Path,
    requests: Channel<Request>,
    ready: &mpsc::Sender<Result<String, String>>,
) -> anyhow::Result<()> {
    let config = OutputConfig {
        dmabuf_version: cfg.dmabuf_version,
        import_policy: cfg.import_policy.clone(),
        linear_only: false,
        size: cfg.size,
        scale: cfg.scale,
        refresh_hz: cfg.refresh_hz,
        virtual_clock: cfg.virtual_clock,
        outputs: Vec::new(),
    };
    let mut planar = Planar::new(BackendKind::Headless, cfg.renderer, &config)?;
    let state = &mut planar.state;
    state.capture_policy.set_allow_all(cfg.allow_capture_all);
    state.add_input_devices(&Default::default())?;

    let name = "wayland-0".to_string();
    let socket = ListeningSocket::bind_absolute(dir.join(&name))
        .with_context(|| format!("error creating the socket in {}", dir.display()))?;
    planar.listen(socket)?;
    planar
        .event_loop
        .handle()
        .insert_source(requests, |event, _, state| match event {
            Event::Msg(request) => answer(state, request),
            Event::Closed => {
                state.stop.get_or_insert(Stop::Signal);
            }
        })
        .map_err(|e| anyhow::anyhow!("error watching the handle's requests: {e}"))?;
    let _ = ready.send(Ok(name));

    while planar.state.stop.is_none() {
        // Messages read before the wait are handled before a request that came after them.
        planar.turn(Duration::from_millis(100), true, |_| {})?;
    }
    planar.teardown();
    Ok(())
}
