//! Keeps the WAL from growing without bound under continuous ingest, without truncating it.
//!
//! The checkpoint thread copies frames back into the database, but while rows keep arriving
//! the WAL is never fully copied at the moment a new transaction starts, so SQLite never
//! starts it over and it would grow forever. When the frames in use pass a limit, the writer
//! (between groups) waits until the checkpoint thread has copied nearly all of it, then runs a
//! `RESTART` checkpoint: it copies the little that is left, flushes the database file, and
//! makes the next commit write from the start of the WAL again. The file keeps its size:
//! rewriting pages the kernel already holds costs a copy, while a truncated WAL made every
//! later frame allocate new blocks and zero new pages (a fifth of the writer's time) and the
//! truncate itself stalled commits for up to 0.7 s.
//!
//! While the WAL file is still growing toward that size (a new server, or after a shutdown,
//! which truncates it), the writer also keeps it a little longer than its frames with zeros
//! written in large pieces (`grow_ahead`). The kernel (ext4 here) zeroes the rest of every block
//! a write into new file space only partly covers, and SQLite writes one 4,120-byte frame at
//! a time: a third of the writer's time in a fresh server's first half-gigabyte of frames went
//! to that zeroing. Filling 16 MiB at once and writing the frames over it costs the writer
//! about half as much. SQLite never reads past its last valid frame (zeros fail the frame
//! check), so the extra bytes are as harmless as the stale frames a restarted WAL leaves.
//! The zeros are written only under the WAL's write lock, since another process on the same
//! database (`spanloom keys` or `renormalize` beside a running server) appends frames too.

use rusqlite::Connection;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// How often the writer looks at the frame count.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// How soon a restart kept from finishing (the checkpoint thread was copying, or a reader
/// was on the WAL) is tried again.
const RETRY_INTERVAL: Duration = Duration::from_millis(10);
/// WAL bytes the checkpoint thread may still lack when the writer restarts: the writer copies
/// them itself, which blocks commits (about 12 ms per 4 MiB measured here).
const RESTART_GAP_BYTES: i64 = 4 << 20;
/// While restarting, how long one wait for the checkpoint thread or a reader lasts. SQLite's
/// default handler sleeps up to 100 ms at a time, which showed up as commit stalls.
const RESTART_POLL: Duration = Duration::from_millis(1);
/// How many such waits before the restart is left for the next check.
const RESTART_POLLS: i32 = 50;
/// While the WAL file grows, how far past its frames it is kept filled (see `grow_ahead`).
const GROW_AHEAD_BYTES: u64 = 32 << 20;
/// How much one fill adds (about 3 ms of the writer's time here).
const GROW_CHUNK_BYTES: u64 = 16 << 20;
/// The WAL header, which precedes the frames.
const WAL_HEADER_BYTES: u64 = 32;

/// What the writer and the checkpoint thread know of the WAL.
#[derive(Default)]
pub(crate) struct WalProgress {
    /// Frames in use after the writer's last commit (from SQLite's WAL hook).
    frames: AtomicI64,
    /// Frames the checkpoint thread had copied at its last checkpoint.
    copied: AtomicI64,
    /// The writer waits to restart the WAL: the checkpoint thread should copy without pause.
    urgent: AtomicBool,
}

impl WalProgress {
    /// Records a checkpoint thread's result: `log` frames in the WAL, `copied` of them copied.
    /// A result about a WAL generation already restarted (more frames than are now in use) is
    /// dropped; if one slips through, the next restart only copies more itself.
    pub(crate) fn record_checkpoint(&self, log: i64, copied: i64) {
        if log >= 0 && log <= self.frames.load(Ordering::Relaxed) {
            self.copied.store(copied, Ordering::Relaxed);
        }
    }

    /// True while the writer waits for the checkpoint thread to catch up.
    pub(crate) fn urgent(&self) -> bool {
        self.urgent.load(Ordering::Relaxed)
    }
}

/// The writer's side: bounds its WAL using the shared [`WalProgress`].
pub(crate) struct WalBound {
    progress: Arc<WalProgress>,
    /// WAL content (frames in use, not file size) past which the writer starts it over.
    limit_bytes: i64,
    frame_bytes: i64,
    /// When to look at the WAL next.
    next_check: Instant,
    /// The writer's normal busy timeout, restored after a restart.
    busy_timeout: Duration,
    /// The WAL file, for `grow_ahead` (opened once SQLite has created it; none in memory).
    wal_path: Option<PathBuf>,
    wal_file: Option<File>,
}

