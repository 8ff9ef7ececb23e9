//! Where a benchmark finds the server binary and keeps its temporary data.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The workspace root (two levels above the bench crates).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The server binary: as given, or relative to the workspace root.
pub fn resolve_server(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let from_root = workspace_root().join(path);
    if path.is_relative() && from_root.is_file() {
        return Ok(from_root);
    }
    bail!(
        "server binary {} not found; build it with `cargo build --release -p spanloom-server`",
        path.display()
    )
}

/// A temporary directory removed on drop unless kept.
pub struct TempDir {
    /// Its path.
    pub path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Creates `<parent>/<prefix>-<uuid>`.
    pub fn new(parent: &Path, prefix: &str, keep: bool) -> anyhow::Result<Self> {
        let path = parent.join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir { path, keep })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
