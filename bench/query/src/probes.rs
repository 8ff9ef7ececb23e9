//! The query phase: each query type is sent sequentially (warm-ups first), timed client-side
//! over the full HTTP round trip (request sent to response body read), and its answer is
//! checked against the [`Plan`].
//!
//! Every query type has a time budget; a run is not started when the slowest run so far
//! would not fit in what is left, and a request still unanswered when the budget runs out
//! is abandoned; either way the type is marked incomplete. Before each type the benchmark
//! waits until the server's CPU is idle, so a background checkpoint or an abandoned query
//! does not slow the next type down.

use crate::stats::{Percentiles, ms};
use crate::workload::{BIG_TRACE_SPANS, DAYS, Plan, RARE_WORDS};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rows asked for by the list, filter and search queries.
const PAGE: usize = 50;
/// The server counts as idle when it used less CPU than this over [`IDLE_WINDOW`].
const IDLE_CPU: Duration = Duration::from_millis(25);
/// Window over which server CPU use is sampled when waiting for idle.
const IDLE_WINDOW: Duration = Duration::from_millis(250);
/// Longest wait for the server to go idle before a query type.
const IDLE_MAX_WAIT: Duration = Duration::from_secs(60);

/// How the queries are run.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Server base URL.
    pub url: String,
    /// API key.
    pub key: String,
    /// The project id.
    pub project_id: String,
    /// Untimed runs before the timed ones.
    pub warmups: usize,
    /// Timed runs.
    pub repeats: usize,
    /// Time budget of one query type, warm-ups included.
    pub time_limit: Duration,
    /// Seed for picking users.
    pub seed: u64,
    /// Server process id, to wait for its CPU to go idle before each query type.
    pub server_pid: Option<u32>,
}

/// A published number to compare against.
#[derive(Debug, Clone, Copy)]
pub struct Anchor {
    /// What it measures.
    pub what: &'static str,
    /// Its p50 in milliseconds.
    pub p50_ms: f64,
}

/// The published anchor: LangSmith's SmithDB p50 latencies.
pub const ANCHOR_SOURCE: &str = "LangSmith SmithDB, published p50";

/// How the checks of one query type went.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// Answers that matched the plan.
    pub passed: usize,
    /// Answers that did not.
    pub failed: usize,
    /// What the first mismatch was.
    pub first_failure: Option<String>,
}

/// The measurements of one query type.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// Short label: `a`, `b`, `c1`, `c2`, `d`, `e`.
    pub key: &'static str,
    /// What is asked.
    pub name: &'static str,
    /// The request (project id shown as `<pid>`).
    pub request: String,
    /// What the checks compare the answer with.
    pub expectation: String,
    /// Goal for the p95.
    pub goal_p95: Duration,
    /// Published number to compare the p50 with.
    pub anchor: Option<Anchor>,
    /// Latencies of the timed runs.
    pub latencies: Vec<Duration>,
    /// Rows returned by each timed run.
    pub rows: Vec<usize>,
    /// Warm-ups completed.
    pub warmups: usize,
    /// Why the type stopped early on its time budget, if it did.
    pub incomplete: Option<String>,
    /// The error that stopped the type (HTTP status, connection error), if any.
    pub failed: Option<String>,
    /// Answer checks, over warm-ups and timed runs.
    pub checks: Checks,
    /// Time spent waiting for the server to go idle before this type.
    pub idle_wait: Duration,
    /// Whether the server was still busy when the wait gave up.
    pub still_busy: bool,
}

impl ProbeResult {
    /// Latency percentiles of the timed runs.
    pub fn latency(&self) -> Percentiles {
        Percentiles::of(&self.latencies)
    }

    /// Whether the p95 met the goal (never for an incomplete or failed type).
    pub fn goal_met(&self) -> bool {
        self.incomplete.is_none()
            && self.failed.is_none()
            && !self.latencies.is_empty()
            && self.latency().p95 < self.goal_p95
    }

