//! What a compositor process holds, read from /proc: its open fds and its memory. The
//! compositor's pid comes from the client's own connection (SO_PEERCRED), so a client
//! can watch the compositor it talks to without being told which one it is.

use std::{
    collections::HashSet,
    os::{
        fd::{AsRawFd, BorrowedFd},
        unix::fs::MetadataExt,
    },
};

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

/// Polls the process's fd count for up to 5 s until it is at most `at_most` (closing
/// happens on the compositor's next dispatch); returns the last count read, or
/// `usize::MAX` once the process is gone (a dead compositor holds no fds, and must not
/// pass an fd check).
pub fn fds_settle_to(pid: u32, at_most: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = fd_count(pid).unwrap_or(usize::MAX);
        if now <= at_most || std::time::Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
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

/// CPU time (user + system) the process used, in clock ticks, from /proc/PID/stat.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) may hold spaces: fields are counted after its closing paren.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The inodes of the memfds the process holds open whose name starts with `name` (a
/// client's buffers: `planar-client`).
pub fn memfd_inodes(pid: u32, name: &str) -> HashSet<u64> {
    let prefix = format!("/memfd:{name}");
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with(&prefix))
        })
        .filter_map(|e| std::fs::metadata(e.path()).ok().map(|m| m.ino()))
        .collect()
}

/// How many fds the process holds open on the files `inodes` (planar: its imports of a
/// client's buffers).
pub fn fds_on(pid: u32, inodes: &HashSet<u64>) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::metadata(e.path()).ok())
        .filter(|m| inodes.contains(&m.ino()))
        .count()
}

/// KiB of the process's resident set in mappings of the files `inodes`, from smaps.
pub fn resident_kib(pid: u32, inodes: &HashSet<u64>) -> Option<u64> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut counting = false;
    let mut kib = 0;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A mapping's header: "start-end perms offset dev inode [path]".
        if fields
            .first()
            .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
        {
            counting = fields
                .get(4)
                .and_then(|i| i.parse::<u64>().ok())
                .is_some_and(|i| inodes.contains(&i));
        } else if counting && fields.first() == Some(&"Rss:") {
            kib += fields
                .get(1)
                .and_then(|k| k.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Some(kib)
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
        assert!(cpu_ticks(me).is_some());
    }

    #[test]
    fn finds_a_memfd_its_fds_and_its_resident_pages() {
        use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
        let me = std::process::id();
        let name = "planar-proc-selftest";
        assert!(memfd_inodes(me, name).is_empty());
        let len = 256 * 1024;
        let fd = crate::memfd::unsealed(name, &vec![7u8; len]).unwrap();
        let inodes = memfd_inodes(me, name);
        assert_eq!(inodes.len(), 1);
        assert_eq!(fds_on(me, &inodes), 1);
        assert_eq!(resident_kib(me, &inodes), Some(0), "not mapped yet");
        // SAFETY: a fresh shared mapping of our own memfd, unmapped below.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &fd,
                0,
            )
            .unwrap()
        };
        // SAFETY: `ptr` maps `len` readable bytes.
        let sum: u64 = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }
            .iter()
            .map(|&b| b as u64)
            .sum();
        assert_eq!(sum, 7 * len as u64);
        assert!(resident_kib(me, &inodes).is_some_and(|k| k >= (len / 1024) as u64));
        // SAFETY: the mapping made above, no longer used.
        unsafe { munmap(ptr, len).unwrap() };
        drop(fd);
        assert_eq!(fds_on(me, &inodes), 0);
    }
}
