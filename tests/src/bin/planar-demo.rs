//! planar-demo: the bundled demo client. One window, two buffers side by side, one per
//! import path:
//! - left, 256x256 XRGB8888 in a linear dma-buf: the EGL path (zero-copy) where the
//!   renderer is GLES;
//! - right, a subsurface with 256x256 NV12 (BT.601 limited): the CPU path (llvmpipe
//!   refuses multi-planar YUV from memory buffers).
//!
//! Both show the same quadrants: red, green / blue, white. Where the compositor offers no
//! linux-dmabuf, the left buffer is wl_shm and there is no right one.

use anyhow::Context;
use clap::Parser;
use drm_fourcc::DrmFourcc as Fourcc;
use planar_tests::{
    dmabuf_client::DmabufConn,
    shm_client::{self, ShmClientConfig},
    show::{create_buffer, ShowConfig},
    window::Window,
};
use wayland_client::Connection;

#[derive(Parser)]
#[command(about = "Shows a known pattern under a Wayland compositor, one buffer per import path")]
struct Args {
    /// Size of each buffer.
    #[arg(long, default_value = "256x256")]
    size: String,
    /// Exit after this many presented frames (0: run until closed or killed).
    #[arg(long, default_value_t = 1)]
    frames: u32,
    /// Use wl_shm only.
    #[arg(long)]
    shm: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (w, h) = planar_tests::show::parse_size(&args.size).map_err(anyhow::Error::msg)?;
    let frames = (args.frames > 0).then_some(args.frames);
    let conn = Connection::connect_to_env().context("error connecting to the compositor")?;
    let shm = || {
        println!("planar-demo: showing the pattern from wl_shm");
        shm_client::run_on(
            conn.clone(),
            &ShmClientConfig {
                width: w,
                height: h,
                frames,
                title: "planar-demo".into(),
            },
        )
    };
    if args.shm {
        return shm();
    }
    let Ok(mut dmabuf) = DmabufConn::new(conn.clone(), 5) else {
        return shm();
    };
    let mut window = Window::new(&conn, "planar-demo")?;
    let cfg = |format| ShowConfig {
        one_fd: true,
        frames,
        ..ShowConfig::new(format, w, h)
    };
    let left = create_buffer(&mut dmabuf, &cfg(Fourcc::Xrgb8888))?;
    let right = create_buffer(&mut dmabuf, &cfg(Fourcc::Nv12))?;
    let (Ok((left, _left_fds)), Ok((right, _right_fds))) = (left, right) else {
        anyhow::bail!("the compositor refused the demo's dma-bufs");
    };
    let sub = window.subsurface(w as i32, 0)?;
    sub.attach(Some(&right), 0, 0);
    sub.damage_buffer(0, 0, w as i32, h as i32);
    sub.commit();
    window.show(&left, w as i32, None, h as i32);
    window.wait_presented()?;
    println!("planar-demo: XRGB8888 on the left, NV12 on the right, both dma-bufs");
    window.run_frames(frames.map(|n| n.saturating_sub(1)))?;
    sub.destroy();
    window.close()?;
    left.destroy();
    right.destroy();
    conn.flush()?;
    Ok(())
}
