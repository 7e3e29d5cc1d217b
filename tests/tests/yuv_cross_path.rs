//! The GLES shader's YUV conversion against the CPU conversion: for every YUV format in
//! the format table, the same client buffer shown by planar with GLES (planes uploaded
//! as they are, converted by the shader) and with pixman (converted on the CPU by the
//! `yuv` crate) gives the same screenshot within ±1 per channel. Odd sizes (chroma
//! edges), BT.601/709/2020, limited and full range, y_invert. The shader is forced on
//! (`PLANAR_YUV_SHADER=1`): on llvmpipe planar converts on the CPU by default.

use std::{path::Path, time::Duration};

use planar_protocol::format::FORMATS;
use planar_renderer::{
    compare::{compare, Fuzz},
    cpu::convert::{conversion, Conversion},
    image::RgbaImage,
};
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

fn fourcc_name(f: drm_fourcc::DrmFourcc) -> String {
    String::from_utf8_lossy(&(f as u32).to_le_bytes())
        .trim()
        .to_string()
}

#[test]
fn egl_yuv_shader_matches_the_cpu_conversion() {
    if let Some(reason) = gles_unavailable() {
        return skip("egl_yuv_shader_matches_the_cpu_conversion", &reason);
    }
    let yuv: Vec<String> = FORMATS
        .iter()
        .filter(|f| matches!(conversion(f.fourcc), Some(Conversion::Yuv(_))))
        .map(|f| fourcc_name(f.fourcc))
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
