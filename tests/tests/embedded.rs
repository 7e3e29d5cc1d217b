//! planar embedded in a Rust test (`planar_compositor::Headless`): the compositor on its
//! own thread, a wayland-client in this process showing a dma-buf, `expect` against a
//! reference with the CLI's comparison, the import records, and cleanup on drop.

use drm_fourcc::DrmFourcc;
use planar_compositor::{Fuzz, Headless, RendererChoice, RgbaImage};
use planar_tests::{
    dmabuf_client::DmabufConn,
    fixture::runtime_dir,
    pattern::quads_rgb,
    show::{create_buffer, ShowConfig},
    window::Window,
};
use wayland_client::Connection;

/// planar's background with the quads pattern of `w`x`h` at the top left.
fn quads_on_background(out: (u32, u32), w: u32, h: u32) -> RgbaImage {
    let mut img = RgbaImage {
        width: out.0,
        height: out.1,
        data: [32, 32, 48, 255].repeat((out.0 * out.1) as usize),
    };
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = quads_rgb(w, h, x, y);
            let i = ((y * out.0 + x) * 4) as usize;
            img.data[i..i + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    img
}

#[test]
fn embedded_planar_shows_an_in_process_dmabuf_and_expect_names_the_worst_pixel() {
    let planar = Headless::builder()
        .size(160, 120)
        .renderer(RendererChoice::Pixman)
        .start()
        .expect("planar starts");
    let [(_, display), (_, dir)] = planar.env();
    assert!(std::path::Path::new(&dir).join(&display).exists());

    let conn = Connection::from_socket(planar.connect().unwrap()).unwrap();
    let mut window = Window::new(&conn, "embedded").unwrap();
    let mut dmabuf = DmabufConn::new(conn.clone(), 5).unwrap();
    let cfg = ShowConfig::new(DrmFourcc::Xrgb8888, 64, 48);
    let Ok((buffer, _fds)) = create_buffer(&mut dmabuf, &cfg).unwrap() else {
        panic!("planar refused the dma-buf");
    };
    window.show(&buffer, 64, None, 48);
    window.wait_presented().unwrap();

    let refs = runtime_dir();
    let good = refs.path().join("good.png");
    quads_on_background((160, 120), 64, 48)
        .write_png(&good)
        .unwrap();
    let ok = planar
        .expect(&good, Fuzz::EXACT)
        .expect("the dma-buf as drawn");
    assert!(ok.contains("matches"), "{ok}");

    // One pixel of the reference off: the failure names it.
    let bad = refs.path().join("bad.png");
    let mut img = quads_on_background((160, 120), 64, 48);
    let i = ((30 * 160 + 10) * 4) as usize;
    img.data[i..i + 3].copy_from_slice(&[0, 0, 0]);
    img.write_png(&bad).unwrap();
    let err = planar.expect(&bad, Fuzz::EXACT).unwrap_err().to_string();
    assert!(err.contains("1 of 19200 pixels differ"), "{err}");
    assert!(err.contains("worst at (10, 30)"), "{err}");
    assert!(refs.path().join("bad.diff.png").is_file());
    assert!(refs.path().join("bad.actual.png").is_file());

    let records = planar.import_records().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].fourcc, "XR24");
    assert!(records[0].frames_shown >= 1, "{records:?}");
    // This process is the client, named as everywhere else.
    assert_eq!(
        records[0].client,
        format!(
            "pid {} ({})",
            std::process::id(),
            std::fs::read_to_string("/proc/self/comm").unwrap().trim()
        )
    );

    window.close().unwrap();
    let runtime = planar.runtime_dir().to_path_buf();
    drop(planar);
    assert!(
        !runtime.exists(),
        "the runtime directory is removed on drop"
    );
}
