//! Background WAL checkpoints on their own thread and connection.
//!
//! SQLite's automatic checkpoint runs inside the committing transaction, which would put the
//! copy of the WAL into the database file (and its fsync) on the single writer thread. Here the
//! writer only appends to the WAL; this thread copies it back on the other core.

use crate::background::{BackgroundThread, StopSignal};
use crate::wal_bound::WalProgress;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often the WAL is copied back when nothing asks sooner.
const INTERVAL: Duration = Duration::from_millis(100);
/// How often while the writer waits to start the WAL over.
const URGENT_INTERVAL: Duration = Duration::from_millis(5);

/// The checkpoint thread; stops (after a final truncating checkpoint) when dropped via `stop`.
pub(crate) struct Checkpointer {
    thread: BackgroundThread,
}

impl Checkpointer {
    /// Starts the thread; it reports each checkpoint's progress to `progress`.
    pub(crate) fn spawn(path: &Path, progress: Arc<WalProgress>) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "busy_timeout", 1_000)?;
        // Flush the database file at each checkpoint before the WAL can be reused.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let thread =
            BackgroundThread::spawn("wal-checkpoint", move |stop| run(conn, &progress, &stop))
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self { thread })
    }

    /// Stops the thread after a final checkpoint that truncates the WAL.
    pub(crate) fn stop(&mut self) {
        self.thread.stop();
    }
}

fn run(conn: Connection, progress: &WalProgress, stop: &StopSignal) {
    loop {
        let interval = if progress.urgent() {
            URGENT_INTERVAL
        } else {
            INTERVAL
        };
        if stop.wait(interval) {
            if let Err(e) = checkpoint(&conn, "TRUNCATE") {
                tracing::warn!(error = %e, "final WAL checkpoint failed");
            }
            return;
        }
        // Copies the WAL into the database without blocking anyone. Under continuous ingest
        // the WAL never drains completely, so the writer starts it over when it grows too big
        // (see `wal_bound`); by then this thread has copied nearly all of it.
        match checkpoint(&conn, "PASSIVE") {
            Ok(status) => progress.record_checkpoint(status.log, status.copied),
            Err(e) => tracing::debug!(error = %e, "WAL checkpoint deferred"),
        }
    }
}

/// What one checkpoint reported.
pub(crate) struct CheckpointStatus {
    /// A reader or another checkpoint kept it from finishing what its mode asks.
    pub(crate) busy: bool,
    /// Frames in the WAL (-1 when unknown).
    pub(crate) log: i64,
    /// Frames of it copied into the database (-1 when unknown).
    pub(crate) copied: i64,
}

/// Runs one checkpoint (`mode` is PASSIVE, FULL, RESTART or TRUNCATE).
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<CheckpointStatus> {
    let started = std::time::Instant::now();
    let status = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(CheckpointStatus {
            busy: r.get::<_, i64>(0)? != 0,
            log: r.get(1)?,
            copied: r.get(2)?,
        })
    })?;
    metrics::histogram!("spanloom_store_checkpoint_seconds")
        .record(started.elapsed().as_secs_f64());
    Ok(status)
}
