//! planar-demo: the bundled demo client. It shows a 256x256 window of four coloured
//! quadrants (red, green / blue, white) from a wl_shm buffer and exits once it has been
//! presented for `--frames` frames.

use clap::Parser;
use planar_tests::shm_client::{run, ShmClientConfig};

#[derive(Parser)]
#[command(about = "Shows a known pattern under a Wayland compositor")]
struct Args {
    /// Window size.
    #[arg(long, default_value = "256x256")]
    size: String,
    /// Exit after this many presented frames (0: run until closed or killed).
    #[arg(long, default_value_t = 1)]
    frames: u32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (w, h) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| anyhow::anyhow!("--size {:?} is not WxH", args.size))?;
    run(&ShmClientConfig {
        width: w,
        height: h,
        frames: (args.frames > 0).then_some(args.frames),
        title: "planar-demo".into(),
    })
}
