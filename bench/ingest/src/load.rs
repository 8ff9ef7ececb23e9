//! Concurrent `/logs3` clients: each takes the next batch of spans, posts their start rows,
//! then (in a separate request, like the SDK) their end merges. A span is acknowledged when
//! the request carrying its end row got 200.

use crate::workload::{Workload, logs3_body};
use anyhow::{Context, anyhow, bail};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Back-off after a 503 before retrying the same body.
const OVERLOAD_BACKOFF: Duration = Duration::from_millis(50);
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// One load phase.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server base URL.
    pub url: String,
    /// API key.
    pub key: String,
    /// Spans to acknowledge.
    pub spans: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Spans per request.
    pub batch: usize,
    /// Offered load in spans/s, spread evenly over batches; `None` = as fast as acknowledged.
    pub rate: Option<f64>,
    /// The phase stops taking new batches after this long.
    pub time_limit: Duration,
    /// Seed for the clients' generators.
    pub seed: u64,
}

/// What a phase measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Acknowledged spans.
    pub acked_spans: u64,
    /// From the start of the phase to the last acknowledgement.
    pub elapsed: Duration,
    /// Latency of every request (start rows and end merges), including 503 retries.
    pub latencies: Vec<Duration>,
    /// Latency of start-row requests.
    pub start_latencies: Vec<Duration>,
    /// Latency of end-merge requests.
    pub end_latencies: Vec<Duration>,
    /// 503 responses received (each retried).
    pub overloaded: u64,
    /// Request body bytes acknowledged (excluding retries).
    pub body_bytes: u64,
    /// Whether the phase stopped at the time limit before acknowledging every span.
    pub timed_out: bool,
}

