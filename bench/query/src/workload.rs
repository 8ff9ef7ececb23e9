//! The data set: agent-shaped traces over the last 30 days, planned up front so the query
//! phase knows what every answer must contain.
//!
//! A trace is a root `agent` span (type `task`) with children: one `retrieval` span, 2-6
//! `chat` LLM spans (type `llm`, one of four models, token metrics and
//! `metrics.estimated_cost`) and 1-7 tool spans, ~10 spans on average. Exactly one trace
//! has [`BIG_TRACE_SPANS`] spans. Each of [`RARE_WORDS`] is planted in the output of
//! [`PLANTS_PER_WORD`] chat spans and nowhere else.
//!
//! The [`Plan`] holds each trace's shape, user, start time and id; the spans themselves are
//! generated on demand from a per-trace seed, so any client can generate any trace and the
//! result is the same every time.

use crate::text::{self, Pool, escape, pick};
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::ops::Range;

/// Spans of the one big trace.
pub const BIG_TRACE_SPANS: usize = 1000;
/// Distinct users: `metadata.user_id` is `u0` .. `u9999`.
pub const USERS: u32 = 10_000;
/// Span start times are spread over this many days before the plan was made.
pub const DAYS: f64 = 30.0;
/// The words planted in a few outputs: an ASCII one and a CJK one.
pub const RARE_WORDS: [&str; 2] = ["zyxwvutsrare", "量子猫"];
/// Spans whose output carries each rare word.
pub const PLANTS_PER_WORD: usize = 5;
/// Smallest `--spans`: the big trace plus enough ordinary traces to plant the words in.
pub const MIN_SPANS: u64 = 2_000;
/// Rows per request: whole traces are added until a random target in this range is reached,
/// never past its end (the big trace goes in chunks of the maximum).
pub const BATCH_ROWS: Range<usize> = 100..201;

/// An LLM and its price.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// `metadata.model`.
    pub name: &'static str,
    /// `metadata.provider`.
    pub provider: &'static str,
    /// USD per million prompt tokens.
    pub input_per_mtok: f64,
    /// USD per million completion tokens.
    pub output_per_mtok: f64,
}

/// The four models of the chat spans.
pub const MODELS: [Model; 4] = [
    Model {
        name: "gpt-4o",
        provider: "openai",
        input_per_mtok: 2.5,
        output_per_mtok: 10.0,
    },
    Model {
        name: "gpt-4o-mini",
        provider: "openai",
        input_per_mtok: 0.15,
        output_per_mtok: 0.6,
    },
    Model {
        name: "claude-sonnet-4",
        provider: "anthropic",
        input_per_mtok: 3.0,
        output_per_mtok: 15.0,
    },
    Model {
        name: "gemini-2.5-pro",
        provider: "google",
        input_per_mtok: 1.25,
        output_per_mtok: 10.0,
    },
];

const TOOLS: &[&str] = &[
    "web_search",
    "get_weather",
    "sql_query",
    "send_email",
    "calculator",
    "fetch_url",
];

/// One trace of the plan.
#[derive(Debug, Clone)]
pub struct TracePlan {
    /// `root_span_id` (also the root span's `span_id`, as the SDKs do).
    pub root_span_id: String,
    /// Spans sent (the last trace may be cut short to reach `--spans` exactly).
    pub spans: usize,
    /// Chat spans (ordinary traces).
    pub chats: usize,
    /// Tool spans (ordinary traces).
    pub tools: usize,
    /// `metadata.user_id` is `u<user>`.
    pub user: u32,
    /// Session number within the user.
    pub session: u32,
    /// Start of the root span (unix seconds).
    pub start: f64,
    /// Whether this is the [`BIG_TRACE_SPANS`]-span trace.
    pub big: bool,
    /// Index into [`RARE_WORDS`] of the word planted in the first chat span's output.
    pub plant: Option<usize>,
}

/// A span whose output carries a rare word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plant {
    /// The word.
    pub word: &'static str,
    /// Row id of the span.
    pub id: String,
    /// Its trace.
    pub root_span_id: String,
}

