//! Third-party clients from Debian under `planar run`: weston-simple-shm's pixels reach
//! the screenshot, and wayland-info sees every global planar offers.

use std::time::Duration;

use planar_image::RgbaImage;
use planar_tests::fixture::{find_program, planar_run, runtime_dir, skip};

const LIMIT: Duration = Duration::from_secs(60);
const BACKGROUND: [u8; 4] = [32, 32, 48, 255];
const WHITE: [u8; 4] = [255, 255, 255, 255];

#[test]
fn weston_simple_shm_is_in_the_screenshot() {
    if find_program("weston-simple-shm").is_none() {
        return skip(
            "weston_simple_shm_is_in_the_screenshot",
            "weston-simple-shm is not installed (Debian package weston)",
        );
    }
    for renderer in ["pixman", "gles"] {
        if renderer == "gles" {
            if let Some(reason) = planar_tests::fixture::gles_unavailable() {
                skip("weston_simple_shm_is_in_the_screenshot[gles]", &reason);
                continue;
            }
        }
        let dir = runtime_dir();
        let png = dir.path().join("simple-shm.png");
        // Killed by a script, as CI scripts do: the screenshot keeps its last frame.
        let out = planar_run(
            Some(dir.path()),
            &[
                "--renderer",
                renderer,
                "--size",
                "400x300",
                "--screenshot",
                png.to_str().unwrap(),
            ],
            &[
                "sh",
                "-c",
                "weston-simple-shm & pid=$!; sleep 1.5; kill $pid; wait $pid; exit 0",
            ],
            LIMIT,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let img = RgbaImage::read_png(&png).unwrap();
        // weston-simple-shm: a 250x250 window, a white 20-pixel frame around its animation.
        assert_eq!(img.pixel(5, 5), WHITE, "{renderer}: frame top-left");
        assert_eq!(img.pixel(249, 249), WHITE, "{renderer}: frame bottom-right");
        assert_eq!(
            img.pixel(250, 100),
            BACKGROUND,
            "{renderer}: right of the window"
        );
        assert_eq!(
            img.pixel(100, 250),
            BACKGROUND,
            "{renderer}: below the window"
        );
        // The animation inside the frame has many colours, none of them the background.
        let mut colours = std::collections::HashSet::new();
        for y in (30..220).step_by(5) {
            for x in (30..220).step_by(5) {
                colours.insert(img.pixel(x, y));
            }
        }
        assert!(
            colours.len() > 20,
            "{renderer}: only {} colours inside",
            colours.len()
        );
    }
}

#[test]
fn wayland_info_lists_the_globals() {
    if find_program("wayland-info").is_none() {
        return skip(
            "wayland_info_lists_the_globals",
            "wayland-info is not installed (Debian package wayland-utils)",
        );
    }
    let out = planar_run(None, &["--renderer", "pixman"], &["wayland-info"], LIMIT);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    for global in [
        "wl_compositor",
        "wl_subcompositor",
        "wl_shm",
        "xdg_wm_base",
        "wl_output",
        "zxdg_output_manager_v1",
        "wp_viewporter",
        "wp_presentation",
        "wp_single_pixel_buffer_manager_v1",
        "wl_seat",
    ] {
        assert!(
            out.stdout.contains(&format!("interface: '{global}'")),
            "wayland-info does not list {global}:\n{}",
            out.stdout
        );
    }
    // The output it describes is planar's virtual one.
    assert!(
        out.stdout.contains("width: 1280 px, height: 720 px"),
        "{}",
        out.stdout
    );
}

#[test]
fn wayland_info_lists_the_dmabuf_formats() {
    if find_program("wayland-info").is_none() {
        return skip(
            "wayland_info_lists_the_dmabuf_formats",
            "wayland-info is not installed",
        );
    }
    if let Some(reason) = planar_tests::fixture::gles_unavailable() {
        return skip("wayland_info_lists_the_dmabuf_formats", &reason);
    }
    // wayland-info 1.1 prints v4 feedback only when it can open the main device, and
    // this machine has none (dev_t 0): with v3 it prints the format/modifier events.
    let out = planar_run(
        None,
        &["--renderer", "gles", "--dmabuf-version", "3"],
        &["wayland-info"],
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("interface: 'zwp_linux_dmabuf_v1',"),
        "{}",
        out.stdout
    );
    let listed: std::collections::BTreeSet<(String, String)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            // "\t0x34325258 = 'XR24'; 0x0000000000000000 = LINEAR"
            let (fourcc, modifier) = l.trim().split_once("; ")?;
            let name = fourcc.split('\'').nth(1)?.to_string();
            let m = modifier.split(" = ").next()?.to_string();
            Some((name, m))
        })
        .collect();
    // The same pairs a wayland-client sees (the dmabuf_protocol tests check those
    // against the v4 feedback).
    let server =
        planar_tests::fixture::Server::start(&["--renderer", "gles", "--dmabuf-version", "3"])
            .unwrap();
    let conn = planar_tests::dmabuf_client::DmabufConn::new(server.connect().unwrap(), 3).unwrap();
    let expected: std::collections::BTreeSet<(String, String)> = conn
        .modifiers()
        .iter()
        .map(|&(f, m)| {
            (
                planar_protocol::names::fourcc_chars(f),
                format!("{m:#018x}"),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected);
}
