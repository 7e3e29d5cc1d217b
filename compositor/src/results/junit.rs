//! JUnit XML in the shape CI systems read (Jenkins, GitLab, GitHub test reporters):
//! `<testsuites>` › one `<testsuite name="planar">` › a `<testcase>` per run (or per
//! script step), a failed one holding `<failure message=…>` with the message and the
//! paths of the actual and diff images.
//!
//! Written by hand rather than with an XML crate: five elements and attribute escaping
//! are all it takes, and the tests parse the output with a real XML parser.

use std::{fmt::Write as _, path::Path};

use anyhow::Context;

use super::{CheckResult, RunResult};

/// Escapes text for an XML attribute or element body; drops characters XML 1.0 forbids.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// The failure body: the message, then one line per image a person wants to open.
fn failure_body(failure: &str, checks: &[CheckResult]) -> String {
    let mut body = failure.to_string();
    for c in checks.iter().filter(|c| !c.passed) {
        let _ = write!(body, "\nreference: {}", c.reference.display());
        if let Some(a) = &c.actual {
            let _ = write!(body, "\nactual: {}", a.display());
        }
        if let Some(d) = &c.diff {
            let _ = write!(body, "\ndiff: {}", d.display());
        }
        if let Some(w) = &c.worst {
            let _ = write!(
                body,
                "\nworst pixel: ({}, {}) {:?} vs reference {:?}",
                w.x, w.y, w.actual, w.reference
            );
        }
    }
    body
}

fn testcase(
    xml: &mut String,
    class: &str,
    name: &str,
    seconds: f64,
    failure: Option<&str>,
    checks: &[CheckResult],
) {
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{seconds:.3}\"",
        esc(class),
        esc(name)
    );
    match failure {
        None => xml.push_str("/>\n"),
        Some(f) => {
            let first = f.lines().next().unwrap_or(f);
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"{}\" type=\"planar\">{}</failure>\n    </testcase>",
                esc(first),
                esc(&failure_body(f, checks)).replace("&#10;", "\n")
            );
        }
    }
}

/// The JUnit document for `runs`.
pub fn render(runs: &[RunResult]) -> String {
    let tests: usize = runs.iter().map(RunResult::testcase_count).sum();
    let failures: usize = runs.iter().map(RunResult::failure_count).sum();
    let time: f64 = runs.iter().map(|r| r.seconds).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"planar\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">"
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"planar\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">"
    );
    for run in runs {
        if run.steps.is_empty() {
            let failure = (!run.passed).then(|| run.failure.clone().unwrap_or_default());
            testcase(
                &mut xml,
                "planar.run",
                &run.name,
                run.seconds,
                failure.as_deref(),
                &run.checks,
            );
        } else {
            let class = format!("planar.run.{}", run.name);
            for step in &run.steps {
                let failure = (!step.passed).then(|| step.failure.clone().unwrap_or_default());
                testcase(
                    &mut xml,
                    &class,
                    &step.name,
                    step.seconds,
                    failure.as_deref(),
                    &step.checks,
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Writes the JUnit file for `runs` at `path`.
pub fn write(path: &Path, runs: &[RunResult]) -> anyhow::Result<()> {
    std::fs::write(path, render(runs))
        .with_context(|| format!("error writing the JUnit file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(esc("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
