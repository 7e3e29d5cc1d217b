//! The EGL import probe's answer kept on disk, so that a `planar run` skips the test imports
//! when nothing that changes the answer has changed.
//!
//! One small JSON file per display kind under `$XDG_CACHE_HOME/planar/` (else
//! `~/.cache/planar/`), holding the [`Key`] it was probed under and the answer. A file that
//! is missing, unreadable, corrupt or written under another key is a miss: the probe runs as
//! before and the file is rewritten (written beside, then renamed, so a reader never sees
//! half a file and two planars racing leave one whole answer). `PLANAR_NO_PROBE_CACHE=1`
//! turns the cache off.
//!
//! Known limit: EGL_VERSION on Mesa is the EGL version ("1.5"), not Mesa's, so a Mesa
//! upgrade is seen through the identity (path, size, mtime, inode) of the Mesa and LLVM
//! libraries mapped into this process, not through the strings.

use std::{
    ffi::{CStr, OsString},
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use smithay::backend::egl::{ffi::egl as eglffi, EGLDisplay};
use tracing::{info, warn};

use crate::import::EglPairs;

/// Bumped whenever the probe itself (its buffer sizes, strides, what counts as refused)
/// changes, so answers of an older planar are not reused.
const PROBE_VERSION: u32 = 1;

/// The environment variable that turns the cache off (any value but "" and "0").
pub(crate) const DISABLE_VAR: &str = "PLANAR_NO_PROBE_CACHE";

/// Everything the probe's answer depends on. Two keys that are equal give the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Key {
    probe_version: u32,
    /// The display probed: "surfaceless", "software device", a node or a shared display.
    device: String,
    egl_vendor: Option<String>,
    egl_version: Option<String>,
    /// Mesa's driver name (EGL_MESA_query_driver), e.g. "swrast".
    driver: Option<String>,
    /// "path size mtime inode" of each EGL, Mesa, GBM and LLVM library loaded.
    libraries: Vec<String>,
    /// The pairs EGL lists, each with planar's table row for it (the probe's buffer
    /// layout comes from the row).
    candidates: Vec<(u32, u64, String)>,
}

/// What the file holds.
#[derive(Serialize, Deserialize)]
struct Entry {
    key: Key,
    zero_copy: Vec<(u32, u64)>,
    refused: Vec<(u32, u64)>,
}

/// Whether the answer came from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Hit,
    /// Probed; the file was (re)written.
    Probed,
}

impl Key {
    /// The key for probing `pairs` on `display`.
    pub(crate) fn of(display: &EGLDisplay, device: &str, pairs: &[(u32, u64)]) -> Key {
        let query = |name| {
            let handle = display.get_display_handle();
            // SAFETY: the display is initialised; eglQueryString returns a static string or null.
            unsafe {
                let ptr = eglffi::QueryString(handle.handle, name as i32);
                (!ptr.is_null()).then(|| CStr::from_ptr(ptr).to_string_lossy().into_owned())
            }
        };
        Key {
            probe_version: PROBE_VERSION,
            device: device.to_string(),
            egl_vendor: query(eglffi::VENDOR),
            egl_version: query(eglffi::VERSION),
            driver: driver_name(display),
            libraries: graphics_libraries(),
            candidates: pairs
                .iter()
                .map(|&(code, modifier)| {
                    let row = planar_protocol::format::format_info(code);
                    (code, modifier, format!("{row:?}"))
                })
                .collect(),
        }
    }

    /// The file this key's answer lives in: one per display kind, so a surfaceless run and
    /// a software-device run do not overwrite each other's answer.
    fn file_in(&self, dir: &Path) -> PathBuf {
        let name: Vec<&str> = self
            .device
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        dir.join(format!("egl-probe-{}.json", name.join("-")))
    }
}

/// Where the cache lives, or None when it is turned off or there is no home.
pub(crate) fn dir() -> Option<PathBuf> {
    use std::env::var_os;
    dir_from(
        var_os(DISABLE_VAR),
        var_os("XDG_CACHE_HOME"),
        var_os("HOME"),
    )
}

/// [`dir`] from the three variables' values (XDG: a relative path is ignored).
fn dir_from(
    disable: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    if disable.is_some_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    let base = match xdg_cache_home {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        _ => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".cache"),
    };
    Some(base.join("planar"))
}

