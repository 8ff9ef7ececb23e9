//! The lossless JSON form of an OTLP span (and of a GenAI log event), kept beside the
//! normalized row so that stored spans can be re-derived after a mapping change.

use crate::value::key_values;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The instrumentation scope that produced a span: it names the emitter
/// (`openinference.instrumentation.openai`, `opentelemetry.instrumentation.openai`, `ai`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawScope {
    /// Scope name.
    #[serde(default)]
    pub name: String,
    /// Scope version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Scope attributes.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// A span event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    /// Event name (`exception`, `gen_ai.choice`, ...).
    pub name: String,
    /// Event time, unix nanoseconds.
    #[serde(default)]
    pub time_unix_nano: u64,
    /// Event attributes.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// A link to another span.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawLink {
    /// Linked trace id (hex).
    pub trace_id: String,
    /// Linked span id (hex).
    pub span_id: String,
    /// Link attributes.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// One OTLP span, with its resource and scope, as JSON-friendly values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawSpan {
    /// Resource attributes (`service.name`, ...).
    #[serde(default)]
    pub resource: Map<String, Value>,
    /// The instrumentation scope.
    #[serde(default)]
    pub scope: RawScope,
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// Span id, 16 lowercase hex digits.
    pub span_id: String,
    /// Parent span id, or empty for a root span.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent_span_id: String,
    /// W3C trace state.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    /// Span name.
    pub name: String,
    /// Span kind as the OTLP enum number (1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    #[serde(default)]
    pub kind: i32,
    /// Start, unix nanoseconds.
    #[serde(default)]
    pub start_time_unix_nano: u64,
    /// End, unix nanoseconds (0: never ended).
    #[serde(default)]
    pub end_time_unix_nano: u64,
    /// Span attributes.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// Span events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<RawEvent>,
    /// Links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<RawLink>,
    /// Status code (0 unset, 1 ok, 2 error).
    #[serde(default)]
    pub status_code: i32,
    /// Status message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    /// Counts of attributes, events and links the SDK dropped.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A GenAI event that arrived as an OTLP log record, to be joined to its span.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawLogEvent {
    /// Event name (`gen_ai.user.message`, `gen_ai.choice`,
    /// `gen_ai.client.inference.operation.details`, ...).
    pub name: String,
    /// Event time, unix nanoseconds.
    #[serde(default)]
    pub time_unix_nano: u64,
    /// Log attributes.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
    /// Log body.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub body: Value,
}

/// Why a span or log record was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

/// Checks and hex-encodes a trace id: 16 bytes, not all zero.
pub fn trace_id_hex(bytes: &[u8]) -> Result<String, Rejected> {
    if bytes.len() != 16 {
        return Err(Rejected(format!(
            "trace_id must be 16 bytes, got {}",
            bytes.len()
        )));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(Rejected("trace_id is all zeros".into()));
    }
    Ok(const_hex::encode(bytes))
}

/// Checks and hex-encodes a span id: 8 bytes, not all zero.
pub fn span_id_hex(bytes: &[u8], what: &str) -> Result<String, Rejected> {
    if bytes.len() != 8 {
        return Err(Rejected(format!(
            "{what} must be 8 bytes, got {}",
            bytes.len()
        )));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(Rejected(format!("{what} is all zeros")));
    }
    Ok(const_hex::encode(bytes))
}

/// Converts the resource and scope of a batch.
pub fn resource_and_scope(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
) -> (Map<String, Value>, RawScope) {
    let resource = resource
        .map(|r| key_values(&r.attributes))
        .unwrap_or_default();
    let scope = scope
        .map(|s| RawScope {
            name: s.name.clone(),
            version: s.version.clone(),
            attributes: key_values(&s.attributes),
        })
        .unwrap_or_default();
    (resource, scope)
}

impl RawSpan {
    /// Converts a decoded span, validating its ids.
    pub fn from_proto(
        resource: &Map<String, Value>,
        scope: &RawScope,
        span: &Span,
    ) -> Result<RawSpan, Rejected> {
        let trace_id = trace_id_hex(&span.trace_id)?;
        let span_id = span_id_hex(&span.span_id, "span_id")?;
        let parent_span_id = if span.parent_span_id.is_empty() {
            String::new()
        } else {
            span_id_hex(&span.parent_span_id, "parent_span_id")?
        };
        let status = span.status.as_ref();
        Ok(RawSpan {
            resource: resource.clone(),
            scope: scope.clone(),
            trace_id,
            span_id,
            parent_span_id,
            trace_state: span.trace_state.clone(),
            name: span.name.clone(),
            kind: span.kind,
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano,
            attributes: key_values(&span.attributes),
            events: span
                .events
                .iter()
                .map(|e| RawEvent {
                    name: e.name.clone(),
                    time_unix_nano: e.time_unix_nano,
                    attributes: key_values(&e.attributes),
                })
                .collect(),
            links: span
                .links
                .iter()
                .map(|l| RawLink {
                    trace_id: const_hex::encode(&l.trace_id),
                    span_id: const_hex::encode(&l.span_id),
                    attributes: key_values(&l.attributes),
                })
                .collect(),
            status_code: status.map(|s| s.code).unwrap_or(0),
            status_message: status.map(|s| s.message.clone()).unwrap_or_default(),
            dropped: span.dropped_attributes_count
                + span.dropped_events_count
                + span.dropped_links_count,
        })
    }
}

impl RawLogEvent {
    /// The event name of a log record: the `event_name` field, else the `event.name`
    /// attribute older SDKs set.
    pub fn from_proto(record: &LogRecord) -> RawLogEvent {
        let attributes = key_values(&record.attributes);
        let name = if record.event_name.is_empty() {
            attributes
                .get("event.name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        } else {
            record.event_name.clone()
        };
        RawLogEvent {
            name,
            time_unix_nano: if record.time_unix_nano != 0 {
                record.time_unix_nano
            } else {
                record.observed_time_unix_nano
            },
            attributes,
            body: record
                .body
                .as_ref()
                .map(crate::value::any_to_json)
                .unwrap_or(Value::Null),
        }
    }
}
