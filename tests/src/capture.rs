//! Capturing the compositor's output from a client: wlr-screencopy into a wl_shm buffer.

use std::os::fd::AsFd;

use anyhow::{bail, Context};
use wayland_client::{
    delegate_noop,
    globals::registry_queue_init,
    protocol::{
        wl_buffer::WlBuffer, wl_output::WlOutput, wl_shm, wl_shm::WlShm, wl_shm_pool::WlShmPool,
    },
    Connection, Dispatch, QueueHandle, WEnum,
};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
};

use planar_image::RgbaImage;

#[derive(Default)]
struct Frame {
    format: Option<(u32, u32, u32, u32)>,
    buffer_done: bool,
    ready: bool,
    failed: bool,
}

/// What a capture gave.
#[derive(Debug)]
pub enum Captured {
    Image(RgbaImage),
    /// The compositor sent `failed` (for instance: not allowed to capture).
    Refused,
}

/// Captures the whole first output with wlr-screencopy.
pub fn wlr_screencopy(conn: &Connection) -> anyhow::Result<Captured> {
    let (globals, mut queue) = registry_queue_init::<Frame>(conn)?;
    let qh = queue.handle();
    let manager: ZwlrScreencopyManagerV1 = globals
        .bind(&qh, 1..=3, ())
        .context("zwlr_screencopy_manager_v1")?;
    let output: WlOutput = globals.bind(&qh, 1..=4, ()).context("wl_output")?;
    let shm: WlShm = globals.bind(&qh, 1..=1, ()).context("wl_shm")?;
    let frame = manager.capture_output(0, &output, &qh, ());
    let mut state = Frame::default();
    while !state.buffer_done && !state.failed {
        queue.blocking_dispatch(&mut state)?;
    }
    if state.failed {
        return Ok(Captured::Refused);
    }
    let Some((format, w, h, stride)) = state.format else {
        bail!("no buffer event")
    };
    if format != wl_shm::Format::Xrgb8888 as u32 && format != wl_shm::Format::Argb8888 as u32 {
        bail!("unexpected format {format:#x}");
    }
    let target = ShmTarget::new(&shm, &qh, w, h, stride)?;
    frame.copy(&target.buffer);
    while !state.ready && !state.failed {
        queue.blocking_dispatch(&mut state)?;
    }
    if state.failed {
        target.destroy();
        return Ok(Captured::Refused);
    }
    let image = target.image()?;
    frame.destroy();
    Ok(Captured::Image(image))
}

/// A wl_shm XRGB8888 buffer over a fresh memfd for a capture to land in.
pub struct ShmTarget {
    fd: std::os::fd::OwnedFd,
    pool: WlShmPool,
    pub buffer: WlBuffer,
    width: u32,
    height: u32,
    stride: u32,
}

impl ShmTarget {
    pub fn new<D>(
        shm: &WlShm,
        qh: &QueueHandle<D>,
        width: u32,
        height: u32,
        stride: u32,
    ) -> anyhow::Result<Self>
    where
        D: Dispatch<WlShmPool, ()> + Dispatch<WlBuffer, ()> + 'static,
    {
        let size = (stride * height) as usize;
        let fd = rustix::fs::memfd_create("planar-capture", rustix::fs::MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&fd, size as u64)?;
        let pool = shm.create_pool(fd.as_fd(), size as i32, qh, ());
        let buffer = pool.create_buffer(
            0,
            width as i32,
            height as i32,
            stride as i32,
            wl_shm::Format::Xrgb8888,
            qh,
            (),
        );
        Ok(ShmTarget {
            fd,
            pool,
            buffer,
            width,
            height,
            stride,
        })
    }

    /// What the compositor wrote, as RGBA; the buffer and pool are destroyed.
    pub fn image(self) -> anyhow::Result<RgbaImage> {
        let mut bytes = vec![0u8; (self.stride * self.height) as usize];
        rustix::io::pread(&self.fd, &mut bytes, 0)?;
        let row = self.width as usize * 4;
        let data = bytes
            .chunks_exact(self.stride as usize)
            .flat_map(|r| {
                r[..row]
                    .chunks_exact(4)
                    .flat_map(|p| [p[2], p[1], p[0], 255])
            })
            .collect();
        self.destroy();
        Ok(RgbaImage {
            width: self.width,
            height: self.height,
            data,
        })
    }

