//! Unit tests of the copy path: sources made once, pruned, freed; when a draw copies.

use super::*;
use smithay::backend::allocator::{dmabuf::DmabufFlags, Modifier};

fn memfd_dmabuf() -> Dmabuf {
    crate::cpu::map::xr24_memfd("t", 4, 4).unwrap().0
}

/// A source lives as long as its buffer; its framebuffer is then handed to the
/// renderer to free, once. A remembered failure (no source) is forgotten with its
/// buffer and frees nothing; a live buffer keeps its source.
#[test]
fn pruned_sources_leave_their_framebuffers_to_free() {
    let (gone, failed, live) = (memfd_dmabuf(), memfd_dmabuf(), memfd_dmabuf());
    let mut cache = CopySources::<u32>::new(true);
    cache.map.insert(
        gone.weak(),
        Some(Source {
            texture: 1,
            fbo: 11,
            copied: Arc::default(),
        }),
    );
    cache.map.insert(failed.weak(), None);
    cache.map.insert(
        live.weak(),
        Some(Source {
            texture: 3,
            fbo: 33,
            copied: Arc::default(),
        }),
    );
    cache.prune();
    assert!(cache.dropped.is_empty(), "every buffer is alive");
    drop((gone, failed));
    cache.prune();
    cache.prune();
    assert_eq!(cache.dropped, vec![11]);
    assert_eq!(cache.map.len(), 1);
    assert!(cache.map.contains_key(&live.weak()));
}

/// A source a copy read stays while copies keep reading it, and for KEEP_RENDERS
/// renders or KEEP_FOR after the last (several outputs at a high rate), then goes
/// with its framebuffer; a source never copied from (no pages touched) stays.
#[test]
fn sources_go_once_no_copy_read_them_for_a_while() {
    let (shown, never) = (memfd_dmabuf(), memfd_dmabuf());
    let mut cache = CopySources::<u32>::new(true);
    let source = |fbo| Source {
        texture: 0,
        fbo,
        copied: Arc::default(),
    };
    let (s, n) = (source(5), source(6));
    cache.map.insert(shown.weak(), Some(s.clone()));
    cache.map.insert(never.weak(), Some(n));
    // The clock stands still unless the test moves it.
    let t0 = Instant::now();
    for _ in 0..3 * KEEP_RENDERS {
        s.copied.store(true, Ordering::Relaxed);
        cache.prune_at(t0);
    }
    for _ in 0..KEEP_RENDERS + 2 {
        cache.prune_at(t0);
    }
    assert_eq!(cache.map.len(), 2, "copied within KEEP_FOR: kept");
    cache.prune_at(t0 + KEEP_FOR);
    assert_eq!(
        cache.map.len(),
        2,
        "exactly KEEP_FOR after the last copy: kept"
    );
    cache.prune_at(t0 + KEEP_FOR + Duration::from_millis(1));
    assert!(!cache.map.contains_key(&shown.weak()));
    assert!(cache.map.contains_key(&never.weak()));
    assert_eq!(cache.dropped, vec![5]);
    assert!(cache.last_copied.is_empty());
}

/// A GLES renderer on the surfaceless EGL platform (llvmpipe here), or why not.
fn gles() -> Result<GlesRenderer, String> {
    use smithay::backend::egl::{native::EGLSurfacelessDisplay, EGLContext, EGLDisplay};
    // SAFETY: the surfaceless platform needs no native display to outlive it.
    let display = unsafe { EGLDisplay::new(EGLSurfacelessDisplay) }.map_err(|e| e.to_string())?;
    let context = EGLContext::new(&display).map_err(|e| e.to_string())?;
    // SAFETY: a fresh context, made current only by this renderer.
    unsafe { GlesRenderer::new(context) }.map_err(|e| e.to_string())
}

/// [`gles`], or None once the test `name` printed why it is skipped.
fn gles_or_skip(name: &str) -> Option<GlesRenderer> {
    gles().map_err(|why| println!("SKIP {name}: {why}")).ok()
}

