//! The fuzz run: planar with a well-behaved client, then rounds of fuzz clients (each on
//! its own connection and thread, with a seed derived from the run's), and after each
//! round the checks: planar alive, its fd count back to the baseline, and now and then
//! the well-behaved client's capture identical to its first one. Counts at the end.
//!
//! Known limit: clients of one round run concurrently, so a run is reproducible from its
//! seed only up to their interleaving; `--clients 1` or `--replay SESSION_SEED` replays one
//! client exactly (up to the compositor's event timing).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::PathBuf,
    time::{Duration, Instant},
};

use planar_image::{compare, Fuzz, RgbaImage};

use super::{
    globals,
    session::{self, End, Outcome, SessionConfig},
    target::{check_witness, Planar, Witness},
};

/// What `planar-fuzz-protocol` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub seconds: f64,
    pub seed: u64,
    /// Fuzz clients connected at once.
    pub clients: usize,
    /// Each client sends between 1 and this many requests.
    pub max_requests: u64,
    pub fd_budget: u32,
    pub planar: PathBuf,
    pub planar_args: Vec<String>,
    pub verify_every: Duration,
    /// Replay one client with this seed, once.
    pub replay: Option<u64>,
    /// Where a wrong capture is written.
    pub out: PathBuf,
    /// Fewer interfaces exercised than this fails the run.
    pub min_interfaces: usize,
    /// (interface, word): requests never sent (see `SessionConfig::skip`).
    pub skip: Vec<(String, String)>,
}

/// The counts a run ends with.
#[derive(Debug, Default)]
pub struct Report {
    pub requests: u64,
    pub sessions: u64,
    pub ended_by_error: u64,
    pub ended_by_budget: u64,
    pub closed: u64,
    /// Why connections closed without a protocol error, with counts.
    pub closed_reasons: BTreeMap<String, u64>,
    pub per_interface: BTreeMap<&'static str, u64>,
    pub per_request: BTreeMap<(&'static str, &'static str), u64>,
    /// (interface, code) → (count, an example message).
    pub errors: BTreeMap<(String, u32), (u64, String)>,
    pub deaths: u64,
    pub leaks: u64,
    pub hangs: u64,
    pub captures: u64,
    pub wrong_captures: u64,
    pub unknown_globals: BTreeSet<String>,
    pub globals: BTreeMap<String, u32>,
    pub baseline_fds: usize,
    pub rounds: u64,
}

impl Report {
    pub fn failed(&self, cfg: &Config) -> bool {
        self.deaths + self.leaks + self.hangs + self.wrong_captures > 0
            || !self.unknown_globals.is_empty()
            || self.per_interface.len() < cfg.min_interfaces
    }

    fn add(
        &mut self,
        o: &Outcome,
        table: &HashMap<&'static str, &'static wayland_backend::protocol::Interface>,
    ) {
        self.sessions += 1;
        self.requests += o.requests;
        for (i, n) in &o.per_interface {
            *self.per_interface.entry(i).or_default() += n;
        }
        for (r, n) in &o.per_request {
            *self.per_request.entry(*r).or_default() += n;
        }
        for (g, v) in &o.globals {
            self.globals.insert(g.clone(), *v);
            if !table.contains_key(g.as_str()) {
                self.unknown_globals.insert(g.clone());
            }
        }
        match &o.end {
            End::Budget => self.ended_by_budget += 1,
            End::ProtocolError {
                interface,
                code,
                message,
            } => {
                self.ended_by_error += 1;
                let e = self
                    .errors
                    .entry((interface.clone(), *code))
                    .or_insert((0, message.clone()));
                e.0 += 1;
            }
            End::Closed(why) | End::ConnectFailed(why) => {
                self.closed += 1;
                *self.closed_reasons.entry(why.clone()).or_default() += 1;
            }
            End::Hang => {}
        }
    }

