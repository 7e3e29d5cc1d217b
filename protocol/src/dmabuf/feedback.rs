//! The feedback format table (a sealed memfd clients map read-only) and the feedback
//! events: main device, tranches, done.

use std::{
    collections::HashMap,
    io::Write,
    os::fd::{AsFd, OwnedFd},
};

use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
use wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_dmabuf_feedback_v1::{
    TrancheFlags, ZwpLinuxDmabufFeedbackV1,
};
use wayland_server::Resource;

use crate::advertise::Advertised;

/// A wayland message is at most 4096 bytes; 1024 u16 indices stay well below that.
const INDICES_PER_EVENT: usize = 1024;

/// The advertised set with its table file.
pub struct FormatTable {
    pub advertised: Advertised,
    fd: OwnedFd,
    size: u32,
    index: HashMap<(u32, u64), u16>,
}

impl FormatTable {
    pub fn new(advertised: Advertised) -> std::io::Result<Self> {
        let pairs = advertised.pairs();
        if pairs.len() > usize::from(u16::MAX) + 1 {
            return Err(std::io::Error::other(
                "more pairs than 16-bit indices can name",
            ));
        }
        let mut bytes = Vec::with_capacity(pairs.len() * 16);
        let mut index = HashMap::new();
        for (i, &(format, modifier)) in pairs.iter().enumerate() {
            bytes.extend_from_slice(&format.to_ne_bytes());
            bytes.extend_from_slice(&[0; 4]);
            bytes.extend_from_slice(&modifier.to_ne_bytes());
            index.insert((format, modifier), i as u16);
        }
        let fd = memfd_create(
            "planar-dmabuf-format-table",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        std::fs::File::from(fd.try_clone()?).write_all(&bytes)?;
        // Clients map it; nobody may change it after it was sent.
        fcntl_add_seals(
            &fd,
            SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
        )?;
        Ok(FormatTable {
            advertised,
            fd,
            size: bytes.len() as u32,
            index,
        })
    }

    /// Sends the whole feedback: table, main device (before v6), tranches, done.
    ///
    /// v6 replaces the main device by the `sampling` tranche flag, and every tranche must
    /// carry a flag: planar composites every buffer and scans none out, so every tranche
    /// is a sampling tranche. Before v6 the flag does not exist and is not sent.
    pub fn send(&self, feedback: &ZwpLinuxDmabufFeedbackV1) {
        let v6 = feedback.version() >= 6;
        feedback.format_table(self.fd.as_fd(), self.size);
        if !v6 {
            feedback.main_device(self.advertised.main_device.to_ne_bytes().to_vec());
        }
        for tranche in &self.advertised.tranches {
            feedback.tranche_target_device(tranche.device.to_ne_bytes().to_vec());
            let mut flags = TrancheFlags::from_bits_truncate(tranche.flags);
            flags.set(TrancheFlags::Sampling, v6);
            feedback.tranche_flags(flags);
            let indices: Vec<u16> = tranche
                .formats
                .iter()
                .filter_map(|pair| self.index.get(pair).copied())
                .collect();
            for chunk in indices.chunks(INDICES_PER_EVENT) {
                feedback.tranche_formats(chunk.iter().flat_map(|i| i.to_ne_bytes()).collect());
            }
            feedback.tranche_done();
        }
        feedback.done();
    }
}
