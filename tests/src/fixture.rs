//! Running planar for tests: as a subprocess with a private runtime directory, either
//! with a command under it (`planar run … -- CMD`) or as a server clients connect to.
//!
//! Binaries are found next to the test executable (`target/<profile>/`), or through
//! `PLANAR_BIN_DIR`. The README's test command builds them first.

use std::{
    io::{BufRead, BufReader},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

/// Directory holding planar's binaries.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLANAR_BIN_DIR") {
        return dir.into();
    }
    // target/<profile>/deps/<test-binary> → target/<profile>
    let exe = std::env::current_exe().expect("test executable path");
    let mut dir = exe.parent().expect("deps dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of one of planar's binaries; panics with the command to build it when missing.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (the README's test command does)",
        path.display()
    );
    path
}

/// Prints the loud skip line the test tiers count, and returns so the test can end.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    // Written to the stderr fd itself: libtest captures eprintln! of passing tests, and a
    // skip must be seen.
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

/// Why GLES cannot run here, or `None` when `planar info --renderer gles` works.
pub fn gles_unavailable() -> Option<String> {
    let out = Command::new(bin("planar"))
        .args(["info", "--renderer", "gles"])
        .output()
        .ok()?;
    if out.status.success() {
        None
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Some(
            err.lines()
                .last()
                .unwrap_or("planar info --renderer gles failed")
                .to_string(),
        )
    }
}

/// Why the GTK 4 apps in tests/apps (Python) cannot run here, if they cannot.
pub fn gtk_unavailable() -> Option<String> {
    let ok = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import gi; gi.require_version('Gtk', '4.0'); from gi.repository import Gtk",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| "python3-gi with gir1.2-gtk-4.0 is not installed".to_string())
}