    /// The counts, one per line, as the script and the test read them.
    pub fn print(&self, cfg: &Config, elapsed: Duration) {
        println!(
            "fuzz-protocol: seed {:#x}, {:.0} s, {} rounds",
            cfg.seed,
            elapsed.as_secs_f64(),
            self.rounds
        );
        let globals: Vec<String> = self
            .globals
            .iter()
            .map(|(g, v)| format!("{g} v{v}"))
            .collect();
        println!(
            "fuzz-protocol: globals offered: {} ({})",
            self.globals.len(),
            globals.join(", ")
        );
        let mut errors: Vec<_> = self.errors.iter().collect();
        errors.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
        for ((iface, code), (n, msg)) in errors.iter().take(12) {
            println!("fuzz-protocol:   {n:>7} x {iface} error {code}, e.g. {msg}");
        }
        for (why, n) in &self.closed_reasons {
            println!("fuzz-protocol:   {n:>7} x closed without a protocol error: {why}");
        }
        let ifaces: Vec<String> = self
            .per_interface
            .iter()
            .map(|(i, n)| format!("{i} {n}"))
            .collect();
        println!("fuzz-protocol: per interface: {}", ifaces.join(", "));
        println!(
            "fuzz-protocol: requests sent: {} ({:.0} per second, {:.0} per fuzz client)",
            self.requests,
            self.requests as f64 / elapsed.as_secs_f64().max(0.001),
            self.requests as f64 / self.sessions.max(1) as f64
        );
        println!(
            "fuzz-protocol: fuzz clients: {} (ended by a protocol error {}, by their budget {}, connection closed {})",
            self.sessions, self.ended_by_error, self.ended_by_budget, self.closed
        );
        // What the offered globals lead to (through new_id) and what got no request.
        let table = globals::table();
        let roots: Vec<_> = self
            .globals
            .keys()
            .filter_map(|g| table.get(g.as_str()).copied())
            .collect();
        let reachable = globals::reachable_requests(&roots);
        let missed: Vec<String> = reachable
            .iter()
            .filter(|r| !self.per_request.contains_key(r))
            .map(|(i, r)| format!("{i}.{r}"))
            .collect();
        println!(
            "fuzz-protocol: requests never sent: {}",
            if missed.is_empty() {
                "none".into()
            } else {
                missed.join(", ")
            }
        );
        println!(
            "fuzz-protocol: distinct requests exercised: {} of {} reachable",
            reachable.len() - missed.len(),
            reachable.len()
        );
        println!(
            "fuzz-protocol: interfaces exercised: {}",
            self.per_interface.len()
        );
        println!(
            "fuzz-protocol: protocol errors received: {}",
            self.ended_by_error
        );
        println!("fuzz-protocol: compositor deaths: {}", self.deaths);
        println!("fuzz-protocol: compositor hangs: {}", self.hangs);
        println!(
            "fuzz-protocol: leaked fds: {} (baseline {} fds, checked after each of {} rounds)",
            self.leaks, self.baseline_fds, self.rounds
        );
        println!(
            "fuzz-protocol: well-behaved client: {} captures, {} wrong",
            self.captures, self.wrong_captures
        );
        let unknown: Vec<&str> = self.unknown_globals.iter().map(String::as_str).collect();
        println!(
            "fuzz-protocol: unknown globals: {}",
            if unknown.is_empty() {
                "none".into()
            } else {
                unknown.join(", ")
            }
        );
    }
}

