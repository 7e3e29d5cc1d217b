//! planar-client: submits exactly the dma-buf you describe (format, modifier, size,
//! stride, offset, planes in one fd or one each) with a known pattern, shows it, and says
//! what the compositor answered.

use clap::{Parser, Subcommand};
use planar_tests::{
    encode::Encoding,
    show::{parse_format, parse_modifier, parse_size, show, Pattern, ShowConfig, ShowResult},
};
use wayland_client::Connection;

#[derive(Parser)]
#[command(
    name = "planar-client",
    about = "Submits dma-bufs of any layout to a Wayland compositor"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Submit one buffer and show it.
    Show(ShowArgs),
    /// Capture the output to a PNG file.
    Capture(CaptureArgs),
    /// Show a window and print every pointer, keyboard and touch event it gets, until a key
    /// (Escape by default) is released.
    Input(InputArgs),
    /// Run test steps against planar (as `planar run --script` lines, one per argument):
    /// `planar-client do wait-window 'click 10 20' 'type hello' wait-idle`. Exit 123
    /// when a step fails.
    Do(DoArgs),
    /// Check any compositor's linux-dmabuf: every protocol error, every advertised pair,
    /// the pixels of a padded buffer. Prints a PASS/FAIL/SKIP table; exit 1 on a FAIL.
    Conformance(ConformanceArgs),
    /// Create, show and destroy buffers one after another; print the compositor's fd
    /// count and RSS after a warm-up and at the end (read from /proc, peer pid of the
    /// connection).
    Soak(SoakArgs),
}

#[derive(clap::Args)]
struct SoakArgs {
    /// Measured cycles.
    #[arg(long, default_value_t = 10_000)]
    cycles: u32,
    /// Cycles before the first measurement (caches and allocators settle).
    #[arg(long, default_value_t = 200)]
    warmup: u32,
    #[arg(long, default_value = "XR24", value_parser = parse_format)]
    format: drm_fourcc::DrmFourcc,
    #[arg(long, default_value = "64x64", value_parser = parse_size)]
    size: (u32, u32),
}

fn soak(a: SoakArgs) -> anyhow::Result<()> {
    let mut cfg = ShowConfig::new(a.format, a.size.0, a.size.1);
    cfg.frames = None;
    let conn = Connection::connect_to_env()?;
    let r = planar_tests::soak::soak(conn, &cfg, a.warmup, a.cycles)?;
    let fmt = |u: Option<planar_tests::proc::Usage>| match u {
        Some(u) => format!("fds {} rss {} KiB", u.fds, u.rss_kib),
        None => "unknown (/proc not readable)".to_string(),
    };
    println!(
        "planar-client: soak: {} {}x{}: {} cycles after {} warm-up, {} failed",
        a.format, a.size.0, a.size.1, r.cycles, a.warmup, r.failed
    );
    println!("planar-client: soak: compositor before: {}", fmt(r.before));
    println!("planar-client: soak: compositor after:  {}", fmt(r.after));
    if let (Some(b), Some(f)) = (r.before, r.after) {
        println!(
            "planar-client: soak: fd change {:+}, rss growth {:+} KiB",
            f.fds as i64 - b.fds as i64,
            f.rss_kib as i64 - b.rss_kib as i64
        );
    }
    Ok(())
}

#[derive(clap::Args)]
struct DoArgs {
    /// The steps, one per argument.
    #[arg(required = true, allow_hyphen_values = true)]
    steps: Vec<String>,
}

fn run_steps(a: DoArgs) -> anyhow::Result<()> {
    let conn = Connection::connect_to_env()?;
    let mut test = planar_tests::test_client::PlanarTest::new(&conn)?;
    if let Err(err) = planar_tests::steps_client::run(&mut test, &a.steps) {
        eprintln!("planar-client: {err:#}");
        std::process::exit(planar_tests::steps_client::EXIT_STEP_FAILED);
    }
    Ok(())
}

#[derive(clap::Args)]
struct ConformanceArgs {
    /// Highest zwp_linux_dmabuf_v1 version to bind.
    #[arg(long, default_value_t = 6)]
    dmabuf_version: u32,
}

fn conformance(a: ConformanceArgs) -> anyhow::Result<()> {
    let connect = || Ok(Connection::connect_to_env()?);
    let report = planar_tests::conformance::run(&connect, a.dmabuf_version)?;
    print!("{}", report.table());
    if report.failed() > 0 {
        std::process::exit(1);
    }
    Ok(())
}

