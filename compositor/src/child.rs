//! The client command run under planar, and how its end becomes planar's exit status.

use std::{
    os::{
        fd::OwnedFd,
        unix::process::{CommandExt, ExitStatusExt},
    },
    path::Path,
    process::{Child, Command, ExitStatus},
};

use anyhow::Context;
use rustix::process::{pidfd_open, Pid, PidfdFlags};

/// A running client command and a pidfd that becomes readable when it exits.
pub struct ClientCommand {
    pub child: Child,
    pub pidfd: OwnedFd,
}

impl ClientCommand {
    /// Starts `argv` with WAYLAND_DISPLAY, XDG_RUNTIME_DIR and the capture secret
    /// (`capture_token`, see `capture`) set for it alone, and DISPLAY when planar runs
    /// Xwayland (`x11_display`).
    pub fn spawn(
        argv: &[String],
        runtime_dir: &Path,
        socket: &str,
        capture_token: &str,
        x11_display: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(&argv[0]);
        // SAFETY: only async-signal-safe calls between fork and exec. planar blocks
        // SIGINT/SIGTERM to receive them on a signalfd; the command must not inherit that
        // mask, or it could not be ended by those signals.
        unsafe {
            command.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
        let child = command
            .args(&argv[1..])
            .env("WAYLAND_DISPLAY", socket)
            .env("XDG_RUNTIME_DIR", runtime_dir)
            // A nested session's X display must not capture the client.
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .env(crate::capture::TOKEN_ENV, capture_token)
            .envs(x11_display.map(|d| ("DISPLAY", d)))
            .spawn()
            .with_context(|| format!("error starting {:?}", argv[0]))?;
        let pid = Pid::from_child(&child);
        let pidfd = pidfd_open(pid, PidfdFlags::empty()).context("error opening a pidfd")?;
        Ok(ClientCommand { child, pidfd })
    }

    /// Asks the command to end (SIGTERM), then kills it if it has not ended after a grace
    /// period.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let pid = Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

/// The shell convention: the exit code, or 128+N when the command died of signal N.
pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
    }
}
