//! The background logger: rows are queued by the calling thread (cheap, never blocked on the
//! network) and sent by a worker thread in batches.
//!
//! * **Queue.** Bounded; when full, either the oldest rows are dropped (counted, as the
//!   official SDK does) or `log` blocks until there is room.
//! * **Merging.** Rows of one span queued before a send are merged first (a replace then its
//!   merges become one replace row; identity fields and `created` of the first row stay), the
//!   protocol's client-side rule: all rows of one request share a transaction id, so two
//!   versions of a row must never travel in one request.
//! * **Batches.** At most `batch_rows` rows and `max_request_bytes` per request; a row larger
//!   than the limit travels alone.
//! * **Retries.** Transport errors and non-2xx answers are retried with exponential backoff and
//!   jitter, up to `num_retries` times; 413 is final. A batch that finally fails is written to
//!   `failed_payloads_dir` when set (every batch goes to `all_payloads_dir` when set).
//! * **Flush.** `flush` returns once every row logged before it was sent or given up on; with
//!   `sync_flush` nothing is sent except by `flush`.

use crate::transport::Transport;
use serde_json::Value;
use spanloom_model::{fields, merge};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

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
    /// Queue bound (25,000).
    pub queue_capacity: usize,
    /// When the queue is full.
    pub full_queue: FullQueue,
    /// Retries after the first try (2).
    pub num_retries: u32,
    /// First backoff; doubled each retry, plus up to 25% jitter (1 s).
    pub backoff: Duration,
    /// Send only on `flush`.
    pub sync_flush: bool,
    /// Where finally failed bodies are written.
    pub failed_payloads_dir: Option<PathBuf>,
    /// Where every body is written before it is sent.
    pub all_payloads_dir: Option<PathBuf>,
}

impl LoggerConfig {
    /// Defaults for a transport.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport,
            batch_rows: 100,
            max_request_bytes: 6 * 1024 * 1024,
            queue_capacity: 25_000,
            full_queue: FullQueue::DropOldest,
            num_retries: 2,
            backoff: Duration::from_secs(1),
            sync_flush: false,
            failed_payloads_dir: None,
            all_payloads_dir: None,
        }
    }
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Rows acknowledged by the server (after merging rows of one span).
    pub sent_rows: u64,
    /// Rows given up on (after the retries, or 413).
    pub failed_rows: u64,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Value>,
    /// Rows ever queued, and rows taken by the worker, as sequence numbers.
    queued: u64,
    taken: u64,
    /// Sequence number up to which every row was sent or given up on.
    done: u64,
    flush_wanted: u64,
    dropped: u64,
    report: FlushReport,
    stopping: bool,
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
}

/// The background logger. Dropping it flushes and stops the worker.
pub struct BackgroundLogger {
    shared: Arc<Shared>,
    config: LoggerConfig,
    worker: Option<JoinHandle<()>>,
}

