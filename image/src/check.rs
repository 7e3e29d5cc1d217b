//! The reference check behind `planar compare`, `planar run --expect`, `planar run
//! --script`'s `expect`, bless and the tests: one function, [`check_against`], compares an
//! image with a reference PNG and writes the actual and diff images beside it on a
//! mismatch. Known limit: the reference is read whole; there is no streaming compare.

use std::path::{Path, PathBuf};

use crate::{compare, Clip, Fuzz, RgbaImage, Worst};

/// How to check an image against a reference file.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub fuzz: Option<Fuzz>,
    pub clip: Option<Clip>,
    /// Where to write the diff image when the check fails.
    pub diff: Option<PathBuf>,
    /// Write (or refresh) the reference instead of comparing.
    pub bless: bool,
}

/// The answer of [`check_against`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Matched(String),
    /// Mismatch: the summary (naming the worst pixel), and where the actual image and the
    /// diff were written.
    Mismatched {
        summary: String,
        actual: PathBuf,
        diff: Option<PathBuf>,
        /// The pixel furthest outside the fuzz (none when the sizes differ).
        worst: Option<Worst>,
    },
    /// The reference was written from the actual image.
    Blessed(PathBuf),
    /// No reference: the actual image was written next to where it should be.
    MissingReference {
        actual: PathBuf,
    },
}

impl CheckOutcome {
    pub fn passed(&self) -> bool {
        matches!(self, CheckOutcome::Matched(_) | CheckOutcome::Blessed(_))
    }

    pub fn message(&self, reference: &Path) -> String {
        match self {
            CheckOutcome::Matched(s) => format!("{} matches: {s}", reference.display()),
            CheckOutcome::Mismatched {
                summary,
                actual,
                diff,
                ..
            } => format!(
                "{} does not match: {summary}; actual image: {}{}",
                reference.display(),
                actual.display(),
                diff.as_ref().map(|d| format!(", diff: {}", d.display())).unwrap_or_default()
            ),
            CheckOutcome::Blessed(p) => format!("blessed: wrote {}", p.display()),
            CheckOutcome::MissingReference { actual } => format!(
                "no reference at {}: wrote the actual image to {} (bless with --bless or PLANAR_BLESS=1)",
                reference.display(),
                actual.display()
            ),
        }
    }
}

/// `path` with `.actual.png` / `.diff.png` in place of `.png`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.{suffix}.png"))
}

/// Whether `PLANAR_BLESS=1` is set.
pub fn bless_from_env() -> bool {
    std::env::var("PLANAR_BLESS").is_ok_and(|v| v == "1")
}

/// Checks `actual` against the reference PNG at `reference`: the one function behind
/// `planar compare`, `planar run --expect` and the tests. On a mismatch the actual image
/// is written next to the reference (`NAME.actual.png`) and the diff where asked (else
/// `NAME.diff.png`).
pub fn check_against(
    actual: &RgbaImage,
    reference: &Path,
    opts: &CheckOptions,
) -> std::io::Result<CheckOutcome> {
    if opts.bless || bless_from_env() {
        actual.write_png(reference)?;
        return Ok(CheckOutcome::Blessed(reference.to_path_buf()));
    }
    if !reference.exists() {
        let out = sibling(reference, "actual");
        actual.write_png(&out)?;
        return Ok(CheckOutcome::MissingReference { actual: out });
    }
    let expected = RgbaImage::read_png(reference)?;
    let mut diff_img = RgbaImage {
        width: 0,
        height: 0,
        data: Vec::new(),
    };
    let c = compare(
        actual,
        &expected,
        opts.fuzz.unwrap_or(Fuzz::EXACT),
        opts.clip,
        Some(&mut diff_img),
    );
    if c.matches() {
        return Ok(CheckOutcome::Matched(c.summary()));
    }
    let out = sibling(reference, "actual");
    actual.write_png(&out)?;
    let diff = if c.size_mismatch.is_none() {
        let path = opts
            .diff
            .clone()
            .unwrap_or_else(|| sibling(reference, "diff"));
        diff_img.write_png(&path)?;
        Some(path)
    } else {
        None
    };
    Ok(CheckOutcome::Mismatched {
        summary: c.summary(),
        actual: out,
        diff,
        worst: c.worst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_against_files_bless_and_missing() {
        let dir = std::env::temp_dir().join(format!("planar-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let reference = dir.join("ref.png");
        let _ = std::fs::remove_file(&reference);
        let a = RgbaImage::filled(8, 8, [10, 20, 30, 255]);
        let opts = CheckOptions::default();
        // Missing: the actual image is written next to it, and it fails.
        let o = check_against(&a, &reference, &opts).unwrap();
        assert_eq!(
            o,
            CheckOutcome::MissingReference {
                actual: dir.join("ref.actual.png")
            }
        );
        assert!(!o.passed() && dir.join("ref.actual.png").exists());
        // Bless writes the reference; then it matches.
        let o = check_against(
            &a,
            &reference,
            &CheckOptions {
                bless: true,
                ..opts.clone()
            },
        )
        .unwrap();
        assert!(o.passed() && reference.exists());
        assert!(matches!(
            check_against(&a, &reference, &opts).unwrap(),
            CheckOutcome::Matched(_)
        ));
        // Outside the fuzz: fails with a diff; inside: passes.
        let mut b = a.clone();
        b.data[4 * 9] = 13;
        let o = check_against(&b, &reference, &opts).unwrap();
        match &o {
            CheckOutcome::Mismatched {
                summary,
                diff: Some(d),
                worst: Some(w),
                ..
            } => {
                assert!(summary.contains("(1, 1)"), "{summary}");
                assert_eq!((w.x, w.y, w.actual[0], w.reference[0]), (1, 1, 13, 10));
                assert_eq!(
                    RgbaImage::read_png(d).unwrap().pixel(1, 1),
                    [255, 0, 0, 255]
                );
            }
            other => panic!("{other:?}"),
        }
        let o = check_against(
            &b,
            &reference,
            &CheckOptions {
                fuzz: Some(Fuzz::symmetric(3)),
                ..opts.clone()
            },
        )
        .unwrap();
        assert!(o.passed());
        let o = check_against(
            &b,
            &reference,
            &CheckOptions {
                clip: Some(Clip {
                    x: 2,
                    y: 2,
                    w: 6,
                    h: 6,
                }),
                ..opts
            },
        )
        .unwrap();
        assert!(o.passed());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
