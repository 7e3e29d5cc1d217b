//! Command-line interface of the `planar` binary.

use std::{path::PathBuf, str::FromStr, time::Duration};

use clap::{Args, Parser, Subcommand};
use planar_renderer::{
    compare::{parse_clip, parse_fuzz, CheckOptions, Clip, Fuzz},
    cpu::convert::{Matrix, YuvEncoding},
    import::{parse_fail_import, ImportChoice, ImportPolicy},
    RendererChoice,
};

#[derive(Debug, Parser)]
#[command(
    name = "planar",
    version,
    about = "A headless Wayland compositor for testing dma-buf clients"
)]
pub struct Cli {
    /// Log lines as text for people, or as one JSON object per line for machines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a compositor, optionally with a client command under it.
    Run(Box<RunArgs>),
    /// Print the renderer planar would choose and the formats it can take.
    Info(InfoArgs),
    /// Compare a PNG with a reference PNG (exit 0 when it matches, 1 when not).
    Compare(CompareArgs),
    /// Gather the results of runs under DIR (e.g. CI shards) into one HTML page and one
    /// JUnit file (exit 1 when any run failed).
    Report(ReportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Directory searched (recursively) for the `*.planar-run.json` files runs leave.
    pub dir: PathBuf,
    /// Where to write the merged page (default: DIR/report.html when --junit is absent).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Where to write the merged JUnit XML.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write planar.1 and planar-SUBCOMMAND.1 here instead of printing planar.1.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// How an image is checked against a reference: shared by `compare` and `run --expect`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// Allowed per-channel difference, actual minus reference: LO,HI or N (-N,N).
    #[arg(long, value_parser = parse_fuzz, allow_hyphen_values = true)]
    pub fuzz: Option<Fuzz>,
    /// Compare only this rectangle: X,Y,W,H.
    #[arg(long, value_parser = parse_clip)]
    pub clip: Option<Clip>,
    /// Where to write the diff image on a mismatch (default: REF.diff.png).
    #[arg(long)]
    pub diff: Option<PathBuf>,
    /// Write (or refresh) the reference from the actual image (also PLANAR_BLESS=1).
    #[arg(long)]
    pub bless: bool,
}

impl CheckArgs {
    pub fn options(&self) -> CheckOptions {
        CheckOptions {
            fuzz: self.fuzz,
            clip: self.clip,
            diff: self.diff.clone(),
            bless: self.bless,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub actual: PathBuf,
    pub reference: PathBuf,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Args)]
pub struct RendererArgs {
    /// Renderer: auto tries GLES (GBM, then EGL software device, then surfaceless) then
    /// pixman; gles stops with an error when no EGL display works; gles-software skips GBM.
    #[arg(long, default_value = "auto", value_parser = RendererChoice::from_str)]
    pub renderer: RendererChoice,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub renderer: RendererArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Output size in pixels.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    pub size: (i32, i32),
    /// Output scale (integer).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=8))]
    pub scale: i32,
    /// Output refresh rate in Hz; 0 repaints only on damage or a capture request, with no
    /// timers (frame callbacks go out with every frame).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub refresh: u32,
    /// Presentation clock: monotonic, or virtual (advances by exactly one refresh interval
    /// per frame, from 0, so timestamps repeat run after run).
    #[arg(long, default_value = "monotonic", value_parser = ["monotonic", "virtual"])]
    pub clock: String,
    #[command(flatten)]
    pub renderer: RendererArgs,
    /// Where the output goes: headless (offscreen only), or nested (also a window on the
    /// Wayland or X11 session in WAYLAND_DISPLAY / DISPLAY, sized as the window, taking its
    /// pointer and keyboard).
    #[arg(long, default_value = "headless", value_parser = ["headless", "nested"])]
    pub backend: String,
    /// Socket name inside $XDG_RUNTIME_DIR (default: a free wayland-N).
    #[arg(long)]
    pub socket: Option<String>,
    /// Write the last frame shown before CMD exited (or before the first client that had
    /// shown a surface disconnected) to this PNG file.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Take the screenshot after this many frames instead of at exit.
    #[arg(long, conflicts_with = "on_exit")]
    pub after_frames: Option<u64>,
    /// Take the screenshot when CMD exits (or a shown window goes away): the default.
    #[arg(long)]
    pub on_exit: bool,
    /// Compare the screenshot with this reference PNG; a mismatch fails the run (exit 125).
    #[arg(long)]
    pub expect: Option<PathBuf>,
    #[command(flatten)]
    pub check: CheckArgs,
    /// End CMD and fail when it runs longer than this many seconds.
    #[arg(long, value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
    /// Highest zwp_linux_dmabuf_v1 version advertised (1 to 5), to test clients' older paths.
    #[arg(long, default_value_t = planar_protocol::dmabuf::MAX_VERSION, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub dmabuf_version: u32,
    /// Which path dma-bufs take: auto (EGL zero-copy, else CPU), egl only, or cpu only.
    #[arg(long = "import", default_value = "auto", value_parser = ImportChoice::from_str)]
    pub import: ImportChoice,
    /// Make the EGL import of FOURCC (optionally only with MODIFIER: linear, invalid or
    /// hex) fail as a driver's would, e.g. `--fail-import NV12` or `XR24:linear`.
    #[arg(long = "fail-import", value_parser = parse_fail_import)]
    pub fail_import: Vec<(u32, Option<u64>)>,
    /// Which modifiers linux-dmabuf advertises: all, or linear-only.
    #[arg(long, default_value = "all", value_parser = ["all", "linear-only"])]
    pub modifiers: String,
    /// YUV→RGB matrix of the CPU path: bt601 or bt709.
    #[arg(long, default_value = "bt601", value_parser = ["bt601", "bt709"])]
    pub yuv_matrix: String,
    /// YUV range of the CPU path: limited or full.
    #[arg(long, default_value = "limited", value_parser = ["limited", "full"])]
    pub yuv_range: String,
    /// Who may capture the output: spawned (the command, its descendants and planar's own
    /// tools) or all.
    #[arg(long, default_value = "spawned", value_parser = ["spawned", "all"])]
    pub allow_capture: String,
    /// Write every buffer's import record to this JSON file at exit.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write an HTML page of this run (screenshot, reference, diff, import records), and
    /// its result as NAME.planar-run.json beside it for `planar report`.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write a JUnit XML file with this run as a testcase (and the result file beside it).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// The testcase name in --html/--junit (default: the --expect file's stem, else CMD).
    #[arg(long)]
    pub name: Option<String>,
    /// The client command to run; without it planar runs until SIGINT/SIGTERM.
    #[arg(last = true)]
    pub command: Vec<String>,
}

impl RunArgs {
    /// The import policy these options describe.
    pub fn import_policy(&self) -> ImportPolicy {
        ImportPolicy {
            choice: self.import,
            fail_import: self.fail_import.clone(),
            encoding: YuvEncoding {
                matrix: if self.yuv_matrix == "bt709" {
                    Matrix::Bt709
                } else {
                    Matrix::Bt601
                },
                full_range: self.yuv_range == "full",
            },
        }
    }
}

fn parse_size(s: &str) -> Result<(i32, i32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("size {s:?} is not WxH"))?;
    let parse = |v: &str| {
        v.parse::<i32>()
            .ok()
            .filter(|n| (1..=16384).contains(n))
            .ok_or_else(|| format!("size {s:?}: {v:?} is not a number from 1 to 16384"))
    };
    Ok((parse(w)?, parse(h)?))
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs < 1e9) {
        return Err(format!("timeout {s:?} must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_reject() {
        assert_eq!(parse_size("1920x1080"), Ok((1920, 1080)));
        assert!(parse_size("1920").is_err());
        assert!(parse_size("0x10").is_err());
        assert!(parse_size("10x99999").is_err());
    }

    #[test]
    fn timeouts_parse_and_reject() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-3").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
