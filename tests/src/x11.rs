//! An X11 host for nested-mode tests: Xvfb from Debian, read back and driven through the
//! X protocol itself (GetImage for what is on screen, XTEST for pointer and keys), so the
//! test sees what an X user would.

use std::{
    io::{BufRead, BufReader},
    os::{fd::AsRawFd, unix::process::CommandExt},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use planar_image::RgbaImage;
use x11rb::{
    connection::Connection as _,
    protocol::{
        xproto::{ConfigureWindowAux, ConnectionExt as _, ImageFormat, InputFocus, MapState},
        xtest::ConnectionExt as _,
    },
    rust_connection::RustConnection,
    CURRENT_TIME,
};

/// X core event codes XTEST fakes.
const KEY_PRESS: u8 = 2;
const KEY_RELEASE: u8 = 3;
const BUTTON_PRESS: u8 = 4;
const BUTTON_RELEASE: u8 = 5;
const MOTION_NOTIFY: u8 = 6;

/// X keycodes are evdev codes plus 8.
pub fn x_keycode(evdev: u32) -> u8 {
    (evdev + 8) as u8
}

pub struct Xvfb {
    child: Child,
    pub display: String,
    conn: RustConnection,
    root: u32,
}

impl Xvfb {
    /// Starts Xvfb on a free display with a black root window of `width`x`height`.
    pub fn start(width: u32, height: u32) -> anyhow::Result<Xvfb> {
        // Xvfb picks a free display itself and writes its number to this pipe once it
        // accepts connections: tests start several at once, and picking a number here
        // would race.
        // Close-on-exec, so other tests' children do not hold it open; only Xvfb gets it.
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .context("pipe for -displayfd")?;
        let write_fd = write.as_raw_fd();
        let mut command = Command::new("Xvfb");
        // SAFETY: between fork and exec only fcntl, which is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                let fd = std::os::fd::BorrowedFd::borrow_raw(write_fd);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                Ok(())
            });
        }
        let mut child = command
            .args(["-displayfd", &write_fd.to_string()])
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .args(["-nolisten", "tcp", "-br"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("error starting Xvfb")?;
        drop(write);
        let mut line = String::new();
        let read_ok = BufReader::new(std::fs::File::from(read)).read_line(&mut line);
        let display = match (read_ok, line.trim().parse::<u32>()) {
            (Ok(_), Ok(n)) => format!(":{n}"),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("Xvfb did not say which display it opened ({line:?})");
            }
        };
        let conn = match RustConnection::connect(Some(&display)) {
            Ok((conn, _)) => conn,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("connecting to Xvfb {display}: {e}");
            }
        };
        let root = conn.setup().roots[0].root;
        Ok(Xvfb {
            child,
            display,
            conn,
            root,
        })
    }

    /// What the screen shows, read with GetImage on the root window.
    pub fn screen(&self) -> anyhow::Result<RgbaImage> {
        let screen = &self.conn.setup().roots[0];
        let (w, h) = (screen.width_in_pixels, screen.height_in_pixels);
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, 0, 0, w, h, !0)?
            .reply()?;
        if reply.depth != 24 || reply.data.len() != w as usize * h as usize * 4 {
            bail!(
                "unexpected root image: depth {}, {} bytes",
                reply.depth,
                reply.data.len()
            );
        }
        // 24-bit TrueColor on a little-endian server: B, G, R, pad.
        let data = reply
            .data
            .chunks_exact(4)
            .flat_map(|p| [p[2], p[1], p[0], 255])
            .collect();
        Ok(RgbaImage {
            width: w.into(),
            height: h.into(),
            data,
        })
    }

    /// Polls the screen until `check` accepts it, for up to `limit`.
    pub fn wait_for(
        &self,
        limit: Duration,
        check: impl Fn(&RgbaImage) -> bool,
    ) -> anyhow::Result<RgbaImage> {
        let deadline = Instant::now() + limit;
        loop {
            let image = self.screen()?;
            if check(&image) || Instant::now() > deadline {
                return Ok(image);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Gives the X input focus to the topmost mapped window, as a window manager would:
    /// there is none on Xvfb, and X sends keys only to the focused window.
    pub fn focus_top_window(&self) -> anyhow::Result<()> {
        let window = self.top_window()?;
        self.conn
            .set_input_focus(InputFocus::PARENT, window, CURRENT_TIME)?
            .check()?;
        Ok(())
    }

    /// Resizes the topmost mapped window, as a user dragging its border would.
    pub fn resize_top_window(&self, width: u32, height: u32) -> anyhow::Result<()> {
        let window = self.top_window()?;
        let size = ConfigureWindowAux::new().width(width).height(height);
        self.conn.configure_window(window, &size)?.check()?;
        Ok(())
    }

    fn top_window(&self) -> anyhow::Result<u32> {
        let tree = self.conn.query_tree(self.root)?.reply()?;
        let mut top = None;
        for &w in &tree.children {
            let attrs = self.conn.get_window_attributes(w)?.reply()?;
            if attrs.map_state == MapState::VIEWABLE {
                top = Some(w);
            }
        }
        top.context("no mapped window on the X screen")
    }

    /// Moves the pointer to (x, y) on the root window.
    pub fn move_pointer(&self, x: i16, y: i16) -> anyhow::Result<()> {
        self.fake(MOTION_NOTIFY, 0, x, y)
    }

    /// Presses and releases pointer button `button` (1: left).
    pub fn click(&self, button: u8) -> anyhow::Result<()> {
        self.fake(BUTTON_PRESS, button, 0, 0)?;
        self.fake(BUTTON_RELEASE, button, 0, 0)
    }

    /// Presses and releases the key with evdev code `evdev`.
    pub fn tap_key(&self, evdev: u32) -> anyhow::Result<()> {
        self.fake(KEY_PRESS, x_keycode(evdev), 0, 0)?;
        self.fake(KEY_RELEASE, x_keycode(evdev), 0, 0)
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> anyhow::Result<()> {
        self.conn
            .xtest_fake_input(kind, detail, 0, self.root, x, y, 0)?
            .check()
            .with_context(|| format!("XTEST fake input {kind}"))?;
        Ok(())
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
