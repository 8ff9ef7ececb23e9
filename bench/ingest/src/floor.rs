//! The floor: how fast plain SQLite stores the same rows with no server in between.
//!
//! One thread inserts every start row and every end row as its own table row (JSON text plus a
//! few numeric columns), [`ROWS_PER_TX`] rows per transaction, WAL journal, in the order the
//! server receives them (a batch of start rows, then that batch's end rows). Only the inserts
//! are timed; generating the rows is not.

use crate::workload::Workload;
use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rusqlite::{Connection, params};
use std::path::Path;
use std::time::{Duration, Instant};

/// Rows per transaction.
pub const ROWS_PER_TX: usize = 500;
/// Spans generated at a time (outside the timer) before inserting them.
const CHUNK_SPANS: usize = 5_000;

/// What the floor measured for one `synchronous` setting.
#[derive(Debug, Clone)]
pub struct FloorResult {
    /// `FULL` or `NORMAL`.
    pub synchronous: String,
    /// Rows inserted (two per span).
    pub rows: u64,
    /// Time spent inserting and committing.
    pub elapsed: Duration,
    /// Size of the database files after closing.
    pub disk_bytes: u64,
}

impl FloorResult {
    /// Rows per second.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Spans per second (two rows per span).
    pub fn spans_per_sec(&self) -> f64 {
        self.rows_per_sec() / 2.0
    }
}

/// Inserts the rows of `spans` spans into a fresh database in `dir` with `synchronous`
/// (`FULL` or `NORMAL`), `batch` spans per group as the clients send them.
pub fn run(
    workload: &Workload,
    dir: &Path,
    spans: u64,
    batch: usize,
    synchronous: &str,
    seed: u64,
    time_limit: Duration,
) -> anyhow::Result<FloorResult> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("floor.sqlite");
    let mut conn =
        Connection::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.execute_batch(
        "CREATE TABLE rows (
            seq INTEGER PRIMARY KEY,
            row_id TEXT NOT NULL,
            is_merge INTEGER NOT NULL,
            ts REAL NOT NULL,
            tokens INTEGER NOT NULL,
            data TEXT NOT NULL
        )",
    )?;

    let mut rng = SmallRng::seed_from_u64(seed);
    let batch = batch.max(1);
    let mut elapsed = Duration::ZERO;
    let mut rows = 0u64;
    let mut pending = 0usize;
    let mut tx = conn.transaction()?;
    let mut done = 0u64;
    while done < spans && elapsed < time_limit {
        // Generate a chunk (untimed): per client batch, its start rows then its end rows.
        let mut chunk: Vec<(String, bool, f64, u64, String)> = Vec::new();
        let chunk_end = (done + CHUNK_SPANS as u64).min(spans);
        while done < chunk_end {
            let count = (chunk_end - done).min(batch as u64) as usize;
            let generated = workload.batch(&mut rng, done, count);
            for s in &generated {
                chunk.push((s.id.clone(), false, s.start, s.tokens, s.start_row.clone()));
            }
            for s in generated {
                chunk.push((s.id, true, s.end, 0, s.end_row));
            }
            done += count as u64;
        }

        let t0 = Instant::now();
        for (id, is_merge, ts, tokens, data) in &chunk {
            tx.prepare_cached(
                "INSERT INTO rows (row_id, is_merge, ts, tokens, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, is_merge, ts, i64::try_from(*tokens)?, data])?;
            pending += 1;
            rows += 1;
            if pending == ROWS_PER_TX {
                tx.commit()?;
                tx = conn.transaction()?;
                pending = 0;
            }
        }
        elapsed += t0.elapsed();
    }
    let t0 = Instant::now();
    tx.commit()?;
    elapsed += t0.elapsed();
    conn.close().map_err(|(_, e)| e)?;
    let disk_bytes = crate::server::dir_bytes(dir)?;
    Ok(FloorResult {
        synchronous: synchronous.to_owned(),
        rows,
        elapsed,
        disk_bytes,
    })
}
