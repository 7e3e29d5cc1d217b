//! The GLES shader's YUV conversion against the CPU conversion: for every YUV format in
//! the format table, the same client buffer shown by planar with GLES (planes uploaded
//! as they are, converted by the shader) and with pixman (converted on the CPU by the
//! `yuv` crate) gives the same screenshot within ±1 per channel. Odd sizes (chroma
//! edges), BT.601/709/2020, limited and full range, y_invert. The shader is forced on
//! (`PLANAR_YUV_SHADER=1`): on llvmpipe planar converts on the CPU by default.

use std::{path::Path, time::Duration};

use planar_image::{compare, Fuzz, RgbaImage};
use planar_protocol::{format::FORMATS, names::fourcc_chars};
use planar_renderer::cpu::convert::{conversion, Conversion};
use planar_tests::fixture::{gles_unavailable, planar_run, runtime_dir, skip};

const LIMIT: Duration = Duration::from_secs(120);
/// What planar logs when it makes a buffer's plane textures for the shader.
const SHADER_LINE: &str = "converted to RGB by the GLES shader";
const ENCODINGS: [(&str, &str); 6] = [
    ("bt601", "limited"),
    ("bt709", "full"),
    ("bt2020", "limited"),
    ("bt601", "full"),
    ("bt709", "limited"),
    ("bt2020", "full"),
];

struct Case {
    format: String,
    size: &'static str,
    encoding: (&'static str, &'static str),
    pattern: &'static str,
    y_invert: bool,
}

/// Shows the case's buffer with `renderer`; returns the screenshot and planar's log.
fn shoot(dir: &Path, case: &Case, renderer: &str) -> Result<(RgbaImage, String), String> {
    let png = dir.join(format!("{}-{renderer}.png", case.format));
    let planar = [
        "--size",
        "80x60",
        "--renderer",
        renderer,
        "--import",
        "cpu",
        "--yuv-matrix",
        case.encoding.0,
        "--yuv-range",
        case.encoding.1,
        "--screenshot",
        png.to_str().unwrap(),
    ];
    let mut client = vec![
        "planar-client",
        "show",
        "--size",
        case.size,
        "--format",
        &case.format,
        "--pattern",
        case.pattern,
    ];
    if case.y_invert {
        client.push("--y-invert");
    }
    let out = planar_run(Some(dir), &planar, &client, LIMIT);
    let log = format!("exit {:?}\n{}\n{}", out.code(), out.stdout, out.stderr);
    if out.code() != Some(0) {
        return Err(log);
    }
    let img = RgbaImage::read_png(&png).map_err(|e| format!("{e}\n{log}"))?;
    Ok((img, log))
}

fn check(dir: &Path, case: &Case) -> Result<(), String> {
    let what = format!(
        "{} {} {:?} {}{}",
        case.format,
        case.size,
        case.encoding,
        case.pattern,
        if case.y_invert { " y-inverted" } else { "" }
    );
    let (gpu, log) = shoot(dir, case, "gles").map_err(|e| format!("{what} on gles: {e}"))?;
    if !log.contains(SHADER_LINE) {
        return Err(format!("{what}: GLES did not convert in the shader\n{log}"));
    }
    let (cpu, _) = shoot(dir, case, "pixman").map_err(|e| format!("{what} on pixman: {e}"))?;
    let c = compare(&gpu, &cpu, Fuzz::symmetric(1), None, None);
    if c.matches() {
        Ok(())
    } else {
        Err(format!("{what}: shader vs CPU: {}", c.summary()))
    }
}

#[test]
fn egl_yuv_shader_matches_the_cpu_conversion() {
    if let Some(reason) = gles_unavailable() {
        return skip("egl_yuv_shader_matches_the_cpu_conversion", &reason);
    }
    let yuv: Vec<String> = FORMATS
        .iter()
        .filter(|f| matches!(conversion(f.fourcc), Some(Conversion::Yuv(_))))
        .map(|f| fourcc_chars(f.fourcc as u32).trim().to_string())
        .collect();
    assert!(yuv.len() >= 19, "the table's YUV formats: {yuv:?}");
    let mut cases: Vec<Case> = yuv
        .iter()
        .enumerate()
        .map(|(i, f)| Case {
            format: f.clone(),
            size: "61x35",
            encoding: ENCODINGS[i % ENCODINGS.len()],
            pattern: "gradient",
            y_invert: false,
        })
        .collect();
    // Every encoding on the two most common layouts, saturated bars too (clipping).
    for (format, pattern) in [("NV12", "bars"), ("YUYV", "gradient"), ("P010", "bars")] {
        for encoding in ENCODINGS {
            cases.push(Case {
                format: format.into(),
                size: "33x17",
                encoding,
                pattern,
                y_invert: false,
            });
        }
    }
    for format in ["NV12", "YUYV", "YU12", "P010"] {
        cases.push(Case {
            format: format.into(),
            size: "61x35",
            encoding: ENCODINGS[1],
            pattern: "gradient",
            y_invert: true,
        });
    }
    // Inherited by every planar this test starts (the only test in this binary).
    std::env::set_var("PLANAR_YUV_SHADER", "1");
    let dir = runtime_dir();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check(dir.path(), case).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// BT.601 limited (Y, U, V) of the quadrants: red, green / blue, white.
const QUADS_YUV: [[u8; 3]; 4] = [
    [81, 90, 240],
    [145, 54, 34],
    [41, 240, 110],
    [235, 128, 128],
];
const QUADS_RGB: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];

