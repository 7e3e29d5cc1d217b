//! Command-line interface of the `planar` binary.

use std::{path::PathBuf, time::Duration};

use clap::{builder::TypedValueParser, Args, Parser, Subcommand, ValueEnum};
use planar_image::{parse_clip, parse_fuzz, CheckOptions, Clip, Fuzz};
use planar_renderer::{
    cpu::convert::{Matrix, YuvEncoding},
    import::{ImportChoice, ImportPolicy},
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
    #[arg(long, default_value = "auto", value_parser = enum_into::<RendererArg, RendererChoice>())]
    pub renderer: RendererChoice,
}

/// `--renderer`'s values. The renderer's [`RendererChoice`] derives nothing for the command
/// line: this enum is the CLI's spelling of it, mapped as clap parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RendererArg {
    Auto,
    Gles,
    GlesSoftware,
    Pixman,
}

impl From<RendererArg> for RendererChoice {
    fn from(arg: RendererArg) -> Self {
        match arg {
            RendererArg::Auto => RendererChoice::Auto,
            RendererArg::Gles => RendererChoice::Gles,
            RendererArg::GlesSoftware => RendererChoice::GlesSoftware,
            RendererArg::Pixman => RendererChoice::Pixman,
        }
    }
}

/// `--import`'s values, mapped to the renderer's [`ImportChoice`] as [`RendererArg`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportArg {
    Auto,
    Egl,
    Cpu,
}

impl From<ImportArg> for ImportChoice {
    fn from(arg: ImportArg) -> Self {
        match arg {
            ImportArg::Auto => ImportChoice::Auto,
            ImportArg::Egl => ImportChoice::Egl,
            ImportArg::Cpu => ImportChoice::Cpu,
        }
    }
}

