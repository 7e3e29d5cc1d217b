//! The import decision, made once per buffer when it is created, and the import cache.
//!
//! 1. EGL import (zero-copy) when the renderer advertises the format+modifier pair and the
//!    import succeeds;
//! 2. else the CPU path, when the CPU can read the layout: LINEAR, or the implicit modifier
//!    on a buffer that cannot come from a tiling GPU (a sealed memfd, udmabuf, a dma-heap);
//! 3. else rejected, with the reason.
//!
//! An EGL import that fails (EGL_BAD_ALLOC on a foreign buffer, or `--fail-import`) falls
//! through to the CPU path. Every buffer gets one [`ImportRecord`], held with the buffer
//! while it lives; when it is destroyed (or rejected) the record is streamed to the
//! `--report` file, or dropped without one, so memory follows the live buffers only.
//!
//! The CPU path is bounded at creation: a buffer larger than the renderer's largest
//! texture, or whose mappings and converted frame would take the CPU-path bytes in use
//! past the budget (`--cpu-budget`), is rejected (`failed`), never converted.

use std::{collections::HashMap, path::PathBuf, time::Instant};

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{
    advertise::{MOD_INVALID, MOD_LINEAR},
    fd::FdKind,
    format::FormatInfo,
    validate::fourcc_name,
};
use serde::{Deserialize, Serialize};
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
use tracing::{info, warn};

use crate::{
    cpu::{convert::YuvEncoding, CpuBuffer},
    report::RecordLog,
};

/// The default `--cpu-budget`: what all CPU-path buffers together may map and convert.
pub const DEFAULT_CPU_BUDGET: u64 = 512 << 20;

/// The default `--cpu-budget-per-client`: half the total, so that one client alone
/// cannot take the CPU path from every other.
pub const DEFAULT_CPU_BUDGET_PER_CLIENT: u64 = DEFAULT_CPU_BUDGET / 2;

/// The largest CPU-path buffer side for pixman, which has no texture limit of its own:
/// the largest output planar makes.
pub const PIXMAN_MAX_SIZE: i32 = 16384;

/// `--import`: which path buffers take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportChoice {
    #[default]
    Auto,
    Egl,
    Cpu,
}

/// The fault-injection, colour and limit settings of the import decision.
#[derive(Debug, Clone)]
pub struct ImportPolicy {
    pub choice: ImportChoice,
    /// `--fail-import FOURCC[:MODIFIER]`: EGL imports of these fail as a driver's would.
    pub fail_import: Vec<(u32, Option<u64>)>,
    pub encoding: YuvEncoding,
    /// `--cpu-budget`: bytes all CPU-path buffers together may map and convert.
    pub cpu_budget: u64,
    /// `--cpu-budget-per-client`: the same, for the buffers of one client (process).
    pub cpu_budget_per_client: u64,
    /// `--report`: where finished records are streamed (none kept without it).
    pub report: Option<PathBuf>,
}

impl Default for ImportPolicy {
    fn default() -> Self {
        ImportPolicy {
            choice: ImportChoice::default(),
            fail_import: Vec::new(),
            encoding: YuvEncoding::default(),
            cpu_budget: DEFAULT_CPU_BUDGET,
            cpu_budget_per_client: DEFAULT_CPU_BUDGET_PER_CLIENT,
            report: None,
        }
    }
}

impl ImportPolicy {
    fn egl_fails(&self, fourcc: u32, modifier: u64) -> bool {
        self.fail_import
            .iter()
            .any(|&(f, m)| f == fourcc && m.is_none_or(|m| m == modifier))
    }
}

/// The path a buffer took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImportPath {
    Egl,
    Cpu,
    #[default]
    Rejected,
}

/// One plane's layout as the client gave it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlaneRecord {
    pub offset: u32,
    pub stride: u32,
}

/// Everything planar knows about what happened to one buffer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
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
    /// Commits not read because a write fence had not signalled in time (CPU path).
    pub fence_timeouts: u64,
    /// The X11 window that showed the buffer (Xwayland's dma-bufs): `TITLE (CLASS)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x11_window: Option<String>,
}

