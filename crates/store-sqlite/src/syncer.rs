//! Durable acknowledgements without stalling the writer on fsync.
//!
//! With `--sync full` the writer connection commits with `synchronous=OFF` (SQLite writes the
//! WAL frames but does not fsync), and hands the group's answers to this thread, which fsyncs
//! the WAL file and only then delivers them. The writer meanwhile applies the next group, so
//! the disk flush of one group overlaps the work of the next; no answer is sent before the
//! data it acknowledges is on disk. Checkpoints run on a connection with `synchronous=FULL`,
//! so the database file is flushed before the WAL can be reused.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Delivers answers once the data they acknowledge is durable (or with the sync error).
pub(crate) type Delivery = Box<dyn FnOnce(Result<(), String>) + Send>;

/// How acknowledgements are made durable.
pub(crate) enum Syncer {
    /// `--sync normal`: SQLite's own commit is enough; deliver at once.
    Immediate,
    /// `--sync full`: fsync the WAL on a separate thread, then deliver.
    Background {
        sender: Option<mpsc::Sender<Delivery>>,
        handle: Option<JoinHandle<()>>,
    },
}

impl Syncer {
    /// Starts the fsync thread for the WAL of `db_path`.
    pub(crate) fn background(db_path: &std::path::Path) -> std::io::Result<Self> {
        let wal = crate::wal_path(db_path);
        let (sender, receiver) = mpsc::channel::<Delivery>();
        let handle = std::thread::Builder::new()
            .name("wal-fsync".into())
            .spawn(move || run(wal, receiver))?;
        Ok(Syncer::Background {
            sender: Some(sender),
            handle: Some(handle),
        })
    }

    /// Delivers after everything committed so far is durable.
    pub(crate) fn deliver(&self, delivery: Delivery) {
        match self {
            Syncer::Immediate => delivery(Ok(())),
            Syncer::Background { sender, .. } => {
                if let Some(Err(mpsc::SendError(delivery))) =
                    sender.as_ref().map(|s| s.send(delivery))
                {
                    delivery(sync_wal_now());
                }
            }
        }
    }

    /// Waits until every queued delivery has been made.
    pub(crate) fn stop(&mut self) {
        if let Syncer::Background { sender, handle } = self {
            drop(sender.take());
            if let Some(handle) = handle.take() {
                let _ = handle.join();
            }
        }
    }
}

fn sync_wal_now() -> Result<(), String> {
    Err("the fsync thread stopped".into())
}

fn run(wal: PathBuf, receiver: mpsc::Receiver<Delivery>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        batch.extend(receiver.try_iter());
        let started = Instant::now();
        let result = fsync(&wal);
        let elapsed = started.elapsed();
        metrics::histogram!("spanloom_store_fsync_seconds").record(elapsed.as_secs_f64());
        tracing::debug!(
            groups = batch.len(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "WAL fsynced"
        );
        if let Err(e) = &result {
            tracing::error!(error = %e, "fsync of the WAL failed; writes are answered with an error");
        }
        for delivery in batch {
            delivery(result.clone());
        }
    }
}

/// fsyncs the WAL file (reopened each time, so a WAL that SQLite recreated is the one synced).
fn fsync(wal: &std::path::Path) -> Result<(), String> {
    match std::fs::File::open(wal) {
        Ok(file) => file
            .sync_data()
            .map_err(|e| format!("fsync {}: {e}", wal.display())),
        // No WAL yet: nothing was written, nothing to flush.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("open {}: {e}", wal.display())),
    }
}
