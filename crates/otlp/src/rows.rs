//! Mapped spans and joined log events → protocol rows, validated by the same rules as
//! `/logs3` rows. The raw span rides along under `otel`, so a row can be re-derived later.

use crate::logs::SpanEvents;
use crate::map::{MappedSpan, Skip, event_io, map_span};
use crate::raw::{RawLogEvent, RawSpan};
use crate::spans::PreparedSpan;
use serde_json::{Map, Value, json};
use spanloom_ingest::WriteRow;
use spanloom_ingest::row::validate_row;
use spanloom_model::{ObjectKind, ObjectRef, fields};

/// The row field holding the lossless OTel source: `{"span": RawSpan, "log_events": {...}}`.
pub const OTEL_FIELD: &str = fields::OTEL;

fn add_routing(row: &mut Map<String, Value>, object: &ObjectRef) {
    row.insert(
        object.kind.id_field().into(),
        Value::String(object.id.clone()),
    );
    if object.kind == ObjectKind::ProjectLogs {
        row.insert(fields::LOG_ID.into(), Value::String("g".into()));
    }
}

fn validated(row: Map<String, Value>) -> Result<WriteRow, String> {
    // The hash is over the row as built, so a retried export is recognized and changes nothing.
    let row = Value::Object(row);
    let hash = xxhash_rust::xxh3::xxh3_64(row.to_string().as_bytes());
    validate_row(row, hash)
}

/// The replace row of a span, routed to `object`.
pub fn span_row(span: &PreparedSpan, object: &ObjectRef) -> Result<WriteRow, String> {
    let mut row = span.mapped.row.clone();
    row.insert(OTEL_FIELD.into(), json!({"span": span.raw}));
    add_routing(&mut row, object);
    validated(row)
}

/// A key for an event that stays the same when an export is retried, so merges of the same
/// event never pile up.
fn event_key(event: &RawLogEvent) -> String {
    let text = serde_json::to_string(event).unwrap_or_default();
    format!(
        "{:020}-{:016x}",
        event.time_unix_nano,
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    )
}

/// The merge row that joins a span's GenAI log events to it (whether or not the span has
/// arrived yet): the events under `otel.log_events`, and the messages they carry as
/// `input`/`output`, which take precedence over attribute-derived ones.
pub fn log_events_row(group: &SpanEvents, object: &ObjectRef) -> Result<WriteRow, String> {
    let mut row = Map::new();
    row.insert(fields::ID.into(), Value::String(group.span_id.clone()));
    row.insert(fields::SPAN_ID.into(), Value::String(group.span_id.clone()));
    row.insert(
        fields::ROOT_SPAN_ID.into(),
        Value::String(group.trace_id.clone()),
    );
    row.insert(fields::IS_MERGE.into(), Value::Bool(true));
    let events: Map<String, Value> = group
        .events
        .iter()
        .map(|e| (event_key(e), serde_json::to_value(e).unwrap_or(Value::Null)))
        .collect();
    row.insert(OTEL_FIELD.into(), json!({"log_events": events}));
    let (input, output) = event_io(&group.events);
    if let Some(input) = input {
        row.insert("input".into(), input);
    }
    if let Some(output) = output {
        row.insert("output".into(), output);
    }
    add_routing(&mut row, object);
    validated(row)
}

/// Re-derives a stored OTel row from its `otel` field with the current mapping. `None` when
/// the row did not come from OTel or has no span yet (only joined log events).
pub fn remap_row(row: &Map<String, Value>) -> Option<Result<MappedSpan, Skip>> {
    let otel = row.get(OTEL_FIELD)?;
    let raw: RawSpan = serde_json::from_value(otel.get("span")?.clone()).ok()?;
    let events: Vec<RawLogEvent> = match otel.get("log_events") {
        Some(Value::Object(map)) => map
            .values()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect(),
        _ => Vec::new(),
    };
    Some(map_span(&raw, &events).map(|mut mapped| {
        mapped.row.insert(OTEL_FIELD.into(), otel.clone());
        mapped
    }))
}