impl LoadResult {
    /// Acknowledged spans per second.
    pub fn spans_per_sec(&self) -> f64 {
        self.acked_spans as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Latency percentiles of a set of requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Requests.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Maximum.
    pub max: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples`.
    pub fn of(samples: &[Duration]) -> Self {
        let mut s = samples.to_vec();
        s.sort_unstable();
        let rank = |q: f64| -> Duration {
            if s.is_empty() {
                return Duration::ZERO;
            }
            let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
            s[i]
        };
        Percentiles {
            count: s.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: s.last().copied().unwrap_or_default(),
        }
    }
}

/// Shared state of the clients of one phase.
struct Shared {
    cfg: LoadConfig,
    workload: Workload,
    http: reqwest::Client,
    endpoint: String,
    auth: String,
    next_batch: AtomicU64,
    stop: AtomicBool,
    timed_out: AtomicBool,
    t0: Instant,
}

/// What one client measured.
#[derive(Default)]
struct ClientStats {
    acked_spans: u64,
    last_ack: Option<Instant>,
    start_latencies: Vec<Duration>,
    end_latencies: Vec<Duration>,
    overloaded: u64,
    body_bytes: u64,
}

/// An HTTP client for talking to the local server.
pub fn http_client(clients: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(clients.max(1))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")
}

/// Creates (or gets) the project `name`; returns its id.
pub async fn create_project(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    name: &str,
) -> anyhow::Result<String> {
    let body = serde_json::json!({ "name": name }).to_string();
    let resp = http
        .post(format!("{url}/v1/project"))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .context("POST /v1/project failed")?;
    let status = resp.status();
    let text = resp.text().await.context("reading POST /v1/project")?;
    if status != StatusCode::OK {
        bail!("POST /v1/project returned {status}: {text}");
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("POST /v1/project body: {text}"))?;
    value["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("POST /v1/project answered without an id: {text}"))
}

/// How long after the last acknowledgement the server's text index took to cover every span.
#[derive(Debug, Clone, Copy)]
pub enum IndexCatchUp {
    /// It covered them after this long.
    After(Duration),
    /// It had not within [`INDEX_WAIT`].
    NotWithin,
    /// The server's `/metrics` has no text-index gauges (another store, or no metrics).
    Unknown,
}

/// Longest wait for the text index after a phase.
pub const INDEX_WAIT: Duration = Duration::from_secs(180);

/// Waits until the server's text index has indexed at least `spans` rows and says it has
/// caught up (`spanloom_text_index_rows_total`, `spanloom_text_index_caught_up` on `/metrics`).
/// The indexer runs behind ingest at a low priority, so the CPU used until then is the whole
/// cost of the spans, not only what was spent before their acknowledgements.
pub async fn wait_for_text_index(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    spans: u64,
) -> anyhow::Result<IndexCatchUp> {
    let started = Instant::now();
    loop {
        let text = http
            .get(format!("{url}/metrics"))
            .header(AUTHORIZATION, format!("Bearer {key}"))
            .send()
            .await
            .context("GET /metrics failed")?
            .text()
            .await
            .context("reading GET /metrics")?;
        let gauge = |name: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        };
        let (Some(rows), Some(caught_up)) = (
            gauge("spanloom_text_index_rows_total"),
            gauge("spanloom_text_index_caught_up"),
        ) else {
            if started.elapsed() > Duration::from_secs(5) {
                return Ok(IndexCatchUp::Unknown);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if rows >= spans as f64 && caught_up >= 1.0 {
            return Ok(IndexCatchUp::After(started.elapsed()));
        }
        if started.elapsed() > INDEX_WAIT {
            return Ok(IndexCatchUp::NotWithin);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs one phase to completion (or its time limit) and merges the clients' measurements.
/// Any response other than 200 or 503 stops the phase with an error naming it.
pub async fn run(
    http: reqwest::Client,
    workload: Workload,
    cfg: LoadConfig,
) -> anyhow::Result<LoadResult> {
    if cfg.batch == 0 || cfg.clients == 0 {
        bail!("--batch and --clients must be at least 1");
    }
    let shared = Arc::new(Shared {
        endpoint: format!("{}/logs3", cfg.url),
        auth: format!("Bearer {}", cfg.key),
        cfg,
        workload,
        http,
        next_batch: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        timed_out: AtomicBool::new(false),
        t0: Instant::now(),
    });
    let mut tasks = Vec::new();
    for c in 0..shared.cfg.clients {
        let shared = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            let result = client(&shared, c as u64).await;
            if result.is_err() {
                shared.stop.store(true, Ordering::SeqCst);
            }
            result
        }));
    }
    let mut total = LoadResult::default();
    let mut last_ack = shared.t0;
    let mut first_error = None;
    for task in tasks {
        match task.await.context("a client task panicked")? {
            Ok(stats) => {
                total.acked_spans += stats.acked_spans;
                total.overloaded += stats.overloaded;
                total.body_bytes += stats.body_bytes;
                total.start_latencies.extend(stats.start_latencies);
                total.end_latencies.extend(stats.end_latencies);
                if let Some(t) = stats.last_ack {
                    last_ack = last_ack.max(t);
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    total.elapsed = last_ack - shared.t0;
    total.latencies = total
        .start_latencies
        .iter()
        .chain(&total.end_latencies)
        .copied()
        .collect();
    total.timed_out = shared.timed_out.load(Ordering::SeqCst);
    Ok(total)
}

/// One client's loop: take a batch, post start rows, post end merges, repeat.
async fn client(shared: &Shared, index: u64) -> anyhow::Result<ClientStats> {
    let cfg = &shared.cfg;
    let batch = cfg.batch as u64;
    let batches = cfg.spans.div_ceil(batch);
    let mut rng = SmallRng::seed_from_u64(cfg.seed.wrapping_mul(1_000_003).wrapping_add(index));
    let mut stats = ClientStats::default();
    let deadline = shared.t0 + cfg.time_limit;
    while !shared.stop.load(Ordering::SeqCst) {
        let k = shared.next_batch.fetch_add(1, Ordering::SeqCst);
        if k >= batches {
            break;
        }
        let first = k * batch;
        let count = (cfg.spans - first).min(batch) as usize;
        if let Some(rate) = cfg.rate {
            let due = shared.t0 + Duration::from_secs_f64(first as f64 / rate);
            if due > deadline {
                shared.timed_out.store(true, Ordering::SeqCst);
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        }
        if Instant::now() > deadline {
            shared.timed_out.store(true, Ordering::SeqCst);
            break;
        }
        let spans = shared.workload.batch(&mut rng, first, count);
        let starts = logs3_body(spans.iter().map(|s| s.start_row.as_str()));
        let ends = logs3_body(spans.iter().map(|s| s.end_row.as_str()));
        drop(spans);
        stats.body_bytes += (starts.len() + ends.len()) as u64;
        let latency = post_rows(shared, starts, count, &mut stats.overloaded).await?;
        stats.start_latencies.push(latency);
        let latency = post_rows(shared, ends, count, &mut stats.overloaded).await?;
        stats.end_latencies.push(latency);
        stats.acked_spans += count as u64;
        stats.last_ack = Some(Instant::now());
    }
    Ok(stats)
}

/// Posts one `/logs3` body until it is acknowledged, retrying after 503s. Returns the time
/// from the first attempt to the acknowledgement.
async fn post_rows(
    shared: &Shared,
    body: String,
    rows: usize,
    overloaded: &mut u64,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    loop {
        let resp = shared
            .http
            .post(&shared.endpoint)
            .header(AUTHORIZATION, &shared.auth)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .with_context(|| {
                format!("POST /logs3 ({rows} rows) failed after {:?}", t0.elapsed())
            })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .context("reading the POST /logs3 response")?;
        match status {
            StatusCode::OK => {
                let latency = t0.elapsed();
                check_ack(&text, rows)?;
                return Ok(latency);
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                *overloaded += 1;
                if shared.stop.load(Ordering::SeqCst) {
                    bail!("stopping: another client failed");
                }
                if t0.elapsed() > shared.cfg.time_limit {
                    bail!(
                        "POST /logs3 still overloaded (503) after {:?}: {text}",
                        t0.elapsed()
                    );
                }
                tokio::time::sleep(OVERLOAD_BACKOFF).await;
            }
            _ => bail!("POST /logs3 ({rows} rows) returned {status}: {text}"),
        }
    }
}

/// Checks that a 200 answer acknowledges `rows` row ids.
fn check_ack(text: &str, rows: usize) -> anyhow::Result<()> {
    let value: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("POST /logs3 answered 200 with: {text}"))?;
    let ids = value["ids"].as_array().map_or(0, Vec::len);
    if ids != rows || value["xact_id"].is_null() {
        bail!("POST /logs3 acknowledged {ids} ids for {rows} rows: {text}");
    }
    Ok(())
}