/// Parses the CLI enum `A` with clap (its values listed in `--help` and in errors) and
/// hands the program `T`, the type of the crate that uses the value.
fn enum_into<A, T>() -> impl TypedValueParser<Value = T>
where
    A: ValueEnum + Clone + Send + Sync + 'static,
    T: From<A> + Clone + Send + Sync + 'static,
{
    clap::builder::EnumValueParser::<A>::new().map(T::from)
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub renderer: RendererArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Output size in pixels.
    #[arg(long, default_value = "1280x720", value_parser = parse_size, conflicts_with = "outputs")]
    pub size: (i32, i32),
    /// An output, WxH[@HZ][,scale=S][,transform=T][,name=N][,pos=X,Y] (repeatable; the
    /// first is the first output). Without it: one output of --size and --scale.
    #[arg(long = "output", value_name = "SPEC", value_parser = crate::outputs::parse_output_spec)]
    pub outputs: Vec<crate::outputs::OutputSpec>,
    /// Output scale (integer).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=8), conflicts_with = "outputs")]
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
    #[arg(long, value_enum, default_value_t)]
    pub backend: crate::backend::BackendKind,
    /// Socket name inside $XDG_RUNTIME_DIR (default: a free wayland-N).
    #[arg(long)]
    pub socket: Option<String>,
    /// Write the last frame shown before CMD exited (or before the first client that had
    /// shown a surface disconnected) to this PNG file: FILE for the whole layout, NAME=FILE
    /// for one output (repeatable).
    #[arg(long = "screenshot", value_name = "[NAME=]FILE", value_parser = parse_screenshot)]
    pub screenshots: Vec<(Option<String>, PathBuf)>,
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
    /// Highest zwp_linux_dmabuf_v1 version advertised (1 to 6), to test clients' older paths.
    #[arg(long, default_value_t = planar_protocol::dmabuf::MAX_VERSION, value_parser = clap::value_parser!(u32).range(1..=6))]
    pub dmabuf_version: u32,
    /// Which path dma-bufs take: auto (EGL zero-copy, else CPU), egl only, or cpu only.
    #[arg(long = "import", default_value = "auto", value_parser = enum_into::<ImportArg, ImportChoice>())]
    pub import: ImportChoice,
    /// Make the EGL import of FOURCC (optionally only with MODIFIER: linear, invalid or
    /// hex) fail as a driver's would, e.g. `--fail-import NV12` or `XR24:linear`.
    #[arg(long = "fail-import", value_parser = parse_fail_import)]
    pub fail_import: Vec<(u32, Option<u64>)>,
    /// Which modifiers linux-dmabuf advertises: all, or linear-only.
    #[arg(long, default_value = "all", value_parser = ["all", "linear-only"])]
    pub modifiers: String,
    /// YUV→RGB matrix of the CPU path: bt601, bt709 or bt2020.
    #[arg(long, default_value = "bt601", value_parser = ["bt601", "bt709", "bt2020"])]
    pub yuv_matrix: String,
    /// YUV range of the CPU path: limited or full.
    #[arg(long, default_value = "limited", value_parser = ["limited", "full"])]
    pub yuv_range: String,
    /// Who may capture the output: spawned (the command, its descendants and processes
    /// carrying the capture secret planar gave the command) or all.
    #[arg(long, default_value = "spawned", value_parser = ["spawned", "all"])]
    pub allow_capture: String,
    /// Run X11 apps too: start a rootless Xwayland with an X11 window manager and give CMD
    /// its DISPLAY (CMD starts once the X server answers). Needs the `xwayland` package.
    #[arg(long)]
    pub xwayland: bool,
    /// Keyboard layout of the seat, LAYOUT[:VARIANT] (e.g. us, de:nodeadkeys); XKB's
    /// default without it.
    #[arg(long, default_value = "", value_parser = parse_keymap, hide_default_value = true)]
    pub keymap: crate::keymap::KeymapNames,
    /// Who may inject input (virtual keyboard/pointer, planar-test-v1 input): spawned
    /// (the command, its descendants and planar's own tools) or all.
    #[arg(long, default_value = "spawned", value_parser = ["spawned", "all"])]
    pub allow_input: String,
    /// Run the test steps in FILE (one per line) against CMD; a failing step stops the
    /// run with exit 123 and names the line.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// A per-client limit, NAME=N (repeatable): params, fds, buffers or captures (see
    /// README "Security and limits").
    #[arg(long = "limit", value_name = "NAME=N", value_parser = crate::limits::parse_limit)]
    pub limit: Vec<(String, usize)>,
    /// Write every buffer's import record to this JSON file (records of destroyed
    /// buffers are streamed to it as they go; the live ones are added at exit).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Bytes all CPU-path buffers together may map and convert (suffix K, M or G); a
    /// buffer past it gets `failed` at creation.
    #[arg(long, default_value = "512M", value_parser = parse_bytes)]
    pub cpu_budget: u64,
    /// The same for the buffers of one client process (default: half the total, so one
    /// client alone cannot take the CPU path from the others).
    #[arg(long, default_value = "256M", value_parser = parse_bytes)]
    pub cpu_budget_per_client: u64,
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
                matrix: match self.yuv_matrix.as_str() {
                    "bt709" => Matrix::Bt709,
                    "bt2020" => Matrix::Bt2020,
                    _ => Matrix::Bt601,
                },
                full_range: self.yuv_range == "full",
            },
            cpu_budget: self.cpu_budget,
            cpu_budget_per_client: self.cpu_budget_per_client,
            report: self.records_file(),
        }
    }

    /// Where import records are streamed: `--report`, or, for the records table of
    /// `--html`/`--junit` without it, a file beside that output (removed at exit).
    pub fn records_file(&self) -> Option<PathBuf> {
        self.report.clone().or_else(|| {
            self.html
                .as_ref()
                .or(self.junit.as_ref())
                .map(|p| p.with_extension("records.json"))
        })
    }
}

/// `FILE` or `NAME=FILE`: NAME is an output name (letters, digits, - and _ only), so a
/// path with '=' in it but a '/' or '.' before it stays a path.
fn parse_screenshot(s: &str) -> Result<(Option<String>, PathBuf), String> {
    if let Some((name, file)) = s.split_once('=') {
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if is_name {
            if file.is_empty() {
                return Err(format!("screenshot {s:?}: no file after {name}="));
            }
            return Ok((Some(name.to_string()), file.into()));
        }
    }
    Ok((None, s.into()))
}

pub(crate) fn parse_size(s: &str) -> Result<(i32, i32), String> {
    // 16384: the largest output planar makes (the CPU path's pixman limit too).
    let (w, h) = planar_protocol::names::parse_size(s, 16384)?;
    Ok((w as i32, h as i32))
}

