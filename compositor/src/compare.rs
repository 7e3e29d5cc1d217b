//! `planar compare ACTUAL REF`: the command around planar-image's reference check (the same
//! check `--expect`, scripts and the tests run), printing its one-line verdict.

use anyhow::Context;
use planar_image::{check_against, RgbaImage};

use crate::cli::CompareArgs;

/// Exit 0 when the images match (or the reference was blessed), 1 when not.
pub fn compare(args: CompareArgs) -> anyhow::Result<i32> {
    let actual = RgbaImage::read_png(&args.actual)
        .with_context(|| format!("error reading {}", args.actual.display()))?;
    let outcome = check_against(&actual, &args.reference, &args.check.options())
        .with_context(|| format!("error comparing with {}", args.reference.display()))?;
    println!("{}", outcome.message(&args.reference));
    Ok(if outcome.passed() { 0 } else { 1 })
}
