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

/// Fields with an expression index by default: none. Equality on a metadata string (the user
/// and session ids LLM apps group requests by) is found through the full-text index instead;
/// an expression index of random values dirtied a random page of it per row at every commit
/// (a fifth of the WAL frames on the ingest benchmark with `metadata.user_id` and
/// `metadata.session_id`). `--index-field` still adds one, for ranges, sorting, or numbers.
pub const DEFAULT_INDEXED_FIELDS: [&str; 0] = [];

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
    /// WAL content (bytes of frames in use) past which the writer starts the WAL over, once
    /// the checkpoint thread has copied it back. The file keeps its size and is reused.
    pub wal_limit_bytes: u64,
}

/// Default [`SqliteConfig::wal_limit_bytes`]: large enough that restarts, each a pause of
/// 10-60 ms for the writes queued meanwhile, are rare (about one per 6 s at the ingest
/// benchmark's half load: 128 MiB made it one per 1.4 s, and a p99 of 60-80 ms instead of
/// 37-46 ms), small enough to stay in the page cache. PostgreSQL's `max_wal_size` is 1 GiB.
pub const DEFAULT_WAL_LIMIT_BYTES: u64 = 512 * 1024 * 1024;

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
            wal_limit_bytes: DEFAULT_WAL_LIMIT_BYTES,
        }
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("spanloom.db")
    }

    /// The payload log's directory (segment files of compressed payloads).
    pub fn payload_log_dir(&self) -> PathBuf {
        self.dir.join("payloads")
    }
}