/// Where `which` would find `program`, if anywhere on PATH.
pub fn find_program(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// The outcome of one `planar run`.
#[derive(Debug)]
pub struct RunOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl RunOutput {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// A private runtime directory for one test.
pub fn runtime_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("planar-test-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod 0700");
    dir
}

/// Runs `planar run ARGS -- CMD` with `XDG_RUNTIME_DIR` set to `runtime`, killing it
/// after `limit` so a broken build fails a test instead of hanging it.
pub fn planar_run(
    runtime: Option<&Path>,
    args: &[&str],
    cmd: &[&str],
    limit: Duration,
) -> RunOutput {
    let mut command = Command::new(bin("planar"));
    command.arg("run").args(args);
    if !cmd.is_empty() {
        command.arg("--").args(cmd);
    }
    match runtime {
        Some(dir) => command.env("XDG_RUNTIME_DIR", dir),
        None => command.env_remove("XDG_RUNTIME_DIR"),
    };
    command
        .env_remove("WAYLAND_DISPLAY")
        .env("PATH", path_with_bins())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = command.spawn().expect("spawn planar");
    let output = wait_with_limit(child, limit);
    RunOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// PATH with planar's binary directory first, so commands can name `planar-demo`.
pub fn path_with_bins() -> std::ffi::OsString {
    let mut paths = vec![bin_dir()];
    if let Some(p) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(paths).expect("PATH")
}

fn wait_with_limit(child: Child, limit: Duration) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            // Still running past the limit: kill it so the test fails instead of hanging.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let out = child.wait_with_output().expect("wait for planar");
    let _ = tx.send(());
    out
}

/// planar running as a server (no command), for tests that connect their own clients.
pub struct Server {
    child: Child,
    pub runtime: tempfile::TempDir,
    pub socket: String,
}

impl Server {
    /// Starts `planar run ARGS` and waits for its "listening on" line.
    pub fn start(args: &[&str]) -> anyhow::Result<Server> {
        Self::start_with_watchdog(args, Duration::from_secs(120))
    }

    /// As `start`, with planar killed after `watchdog` instead of two minutes (the guest
    /// tier, under TCG on a loaded machine, runs many clients against one planar).
    pub fn start_with_watchdog(args: &[&str], watchdog: Duration) -> anyhow::Result<Server> {
        Self::start_with(args, &[], watchdog)
    }

    /// As `start`, with `env` added to planar's environment.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Server> {
        Self::start_with(args, env, Duration::from_secs(120))
    }

    fn start_with(
        args: &[&str],
        env: &[(&str, &str)],
        watchdog: Duration,
    ) -> anyhow::Result<Server> {
        let runtime = runtime_dir();
        // planar's log goes to a file, shown only when the test fails.
        let log = std::fs::File::create(runtime.path().join("planar.log"))?;
        let mut child = Command::new(bin("planar"))
            .arg("run")
            .args(args)
            .env("XDG_RUNTIME_DIR", runtime.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("error starting planar")?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("error reading planar's first line")?;
        let socket = match line.trim().strip_prefix("planar: listening on ") {
            Some(rest) => rest.split(' ').next().unwrap_or_default().to_string(),
            None => {
                let _ = child.kill();
                bail!("planar did not say where it listens: {line:?}")
            }
        };
        // A watchdog: if a test hangs waiting on planar, planar is killed after two
        // minutes, the client's connection breaks and the test fails instead of hanging.
        let pid = child.id();
        std::thread::spawn(move || {
            std::thread::sleep(watchdog);
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        });
        Ok(Server {
            child,
            runtime,
            socket,
        })
    }

    /// A new wayland-client connection to this server.
    pub fn connect(&self) -> anyhow::Result<wayland_client::Connection> {
        let stream = UnixStream::connect(self.runtime.path().join(&self.socket))
            .context("error connecting to planar's socket")?;
        Ok(wayland_client::Connection::from_socket(stream)?)
    }

    /// Environment for a subprocess client of this server.
    pub fn client_command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("WAYLAND_DISPLAY", &self.socket);
        cmd
    }

    /// planar's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the planar process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// planar is alive and answers a new client's roundtrip (after a hostile client).
    pub fn assert_serving(&mut self) {
        assert!(self.alive(), "planar died:\n{}", self.log());
        let conn = self.connect().expect("a new client connects");
        conn.roundtrip().expect("a new client is answered");
        assert!(self.alive(), "planar died:\n{}", self.log());
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait for planar")
    }
}

impl Server {
    /// planar's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.runtime.path().join("planar.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "--- planar log ---\n{}", self.log());
        }
    }
}

/// The protocol error a roundtrip ended with: (interface, code); None when it succeeded.
/// Panics when the connection broke without one.
pub fn roundtrip_error(conn: &wayland_client::Connection) -> Option<(String, u32)> {
    match conn.roundtrip() {
        Err(wayland_client::backend::WaylandError::Protocol(e)) => {
            Some((e.object_interface, e.code))
        }
        Err(e) => panic!("the connection broke without a protocol error: {e}"),
        Ok(_) => None,
    }
}

/// The interfaces of the globals the compositor at `conn` offers this client.
pub fn global_names(conn: &wayland_client::Connection) -> Vec<String> {
    use wayland_client::globals::{registry_queue_init, GlobalListContents};
    /// A registry that ignores its events: the list is read once.
    struct Names;
    impl
        wayland_client::Dispatch<
            wayland_client::protocol::wl_registry::WlRegistry,
            GlobalListContents,
        > for Names
    {
        fn event(
            _: &mut Self,
            _: &wayland_client::protocol::wl_registry::WlRegistry,
            _: wayland_client::protocol::wl_registry::Event,
            _: &GlobalListContents,
            _: &wayland_client::Connection,
            _: &wayland_client::QueueHandle<Self>,
        ) {
        }
    }
    let (globals, _queue) = registry_queue_init::<Names>(conn).expect("the registry's globals");
    globals
        .contents()
        .with_list(|list| list.iter().map(|g| g.interface.clone()).collect())
}