impl WalBound {
    /// Installs the WAL hook that counts frames on `conn`, the writer's connection.
    pub(crate) fn install(
        conn: &mut Connection,
        progress: Arc<WalProgress>,
        limit_bytes: u64,
        busy_timeout: Duration,
    ) -> rusqlite::Result<Self> {
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let wal_path = conn
            .path()
            .filter(|p| !p.is_empty())
            .map(|p| crate::wal_path(std::path::Path::new(p)));
        let seen = Arc::clone(&progress);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            seen.frames.store(i64::from(pages), Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(Self {
            progress,
            limit_bytes: i64::try_from(limit_bytes).unwrap_or(i64::MAX),
            // Each frame is a page plus a 24-byte header.
            frame_bytes: page_size + 24,
            next_check: Instant::now(),
            busy_timeout,
            wal_path,
            wal_file: None,
        })
    }

    /// Keeps a growing WAL file [`GROW_AHEAD_BYTES`] longer than its frames in use, up to
    /// the most the frames may reach (twice the limit), by appending zeros; called between
    /// groups, on the writer's thread. Only ever appends past the file's end, only once SQLite
    /// has written the header, and only while holding the WAL's write lock (an open write
    /// transaction, rolled back after): another process on the same database (`spanloom
    /// renormalize` or `keys` beside a running server) may append frames too, and zeros
    /// written over frames it just appended corrupted the database. A failure, or a lock held
    /// elsewhere, only leaves the WAL to grow as before.
    pub(crate) fn grow_ahead(&mut self, conn: &Connection) {
        let cap = u64::try_from(self.limit_bytes.saturating_mul(2)).unwrap_or(u64::MAX);
        let frames = u64::try_from(self.progress.frames.load(Ordering::Relaxed)).unwrap_or(0);
        let frame_bytes = u64::try_from(self.frame_bytes).unwrap_or(0);
        let used = WAL_HEADER_BYTES + frames * frame_bytes;
        if self.wal_file.is_none() {
            let Some(path) = &self.wal_path else {
                return;
            };
            self.wal_file = std::fs::OpenOptions::new().write(true).open(path).ok();
        }
        let Some(file) = &self.wal_file else {
            return;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return;
        };
        if len < WAL_HEADER_BYTES || len < used || len >= cap || len >= used + GROW_AHEAD_BYTES {
            return;
        }
        // No frame is appended by anyone while this transaction holds the write lock; the
        // length read under it is the real end of the frames.
        // Held elsewhere: skip this time rather than wait.
        let _ = conn.busy_timeout(Duration::ZERO);
        let lock =
            rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate);
        let _ = conn.busy_timeout(self.busy_timeout);
        let Ok(_lock) = lock else {
            return;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return;
        };
        if len >= cap || len >= used + GROW_AHEAD_BYTES {
            return;
        }
        let end = (len + GROW_CHUNK_BYTES).min(cap);
        let zeros = vec![0u8; 1 << 20];
        let mut at = len;
        while at < end {
            let n = (end - at).min(zeros.len() as u64) as usize;
            if let Err(e) = file.write_all_at(&zeros[..n], at) {
                tracing::debug!(error = %e, "could not grow the WAL ahead of its frames");
                self.wal_file = None;
                return;
            }
            at += n as u64;
        }
    }

    /// Starts the WAL over if it holds more than the limit and the checkpoint thread
    /// has nearly caught up (or it holds twice that); called between groups.
    ///
    /// `idle` says no write is waiting: a restart then delays nobody, so it is done as soon as
    /// the checkpoint thread has caught up; with writes waiting it is put off until the WAL
    /// holds half as much again over the limit.
    pub(crate) fn enforce(&mut self, conn: &mut Connection, idle: bool) {
        let now = Instant::now();
        if now < self.next_check {
            return;
        }
        self.next_check = now + CHECK_INTERVAL;
        let frames = self.progress.frames.load(Ordering::Relaxed);
        let bytes = frames * self.frame_bytes;
        let behind = frames - self.progress.copied.load(Ordering::Relaxed);
        let limit = self.limit_bytes;
        if bytes < limit {
            return;
        }
        let busy = !idle && bytes < limit.saturating_add(limit / 2);
        if (behind * self.frame_bytes > RESTART_GAP_BYTES || busy)
            && bytes < limit.saturating_mul(2)
        {
            // Ask the checkpoint thread to hurry and look again soon.
            self.progress.urgent.store(true, Ordering::Relaxed);
            self.next_check = now + RETRY_INTERVAL;
            return;
        }
        let started = Instant::now();
        match self.restart(conn) {
            Ok(true) => {
                // The next commit writes from the WAL's start; count from zero until then.
                self.progress.frames.store(0, Ordering::Relaxed);
                self.progress.copied.store(0, Ordering::Relaxed);
                self.progress.urgent.store(false, Ordering::Relaxed);
                tracing::debug!(
                    bytes,
                    behind,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "restarted the WAL"
                );
            }
            Ok(false) => {
                self.next_check = now + RETRY_INTERVAL;
                tracing::debug!(
                    bytes,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "WAL restart deferred: a reader or checkpoint was busy"
                )
            }
            Err(e) => {
                self.next_check = now + RETRY_INTERVAL;
                tracing::debug!(error = %e, bytes, "WAL restart deferred")
            }
        }
    }

    /// Runs the restarting checkpoint with `synchronous=FULL` (the database file is flushed
    /// before any frame it copied can be overwritten) and short busy waits; true when done.
    fn restart(&self, conn: &mut Connection) -> rusqlite::Result<bool> {
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
        let outcome = conn
            .pragma_update(None, "synchronous", "FULL")
            .and_then(|()| {
                conn.busy_handler(Some(|polls: i32| {
                    std::thread::sleep(RESTART_POLL);
                    polls < RESTART_POLLS
                }))
            })
            .and_then(|()| crate::checkpoint::checkpoint(conn, "RESTART"));
        // The writer's own settings come back whatever happened.
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "synchronous", sync)?;
        outcome.map(|status| !status.busy)
    }
}