/// A buffer as it is known to the renderer.
pub(crate) enum Entry<Tex: Texture> {
    Egl {
        record: ImportRecord,
        texture_id: Option<u64>,
        /// For a y-inverted buffer: a twin without the flag, imported zero-copy, and
        /// drawn with a vertical flip. smithay 0.7 flips y-inverted dma-buf textures
        /// without translating them back, so with clamped sampling every row shows the
        /// edge row; planar does the flip itself.
        flipped: Option<(Dmabuf, TextureRenderBuffer<Tex>)>,
    },
    Cpu {
        record: ImportRecord,
        // Declared before `buffer` so they are dropped first: with pixman the texture's
        // image is the buffer's converted frame.
        texture: Option<TextureRenderBuffer<Tex>>,
        /// The texture itself, to re-wrap it when the surface's scale or transform changes.
        raw: Option<Tex>,
        /// The buffer_scale and transform the texture is drawn with.
        geometry: (i32, Transform),
        buffer: Box<CpuBuffer>,
        /// The surface and commit the texture reflects.
        seen: Option<(ObjectId, CommitCounter)>,
    },
}

/// The import cache, keyed by live buffer, each entry holding its buffer's record.
pub(crate) struct Imports<Tex: Texture> {
    pub entries: HashMap<WeakDmabuf, Entry<Tex>>,
    /// Ids given so far.
    next_id: u64,
    /// What the live CPU-path buffers cost ([`CpuBuffer::cost`]).
    cpu_bytes: u64,
    /// The same per client (its record's name: the process); no entry at 0.
    cpu_bytes_by_client: HashMap<String, u64>,
    /// Finished records, with `--report`.
    log: Option<RecordLog>,
    /// The conversion chunk all CPU-path reads share.
    pub scratch: Vec<u8>,
}

impl<Tex: Texture> Default for Imports<Tex> {
    fn default() -> Self {
        Imports {
            entries: HashMap::new(),
            next_id: 0,
            cpu_bytes: 0,
            cpu_bytes_by_client: HashMap::new(),
            log: None,
            scratch: Vec::new(),
        }
    }
}

/// What the CPU path may take: checked at creation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuLimits {
    /// The renderer's largest texture side (GL_MAX_TEXTURE_SIZE; [`PIXMAN_MAX_SIZE`]).
    pub max_size: i32,
    /// Whether the renderer composites from the converted frame (kept in memory).
    pub keep_frame: bool,
}

/// A zero-copy import: the texture, and an identity of it to count re-imports.
pub(crate) trait ZeroCopy: Renderer {
    /// `None` when the renderer has no zero-copy path at all.
    fn zero_copy(&mut self, dmabuf: &Dmabuf) -> Option<Result<(u64, Self::TextureId), String>>;
}

