//! The import decision, made once per buffer when it is created, and the import cache.
//!
//! 1. EGL import (zero-copy) when the renderer advertises the format+modifier pair and the
//!    import succeeds;
//! 2. else the CPU path, when the CPU can read the layout: LINEAR, or the implicit modifier
//!    on a buffer that cannot come from a tiling GPU (a sealed memfd, udmabuf, a dma-heap);
//! 3. else rejected, with the reason.
//!
//! An EGL import that fails (EGL_BAD_ALLOC on a foreign buffer, or `--fail-import`) falls
//! through to the CPU path. Every buffer gets one [`ImportRecord`].

use std::{collections::HashMap, str::FromStr, time::Instant};

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{
    advertise::{MOD_INVALID, MOD_LINEAR},
    fd::FdKind,
    format::FormatInfo,
    validate::fourcc_name,
};
use serde::Serialize;
use smithay::{
    backend::renderer::utils::CommitCounter,
    backend::{
        allocator::{
            dmabuf::{Dmabuf, DmabufFlags, WeakDmabuf},
            Buffer,
        },
        renderer::{element::texture::TextureRenderBuffer, Renderer, Texture},
    },
    reexports::wayland_server::backend::ObjectId,
    utils::Transform,
};
use tracing::info;

use crate::cpu::{convert::YuvEncoding, CpuBuffer};

/// `--import`: which path buffers take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportChoice {
    #[default]
    Auto,
    Egl,
    Cpu,
}

impl FromStr for ImportChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "egl" => Ok(Self::Egl),
            "cpu" => Ok(Self::Cpu),
            o => Err(format!("unknown import path {o:?} (auto, egl or cpu)")),
        }
    }
}

/// The fault-injection and colour settings of the import decision.
#[derive(Debug, Clone, Default)]
pub struct ImportPolicy {
    pub choice: ImportChoice,
    /// `--fail-import FOURCC[:MODIFIER]`: EGL imports of these fail as a driver's would.
    pub fail_import: Vec<(u32, Option<u64>)>,
    pub encoding: YuvEncoding,
}

impl ImportPolicy {
    fn egl_fails(&self, fourcc: u32, modifier: u64) -> bool {
        self.fail_import
            .iter()
            .any(|&(f, m)| f == fourcc && m.is_none_or(|m| m == modifier))
    }
}

/// Parses `FOURCC[:MODIFIER]` (`NV12`, `XR24:linear`, `AR24:0x0`).
pub fn parse_fail_import(s: &str) -> Result<(u32, Option<u64>), String> {
    let (f, m) = match s.split_once(':') {
        Some((f, m)) => (f, Some(m)),
        None => (s, None),
    };
    let bytes = f.as_bytes();
    if bytes.is_empty() || bytes.len() > 4 {
        return Err(format!(
            "{f:?} is not a fourcc (one to four characters, e.g. NV12)"
        ));
    }
    let mut code = [b' '; 4];
    code[..bytes.len()].copy_from_slice(bytes);
    let modifier = match m {
        None => None,
        Some("linear") => Some(MOD_LINEAR),
        Some("invalid") => Some(MOD_INVALID),
        Some(hex) => Some(
            u64::from_str_radix(hex.trim_start_matches("0x"), 16)
                .map_err(|_| format!("{hex:?} is not a modifier (linear, invalid or hex)"))?,
        ),
    };
    Ok((u32::from_le_bytes(code), modifier))
}

/// The path a buffer took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportPath {
    Egl,
    Cpu,
    Rejected,
}

/// One plane's layout as the client gave it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlaneRecord {
    pub offset: u32,
    pub stride: u32,
}

/// Everything planar knows about what happened to one buffer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImportRecord {
    pub id: u64,
    pub client: String,
    pub fourcc: String,
    pub modifier: String,
    pub width: i32,
    pub height: i32,
    pub y_invert: bool,
    pub planes: Vec<PlaneRecord>,
    pub path: ImportPath,
    pub reason: String,
    pub import_us: u64,
    pub bytes_mapped: u64,
    pub frames_shown: u64,
    /// DMA_BUF_IOCTL_SYNC calls (CPU path).
    pub syncs: u64,
    /// Rows read and converted (CPU path), over all commits.
    pub rows_converted: u64,
    /// Commits that re-read the buffer (CPU path).
    pub reads: u64,
    /// EGL imports after the first (a cache miss).
    pub reimports: u64,
    /// The X11 window that showed the buffer (Xwayland's dma-bufs): `TITLE (CLASS)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x11_window: Option<String>,
}

/// A buffer as it is known to the renderer.
pub(crate) enum Entry<Tex: Texture> {
    Egl {
        record: usize,
        texture_id: Option<u64>,
        /// For a y-inverted buffer: a twin without the flag, imported zero-copy, and
        /// drawn with a vertical flip. smithay 0.7 flips y-inverted dma-buf textures
        /// without translating them back, so with clamped sampling every row shows the
        /// edge row; planar does the flip itself.
        flipped: Option<(Dmabuf, TextureRenderBuffer<Tex>)>,
    },
    Cpu {
        record: usize,
        // Declared before `buffer` so it is dropped first: with pixman the texture's
        // image is the buffer's converted frame.
        texture: Option<TextureRenderBuffer<Tex>>,
        buffer: Box<CpuBuffer>,
        /// The surface and commit the texture reflects.
        seen: Option<(ObjectId, CommitCounter)>,
    },
}

