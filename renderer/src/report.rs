//! The import report (`--report`): finished records are streamed to the file as they
//! finish (a buffer destroyed, or rejected at creation), so planar's memory does not grow
//! with the number of buffers ever made; the records of buffers still alive are appended
//! at exit.
//!
//! The file is a JSON array in the layout `serde_json::to_string_pretty` gives a `Vec` of
//! records. Known limit: records are in the order buffers finished (destroyed or
//! rejected), then the live ones in creation order; if planar is killed the array is left
//! unclosed.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use tracing::warn;

use crate::import::ImportRecord;

/// Where finished records go.
pub(crate) struct RecordLog {
    path: PathBuf,
    /// Opened at the first record; `None` after a write error (logged once).
    out: Option<BufWriter<File>>,
    pub written: u64,
    failed: bool,
}

impl RecordLog {
    pub fn new(path: &Path) -> Self {
        RecordLog {
            path: path.to_path_buf(),
            out: None,
            written: 0,
            failed: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record.
    pub fn push(&mut self, record: &ImportRecord) {
        if self.failed {
            return;
        }
        if let Err(e) = self.write(record) {
            warn!(path = %self.path.display(), %e, "writing the import report failed; later records are lost");
            self.failed = true;
            self.out = None;
        }
    }

    fn write(&mut self, record: &ImportRecord) -> std::io::Result<()> {
        let first = self.out.is_none();
        if first {
            make_parent(&self.path)?;
            let mut out = BufWriter::new(File::create(&self.path)?);
            out.write_all(b"[\n")?;
            self.out = Some(out);
        }
        let out = self.out.as_mut().expect("opened above");
        if !first {
            out.write_all(b",\n")?;
        }
        let json = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
        for (i, line) in json.lines().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(b"  ")?;
            out.write_all(line.as_bytes())?;
        }
        self.written += 1;
        Ok(())
    }

    /// Appends `live` and closes the array; the number of records in the file.
    pub fn finish<'a>(
        mut self,
        live: impl IntoIterator<Item = &'a ImportRecord>,
    ) -> std::io::Result<u64> {
        for record in live {
            self.push(record);
        }
        if self.failed {
            return Err(std::io::Error::other("an earlier write failed"));
        }
        match self.out.take() {
            Some(mut out) => {
                out.write_all(b"\n]\n")?;
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            }
            None => {
                make_parent(&self.path)?;
                std::fs::write(&self.path, "[]\n")?
            }
        }
        Ok(self.written)
    }
}

/// Makes the directory `path` goes in: the one of `--html`/`--junit` outputs is made at
/// the end of the run, and records are streamed before that.
fn make_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{ImportPath, PlaneRecord};

    fn record(id: u64) -> ImportRecord {
        ImportRecord {
            id,
            client: "c".into(),
            fourcc: "XR24".into(),
            modifier: "0x0".into(),
            width: 1,
            height: 1,
            planes: vec![PlaneRecord {
                offset: 0,
                stride: 4,
            }],
            path: ImportPath::Cpu,
            reason: "r".into(),
            ..ImportRecord::default()
        }
    }

    /// The streamed file is exactly what pretty-printing the whole list gives.
    #[test]
    fn streamed_report_is_the_pretty_array() {
        let dir = std::env::temp_dir().join(format!("planar-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.json");
        let mut log = RecordLog::new(&path);
        log.push(&record(2));
        let live = [record(1), record(3)];
        assert_eq!(log.finish(live.iter()).unwrap(), 3);
        let want = serde_json::to_string_pretty(&[record(2), record(1), record(3)]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), want + "\n");

        RecordLog::new(&path).finish([]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[]\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
