//! The background logger: rows are queued by the calling thread (cheap, never blocked on the
//! network) and sent by a worker thread in batches.
//!
//! * **Queue.** Bounded in rows and in bytes; when full, either the oldest rows are dropped
//!   (counted, as the official SDK does, and reported through the warning hook: at the first
//!   drop, then at most every [`DROP_WARNING_PERIOD`] and when the logger stops) or `log`
//!   blocks until there is room. Rows are queued
//!   as JSON text ([`BackgroundLogger::log_json`]; [`BackgroundLogger::log`] serializes a
//!   value first), so the calling thread (a Python thread holding the GIL) pays for a copy
//!   only. The worker is woken only when it is idle or a batch is full, and lingers a moment
//!   after a wake so rows travel together.
//! * **Rows.** The worker takes a wave of rows at a time from the front of the queue (what
//!   `concurrency` requests carry), so a backlog is never parsed all at once. A wave is sent
//!   on a thread of its own; under a backlog the worker meanwhile takes and prepares the next
//!   one, which goes out at once (two waves in flight at most, within one wave's bytes) when
//!   no span has rows in both and no spool is configured, else once the waves before it are
//!   answered: rows of one span always arrive in order. It completes and merges the rows
//!   ([`crate::rows::prepare`]): a replace row without `created` gets one from its
//!   `metrics.start`, and rows of one span become one (a replace then its merges become one
//!   replace row; identity fields and `created` of the first row stay), the protocol's
//!   client-side rule: all rows of one request share a transaction id, so two versions of a
//!   row must never travel in one request. Payload fields are never parsed there.
//! * **Batches.** At most `batch_rows` rows and `max_request_bytes` per request; a row larger
//!   than the limit travels alone. Up to `concurrency` requests are in flight at once.
//! * **Retries.** Transport errors and non-2xx answers are retried with exponential backoff and
//!   jitter, up to `num_retries` times; 413 is final. A batch that finally fails is written to
//!   `failed_payloads_dir` when set (every batch goes to `all_payloads_dir` when set).
//! * **Flush.** `flush` returns once every row logged before it was sent or given up on; with
//!   `sync_flush` nothing is sent except by `flush`.
//! * **Spool.** With `spool_dir`, a batch that finally fails because the server is
//!   unreachable (transport error, 408, 429, 5xx) is appended to the spool directory instead
//!   of being lost, and later re-sent, oldest first, by this or any later logger with the same
//!   `spool_key`: before each send wave, and on a timer while files remain. While the spool
//!   is not empty new batches are spooled behind it, so rows reach the server in the order
//!   they were logged. Files are claimed by an atomic rename, so concurrent processes never
//!   send one file twice; claims of dead processes are taken back.
//! * **Fork.** A logger copied into a forked child has no worker thread there (and its locks
//!   may be held by threads that do not exist): every method is a no-op in a process other
//!   than the one that started it, and [`BackgroundLogger::abandon`] makes dropping it free
//!   the memory only, without flushing or joining.

use crate::transport::Transport;
use serde_json::Value;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A callback for warnings the user should see (the server cannot be reached, rows were
/// spooled or lost, the server is back).
pub type WarningHook = Arc<dyn Fn(&str) + Send + Sync>;

/// What `log` does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullQueue {
    /// Drop the oldest queued row (counted in [`BackgroundLogger::dropped`]).
    DropOldest,
    /// Wait for room.
    Block,
}