/// The answer for `key`: from the file in `dir` when it holds one for this key, else from
/// `probe`, which is then written to the file.
pub(crate) fn probe_through(
    dir: &Path,
    key: &Key,
    probe: impl FnOnce() -> EglPairs,
) -> (EglPairs, Outcome) {
    let path = key.file_in(dir);
    match read(&path) {
        Ok(entry) if entry.key == *key => {
            info!(path = %path.display(), pairs = entry.zero_copy.len(), "EGL import probe: answer from the cache");
            let pairs = EglPairs {
                zero_copy: entry.zero_copy,
                refused: entry.refused,
            };
            return (pairs, Outcome::Hit);
        }
        Ok(_) => {
            info!(path = %path.display(), "EGL import probe: the cache is for another EGL or planar; probing")
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            info!(path = %path.display(), "EGL import probe: no cache yet; probing")
        }
        Err(err) => {
            warn!(path = %path.display(), %err, "EGL import probe: the cache cannot be read; probing")
        }
    }
    let pairs = probe();
    let entry = Entry {
        key: key.clone(),
        zero_copy: pairs.zero_copy.clone(),
        refused: pairs.refused.clone(),
    };
    if let Err(err) = write(&path, &entry) {
        warn!(path = %path.display(), %err, "EGL import probe: the cache cannot be written");
    }
    (pairs, Outcome::Probed)
}

fn read(path: &Path) -> std::io::Result<Entry> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}

/// Writes beside the file, then renames over it.
fn write(path: &Path, entry: &Entry) -> std::io::Result<()> {
    let dir = path.parent().expect("the cache file is in a directory");
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir)?;
    let result = (|| {
        tmp.1
            .write_all(&serde_json::to_vec(entry).map_err(std::io::Error::other)?)?;
        tmp.1.sync_data()?;
        std::fs::rename(&tmp.0, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp.0);
    }
    result
}

/// A new file in `dir` named after this process and a counter, so two planars (or two
/// threads) never write into the same one.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".egl-probe-{}-{n}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

/// Mesa's driver name for the display, when EGL_MESA_query_driver is there.
fn driver_name(display: &EGLDisplay) -> Option<String> {
    if !display
        .extensions()
        .iter()
        .any(|e| e == "EGL_MESA_query_driver")
    {
        return None;
    }
    type GetDriverName = unsafe extern "C" fn(eglffi::types::EGLDisplay) -> *const std::ffi::c_char;
    // SAFETY: the extension is present, so the symbol exists with this signature
    // (EGL_MESA_query_driver: `const char *eglGetDisplayDriverName(EGLDisplay)`).
    unsafe {
        let f = smithay::backend::egl::get_proc_address("eglGetDisplayDriverName");
        if f.is_null() {
            return None;
        }
        let f: GetDriverName = std::mem::transmute(f);
        let ptr = f(display.get_display_handle().handle);
        (!ptr.is_null()).then(|| CStr::from_ptr(ptr).to_string_lossy().into_owned())
    }
}

