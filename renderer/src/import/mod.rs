//! The import decision, made once per buffer when it is created, what the renderer
//! advertises so that the decision can keep its word ([`advertise`]), and the import cache.
//!
//! For each buffer a client creates through linux-dmabuf, after validation:
//!
//! 1. EGL import (zero-copy) when the renderer imports the format+modifier pair (probed at
//!    start, [`EglPairs`]) and the import succeeds;
//! 2. else the CPU path, when the CPU can read the layout: LINEAR, or the implicit modifier
//!    on a buffer that cannot come from a tiling GPU (a sealed memfd, udmabuf, a dma-heap);
//! 3. else rejected: the `failed` event (INVALID_WL_BUFFER for create_immed), never a dead
//!    client at commit, with an [`ImportError`] whose text says why each path refused.
//!
//! An EGL import that fails (EGL_BAD_ALLOC on a foreign buffer, or `--fail-import`) falls
//! through to the CPU path. Every buffer gets one [`ImportRecord`], held with the buffer
//! while it lives; when it is destroyed (or rejected) the record is streamed to the
//! `--report` file, or dropped without one, so memory follows the live buffers only.
//!
//! The CPU path is bounded at creation: a buffer larger than the renderer's largest
//! texture, or whose mappings and converted frame would take the CPU-path bytes in use
//! past the budget (`--cpu-budget`), is rejected, never converted.
//!
//! The compositor's linux-dmabuf handler is the only caller; it advertises the [`Offer`]
//! and hands each validated buffer to the engine:
//!
//! ```ignore
//! use planar_renderer::import::{advertise, ImportPolicy};
//!
//! // When the renderer is ready: what linux-dmabuf advertises, tranche by tranche.
//! let offer = advertise::offer(&engine, &info.kind, &policy, linear_only);
//! dmabuf_state.set_advertised(offer.advertised())?;
//!
//! // For each validated buffer (`DmabufHandler::dmabuf_import`): decide and record.
//! match engine.import_dmabuf(&request, &policy) {
//!     Ok(path) => { /* ImportPath::Egl or ImportPath::Cpu: the wl_buffer is created */ }
//!     Err(why) => { /* `failed`, with why.to_string() as the reason */ }
//! }
//! ```

pub mod advertise;
mod record;

use std::{collections::HashMap, path::PathBuf, time::Instant};

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{
    advertise::{MOD_INVALID, MOD_LINEAR},
    fd::FdKind,
};
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

pub use crate::error::{Budget, CpuError, ImportError, ZeroCopyError};
pub use advertise::{EglPairs, Offer};
pub use planar_protocol::dmabuf::ImportRequest;
pub use record::{ImportPath, ImportRecord, PlaneRecord};

use crate::{
    cpu::{convert::YuvEncoding, CpuBuffer},
    error::UploadError,
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
        /// Shared with the elements that convert it at draw time (`cpu::direct`).
        buffer: crate::cpu::direct::SharedBuffer,
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
    /// Whether an opaque buffer is converted into a copy frame (see `blit`).
    pub copy_frame: bool,
}

/// A zero-copy import: the texture, and an identity of it to count re-imports.
pub(crate) trait ZeroCopy: Renderer {
    /// `None` when the renderer has no zero-copy path at all.
    fn zero_copy(
        &mut self,
        dmabuf: &Dmabuf,
    ) -> Option<Result<(u64, Self::TextureId), ZeroCopyError>>;
}

/// How CPU-path pixels reach the renderer.
pub(crate) trait CpuUpload: Renderer {
    /// A texture for `buffer`'s converted frame (its contents come through `cpu_upload`).
    fn cpu_texture(&mut self, buffer: &mut CpuBuffer) -> Result<Self::TextureId, UploadError>;
    /// Writes converted rows `rows` (tightly packed `bytes`, `width` pixels of `format`
    /// a row) into the texture.
    fn cpu_upload(
        &mut self,
        texture: &Self::TextureId,
        format: Fourcc,
        width: usize,
        rows: std::ops::Range<usize>,
        bytes: &[u8],
    ) -> Result<(), UploadError>;
}

/// The same buffer (the same fds, duplicated) without the y_invert flag.
fn without_y_invert(dmabuf: &Dmabuf) -> Result<Dmabuf, ZeroCopyError> {
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
        let fd = fd.try_clone_to_owned().map_err(ZeroCopyError::Dup)?;
        builder.add_plane(fd, i as u32, offset, stride);
    }
    builder.build().ok_or(ZeroCopyError::Rebuild)
}