/// Settings of the background logger (defaults follow the official SDK's).
#[derive(Clone)]
pub struct LoggerConfig {
    /// Where bodies go.
    pub transport: Arc<dyn Transport>,
    /// Rows per request at most (`BRAINTRUST_DEFAULT_BATCH_SIZE`, 100).
    pub batch_rows: usize,
    /// Bytes per request at most (the server's `logs3_payload_max_bytes`, else 6 MiB).
    pub max_request_bytes: usize,
    /// Queue bound in rows (25,000).
    pub queue_capacity: usize,
    /// Queue bound in bytes of row JSON (256 MiB): rows of LLM size fill memory long before
    /// the row bound; the oldest go first when either bound is reached.
    pub queue_bytes: usize,
    /// When the queue is full.
    pub full_queue: FullQueue,
    /// Retries after the first try (2).
    pub num_retries: u32,
    /// Requests of one send wave in flight at once (2): the server decodes one while it
    /// commits another. Rows of one span are one row within a wave, so the requests of a
    /// wave never race on a row.
    pub concurrency: usize,
    /// First backoff; doubled each retry, plus up to 25% jitter (1 s).
    pub backoff: Duration,
    /// Send only on `flush`.
    pub sync_flush: bool,
    /// Where finally failed bodies are written.
    pub failed_payloads_dir: Option<PathBuf>,
    /// Where every body is written before it is sent.
    pub all_payloads_dir: Option<PathBuf>,
    /// Where batches that cannot be delivered wait to be re-sent (see the module docs).
    pub spool_dir: Option<PathBuf>,
    /// The spool files this logger writes and replays start with this key (one key per
    /// destination, so a spool directory can serve several servers).
    pub spool_key: String,
    /// Called (from the worker thread) with a warning: once when the server becomes
    /// unreachable, once when it is back.
    pub on_warning: Option<WarningHook>,
}

impl LoggerConfig {
    /// Defaults for a transport.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport,
            batch_rows: 100,
            max_request_bytes: 6 * 1024 * 1024,
            queue_capacity: 25_000,
            queue_bytes: 256 * 1024 * 1024,
            full_queue: FullQueue::DropOldest,
            num_retries: 2,
            concurrency: 2,
            backoff: Duration::from_secs(1),
            sync_flush: false,
            failed_payloads_dir: None,
            all_payloads_dir: None,
            spool_dir: None,
            spool_key: "spool".into(),
            on_warning: None,
        }
    }
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Rows acknowledged by the server (after merging rows of one span).
    pub sent_rows: u64,
    /// Rows given up on (after the retries, or 413), not counting spooled ones.
    pub failed_rows: u64,
    /// Rows written to the spool directory to be re-sent later.
    pub spooled_rows: u64,
}

/// A queued row: its JSON text, parsed by the worker.
type Queued = Vec<u8>;

/// How long the worker waits after a wake for more rows before it sends (unless a batch is
/// full or a flush is wanted): rows logged in a burst then travel in one request.
const LINGER: Duration = Duration::from_millis(5);

/// Least time between two warnings about rows dropped from a full queue (the first drop is
/// reported at once).
pub const DROP_WARNING_PERIOD: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    queue: VecDeque<Queued>,
    /// Bytes of the rows in `queue`.
    queue_bytes: usize,
    /// The worker waits for rows with no deadline: the next row must wake it.
    worker_idle: bool,
    /// Rows ever queued, and rows taken by the worker, as sequence numbers.
    queued: u64,
    taken: u64,
    /// Sequence number up to which every row was sent or given up on.
    done: u64,
    flush_wanted: u64,
    dropped: u64,
    /// `dropped` when the worker last warned about drops, and when.
    dropped_warned: u64,
    drop_warned_at: Option<Instant>,
    report: FlushReport,
    stopping: bool,
    /// Spool files of this key may be waiting (re-checked on a timer).
    spool_pending: bool,
    /// The spool was tried at least once since the start (a flush waits for that).
    spool_tried: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queue half-updated; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The worker's sleep while it has nothing to send (up to `timeout`, or until woken):
    /// marked idle meanwhile, so the next row wakes it.
    fn wait_idle<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        state.worker_idle = true;
        let mut state = match timeout {
            Some(t) => self
                .changed
                .wait_timeout(state, t)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0),
            None => self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
        };
        state.worker_idle = false;
        state
    }
}

/// The background logger. Dropping it flushes and stops the worker (unless abandoned, or
/// in a forked child).
pub struct BackgroundLogger {
    shared: Arc<Shared>,
    config: LoggerConfig,
    worker: Option<JoinHandle<()>>,
    /// The process that started the worker: in any other (a forked child) the logger is inert.
    pid: u32,
    abandoned: AtomicBool,
}