/// How CPU-path pixels reach the renderer.
pub(crate) trait CpuUpload: Renderer {
    /// A texture for `buffer`'s converted frame (its contents come through `cpu_upload`).
    fn cpu_texture(&mut self, buffer: &mut CpuBuffer) -> Result<Self::TextureId, String>;
    /// Writes converted rows `rows` (tightly packed `bytes`, `width` pixels of `format`
    /// a row) into the texture.
    fn cpu_upload(
        &mut self,
        texture: &Self::TextureId,
        format: Fourcc,
        width: usize,
        rows: std::ops::Range<usize>,
        bytes: &[u8],
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
        limits: CpuLimits,
    ) -> Result<ImportPath, String> {
        if self.log.is_none() {
            self.log = policy.report.as_deref().map(RecordLog::new);
        }
        self.next_id += 1;
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
                                record: ImportRecord::default(),
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
            } else if let Some(why) = too_large(dmabuf, limits.max_size) {
                notes.push(why);
            } else {
                let buffer = CpuBuffer::new(
                    dmabuf,
                    req.format,
                    req.fd_kinds,
                    direct,
                    policy.encoding,
                    limits.keep_frame,
                )
                .and_then(|b| self.within_budget(b, policy, &req.client));
                match buffer {
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
                                record: ImportRecord::default(),
                                buffer: Box::new(buffer),
                                texture: None,
                                raw: None,
                                geometry: (1, Transform::Normal),
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
            id: self.next_id,
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
            fence_timeouts: 0,
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
        match entry {
            Some((_, _, mut e)) => {
                match &mut e {
                    Entry::Egl { record: r, .. } => *r = record,
                    Entry::Cpu {
                        record: r, buffer, ..
                    } => {
                        self.cpu_bytes += buffer.cost();
                        *self
                            .cpu_bytes_by_client
                            .entry(record.client.clone())
                            .or_default() += buffer.cost();
                        *r = record;
                    }
                }
                self.entries.insert(dmabuf.weak(), e);
                Ok(path)
            }
            None => {
                if let Some(log) = &mut self.log {
                    log.push(&record);
                }
                Err(reason)
            }
        }
    }

    /// `buffer`, when its cost fits in what is left of the total budget and of its
    /// client's.
    fn within_budget(
        &self,
        buffer: CpuBuffer,
        policy: &ImportPolicy,
        client: &str,
    ) -> Result<CpuBuffer, String> {
        let cost = buffer.cost();
        let mine = self.cpu_bytes_by_client.get(client).copied().unwrap_or(0);
        let (in_use, budget, what, flag) =
            if self.cpu_bytes.saturating_add(cost) > policy.cpu_budget {
                (
                    self.cpu_bytes,
                    policy.cpu_budget,
                    "CPU-path budget",
                    "--cpu-budget",
                )
            } else if mine.saturating_add(cost) > policy.cpu_budget_per_client {
                (
                    mine,
                    policy.cpu_budget_per_client,
                    "client's CPU-path budget",
                    "--cpu-budget-per-client",
                )
            } else {
                return Ok(buffer);
            };
        let mib = |b: u64| b.div_ceil(1 << 20);
        let why = format!(
            "{} MiB (mapped and converted) is past the {what}: {} of {} MiB in use ({flag})",
            mib(cost),
            mib(in_use),
            mib(budget)
        );
        warn!(client, cost, in_use, budget, "a dma-buf is past the {what}");
        Err(why)
    }

    /// Forgets a destroyed buffer: its record, with its final counters, goes to the
    /// report (or is dropped without one).
    pub fn forget(&mut self, dmabuf: &Dmabuf) {
        let record = match self.entries.remove(&dmabuf.weak()) {
            Some(Entry::Cpu {
                mut record, buffer, ..
            }) => {
                self.cpu_bytes -= buffer.cost();
                if let Some(mine) = self.cpu_bytes_by_client.get_mut(&record.client) {
                    *mine -= buffer.cost();
                    if *mine == 0 {
                        self.cpu_bytes_by_client.remove(&record.client);
                    }
                }
                sync_stats(&mut record, &buffer);
                record
            }
            Some(Entry::Egl { record, .. }) => record,
            None => return,
        };
        if let Some(log) = &mut self.log {
            log.push(&record);
        }
    }

    /// The record of a live buffer, counters up to date.
    pub fn record_of(&mut self, dmabuf: &Dmabuf) -> Option<ImportRecord> {
        Some(match self.entries.get_mut(&dmabuf.weak())? {
            Entry::Egl { record, .. } => record.clone(),
            Entry::Cpu { record, buffer, .. } => {
                sync_stats(record, buffer);
                record.clone()
            }
        })
    }

    /// Names the X11 window a live buffer was shown in (first one wins).
    pub fn name_x11_window(&mut self, dmabuf: &Dmabuf, window: &str) {
        if let Some(Entry::Egl { record, .. } | Entry::Cpu { record, .. }) =
            self.entries.get_mut(&dmabuf.weak())
        {
            record.x11_window.get_or_insert_with(|| window.to_string());
        }
    }

    /// Records held in memory (one per live buffer), and records streamed to the report.
    pub fn held(&self) -> (usize, u64) {
        (
            self.entries.len(),
            self.log.as_ref().map_or(0, |l| l.written),
        )
    }

    /// The records of the buffers alive now, counters up to date, in creation order.
    pub fn live_records(&mut self) -> Vec<ImportRecord> {
        let mut live: Vec<ImportRecord> = Vec::with_capacity(self.entries.len());
        for e in self.entries.values_mut() {
            live.push(match e {
                Entry::Egl { record, .. } => record.clone(),
                Entry::Cpu { record, buffer, .. } => {
                    sync_stats(record, buffer);
                    record.clone()
                }
            });
        }
        live.sort_by_key(|r| r.id);
        live
    }

    /// Finishes the report at `path`: the streamed records, then the live buffers' in
    /// creation order. The number of records in it.
    pub fn write_report(&mut self, path: &std::path::Path) -> std::io::Result<u64> {
        let live = self.live_records();
        let log = match self.log.take() {
            Some(log) if log.path() == path => log,
            _ => RecordLog::new(path),
        };
        log.finish(live.iter())
    }
}

/// Why a buffer is too large for the CPU path, if it is.
fn too_large(dmabuf: &Dmabuf, max_size: i32) -> Option<String> {
    let size = dmabuf.size();
    (size.w > max_size || size.h > max_size).then(|| {
        format!(
            "{}x{} is larger than the renderer's largest texture ({max_size}x{max_size})",
            size.w, size.h
        )
    })
}

fn sync_stats(record: &mut ImportRecord, buffer: &CpuBuffer) {
    record.bytes_mapped = buffer.stats.bytes_mapped;
    record.syncs = buffer.stats.syncs;
    record.rows_converted = buffer.stats.rows_converted;
    record.reads = buffer.stats.reads;
    record.fence_timeouts = buffer.stats.fence_timeouts;
}
