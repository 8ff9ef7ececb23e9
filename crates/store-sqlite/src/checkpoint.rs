//! Background WAL checkpoints on their own thread and connection.
//!
//! SQLite's automatic checkpoint runs inside the committing transaction, which would put the
//! copy of the WAL into the database file (and its fsync) on the single writer thread. Here the
//! writer only appends to the WAL; this thread copies it back on the other core.

use crate::background::{BackgroundThread, StopSignal};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// How often the WAL is copied back when nothing asks sooner.
const INTERVAL: Duration = Duration::from_millis(200);

/// The checkpoint thread; stops (after a final truncating checkpoint) when dropped via `stop`.
pub(crate) struct Checkpointer {
    thread: BackgroundThread,
}

impl Checkpointer {
    pub(crate) fn spawn(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "busy_timeout", 1_000)?;
        // Flush the database file at each checkpoint before the WAL can be reused.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let thread =
            BackgroundThread::spawn("spanloom-sqlite-checkpoint", move |stop| run(conn, &stop))
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self { thread })
    }

    /// Stops the thread after a final checkpoint that truncates the WAL.
    pub(crate) fn stop(&mut self) {
        self.thread.stop();
    }
}

fn run(conn: Connection, stop: &StopSignal) {
    loop {
        if stop.wait(INTERVAL) {
            if let Err(e) = checkpoint(&conn, "TRUNCATE") {
                tracing::warn!(error = %e, "final WAL checkpoint failed");
            }
            return;
        }
        // Copies the WAL into the database without blocking anyone. Under continuous ingest
        // the WAL never drains completely, so the writer truncates it when it grows too big
        // (see `Writer::bound_wal`); by then this thread has copied nearly all of it.
        if let Err(e) = checkpoint(&conn, "PASSIVE") {
            tracing::debug!(error = %e, "WAL checkpoint deferred");
        }
    }
}

/// Runs one checkpoint; returns the WAL's size in frames.
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    let started = std::time::Instant::now();
    let frames = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        r.get::<_, i64>(1)
    })?;
    metrics::histogram!("spanloom_store_checkpoint_seconds")
        .record(started.elapsed().as_secs_f64());
    Ok(frames)
}