    /// Rows returned as text: one number, or the range and median when they vary.
    pub fn rows_text(&self) -> String {
        let mut rows = self.rows.clone();
        rows.sort_unstable();
        match (rows.first(), rows.last()) {
            (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
            (Some(lo), Some(hi)) => format!("{lo}-{hi} (median {})", rows[(rows.len() - 1) / 2]),
            _ => "-".to_owned(),
        }
    }
}

/// One request.
enum Request {
    /// `GET <path>`.
    Get(String),
    /// `POST /btql` with this query text.
    Btql(String),
}

/// Checks run `i`'s answer: the rows it holds and, on a mismatch, what was wrong.
type Check<'a> = Box<dyn Fn(usize, &Value) -> (usize, Result<(), String>) + 'a>;

/// A query type: how to build run `i`'s request and how to check its answer.
struct Probe<'a> {
    key: &'static str,
    name: &'static str,
    request_shown: String,
    expectation: String,
    goal_ms: u64,
    anchor: Option<Anchor>,
    request: Box<dyn Fn(usize) -> Request + 'a>,
    check: Check<'a>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Length of a JSON array field (0 when missing).
fn len_of(value: &Value) -> usize {
    value.as_array().map_or(0, Vec::len)
}

/// `want` and `got` as text, when they differ.
fn same_set(what: &str, want: &HashSet<String>, got: &HashSet<String>) -> Result<(), String> {
    if want == got {
        return Ok(());
    }
    let missing = want.difference(got).count();
    let extra = got.difference(want).count();
    Err(format!(
        "{what}: {} expected, {} returned ({missing} missing, {extra} unexpected)",
        want.len(),
        got.len()
    ))
}

/// The query types, in report order.
fn probes<'a>(plan: &'a Plan, cfg: &'a ProbeConfig) -> Vec<Probe<'a>> {
    let pid = cfg.project_id.as_str();
    let runs = cfg.warmups + cfg.repeats;
    let mut list = Vec::new();

    // (a) The first page of the trace list: the 50 traces that start last.
    let mut by_start: Vec<&_> = plan.traces.iter().collect();
    by_start.sort_by(|x, y| y.start.total_cmp(&x.start));
    let newest: HashSet<String> = by_start
        .iter()
        .take(PAGE)
        .map(|t| t.root_span_id.clone())
        .collect();
    list.push(Probe {
        key: "a",
        name: "trace list, first page",
        request_shown: format!("GET /api/v1/project_logs/<pid>/traces?limit={PAGE}"),
        expectation: format!("the {PAGE} traces that start last"),
        goal_ms: 50,
        anchor: None,
        request: Box::new(move |_| {
            Request::Get(format!("/api/v1/project_logs/{pid}/traces?limit={PAGE}"))
        }),
        check: Box::new(move |_, v| {
            let got: HashSet<String> = v["traces"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["root_span_id"].as_str().map(str::to_owned))
                .collect();
            (
                len_of(&v["traces"]),
                same_set("newest traces", &newest, &got),
            )
        }),
    });

    // (b) Traces of one user, a different user each run.
    let mut users: Vec<u32> = plan.traces_per_user.keys().copied().collect();
    users.sort_unstable();
    users.shuffle(&mut SmallRng::seed_from_u64(cfg.seed ^ 0xb));
    users.truncate(runs.max(1));
    let user_of: HashMap<&str, u32> = plan
        .traces
        .iter()
        .map(|t| (t.root_span_id.as_str(), t.user))
        .collect();
    let user_at = move |i: usize| users.get(i % users.len().max(1)).copied().unwrap_or(0);
    let check_user_at = user_at.clone();
    list.push(Probe {
        key: "b",
        name: "trace list filtered by metadata.user_id",
        request_shown: format!(
            "POST /btql from: project_logs('<pid>') traces | filter: metadata.user_id = 'u<n>' | limit: {PAGE}"
        ),
        expectation: "every trace of that user (up to the page size), no other".to_owned(),
        goal_ms: 50,
        anchor: Some(Anchor {
            what: "filtering",
            p50_ms: 82.0,
        }),
        request: Box::new(move |i| {
            Request::Btql(format!(
                "from: project_logs('{pid}') traces | filter: metadata.user_id = 'u{}' | limit: {PAGE}",
                user_at(i)
            ))
        }),
        check: Box::new(move |i, v| {
            let user = check_user_at(i);
            let want = plan
                .traces_per_user
                .get(&user)
                .copied()
                .unwrap_or(0)
                .min(PAGE);
            let data = v["data"].as_array().map_or(&[][..], Vec::as_slice);
            let foreign = data
                .iter()
                .filter(|t| {
                    t["root_span_id"]
                        .as_str()
                        .and_then(|r| user_of.get(r))
                        .is_none_or(|u| *u != user)
                })
                .count();
            let ok = if data.len() != want || foreign > 0 {
                Err(format!(
                    "user u{user}: {want} traces expected, {} returned ({foreign} not of that user)",
                    data.len()
                ))
            } else {
                Ok(())
            };
            (data.len(), ok)
        }),
    });

    // (c) Full-text search for each rare word.
    for (word, key) in RARE_WORDS.iter().zip(["c1", "c2"]) {
        let want: HashSet<String> = plan.plants_of(word).map(|p| p.id.clone()).collect();
        list.push(Probe {
            key,
            name: if key == "c1" {
                "full-text search, rare ASCII word"
            } else {
                "full-text search, rare CJK word"
            },
            request_shown: format!(
                "POST /btql SELECT id FROM project_logs('<pid>') WHERE MATCH '{word}' LIMIT {PAGE}"
            ),
            expectation: format!("the {} spans planted with {word}, no other", want.len()),
            goal_ms: 200,
            anchor: Some(Anchor {
                what: "full-text search",
                p50_ms: 400.0,
            }),
            request: Box::new(move |_| {
                Request::Btql(format!(
                    "SELECT id FROM project_logs('{pid}') WHERE MATCH '{word}' LIMIT {PAGE}"
                ))
            }),
            check: Box::new(move |_, v| {
                let got: HashSet<String> = v["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect();
                (len_of(&v["data"]), same_set("planted spans", &want, &got))
            }),
        });
    }

    // (d) The big trace, whole.
    let big = plan
        .traces
        .get(plan.big_trace)
        .map_or("", |t| t.root_span_id.as_str());
    list.push(Probe {
        key: "d",
        name: "1,000-span trace, whole",
        request_shown: "GET /api/v1/project_logs/<pid>/traces/<root_span_id>".to_owned(),
        expectation: format!("{BIG_TRACE_SPANS} spans, summary span_count {BIG_TRACE_SPANS}"),
        goal_ms: 100,
        anchor: Some(Anchor {
            what: "trace-tree load",
            p50_ms: 92.0,
        }),
        request: Box::new(move |_| Request::Get(format!("/api/v1/project_logs/{pid}/traces/{big}"))),
        check: Box::new(move |_, v| {
            let spans = len_of(&v["spans"]);
            let count = v["summary"]["span_count"].as_u64();
            let ok = if spans == BIG_TRACE_SPANS && count == Some(BIG_TRACE_SPANS as u64) {
                Ok(())
            } else {
                Err(format!(
                    "{spans} spans returned, summary span_count {count:?}; {BIG_TRACE_SPANS} expected"
                ))
            };
            (spans, ok)
        }),
    });

    // (e) The 30-day hourly dashboard by model.
    let traces = plan.traces.len() as u64;
    let spans = plan.total_spans;
    list.push(Probe {
        key: "e",
        name: "30-day hourly dashboard by model",
        request_shown: "GET /api/v1/project_logs/<pid>/rollups?from=<now-30d>&to=<now>&bucket=hour&by=model".to_owned(),
        expectation: format!("points summing to {spans} spans and {traces} requests (root spans)"),
        goal_ms: 100,
        anchor: None,
        request: Box::new(move |_| {
            let to = unix_now();
            let from = to - DAYS * 86_400.0;
            Request::Get(format!(
                "/api/v1/project_logs/{pid}/rollups?from={from:.0}&to={to:.0}&bucket=hour&by=model"
            ))
        }),
        check: Box::new(move |_, v| {
            let points = v["points"].as_array().map_or(&[][..], Vec::as_slice);
            let sum = |field: &str| -> u64 { points.iter().filter_map(|p| p[field].as_u64()).sum() };
            let (got_spans, got_requests) = (sum("spans"), sum("requests"));
            let ok = if got_spans == spans && got_requests == traces {
                Ok(())
            } else {
                Err(format!(
                    "points sum to {got_spans} spans and {got_requests} requests; {spans} and {traces} expected"
                ))
            };
            (points.len(), ok)
        }),
    });
    list
}

/// Runs every query type in turn.
pub async fn run_all(http: &reqwest::Client, plan: &Plan, cfg: &ProbeConfig) -> Vec<ProbeResult> {
    let mut results = Vec::new();
    for probe in probes(plan, cfg) {
        eprintln!("  ({}) {} ...", probe.key, probe.name);
        let (idle_wait, still_busy) = match cfg.server_pid {
            Some(pid) => wait_idle(pid).await,
            None => (Duration::ZERO, false),
        };
        let mut result = run_one(http, cfg, probe).await;
        result.idle_wait = idle_wait;
        result.still_busy = still_busy;
        results.push(result);
    }
    results
}

/// Waits until the server uses less than [`IDLE_CPU`] per [`IDLE_WINDOW`], at most
/// [`IDLE_MAX_WAIT`]. Returns the time waited and whether it was still busy at the end.
async fn wait_idle(pid: u32) -> (Duration, bool) {
    let pid = pid.to_string();
    let t0 = Instant::now();
    while t0.elapsed() < IDLE_MAX_WAIT {
        let Ok(before) = crate::server::cpu_time(&pid) else {
            break;
        };
        tokio::time::sleep(IDLE_WINDOW).await;
        let Ok(after) = crate::server::cpu_time(&pid) else {
            break;
        };
        if after.saturating_sub(before) < IDLE_CPU {
            return (t0.elapsed(), false);
        }
    }
    (t0.elapsed(), t0.elapsed() >= IDLE_MAX_WAIT)
}

/// Runs one query type: warm-ups, then the timed runs, within its time budget.
async fn run_one(http: &reqwest::Client, cfg: &ProbeConfig, probe: Probe<'_>) -> ProbeResult {
    let mut result = ProbeResult {
        key: probe.key,
        name: probe.name,
        request: probe.request_shown,
        expectation: probe.expectation,
        goal_p95: Duration::from_millis(probe.goal_ms),
        anchor: probe.anchor,
        latencies: Vec::new(),
        rows: Vec::new(),
        warmups: 0,
        incomplete: None,
        failed: None,
        checks: Checks::default(),
        idle_wait: Duration::ZERO,
        still_busy: false,
    };
    let auth = format!("Bearer {}", cfg.key);
    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    let done = |r: &ProbeResult| {
        format!(
            "after {} warm-ups and {} of {} timed runs",
            r.warmups,
            r.latencies.len(),
            cfg.repeats
        )
    };
    for i in 0..cfg.warmups + cfg.repeats {
        let timed = i >= cfg.warmups;
        let left = cfg.time_limit.saturating_sub(t0.elapsed());
        if left.is_zero() || left < slowest {
            result.incomplete = Some(format!(
                "the {} s budget ran out {} (runs take up to {:.1} s, {:.1} s left)",
                cfg.time_limit.as_secs(),
                done(&result),
                slowest.as_secs_f64(),
                left.as_secs_f64()
            ));
            break;
        }
        let builder = match (probe.request)(i) {
            Request::Get(path) => http.get(format!("{}{path}", cfg.url)),
            Request::Btql(query) => http
                .post(format!("{}/btql", cfg.url))
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::json!({ "query": query }).to_string()),
        }
        .header(AUTHORIZATION, &auth)
        .timeout(left);
        let start = Instant::now();
        let answer = match builder.send().await {
            Ok(resp) => {
                let status = resp.status();
                resp.bytes().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        let latency = start.elapsed();
        slowest = slowest.max(latency);
        let (status, body) = match answer {
            Ok(answer) => answer,
            Err(e) if e.is_timeout() => {
                result.incomplete = Some(format!(
                    "the {} s budget ran out {}, during a request abandoned after {:.1} s",
                    cfg.time_limit.as_secs(),
                    done(&result),
                    latency.as_secs_f64()
                ));
                break;
            }
            Err(e) => {
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    why.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                result.failed = Some(format!("request failed after {:.1} ms: {why}", ms(latency)));
                break;
            }
        };
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let cut: String = text.chars().take(500).collect();
            result.failed = Some(format!("HTTP {status}: {cut}"));
            break;
        }
        let value: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                result.failed = Some(format!("answer is not JSON ({e}), {} bytes", body.len()));
                break;
            }
        };
        let (rows, check) = (probe.check)(i, &value);
        match check {
            Ok(()) => result.checks.passed += 1,
            Err(why) => {
                result.checks.failed += 1;
                result.checks.first_failure.get_or_insert(why);
            }
        }
        if timed {
            result.latencies.push(latency);
            result.rows.push(rows);
        } else {
            result.warmups += 1;
        }
    }
    result
}