#[derive(clap::Args)]
struct InputArgs {
    #[arg(long, default_value = "256x256", value_parser = parse_size)]
    size: (u32, u32),
    /// Ask to be fullscreen (configures are printed as `configure WxH fullscreen`).
    #[arg(long)]
    fullscreen: bool,
    /// The window's title.
    #[arg(long, default_value = "planar-client input")]
    title: String,
    /// The evdev key code whose release ends the client (1: Escape).
    #[arg(long, default_value_t = planar_tests::input_client::KEY_ESC)]
    until_key: u32,
}

#[derive(clap::Args)]
struct CaptureArgs {
    /// planar-test (planar's private protocol: waits until prior commits are shown),
    /// ext (ext-image-copy-capture-v1) or wlr (wlr-screencopy).
    #[arg(long, default_value = "planar-test", value_parser = ["planar-test", "wlr", "ext"])]
    via: String,
    #[arg(long)]
    out: std::path::PathBuf,
}

fn capture(a: CaptureArgs) -> anyhow::Result<()> {
    let conn = Connection::connect_to_env()?;
    let image = if a.via == "wlr" || a.via == "ext" {
        let captured = if a.via == "wlr" {
            planar_tests::capture::wlr_screencopy(&conn)?
        } else {
            planar_tests::capture::ext_image_copy(&conn)?
        };
        match captured {
            planar_tests::capture::Captured::Image(img) => img,
            planar_tests::capture::Captured::Refused => {
                anyhow::bail!("the compositor refused the capture")
            }
        }
    } else {
        let mut test = planar_tests::test_client::PlanarTest::new(&conn)?;
        match test.capture()? {
            Ok((img, seq)) => {
                println!("planar-client: captured frame {seq}");
                img
            }
            Err(why) => anyhow::bail!("the compositor refused the capture: {why}"),
        }
    };
    image.write_png(&a.out)?;
    println!(
        "planar-client: wrote {} ({}x{})",
        a.out.display(),
        image.width,
        image.height
    );
    Ok(())
}

#[derive(clap::Args)]
struct ShowArgs {
    /// Allocator: auto (the most real one here), gbm (a render node's own LINEAR buffer,
    /// single-plane RGB), udmabuf, heap (dma-heap system) or memfd (a sealed memfd).
    #[arg(long, default_value = "auto")]
    alloc: String,
    /// DRM format: fourcc (NV12, XR24) or name (xrgb8888).
    #[arg(long, default_value = "XR24", value_parser = parse_format)]
    format: drm_fourcc::DrmFourcc,
    /// linear, invalid, a hex modifier, or auto (the one the compositor's feedback
    /// prefers).
    #[arg(long, default_value = "linear", value_parser = parse_modifier_arg)]
    modifier: ModifierArg,
    #[arg(long, default_value = "256x256", value_parser = parse_size)]
    size: (u32, u32),
    /// Stride of plane 0 in bytes (default: the minimum plus --pad).
    #[arg(long)]
    stride: Option<u32>,
    /// Bytes added to every plane's minimum stride.
    #[arg(long, default_value_t = 0)]
    pad: u32,
    /// Offset of the first plane in each fd.
    #[arg(long, default_value_t = 0)]
    offset: u32,
    /// All planes in one fd, at increasing offsets.
    #[arg(long, conflicts_with = "fd_per_plane")]
    one_fd: bool,
    /// One fd per plane (the default).
    #[arg(long)]
    fd_per_plane: bool,
    /// quads, bars, gradient, checker or solid:RRGGBB.
    #[arg(long, default_value = "quads", value_parser = Pattern::parse)]
    pattern: Pattern,
    /// YUV matrix of the encoded pattern: bt601 or bt709.
    #[arg(long, default_value = "bt601", value_parser = ["bt601", "bt709"])]
    matrix: String,
    /// YUV range of the encoded pattern: limited or full.
    #[arg(long, default_value = "limited", value_parser = ["limited", "full"])]
    range: String,
    /// Store rows bottom-up and set the y_invert flag.
    #[arg(long)]
    y_invert: bool,
    /// Use create_immed instead of create.
    #[arg(long)]
    immed: bool,
    /// Frames to show, one commit each (0: until closed or killed, printing
    /// "planar-client: shown" once the first frame is presented).
    #[arg(long, default_value_t = 1)]
    frames: u32,
    /// Highest zwp_linux_dmabuf_v1 version to bind.
    #[arg(long, default_value_t = 5)]
    dmabuf_version: u32,
    /// Buffers in the swapchain, cycled on frame callbacks.
    #[arg(long, default_value_t = 1)]
    buffers: u32,
    /// Damage on commits after the first: full, or rows:N (the first N rows).
    #[arg(long, default_value = "full", value_parser = parse_damage)]
    damage: Damage,
    /// Print the presentation timestamp of every frame shown (wp_presentation).
    #[arg(long)]
    presentation: bool,
    /// Ask planar what it did with the buffer (planar-test-v1) and print the record.
    #[arg(long)]
    query: bool,
    /// Declare --matrix/--range to the compositor with wp-color-representation-v1.
    #[arg(long)]
    color_representation: bool,
    /// Capture the output and check the pattern, allowing this much difference per
    /// channel (default 4 with the flag alone); exit 5 past it.
    #[arg(long, num_args = 0..=1, default_missing_value = "4")]
    verify: Option<u8>,
}