/// A slice of one trace's spans sent in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Index into [`Plan::traces`].
    pub trace: usize,
    /// Span ordinals within the trace.
    pub spans: Range<usize>,
}

/// The whole data set.
#[derive(Debug)]
pub struct Plan {
    /// Every trace, in no particular time order.
    pub traces: Vec<TracePlan>,
    /// Request contents, in sending order.
    pub batches: Vec<Vec<Piece>>,
    /// Index of the big trace in `traces`.
    pub big_trace: usize,
    /// The planted spans.
    pub plants: Vec<Plant>,
    /// Traces per user (users without traces are absent).
    pub traces_per_user: HashMap<u32, usize>,
    /// Total spans.
    pub total_spans: u64,
    seed: u64,
    pool: Pool,
}

/// A generated span, ready to render as `/logs3` rows.
#[derive(Debug, Clone)]
pub struct Span {
    /// Row id.
    pub id: String,
    /// Span id.
    pub span_id: String,
    /// Trace id.
    pub root_span_id: String,
    /// Parent span id (`None` for the root).
    pub parent: Option<String>,
    /// `span_attributes.name`.
    pub name: &'static str,
    /// `span_attributes.type`.
    pub kind: &'static str,
    /// `metrics.start` (unix seconds).
    pub start: f64,
    /// `metrics.end`.
    pub end: f64,
    /// `input`, as JSON.
    pub input: String,
    /// `output`, as JSON.
    pub output: String,
    /// `metadata`, as a JSON object.
    pub metadata: String,
    /// Metrics known at the end (`,"prompt_tokens":…`, with a leading comma), or empty.
    pub end_metrics: String,
    /// `error`, as a JSON string, if the span failed.
    pub error: Option<String>,
    /// The rare word in its output, if any.
    pub planted: Option<&'static str>,
}

impl Plan {
    /// Plans `spans` spans (at least [`MIN_SPANS`]) with start times in the [`DAYS`] before
    /// `now`.
    pub fn new(spans: u64, seed: u64, now: f64) -> anyhow::Result<Plan> {
        if spans < MIN_SPANS {
            anyhow::bail!(
                "--spans must be at least {MIN_SPANS} (the big trace alone has {BIG_TRACE_SPANS})"
            );
        }
        let mut rng = SmallRng::seed_from_u64(seed);
        let pool = Pool::generate(&mut rng);
        let earliest = now - DAYS * 86_400.0 + 600.0;
        let latest = now - 7_200.0;
        let trace = |rng: &mut SmallRng, spans: usize, chats: usize, tools: usize| TracePlan {
            root_span_id: hex(rng, 16),
            spans,
            chats,
            tools,
            user: rng.random_range(0..USERS),
            session: rng.random_range(0..4),
            start: rng.random_range(earliest..latest),
            big: false,
            plant: None,
        };
        let mut traces = Vec::new();
        let mut remaining = spans as usize - BIG_TRACE_SPANS;
        while remaining > 0 {
            let chats = rng.random_range(2..=6);
            let tools = rng.random_range(1..=7);
            let n = (2 + chats + tools).min(remaining);
            traces.push(trace(&mut rng, n, chats, tools));
            remaining -= n;
        }
        let big_trace = traces.len() / 2;
        let mut big = trace(&mut rng, BIG_TRACE_SPANS, 0, 0);
        big.big = true;
        traces.insert(big_trace, big);

        // Plant the words in evenly spaced ordinary traces (never the last, maybe cut short).
        let candidates: Vec<usize> = (0..traces.len() - 1).filter(|&i| i != big_trace).collect();
        let planted = PLANTS_PER_WORD * RARE_WORDS.len();
        for p in 0..planted {
            let i = candidates[(2 * p + 1) * candidates.len() / (2 * planted)];
            traces[i].plant = Some(p / PLANTS_PER_WORD);
        }

        let batches = batches(&mut rng, &traces);
        let mut traces_per_user = HashMap::new();
        for t in &traces {
            *traces_per_user.entry(t.user).or_insert(0) += 1;
        }
        let mut plan = Plan {
            traces,
            batches,
            big_trace,
            plants: Vec::new(),
            traces_per_user,
            total_spans: spans,
            seed,
            pool,
        };
        plan.plants = (0..plan.traces.len())
            .filter(|&t| plan.traces[t].plant.is_some())
            .flat_map(|t| plan.trace_spans(t))
            .filter_map(|s| {
                s.planted.map(|word| Plant {
                    word,
                    id: s.id,
                    root_span_id: s.root_span_id,
                })
            })
            .collect();
        Ok(plan)
    }

