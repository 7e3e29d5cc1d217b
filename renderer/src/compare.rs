//! Image comparison with a signed per-channel tolerance and a clip rectangle, as Weston's
//! and Mutter's test suites do it. One function serves `planar compare`, `--expect` and
//! the tests.

use std::path::{Path, PathBuf};

use crate::image::RgbaImage;

/// How far a channel may be from the reference: `actual - reference` must lie in
/// `lo..=hi` (e.g. `-2..=2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fuzz {
    pub lo: i16,
    pub hi: i16,
}

impl Fuzz {
    pub const EXACT: Fuzz = Fuzz { lo: 0, hi: 0 };

    pub fn symmetric(n: i16) -> Self {
        Fuzz { lo: -n, hi: n }
    }
}

/// A rectangle of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clip {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The worst pixel of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worst {
    pub x: u32,
    pub y: u32,
    pub actual: [u8; 4],
    pub reference: [u8; 4],
    /// The channel difference furthest outside (or closest to the edge of) the fuzz.
    pub diff: i16,
}

/// What a comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Pixels with a channel outside the fuzz.
    pub mismatched: u64,
    pub compared: u64,
    pub worst: Option<Worst>,
    /// Set when the sizes differ: nothing was compared.
    pub size_mismatch: Option<((u32, u32), (u32, u32))>,
}

impl Comparison {
    pub fn matches(&self) -> bool {
        self.size_mismatch.is_none() && self.mismatched == 0
    }

    /// One line for a person: what failed and where.
    pub fn summary(&self) -> String {
        if let Some((a, r)) = self.size_mismatch {
            return format!(
                "size {}x{} differs from the reference's {}x{}",
                a.0, a.1, r.0, r.1
            );
        }
        match self.worst {
            Some(w) if self.mismatched > 0 => format!(
                "{} of {} pixels differ; worst at ({}, {}): {:?} vs reference {:?} (channel off by {})",
                self.mismatched, self.compared, w.x, w.y, w.actual, w.reference, w.diff
            ),
            Some(w) => format!(
                "all {} pixels within tolerance; largest difference {} at ({}, {})",
                self.compared, w.diff, w.x, w.y
            ),
            None => format!("all {} pixels identical", self.compared),
        }
    }
}

/// Compares `actual` with `reference` inside `clip` (the whole image when `None`). When
/// `diff` is given it receives an image: matching pixels dimmed grey, mismatches red.
pub fn compare(
    actual: &RgbaImage,
    reference: &RgbaImage,
    fuzz: Fuzz,
    clip: Option<Clip>,
    mut diff: Option<&mut RgbaImage>,
) -> Comparison {
    if (actual.width, actual.height) != (reference.width, reference.height) {
        return Comparison {
            mismatched: 0,
            compared: 0,
            worst: None,
            size_mismatch: Some((
                (actual.width, actual.height),
                (reference.width, reference.height),
            )),
        };
    }
    let full = Clip {
        x: 0,
        y: 0,
        w: actual.width,
        h: actual.height,
    };
    let c = clip.unwrap_or(full);
    let x1 = c.x.saturating_add(c.w).min(actual.width);
    let y1 = c.y.saturating_add(c.h).min(actual.height);
    if let Some(d) = diff.as_deref_mut() {
        *d = RgbaImage {
            width: actual.width,
            height: actual.height,
            data: actual
                .data
                .iter()
                .enumerate()
                .map(|(i, v)| if i % 4 == 3 { 255 } else { v / 4 })
                .collect(),
        };
    }
    let mut out = Comparison {
        mismatched: 0,
        compared: 0,
        worst: None,
        size_mismatch: None,
    };
    // How bad a difference is: its distance past the fuzz (or, inside, its size).
    let badness = |d: i16| -> i32 {
        if d < fuzz.lo {
            1000 + i32::from(fuzz.lo - d)
        } else if d > fuzz.hi {
            1000 + i32::from(d - fuzz.hi)
        } else {
            i32::from(d.abs())
        }
    };
    let mut worst_badness = -1;
    for y in c.y..y1 {
        for x in c.x..x1 {
            let a = actual.pixel(x, y);
            let r = reference.pixel(x, y);
            out.compared += 1;
            let mut bad = false;
            for ch in 0..4 {
                let d = i16::from(a[ch]) - i16::from(r[ch]);
                let b = badness(d);
                if b >= 1000 {
                    bad = true;
                }
                if b > worst_badness && (b > 0 || out.worst.is_none()) {
                    worst_badness = b;
                    out.worst = Some(Worst {
                        x,
                        y,
                        actual: a,
                        reference: r,
                        diff: d,
                    });
                }
            }
            if bad {
                out.mismatched += 1;
                if let Some(d) = diff.as_deref_mut() {
                    let i = ((y * d.width + x) * 4) as usize;
                    d.data[i..i + 4].copy_from_slice(&[255, 0, 0, 255]);
                }
            }
        }
    }
    if worst_badness == 0 {
        out.worst = None;
    }
    out
}

