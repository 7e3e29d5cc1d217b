//! The HTML report: one self-contained page (images inline as `data:` URIs, no scripts
//! or styles from elsewhere) that works from `file://`. Per run: its status, command and
//! failure; per check: actual, reference and diff side by side, an overlay of actual over
//! reference with a slider (and a blink toggle), the worst pixel; then the import records
//! as a table.
//!
//! Known limits: every image is inlined, so a page of many full-HD runs is large (a
//! 1280x720 screenshot is typically tens of kB as PNG).

use std::{fmt::Write as _, path::Path};

use anyhow::Context;
use base64::Engine as _;

use super::{CheckResult, RunResult};

const STYLE: &str = "body{font-family:sans-serif;background:#fff;color:#111;margin:16px}\
h2.pass{color:#060}h2.fail{color:#a00}section{border-top:1px solid #ccc;padding:8px 0}\
figure{display:inline-block;vertical-align:top;margin:0 12px 12px 0}\
figure img{display:block;max-width:30vw;image-rendering:pixelated;border:1px solid #999}\
figcaption{font-size:13px;margin-top:4px}.overlay{position:relative;display:inline-block}\
.overlay img{display:block;max-width:60vw;image-rendering:pixelated}\
.overlay img.top{position:absolute;left:0;top:0}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #bbb;padding:2px 6px}\
pre{white-space:pre-wrap;background:#f4f4f4;padding:6px}";

/// The slider sets how much of the actual image covers the reference; blink swaps the
/// two every half second. Inline, so the page needs nothing else.
const SCRIPT: &str = "function slide(id,v){document.getElementById(id).style.clipPath=\
'inset(0 '+(100-v)+'% 0 0)';}\
function blink(id,b){var e=document.getElementById(id);if(e.dataset.t){clearInterval(+e.dataset.t);\
delete e.dataset.t;e.style.visibility='visible';b.textContent='blink';return;}\
e.dataset.t=setInterval(function(){e.style.visibility=e.style.visibility=='hidden'?'visible':'hidden';},500);\
b.textContent='stop';}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A `data:` URI of the PNG at `path` as found for `run`, or None when it is gone.
fn data_uri(run: &RunResult, path: Option<&Path>) -> Option<String> {
    let found = run.locate(path?)?;
    let bytes = std::fs::read(found).ok()?;
    Some(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

fn figure(html: &mut String, caption: &str, uri: Option<&str>, path: Option<&Path>) {
    let shown = path.map(|p| p.display().to_string()).unwrap_or_default();
    match uri {
        Some(uri) => {
            let _ = write!(
                html,
                "<figure><img class=\"{caption}\" alt=\"{caption}\" src=\"{uri}\"><figcaption><b>{caption}</b> {}</figcaption></figure>",
                esc(&shown)
            );
        }
        None => {
            let _ = write!(
                html,
                "<figure><figcaption><b>{caption}</b>: none {}</figcaption></figure>",
                esc(&shown)
            );
        }
    }
}

fn check(html: &mut String, run: &RunResult, c: &CheckResult, id: &str) {
    let actual = data_uri(run, c.actual.as_deref());
    let reference = data_uri(run, Some(&c.reference));
    let diff = data_uri(run, c.diff.as_deref());
    let _ = write!(
        html,
        "<div class=\"check\"><p>{} {}</p><div class=\"images\">",
        if c.passed { "✔" } else { "✘" },
        esc(&c.message)
    );
    figure(html, "actual", actual.as_deref(), c.actual.as_deref());
    figure(html, "reference", reference.as_deref(), Some(&c.reference));
    figure(html, "diff", diff.as_deref(), c.diff.as_deref());
    html.push_str("</div>");
    if let Some(w) = &c.worst {
        let _ = write!(
            html,
            "<p class=\"worst\">worst pixel at ({}, {}): actual rgba{:?}, reference rgba{:?}</p>",
            w.x, w.y, w.actual, w.reference
        );
    }
    if let (Some(a), Some(r)) = (&actual, &reference) {
        let _ = write!(
            html,
            "<p>overlay (actual over reference): <input type=\"range\" min=\"0\" max=\"100\" value=\"50\" \
             oninput=\"slide('{id}',this.value)\"> <button onclick=\"blink('{id}',this)\">blink</button></p>\
             <div class=\"overlay\"><img alt=\"reference\" src=\"{r}\"><img class=\"top\" id=\"{id}\" alt=\"actual\" \
             src=\"{a}\" style=\"clip-path:inset(0 50% 0 0)\"></div>"
        );
    }
    html.push_str("</div>");
}

fn imports(html: &mut String, records: &[serde_json::Value]) {
    if records.is_empty() {
        html.push_str("<p>No dma-buf was imported.</p>");
        return;
    }
    const COLUMNS: [&str; 11] = [
        "id",
        "client",
        "fourcc",
        "modifier",
        "width",
        "height",
        "path",
        "reason",
        "import_us",
        "frames_shown",
        "planes",
    ];
    html.push_str("<table><tr>");
    for c in COLUMNS {
        let _ = write!(html, "<th>{c}</th>");
    }
    html.push_str("</tr>");
    for r in records {
        html.push_str("<tr>");
        for c in COLUMNS {
            let v = match r.get(c) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            let _ = write!(html, "<td>{}</td>", esc(&v));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
}

fn run_section(html: &mut String, run: &RunResult, n: usize) {
    let (class, status) = if run.passed {
        ("pass", "passed")
    } else {
        ("fail", "FAILED")
    };
    let _ = write!(
        html,
        "<section><h2 class=\"{class}\">{} — {status}</h2><p>exit {} in {:.2} s: <code>{}</code></p>",
        esc(&run.name),
        run.exit_code,
        run.seconds,
        esc(&run.command.join(" "))
    );
    if let Some(f) = &run.failure {
        let _ = write!(html, "<pre>{}</pre>", esc(f));
    }
    for (i, c) in run.checks.iter().enumerate() {
        check(html, run, c, &format!("ov{n}-{i}"));
    }
    for (j, step) in run.steps.iter().enumerate() {
        let _ = write!(
            html,
            "<h3>step {}: {}</h3>",
            esc(&step.name),
            if step.passed { "passed" } else { "FAILED" }
        );
        for (i, c) in step.checks.iter().enumerate() {
            check(html, run, c, &format!("ov{n}-s{j}-{i}"));
        }
    }
    html.push_str("<h3>Imports</h3>");
    imports(html, &run.imports);
    html.push_str("</section>");
}

/// The page for `runs`.
pub fn render(runs: &[RunResult]) -> String {
    let failed: usize = runs.iter().map(RunResult::failure_count).sum();
    let total: usize = runs.iter().map(RunResult::testcase_count).sum();
    let mut html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>planar report: {failed} of {total} failed</title>\
         <style>{STYLE}</style><script>{SCRIPT}</script></head><body>\
         <h1>planar: {total} testcases, {failed} failed</h1>"
    );
    // Failures first: that is what a person opens the page for.
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|&i| runs[i].passed);
    for i in order {
        run_section(&mut html, &runs[i], i);
    }
    html.push_str("</body></html>\n");
    html
}

/// Writes the page for `runs` at `path`.
pub fn write(path: &Path, runs: &[RunResult]) -> anyhow::Result<()> {
    std::fs::write(path, render(runs))
        .with_context(|| format!("error writing the HTML report {}", path.display()))
}