impl BackgroundLogger {
    /// Starts the worker thread.
    pub fn start(config: LoggerConfig) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                spool_pending: config.spool_dir.is_some(),
                spool_tried: config.spool_dir.is_none(),
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let worker = {
            let (shared, config) = (Arc::clone(&shared), config.clone());
            std::thread::Builder::new()
                .name("spanloom-logger".into())
                .spawn(move || run(&shared, &config))
                .ok()
        };
        Self {
            shared,
            config,
            worker,
            pid: std::process::id(),
            abandoned: AtomicBool::new(false),
        }
    }

    /// Whether this logger may touch its queue: not abandoned, and in the process that
    /// started it (after `fork` the worker thread is gone and the lock may be held by a
    /// thread that does not exist in the child).
    fn usable(&self) -> bool {
        !self.abandoned.load(Ordering::Relaxed) && self.pid == std::process::id()
    }

    /// Gives the logger up without flushing: queued rows are neither sent nor written, and
    /// dropping it later neither locks the queue nor joins the worker. For a logger inherited
    /// through `fork`, whose worker thread does not exist in the child (the parent still
    /// owns and sends those rows).
    pub fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }

    /// Queues a row (a `/logs3` row with its object ids). Never does network I/O.
    pub fn log(&self, row: Value) {
        self.enqueue(serde_json::to_vec(&row).unwrap_or_default());
    }

    /// Queues a row given as JSON text, parsed by the worker (text that is not a JSON object
    /// is reported through the warning hook and counted as failed, never sent).
    pub fn log_json(&self, row: Vec<u8>) {
        self.enqueue(row);
    }

    /// Whether [`log`](Self::log) may wait (the queue is full and the policy is to block):
    /// a caller holding a lock other threads need (the GIL) releases it first.
    pub fn may_block(&self) -> bool {
        self.config.full_queue == FullQueue::Block
            && self.usable()
            && self.is_full(&self.shared.lock(), 0)
    }

    /// Whether the queue has no room for a row of `incoming` bytes (an empty queue always
    /// has room: a row larger than the byte bound still travels, alone).
    fn is_full(&self, state: &State, incoming: usize) -> bool {
        !state.queue.is_empty()
            && (state.queue.len() >= self.config.queue_capacity.max(1)
                || state.queue_bytes + incoming > self.config.queue_bytes)
    }

    fn enqueue(&self, row: Queued) {
        if !self.usable() {
            return;
        }
        let mut state = self.shared.lock();
        while self.is_full(&state, row.len()) {
            match self.config.full_queue {
                FullQueue::DropOldest => {
                    // Counted as taken: the worker's next drain marks it done, so a flush
                    // still waits for rows that are in flight.
                    if let Some(oldest) = state.queue.pop_front() {
                        state.queue_bytes -= oldest.len();
                    }
                    state.taken += 1;
                    state.dropped += 1;
                }
                FullQueue::Block => {
                    state = self
                        .shared
                        .changed
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
        state.queue_bytes += row.len();
        state.queue.push_back(row);
        state.queued += 1;
        // A wake is a syscall: only when the worker sleeps without a deadline, or a batch is
        // ready while it lingers.
        let wake = state.worker_idle || state.queue.len() == self.config.batch_rows.max(1);
        state.worker_idle = false;
        drop(state);
        if wake {
            self.shared.changed.notify_all();
        }
    }

    /// Sends everything logged so far and waits for it; reports the totals since the last
    /// flush.
    pub fn flush(&self) -> FlushReport {
        if !self.usable() {
            return FlushReport::default();
        }
        let mut state = self.shared.lock();
        let target = state.queued;
        state.flush_wanted = state.flush_wanted.max(target);
        self.shared.changed.notify_all();
        while (state.done < target || !state.spool_tried) && self.worker.is_some() {
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        std::mem::take(&mut state.report)
    }

    /// Rows dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        if !self.usable() {
            return 0;
        }
        self.shared.lock().dropped
    }
}

impl Drop for BackgroundLogger {
    fn drop(&mut self) {
        if !self.usable() {
            // No worker to stop here: forget its handle (detaching a thread that does not
            // exist in this process is undefined) and leave the queue's lock alone.
            std::mem::forget(self.worker.take());
            return;
        }
        self.flush();
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn run(shared: &Shared, config: &LoggerConfig) {
    let link = Arc::new(SharedLink::default());
    let mut retry_at: Option<Instant> = None;
    // Waves being sent, oldest first; they finish in that order.
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    loop {
        let (rows, upto) = match next_wave(shared, config, retry_at, !in_flight.is_empty()) {
            Next::Wave(rows, upto) => (rows, upto),
            Next::Idle => {
                finish(shared, config, in_flight.pop_front(), &link, &mut retry_at);
                continue;
            }
            Next::Stop => {
                while let Some(wave) = in_flight.pop_front() {
                    finish(shared, config, Some(wave), &link, &mut retry_at);
                }
                let drops = take_drop_warning(&mut shared.lock(), config, true);
                if let Some(message) = drops {
                    warn(config, &message);
                }
                return;
            }
        };
        // Parsed and merged while the waves before it are still on the wire.
        let prepared = crate::rows::prepare_wave(rows);
        for e in &prepared.errors {
            warn(config, &format!("spanloom: {e}; dropped"));
        }
        let wave_bytes: usize = prepared.rows.iter().map(String::len).sum();
        // The new wave goes out alongside the one in flight only if no span has rows in both
        // (so rows of one span still arrive in order) and there is no spool (whose batches
        // must stay in order); otherwise the earlier waves finish first.
        while !in_flight.is_empty() {
            let shares_a_span = in_flight
                .iter()
                .any(|w| !w.keys.is_disjoint(&prepared.keys));
            // Large rows make full waves on their own: those go one at a time, so the rows
            // in flight stay within one wave's bytes.
            let bytes: usize = in_flight.iter().map(|w| w.bytes).sum::<usize>() + wave_bytes;
            let may_overlap = config.spool_dir.is_none()
                && in_flight.len() < MAX_WAVES_IN_FLIGHT
                && bytes <= wave_limits(config).1
                && !shares_a_span;
            if may_overlap {
                break;
            }
            finish(shared, config, in_flight.pop_front(), &link, &mut retry_at);
        }
        in_flight.push_back(InFlight::start(
            config,
            prepared,
            wave_bytes,
            upto,
            Arc::clone(&link),
        ));
    }
}

/// Waves sent at once at most: the server parses the next wave's requests while it commits
/// the current one's, so its writer does not wait for a whole request to be decoded between
/// waves.
const MAX_WAVES_IN_FLIGHT: usize = 2;

/// What the worker does next.
enum Next {
    /// Send these rows (taken up to this sequence number).
    Wave(VecDeque<Queued>, u64),
    /// Nothing to take now, but a wave is in flight: finish it first.
    Idle,
    /// Stopping, with nothing left to send.
    Stop,
}

/// Waits for rows to send (or a spool retry, or the stop) and takes one wave of them.
/// `busy`: a wave is in flight, so rather than sleep the worker finishes it.
fn next_wave(
    shared: &Shared,
    config: &LoggerConfig,
    retry_at: Option<Instant>,
    busy: bool,
) -> Next {
    let mut state = shared.lock();
    loop {
        let wanted =
            !state.queue.is_empty() && (!config.sync_flush || state.flush_wanted > state.taken);
        // While a wave is in flight, the next one is taken early only when it is full (a
        // backlog): a few rows would make a small wave of their own, and those arriving
        // after them would wait a round trip more.
        if busy && !(wanted && wave_is_full(&state, config)) {
            return Next::Idle;
        }
        if wanted || state.stopping {
            break;
        }
        if state.spool_pending {
            // Spooled files wait for the server: try them again on a timer.
            let at = retry_at.unwrap_or_else(Instant::now);
            let now = Instant::now();
            if now >= at {
                break;
            }
            state = shared.wait_idle(state, Some(at - now));
            continue;
        }
        state = shared.wait_idle(state, None);
    }
    // Woken by a first row: give the rows after it a moment to join it.
    let linger_until = Instant::now() + LINGER;
    while !state.stopping
        && state.flush_wanted <= state.taken
        && state.queue.len() < config.batch_rows.max(1)
        && !config.sync_flush
    {
        let now = Instant::now();
        if now >= linger_until {
            break;
        }
        state = shared
            .changed
            .wait_timeout(state, linger_until - now)
            .map(|(s, _)| s)
            .unwrap_or_else(|p| p.into_inner().0);
    }
    if state.stopping && state.queue.is_empty() {
        if busy {
            // Its outcome decides whether the spool is tried once more.
            return Next::Idle;
        }
        if !state.spool_pending {
            return Next::Stop;
        }
        // One last try at the spool, then stop (the files stay for a later start).
        state.spool_pending = false;
    }
    // Woken only to retry the spool: with `sync_flush` the queue waits for a flush.
    let wanted = !config.sync_flush || state.flush_wanted > state.taken || state.stopping;
    let rows: VecDeque<Queued> = if wanted {
        take_wave(&mut state, config)
    } else {
        VecDeque::new()
    };
    state.taken += rows.len() as u64;
    let upto = state.taken;
    let drops = take_drop_warning(&mut state, config, false);
    drop(state);
    shared.changed.notify_all();
    if let Some(message) = drops {
        warn(config, &message);
    }
    Next::Wave(rows, upto)
}

/// A wave's rows, ready to go: the spool first (when there is one), then the rows.
struct Wave {
    config: LoggerConfig,
    rows: Vec<String>,
    /// Queued rows that were not valid JSON objects (counted as failed).
    invalid: usize,
    link: Arc<SharedLink>,
}

/// What sending a wave came to: its report, and whether the spool was empty before it.
type WaveOutcome = (FlushReport, bool);

impl Wave {
    fn send(self) -> WaveOutcome {
        let config = &self.config;
        let spool_empty = config.spool_dir.is_none() || replay_spool(config, &self.link);
        let mut report = send_all(config, self.rows, !spool_empty, &self.link);
        report.failed_rows += self.invalid as u64;
        (report, spool_empty)
    }
}

/// A wave being sent on its own thread, so the worker prepares the next wave meanwhile.
struct InFlight {
    sending: Sending,
    /// Sequence number up to which rows are done once this wave (and those before it) are.
    upto: u64,
    /// The identities of its rows.
    keys: std::collections::HashSet<String>,
    /// Bytes of its rows' JSON.
    bytes: usize,
}

enum Sending {
    Thread(JoinHandle<Option<WaveOutcome>>),
    /// Sent inline: no thread could be started.
    Done(Option<WaveOutcome>),
}

impl InFlight {
    fn start(
        config: &LoggerConfig,
        prepared: crate::rows::Prepared,
        bytes: usize,
        upto: u64,
        link: Arc<SharedLink>,
    ) -> Self {
        let wave = Arc::new(Mutex::new(Some(Wave {
            config: config.clone(),
            rows: prepared.rows,
            invalid: prepared.errors.len(),
            link,
        })));
        let take =
            |wave: &Mutex<Option<Wave>>| wave.lock().unwrap_or_else(|p| p.into_inner()).take();
        let queued = Arc::clone(&wave);
        let spawned = std::thread::Builder::new()
            .name("spanloom-sender".into())
            .spawn(move || take(&queued).map(Wave::send));
        let sending = match spawned {
            Ok(handle) => Sending::Thread(handle),
            // The closure never ran: the wave is still there to send here.
            Err(_) => Sending::Done(take(&wave).map(Wave::send)),
        };
        Self {
            sending,
            upto,
            keys: prepared.keys,
            bytes,
        }
    }

    /// Waits for the wave; `None` if its thread panicked (its rows count as failed then).
    fn join(self) -> Option<WaveOutcome> {
        match self.sending {
            Sending::Thread(handle) => handle.join().ok().flatten(),
            Sending::Done(outcome) => outcome,
        }
    }
}

/// Waits for a wave in flight (if any) and records what became of it.
fn finish(
    shared: &Shared,
    config: &LoggerConfig,
    in_flight: Option<InFlight>,
    link: &SharedLink,
    retry_at: &mut Option<Instant>,
) {
    let Some(in_flight) = in_flight else { return };
    let upto = in_flight.upto;
    let (report, spool_empty) = in_flight.join().unwrap_or_else(|| {
        warn(
            config,
            "spanloom: the sending thread panicked; its rows are lost",
        );
        (FlushReport::default(), true)
    });
    let still_pending = config.spool_dir.is_some() && (!spool_empty || report.spooled_rows > 0);
    *retry_at = still_pending.then(|| Instant::now() + link.retry_delay(config));
    let mut state = shared.lock();
    state.report.sent_rows += report.sent_rows;
    state.report.failed_rows += report.failed_rows;
    state.report.spooled_rows += report.spooled_rows;
    state.done = state.done.max(upto);
    state.spool_tried = true;
    if !state.stopping {
        state.spool_pending = still_pending;
    }
    drop(state);
    shared.changed.notify_all();
}

/// The most rows and bytes of row JSON one wave takes.
fn wave_limits(config: &LoggerConfig) -> (usize, usize) {
    let concurrency = config.concurrency.max(1);
    (
        config.batch_rows.max(1).saturating_mul(2 * concurrency),
        config.max_request_bytes.saturating_mul(concurrency),
    )
}

/// Whether the queue holds a whole wave.
fn wave_is_full(state: &State, config: &LoggerConfig) -> bool {
    let (max_rows, max_bytes) = wave_limits(config);
    state.queue.len() >= max_rows || state.queue_bytes >= max_bytes
}

/// Takes the rows of one send wave from the front of the queue: at most `concurrency`
/// requests' worth (`max_request_bytes` each, and twice `batch_rows` rows each, since a
/// span's start and end rows merge into one), at least one row. A
/// backlog is then parsed, merged and sent a wave at a time: taking all of it at once held
/// every row parsed in memory (about 1 GiB for 300,000 small queued rows) while the server
/// waited for the first request.
fn take_wave(state: &mut State, config: &LoggerConfig) -> VecDeque<Queued> {
    let (max_rows, max_bytes) = wave_limits(config);
    if state.queue.len() <= max_rows && state.queue_bytes <= max_bytes {
        state.queue_bytes = 0;
        return std::mem::take(&mut state.queue);
    }
    let (mut count, mut bytes) = (0, 0);
    for row in &state.queue {
        if count > 0 && (count == max_rows || bytes + row.len() > max_bytes) {
            break;
        }
        count += 1;
        bytes += row.len();
    }
    state.queue_bytes -= bytes;
    state.queue.drain(..count).collect()
}

/// The warning about rows dropped since the last one, if it is due: at the first drop, then
/// once per [`DROP_WARNING_PERIOD`], and (with `last`) for any not reported yet when the
/// logger stops.
fn take_drop_warning(state: &mut State, config: &LoggerConfig, last: bool) -> Option<String> {
    let new = state.dropped - state.dropped_warned;
    let due = match state.drop_warned_at {
        None => true,
        Some(at) => last || at.elapsed() >= DROP_WARNING_PERIOD,
    };
    if new == 0 || !due {
        return None;
    }
    state.dropped_warned = state.dropped;
    state.drop_warned_at = Some(Instant::now());
    Some(format!(
        "spanloom: dropped {new} of the oldest queued rows ({} in all): rows are logged faster than \
         the server takes them and the queue is full (at most {} rows and {} MiB of row JSON; \
         raise SPANLOOM_QUEUE_SIZE / SPANLOOM_QUEUE_BYTES, or wait for room with \
         SPANLOOM_QUEUE_BLOCK=true)",
        state.dropped,
        config.queue_capacity,
        config.queue_bytes / (1024 * 1024)
    ))
}

/// Splits rows (JSON text) into request bodies under the count and byte limits.
pub fn batches(rows: &[String], batch_rows: usize, max_bytes: usize) -> Vec<(String, usize)> {
    const OVERHEAD: usize = r#"{"rows":[],"api_version":2}"#.len();
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut size = OVERHEAD;
    for text in rows {
        let full = current.len() >= batch_rows.max(1) || size + text.len() + 1 > max_bytes;
        if full && !current.is_empty() {
            out.push((body(&current), current.len()));
            current.clear();
            size = OVERHEAD;
        }
        size += text.len() + 1;
        current.push(text);
    }
    if !current.is_empty() {
        out.push((body(&current), current.len()));
    }
    out
}

fn body(rows: &[&str]) -> String {
    format!("{{\"rows\":[{}],\"api_version\":2}}", rows.join(","))
}

fn dump(dir: &Option<PathBuf>, body: &str) {
    let Some(dir) = dir else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let name = format!(
        "payload_{millis}_{}.json",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let _ = std::fs::write(dir.join(name), body);
}

/// The [`Link`] of every wave in flight (each call locks it briefly).
#[derive(Default)]
struct SharedLink(Mutex<Link>);

impl SharedLink {
    fn lock(&self) -> MutexGuard<'_, Link> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ok(&self, config: &LoggerConfig) {
        self.lock().ok(config);
    }

    fn failed(&self, config: &LoggerConfig, why: &str) {
        self.lock().failed(config, why);
    }

    fn retry_delay(&self, config: &LoggerConfig) -> Duration {
        self.lock().retry_delay(config)
    }
}

/// Whether the server is reachable, as the worker last saw it (for warning once per outage).
#[derive(Default)]
struct Link {
    down: bool,
    /// Consecutive failed spool retries (for the retry delay).
    failures: u32,
}

impl Link {
    fn failed(&mut self, config: &LoggerConfig, why: &str) {
        self.failures = self.failures.saturating_add(1);
        if !self.down {
            self.down = true;
            let fate = match &config.spool_dir {
                Some(dir) => format!(
                    "rows that cannot be delivered are spooled to {} and re-sent later",
                    dir.display()
                ),
                None => "rows that cannot be delivered after the retries are lost".into(),
            };
            warn(
                config,
                &format!("spanloom: cannot reach the server ({why}); retrying; {fate}"),
            );
        }
    }

    fn ok(&mut self, config: &LoggerConfig) {
        self.failures = 0;
        if self.down {
            self.down = false;
            warn(config, "spanloom: the server is reachable again");
        }
    }

    /// The wait before the spool is tried again: the backoff, doubled per failure, at most
    /// 30 s.
    fn retry_delay(&self, config: &LoggerConfig) -> Duration {
        let base = config.backoff.max(Duration::from_millis(100));
        base.saturating_mul(1u32 << self.failures.min(5))
            .min(Duration::from_secs(30))
    }
}

fn warn(config: &LoggerConfig, message: &str) {
    if let Some(hook) = &config.on_warning {
        hook(message);
    }
}

/// How one body fared.
enum Outcome {
    Sent,
    /// The server refused it for good (4xx other than 408/429, or 413): retrying cannot help.
    Rejected,
    /// No answer, or a transient one (408, 429, 5xx).
    Unreachable(String),
}

fn send_all(
    config: &LoggerConfig,
    rows: Vec<String>,
    spool_first: bool,
    link: &SharedLink,
) -> FlushReport {
    let mut report = FlushReport::default();
    // Once a batch is spooled, the rest of the wave goes behind it, in order.
    let mut spooling = spool_first;
    let bodies = batches(&rows, config.batch_rows, config.max_request_bytes);
    for chunk in bodies.chunks(config.concurrency.max(1)) {
        for (body, _) in chunk {
            dump(&config.all_payloads_dir, body);
        }
        let outcomes: Vec<Outcome> = if spooling {
            chunk
                .iter()
                .map(|_| Outcome::Unreachable("spool not drained".into()))
                .collect()
        } else {
            send_concurrently(config, chunk)
        };
        for ((body, count), outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Outcome::Sent => {
                    link.ok(config);
                    report.sent_rows += *count as u64;
                }
                Outcome::Rejected => {
                    dump(&config.failed_payloads_dir, body);
                    report.failed_rows += *count as u64;
                }
                Outcome::Unreachable(why) => {
                    if !spooling {
                        link.failed(config, &why);
                    }
                    match &config.spool_dir {
                        Some(dir) if spool_write(dir, &config.spool_key, body) => {
                            spooling = true;
                            report.spooled_rows += *count as u64;
                        }
                        _ => {
                            dump(&config.failed_payloads_dir, body);
                            report.failed_rows += *count as u64;
                        }
                    }
                }
            }
        }
    }
    report
}

/// Sends the bodies of `chunk` at the same time (each with its retries); the outcomes in
/// the chunk's order.
fn send_concurrently(config: &LoggerConfig, chunk: &[(String, usize)]) -> Vec<Outcome> {
    if let [(body, _)] = chunk {
        return vec![send_with_retries(config, body.as_bytes())];
    }
    std::thread::scope(|scope| {
        let senders: Vec<_> = chunk
            .iter()
            .map(|(body, _)| scope.spawn(|| send_with_retries(config, body.as_bytes())))
            .collect();
        senders
            .into_iter()
            .map(|sender| {
                sender
                    .join()
                    .unwrap_or_else(|_| Outcome::Unreachable("the sending thread panicked".into()))
            })
            .collect()
    })
}

fn classify(result: crate::transport::PostResult) -> Outcome {
    match result {
        Ok(status) if (200..400).contains(&status) => Outcome::Sent,
        Ok(status @ (408 | 429 | 500..=599)) => Outcome::Unreachable(format!("HTTP {status}")),
        Ok(_) => Outcome::Rejected,
        Err(e) => Outcome::Unreachable(e),
    }
}

fn send_with_retries(config: &LoggerConfig, body: &[u8]) -> Outcome {
    let mut last = Outcome::Unreachable("no attempt".into());
    for attempt in 0..=config.num_retries {
        let result = config.transport.post_logs3(body);
        // Too large is final: retrying the same body cannot help.
        if result == Ok(413) {
            return Outcome::Rejected;
        }
        last = classify(result);
        if matches!(last, Outcome::Sent) {
            return last;
        }
        if attempt < config.num_retries {
            let base = config.backoff.as_secs_f64() * f64::from(1u32 << attempt.min(16));
            let jitter = 1.0 + rand::random::<f64>() * 0.25;
            std::thread::sleep(Duration::from_secs_f64(base * jitter));
        }
    }
    last
}

/// Orders spool files written in the same millisecond by one process.
static SPOOL_SEQ: AtomicU64 = AtomicU64::new(0);

const CLAIMED: &str = ".claimed.";

/// Appends a body to the spool (written to a temporary name, then renamed, so a reader
/// never sees half a file). False when it could not be written.
fn spool_write(dir: &std::path::Path, key: &str, body: &str) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let seq = SPOOL_SEQ.fetch_add(1, Ordering::Relaxed);
    let name = format!(
        "{key}-{micros:020}-{seq:08}-{}.json",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let tmp = dir.join(format!(".tmp-{name}"));
    std::fs::write(&tmp, body).is_ok() && std::fs::rename(&tmp, dir.join(&name)).is_ok()
}

/// Whether the process that claimed a file is gone (its claim can be taken back).
fn claim_is_stale(path: &std::path::Path, pid: &str) -> bool {
    if pid == std::process::id().to_string() {
        return false;
    }
    let proc_dir = std::path::Path::new("/proc");
    if proc_dir.is_dir() {
        return !proc_dir.join(pid).exists();
    }
    // Without /proc: a claim older than ten minutes is taken to be abandoned.
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(600))
}

/// The spool files of this logger's key, oldest first; claims of dead processes are
/// released first.
fn spool_files(dir: &std::path::Path, key: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{key}-");
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) {
            continue;
        }
        if let Some((original, pid)) = name.split_once(CLAIMED) {
            if claim_is_stale(&entry.path(), pid) {
                let back = dir.join(original);
                if std::fs::rename(entry.path(), &back).is_ok() {
                    files.push(back);
                }
            }
        } else if name.ends_with(".json") {
            files.push(entry.path());
        }
    }
    files.sort();
    files
}

