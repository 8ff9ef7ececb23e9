//! Synthetic LLM spans shaped like SDK traffic: a start row (replace) with ~8 KB of chat input
//! and an end row (merge) with ~2 KB of output, grouped into traces of [`TRACE_SPANS`] spans.
//!
//! Text is made of random words so that rows are not trivially compressible. To keep the
//! client's CPU share small (it runs on the same machine as the server), the long texts come
//! from a pre-generated pool; every span still gets unique ids, numbers, metadata, a unique
//! final user message and a unique tail on its output, so no payload repeats exactly.

use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Spans per trace: one root and four children.
pub const TRACE_SPANS: usize = 5;

/// Distinct input and output texts in the pool.
const POOL_SIZE: usize = 512;
/// Approximate JSON size of a span's `input` (chat messages).
const INPUT_BYTES: usize = 8 * 1024;
/// Approximate size of a span's output text.
const OUTPUT_BYTES: usize = 2 * 1024;

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "the", "model", "agent", "answer", "question", "context", "document", "summary", "user",
    "assistant", "system", "tool", "call", "result", "function", "search", "query", "index",
    "vector", "embedding", "retrieval", "chunk", "token", "prompt", "response", "latency",
    "request", "server", "client", "database", "table", "column", "row", "value", "number",
    "string", "list", "object", "field", "schema", "error", "warning", "retry", "timeout",
    "budget", "invoice", "customer", "order", "shipping", "refund", "policy", "account",
    "password", "email", "address", "billing", "payment", "subscription", "plan", "upgrade",
    "report", "quarter", "revenue", "growth", "forecast", "metric", "dashboard", "chart", "trend",
    "analysis", "dataset", "sample", "label", "score", "evaluation", "experiment", "baseline",
    "variant", "accuracy", "precision", "recall", "feedback", "review", "comment", "ticket",
    "issue", "bug", "feature", "release", "deploy", "version", "branch", "commit", "merge",
    "build", "test", "coverage", "pipeline", "stage", "cluster", "node", "region", "zone",
    "network", "packet", "socket", "stream", "buffer", "cache", "memory", "disk", "file", "folder",
    "path", "upload", "download", "image", "audio", "video", "text", "language", "translate",
    "english", "french", "german", "spanish", "japanese", "weather", "forecast", "temperature",
    "rain", "sunny", "cloudy", "wind", "city", "country", "travel", "flight", "hotel", "booking",
    "reservation", "restaurant", "menu", "recipe", "ingredient", "kitchen", "garden", "plant",
    "water", "light", "energy", "battery", "charge", "vehicle", "route", "map", "distance",
    "minute", "hour", "day", "week", "month", "year", "morning", "evening", "please", "thanks",
    "could", "would", "should", "might", "must", "will", "can", "explain", "describe", "compare",
    "list", "find", "check", "verify", "update", "create", "delete", "remove", "add", "change",
    "fix", "improve", "optimize", "measure", "estimate", "quickly", "carefully", "again", "also",
    "however", "because", "therefore", "although", "while", "before", "after", "during", "between",
    "within", "without", "about", "above", "below", "into", "from", "with", "for", "and", "but",
    "or", "not", "all", "some", "many", "few", "each", "every", "other", "new", "old", "large",
    "small", "fast", "slow", "good", "better", "best", "bad", "important", "simple", "complex",
    "clear", "exact", "recent",
];

const MODELS: &[(&str, &str)] = &[
    ("gpt-4o", "openai"),
    ("gpt-4o-mini", "openai"),
    ("claude-sonnet-4", "anthropic"),
    ("gemini-2.5-pro", "google"),
    ("llama-3.3-70b", "meta"),
];
const ENVS: &[&str] = &["production", "staging", "development"];
const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "ap-south-1", "us-west-2"];
const MAX_TOKENS: &[u32] = &[256, 512, 1024, 2048, 4096];
const TOOL_CHOICES: &[&str] = &["auto", "none", "required"];
const APP_VERSIONS: &[&str] = &["1.4.2", "1.5.0", "1.5.1", "2.0.0-rc.1"];

/// Appends random words (with some punctuation and numbers) to `out` until it has grown by
/// at least `bytes` bytes.
fn push_words(rng: &mut SmallRng, out: &mut String, bytes: usize) {
    let target = out.len() + bytes;
    let mut sentence_start = true;
    while out.len() < target {
        let word = WORDS.choose(rng).copied().unwrap_or("word");
        if sentence_start {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
            sentence_start = false;
        } else {
            out.push_str(word);
        }
        match rng.random_range(0..20) {
            0 => {
                out.push_str(". ");
                sentence_start = true;
            }
            1 => out.push_str(", "),
            2 => {
                out.push(' ');
                out.push_str(&rng.random_range(0..100_000u32).to_string());
                out.push(' ');
            }
            _ => out.push(' '),
        }
    }
}

/// Random text of about `bytes` bytes.
fn words(rng: &mut SmallRng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 32);
    push_words(rng, &mut s, bytes);
    s
}

