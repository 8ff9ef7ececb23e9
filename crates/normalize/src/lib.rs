//! Normalize: derives the facts a store indexes about a span from its merged row.
//!
//! ```text
//! store (merged row) ──▶ [normalize] SpanFacts ──▶ store columns + trace summaries
//! ```
//!
//! The facts are what trace lists, filters and dashboards read without parsing payloads: times,
//! name and type, token and cost metrics, whether it failed, tags, and short previews of input
//! and output. Deriving them in one pure function keeps every backend consistent.
//!
//! ```
//! use serde_json::json;
//! let row = json!({"span_id": "s", "root_span_id": "t", "span_parents": null,
//!                  "metrics": {"start": 1.0, "end": 2.5, "prompt_tokens": 10, "completion_tokens": 5},
//!                  "span_attributes": {"name": "chat", "type": "llm"}, "input": "hello"});
//! let facts = spanloom_normalize::span_facts(row.as_object().unwrap());
//! assert!(facts.is_root);
//! assert_eq!(facts.tokens, Some(15.0));
//! assert_eq!(facts.input_preview.as_deref(), Some("hello"));
//! ```

mod preview;
pub mod pricing;

pub use preview::{PREVIEW_CHARS, preview, preview_json};

use serde_json::{Map, Value};
use spanloom_model::fields::{self, metrics};
use spanloom_model::timefmt;

/// The UTC day (`YYYY-MM-DD`) of a unix time.
pub(crate) fn timefmt_day(seconds: f64) -> String {
    timefmt::iso_from_unix(seconds).chars().take(10).collect()
}

/// What a store indexes about one span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanFacts {
    /// The span id.
    pub span_id: Option<String>,
    /// The trace id.
    pub root_span_id: Option<String>,
    /// True when the span has no parents.
    pub is_root: bool,
    /// Creation time as sent.
    pub created: Option<String>,
    /// Start, unix seconds (`metrics.start`, else `created`).
    pub start: Option<f64>,
    /// End, unix seconds.
    pub end: Option<f64>,
    /// `span_attributes.name`.
    pub name: Option<String>,
    /// `span_attributes.type`.
    pub span_type: Option<String>,
    /// True when `error` is set.
    pub is_error: bool,
    /// `metrics.prompt_tokens`.
    pub prompt_tokens: Option<f64>,
    /// `metrics.completion_tokens`.
    pub completion_tokens: Option<f64>,
    /// `metrics.tokens`, else prompt + completion.
    pub tokens: Option<f64>,
    /// `metrics.estimated_cost`.
    pub cost: Option<f64>,
    /// Tags as a JSON array text.
    pub tags: Option<String>,
    /// A short text of the input.
    pub input_preview: Option<String>,
    /// A short text of the output.
    pub output_preview: Option<String>,
    /// The model of an LLM span (`metadata.model`).
    pub model: Option<String>,
}

/// Derives the facts of a merged row.
pub fn span_facts(row: &Map<String, Value>) -> SpanFacts {
    let metric = |name: &str| {
        row.get("metrics")
            .and_then(|m| m.get(name))
            .and_then(Value::as_f64)
    };
    let attr = |name: &str| {
        row.get("span_attributes")
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let text = |name: &str| row.get(name).and_then(Value::as_str).map(str::to_owned);
    let created = text(fields::CREATED);
    let prompt_tokens = metric(metrics::PROMPT_TOKENS);
    let completion_tokens = metric(metrics::COMPLETION_TOKENS);
    let tokens = metric(metrics::TOKENS).or(match (prompt_tokens, completion_tokens) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0.0) + c.unwrap_or(0.0)),
    });
    SpanFacts {
        span_id: text(fields::SPAN_ID),
        root_span_id: text(fields::ROOT_SPAN_ID),
        is_root: match row.get(fields::SPAN_PARENTS) {
            None | Some(Value::Null) => true,
            Some(Value::Array(parents)) => parents.is_empty(),
            Some(_) => false,
        },
        start: metric(metrics::START).or_else(|| created.as_deref().and_then(timefmt::parse_iso)),
        created,
        end: metric(metrics::END),
        name: attr("name"),
        span_type: attr("type"),
        is_error: match row.get("error") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        },
        prompt_tokens,
        completion_tokens,
        tokens,
        cost: metric(metrics::ESTIMATED_COST),
        tags: match row.get(fields::TAGS) {
            Some(tags @ Value::Array(list)) if !list.is_empty() => Some(tags.to_string()),
            _ => None,
        },
        model: row
            .get("metadata")
            .and_then(|m| m.get("model"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        input_preview: row.get("input").and_then(preview),
        output_preview: row.get("output").and_then(preview),
    }
}