fn parse_keymap(s: &str) -> Result<crate::keymap::KeymapNames, String> {
    if s.is_empty() {
        return Ok(Default::default());
    }
    crate::keymap::KeymapNames::parse(s)
}

/// `N`, `NK`, `NM` or `NG` (binary units).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?} is not a size (a number, optionally with K, M or G)"))
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

/// Parses `--fail-import FOURCC[:MODIFIER]` (`NV12`, `XR24:linear`, `AR24:0x0`).
fn parse_fail_import(s: &str) -> Result<(u32, Option<u64>), String> {
    use planar_protocol::names::{parse_fourcc, parse_modifier};
    let (f, m) = match s.split_once(':') {
        Some((f, m)) => (f, Some(m)),
        None => (s, None),
    };
    Ok((parse_fourcc(f)?, m.map(parse_modifier).transpose()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use planar_protocol::advertise::MOD_LINEAR;

    #[test]
    fn sizes_parse_and_reject() {
        assert_eq!(parse_size("1920x1080"), Ok((1920, 1080)));
        assert!(parse_size("1920").is_err());
        assert!(parse_size("0x10").is_err());
        assert!(parse_size("10x99999").is_err());
    }

    #[test]
    fn screenshots_name_an_output_or_not() {
        assert_eq!(parse_screenshot("a.png"), Ok((None, "a.png".into())));
        assert_eq!(
            parse_screenshot("HEADLESS-2=b.png"),
            Ok((Some("HEADLESS-2".into()), "b.png".into()))
        );
        assert_eq!(
            parse_screenshot("./x=y.png"),
            Ok((None, "./x=y.png".into()))
        );
        assert!(parse_screenshot("LEFT=").is_err());
    }

    #[test]
    fn byte_sizes_parse_and_reject() {
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("4g"), Ok(4 << 30));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("M").is_err());
        assert!(parse_bytes("-1K").is_err());
        assert!(parse_bytes("99999999999999G").is_err());
    }

    #[test]
    fn fail_import_parses() {
        let nv12 = u32::from_le_bytes(*b"NV12");
        assert_eq!(parse_fail_import("NV12"), Ok((nv12, None)));
        assert_eq!(
            parse_fail_import("XR24:linear"),
            Ok((u32::from_le_bytes(*b"XR24"), Some(MOD_LINEAR)))
        );
        assert_eq!(
            parse_fail_import("R8:0x0"),
            Ok((u32::from_le_bytes(*b"R8  "), Some(0)))
        );
        assert!(parse_fail_import("TOOLONG").is_err());
        assert!(parse_fail_import("NV12:zz").is_err());
    }

    /// The enums clap parses reach the renderer as the renderer's own values, with the
    /// spellings the FromStr impls in the renderer used to accept.
    #[test]
    fn renderer_and_import_values_map() {
        let run = |args: &[&str]| {
            let mut argv = vec!["planar", "run"];
            argv.extend_from_slice(args);
            argv.extend_from_slice(&["--", "true"]);
            match Cli::try_parse_from(argv).map(|c| c.command) {
                Ok(Command::Run(run)) => Ok((run.renderer.renderer, run.import)),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.kind()),
            }
        };
        assert_eq!(run(&[]), Ok((RendererChoice::Auto, ImportChoice::Auto)));
        for (arg, want) in [
            ("auto", RendererChoice::Auto),
            ("gles", RendererChoice::Gles),
            ("gles-software", RendererChoice::GlesSoftware),
            ("pixman", RendererChoice::Pixman),
        ] {
            assert_eq!(run(&["--renderer", arg]).unwrap().0, want);
        }
        for (arg, want) in [
            ("auto", ImportChoice::Auto),
            ("egl", ImportChoice::Egl),
            ("cpu", ImportChoice::Cpu),
        ] {
            assert_eq!(run(&["--import", arg]).unwrap().1, want);
        }
        assert_eq!(
            run(&["--renderer", "vulkan"]),
            Err(clap::error::ErrorKind::InvalidValue)
        );
        assert_eq!(
            run(&["--import", "gpu"]),
            Err(clap::error::ErrorKind::InvalidValue)
        );
    }

    #[test]
    fn timeouts_parse_and_reject() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-3").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
