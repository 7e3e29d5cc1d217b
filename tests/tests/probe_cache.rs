//! The EGL import probe's cache as the `planar` binary uses it: what `planar info` reports
//! (the renderer, the advertised pairs and the import path of each) is the same with the
//! cache off, on a miss, on a hit and after a corrupt file; `PLANAR_NO_PROBE_CACHE=1`
//! writes nothing.

use std::{path::Path, process::Command};

use planar_tests::fixture::{bin, gles_unavailable, runtime_dir, skip};

/// `planar info --renderer gles` with its cache under `cache_home`: (stdout, stderr).
fn info(cache_home: &Path, no_cache: bool) -> (String, String) {
    let mut command = Command::new(bin("planar"));
    command
        .args(["info", "--renderer", "gles"])
        .env("XDG_CACHE_HOME", cache_home)
        .env("PLANAR_LOG", "planar_renderer=info")
        .env("NO_COLOR", "1")
        .env("LIBGL_ALWAYS_SOFTWARE", "1");
    if no_cache {
        command.env("PLANAR_NO_PROBE_CACHE", "1");
    } else {
        command.env_remove("PLANAR_NO_PROBE_CACHE");
    }
    let out = command.output().expect("running planar info");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "planar info failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn cache_files(cache_home: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(cache_home.join("planar")) {
        Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn planar_info_is_the_same_from_the_probe_and_from_the_cache() {
    let test = "planar_info_is_the_same_from_the_probe_and_from_the_cache";
    if let Some(why) = gles_unavailable() {
        return skip(test, &why);
    }
    let home = runtime_dir();
    let home = home.path();

    let (off, log) = info(home, true);
    assert!(cache_files(home).is_empty(), "the cache is off: {log}");
    assert!(!log.contains("EGL import probe:"), "{log}");

    let (miss, log) = info(home, false);
    assert!(log.contains("no cache yet; probing"), "{log}");
    let files = cache_files(home);
    assert_eq!(files.len(), 1, "one file per display kind: {files:?}");
    assert_eq!(miss, off);

    let (hit, log) = info(home, false);
    assert!(log.contains("answer from the cache"), "{log}");
    assert_eq!(hit, off, "the cached answer advertises what the probe did");

    std::fs::write(&files[0], b"{\"key\": 3, \"zero_copy\": [[").unwrap();
    let (rewritten, log) = info(home, false);
    assert!(log.contains("cannot be read; probing"), "{log}");
    assert_eq!(rewritten, off);
    let (hit, log) = info(home, false);
    assert!(log.contains("answer from the cache"), "rewritten: {log}");
    assert_eq!(hit, off);
    assert!(off.contains("XR24"), "{off}");
}