/// A JSON string literal (quoted and escaped).
fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Pre-generated long texts shared by all spans, as JSON fragments ready to splice into rows.
#[derive(Debug)]
pub struct Pool {
    /// Chat message arrays *without* the closing `]`, so a unique last message can be appended.
    inputs: Vec<String>,
    /// Output texts as JSON string literals.
    outputs: Vec<String>,
}

impl Pool {
    /// Generates the pool (a few MB) deterministically from `rng`.
    pub fn generate(rng: &mut SmallRng) -> Self {
        let inputs = (0..POOL_SIZE)
            .map(|_| {
                let mut s = String::with_capacity(INPUT_BYTES + 1024);
                s.push_str("[{\"role\":\"system\",\"content\":");
                s.push_str(&json_str(&words(rng, 1200)));
                s.push('}');
                let mut user = true;
                // Leave room for the per-span final user message (~200 bytes).
                while s.len() < INPUT_BYTES - 400 {
                    let role = if user { "user" } else { "assistant" };
                    let len = rng.random_range(300..900);
                    s.push_str(",{\"role\":\"");
                    s.push_str(role);
                    s.push_str("\",\"content\":");
                    s.push_str(&json_str(&words(rng, len)));
                    s.push('}');
                    user = !user;
                }
                s
            })
            .collect();
        let outputs = (0..POOL_SIZE)
            .map(|_| json_str(&words(rng, OUTPUT_BYTES - 100)))
            .collect();
        Pool { inputs, outputs }
    }
}

/// One generated span: its two rows and the numbers the SQLite floor stores in columns.
#[derive(Debug, Clone)]
pub struct Span {
    /// Row id shared by the start and end rows.
    pub id: String,
    /// The start row (replace), as JSON.
    pub start_row: String,
    /// The end row (merge), as JSON.
    pub end_row: String,
    /// Start time (unix seconds).
    pub start: f64,
    /// End time (unix seconds).
    pub end: f64,
    /// Total tokens.
    pub tokens: u64,
}

/// Generates spans for one project.
#[derive(Debug, Clone)]
pub struct Workload {
    pool: Arc<Pool>,
    /// The project id as a JSON string literal.
    project_json: String,
    /// Unix time of span 0.
    base_unix: f64,
}

impl Workload {
    /// A workload writing into `project_id`'s logs; span times start at the current time.
    pub fn new(pool: Arc<Pool>, project_id: &str) -> Self {
        let base_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Workload {
            pool,
            project_json: json_str(project_id),
            base_unix,
        }
    }

    /// Generates spans `first .. first + count` (global indexes, which only set timestamps).
    /// Spans are grouped into traces of [`TRACE_SPANS`] within the batch: a root and children
    /// whose parent is the root.
    pub fn batch(&self, rng: &mut SmallRng, first: u64, count: usize) -> Vec<Span> {
        let mut spans = Vec::with_capacity(count);
        let mut root_span_id = String::new();
        let mut trace_id = String::new();
        let mut session_id = String::new();
        for i in 0..count {
            let span_id = hex(rng, 8);
            let parents = if i % TRACE_SPANS == 0 {
                trace_id = hex(rng, 16);
                session_id = uuid::Uuid::new_v4().to_string();
                root_span_id.clone_from(&span_id);
                "null".to_owned()
            } else {
                format!("[\"{root_span_id}\"]")
            };
            let index = first + i as u64;
            spans.push(self.span(rng, index, &span_id, &trace_id, &parents, &session_id));
        }
        spans
    }