/// Re-sends spooled bodies, oldest first, one try each. True when no file of this key is
/// left (or none could be claimed: another process has them).
fn replay_spool(config: &LoggerConfig, link: &SharedLink) -> bool {
    let Some(dir) = &config.spool_dir else {
        return true;
    };
    for path in spool_files(dir, &config.spool_key) {
        let mut claimed = path.clone().into_os_string();
        claimed.push(format!("{CLAIMED}{}", std::process::id()));
        let claimed = PathBuf::from(claimed);
        if std::fs::rename(&path, &claimed).is_err() {
            continue; // another process claimed it
        }
        let Ok(body) = std::fs::read(&claimed) else {
            let _ = std::fs::rename(&claimed, &path);
            continue;
        };
        match classify(config.transport.post_logs3(&body)) {
            Outcome::Sent => {
                link.ok(config);
                let _ = std::fs::remove_file(&claimed);
            }
            Outcome::Rejected => {
                dump(&config.failed_payloads_dir, &String::from_utf8_lossy(&body));
                let _ = std::fs::remove_file(&claimed);
            }
            Outcome::Unreachable(why) => {
                link.failed(config, &why);
                let _ = std::fs::rename(&claimed, &path);
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_respect_count_and_size() {
        let rows: Vec<String> = (0..7)
            .map(|i| json!({"id": i, "x": "y".repeat(100)}).to_string())
            .collect();
        assert_eq!(
            batches(&rows, 3, 1 << 20)
                .iter()
                .map(|b| b.1)
                .collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        let small = batches(&rows, 100, 300);
        assert!(small.iter().all(|(b, n)| *n == 1 || b.len() <= 300));
        assert_eq!(small.iter().map(|b| b.1).sum::<usize>(), 7);
        for (b, _) in &small {
            assert!(serde_json::from_str::<Value>(b).is_ok());
        }
    }
}