/// The EGL attempt: the pair must be one EGL imports, not forced to fail, and the import
/// must succeed. A y-inverted buffer is imported as its twin without the flag, drawn
/// flipped (see [`Entry::Egl`]).
fn try_egl<Tex: Texture + Clone + 'static>(
    renderer: &mut impl ZeroCopy<TextureId = Tex>,
    req: &ImportRequest<'_>,
    policy: &ImportPolicy,
    egl: &EglPairs,
) -> Result<Entry<Tex>, ImportError> {
    if policy.choice == ImportChoice::Cpu {
        return Err(ImportError::CpuOnly);
    }
    let dmabuf = req.dmabuf;
    let pair = (
        req.format.fourcc as u32,
        u64::from(dmabuf.format().modifier),
    );
    if !egl.zero_copy.contains(&pair) {
        return Err(ImportError::NotZeroCopy);
    }
    if policy.egl_fails(pair.0, pair.1) {
        return Err(ImportError::ForcedFailure);
    }
    let twin = if dmabuf.y_inverted() {
        Some(without_y_invert(dmabuf)?)
    } else {
        None
    };
    let (id, texture) = renderer
        .zero_copy(twin.as_ref().unwrap_or(dmabuf))
        .ok_or(ImportError::NoZeroCopyImport)??;
    let flipped = twin.map(|twin| {
        let buffer =
            TextureRenderBuffer::from_texture(renderer, texture, 1, Transform::Flipped180, None);
        (twin, buffer)
    });
    Ok(Entry::Egl {
        record: ImportRecord::default(),
        texture_id: Some(id),
        flipped,
    })
}

/// Where a decision looks: what the renderer imports zero-copy, what it uploads from
/// memory as it is, and what the CPU path may take on it.
pub(crate) struct Capabilities<'a> {
    pub egl: &'a EglPairs,
    pub direct: &'a [Fourcc],
    pub limits: CpuLimits,
}

