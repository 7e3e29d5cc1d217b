//! Errors of the renderer crate.

use smithay::backend::{
    egl::Error as EglError,
    renderer::{gles::GlesError, pixman::PixmanError},
};

/// Everything that can go wrong while choosing a renderer or drawing a frame.
#[derive(Debug, thiserror::Error)]
pub enum RendererError {
    #[error("EGL: {0}")]
    Egl(#[from] EglError),
    #[error("GLES: {0}")]
    Gles(#[from] GlesError),
    #[error("pixman: {0}")]
    Pixman(#[from] PixmanError),
    #[error("no renderer could be created: {0}")]
    NoneAvailable(String),
    #[error("rendering the output failed: {0}")]
    Render(String),
}

/// Why rows of a CPU-path buffer could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{fourcc} conversion failed: {source}")]
    Yuv {
        fourcc: drm_fourcc::DrmFourcc,
        source: yuv::YuvError,
    },
    #[error("{0} is not a YUV format planar converts")]
    NotYuv(drm_fourcc::DrmFourcc),
    /// The output slice cannot hold a whole stride for every row (a bug in planar).
    #[error("converted rows need {need} bytes, the output has {len}")]
    ShortOutput { len: usize, need: usize },
}

/// Why a buffer could not be set up for the CPU path (`CpuBuffer::new`).
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error("the CPU path cannot read {0}")]
    Unreadable(drm_fourcc::DrmFourcc),
    #[error("plane {plane}: fstat: {source}")]
    Fstat {
        plane: usize,
        source: rustix::io::Errno,
    },
    #[error("plane {plane}: mapping {len} bytes failed: {source}")]
    Map {
        plane: usize,
        len: usize,
        source: std::io::Error,
    },
}

