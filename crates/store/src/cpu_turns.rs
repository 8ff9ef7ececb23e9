//! Turns for CPU-bound work done on request tasks before a write reaches a store's writer.

use tokio::sync::{Semaphore, SemaphorePermit};

/// At most one fewer than the cores this process may use (at least one) hold a turn at once.
///
/// Decoding a request body and preparing its rows for the writer are CPU work on the request's
/// async task. With every core doing it at once, a burst of large requests finished together
/// while the writer sat idle; taking turns, the first request reaches the writer after one
/// decode, and the others are decoded while it commits. The API and a backend each keep their
/// own turns (one for decoding, one for preparing), so the two stages overlap.
#[derive(Debug)]
pub struct CpuTurns(Semaphore);

impl CpuTurns {
    /// Turns for one fewer than the available cores, at least one.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self(Semaphore::new(cores.saturating_sub(1).max(1)))
    }

    /// Waits for a turn; it ends when the permit is dropped. (The semaphore is never closed,
    /// so a turn always comes; `None` would only mean no limit.)
    pub async fn take(&self) -> Option<SemaphorePermit<'_>> {
        self.0.acquire().await.ok()
    }
}

impl Default for CpuTurns {
    fn default() -> Self {
        Self::new()
    }
}
