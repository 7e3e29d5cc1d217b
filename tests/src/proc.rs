//! What a compositor process holds, read from /proc: its open fds and its memory. The
//! compositor's pid comes from the client's own connection (SO_PEERCRED), so a client
//! can watch the compositor it talks to without being told which one it is.

use std::os::fd::{AsRawFd, BorrowedFd};

use wayland_client::Connection;

/// The pid of the process at the other end of `conn`'s socket.
pub fn peer_pid(conn: &Connection) -> Option<u32> {
    let backend = conn.backend();
    socket_peer_pid(backend.poll_fd())
}

fn socket_peer_pid(fd: BorrowedFd<'_>) -> Option<u32> {
    // rustix's peer-credential call needs its "net" feature, which nothing else here
    // uses; this one getsockopt is plain libc.
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes one ucred of `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (r == 0 && cred.pid > 0).then_some(cred.pid as u32)
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// How many fds the process has open.
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// The fd count and resident memory (KiB) of a process, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub fds: usize,
    pub rss_kib: u64,
}

pub fn usage(pid: u32) -> Option<Usage> {
    Some(Usage {
        fds: fd_count(pid)?,
        rss_kib: status_kib(pid, "VmRSS")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(status_kib(me, "VmRSS").is_some_and(|k| k > 0));
        assert!(status_kib(me, "NoSuchField").is_none());
        assert!(fd_count(me).is_some_and(|n| n >= 3));
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::fd::AsFd;
        assert_eq!(socket_peer_pid(a.as_fd()), Some(me));
        drop(b);
    }
}