/// The identity of every graphics library loaded into this process (the EGL loader, Mesa's
/// drivers, GBM, LLVM): a new Mesa or LLVM changes at least one of them.
fn graphics_libraries() -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    const NAMES: [&str; 7] = ["EGL", "gallium", "dri", "mesa", "gbm", "LLVM", "glapi"];
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut paths: Vec<&str> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| {
            path.starts_with('/')
                && path
                    .rsplit('/')
                    .next()
                    .is_some_and(|file| NAMES.iter().any(|n| file.contains(n)))
        })
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths
        .into_iter()
        .map(|path| match std::fs::metadata(path) {
            Ok(m) => format!(
                "{path} {} {}.{} {}",
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ino()
            ),
            Err(_) => format!("{path} gone"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use smithay::backend::egl::native::EGLSurfacelessDisplay;

    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("planar-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A real surfaceless EGL display and the pairs it lists, or why not.
    fn surfaceless() -> Result<(EGLDisplay, Vec<(u32, u64)>), String> {
        // SAFETY: the surfaceless platform needs no native handle.
        let display =
            unsafe { EGLDisplay::new(EGLSurfacelessDisplay) }.map_err(|e| e.to_string())?;
        let mut pairs: Vec<(u32, u64)> = display
            .dmabuf_texture_formats()
            .iter()
            .map(|f| (f.code as u32, u64::from(f.modifier)))
            .collect();
        pairs.sort_unstable();
        if pairs.is_empty() {
            return Err("EGL lists no dma-buf formats".into());
        }
        Ok((display, pairs))
    }

    type SetUp = (EGLDisplay, Vec<(u32, u64)>, TempDir, Key);

    /// A real surfaceless display, its pairs, a fresh cache directory and the key; None
    /// (after the SKIP line) without EGL.
    fn set_up(test: &str) -> Option<SetUp> {
        match surfaceless() {
            Ok((display, pairs)) => {
                let key = Key::of(&display, "surfaceless", &pairs);
                Some((display, pairs, TempDir::new(test), key))
            }
            Err(why) => {
                println!("SKIP {test}: no surfaceless EGL: {why}");
                None
            }
        }
    }

    /// Probes through the cache.
    fn through(
        dir: &Path,
        key: &Key,
        display: &EGLDisplay,
        pairs: &[(u32, u64)],
    ) -> (EglPairs, Outcome) {
        probe_through(dir, key, || super::super::probe(display, pairs))
    }

    #[test]
    fn a_hit_gives_what_the_probe_gave() {
        let Some((display, pairs, tmp, key)) = set_up("a_hit_gives_what_the_probe_gave") else {
            return;
        };
        let direct = super::super::probe(&display, &pairs);
        let (first, outcome) = through(&tmp.0, &key, &display, &pairs);
        assert_eq!(outcome, Outcome::Probed);
        assert_eq!(first, direct);
        let (again, outcome) = probe_through(&tmp.0, &key, || panic!("a hit must not probe"));
        assert_eq!(outcome, Outcome::Hit);
        assert_eq!(again, direct, "the cached answer is the probe's");
        assert!(!direct.zero_copy.is_empty());
        // The same key, made again, finds the same file.
        assert_eq!(Key::of(&display, "surfaceless", &pairs), key);
        // Nothing is left beside the file.
        let names: Vec<_> = std::fs::read_dir(&tmp.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["egl-probe-surfaceless.json"]);
    }

    #[test]
    fn a_corrupt_file_is_ignored_and_rewritten() {
        let Some((display, pairs, tmp, key)) = set_up("a_corrupt_file_is_ignored_and_rewritten")
        else {
            return;
        };
        let path = key.file_in(&tmp.0);
        let direct = super::super::probe(&display, &pairs);
        for garbage in [
            &b"{\"key\": {\"probe_vers"[..],
            b"",
            b"\xff\xfe not json",
            b"[]",
        ] {
            std::fs::write(&path, garbage).unwrap();
            let (got, outcome) = through(&tmp.0, &key, &display, &pairs);
            assert_eq!(outcome, Outcome::Probed, "{garbage:?} is not an answer");
            assert_eq!(got, direct);
            let (_, outcome) = probe_through(&tmp.0, &key, || panic!("rewritten: a hit"));
            assert_eq!(outcome, Outcome::Hit);
        }
        // A cache that cannot be written (its directory is a file) still answers.
        let blocked = tmp.0.join("blocked");
        std::fs::write(&blocked, b"").unwrap();
        let (got, outcome) = through(&blocked, &key, &display, &pairs);
        assert_eq!((got, outcome), (direct, Outcome::Probed));
    }

    #[test]
    fn a_changed_key_probes_again() {
        let Some((display, pairs, tmp, key)) = set_up("a_changed_key_probes_again") else {
            return;
        };
        through(&tmp.0, &key, &display, &pairs);
        let fewer = &pairs[..pairs.len() / 2];
        let changed = [
            Key::of(&display, "surfaceless", fewer),
            Key {
                probe_version: PROBE_VERSION + 1,
                ..key.clone()
            },
            Key {
                driver: Some("another driver".into()),
                ..key.clone()
            },
            Key {
                egl_version: Some("9.9".into()),
                ..key.clone()
            },
            Key {
                libraries: vec!["/usr/lib/libEGL_mesa.so.0 1 2.3 4".into()],
                ..key.clone()
            },
        ];
        for other in &changed {
            let candidates: Vec<_> = other.candidates.iter().map(|c| (c.0, c.1)).collect();
            let (got, outcome) = through(&tmp.0, other, &display, &candidates);
            assert_eq!(outcome, Outcome::Probed, "{other:?}");
            assert_eq!(got, super::super::probe(&display, &candidates));
            // And back: the file now holds the other key's answer.
            let (_, outcome) = through(&tmp.0, &key, &display, &pairs);
            assert_eq!(outcome, Outcome::Probed);
        }
        assert!(key.driver.is_some(), "Mesa names its driver: {key:?}");
        assert!(
            key.libraries.iter().any(|l| l.contains("EGL")),
            "the EGL library is in the key: {key:?}"
        );
    }

    #[test]
    fn where_the_cache_lives_and_how_it_is_turned_off() {
        let s = |v: &str| Some(OsString::from(v));
        let at = |p: &str| Some(PathBuf::from(p));
        assert_eq!(
            dir_from(None, s("/x/cache"), s("/root")),
            at("/x/cache/planar")
        );
        assert_eq!(dir_from(None, None, s("/root")), at("/root/.cache/planar"));
        // The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
        assert_eq!(
            dir_from(None, s("rel"), s("/root")),
            at("/root/.cache/planar")
        );
        assert_eq!(dir_from(None, None, None), None);
        assert_eq!(dir_from(None, None, s("")), None);
        assert_eq!(dir_from(s("1"), s("/x/cache"), s("/root")), None);
        assert_eq!(dir_from(s("yes"), None, s("/root")), None);
        assert_eq!(
            dir_from(s("0"), None, s("/root")),
            at("/root/.cache/planar")
        );
        assert_eq!(dir_from(s(""), None, s("/root")), at("/root/.cache/planar"));
    }
}