/// splitmix64: the seed of client number `n` of a run.
pub fn session_seed(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the fuzzer; the report says what went wrong, if anything.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    let table = globals::table();
    let mut planar = Planar::start(&cfg.planar, &cfg.planar_args)?;
    let fd_dir = planar.runtime.path().join("fuzz-fds");
    std::fs::create_dir_all(&fd_dir)?;
    let (witness, first) = match Witness::start(&planar.socket, TIMEOUT) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{}", planar.log_tail(30));
            return Err(e);
        }
    };
    check_witness(&first, 10)
        .map_err(|e| anyhow::anyhow!("the well-behaved client's first capture is wrong: {e}"))?;
    // A second capture before the baseline: whatever capturing allocates once is there.
    let reference = witness.capture(TIMEOUT).map_err(anyhow::Error::msg)?;
    // planar makes the seat's keyboard at the first wl_seat bind, and its keymap memfd
    // stays for good: made before the baseline too.
    let seat_conn = wayland_client::Connection::from_socket(
        std::os::unix::net::UnixStream::connect(&planar.socket)?,
    )?;
    crate::desktop_client::Probe::new(&seat_conn)?.bind_keyboard()?;
    let with_seat_client = planar.fds().len();
    drop(seat_conn);
    // The baseline once planar has closed that connection.
    planar.settle_fds(with_seat_client.saturating_sub(1), Duration::from_secs(5));
    let mut report = Report::default();
    let baseline_fds = planar.fds();
    report.baseline_fds = baseline_fds.len();
    let start = Instant::now();
    let mut last_verify = Instant::now();
    let mut n = 0u64;
    loop {
        let done = match cfg.replay {
            Some(_) => report.rounds == 1,
            None => start.elapsed().as_secs_f64() >= cfg.seconds,
        };
        if done {
            break;
        }
        let configs: Vec<SessionConfig> = (0..if cfg.replay.is_some() { 1 } else { cfg.clients })
            .map(|_| {
                n += 1;
                let seed = cfg.replay.unwrap_or_else(|| session_seed(cfg.seed, n));
                SessionConfig {
                    seed,
                    max_requests: fastrand::Rng::with_seed(seed).u64(1..=cfg.max_requests),
                    fd_budget: cfg.fd_budget,
                    timeout: TIMEOUT,
                    skip: cfg.skip.clone(),
                }
            })
            .collect();
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let handles: Vec<_> = configs
                .iter()
                .map(|c| {
                    let (socket, dir, table) = (&planar.socket, &fd_dir, &table);
                    s.spawn(move || session::run(socket, dir, table, c))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("fuzz client thread"))
                .collect()
        });
        report.rounds += 1;
        for o in &outcomes {
            report.add(o, &table);
        }
        // A connection that broke without a protocol error may mean planar is dying (a
        // panic takes a moment to unwind and print): give it that moment.
        let suspicious = outcomes
            .iter()
            .any(|o| matches!(o.end, End::Closed(_) | End::ConnectFailed(_) | End::Hang));
        if suspicious && !answers(&planar.socket, Duration::from_secs(10)) {
            wait_exit(&mut planar, Duration::from_secs(5));
        }
        if let Some(status) = planar.exited() {
            report.deaths += 1;
            println!(
                "fuzz-protocol: DEATH: planar exited with {status} during round {}",
                report.rounds
            );
            print_round(cfg, &outcomes);
            save_log(&planar, cfg);
            return Ok(finish(report, cfg, start));
        }
        if outcomes.iter().any(|o| o.end == End::Hang) {
            // A slow machine is not a hang: the witness must get no answer either.
            if let Err(e) = witness.capture(TIMEOUT) {
                report.hangs += 1;
                println!("fuzz-protocol: HANG: {e}");
                print_round(cfg, &outcomes);
                return Ok(finish(report, cfg, start));
            }
        }
        let now = planar.settle_fds(baseline_fds.len(), Duration::from_secs(5));
        if now > baseline_fds.len() {
            report.leaks += 1;
            println!(
                "fuzz-protocol: LEAK: planar holds {now} fds after round {}, {} before it started: {}",
                report.rounds,
                baseline_fds.len(),
                extra_fds(&baseline_fds, &planar.fds()).join(", ")
            );
            print_round(cfg, &outcomes);
            return Ok(finish(report, cfg, start));
        }
        if last_verify.elapsed() >= cfg.verify_every {
            last_verify = Instant::now();
            if !verify(&witness, &reference, cfg, &mut report) {
                print_round(cfg, &outcomes);
                return Ok(finish(report, cfg, start));
            }
        }
    }
    verify(&witness, &reference, cfg, &mut report);
    if let Some(status) = planar.exited() {
        report.deaths += 1;
        println!("fuzz-protocol: DEATH: planar exited with {status} at the end");
    }
    drop(witness);
    let log = planar.runtime.path().join("planar.log");
    match planar.stop() {
        Some(s) if s.success() => {}
        other => println!("fuzz-protocol: note: planar's exit at SIGTERM: {other:?}"),
    }
    // The log stays readable after the run (the runtime directory goes with `planar`).
    let _ = std::fs::create_dir_all(&cfg.out);
    let _ = std::fs::copy(&log, cfg.out.join("fuzz-protocol.planar.log"));
    Ok(finish(report, cfg, start))
}

