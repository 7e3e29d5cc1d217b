//! The CPU path's per-frame cost for a 1920x1080 buffer with full damage, from the
//! mapping to the memory that is composited: wait for the write fence, DMA_BUF_IOCTL_SYNC
//! (skipped on memfds, which have none), and convert every row into the frame that
//! pixman composites from directly (`composite`). Measured in the same run as a memcpy of
//! the RGBA frame (`memcpy`); `bench/cpu-path` prints the ratios. With GLES one more
//! step follows, the texture upload (glTexSubImage2D), which is not measured here.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{fd::FdKind, format::format_info};
use planar_renderer::cpu::CpuBuffer;
use smithay::backend::{
    allocator::{
        dmabuf::{Dmabuf, DmabufFlags},
        Modifier,
    },
    renderer::{pixman::PixmanRenderer, ImportMem},
};

const W: u32 = 1920;
const H: u32 = 1080;

/// A sealed memfd dma-buf of `fourcc`, every plane in its own fd with a minimal stride,
/// filled with a byte ramp (the values do not matter to the cost).
fn buffer(fourcc: Fourcc) -> Dmabuf {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let info = format_info(fourcc as u32).unwrap();
    let mut b = Dmabuf::builder(
        (W as i32, H as i32),
        fourcc,
        Modifier::Linear,
        DmabufFlags::empty(),
    );
    for i in 0..usize::from(info.planes) {
        let stride = info.min_stride(i, W).unwrap() as u32;
        let size = stride as usize * info.plane_height(i, H) as usize;
        let fd = memfd_create("bench", MemfdFlags::ALLOW_SEALING).unwrap();
        ftruncate(&fd, size as u64).unwrap();
        let bytes: Vec<u8> = (0..size).map(|n| (n % 251) as u8).collect();
        rustix::io::pwrite(&fd, &bytes, 0).unwrap();
        fcntl_add_seals(&fd, SealFlags::SHRINK).unwrap();
        b.add_plane(fd, i as u32, 0, stride);
    }
    b.build().unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu_path_1080p");
    group.sample_size(30);
    let src = vec![7u8; (W * H * 4) as usize];
    let mut dst = vec![0u8; (W * H * 4) as usize];
    group.bench_function("memcpy", |b| {
        b.iter(|| dst.copy_from_slice(std::hint::black_box(&src)))
    });

    let renderer = PixmanRenderer::new().unwrap();
    let direct: Vec<Fourcc> = renderer.mem_formats().collect();
    for fourcc in [Fourcc::Xrgb8888, Fourcc::Nv12, Fourcc::P010, Fourcc::Yuyv] {
        let dmabuf = buffer(fourcc);
        let info = format_info(fourcc as u32).unwrap();
        let kinds = vec![FdKind::SealedFile; usize::from(info.planes)];
        // Pixman keeps the converted frame: each read converts into it, chunk by chunk.
        // GLES with the copy path: converted straight into the XR24 copy frame (a memfd).
        for (name, direct, frames) in [
            ("composite", &direct[..], (true, false)),
            ("copy_frame", &[][..], (false, true)),
        ] {
            let mut cpu =
                CpuBuffer::new(&dmabuf, info, &kinds, direct, Default::default(), frames).unwrap();
            assert_eq!(cpu.copy_frame().is_some(), frames.1);
            let mut scratch = Vec::new();
            group.bench_with_input(
                BenchmarkId::new(name, fourcc.to_string()),
                &fourcc,
                |b, _| {
                    b.iter(|| {
                        cpu.read(0..H as usize, &mut scratch, |_, _| Ok(()))
                            .unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