    /// The planted spans carrying `word`.
    pub fn plants_of(&self, word: &str) -> impl Iterator<Item = &Plant> {
        self.plants.iter().filter(move |p| p.word == word)
    }

    /// The spans of trace `t` (only the first `spans` of its shape).
    pub fn trace_spans(&self, t: usize) -> Vec<Span> {
        let Some(plan) = self.traces.get(t) else {
            return Vec::new();
        };
        let seed = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        TraceGen {
            rng: SmallRng::seed_from_u64(seed),
            pool: &self.pool,
            plan,
            metadata: String::new(),
            spans: Vec::new(),
        }
        .generate()
    }
}

/// Groups whole traces into requests of [`BATCH_ROWS`] rows.
fn batches(rng: &mut SmallRng, traces: &[TracePlan]) -> Vec<Vec<Piece>> {
    let max = BATCH_ROWS.end - 1;
    let mut out = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    let mut rows = 0;
    let mut target = rng.random_range(BATCH_ROWS);
    for (t, trace) in traces.iter().enumerate() {
        if rows > 0 && (rows + trace.spans > max || trace.spans > max) {
            out.push(std::mem::take(&mut current));
            rows = 0;
            target = rng.random_range(BATCH_ROWS);
        }
        if trace.spans > max {
            for first in (0..trace.spans).step_by(max) {
                out.push(vec![Piece {
                    trace: t,
                    spans: first..(first + max).min(trace.spans),
                }]);
            }
            continue;
        }
        current.push(Piece {
            trace: t,
            spans: 0..trace.spans,
        });
        rows += trace.spans;
        if rows >= target {
            out.push(std::mem::take(&mut current));
            rows = 0;
            target = rng.random_range(BATCH_ROWS);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Generates one trace's spans.
struct TraceGen<'a> {
    rng: SmallRng,
    pool: &'a Pool,
    plan: &'a TracePlan,
    /// `"user_id":…,"session_id":…,"env":…` shared by every span of the trace.
    metadata: String,
    spans: Vec<Span>,
}

impl TraceGen<'_> {
    fn generate(mut self) -> Vec<Span> {
        let plan = self.plan;
        let env = match self.rng.random_range(0..20) {
            0 => "development",
            1..=3 => "staging",
            _ => "production",
        };
        self.metadata = format!(
            r#""user_id":"u{}","session_id":"sess-{:05}-{}","env":"{env}""#,
            plan.user, plan.user, plan.session
        );
        let mut clock = plan.start + self.rng.random_range(0.01..0.05);
        self.root();
        clock = self.retrieval(clock);
        if plan.big {
            let mut chat = 0;
            while self.spans.len() < BIG_TRACE_SPANS {
                clock = self.chat(clock, chat);
                chat += 1;
                for _ in 0..self.rng.random_range(0..=3) {
                    clock = self.tool(clock);
                }
            }
        } else {
            // Tools follow the chat turns that asked for them; the last turn answers.
            for chat in 0..plan.chats {
                clock = self.chat(clock, chat);
                let turns = plan.chats - 1;
                for tool in 0..plan.tools {
                    if turns > 0 && tool % turns == chat {
                        clock = self.tool(clock);
                    }
                }
            }
        }
        self.spans.truncate(plan.spans);
        let end = self.spans.iter().map(|s| s.end).fold(clock, f64::max) + 0.02;
        if let Some(root) = self.spans.first_mut() {
            root.end = end;
        }
        self.spans
    }

    /// A new span of the trace with ids, metadata and times; payloads are filled in after.
    fn span(&mut self, name: &'static str, kind: &'static str, start: f64, end: f64) -> Span {
        let root = self.spans.is_empty();
        let span_id = if root {
            self.plan.root_span_id.clone()
        } else {
            hex(&mut self.rng, 8)
        };
        let id = uuid::Builder::from_random_bytes(self.rng.random()).into_uuid();
        Span {
            id: id.to_string(),
            span_id,
            root_span_id: self.plan.root_span_id.clone(),
            parent: (!root).then(|| self.plan.root_span_id.clone()),
            name,
            kind,
            start,
            end,
            input: String::new(),
            output: String::new(),
            metadata: format!("{{{}}}", self.metadata),
            end_metrics: String::new(),
            error: None,
            planted: None,
        }
    }

    /// The root `agent` span; its end is set once the children are known.
    fn root(&mut self) {
        let start = self.plan.start;
        let mut span = self.span("agent", "task", start, start);
        let question = escape(&text::mixed(&mut self.rng, 150));
        let answer = pick(&mut self.rng, &self.pool.answer);
        let tail = escape(&text::english(&mut self.rng, 40));
        span.input = format!(r#"{{"question":"{question}"}}"#);
        span.output = format!(r#"{{"answer":"{answer} {tail}"}}"#);
        self.spans.push(span);
    }

    fn retrieval(&mut self, clock: f64) -> f64 {
        let end = clock + self.rng.random_range(0.08..0.6);
        let mut span = self.span("retrieval", "function", clock, end);
        let query = escape(&text::english(&mut self.rng, 60));
        span.input = format!(r#"{{"query":"{query}","top_k":3}}"#);
        let mut docs = Vec::with_capacity(3);
        for _ in 0..3 {
            let id = self.rng.random_range(0..1_000_000u32);
            let score = self.rng.random_range(0.3..0.99);
            let doc = pick(&mut self.rng, &self.pool.doc);
            docs.push(format!(
                r#"{{"id":"doc-{id}","score":{score:.3},"text":"{doc}"}}"#
            ));
        }
        span.output = format!("[{}]", docs.join(","));
        self.spans.push(span);
        end + 0.01
    }

    fn chat(&mut self, clock: f64, turn: usize) -> f64 {
        let end = clock + self.rng.random_range(0.6..9.0);
        let mut span = self.span("chat", "llm", clock, end);
        let model = MODELS.choose(&mut self.rng).copied().unwrap_or(MODELS[0]);
        let system = pick(&mut self.rng, &self.pool.system);
        let context = pick(&mut self.rng, &self.pool.context);
        let question = escape(&text::mixed(&mut self.rng, 150));
        span.input = format!(
            r#"[{{"role":"system","content":"{system}"}},{{"role":"user","content":"{context} {question}"}}]"#
        );
        let answer = pick(&mut self.rng, &self.pool.answer);
        let tail = escape(&text::english(&mut self.rng, 40));
        let planted = match self.plan.plant {
            Some(w) if turn == 0 => RARE_WORDS.get(w).copied(),
            _ => None,
        };
        let rare = planted.map(|w| format!(" {w}")).unwrap_or_default();
        span.output = format!(
            r#"[{{"index":0,"message":{{"role":"assistant","content":"{answer}{rare} {tail}"}},"finish_reason":"stop"}}]"#
        );
        span.planted = planted;
        let temperature = self.rng.random_range(0..=10) as f64 / 10.0;
        span.metadata = format!(
            r#"{{{},"model":"{}","provider":"{}","temperature":{temperature}}}"#,
            self.metadata, model.name, model.provider
        );
        let prompt = span.input.len() as u64 / 4 + self.rng.random_range(0..40);
        let completion = span.output.len() as u64 / 4 + self.rng.random_range(0..40);
        let cost = (prompt as f64 * model.input_per_mtok
            + completion as f64 * model.output_per_mtok)
            / 1e6;
        span.end_metrics = format!(
            r#","prompt_tokens":{prompt},"completion_tokens":{completion},"tokens":{},"estimated_cost":{cost:.8}"#,
            prompt + completion
        );
        self.spans.push(span);
        end + 0.01
    }

    fn tool(&mut self, clock: f64) -> f64 {
        let end = clock + self.rng.random_range(0.05..2.5);
        let name = TOOLS.choose(&mut self.rng).copied().unwrap_or("tool");
        let mut span = self.span(name, "tool", clock, end);
        let query = escape(&text::english(&mut self.rng, 60));
        span.input = format!(r#"{{"arguments":{{"query":"{query}"}}}}"#);
        if self.rng.random_range(0..50) == 0 {
            span.output = "null".to_owned();
            span.error = Some(format!(
                r#""ToolError: {name} timed out after 30 s (request {})""#,
                self.rng.random_range(0..1_000_000u32)
            ));
        } else {
            let result = pick(&mut self.rng, &self.pool.tool);
            span.output = format!(r#"{{"result":"{result}"}}"#);
        }
        self.spans.push(span);
        end + 0.01
    }
}

impl Span {
    /// The common head of a row: ids and project.
    fn head(&self, project: &str, out: &mut String) {
        out.push_str(&format!(
            r#"{{"id":"{}","project_id":{project},"log_id":"g","span_id":"{}","root_span_id":"{}""#,
            self.id, self.span_id, self.root_span_id
        ));
    }

    /// Fields known when the span starts: parents, time, attributes, input, metadata.
    fn start_fields(&self, out: &mut String) {
        match &self.parent {
            Some(p) => out.push_str(&format!(r#","span_parents":["{p}"]"#)),
            None => out.push_str(r#","span_parents":null"#),
        }
        out.push_str(&format!(
            r#","created":"{}","span_attributes":{{"name":"{}","type":"{}"}},"input":{},"metadata":{}"#,
            iso_utc(self.start),
            self.name,
            self.kind,
            self.input,
            self.metadata
        ));
    }

    /// Fields known when the span ends: output, error.
    fn end_fields(&self, out: &mut String) {
        out.push_str(",\"output\":");
        out.push_str(&self.output);
        if let Some(error) = &self.error {
            out.push_str(",\"error\":");
            out.push_str(error);
        }
    }

    /// The span as one complete replace row. `project` is a JSON string literal.
    pub fn full_row(&self, project: &str) -> String {
        let mut out = String::with_capacity(self.input.len() + self.output.len() + 600);
        self.head(project, &mut out);
        self.start_fields(&mut out);
        self.end_fields(&mut out);
        out.push_str(&format!(
            r#","metrics":{{"start":{:.6},"end":{:.6}{}}}}}"#,
            self.start, self.end, self.end_metrics
        ));
        out
    }

    /// The start row (a replace without output and end metrics), as the SDKs send it.
    pub fn start_row(&self, project: &str) -> String {
        let mut out = String::with_capacity(self.input.len() + 500);
        self.head(project, &mut out);
        self.start_fields(&mut out);
        out.push_str(&format!(r#","metrics":{{"start":{:.6}}}}}"#, self.start));
        out
    }

    /// The end row: a merge with the output, the error and the end metrics.
    pub fn end_row(&self, project: &str) -> String {
        let mut out = String::with_capacity(self.output.len() + 300);
        self.head(project, &mut out);
        out.push_str(",\"_is_merge\":true");
        self.end_fields(&mut out);
        out.push_str(&format!(
            r#","metrics":{{"end":{:.6}{}}}}}"#,
            self.end, self.end_metrics
        ));
        out
    }
}

/// A `/logs3` request body holding `rows`.
pub fn logs3_body(rows: impl Iterator<Item = String>) -> String {
    let mut body = String::from("{\"rows\":[");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&row);
    }
    body.push_str("],\"api_version\":2}");
    body
}

/// `bytes` random bytes as lowercase hex.
fn hex(rng: &mut SmallRng, bytes: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let b: u8 = rng.random();
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Civil date `(year, month, day)` of a count of days since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `unix` seconds as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn iso_utc(unix: f64) -> String {
    let micros = (unix * 1e6).round() as i64;
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}+00:00",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const NOW: f64 = 1_795_341_600.0;

    #[test]
    fn plan_has_the_big_trace_plants_and_exact_span_count() -> anyhow::Result<()> {
        let plan = Plan::new(20_000, 1, NOW)?;
        let spans: usize = plan.traces.iter().map(|t| t.spans).sum();
        assert_eq!(spans, 20_000);
        assert_eq!(plan.traces.iter().filter(|t| t.big).count(), 1);
        assert!(plan.traces[plan.big_trace].big);
        assert_eq!(plan.trace_spans(plan.big_trace).len(), BIG_TRACE_SPANS);
        for word in RARE_WORDS {
            assert_eq!(plan.plants_of(word).count(), PLANTS_PER_WORD);
        }
        // Every span is in exactly one batch, batches hold 100-200 rows (the last may be less).
        let mut seen = vec![0usize; plan.traces.len()];
        for (i, batch) in plan.batches.iter().enumerate() {
            let rows: usize = batch.iter().map(|p| p.spans.len()).sum();
            assert!(rows < BATCH_ROWS.end, "batch {i}: {rows} rows");
            if i + 1 < plan.batches.len() && !batch.iter().any(|p| plan.traces[p.trace].big) {
                assert!(rows >= BATCH_ROWS.start || plan.traces[plan.batches[i + 1][0].trace].big);
            }
            for p in batch {
                assert_eq!(p.spans.start, seen[p.trace]);
                seen[p.trace] = p.spans.end;
            }
        }
        assert!(seen.iter().zip(&plan.traces).all(|(s, t)| *s == t.spans));
        let average = 20_000.0 / plan.traces.len() as f64;
        assert!((8.5..11.5).contains(&average), "{average} spans per trace");
        Ok(())
    }

    #[test]
    fn spans_are_deterministic_and_rows_valid() -> anyhow::Result<()> {
        let plan = Plan::new(MIN_SPANS, 5, NOW)?;
        let t = (0..plan.traces.len())
            .find(|&t| plan.traces[t].plant == Some(1))
            .ok_or_else(|| anyhow::anyhow!("no CJK plant"))?;
        let spans = plan.trace_spans(t);
        assert_eq!(spans.len(), plan.traces[t].spans);
        assert_eq!(
            plan.trace_spans(t)
                .iter()
                .map(|s| &s.id)
                .collect::<Vec<_>>(),
            spans.iter().map(|s| &s.id).collect::<Vec<_>>()
        );
        let mut llm = 0;
        for s in &spans {
            let full: Value = serde_json::from_str(&s.full_row("\"p\""))?;
            let start: Value = serde_json::from_str(&s.start_row("\"p\""))?;
            let end: Value = serde_json::from_str(&s.end_row("\"p\""))?;
            assert_eq!(full["id"], end["id"]);
            assert_eq!(start["output"], Value::Null);
            assert_eq!(end["_is_merge"], Value::Bool(true));
            assert_eq!(
                full["metadata"]["user_id"],
                format!("u{}", plan.traces[t].user)
            );
            assert!(full["metrics"]["end"].as_f64() >= full["metrics"]["start"].as_f64());
            let start_time = full["metrics"]["start"].as_f64().unwrap_or(0.0);
            assert!(start_time > NOW - DAYS * 86_400.0 && start_time < NOW);
            if full["span_attributes"]["type"] == "llm" {
                llm += 1;
                assert!(full["metrics"]["estimated_cost"].as_f64() > Some(0.0));
                assert!(full["metadata"]["model"].is_string());
                let input = full["input"].to_string().len();
                assert!((1700..2700).contains(&input), "input {input} bytes");
            }
            let planted = full["output"].to_string().contains("量子猫");
            assert_eq!(planted, s.planted == Some("量子猫"));
        }
        assert!(llm >= 2);
        assert_eq!(spans[0].parent, None);
        assert_eq!(spans[0].span_id, spans[0].root_span_id);
        Ok(())
    }

    #[test]
    fn iso_formatting() {
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso_utc(1_795_341_600.25),
            "2026-11-22T10:00:00.250000+00:00"
        );
    }
}