/// A source is made once per buffer with its framebuffer (the same one frame after
/// frame); an import EGL refuses is remembered, not retried; a CPU frame whose
/// texture was remade gets a new source, the old framebuffer is freed; with the copy
/// path off for the output, nothing is made or cached.
#[test]
fn sources_are_made_once_and_failures_remembered() {
    let Some(mut r) = gles_or_skip("sources_are_made_once_and_failures_remembered") else {
        return;
    };
    let mut off = CopySources::new(false);
    let good = memfd_dmabuf();
    assert!(r.copy_source(&mut off, &good).is_none());
    assert!(off.map.is_empty());

    let mut cache = CopySources::new(true);
    let a = r
        .copy_source(&mut cache, &good)
        .expect("a memfd XR24 source");
    assert_ne!(a.fbo, 0);
    let b = r.copy_source(&mut cache, &good).unwrap();
    assert_eq!((a.fbo, a.texture.tex_id()), (b.fbo, b.texture.tex_id()));

    // A tiled modifier (Intel X-tiling), which llvmpipe does not import.
    use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
    let fd = memfd_create("t", MemfdFlags::CLOEXEC).unwrap();
    ftruncate(&fd, 64).unwrap();
    let tiled = Modifier::from(0x0100_0000_0000_0001);
    let flags = DmabufFlags::empty();
    let mut bad = Dmabuf::builder((4, 4), Fourcc::Xrgb8888, tiled, flags);
    bad.add_plane(fd, 0, 0, 16);
    let bad = bad.build().unwrap();
    assert!(r.copy_source(&mut cache, &bad).is_none());
    assert!(
        matches!(cache.map.get(&bad.weak()), Some(None)),
        "the failure is kept"
    );
    assert!(r.copy_source(&mut cache, &bad).is_none());

    let key = memfd_dmabuf();
    let t1 = texture_2d(&mut r, &good, false).unwrap();
    let s1 = r.frame_source(&mut cache, &key, &t1).unwrap();
    let again = r.frame_source(&mut cache, &key, &t1).unwrap();
    assert_eq!(s1.fbo, again.fbo);
    let t2 = texture_2d(&mut r, &good, false).unwrap();
    let s2 = r.frame_source(&mut cache, &key, &t2).unwrap();
    assert_eq!(s2.texture.tex_id(), t2.tex_id());
    assert_eq!(cache.dropped, vec![s1.fbo]);
    r.free_dropped(&mut cache);
    assert!(cache.dropped.is_empty());
}

/// This process's open fds on the file of `dmabuf`'s first plane (its own and the
/// imports' dups).
fn fds_on(dmabuf: &Dmabuf) -> usize {
    use std::os::unix::fs::MetadataExt;
    let fd = dmabuf.handles().next().unwrap();
    let ino = rustix::fs::fstat(fd).unwrap().st_ino;
    let fds = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok);
    let on = |e: &std::fs::DirEntry| std::fs::metadata(e.path()).is_ok_and(|m| m.ino() == ino);
    fds.filter(on).count()
}

/// A source dropped as idle closes its import of the client buffer (llvmpipe's dup of
/// its fd) in `free_dropped`, with no frame drawn after it: smithay frees a dropped
/// texture only when a frame finishes, and a render with no damage draws none.
#[test]
fn a_dropped_sources_import_is_closed_without_a_frame() {
    let Some(mut r) = gles_or_skip("a_dropped_sources_import_is_closed_without_a_frame") else {
        return;
    };
    let buffer = memfd_dmabuf();
    let alone = fds_on(&buffer);
    let mut cache = CopySources::new(true);
    let source = r
        .copy_source(&mut cache, &buffer)
        .expect("a memfd XR24 source");
    let imported = fds_on(&buffer);
    if imported == alone {
        let why = "this driver's import holds no fd of the buffer";
        return println!("SKIP a_dropped_sources_import_is_closed_without_a_frame: {why}");
    }
    source.copied.store(true, Ordering::Relaxed);
    drop(source);
    cache.prune();
    let (n, at) = cache.last_copied[&buffer.weak()];
    let long_ago = at.checked_sub(KEEP_FOR + Duration::from_millis(1)).unwrap();
    cache.last_copied.insert(buffer.weak(), (n, long_ago));
    cache.renders += KEEP_RENDERS;
    cache.prune();
    assert!(cache.map.is_empty(), "the idle source is dropped");
    r.free_dropped(&mut cache);
    let after = fds_on(&buffer);
    assert!(
        after == alone,
        "fds on the buffer: {alone} alone, {imported} with the source, {after} once dropped"
    );
}

#[test]
fn copies_only_texel_for_pixel_unturned_and_opaque() {
    let whole = Rectangle::new((8., 4.).into(), (64., 32.).into());
    let n = Transform::Normal;
    assert!(copies(whole, (64, 32).into(), n, 1.0));
    assert!(!copies(whole, (32, 16).into(), n, 1.0));
    assert!(!copies(whole, (64, 32).into(), Transform::Flipped, 1.0));
    assert!(!copies(whole, (64, 32).into(), n, 0.5));
    let half = Rectangle::new((0.5, 0.).into(), (64., 32.).into());
    assert!(!copies(half, (64, 32).into(), n, 1.0));
}
