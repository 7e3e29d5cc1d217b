//! The protocol fuzzer for a few seconds with a fixed seed, so `cargo test` catches a
//! crash, hang, fd leak or wrong screenshot the fuzzer finds quickly. `scripts/test` also
//! runs `scripts/fuzz-protocol 60` with a fresh seed.

use std::process::Command;

use planar_tests::fixture::bin;

/// The number after `label` in the fuzzer's summary.
fn count(out: &str, label: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("fuzz-protocol: {label}: ")))
        .and_then(|rest| rest.split([' ', ',']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in the fuzzer's output:\n{out}"))
}

#[test]
fn fuzz_protocol_five_seconds() {
    let out = Command::new(env!("CARGO_BIN_EXE_planar-fuzz-protocol"))
        .args(["--seconds", "5", "--seed", "0x5eed", "--planar"])
        .arg(bin("planar"))
        .arg("--out")
        .arg(std::env::temp_dir().join("planar-fuzz-protocol-test"))
        .output()
        .expect("planar-fuzz-protocol runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the fuzzer failed:\n{text}");
    assert_eq!(count(&stdout, "compositor deaths"), 0, "{text}");
    assert_eq!(count(&stdout, "leaked fds"), 0, "{text}");
    assert_eq!(count(&stdout, "compositor hangs"), 0, "{text}");
    assert!(count(&stdout, "requests sent") >= 1000, "{text}");
    assert!(count(&stdout, "interfaces exercised") >= 20, "{text}");
    assert!(count(&stdout, "protocol errors received") > 0, "{text}");
    assert!(count(&stdout, "well-behaved client") >= 2, "{text}");
    assert!(
        stdout.contains("fuzz-protocol: unknown globals: none"),
        "{text}"
    );
}