/// Why a zero-copy import failed ([`ImportError::Egl`]: its text follows "EGL import
/// failed: " in the report's reason).
#[derive(Debug, thiserror::Error)]
pub enum ZeroCopyError {
    /// Duplicating a plane's fd, for the twin of a y-inverted buffer, failed.
    #[error("dup: {0}")]
    Dup(#[source] std::io::Error),
    /// smithay would not build the twin of a y-inverted buffer from the duplicated fds.
    #[error("could not rebuild the buffer")]
    Rebuild,
    /// The driver refused the import (EGL_BAD_ALLOC on a foreign buffer). GLES's error
    /// only: pixman has no zero-copy import, so no other renderer's error reaches here; a
    /// renderer that imports zero-copy adds its own variant (the import record and
    /// `ImportError` are not generic over the renderer).
    #[error(transparent)]
    Gles(#[from] GlesError),
}

/// Why a CPU-path texture could not be made or written (`CpuUpload`, `cpu::gles_yuv`).
/// Logged with the buffer's record id; the buffer keeps its previous contents.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// GLES has no texture format for the converted format.
    #[error("GLES has no {0} format")]
    NoGlesFormat(drm_fourcc::DrmFourcc),
    /// pixman has no image format for the converted format.
    #[error("pixman has no {0} format")]
    NoPixmanFormat(drm_fourcc::DrmFourcc),
    /// pixman composites from the kept converted frame, and this buffer keeps none.
    #[error("the buffer keeps no frame")]
    NoFrame,
    /// pixman refused an image over the kept frame.
    #[error("pixman could not create an image")]
    PixmanImage,
    /// The GLES shader has no plane layout for this YUV format.
    #[error("no shader layout for {0}")]
    NoShaderLayout(drm_fourcc::DrmFourcc),
    /// A YUV buffer converted by the GLES shader has no plane textures (yet).
    #[error("no plane textures")]
    NoPlaneTextures,

    /// glTexImage2D refused a plane texture (out of memory, or a size the driver will not
    /// take).
    #[error("plane {plane} texture: GL error {code:#x}")]
    PlaneTexture { plane: usize, code: u32 },
    /// pixman was asked for the planes as they are: it never takes YUV that way.
    #[error("pixman converts YUV on the CPU")]
    PixmanConvertsYuv,
    /// A chunk of converted rows is shorter than its rows.
    #[error("{len} bytes for {rows} rows of {width}")]
    ShortChunk {
        len: usize,
        rows: usize,
        width: usize,
    },
    /// GLES failed making or writing a texture. GLES's error only: pixman's texture is
    /// the kept frame itself and its failures are the variants above; another renderer
    /// adds its own variant (the CPU path's errors are not generic over the renderer).
    #[error(transparent)]
    Gles(#[from] GlesError),
}

/// Why a path did not take a buffer, or (as [`ImportError::Rejected`]) why none did. The
/// Display of each is the import record's `reason` text, byte for byte: the report, the
/// log, the `failed` event and the tests read it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The pair is not one EGL imports zero-copy (not probed as importable).
    #[error("the EGL renderer does not take this format+modifier")]
    NotZeroCopy,
    /// `--fail-import` names this pair.
    #[error("EGL import failed: forced by --fail-import")]
    ForcedFailure,
    /// pixman: no zero-copy import at all.
    #[error("the renderer has no zero-copy import")]
    NoZeroCopyImport,
    /// The zero-copy import failed (EGL_BAD_ALLOC on a foreign buffer).
    #[error("EGL import failed: {0}")]
    Egl(#[from] ZeroCopyError),
    /// `--import cpu`: the EGL path is not tried.
    #[error("--import cpu")]
    CpuOnly,
    /// `--import egl`: the CPU path is not tried.
    #[error("--import egl")]
    EglOnly,
    /// The modifier is not LINEAR (or implicit from an exporter that cannot tile).
    #[error("the CPU cannot read modifier {0:#x}")]
    TiledModifier(u64),
    /// The implicit modifier, on a buffer from an exporter that may tile (a GPU's).
    #[error(
        "the CPU cannot read modifier {:#x} from an exporter that may tile",
        planar_protocol::advertise::MOD_INVALID
    )]
    MayTile,
    /// Larger than the renderer's largest texture.
    #[error("{width}x{height} is larger than the renderer's largest texture ({max}x{max})")]
    TooLarge { width: i32, height: i32, max: i32 },
    /// Mapping the buffer failed.
    #[error("CPU path: {0}")]
    Cpu(#[from] CpuError),
    /// The buffer's cost would take the CPU-path bytes in use past a budget.
    #[error("CPU path: {cost_mib} MiB (mapped and converted) is past the {}: {in_use_mib} of {budget_mib} MiB in use ({})", .budget.what(), .budget.flag())]
    OverBudget {
        cost_mib: u64,
        in_use_mib: u64,
        budget_mib: u64,
        budget: Budget,
    },
    /// No path took the buffer: why each one did not, in the order they were tried.
    #[error("{}", join(.0))]
    Rejected(Vec<ImportError>),
    /// The renderer is not running (it failed to start).
    #[error("no renderer is running")]
    NoRenderer,
}

/// Which CPU-path budget a buffer is past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// `--cpu-budget`: all clients together.
    Total,
    /// `--cpu-budget-per-client`: one client.
    PerClient,
}

impl Budget {
    pub fn what(self) -> &'static str {
        match self {
            Budget::Total => "CPU-path budget",
            Budget::PerClient => "client's CPU-path budget",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Budget::Total => "--cpu-budget",
            Budget::PerClient => "--cpu-budget-per-client",
        }
    }
}