impl<Tex: Texture + Clone + 'static> Imports<Tex> {
    /// Decides, imports, and records: the EGL attempt, then the CPU attempt, then the
    /// record (kept with the buffer, or streamed at once for a rejected one).
    pub fn decide(
        &mut self,
        renderer: &mut impl ZeroCopy<TextureId = Tex>,
        req: &ImportRequest<'_>,
        policy: &ImportPolicy,
        caps: &Capabilities<'_>,
    ) -> Result<ImportPath, ImportError> {
        if self.log.is_none() {
            self.log = policy.report.as_deref().map(RecordLog::new);
        }
        let start = Instant::now();
        let taken = match try_egl(renderer, req, policy, caps.egl) {
            Ok(entry) => Ok((ImportPath::Egl, "EGL import (zero-copy)".to_string(), entry)),
            // Why EGL did not take it is said either way.
            Err(egl) => match self.try_cpu(req, policy, caps) {
                Ok(entry) => Ok((ImportPath::Cpu, format!("CPU-mapped: {egl}"), entry)),
                Err(cpu) => Err(ImportError::Rejected(vec![egl, cpu])),
            },
        };
        self.record(req, taken, start)
    }

    /// The CPU attempt: the layout must be readable, the buffer within the renderer's
    /// largest texture, and its cost within the budgets.
    fn try_cpu(
        &self,
        req: &ImportRequest<'_>,
        policy: &ImportPolicy,
        caps: &Capabilities<'_>,
    ) -> Result<Entry<Tex>, ImportError> {
        if policy.choice == ImportChoice::Egl {
            return Err(ImportError::EglOnly);
        }
        let dmabuf = req.dmabuf;
        let modifier = u64::from(dmabuf.format().modifier);
        if modifier == MOD_INVALID && !req.fd_kinds.iter().all(FdKind::implicitly_linear) {
            return Err(ImportError::MayTile);
        }
        if modifier != MOD_LINEAR && modifier != MOD_INVALID {
            return Err(ImportError::TiledModifier(modifier));
        }
        let size = dmabuf.size();
        let max = caps.limits.max_size;
        if size.w > max || size.h > max {
            return Err(ImportError::TooLarge {
                width: size.w,
                height: size.h,
                max,
            });
        }
        let buffer = CpuBuffer::new(
            dmabuf,
            req.format,
            req.fd_kinds,
            caps.direct,
            policy.encoding,
            (caps.limits.keep_frame, caps.limits.copy_frame),
        )?;
        let buffer = self.within_budget(buffer, policy, &req.client_name)?;
        Ok(Entry::Cpu {
            record: ImportRecord::default(),
            buffer: std::rc::Rc::new(std::cell::RefCell::new(buffer)),
            texture: None,
            raw: None,
            geometry: (1, Transform::Normal),
            seen: None,
        })
    }

    /// The record: logged, then kept with the buffer's cache entry (whose cost is
    /// counted), or, for a rejected buffer, streamed to the report at once.
    fn record(
        &mut self,
        req: &ImportRequest<'_>,
        taken: Result<(ImportPath, String, Entry<Tex>), ImportError>,
        start: Instant,
    ) -> Result<ImportPath, ImportError> {
        self.next_id += 1;
        let dmabuf = req.dmabuf;
        let (path, reason) = match &taken {
            Ok((path, why, _)) => (*path, why.clone()),
            Err(rejected) => (ImportPath::Rejected, rejected.to_string()),
        };
        let mut record = ImportRecord::new(self.next_id, &req.client_name, dmabuf, path, reason);
        record.import_us = start.elapsed().as_micros() as u64;
        if let Ok((_, _, Entry::Cpu { buffer, .. })) = &taken {
            record.bytes_mapped = buffer.borrow().stats.bytes_mapped;
        }
        info!(
            id = record.id,
            client = %record.client,
            fourcc = %record.fourcc,
            modifier = %record.modifier,
            size = format_args!("{}x{}", record.width, record.height),
            path = ?path,
            reason = %record.reason,
            import_us = record.import_us,
            "dma-buf import"
        );
        let (_, _, mut entry) = match taken {
            Ok(taken) => taken,
            Err(rejected) => {
                if let Some(log) = &mut self.log {
                    log.push(&record);
                }
                return Err(rejected);
            }
        };
        match &mut entry {
            Entry::Egl { record: r, .. } => *r = record,
            Entry::Cpu {
                record: r, buffer, ..
            } => {
                let cost = buffer.borrow().cost();
                self.cpu_bytes += cost;
                *self
                    .cpu_bytes_by_client
                    .entry(record.client.clone())
                    .or_default() += cost;
                *r = record;
            }
        }
        self.entries.insert(dmabuf.weak(), entry);
        Ok(path)
    }

    /// `buffer`, when its cost fits in what is left of the total budget and of its
    /// client's.
    fn within_budget(
        &self,
        buffer: CpuBuffer,
        policy: &ImportPolicy,
        client: &str,
    ) -> Result<CpuBuffer, ImportError> {
        let cost = buffer.cost();
        let mine = self.cpu_bytes_by_client.get(client).copied().unwrap_or(0);
        let (in_use, limit, budget) = if self.cpu_bytes.saturating_add(cost) > policy.cpu_budget {
            (self.cpu_bytes, policy.cpu_budget, Budget::Total)
        } else if mine.saturating_add(cost) > policy.cpu_budget_per_client {
            (mine, policy.cpu_budget_per_client, Budget::PerClient)
        } else {
            return Ok(buffer);
        };
        let what = budget.what();
        warn!(
            client,
            cost,
            in_use,
            budget = limit,
            "a dma-buf is past the {what}"
        );
        let mib = |b: u64| b.div_ceil(1 << 20);
        Err(ImportError::OverBudget {
            cost_mib: mib(cost),
            in_use_mib: mib(in_use),
            budget_mib: mib(limit),
            budget,
        })
    }

    /// Forgets a destroyed buffer: its record, with its final counters, goes to the
    /// report (or is dropped without one).
    pub fn forget(&mut self, dmabuf: &Dmabuf) {
        let record = match self.entries.remove(&dmabuf.weak()) {
            Some(Entry::Cpu {
                mut record, buffer, ..
            }) => {
                let buffer = buffer.borrow();
                self.cpu_bytes -= buffer.cost();
                if let Some(mine) = self.cpu_bytes_by_client.get_mut(&record.client) {
                    *mine -= buffer.cost();
                    if *mine == 0 {
                        self.cpu_bytes_by_client.remove(&record.client);
                    }
                }
                record.sync_stats(&buffer);
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
                record.sync_stats(&buffer.borrow());
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
                    record.sync_stats(&buffer.borrow());
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