/// A 64x64 NV12 image in one buffer (luma, then chroma at offset 64*64): quadrant `q(x,
/// y)` of each pixel.
fn nv12(q: impl Fn(u32, u32) -> usize) -> Vec<u8> {
    let mut bytes = vec![0u8; 64 * 64 * 3 / 2];
    for y in 0..64u32 {
        for x in 0..64u32 {
            let [l, u, v] = QUADS_YUV[q(x, y)];
            bytes[(y * 64 + x) as usize] = l;
            if x % 2 == 0 && y % 2 == 0 {
                let c = (64 * 64 + (y / 2) * 64 + x) as usize;
                bytes[c] = u;
                bytes[c + 1] = v;
            }
        }
    }
    bytes
}

fn quadrant(x: u32, y: u32) -> usize {
    usize::from(x >= 32) + 2 * usize::from(y >= 32)
}

/// The shader path composes like the rest of the scene: buffer scale and transform,
/// y_invert, and a commit that damages only some rows re-uploads those rows only (the
/// rest keep what was uploaded before, even though the memory changed).
#[test]
fn egl_yuv_shader_follows_scale_transform_y_invert_and_damage() {
    use planar_tests::{
        dmabuf_client::{cpu_path_client, AddPlane, CpuPathClient, DmabufConn, Outcome},
        test_client::PlanarTest,
        window::Window,
    };
    use std::os::fd::AsFd;
    use wayland_client::protocol::wl_output::Transform;
    let name = "egl_yuv_shader_follows_scale_transform_y_invert_and_damage";
    if let Some(reason) = gles_unavailable() {
        return skip(name, &reason);
    }
    std::env::set_var("PLANAR_YUV_SHADER", "1");
    let CpuPathClient {
        server,
        conn,
        mut window,
        mut dmabuf,
    } = cpu_path_client("gles", "yuv-geometry");
    let fd = planar_tests::memfd::sealed("nv12", &nv12(quadrant)).unwrap();
    let make = |dmabuf: &mut DmabufConn, flags| {
        let plane = |i: u32| AddPlane {
            fd: fd.as_fd(),
            plane_idx: i,
            offset: i * 64 * 64,
            stride: 64,
            modifier: 0,
        };
        let nv12 = drm_fourcc::DrmFourcc::Nv12 as u32;
        match dmabuf.create(&[plane(0), plane(1)], 64, 64, nv12, flags) {
            Outcome::Created(b) => b,
            _ => panic!("NV12 not created\n{}", server.log()),
        }
    };
    let buffer = make(&mut dmabuf, 0);
    let shot = |window: &mut Window, buffer, rows, at: [(u32, u32); 4]| {
        window.show(buffer, 64, rows, 64);
        window.wait_presented().unwrap();
        let img = PlanarTest::new(&conn)
            .unwrap()
            .capture()
            .unwrap()
            .unwrap()
            .0;
        at.map(|(x, y)| {
            let p = img.pixel(x, y);
            // The nearest quadrant colour, when within 4 per channel.
            QUADS_RGB
                .iter()
                .position(|c| (0..3).all(|i| (i16::from(p[i]) - i16::from(c[i])).abs() <= 4))
                .unwrap_or(usize::MAX)
        })
    };
    let at = |d: u32| [(d, d), (3 * d, d), (d, 3 * d), (3 * d, 3 * d)];
    assert_eq!(
        shot(&mut window, &buffer, None, at(16)),
        [0, 1, 2, 3],
        "scale 1\n{}",
        server.log()
    );
    assert!(server.log().contains(SHADER_LINE), "{}", server.log());
    window.surface().set_buffer_scale(2);
    assert_eq!(
        shot(&mut window, &buffer, None, at(8)),
        [0, 1, 2, 3],
        "buffer_scale 2"
    );
    window.surface().set_buffer_scale(1);
    window.surface().set_buffer_transform(Transform::_180);
    assert_eq!(
        shot(&mut window, &buffer, None, at(16)),
        [3, 2, 1, 0],
        "transform 180"
    );
    window.surface().set_buffer_transform(Transform::Normal);
    // Memory rows in reverse: the image is the same upside down.
    let inverted = make(&mut dmabuf, planar_protocol::validate::FLAG_Y_INVERT);
    assert_eq!(
        shot(&mut window, &inverted, None, at(16)),
        [2, 3, 0, 1],
        "y_invert"
    );
    assert_eq!(
        shot(&mut window, &buffer, None, at(16)),
        [0, 1, 2, 3],
        "back"
    );
    // Everything white in memory, but only rows 0..32 damaged: the top half changes.
    rustix::io::pwrite(&fd, &nv12(|_, _| 3), 0).unwrap();
    assert_eq!(
        shot(&mut window, &buffer, Some((0, 32)), at(16)),
        [3, 3, 2, 3],
        "damage of the top half"
    );
}
