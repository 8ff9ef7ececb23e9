//! The full-text index behind `MATCH`, kept off the acknowledgement path.
//!
//! ```text
//! spans (committed) ──indexer thread, by xact_id──▶ <data dir>/text-index.db
//!                                                    terms · segments of postings · watermark
//! MATCH 'needle' ──▶ candidates: index lookup (rows up to the watermark)
//!                    ∪ every row written after the watermark (the unindexed tail)
//!                ──▶ the substring check on each candidate (answers stay exact)
//! ```
//!
//! * `tokens` — text to terms, needle to lookups (substring semantics, CJK bigrams).
//! * `dictionary` — every term once, in memory, scanned for substring lookups.
//! * `postings` — the seq lists of a term.
//! * `indexer` — the background thread: passes over new rows, segments, merges.
//!
//! The index is derived data: it lives in its own SQLite file, so its writes never take the
//! main database's write lock, and deleting the file rebuilds it from the spans.

mod dictionary;
mod indexer;
mod postings;
mod tokens;

pub(crate) use indexer::Indexer;

use dictionary::Dictionary;
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

/// The indexed text of a span, as SQL over `spans s` and its payload joins. `MATCH` without a
/// field verifies against this very expression, so the index and the check see the same text.
pub(crate) const HAYSTACK_SQL: &str = "lower(coalesce(sl_json(b_input.data), '') || char(10) || \
     coalesce(sl_json(b_output.data), '') || char(10) || coalesce(sl_json(b_expected.data), '') || char(10) || \
     coalesce(s.data -> '$.metadata', '') || char(10) || coalesce(s.data -> '$.error', ''))";