/// Reasons joined as the report writes them.
pub(crate) fn join(reasons: &[ImportError]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons as the import report has always spelled them: tests, reports and
    /// users' scripts read these, so a change here is a change of interface.
    #[test]
    fn import_errors_read_as_the_report_reasons() {
        let cases: Vec<(ImportError, &str)> = vec![
            (
                ImportError::NotZeroCopy,
                "the EGL renderer does not take this format+modifier",
            ),
            (
                ImportError::ForcedFailure,
                "EGL import failed: forced by --fail-import",
            ),
            (
                ImportError::NoZeroCopyImport,
                "the renderer has no zero-copy import",
            ),
            (
                ImportError::Egl(ZeroCopyError::Gles(GlesError::BindBufferEGLError(
                    EglError::EGLImageCreationFailed,
                ))),
                "EGL import failed: Failed to convert between dmabuf and EGLImage",
            ),
            (
                ImportError::Egl(ZeroCopyError::Dup(std::io::Error::from_raw_os_error(24))),
                "EGL import failed: dup: Too many open files (os error 24)",
            ),
            (
                ImportError::Egl(ZeroCopyError::Rebuild),
                "EGL import failed: could not rebuild the buffer",
            ),
            (ImportError::CpuOnly, "--import cpu"),
            (ImportError::EglOnly, "--import egl"),
            (
                ImportError::TiledModifier(0x0100_0000_0000_0001),
                "the CPU cannot read modifier 0x100000000000001",
            ),
            (
                ImportError::MayTile,
                "the CPU cannot read modifier 0xffffffffffffff from an exporter that may tile",
            ),
            (
                ImportError::TooLarge {
                    width: 20000,
                    height: 10,
                    max: 16384,
                },
                "20000x10 is larger than the renderer's largest texture (16384x16384)",
            ),
            (
                ImportError::Cpu(CpuError::Unreadable(drm_fourcc::DrmFourcc::Nv12)),
                "CPU path: the CPU path cannot read NV12",
            ),
            (
                ImportError::OverBudget {
                    cost_mib: 8,
                    in_use_mib: 510,
                    budget_mib: 512,
                    budget: Budget::Total,
                },
                "CPU path: 8 MiB (mapped and converted) is past the CPU-path budget: 510 of \
                 512 MiB in use (--cpu-budget)",
            ),
            (
                ImportError::OverBudget {
                    cost_mib: 8,
                    in_use_mib: 250,
                    budget_mib: 256,
                    budget: Budget::PerClient,
                },
                "CPU path: 8 MiB (mapped and converted) is past the client's CPU-path budget: \
                 250 of 256 MiB in use (--cpu-budget-per-client)",
            ),
            (
                ImportError::Rejected(vec![ImportError::CpuOnly, ImportError::MayTile]),
                "--import cpu; the CPU cannot read modifier 0xffffffffffffff from an exporter \
                 that may tile",
            ),
        ];
        for (error, reason) in cases {
            assert_eq!(error.to_string(), reason, "{error:?}");
        }
    }

    /// The CPU path's read and upload failures as the log has always spelled them (with
    /// the record id, "reading a CPU-path buffer failed" / "creating a CPU-path texture
    /// failed"): the same words the `String` errors had.
    #[test]
    fn cpu_path_errors_read_as_before() {
        use crate::cpu::ReadError;
        use drm_fourcc::DrmFourcc as Fourcc;
        let cases: Vec<(ReadError, &str)> = vec![
            (
                UploadError::NoGlesFormat(Fourcc::Nv12).into(),
                "GLES has no NV12 format",
            ),
            (
                UploadError::NoPixmanFormat(Fourcc::Nv12).into(),
                "pixman has no NV12 format",
            ),
            (UploadError::NoFrame.into(), "the buffer keeps no frame"),
            (
                UploadError::PixmanImage.into(),
                "pixman could not create an image",
            ),
            (
                UploadError::NoShaderLayout(Fourcc::Argb8888).into(),
                "no shader layout for AR24",
            ),
            (UploadError::NoPlaneTextures.into(), "no plane textures"),
            (
                UploadError::PlaneTexture {
                    plane: 1,
                    code: 0x505,
                }
                .into(),
                "plane 1 texture: GL error 0x505",
            ),
            (
                UploadError::PixmanConvertsYuv.into(),
                "pixman converts YUV on the CPU",
            ),
            (
                UploadError::ShortChunk {
                    len: 100,
                    rows: 2,
                    width: 16,
                }
                .into(),
                "100 bytes for 2 rows of 16",
            ),
            (
                UploadError::Gles(GlesError::UnknownPixelFormat).into(),
                "Unknown pixel format",
            ),
            (
                ConvertError::NotYuv(Fourcc::Argb8888).into(),
                "AR24 is not a YUV format planar converts",
            ),
            (
                ReadError::Sync(std::io::Error::from_raw_os_error(22)),
                "DMA_BUF_IOCTL_SYNC start: Invalid argument (os error 22)",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text, "{error:?}");
        }
    }
}