impl BackgroundLogger {
    /// Starts the worker thread.
    pub fn start(config: LoggerConfig) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
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
        }
    }

    /// Queues a row (a `/logs3` row with its object ids). Never does network I/O.
    pub fn log(&self, row: Value) {
        let mut state = self.shared.lock();
        let capacity = self.config.queue_capacity.max(1);
        while state.queue.len() >= capacity {
            match self.config.full_queue {
                FullQueue::DropOldest => {
                    // Counted as taken: the worker's next drain marks it done, so a flush
                    // still waits for rows that are in flight.
                    state.queue.pop_front();
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
        state.queue.push_back(row);
        state.queued += 1;
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Sends everything logged so far and waits for it; reports the totals since the last
    /// flush.
    pub fn flush(&self) -> FlushReport {
        let mut state = self.shared.lock();
        let target = state.queued;
        state.flush_wanted = state.flush_wanted.max(target);
        self.shared.changed.notify_all();
        while state.done < target && self.worker.is_some() {
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
        self.shared.lock().dropped
    }
}

impl Drop for BackgroundLogger {
    fn drop(&mut self) {
        self.flush();
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn run(shared: &Shared, config: &LoggerConfig) {
    loop {
        let (rows, upto) = {
            let mut state = shared.lock();
            loop {
                let wanted = !state.queue.is_empty()
                    && (!config.sync_flush || state.flush_wanted > state.taken);
                if wanted || state.stopping {
                    break;
                }
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if state.stopping && state.queue.is_empty() {
                return;
            }
            let rows: Vec<Value> = state.queue.drain(..).collect();
            state.taken += rows.len() as u64;
            let upto = state.taken;
            drop(state);
            shared.changed.notify_all();
            (rows, upto)
        };
        let report = send_all(config, merge_rows(rows));
        let mut state = shared.lock();
        state.report.sent_rows += report.sent_rows;
        state.report.failed_rows += report.failed_rows;
        state.done = state.done.max(upto);
        drop(state);
        shared.changed.notify_all();
    }
}

/// The identity of a row: its object ids and id.
fn row_key(row: &Value) -> String {
    let get = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("");
    [
        fields::PROJECT_ID,
        fields::EXPERIMENT_ID,
        fields::DATASET_ID,
        fields::PROMPT_SESSION_ID,
        fields::LOG_ID,
        fields::ID,
    ]
    .iter()
    .map(|k| get(k))
    .collect::<Vec<_>>()
    .join("\u{1f}")
}

fn is_merge(row: &Value) -> bool {
    row.get(fields::IS_MERGE).and_then(Value::as_bool) == Some(true)
}

/// Merges rows of one span queued together, in order (protocol reference §6.1).
pub fn merge_rows(rows: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(rows.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let key = row_key(&row);
        match at.get(&key) {
            Some(&i) if is_merge(&row) => {
                let was_replace = !is_merge(&out[i]);
                if let (Value::Object(base), Value::Object(mut patch)) = (&mut out[i], row) {
                    patch.remove(fields::IS_MERGE);
                    merge::merge_row(base, patch, &[]);
                    if was_replace {
                        base.remove(fields::IS_MERGE);
                    }
                }
            }
            Some(&i) => out[i] = row,
            None => {
                at.insert(key, out.len());
                out.push(row);
            }
        }
    }
    out
}

/// Splits rows into request bodies under the count and byte limits.
pub fn batches(rows: &[Value], batch_rows: usize, max_bytes: usize) -> Vec<(String, usize)> {
    const OVERHEAD: usize = r#"{"rows":[],"api_version":2}"#.len();
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = OVERHEAD;
    for row in rows {
        let text = row.to_string();
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

fn body(rows: &[String]) -> String {
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

fn send_all(config: &LoggerConfig, rows: Vec<Value>) -> FlushReport {
    let mut report = FlushReport::default();
    for (body, count) in batches(&rows, config.batch_rows, config.max_request_bytes) {
        dump(&config.all_payloads_dir, &body);
        if send_with_retries(config, body.as_bytes()) {
            report.sent_rows += count as u64;
        } else {
            dump(&config.failed_payloads_dir, &body);
            report.failed_rows += count as u64;
        }
    }
    report
}

fn send_with_retries(config: &LoggerConfig, body: &[u8]) -> bool {
    for attempt in 0..=config.num_retries {
        match config.transport.post_logs3(body) {
            Ok(status) if (200..400).contains(&status) => return true,
            // Too large is final: retrying the same body cannot help.
            Ok(413) => return false,
            Ok(_) | Err(_) => {}
        }
        if attempt < config.num_retries {
            let base = config.backoff.as_secs_f64() * f64::from(1u32 << attempt.min(16));
            let jitter = 1.0 + rand::random::<f64>() * 0.25;
            std::thread::sleep(Duration::from_secs_f64(base * jitter));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_of_one_span_merge_into_the_first() {
        let rows = vec![
            json!({"id": "a", "project_id": "p", "log_id": "g", "span_id": "s", "input": 1, "metrics": {"start": 1}}),
            json!({"id": "b", "project_id": "p", "log_id": "g", "input": 2}),
            json!({"id": "a", "project_id": "p", "log_id": "g", "_is_merge": true, "span_id": "x", "output": 3, "metrics": {"end": 2}}),
            json!({"id": "c", "project_id": "p", "log_id": "g", "_is_merge": true, "output": 4}),
            json!({"id": "c", "project_id": "p", "log_id": "g", "_is_merge": true, "tags": ["t"]}),
        ];
        let out = merge_rows(rows);
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0],
            json!({"id": "a", "project_id": "p", "log_id": "g", "span_id": "s", "input": 1, "output": 3, "metrics": {"start": 1, "end": 2}})
        );
        assert_eq!(out[2]["_is_merge"], true);
        assert_eq!(out[2]["tags"], json!(["t"]));
    }

    #[test]
    fn batches_respect_count_and_size() {
        let rows: Vec<Value> = (0..7)
            .map(|i| json!({"id": i, "x": "y".repeat(100)}))
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