/// The import cache, keyed by buffer, and every record made.
pub(crate) struct Imports<Tex: Texture> {
    pub entries: HashMap<WeakDmabuf, Entry<Tex>>,
    pub records: Vec<ImportRecord>,
}

impl<Tex: Texture> Default for Imports<Tex> {
    fn default() -> Self {
        Imports {
            entries: HashMap::new(),
            records: Vec::new(),
        }
    }
}

/// A zero-copy import: the texture, and an identity of it to count re-imports.
pub(crate) trait ZeroCopy: Renderer {
    /// `None` when the renderer has no zero-copy path at all.
    fn zero_copy(&mut self, dmabuf: &Dmabuf) -> Option<Result<(u64, Self::TextureId), String>>;
}

/// How CPU-path pixels reach the renderer.
pub(crate) trait CpuUpload: Renderer {
    /// A texture showing `buffer`'s converted frame.
    fn cpu_texture(
        &mut self,
        buffer: &mut CpuBuffer,
        scale: i32,
        transform: Transform,
    ) -> Result<TextureRenderBuffer<Self::TextureId>, String>;
    /// Brings `rows` of the texture up to date with the frame.
    fn cpu_update(
        &mut self,
        texture: &mut TextureRenderBuffer<Self::TextureId>,
        buffer: &CpuBuffer,
        rows: std::ops::Range<usize>,
    ) -> Result<(), String>;
}

/// The same buffer (the same fds, duplicated) without the y_invert flag.
fn without_y_invert(dmabuf: &Dmabuf) -> Result<Dmabuf, String> {
    let format = dmabuf.format();
    let mut builder = Dmabuf::builder(
        dmabuf.size(),
        format.code,
        format.modifier,
        DmabufFlags::empty(),
    );
    for (i, ((fd, offset), stride)) in dmabuf
        .handles()
        .zip(dmabuf.offsets())
        .zip(dmabuf.strides())
        .enumerate()
    {
        let fd = fd.try_clone_to_owned().map_err(|e| format!("dup: {e}"))?;
        builder.add_plane(fd, i as u32, offset, stride);
    }
    builder
        .build()
        .ok_or_else(|| "could not rebuild the buffer".to_string())
}

/// The request for a decision.
pub struct ImportRequest<'a> {
    pub client: String,
    pub dmabuf: &'a Dmabuf,
    pub format: &'static FormatInfo,
    pub fd_kinds: &'a [FdKind],
}