/// Version of the index file's layout; a file of another version is rebuilt.
const FORMAT: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (id INTEGER PRIMARY KEY, level INTEGER NOT NULL, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS postings (
    segment INTEGER NOT NULL, term INTEGER NOT NULL, seqs BLOB NOT NULL,
    PRIMARY KEY (segment, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// Dictionary terms a needle piece may expand to before it is too common to help.
const MAX_TERMS_PER_PIECE: usize = 4_096;
/// Encoded posting bytes of the first (rarest) piece beyond which the index is not used.
const MAX_FIRST_PIECE_BYTES: i64 = 2 << 20;
/// Encoded posting bytes beyond which a further piece is not read (it would narrow little).
const MAX_OTHER_PIECE_BYTES: i64 = 4 << 20;
/// Candidates beyond which the query scans instead.
pub(crate) const MAX_CANDIDATES: usize = 100_000;

/// Rows a `MATCH` needs to check: the index's hits plus everything after its watermark.
#[derive(Debug, Clone)]
pub(crate) struct Candidates {
    /// Span seqs (ascending) whose indexed text may contain the needle.
    pub(crate) seqs: Vec<i64>,
    /// Rows with a larger `xact_id` are not indexed yet and must be checked too.
    pub(crate) watermark: i64,
}

/// The index: its file, the in-memory dictionary, and connections for lookups.
pub(crate) struct TextIndex {
    /// Held while this process owns the index.
    _lock: std::fs::File,
    path: PathBuf,
    dictionary: RwLock<Dictionary>,
    readers: Mutex<Vec<Connection>>,
    /// False after an indexing failure: lookups stop (queries scan) until a restart.
    healthy: AtomicBool,
}

impl TextIndex {
    /// Opens the index in `dir` (creating or rebuilding the file as needed) and loads its
    /// dictionary.
    pub(crate) fn open(dir: &Path) -> Result<Self, OpenError> {
        // One process keeps the index (CLI commands open the store beside a running server):
        // another one's dictionary would fall behind the index, so it scans instead.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("text-index.lock"))
            .map_err(OpenError::Lock)?;
        lock.try_lock().map_err(|_| OpenError::InUse)?;
        let path = dir.join("text-index.db");
        let dictionary = match load(&path) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "rebuilding the text index");
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                load(&path).map_err(OpenError::Sqlite)?
            }
        };
        Ok(Self {
            _lock: lock,
            path,
            dictionary: RwLock::new(dictionary),
            readers: Mutex::new(Vec::new()),
            healthy: AtomicBool::new(true),
        })
    }

    fn open_connection(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.pragma_update(None, "busy_timeout", 5_000)?;
        Ok(conn)
    }

    /// The rows that may contain `needle` (already lowercased as the check lowercases it).
    /// `exact_text` says the check reads [`HAYSTACK_SQL`] (or one of its payload parts)
    /// rather than text derived from it. `None` when the index cannot narrow the search: the
    /// caller scans.
    pub(crate) fn candidates(&self, needle: &str, exact_text: bool) -> Option<Candidates> {
        if !self.healthy.load(Ordering::Relaxed) {
            return None;
        }
        let pieces = tokens::needle_pieces(needle, exact_text);
        if pieces.is_empty() {
            return None;
        }
        let conn = {
            let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(c) => c,
                None => self.open_connection().ok()?,
            }
        };
        let found = self.lookup(&conn, &pieces);
        if let Err(e) = &found {
            tracing::warn!(error = %e, "text index lookup failed; scanning instead");
        }
        let _ = conn.execute_batch("ROLLBACK");
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        found.ok().flatten()
    }

    fn lookup(
        &self,
        conn: &Connection,
        pieces: &[tokens::Piece],
    ) -> rusqlite::Result<Option<Candidates>> {
        // The snapshot first, the dictionary second: the indexer adds terms to the dictionary
        // before it commits their postings, so every term of the snapshot is found.
        conn.execute_batch("BEGIN")?;
        let watermark: i64 = conn
            .query_row("SELECT value FROM state WHERE key = 'watermark'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0);
        if watermark == 0 {
            return Ok(None);
        }
        let segments: Vec<i64> = conn
            .prepare_cached("SELECT id FROM segments")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let expansions: Vec<Option<Vec<u32>>> = {
            let dictionary = self.dictionary.read().unwrap_or_else(|e| e.into_inner());
            pieces
                .iter()
                .map(|p| dictionary.matching(&p.text, p.rule, MAX_TERMS_PER_PIECE))
                .collect()
        };
        // Read the rarest piece first; pieces too common to narrow much are skipped (skipping
        // a piece only widens the candidates, never loses a row).
        let mut sized = Vec::new();
        for terms in expansions.into_iter().flatten() {
            let mut bytes = 0i64;
            let mut size = conn.prepare_cached(
                "SELECT length(seqs) FROM postings WHERE segment = ?1 AND term = ?2",
            )?;
            for &segment in &segments {
                for &term in &terms {
                    if let Some(n) = size
                        .query_row((segment, term), |r| r.get::<_, i64>(0))
                        .optional()?
                    {
                        bytes += n;
                    }
                }
            }
            sized.push((bytes, terms));
        }
        sized.sort_by_key(|(bytes, _)| *bytes);
        let mut result: Option<Vec<i64>> = None;
        for (i, (bytes, terms)) in sized.iter().enumerate() {
            let limit = if i == 0 {
                MAX_FIRST_PIECE_BYTES
            } else {
                MAX_OTHER_PIECE_BYTES
            };
            if *bytes > limit {
                break;
            }
            let mut seqs = Vec::new();
            let mut read =
                conn.prepare_cached("SELECT seqs FROM postings WHERE segment = ?1 AND term = ?2")?;
            for &segment in &segments {
                for &term in terms {
                    if let Some(blob) = read
                        .query_row((segment, term), |r| r.get::<_, Vec<u8>>(0))
                        .optional()?
                    {
                        postings::decode_into(&blob, &mut seqs);
                    }
                }
            }
            postings::normalize(&mut seqs);
            result = Some(match result {
                None => seqs,
                Some(so_far) => postings::intersect(&so_far, &seqs),
            });
        }
        Ok(result
            .filter(|seqs| seqs.len() <= MAX_CANDIDATES)
            .map(|seqs| Candidates { seqs, watermark }))
    }

    fn dictionary_len(&self) -> usize {
        self.dictionary
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    fn mark_unhealthy(&self) {
        self.healthy.store(false, Ordering::Relaxed);
    }
}

/// Why the index did not open.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// Another process keeps the index of this data directory.
    #[error("another process keeps the text index of this data directory")]
    InUse,
    /// The lock file cannot be opened.
    #[error("cannot open the text index lock file: {0}")]
    Lock(std::io::Error),
    /// The index file cannot be opened or created.
    #[error("cannot open the text index: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Creates or checks the index file and loads its dictionary.
fn load(path: &Path) -> rusqlite::Result<Dictionary> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let has_tables: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'terms'",
        [],
        |r| r.get(0),
    )?;
    if has_tables && version != FORMAT {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "index format {version}, this build writes {FORMAT}"
        )));
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "user_version", FORMAT)?;
    let mut dictionary = Dictionary::default();
    let mut stmt = conn.prepare("SELECT id, term FROM terms ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (id, term): (i64, String) = (row.get(0)?, row.get(1)?);
        if id != dictionary.len() as i64 || dictionary.get(&term).is_some() {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "term ids are not dense at {id}"
            )));
        }
        dictionary.push(&term);
    }
    Ok(dictionary)
}

#[cfg(test)]
mod tests;
