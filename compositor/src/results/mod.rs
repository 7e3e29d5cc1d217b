//! Results of `planar run` for people and CI: a small JSON file per run (the
//! `NAME.planar-run.json` beside the `--html`/`--junit` output), JUnit XML and an HTML
//! page made from one or many of them, and `planar report DIR`, which gathers every run
//! under DIR (the shards of a CI matrix) into one page and one JUnit file.
//!
//! Known limits: a run that planar itself could not finish (exit 70 before the
//! screenshot) leaves no result file. Image paths are stored as written; when a shard's
//! artifacts are moved, an image is looked for beside the JSON file by its file name.

pub mod html;
pub mod junit;

use std::path::{Path, PathBuf};

use anyhow::Context;
use planar_image::CheckOutcome;
use serde::{Deserialize, Serialize};

/// File name suffix of the per-run result files `planar report` looks for.
pub const RESULT_SUFFIX: &str = ".planar-run.json";

/// One `planar run`: a JUnit testcase, a section of the HTML page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// The testcase name: `--name`, else the reference's file stem, else the command.
    pub name: String,
    pub command: Vec<String>,
    pub exit_code: i32,
    pub passed: bool,
    pub seconds: f64,
    /// Why the run failed, for a person (None when it passed).
    pub failure: Option<String>,
    pub checks: Vec<CheckResult>,
    /// Steps of a `--script`, each its own testcase when present. Empty for now: the
    /// script runner fills it (see [`StepResult`]).
    #[serde(default)]
    pub steps: Vec<StepResult>,
    /// Every buffer's import record, as `--report` writes them.
    #[serde(default)]
    pub imports: Vec<serde_json::Value>,
    /// The directory the result file was read from (not stored): relative image paths
    /// and moved artifacts are looked for there.
    #[serde(skip)]
    pub base: Option<PathBuf>,
}

/// One step of a script run (hook for `--script`: push one per step, and the JUnit
/// writer makes each a testcase of its own).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    pub passed: bool,
    pub seconds: f64,
    pub failure: Option<String>,
    #[serde(default)]
    pub checks: Vec<CheckResult>,
}

/// One image checked against a reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub reference: PathBuf,
    /// The screenshot as taken (written beside the reference on a mismatch).
    pub actual: Option<PathBuf>,
    pub diff: Option<PathBuf>,
    pub passed: bool,
    pub message: String,
    pub worst: Option<WorstPixel>,
}

/// The pixel furthest outside the fuzz.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorstPixel {
    pub x: u32,
    pub y: u32,
    pub actual: [u8; 4],
    pub reference: [u8; 4],
}

impl CheckResult {
    /// Records what [`planar_image::check_against`] found. `actual` is the
    /// screenshot itself (written where `--screenshot` put it, if anywhere).
    pub fn new(reference: &Path, screenshot: Option<&Path>, outcome: &CheckOutcome) -> Self {
        let message = outcome.message(reference);
        let (actual, diff) = match outcome {
            CheckOutcome::Mismatched { actual, diff, .. } => (Some(actual.clone()), diff.clone()),
            CheckOutcome::MissingReference { actual } => (Some(actual.clone()), None),
            _ => (screenshot.map(Path::to_path_buf), None),
        };
        let worst = match outcome {
            CheckOutcome::Mismatched { worst, .. } => worst.map(|w| WorstPixel {
                x: w.x,
                y: w.y,
                actual: w.actual,
                reference: w.reference,
            }),
            _ => None,
        };
        // Absolute, so `planar report` finds them from any directory.
        let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        CheckResult {
            reference: abs(reference.to_path_buf()),
            actual: actual.map(abs),
            diff: diff.map(abs),
            passed: outcome.passed(),
            message,
            worst,
        }
    }
}

impl RunResult {
    /// Where an image named in this result is now: as written, else beside the result
    /// file under the same relative path or the same file name (moved CI artifacts).
    pub fn locate(&self, path: &Path) -> Option<PathBuf> {
        let mut tries = Vec::new();
        if let Some(base) = &self.base {
            if path.is_relative() {
                tries.push(base.join(path));
            }
        }
        tries.push(path.to_path_buf());
        if let (Some(base), Some(name)) = (&self.base, path.file_name()) {
            tries.push(base.join(name));
        }
        tries.into_iter().find(|p| p.is_file())
    }

