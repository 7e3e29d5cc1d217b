//! What planar keeps resident of its clients' buffers (bench/memory measures the totals).
//!
//! On llvmpipe every import of a client's memfd dma-buf is a mapping in planar, and the
//! pages a draw reads stay in planar's resident set while that mapping lives. The copy
//! path (renderer/src/blit/) drops a copy source no copy has read for a few renders, so a
//! window that is covered stops costing planar its buffers' pages, and their imports' fds
//! close in the render that drops them, drawn or not. Read from `/proc/PID/smaps` and
//! `/proc/PID/fd` of a real planar process, by the inodes of the client's own memfds.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use planar_tests::{
    fixture::{bin, gles_unavailable, skip, Server},
    proc::{fds_on, memfd_inodes},
};

/// KiB of planar's resident set in mappings of the client's buffers.
fn resident_kib(pid: u32, inodes: &std::collections::HashSet<u64>) -> u64 {
    planar_tests::proc::resident_kib(pid, inodes).expect("read smaps")
}

/// A `planar-client show` cycling `buffers` XR24 memfd buffers until killed, with
/// `damage` on each commit after the first (full, rows:N), once its first frame was
/// presented.
fn shown_client(server: &Server, size: &str, buffers: &str, damage: &str) -> Child {
    let mut child = server
        .client_command(&bin("planar-client"))
        .args(["show", "--alloc", "memfd", "--format", "XR24"])
        .args(["--size", size, "--buffers", buffers, "--frames", "0"])
        .args(["--damage", damage])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start planar-client");
    let stdout = child.stdout.take().expect("piped stdout");
    let shown = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.trim() == "planar-client: shown");
    assert!(shown, "planar-client ended before its frame was shown");
    child
}

/// A planar on GLES with one 640x480 output, or None once the test `name` printed why it
/// is skipped.
fn gles_server(name: &str) -> Option<Server> {
    if let Some(why) = gles_unavailable() {
        skip(name, &why);
        return None;
    }
    Some(Server::start(&["--renderer", "gles", "--size", "640x480"]).unwrap())
}

/// Polls `f` until it holds or `secs` pass.
fn within(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

#[test]
fn a_covered_windows_pages_leave_planars_resident_set() {
    let Some(server) = gles_server("a_covered_windows_pages_leave_planars_resident_set") else {
        return;
    };
    let planar = server.pid();
    // 512x512 XR24: 1 MiB a buffer, copied onto the XR24 target (not drawn as a quad).
    let mut below = shown_client(&server, "512x512", "3", "full");
    let theirs = memfd_inodes(below.id(), "planar-client");
    assert!(theirs.len() >= 3, "the client's memfds: {theirs:?}");
    // On top, its buffers were copied: their pages are in planar's resident set (this is
    // what makes the check below mean something).
    assert!(
        within(10, || resident_kib(planar, &theirs) >= 1024),
        "the shown window's pages were never resident in planar ({} KiB)\n{}",
        resident_kib(planar, &theirs),
        server.log()
    );
    // The same size on top covers it whole; it keeps cycling its buffers underneath.
    let mut above = shown_client(&server, "512x512", "3", "full");
    let covered = within(10, || resident_kib(planar, &theirs) == 0);
    let left = resident_kib(planar, &theirs);
    assert!(
        below.try_wait().unwrap().is_none(),
        "the covered client ended"
    );
    for c in [&mut below, &mut above] {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert!(
        covered,
        "a covered window still holds {left} KiB of planar's resident set\n{}",
        server.log()
    );
}

/// A covered window's dropped copy sources close their imports (fds and mappings) in the
/// render that drops them, though nothing is drawn then: the window on top re-commits
/// its one buffer at every frame with no damage, so every render is skipped by the damage
/// tracker, and smithay frees dropped textures only when a frame is drawn. Uncovered, the
/// window is copied again from as many imports as before.
#[test]
fn a_covered_windows_imports_close_though_nothing_is_drawn() {
    let Some(server) = gles_server("a_covered_windows_imports_close_though_nothing_is_drawn")
    else {
        return;
    };
    let planar = server.pid();
    let mut below = shown_client(&server, "512x480", "3", "full");
    let theirs = memfd_inodes(below.id(), "planar-client");
    // All three buffers (960 KiB each, all on the output) copied from: their pages are
    // resident in planar.
    assert!(
        within(10, || resident_kib(planar, &theirs) >= 3 * 960),
        "the shown window's buffers were not all copied ({} KiB)\n{}",
        resident_kib(planar, &theirs),
        server.log()
    );
    let on_top = fds_on(planar, &theirs);
    // More than the wl_buffers' own fds (one per buffer): the imports hold fds too. Covered,
    // no more than this may stay (a dropped source whose import lingered while its
    // replacement was made took it to 12 of 9).
    assert!(
        on_top > theirs.len(),
        "planar holds {on_top} fds of the client's {} buffers",
        theirs.len()
    );
    let mut above = shown_client(&server, "512x480", "1", "rows:0");
    let closed = within(10, || {
        resident_kib(planar, &theirs) == 0 && fds_on(planar, &theirs) <= on_top
    });
    let covered = (resident_kib(planar, &theirs), fds_on(planar, &theirs));
    let _ = above.kill();
    let _ = above.wait();
    let again = within(10, || resident_kib(planar, &theirs) >= 960);
    let settled = within(5, || fds_on(planar, &theirs) <= on_top);
    let uncovered = fds_on(planar, &theirs);
    let alive = below.try_wait().unwrap().is_none();
    let _ = below.kill();
    let _ = below.wait();
    let log = server.log();
    assert!(alive, "the covered client ended\n{log}");
    assert!(
        closed,
        "covered: planar keeps {} KiB resident and {} fds of its buffers ({on_top} fds \
         on top)\n{log}",
        covered.0, covered.1
    );
    assert!(again, "the uncovered window was not copied again\n{log}");
    assert!(
        settled,
        "uncovered: planar holds {uncovered} fds of its buffers, {on_top} before\n{log}"
    );
}