/// Parses `LO,HI` (e.g. `-2,3`) or `N` (meaning `-N,N`).
pub fn parse_fuzz(s: &str) -> Result<Fuzz, String> {
    let num = |v: &str| {
        v.trim()
            .parse::<i16>()
            .map_err(|_| format!("{s:?} is not LO,HI or N"))
    };
    match s.split_once(',') {
        Some((lo, hi)) => {
            let (lo, hi) = (num(lo)?, num(hi)?);
            if lo > hi {
                return Err(format!("fuzz {s:?}: LO is above HI"));
            }
            Ok(Fuzz { lo, hi })
        }
        None => Ok(Fuzz::symmetric(num(s)?.abs())),
    }
}

/// Parses `X,Y,W,H`.
pub fn parse_clip(s: &str) -> Result<Clip, String> {
    let v: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{s:?} is not X,Y,W,H"))?;
    match v[..] {
        [x, y, w, h] if w > 0 && h > 0 => Ok(Clip { x, y, w, h }),
        _ => Err(format!("{s:?} is not X,Y,W,H with a non-empty size")),
    }
}

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
            CheckOutcome::Mismatched { summary, actual, diff } => format!(
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32, px: [u8; 4]) -> RgbaImage {
        RgbaImage {
            width: w,
            height: h,
            data: px.repeat((w * h) as usize),
        }
    }

    #[test]
    fn within_and_outside_fuzz() {
        let r = img(4, 4, [100, 100, 100, 255]);
        let mut a = r.clone();
        a.data[0] = 102;
        assert!(compare(&a, &r, Fuzz::symmetric(2), None, None).matches());
        let c = compare(&a, &r, Fuzz::symmetric(1), None, None);
        assert!(!c.matches());
        assert_eq!(c.mismatched, 1);
        assert_eq!(c.worst.unwrap().diff, 2);
        // Signed: +2 is inside 0..=3 but -2 is not.
        a.data[0] = 98;
        assert!(!compare(&a, &r, Fuzz { lo: 0, hi: 3 }, None, None).matches());
    }

    #[test]
    fn clip_limits_the_comparison_and_diff_marks_pixels() {
        let r = img(4, 4, [0, 0, 0, 255]);
        let mut a = r.clone();
        let i = ((3 * 4 + 3) * 4) as usize;
        a.data[i] = 200;
        let clip = Clip {
            x: 0,
            y: 0,
            w: 2,
            h: 2,
        };
        let c = compare(&a, &r, Fuzz::EXACT, Some(clip), None);
        assert!(c.matches());
        assert_eq!(c.compared, 4);
        let mut d = img(1, 1, [0; 4]);
        let c = compare(&a, &r, Fuzz::EXACT, None, Some(&mut d));
        assert!(!c.matches());
        assert_eq!(d.pixel(3, 3), [255, 0, 0, 255]);
        assert_eq!(d.pixel(0, 0), [0, 0, 0, 255]);
        assert!(c.summary().contains("(3, 3)"));
    }

    #[test]
    fn check_against_files_bless_and_missing() {
        let dir = std::env::temp_dir().join(format!("planar-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let reference = dir.join("ref.png");
        let _ = std::fs::remove_file(&reference);
        let a = img(8, 8, [10, 20, 30, 255]);
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
                ..
            } => {
                assert!(summary.contains("(1, 1)"), "{summary}");
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

    #[test]
    fn fuzz_and_clip_parse() {
        assert_eq!(parse_fuzz("-2,3"), Ok(Fuzz { lo: -2, hi: 3 }));
        assert_eq!(parse_fuzz("4"), Ok(Fuzz::symmetric(4)));
        assert!(parse_fuzz("3,-3").is_err());
        assert_eq!(
            parse_clip("1,2,3,4"),
            Ok(Clip {
                x: 1,
                y: 2,
                w: 3,
                h: 4
            })
        );
        assert!(parse_clip("1,2,0,4").is_err());
        assert!(parse_clip("1,2").is_err());
    }

    #[test]
    fn different_sizes_do_not_match() {
        let c = compare(
            &img(2, 2, [0; 4]),
            &img(3, 2, [0; 4]),
            Fuzz::EXACT,
            None,
            None,
        );
        assert!(!c.matches());
        assert!(c.summary().contains("2x2"));
    }
}
