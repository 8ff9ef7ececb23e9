//! Settings of the SQLite backend.

use std::path::PathBuf;

/// How hard SQLite syncs at commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync at every commit: acknowledged writes survive power loss.
    Full,
    /// fsync at checkpoints: acknowledged writes survive a process crash, not power loss.
    Normal,
}

/// Fields indexed by default: the ids LLM apps group requests by.
pub const DEFAULT_INDEXED_FIELDS: [&str; 2] = ["metadata.user_id", "metadata.session_id"];

/// Configuration of a [`crate::SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The data directory; the database is `spanloom.db` inside it.
    pub dir: PathBuf,
    /// Reader connections.
    pub readers: usize,
    /// Write requests that may wait for the writer before new ones are refused (overload).
    pub queue_capacity: usize,
    /// Sync mode.
    pub synchronous: Synchronous,
    /// Row fields (dotted paths into the row, e.g. `metadata.user_id`) that get an index, so
    /// queries filtering on them do not scan. Payload fields (input, output, expected) cannot
    /// be indexed.
    pub indexed_fields: Vec<String>,
    /// Keep a full-text index for `MATCH` (built by a background thread; without it, `MATCH`
    /// scans every payload).
    pub text_index: bool,
}

impl SqliteConfig {
    /// Defaults for a data directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            readers: 4,
            queue_capacity: 1024,
            synchronous: Synchronous::Full,
            indexed_fields: DEFAULT_INDEXED_FIELDS
                .iter()
                .map(|f| (*f).to_owned())
                .collect(),
            text_index: true,
        }
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("spanloom.db")
    }
}
