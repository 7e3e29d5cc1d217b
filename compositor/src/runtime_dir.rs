//! Where the Wayland socket lives: `$XDG_RUNTIME_DIR`, or a private directory made for
//! this run (mode 0700, removed at exit) when it is unset.

use std::{
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::Context;

/// The runtime directory for this run; a private one is removed on drop.
pub struct RuntimeDir {
    path: PathBuf,
    owned: bool,
}

impl RuntimeDir {
    pub fn from_env() -> anyhow::Result<Self> {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return Ok(RuntimeDir {
                path: dir.into(),
                owned: false,
            });
        }
        let base = std::env::temp_dir();
        let pid = std::process::id();
        for n in 0..1000 {
            let path = base.join(format!("planar-runtime-{pid}-{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    // The umask may have removed bits; 0700 is what the spec asks for.
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                        .with_context(|| {
                            format!("error setting mode 0700 on {}", path.display())
                        })?;
                    tracing::info!(dir = %path.display(), "XDG_RUNTIME_DIR is unset: made a private runtime directory");
                    return Ok(RuntimeDir { path, owned: true });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("error creating {}", path.display()))
                }
            }
        }
        anyhow::bail!(
            "error creating a private runtime directory in {}",
            base.display()
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
