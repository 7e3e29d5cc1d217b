//! planar's logs for machines and people: `--log-format json` gives one JSON object per
//! line, and a client is named `pid N (command)` in every line that names it.

use std::time::Duration;

use planar_tests::fixture::{planar_run, runtime_dir};

#[test]
fn json_logs_parse_line_by_line_and_name_clients_by_pid_and_command() {
    let dir = runtime_dir();
    let out = planar_run(
        Some(dir.path()),
        &["--log-format", "json", "--renderer", "pixman"],
        &[
            "planar-client",
            "show",
            "--alloc",
            "memfd",
            "--size",
            "32x32",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 4, "{}", out.stderr);
    for l in &lines {
        assert!(l["level"].is_string() && l["message"].is_string(), "{l}");
        assert!(l["timestamp"].is_string(), "{l}");
    }
    // The same client, named the same way, when it makes a buffer and when it goes.
    let client_of = |message: &str| -> String {
        let line = lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in {}", out.stderr));
        line["client"].as_str().unwrap_or_default().to_string()
    };
    let created = client_of("linux-dmabuf buffer created");
    assert!(
        created.starts_with("pid ") && created.ends_with(" (planar-client)"),
        "{created}"
    );
    assert_eq!(client_of("client disconnected"), created);
    assert!(
        !out.stderr.contains("InnerClientId"),
        "an internal id in the log: {}",
        out.stderr
    );
}
