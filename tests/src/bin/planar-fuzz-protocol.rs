//! planar-fuzz-protocol: starts debug planar with a well-behaved client and fuzzes every
//! global it offers with random requests for a while; exits 1 on a compositor death, a
//! hang, a leaked fd, a wrong screenshot, a global it cannot fuzz or fewer than
//! `--min-interfaces` interfaces exercised, printing the seed and the last requests of the
//! clients involved. `scripts/fuzz-protocol` runs it.

use std::{path::PathBuf, time::Duration};

use clap::Parser;
use planar_tests::fuzz::driver::{self, Config};

#[derive(Parser)]
#[command(about = "Fuzzes planar's Wayland globals with random requests from hostile clients")]
struct Args {
    /// How long to fuzz.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// The run's seed (decimal or 0x hex); random when not given. Printed either way.
    #[arg(long, value_parser = parse_u64)]
    seed: Option<u64>,
    /// Fuzz clients connected at once.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Each fuzz client sends up to this many requests, then leaves.
    #[arg(long, default_value_t = 3000)]
    max_requests: u64,
    /// At most this many fds sent per fuzz client (past planar's per-client fd limit, 128,
    /// so the limit is exercised too).
    #[arg(long, default_value_t = 256)]
    fd_budget: u32,
    /// Capture through the well-behaved client at most this often (seconds).
    #[arg(long, default_value_t = 2.0)]
    verify_every: f64,
    /// Run one fuzz client with this seed (printed on a failure), once, with the checks.
    #[arg(long, value_parser = parse_u64)]
    replay: Option<u64>,
    /// The planar binary (default: the one next to this binary).
    #[arg(long)]
    planar: Option<PathBuf>,
    /// Fail when fewer interfaces than this got requests (not checked with --replay).
    #[arg(long, default_value_t = 20)]
    min_interfaces: usize,
    /// Never send INTERFACE's requests whose name contains WORD (repeatable; `none` for
    /// none). The default keeps planar_test_v1's output reconfiguration away: it changes
    /// what the well-behaved client's screenshot must show.
    #[arg(long, value_name = "INTERFACE.WORD", default_values_t = ["planar_test_v1.output".to_string()])]
    skip: Vec<String>,
    /// Where a wrong capture and its diff are written.
    #[arg(long, default_value = "target/fuzz-protocol")]
    out: PathBuf,
    /// Arguments for `planar run` (default: capture and input allowed for all, so the fuzz
    /// clients reach the capture and injection code too, and a 640x480 output).
    #[arg(last = true)]
    planar_args: Vec<String>,
}

fn parse_u64(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s:?}: {e}"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let planar_args = if args.planar_args.is_empty() {
        [
            "--allow-capture",
            "all",
            "--allow-input",
            "all",
            "--size",
            "640x480",
        ]
        .map(String::from)
        .to_vec()
    } else {
        args.planar_args
    };
    let cfg = Config {
        seconds: args.seconds,
        seed,
        clients: args.clients.max(1),
        max_requests: args.max_requests.max(1),
        fd_budget: args.fd_budget,
        planar: args
            .planar
            .unwrap_or_else(|| planar_tests::fixture::bin_dir().join("planar")),
        planar_args,
        verify_every: Duration::from_secs_f64(args.verify_every),
        replay: args.replay,
        out: args.out,
        skip: args
            .skip
            .iter()
            .filter_map(|s| s.split_once('.'))
            .map(|(i, w)| (i.to_string(), w.to_string()))
            .collect(),
        min_interfaces: if args.replay.is_some() {
            0
        } else {
            args.min_interfaces
        },
    };
    println!("fuzz-protocol: seed {seed:#x}");
    let report = driver::run(&cfg)?;
    if report.failed(&cfg) {
        println!("fuzz-protocol: FAILED (seed {seed:#x})");
        std::process::exit(1);
    }
    println!("fuzz-protocol: OK");
    Ok(())
}
