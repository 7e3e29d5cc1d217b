//! What the fuzzer fuzzes and watches: the planar process (alive? how many fds?) and a
//! well-behaved client that keeps showing a known window (XRGB8888 on the EGL path, NV12
//! on the CPU path) and captures the output on request through planar-test-v1.
//!
//! Known limit: the witness's capture is only meaningful while no fuzz client is
//! connected, because every toplevel is placed at the output's top-left and a fuzz
//! client's window would cover it; the driver captures between rounds.

use std::{
    io::{BufRead, BufReader},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use drm_fourcc::DrmFourcc as Fourcc;
use planar_image::RgbaImage;
use wayland_client::Connection;

use crate::{
    dmabuf_client::DmabufConn,
    show::{create_buffer, Pattern, ShowConfig},
    test_client::PlanarTest,
    window::Window,
};

/// The witness's buffers: each `SIZE`x`SIZE`, side by side at the output's top-left.
pub const SIZE: u32 = 128;

/// planar running as a server for the fuzzer.
pub struct Planar {
    child: Child,
    pub runtime: tempfile::TempDir,
    pub socket: PathBuf,
    pub pid: u32,
}

impl Planar {
    /// Starts `PLANAR run ARGS` in a private runtime directory, its log in `planar.log`
    /// there, and waits for its "listening on" line.
    pub fn start(planar: &Path, args: &[String]) -> anyhow::Result<Planar> {
        let runtime = crate::fixture::runtime_dir();
        let log = std::fs::File::create(runtime.path().join("planar.log"))?;
        let mut child = Command::new(planar)
            .arg("run")
            .args(args)
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env_remove("WAYLAND_DISPLAY")
            // The log is read in a failure report: no colour codes in it.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("error starting {}", planar.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .context("error reading planar's first line")?;
        let Some(name) = line
            .trim()
            .strip_prefix("planar: listening on ")
            .and_then(|rest| rest.split(' ').next())
        else {
            let _ = child.kill();
            bail!("planar did not say where it listens: {line:?}");
        };
        let socket = runtime.path().join(name);
        let pid = child.id();
        Ok(Planar {
            child,
            runtime,
            socket,
            pid,
        })
    }

    /// `None` while planar runs; its exit status once it has died.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// What each of planar's open fds points to (`/proc/PID/fd`).
    pub fn fds(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{}/fd", self.pid)) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok())
            .map(|e| {
                std::fs::read_link(e.path())
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| "?".into())
            })
            .collect()
    }

    /// Waits until planar holds at most `baseline` fds, up to `settle`; returns the count
    /// it ended with.
    pub fn settle_fds(&self, baseline: usize, settle: Duration) -> usize {
        let start = Instant::now();
        loop {
            let n = self.fds().len();
            if n <= baseline || start.elapsed() > settle {
                return n;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The last `lines` lines of planar's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log =
            std::fs::read_to_string(self.runtime.path().join("planar.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Sends SIGTERM and waits (up to 10 s, then SIGKILL) for the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::TERM,
        );
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Planar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The well-behaved client, on its own thread: it shows its window once, then captures
/// the output each time it is asked.
pub struct Witness {
    ask: mpsc::Sender<()>,
    answers: mpsc::Receiver<Result<RgbaImage, String>>,
}

impl Witness {
    /// Connects, shows the window, waits until it has been presented, and returns the
    /// first capture.
    pub fn start(socket: &Path, timeout: Duration) -> anyhow::Result<(Witness, RgbaImage)> {
        let (ask, asks) = mpsc::channel();
        let (answer, answers) = mpsc::channel();
        let socket = socket.to_path_buf();
        std::thread::spawn(move || {
            let res = witness(&socket, &asks, &answer);
            if let Err(e) = res {
                let _ = answer.send(Err(format!("{e:#}")));
            }
        });
        match answers.recv_timeout(timeout) {
            Ok(Ok(img)) => Ok((Witness { ask, answers }, img)),
            Ok(Err(e)) => bail!("the well-behaved client failed: {e}"),
            Err(_) => bail!("the well-behaved client got no answer in {timeout:?}"),
        }
    }

    /// Captures the output (after everything the witness committed is shown).
    pub fn capture(&self, timeout: Duration) -> Result<RgbaImage, String> {
        self.ask
            .send(())
            .map_err(|_| "the well-behaved client is gone".to_string())?;
        match self.answers.recv_timeout(timeout) {
            Ok(r) => r,
            Err(_) => Err(format!("no capture within {timeout:?}: planar hangs")),
        }
    }
}

fn witness(
    socket: &Path,
    asks: &mpsc::Receiver<()>,
    answer: &mpsc::Sender<Result<RgbaImage, String>>,
) -> anyhow::Result<()> {
    let conn = Connection::from_socket(UnixStream::connect(socket)?)?;
    let mut dmabuf = DmabufConn::new(conn.clone(), 5)?;
    let mut window = Window::new(&conn, "planar-fuzz witness")?;
    let cfg = |format| ShowConfig {
        one_fd: true,
        ..ShowConfig::new(format, SIZE, SIZE)
    };
    let left = create_buffer(&mut dmabuf, &cfg(Fourcc::Xrgb8888))?;
    let right = create_buffer(&mut dmabuf, &cfg(Fourcc::Nv12))?;
    let (Ok((left, _left_fds)), Ok((right, _right_fds))) = (left, right) else {
        bail!("planar refused the well-behaved client's dma-bufs");
    };
    let sub = window.subsurface(SIZE as i32, 0)?;
    sub.attach(Some(&right), 0, 0);
    sub.damage_buffer(0, 0, SIZE as i32, SIZE as i32);
    sub.commit();
    window.show(&left, SIZE as i32, None, SIZE as i32);
    window.wait_presented()?;
    let mut test = PlanarTest::new(&conn)?;
    let mut capture = || -> Result<RgbaImage, String> {
        match test.capture() {
            Ok(Ok((img, _))) => Ok(img),
            Ok(Err(why)) => Err(format!("planar refused the capture: {why}")),
            Err(e) => Err(format!("capture failed: {e:#}")),
        }
    };
    answer.send(capture())?;
    while asks.recv().is_ok() {
        answer.send(capture())?;
    }
    Ok(())
}

/// Checks the first capture shows the witness: each buffer's four quadrants (red, green /
/// blue, white) at their centres, within `tolerance` (NV12 goes through a YUV matrix).
pub fn check_witness(img: &RgbaImage, tolerance: u8) -> Result<(), String> {
    for (i, x0) in [0, SIZE].into_iter().enumerate() {
        for (qx, qy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (x, y) = (qx * SIZE / 2 + SIZE / 4, qy * SIZE / 2 + SIZE / 4);
            let want = Pattern::Quads.rgb(SIZE, SIZE, x, y);
            let got = img.pixel(x0 + x, y);
            let off = (0..3)
                .map(|c| (i16::from(got[c]) - i16::from(want[c])).unsigned_abs())
                .max()
                .unwrap_or(0);
            if off > u16::from(tolerance) {
                let which = if i == 0 { "XRGB8888" } else { "NV12" };
                return Err(format!(
                    "{which} buffer at ({}, {y}) shows {got:?}, expected {want:?}",
                    x0 + x
                ));
            }
        }
    }
    Ok(())
}
