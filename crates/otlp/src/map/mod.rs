//! The OTel → Spanloom mapping: one pure function from a raw span (and the GenAI log events
//! joined to it) to a row, following `shared/reference/otel-mapping.md` §5.
//!
//! ```text
//! RawSpan ──▶ kind (span type) ──▶ messages (input/output) ──▶ usage (metrics)
//!         ──▶ metadata + tags ──▶ error ──▶ leftover attributes ──▶ row
//! ```

pub mod error;
pub mod kind;
pub mod messages;
pub mod metadata;
pub mod usage;

use crate::attrs::Attrs;
use crate::raw::{RawLogEvent, RawSpan};
use serde_json::{Map, Value, json};
use spanloom_model::timefmt;

/// An event as the mapping reads it: a span event or a correlated log record.
pub struct EventView<'a> {
    /// Event name.
    pub name: &'a str,
    /// Attributes.
    pub attributes: &'a Map<String, Value>,
    /// Log body (null for span events).
    pub body: &'a Value,
}

impl EventView<'_> {
    /// A non-empty attribute.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes
            .get(key)
            .or_else(|| self.body.get(key))
            .filter(|v| !crate::value::is_empty(v))
    }

    /// The event's fields: the body's (when it is an object) over the attributes.
    pub fn fields(&self) -> Map<String, Value> {
        let mut out = self.attributes.clone();
        match self.body {
            Value::Object(b) => out.extend(b.clone()),
            Value::String(s) => {
                out.entry("content")
                    .or_insert_with(|| Value::String(s.clone()));
            }
            _ => {}
        }
        out
    }
}

/// What the mapping rules read.
pub struct Ctx<'a> {
    /// The raw span.
    pub raw: &'a RawSpan,
    /// Its attributes, with consumed-key tracking.
    pub attrs: Attrs<'a>,
    /// Span events and joined log events, in time order.
    pub events: Vec<EventView<'a>>,
    /// The span name.
    pub name: String,
    /// `braintrust.span_attributes` given as a JSON object.
    pub braintrust_span_attributes: Map<String, Value>,
}

/// The mapped span: the row content (no routing fields) and its routing hints.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedSpan {
    /// Row content: ids, `span_attributes`, `input`, `output`, `metadata`, `metrics`, `tags`,
    /// `error`, `created`.
    pub row: Map<String, Value>,
    /// `braintrust.parent` of the span (`project_id:...`, `project_name:...`, `experiment_id:...`).
    pub parent: Option<String>,
    /// A project name hint from the resource (`openinference.project.name`).
    pub project_name: Option<String>,
}

/// Why a span was not turned into a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A Logfire `pending_span` twin: a zero-length placeholder for an in-progress span.
    LogfirePending,
}

/// Maps one span. Pure: the same input always gives the same row.
pub fn map_span(raw: &RawSpan, log_events: &[RawLogEvent]) -> Result<MappedSpan, Skip> {
    let attrs = Attrs::new(&raw.attributes);
    if attrs.str("logfire.span_type") == Some("pending_span") {
        return Err(Skip::LogfirePending);
    }
    const NULL: Value = Value::Null;
    let mut events: Vec<(u64, EventView)> = raw
        .events
        .iter()
        .map(|e| {
            (
                e.time_unix_nano,
                EventView {
                    name: &e.name,
                    attributes: &e.attributes,
                    body: &NULL,
                },
            )
        })
        .chain(log_events.iter().map(|e| {
            (
                e.time_unix_nano,
                EventView {
                    name: &e.name,
                    attributes: &e.attributes,
                    body: &e.body,
                },
            )
        }))
        .collect();
    events.sort_by_key(|(t, _)| *t);
    let braintrust_span_attributes = match attrs.json("braintrust.span_attributes") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let name = attrs
        .str("braintrust.span_attributes.name")
        .or_else(|| {
            braintrust_span_attributes
                .get("name")
                .and_then(Value::as_str)
        })
        .or_else(|| attrs.str("logfire.msg"))
        .unwrap_or(&raw.name)
        .to_owned();
    let ctx = Ctx {
        raw,
        attrs,
        events: events.into_iter().map(|(_, e)| e).collect(),
        name,
        braintrust_span_attributes,
    };

    let span_type = kind::span_type(&ctx);
    let provider = metadata::provider(&ctx);
    let io = messages::extract(&ctx);
    let usage = usage::extract(
        &ctx,
        span_type.as_deref() == Some(kind::LLM),
        provider.as_deref(),
    );
    let (mut meta, tags) = metadata::extract(&ctx, provider);
    if usage.normalized {
        meta.insert("usage_normalized".into(), Value::Bool(true));
    }
    if !usage.aggregated.is_empty() {
        meta.insert(
            "aggregated_usage".into(),
            Value::Object(usage.aggregated.clone()),
        );
    }
    if let Some(attr) = usage.cost_attribute {
        meta.insert(
            "pricing".into(),
            json!({"source": "emitter", "attribute": attr}),
        );
    }
    let error = error::extract(&ctx, &mut meta);
    let parent = ctx.attrs.str("braintrust.parent").map(str::to_owned);
    let project_name = raw
        .resource
        .get("openinference.project.name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let expected = ctx.attrs.json("braintrust.expected");
    metadata::add_leftovers(&ctx, &mut meta);

    let mut row = Map::new();
    row.insert("id".into(), Value::String(raw.span_id.clone()));
    row.insert("span_id".into(), Value::String(raw.span_id.clone()));
    row.insert("root_span_id".into(), Value::String(raw.trace_id.clone()));
    row.insert(
        "span_parents".into(),
        if raw.parent_span_id.is_empty() {
            Value::Null
        } else {
            json!([raw.parent_span_id])
        },
    );
    let created = if raw.start_time_unix_nano > 0 {
        timefmt::iso_from_unix(raw.start_time_unix_nano as f64 / 1e9)
    } else {
        timefmt::now_iso()
    };
    row.insert("created".into(), Value::String(created));
    let mut span_attributes = Map::new();
    span_attributes.insert("name".into(), Value::String(ctx.name.clone()));
    if let Some(t) = span_type {
        span_attributes.insert("type".into(), Value::String(t));
    }
    row.insert("span_attributes".into(), Value::Object(span_attributes));
    if let Some(input) = io.input {
        row.insert("input".into(), input);
    }
    if let Some(output) = io.output {
        row.insert("output".into(), output);
    }
    if let Some(expected) = expected {
        row.insert("expected".into(), expected);
    }
    row.insert("metadata".into(), Value::Object(meta));
    row.insert("metrics".into(), Value::Object(usage.metrics));
    if !tags.is_empty() {
        row.insert("tags".into(), json!(tags));
    }
    if let Some(e) = error {
        row.insert("error".into(), Value::String(e));
    }
    Ok(MappedSpan {
        row,
        parent,
        project_name,
    })
}

/// The input and output carried by GenAI log events alone (what a joined-events merge sets).
pub fn event_io(log_events: &[RawLogEvent]) -> (Option<Value>, Option<Value>) {
    let mut sorted: Vec<&RawLogEvent> = log_events.iter().collect();
    sorted.sort_by_key(|e| e.time_unix_nano);
    let views: Vec<EventView> = sorted
        .iter()
        .map(|e| EventView {
            name: &e.name,
            attributes: &e.attributes,
            body: &e.body,
        })
        .collect();
    (
        messages::events_input(&views),
        messages::events_output(&views),
    )
}
