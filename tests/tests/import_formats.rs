//! Every format the CPU path reads, submitted by planar-client in sealed memfds with a
//! padded stride, a non-zero offset, and planes in one fd as well as in separate fds:
//! - through `--import cpu`, the screenshot shows the pattern within tolerance;
//! - through `--import egl` where llvmpipe really takes the pair (probed), likewise;
//! - the two paths agree with each other (a cross-path diff).

use std::{collections::BTreeSet, path::Path, time::Duration};

use drm_fourcc::DrmFourcc as Fourcc;
use planar_image::{compare, Clip, Fuzz, RgbaImage};
use planar_protocol::format::{format_info, FORMATS};
use planar_renderer::cpu::convert::conversion;
use planar_tests::{
    encode::{expected, Encoding},
    fixture::{bin, gles_unavailable, planar_run, runtime_dir, skip},
    pattern::quads_rgb,
};

const W: u32 = 64;
const H: u32 = 48;
const LIMIT: Duration = Duration::from_secs(60);

/// The pairs `planar info --renderer gles` says import zero-copy.
fn zero_copy_formats() -> BTreeSet<String> {
    let out = std::process::Command::new(bin("planar"))
        .args(["info", "--renderer", "gles"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with("Linear: zero-copy"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

fn fourcc_name(f: Fourcc) -> String {
    planar_protocol::names::fourcc_chars(f as u32)
        .trim()
        .to_string()
}

/// Runs planar-client under planar and returns the screenshot.
fn shoot(
    dir: &Path,
    name: &str,
    import: &str,
    format: Fourcc,
    one_fd: bool,
) -> Result<RgbaImage, String> {
    let png = dir.join(format!("{name}.png"));
    let fourcc = fourcc_name(format);
    let mut client = vec![
        "planar-client",
        "show",
        "--format",
        &fourcc,
        "--size",
        "64x48",
        "--pad",
        "32",
        "--offset",
        "256",
    ];
    if one_fd {
        client.push("--one-fd");
    }
    let out = planar_run(
        Some(dir),
        &[
            "--renderer",
            "gles",
            "--import",
            import,
            "--size",
            "128x96",
            "--screenshot",
            png.to_str().unwrap(),
        ],
        &client,
        LIMIT,
    );
    if out.code() != Some(0) {
        return Err(format!(
            "{name}: exit {:?}\n{}\n{}",
            out.code(),
            out.stdout,
            out.stderr
        ));
    }
    RgbaImage::read_png(&png).map_err(|e| e.to_string())
}

/// What the window must show, and how far each channel may be off.
fn reference(format: Fourcc) -> (RgbaImage, Fuzz) {
    let info = format_info(format as u32).unwrap();
    let enc = Encoding::default();
    let mut img = RgbaImage {
        width: 128,
        height: 96,
        data: vec![0; 128 * 96 * 4],
    };
    for y in 0..H {
        for x in 0..W {
            let [r, g, b] = expected(format, enc, quads_rgb(W, H, x, y));
            let i = ((y * 128 + x) * 4) as usize;
            img.data[i..i + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    // YUV: the encoder and the decoder round independently; 10-bit RGB loses 2 bits.
    let fuzz = if info.yuv {
        Fuzz::symmetric(4)
    } else {
        Fuzz::symmetric(1)
    };
    (img, fuzz)
}

/// The window's quadrants without a band around their edges, where chroma upsampling
/// filters (llvmpipe samples chroma bilinearly) legitimately blend neighbours.
fn interiors(format: Fourcc) -> Vec<Clip> {
    let m = if format_info(format as u32).unwrap().yuv {
        3
    } else {
        0
    };
    let (hw, hh) = (W / 2, H / 2);
    [(0, 0), (hw, 0), (0, hh), (hw, hh)]
        .iter()
        .map(|&(x, y)| Clip {
            x: x + m,
            y: y + m,
            w: hw - 2 * m,
            h: hh - 2 * m,
        })
        .collect()
}

fn check(name: &str, img: &RgbaImage, format: Fourcc) -> Result<(), String> {
    let (reference, fuzz) = reference(format);
    for clip in interiors(format) {
        let c = compare(img, &reference, fuzz, Some(clip), None);
        if !c.matches() {
            return Err(format!("{name}: {}", c.summary()));
        }
    }
    Ok(())
}

#[test]
fn egl_every_format_on_both_paths() {
    if let Some(reason) = gles_unavailable() {
        return skip("egl_every_format_on_both_paths", &reason);
    }
    let zero_copy = zero_copy_formats();
    assert!(
        zero_copy.contains("XR24"),
        "llvmpipe takes XRGB8888 zero-copy: {zero_copy:?}"
    );
    let dir = runtime_dir();
    let mut failures = Vec::new();
    let mut egl_checked = 0;
    let mut cpu_checked = 0;
    for f in FORMATS.iter().filter(|f| conversion(f.fourcc).is_some()) {
        let layouts: &[bool] = if f.planes > 1 {
            &[true, false]
        } else {
            &[true]
        };
        for &one_fd in layouts {
            let name = format!(
                "{}-{}",
                fourcc_name(f.fourcc),
                if one_fd { "one-fd" } else { "fd-per-plane" }
            );
            let cpu = match shoot(dir.path(), &format!("{name}-cpu"), "cpu", f.fourcc, one_fd) {
                Ok(img) => img,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            match check(&format!("{name} cpu"), &cpu, f.fourcc) {
                Ok(()) => cpu_checked += 1,
                Err(e) => failures.push(e),
            }
            if !zero_copy.contains(&fourcc_name(f.fourcc)) {
                continue;
            }
            let egl = match shoot(dir.path(), &format!("{name}-egl"), "egl", f.fourcc, one_fd) {
                Ok(img) => img,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            match check(&format!("{name} egl"), &egl, f.fourcc) {
                Ok(()) => egl_checked += 1,
                Err(e) => failures.push(e),
            }
            // Cross-path: the same buffer through both paths, compared with each other.
            let (_, fuzz) = reference(f.fourcc);
            for clip in interiors(f.fourcc) {
                let c = compare(&egl, &cpu, fuzz, Some(clip), None);
                if !c.matches() {
                    failures.push(format!("{name} egl vs cpu: {}", c.summary()));
                    break;
                }
            }
        }
    }
    eprintln!("checked {cpu_checked} buffers on the CPU path, {egl_checked} on the EGL path");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        egl_checked >= 10,
        "only {egl_checked} formats went through EGL"
    );
}