    fn span(
        &self,
        rng: &mut SmallRng,
        index: u64,
        span_id: &str,
        trace_id: &str,
        parents: &str,
        session_id: &str,
    ) -> Span {
        let id = uuid::Uuid::new_v4().to_string();
        let pid = &self.project_json;
        let start = self.base_unix + index as f64 * 0.0005 + rng.random_range(0.0..0.01);
        let end = start + rng.random_range(0.3..6.0);
        let created = iso_utc(start);
        let input_prefix = self
            .pool
            .inputs
            .choose(rng)
            .map(String::as_str)
            .unwrap_or("[");
        let pooled = self
            .pool
            .outputs
            .choose(rng)
            .map(String::as_str)
            .unwrap_or("\"\"");
        // A unique tail keeps every output distinct, so content deduplication in the store
        // gets no help from the pool (real outputs rarely repeat).
        let output = format!(
            "{} {}\"",
            pooled.strip_suffix('"').unwrap_or(pooled),
            words(rng, 20)
        );
        let question = json_str(&words(rng, 180));
        let (model, provider) = MODELS.choose(rng).copied().unwrap_or(("gpt-4o", "openai"));
        let temperature = rng.random_range(0..=100) as f64 / 100.0;
        let user_id = rng.random_range(0..5000u32);
        let env = pick(rng, ENVS);
        let region = pick(rng, REGIONS);
        let max_tokens = MAX_TOKENS.choose(rng).copied().unwrap_or(1024);
        let tool_choice = pick(rng, TOOL_CHOICES);
        let app_version = pick(rng, APP_VERSIONS);
        let prompt_tokens = (input_prefix.len() as u64) / 4 + rng.random_range(0..50);
        let completion_tokens = (output.len() as u64) / 4 + rng.random_range(0..50);
        let tokens = prompt_tokens + completion_tokens;

        let start_row = format!(
            concat!(
                r#"{{"id":"{id}","project_id":{pid},"log_id":"g","span_id":"{span_id}","#,
                r#""root_span_id":"{trace_id}","span_parents":{parents},"created":"{created}","#,
                r#""span_attributes":{{"name":"chat","type":"llm"}},"#,
                r#""input":{input_prefix},{{"role":"user","content":{question}}}],"#,
                r#""metadata":{{"model":"{model}","provider":"{provider}","temperature":{temperature},"#,
                r#""user_id":"user-{user_id}","session_id":"{session_id}","env":"{env}","#,
                r#""region":"{region}","max_tokens":{max_tokens},"tool_choice":"{tool_choice}","#,
                r#""app_version":"{app_version}"}},"#,
                r#""metrics":{{"start":{start:.6},"prompt_tokens":{prompt_tokens},"#,
                r#""completion_tokens":{completion_tokens},"tokens":{tokens}}}}}"#,
            ),
            id = id,
            pid = pid,
            span_id = span_id,
            trace_id = trace_id,
            parents = parents,
            created = created,
            input_prefix = input_prefix,
            question = question,
            model = model,
            provider = provider,
            temperature = temperature,
            user_id = user_id,
            session_id = session_id,
            env = env,
            region = region,
            max_tokens = max_tokens,
            tool_choice = tool_choice,
            app_version = app_version,
            start = start,
            prompt_tokens = prompt_tokens,
            completion_tokens = completion_tokens,
            tokens = tokens,
        );
        let end_row = format!(
            concat!(
                r#"{{"id":"{id}","project_id":{pid},"log_id":"g","_is_merge":true,"#,
                r#""span_id":"{span_id}","root_span_id":"{trace_id}","#,
                r#""output":[{{"index":0,"message":{{"role":"assistant","content":{output}}},"#,
                r#""finish_reason":"stop"}}],"metrics":{{"end":{end:.6}}}}}"#,
            ),
            id = id,
            pid = pid,
            span_id = span_id,
            trace_id = trace_id,
            output = output,
            end = end,
        );
        Span {
            id,
            start_row,
            end_row,
            start,
            end,
            tokens,
        }
    }
}

/// A `/logs3` request body holding `rows`.
pub fn logs3_body<'a>(rows: impl Iterator<Item = &'a str>) -> String {
    let mut body = String::from("{\"rows\":[");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(row);
    }
    body.push_str("],\"api_version\":2}");
    body
}

fn pick<'a>(rng: &mut SmallRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or("")
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
    use rand::SeedableRng;
    use serde_json::Value;

    #[test]
    fn rows_are_valid_json_of_the_intended_size() -> anyhow::Result<()> {
        let mut rng = SmallRng::seed_from_u64(7);
        let pool = Arc::new(Pool::generate(&mut rng));
        let w = Workload::new(pool, "p-1");
        let spans = w.batch(&mut rng, 0, 10);
        for (i, s) in spans.iter().enumerate() {
            let start: Value = serde_json::from_str(&s.start_row)?;
            let end: Value = serde_json::from_str(&s.end_row)?;
            assert_eq!(start["id"], end["id"]);
            assert_eq!(end["_is_merge"], Value::Bool(true));
            assert_eq!(start["metadata"].as_object().map(|m| m.len()), Some(10));
            let input = start["input"].to_string().len();
            assert!((7000..9500).contains(&input), "input {input} bytes");
            let output = end["output"].to_string().len();
            assert!((1800..2600).contains(&output), "output {output} bytes");
            if i % TRACE_SPANS == 0 {
                assert_eq!(start["span_parents"], Value::Null);
            } else {
                assert_eq!(
                    start["span_parents"][0],
                    spans[i - i % TRACE_SPANS].start_row_span_id()?
                );
                assert_eq!(
                    start["root_span_id"],
                    serde_json::from_str::<Value>(&spans[i - i % TRACE_SPANS].start_row)?["root_span_id"]
                );
            }
        }
        let body: Value =
            serde_json::from_str(&logs3_body(spans.iter().map(|s| s.end_row.as_str())))?;
        assert_eq!(body["rows"].as_array().map(Vec::len), Some(10));
        Ok(())
    }

    impl Span {
        fn start_row_span_id(&self) -> anyhow::Result<Value> {
            Ok(serde_json::from_str::<Value>(&self.start_row)?["span_id"].clone())
        }
    }

    #[test]
    fn iso_formatting() {
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso_utc(1_795_341_600.25),
            "2026-11-22T10:00:00.250000+00:00"
        );
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
