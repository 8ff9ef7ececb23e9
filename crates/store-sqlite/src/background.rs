//! Named background threads that run until asked to stop (checkpoints, text indexing).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Lowers the calling thread's CPU priority to the lowest (nice 19), where the OS allows it:
/// work that can lag (the text index) then takes a core only when ingest and queries leave
/// it idle, instead of taking turns with them on a small machine. Returns whether it did.
pub(crate) fn lower_priority() -> bool {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        match rustix::process::setpriority_process(Some(thread), 19) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "cannot lower the thread's priority");
                false
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The stop request a background thread waits on.
#[derive(Clone)]
pub(crate) struct StopSignal(Arc<(Mutex<bool>, Condvar)>);

impl StopSignal {
    /// Sleeps up to `timeout`, waking early on a stop request; true once a stop was asked.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let (lock, cvar) = &*self.0;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        if *guard {
            return true;
        }
        let (guard, _) = cvar
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// A running background thread; [`BackgroundThread::stop`] asks it to stop and waits.
pub(crate) struct BackgroundThread {
    signal: StopSignal,
    handle: Option<JoinHandle<()>>,
}

impl BackgroundThread {
    /// Starts `body` on a thread named `name`; it should return once its signal says stop.
    /// Names keep within Linux's 15 characters, so `top -H`, `perf` and the ingest
    /// benchmark's CPU-by-thread line tell the threads apart.
    pub(crate) fn spawn(
        name: &str,
        body: impl FnOnce(StopSignal) + Send + 'static,
    ) -> std::io::Result<Self> {
        let signal = StopSignal(Arc::new((Mutex::new(false), Condvar::new())));
        let theirs = signal.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(theirs))?;
        Ok(Self {
            signal,
            handle: Some(handle),
        })
    }

    /// Asks the thread to stop and waits for it.
    pub(crate) fn stop(&mut self) {
        let (lock, cvar) = &*self.signal.0;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
