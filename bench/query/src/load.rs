//! The load phase: concurrent `/logs3` clients, each taking the next planned batch until
//! every batch is acknowledged (or the time limit passes). A 200 means the rows are
//! committed, so the data is queryable as soon as the last client returns.

use crate::stats::Percentiles;
use crate::workload::{Plan, logs3_body};
use anyhow::{Context, anyhow, bail};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Back-off after a 503 before retrying the same body.
const OVERLOAD_BACKOFF: Duration = Duration::from_millis(50);
/// Per-request timeout of the load.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How the load is sent.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server base URL.
    pub url: String,
    /// API key.
    pub key: String,
    /// The project id.
    pub project_id: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Send each span as a start row and a later end merge (like the SDKs) instead of one
    /// complete row.
    pub split_rows: bool,
    /// Stop taking new batches after this long.
    pub time_limit: Duration,
}

/// What the load measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Acknowledged spans.
    pub acked_spans: u64,
    /// Acknowledged rows (twice the spans with split rows).
    pub acked_rows: u64,
    /// Acknowledged requests.
    pub requests: u64,
    /// From the first request to the last acknowledgement.
    pub elapsed: Duration,
    /// Request latencies (first attempt to 200, 503 retries included).
    pub latencies: Vec<Duration>,
    /// 503 responses (each retried).
    pub overloaded: u64,
    /// Request body bytes acknowledged (excluding retries).
    pub body_bytes: u64,
    /// Whether the load stopped at the time limit before every batch was acknowledged.
    pub timed_out: bool,
}

impl LoadResult {
    /// Acknowledged spans per second.
    pub fn spans_per_sec(&self) -> f64 {
        self.acked_spans as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Request latency percentiles.
    pub fn latency(&self) -> Percentiles {
        Percentiles::of(&self.latencies)
    }
}

/// State shared by the clients.
struct Shared {
    cfg: LoadConfig,
    plan: Arc<Plan>,
    project_json: String,
    http: reqwest::Client,
    endpoint: String,
    auth: String,
    next_batch: AtomicUsize,
    stop: AtomicBool,
    timed_out: AtomicBool,
    t0: Instant,
}

/// What one client measured.
#[derive(Default)]
struct ClientStats {
    acked_spans: u64,
    acked_rows: u64,
    last_ack: Option<Instant>,
    latencies: Vec<Duration>,
    overloaded: u64,
    body_bytes: u64,
}

/// An HTTP client for the local server (no proxy, HTTP/1.1).
pub fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections.max(1))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")
}

/// Creates (or gets) the project `name`; returns its id.
/// Waits until the server reports its text index caught up (`spanloom_text_index_caught_up 1`
/// in /metrics, seen twice in a row so a value from before the last write cannot count).
pub async fn wait_text_index(http: &reqwest::Client, url: &str, key: &str) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut seen = 0;
    while t0.elapsed() < Duration::from_secs(3600) {
        let text = http
            .get(format!("{url}/metrics"))
            .header(AUTHORIZATION, format!("Bearer {key}"))
            .send()
            .await?
            .text()
            .await?;
        let up = text
            .lines()
            .any(|l| l.trim() == "spanloom_text_index_caught_up 1");
        seen = if up { seen + 1 } else { 0 };
        if seen >= 2 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("the text index did not catch up within an hour")
}

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

/// Sends every batch of `plan` and merges the clients' measurements. Any response other
/// than 200 or 503 stops the load with an error naming it.
pub async fn run(
    http: reqwest::Client,
    plan: Arc<Plan>,
    cfg: LoadConfig,
) -> anyhow::Result<LoadResult> {
    if cfg.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let shared = Arc::new(Shared {
        endpoint: format!("{}/logs3", cfg.url),
        auth: format!("Bearer {}", cfg.key),
        project_json: serde_json::Value::String(cfg.project_id.clone()).to_string(),
        cfg,
        plan,
        http,
        next_batch: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        timed_out: AtomicBool::new(false),
        t0: Instant::now(),
    });
    let mut tasks = Vec::new();
    for _ in 0..shared.cfg.clients {
        let shared = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            let result = client(&shared).await;
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
                total.acked_rows += stats.acked_rows;
                total.overloaded += stats.overloaded;
                total.body_bytes += stats.body_bytes;
                total.latencies.extend(stats.latencies);
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
    total.requests = total.latencies.len() as u64;
    total.elapsed = last_ack - shared.t0;
    total.timed_out = shared.timed_out.load(Ordering::SeqCst);
    Ok(total)
}

/// One client's loop: take the next batch, generate its spans, post them.
async fn client(shared: &Shared) -> anyhow::Result<ClientStats> {
    let plan = &shared.plan;
    let mut stats = ClientStats::default();
    let deadline = shared.t0 + shared.cfg.time_limit;
    while !shared.stop.load(Ordering::SeqCst) {
        let k = shared.next_batch.fetch_add(1, Ordering::SeqCst);
        let Some(batch) = plan.batches.get(k) else {
            break;
        };
        if Instant::now() > deadline {
            shared.timed_out.store(true, Ordering::SeqCst);
            break;
        }
        let spans: Vec<_> = batch
            .iter()
            .flat_map(|piece| {
                let mut spans = plan.trace_spans(piece.trace);
                spans.truncate(piece.spans.end);
                spans.drain(..piece.spans.start.min(spans.len()));
                spans
            })
            .collect();
        let pid = shared.project_json.as_str();
        let bodies = if shared.cfg.split_rows {
            vec![
                logs3_body(spans.iter().map(|s| s.start_row(pid))),
                logs3_body(spans.iter().map(|s| s.end_row(pid))),
            ]
        } else {
            vec![logs3_body(spans.iter().map(|s| s.full_row(pid)))]
        };
        for body in bodies {
            stats.body_bytes += body.len() as u64;
            let latency = post_rows(shared, body, spans.len(), &mut stats.overloaded).await?;
            stats.latencies.push(latency);
            stats.acked_rows += spans.len() as u64;
        }
        stats.acked_spans += spans.len() as u64;
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