/// `--damage`: the whole buffer (`None`) or its first N rows.
#[derive(Clone, Copy)]
struct Damage(Option<u32>);

fn parse_damage(s: &str) -> Result<Damage, String> {
    match s {
        "full" => Ok(Damage(None)),
        _ => s
            .strip_prefix("rows:")
            .and_then(|n| n.parse().ok())
            .map(|n| Damage(Some(n)))
            .ok_or_else(|| format!("{s:?} is not full or rows:N")),
    }
}

/// `--modifier`: `None` is auto.
#[derive(Clone, Copy)]
struct ModifierArg(Option<u64>);

impl ModifierArg {
    fn is_none(&self) -> bool {
        self.0.is_none()
    }
    fn unwrap_or(&self, d: u64) -> u64 {
        self.0.unwrap_or(d)
    }
}

fn parse_modifier_arg(s: &str) -> Result<ModifierArg, String> {
    if s == "auto" {
        return Ok(ModifierArg(None));
    }
    parse_modifier(s).map(|m| ModifierArg(Some(m)))
}

fn main() -> anyhow::Result<()> {
    let a = match Cli::parse().command {
        Command::Show(a) => a,
        Command::Capture(a) => return capture(a),
        Command::Input(a) => {
            let conn = Connection::connect_to_env()?;
            return planar_tests::input_client::run(
                conn,
                a.size.0,
                a.size.1,
                a.fullscreen,
                a.until_key,
                &a.title,
            );
        }
        Command::Conformance(a) => return conformance(a),
        Command::Do(a) => return run_steps(a),
        Command::Soak(a) => return soak(a),
    };
    let single_plane_rgb = planar_protocol::format::format_info(a.format as u32)
        .is_some_and(|f| f.planes == 1 && !f.yuv);
    let (alloc, why) = planar_tests::alloc::pick(&a.alloc, single_plane_rgb)?;
    let cfg = ShowConfig {
        format: a.format,
        modifier: a.modifier.unwrap_or(planar_protocol::advertise::MOD_LINEAR),
        width: a.size.0,
        height: a.size.1,
        stride: a.stride,
        pad: a.pad,
        offset: a.offset,
        one_fd: a.one_fd,
        pattern: a.pattern,
        encoding: Encoding {
            bt709: a.matrix == "bt709",
            full_range: a.range == "full",
        },
        y_invert: a.y_invert,
        immed: a.immed,
        frames: (a.frames > 0).then_some(a.frames),
        dmabuf_version: a.dmabuf_version,
        buffers: a.buffers,
        damage_rows: a.damage.0,
        print_presentation: a.presentation,
        query: a.query,
        color_representation: a.color_representation,
        verify: a.verify,
        auto_modifier: a.modifier.is_none(),
        alloc,
    };
    println!("planar-client: allocator {why}");
    let conn = Connection::connect_to_env()?;
    let result = show(conn, &cfg)?;
    let what = format!(
        "{} {}x{} modifier {:#x}",
        cfg.format, cfg.width, cfg.height, cfg.modifier
    );
    match result {
        ShowResult::Shown => {
            println!("planar-client: {what}: created and shown");
            Ok(())
        }
        ShowResult::VerifyFailed(why) => {
            println!("planar-client: {what}: shown, but the output does not match: {why}");
            std::process::exit(5)
        }
        ShowResult::Failed => {
            println!("planar-client: {what}: failed (the compositor could not import it)");
            std::process::exit(3)
        }
        ShowResult::ProtocolError { code, message } => {
            println!("planar-client: {what}: protocol error {code}: {message}");
            std::process::exit(4)
        }
    }
}
