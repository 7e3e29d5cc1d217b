//! `planar run --xwayland` as a test server (`Session`): its Wayland socket, its X11
//! display, a capture connection, and X clients started through it; with the checks the
//! Xwayland tests share.

use std::{
    io::{BufRead, BufReader},
    os::unix::net::UnixStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use planar_image::RgbaImage;

use crate::{
    fixture::{bin, find_program, path_with_bins, runtime_dir, skip},
    test_client::PlanarTest,
};

/// Whether the programs a test needs are installed; prints the skip line when not.
pub fn have(test: &str, programs: &[&str]) -> bool {
    for p in ["Xwayland"].iter().chain(programs) {
        if find_program(p).is_none() {
            skip(
                test,
                &format!("{p} is not installed (scripts/setup installs it)"),
            );
            return false;
        }
    }
    true
}

/// `planar run --xwayland` as a server: its Wayland socket, X11 display and a capture
/// connection; X and Wayland clients started through it are killed with it.
pub struct Session {
    pub planar: Child,
    pub runtime: tempfile::TempDir,
    pub socket: String,
    pub display: String,
    pub clients: Vec<Child>,
    pub test: PlanarTest,
}

impl Session {
    pub fn start(size: &str) -> Session {
        let runtime = runtime_dir();
        let log = std::fs::File::create(runtime.path().join("planar.log")).unwrap();
        let mut planar = Command::new(bin("planar"))
            .args([
                "run",
                "--xwayland",
                "--allow-capture",
                "all",
                "--size",
                size,
            ])
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("PATH", path_with_bins())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start planar");
        let mut lines = BufReader::new(planar.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let second = lines.next().and_then(Result::ok).unwrap_or_default();
        let socket = first
            .strip_prefix("planar: listening on ")
            .and_then(|r| r.split(' ').next())
            .unwrap_or_else(|| panic!("no listening line: {first:?}"))
            .to_string();
        let display = second
            .strip_prefix("planar: X11 display ")
            .unwrap_or_else(|| panic!("no X11 display line: {second:?}"))
            .to_string();
        let stream = UnixStream::connect(runtime.path().join(&socket)).unwrap();
        let conn = wayland_client::Connection::from_socket(stream).unwrap();
        let test = PlanarTest::new(&conn).unwrap();
        Session {
            planar,
            runtime,
            socket,
            display,
            clients: Vec::new(),
            test,
        }
    }

    /// A command with this session's DISPLAY and WAYLAND_DISPLAY.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", path_with_bins())
            .env("DISPLAY", &self.display)
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("WAYLAND_DISPLAY", &self.socket)
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    pub fn spawn(&mut self, program: &str, args: &[&str]) {
        let child = self.command(program).args(args).spawn().expect(program);
        self.clients.push(child);
    }

    /// Captures until `ok` accepts the picture (up to 30 s); the last picture and the
    /// last reason otherwise.
    pub fn wait_for(
        &mut self,
        what: &str,
        ok: impl Fn(&RgbaImage) -> Result<(), String>,
    ) -> RgbaImage {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (img, _) = self.test.capture().unwrap().expect("capture allowed");
            match ok(&img) {
                Ok(()) => return img,
                Err(why) if Instant::now() > deadline => {
                    let path = self.runtime.path().join("last.png");
                    let _ = img.write_png(&path);
                    panic!(
                        "{what}: {why} (last capture: {})\n--- planar log ---\n{}",
                        path.display(),
                        std::fs::read_to_string(self.runtime.path().join("planar.log"))
                            .unwrap_or_default()
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// What `xwininfo -name NAME` prints for the window titled `name`.
    fn xwininfo_text(&self, name: &str) -> Option<String> {
        let out = self
            .command("xwininfo")
            .args(["-name", name])
            .stdout(Stdio::piped())
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// X11's idea of a window: (x, y, width, height) from xwininfo.
    pub fn xwininfo(&self, name: &str) -> Option<(i32, i32, u32, u32)> {
        let text = self.xwininfo_text(name)?;
        let field = |key: &str| -> Option<i64> {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
        };
        Some((
            field("Absolute upper-left X:")? as i32,
            field("Absolute upper-left Y:")? as i32,
            field("Width:")? as u32,
            field("Height:")? as u32,
        ))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for c in &mut self.clients {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.planar.kill();
        let _ = self.planar.wait();
    }
}

/// Every pixel of `img` in the rectangle is `rgb`.
pub fn solid(
    img: &RgbaImage,
    (x0, y0, w, h): (u32, u32, u32, u32),
    rgb: [u8; 3],
) -> Result<(), String> {
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let p = img.pixel(x, y);
            if p[..3] != rgb {
                return Err(format!("({x}, {y}) is {p:?}, not {rgb:?}"));
            }
        }
    }
    Ok(())
}

/// The X11 window id xwininfo reports for the window titled `name`.
pub fn x11_window_id(s: &Session, name: &str) -> Option<u32> {
    let text = s.xwininfo_text(name)?;
    let id = text.split("Window id: 0x").nth(1)?.split(' ').next()?;
    u32::from_str_radix(id, 16).ok()
}

/// An xterm titled `name`, one solid colour `rgb` (its text and cursor too), started in
/// `s`; returns its X window id once it is shown at the output's top-left.
pub fn solid_xterm(s: &mut Session, name: &str, rgb: [u8; 3]) -> u32 {
    let colour = format!("rgb:{:02x}/{:02x}/{:02x}", rgb[0], rgb[1], rgb[2]);
    s.spawn(
        "xterm",
        &[
            "-T",
            name,
            "-geometry",
            "20x5",
            "-bg",
            &colour,
            "-fg",
            &colour,
            "-cr",
            &colour,
            "-e",
            "sleep",
            "120",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        if let Some(id) = x11_window_id(s, name) {
            break id;
        }
        assert!(Instant::now() < deadline, "{name} never mapped");
        std::thread::sleep(Duration::from_millis(100));
    };
    s.wait_for(name, |img| solid(img, (0, 0, 20, 20), rgb));
    id
}