impl<Tex: Texture + Clone + 'static> Imports<Tex> {
    /// Decides, imports, and records. `egl_pairs` are the pairs the renderer advertises
    /// for zero-copy; `direct` the formats it uploads from memory as they are.
    pub fn decide(
        &mut self,
        renderer: &mut impl ZeroCopy<TextureId = Tex>,
        req: &ImportRequest<'_>,
        policy: &ImportPolicy,
        egl_pairs: &[(u32, u64)],
        direct: &[Fourcc],
    ) -> Result<ImportPath, String> {
        let start = Instant::now();
        let dmabuf = req.dmabuf;
        let fourcc = req.format.fourcc as u32;
        let modifier = u64::from(dmabuf.format().modifier);
        let mut notes = Vec::new();

        let mut entry = None;
        if policy.choice != ImportChoice::Cpu {
            if !egl_pairs.contains(&(fourcc, modifier)) {
                notes.push("the EGL renderer does not take this format+modifier".to_string());
            } else if policy.egl_fails(fourcc, modifier) {
                notes.push("EGL import failed: forced by --fail-import".to_string());
            } else {
                let twin = if dmabuf.y_inverted() {
                    Some(without_y_invert(dmabuf))
                } else {
                    None
                };
                let result = match &twin {
                    Some(Err(e)) => Some(Err(e.clone())),
                    Some(Ok(twin)) => renderer.zero_copy(twin),
                    None => renderer.zero_copy(dmabuf),
                };
                match result {
                    None => notes.push("the renderer has no zero-copy import".to_string()),
                    Some(Err(e)) => notes.push(format!("EGL import failed: {e}")),
                    Some(Ok((id, texture))) => {
                        let flipped = twin.and_then(Result::ok).map(|twin| {
                            let buffer = TextureRenderBuffer::from_texture(
                                renderer,
                                texture,
                                1,
                                Transform::Flipped180,
                                None,
                            );
                            (twin, buffer)
                        });
                        entry = Some((
                            ImportPath::Egl,
                            "EGL import (zero-copy)".to_string(),
                            Entry::Egl {
                                record: self.records.len(),
                                texture_id: Some(id),
                                flipped,
                            },
                        ));
                    }
                }
            }
        } else {
            notes.push("--import cpu".to_string());
        }
        if entry.is_none() && policy.choice != ImportChoice::Egl {
            let linear = modifier == MOD_LINEAR
                || (modifier == MOD_INVALID && req.fd_kinds.iter().all(FdKind::implicitly_linear));
            if !linear {
                notes.push(format!(
                    "the CPU cannot read modifier {modifier:#x}{}",
                    if modifier == MOD_INVALID {
                        " from an exporter that may tile"
                    } else {
                        ""
                    }
                ));
            } else {
                match CpuBuffer::new(dmabuf, req.format, req.fd_kinds, direct, policy.encoding) {
                    Ok(buffer) => {
                        let why = if notes.is_empty() {
                            "CPU-mapped".to_string()
                        } else {
                            format!("CPU-mapped: {}", notes.join("; "))
                        };
                        entry = Some((
                            ImportPath::Cpu,
                            why,
                            Entry::Cpu {
                                record: self.records.len(),
                                buffer: Box::new(buffer),
                                texture: None,
                                seen: None,
                            },
                        ));
                    }
                    Err(e) => notes.push(format!("CPU path: {e}")),
                }
            }
        } else if entry.is_none() {
            notes.push("--import egl".to_string());
        }

        let (path, reason) = match &entry {
            Some((path, why, _)) => (*path, why.clone()),
            None => (ImportPath::Rejected, notes.join("; ")),
        };
        let size = dmabuf.size();
        let bytes_mapped = match &entry {
            Some((_, _, Entry::Cpu { buffer, .. })) => buffer.stats.bytes_mapped,
            _ => 0,
        };
        let record = ImportRecord {
            id: self.records.len() as u64 + 1,
            client: req.client.clone(),
            fourcc: fourcc_name(fourcc).trim_matches('\'').to_string(),
            modifier: format!("{modifier:#018x}"),
            width: size.w,
            height: size.h,
            y_invert: dmabuf.y_inverted(),
            planes: dmabuf
                .offsets()
                .zip(dmabuf.strides())
                .map(|(offset, stride)| PlaneRecord { offset, stride })
                .collect(),
            path,
            reason: reason.clone(),
            import_us: start.elapsed().as_micros() as u64,
            bytes_mapped,
            frames_shown: 0,
            syncs: 0,
            rows_converted: 0,
            reads: 0,
            reimports: 0,
            x11_window: None,
        };
        info!(
            id = record.id,
            client = %record.client,
            fourcc = %record.fourcc,
            modifier = %record.modifier,
            size = format_args!("{}x{}", size.w, size.h),
            path = ?path,
            reason = %reason,
            import_us = record.import_us,
            "dma-buf import"
        );
        self.records.push(record);
        match entry {
            Some((_, _, e)) => {
                self.entries.insert(dmabuf.weak(), e);
                Ok(path)
            }
            None => Err(reason),
        }
    }

    /// Forgets a destroyed buffer; its record stays, with its final counters.
    pub fn forget(&mut self, dmabuf: &Dmabuf) {
        if let Some(Entry::Cpu { record, buffer, .. }) = self.entries.remove(&dmabuf.weak()) {
            sync_stats(&mut self.records[record], &buffer);
        }
    }

    /// The record of a live buffer, counters up to date.
    pub fn record_of(&mut self, dmabuf: &Dmabuf) -> Option<ImportRecord> {
        let idx = match self.entries.get(&dmabuf.weak())? {
            Entry::Egl { record, .. } => *record,
            Entry::Cpu { record, buffer, .. } => {
                let idx = *record;
                sync_stats(&mut self.records[idx], buffer);
                idx
            }
        };
        Some(self.records[idx].clone())
    }

    /// Names the X11 window a live buffer was shown in (first one wins).
    pub fn name_x11_window(&mut self, dmabuf: &Dmabuf, window: &str) {
        let idx = match self.entries.get(&dmabuf.weak()) {
            Some(Entry::Egl { record, .. } | Entry::Cpu { record, .. }) => *record,
            None => return,
        };
        self.records[idx]
            .x11_window
            .get_or_insert_with(|| window.to_string());
    }

    /// Records, with the CPU counters of live buffers brought up to date.
    pub fn records(&mut self) -> Vec<ImportRecord> {
        for e in self.entries.values() {
            if let Entry::Cpu { record, buffer, .. } = e {
                sync_stats(&mut self.records[*record], buffer);
            }
        }
        self.records.clone()
    }
}

fn sync_stats(record: &mut ImportRecord, buffer: &CpuBuffer) {
    record.bytes_mapped = buffer.stats.bytes_mapped;
    record.syncs = buffer.stats.syncs;
    record.rows_converted = buffer.stats.rows_converted;
    record.reads = buffer.stats.reads;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_import_parses() {
        assert_eq!(parse_fail_import("NV12"), Ok((Fourcc::Nv12 as u32, None)));
        assert_eq!(
            parse_fail_import("XR24:linear"),
            Ok((Fourcc::Xrgb8888 as u32, Some(MOD_LINEAR)))
        );
        assert_eq!(
            parse_fail_import("R8:0x0"),
            Ok((Fourcc::R8 as u32, Some(0)))
        );
        assert!(parse_fail_import("TOOLONG").is_err());
        assert!(parse_fail_import("NV12:zz").is_err());
    }
}
