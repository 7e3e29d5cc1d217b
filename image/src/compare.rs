//! Image comparison with a signed per-channel tolerance and a clip rectangle, as Weston's
//! and Mutter's test suites do it: the pure pixel work, with no files. [`crate::check`]
//! builds the reference-file check on it.

use crate::RgbaImage;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_and_outside_fuzz() {
        let r = RgbaImage::filled(4, 4, [100, 100, 100, 255]);
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
        let r = RgbaImage::filled(4, 4, [0, 0, 0, 255]);
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
        let mut d = RgbaImage::filled(1, 1, [0; 4]);
        let c = compare(&a, &r, Fuzz::EXACT, None, Some(&mut d));
        assert!(!c.matches());
        assert_eq!(d.pixel(3, 3), [255, 0, 0, 255]);
        assert_eq!(d.pixel(0, 0), [0, 0, 0, 255]);
        assert!(c.summary().contains("(3, 3)"));
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
            &RgbaImage::filled(2, 2, [0; 4]),
            &RgbaImage::filled(3, 2, [0; 4]),
            Fuzz::EXACT,
            None,
            None,
        );
        assert!(!c.matches());
        assert!(c.summary().contains("2x2"));
    }
}