    /// Testcases this run stands for: its steps when it has any, else itself.
    pub fn testcase_count(&self) -> usize {
        self.steps.len().max(1)
    }

    /// Failed testcases among [`Self::testcase_count`].
    pub fn failure_count(&self) -> usize {
        if self.steps.is_empty() {
            usize::from(!self.passed)
        } else {
            self.steps.iter().filter(|s| !s.passed).count()
        }
    }
}

/// Writes `result` as JSON at `path`.
pub fn write_result(path: &Path, result: &RunResult) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(result).context("error encoding the run result")?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("error writing the run result {}", path.display()))
}

/// The result file that goes with an `--html`/`--junit` output file.
pub fn result_path_beside(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "planar".into());
    output.with_file_name(format!("{stem}{RESULT_SUFFIX}"))
}

/// Every run result under `dir`, in path order (so a merged report is stable).
pub fn gather(dir: &Path) -> anyhow::Result<Vec<RunResult>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).with_context(|| format!("error reading {}", d.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("error reading {}", d.display()))?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(RESULT_SUFFIX) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("error reading {}", f.display()))?;
            let mut r: RunResult = serde_json::from_str(&text)
                .with_context(|| format!("error parsing {}", f.display()))?;
            r.base = f.parent().map(Path::to_path_buf);
            Ok(r)
        })
        .collect()
}

/// `planar report DIR [--html OUT] [--junit OUT]`.
pub fn report(args: crate::cli::ReportArgs) -> anyhow::Result<i32> {
    let runs = gather(&args.dir)?;
    if runs.is_empty() {
        anyhow::bail!(
            "no run results (*{RESULT_SUFFIX}) under {}",
            args.dir.display()
        );
    }
    let html_out = args
        .html
        .clone()
        .or_else(|| args.junit.is_none().then(|| args.dir.join("report.html")));
    if let Some(path) = &html_out {
        html::write(path, &runs)?;
        println!("planar: wrote {}", path.display());
    }
    if let Some(path) = &args.junit {
        junit::write(path, &runs)?;
        println!("planar: wrote {}", path.display());
    }
    let failed: usize = runs.iter().map(RunResult::failure_count).sum();
    let total: usize = runs.iter().map(RunResult::testcase_count).sum();
    println!(
        "planar: {} runs, {total} testcases, {failed} failed",
        runs.len()
    );
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Writes what `planar run --html/--junit` asked for, and the result file beside each.
pub fn write_run(
    args: &crate::cli::RunArgs,
    elapsed: std::time::Duration,
    code: i32,
    checks: Vec<CheckResult>,
    records: &[planar_renderer::import::ImportRecord],
) -> anyhow::Result<()> {
    let name = args.name.clone().unwrap_or_else(|| {
        args.expect
            .as_ref()
            .and_then(|e| e.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| args.command.join(" "))
    });
    let failure = if let Some(c) = checks.iter().find(|c| !c.passed) {
        Some(c.message.clone())
    } else if code == crate::run::EXIT_TIMEOUT {
        Some(format!(
            "timed out after {:.1} s",
            args.timeout.unwrap_or_default().as_secs_f64()
        ))
    } else {
        (code != 0).then(|| format!("the command exited with status {code}"))
    };
    let result = RunResult {
        name,
        command: args.command.clone(),
        exit_code: code,
        passed: code == 0,
        seconds: elapsed.as_secs_f64(),
        failure,
        checks,
        steps: Vec::new(),
        imports: records
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect(),
        base: None,
    };
    for out in [&args.html, &args.junit].into_iter().flatten() {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("error creating {}", dir.display()))?;
        }
    }
    // One result file per run, or `planar report` would count the run twice.
    if let Some(out) = args.html.as_ref().or(args.junit.as_ref()) {
        write_result(&result_path_beside(out), &result)?;
    }
    if let Some(path) = &args.html {
        html::write(path, std::slice::from_ref(&result))?;
        tracing::info!(path = %path.display(), "HTML report written");
    }
    if let Some(path) = &args.junit {
        junit::write(path, std::slice::from_ref(&result))?;
        tracing::info!(path = %path.display(), "JUnit file written");
    }
    Ok(())
}