    pub fn destroy(&self) {
        self.buffer.destroy();
        self.pool.destroy();
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, ()> for Frame {
    fn event(
        state: &mut Self,
        _: &ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_screencopy_frame_v1::Event;
        match event {
            Event::Buffer {
                format,
                width,
                height,
                stride,
            } => {
                let f = match format {
                    WEnum::Value(f) => f as u32,
                    WEnum::Unknown(u) => u,
                };
                state.format = Some((f, width, height, stride));
            }
            Event::BufferDone => state.buffer_done = true,
            Event::Ready { .. } => state.ready = true,
            Event::Failed => state.failed = true,
            _ => {}
        }
    }
}

crate::ignore_registry_events!(Frame);

delegate_noop!(Frame: ignore ZwlrScreencopyManagerV1);
delegate_noop!(Frame: ignore WlOutput);
delegate_noop!(Frame: ignore WlShm);
delegate_noop!(Frame: ignore WlShmPool);
delegate_noop!(Frame: ignore WlBuffer);

mod ext {
    use super::*;
    use wayland_protocols::ext::{
        image_capture_source::v1::client::{
            ext_image_capture_source_v1::ExtImageCaptureSourceV1,
            ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
        },
        image_copy_capture::v1::client::{
            ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1},
            ext_image_copy_capture_manager_v1::{ExtImageCopyCaptureManagerV1, Options},
            ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
        },
    };

    #[derive(Default)]
    pub struct Ext {
        size: Option<(u32, u32)>,
        shm_xrgb: bool,
        done: bool,
        stopped: bool,
        ready: bool,
        failed: bool,
    }

    /// Captures the first output with ext-image-copy-capture-v1.
    pub fn ext_image_copy(conn: &Connection) -> anyhow::Result<Captured> {
        ext_image_copy_output(conn, 0)
    }

    /// Captures the `index`-th wl_output (registry order) with ext-image-copy-capture-v1.
    pub fn ext_image_copy_output(conn: &Connection, index: usize) -> anyhow::Result<Captured> {
        let (globals, mut queue) = registry_queue_init::<Ext>(conn)?;
        let qh = queue.handle();
        let sources: ExtOutputImageCaptureSourceManagerV1 = globals
            .bind(&qh, 1..=1, ())
            .context("ext_output_image_capture_source_manager_v1")?;
        let manager: ExtImageCopyCaptureManagerV1 = globals
            .bind(&qh, 1..=1, ())
            .context("ext_image_copy_capture_manager_v1")?;
        let output: WlOutput = globals
            .contents()
            .with_list(|list| {
                list.iter()
                    .filter(|g| g.interface == "wl_output")
                    .nth(index)
                    .map(|g| globals.registry().bind(g.name, g.version.min(4), &qh, ()))
            })
            .context("wl_output")?;
        let shm: WlShm = globals.bind(&qh, 1..=1, ()).context("wl_shm")?;
        let source = sources.create_source(&output, &qh, ());
        let session = manager.create_session(&source, Options::empty(), &qh, ());
        let mut st = Ext::default();
        while !st.done && !st.stopped {
            queue.blocking_dispatch(&mut st)?;
        }
        if st.stopped {
            return Ok(Captured::Refused);
        }
        let (w, h) = st.size.context("no buffer_size")?;
        if !st.shm_xrgb {
            bail!("XRGB8888 is not offered");
        }
        let stride = w * 4;
        let target = ShmTarget::new(&shm, &qh, w, h, stride)?;
        let frame = session.create_frame(&qh, ());
        frame.attach_buffer(&target.buffer);
        frame.damage_buffer(0, 0, w as i32, h as i32);
        frame.capture();
        while !st.ready && !st.failed {
            queue.blocking_dispatch(&mut st)?;
        }
        if st.failed {
            target.destroy();
            return Ok(Captured::Refused);
        }
        let image = target.image()?;
        frame.destroy();
        session.destroy();
        source.destroy();
        Ok(Captured::Image(image))
    }

    impl Dispatch<ExtImageCopyCaptureSessionV1, ()> for Ext {
        fn event(
            st: &mut Self,
            _: &ExtImageCopyCaptureSessionV1,
            event: ext_image_copy_capture_session_v1::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            use ext_image_copy_capture_session_v1::Event;
            match event {
                Event::BufferSize { width, height } => st.size = Some((width, height)),
                Event::ShmFormat {
                    format: WEnum::Value(wl_shm::Format::Xrgb8888),
                } => st.shm_xrgb = true,
                Event::Done => st.done = true,
                Event::Stopped => st.stopped = true,
                _ => {}
            }
        }
    }

    impl Dispatch<ExtImageCopyCaptureFrameV1, ()> for Ext {
        fn event(
            st: &mut Self,
            _: &ExtImageCopyCaptureFrameV1,
            event: ext_image_copy_capture_frame_v1::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            match event {
                ext_image_copy_capture_frame_v1::Event::Ready => st.ready = true,
                ext_image_copy_capture_frame_v1::Event::Failed { .. } => st.failed = true,
                _ => {}
            }
        }
    }

    crate::ignore_registry_events!(Ext);

    delegate_noop!(Ext: ignore ExtOutputImageCaptureSourceManagerV1);
    delegate_noop!(Ext: ignore ExtImageCaptureSourceV1);
    delegate_noop!(Ext: ignore ExtImageCopyCaptureManagerV1);
    delegate_noop!(Ext: ignore WlOutput);
    delegate_noop!(Ext: ignore WlShm);
    delegate_noop!(Ext: ignore WlShmPool);
    delegate_noop!(Ext: ignore WlBuffer);
}

pub use ext::{ext_image_copy, ext_image_copy_output};