/// Copies planar's log out of its runtime directory (removed at exit) and prints where the
/// panic is.
fn save_log(planar: &Planar, cfg: &Config) {
    let _ = std::fs::create_dir_all(&cfg.out);
    let path = cfg.out.join("fuzz-protocol.planar.log");
    let _ = std::fs::copy(planar.runtime.path().join("planar.log"), &path);
    let log = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("panicked at"))
        .unwrap_or(lines.len().saturating_sub(20));
    println!("--- planar log (whole log in {}) ---", path.display());
    for l in lines.iter().skip(at.saturating_sub(5)).take(60) {
        println!("{l}");
    }
}

/// Whether a new client connects and gets a roundtrip answered within `limit`.
fn answers(socket: &std::path::Path, limit: Duration) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        let ok = std::os::unix::net::UnixStream::connect(&socket)
            .ok()
            .and_then(|s| wayland_client::Connection::from_socket(s).ok())
            .is_some_and(|c| c.roundtrip().is_ok());
        let _ = tx.send(ok);
    });
    rx.recv_timeout(limit).unwrap_or(false)
}

fn wait_exit(planar: &mut Planar, limit: Duration) {
    let start = Instant::now();
    while planar.exited().is_none() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(report: Report, cfg: &Config, start: Instant) -> Report {
    report.print(cfg, start.elapsed());
    report
}

/// Captures through the well-behaved client and compares with the reference, exactly.
fn verify(witness: &Witness, reference: &RgbaImage, cfg: &Config, report: &mut Report) -> bool {
    report.captures += 1;
    let img = match witness.capture(TIMEOUT) {
        Ok(img) => img,
        Err(e) => {
            report.hangs += 1;
            println!("fuzz-protocol: HANG: the well-behaved client's capture: {e}");
            return false;
        }
    };
    let mut diff = RgbaImage {
        width: 0,
        height: 0,
        data: Vec::new(),
    };
    let c = compare(&img, reference, Fuzz::EXACT, None, Some(&mut diff));
    if c.matches() {
        return true;
    }
    report.wrong_captures += 1;
    let _ = std::fs::create_dir_all(&cfg.out);
    let actual = cfg.out.join("fuzz-protocol.actual.png");
    let diff_path = cfg.out.join("fuzz-protocol.diff.png");
    let _ = img.write_png(&actual);
    let _ = diff.write_png(&diff_path);
    println!(
        "fuzz-protocol: WRONG CAPTURE: {} (written to {} and {})",
        c.summary(),
        actual.display(),
        diff_path.display()
    );
    false
}

/// The fds planar holds now and did not at the baseline (a multiset difference).
fn extra_fds(baseline: &[String], now: &[String]) -> Vec<String> {
    let mut left: BTreeMap<&str, i64> = BTreeMap::new();
    for f in baseline {
        *left.entry(f).or_default() += 1;
    }
    let mut extra = Vec::new();
    for f in now {
        let e = left.entry(f).or_default();
        *e -= 1;
        if *e < 0 {
            extra.push(f.clone());
        }
    }
    extra
}

/// The seeds and last requests of the clients of the round that failed.
fn print_round(cfg: &Config, outcomes: &[Outcome]) {
    println!(
        "fuzz-protocol: run seed {:#x}; reproduce with --seed {:#x}",
        cfg.seed, cfg.seed
    );
    for o in outcomes {
        println!(
            "fuzz-protocol: client seed {:#x} (replay: --replay {:#x}), {} requests, ended: {:?}; last requests:",
            o.seed, o.seed, o.requests, o.end
        );
        for line in &o.recent {
            println!("    {line}");
        }
    }
}
