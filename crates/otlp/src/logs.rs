//! A decoded logs export → GenAI events grouped by the span they belong to.
//!
//! The OTel contrib instrumentations emit message content as log events
//! (`gen_ai.user.message`, `gen_ai.choice`, `gen_ai.client.inference.operation.details`, ...)
//! correlated to their span by trace and span id. They are joined to the span as a merge, so
//! they land on it whichever arrives first.

use crate::raw::{RawLogEvent, Rejected, span_id_hex, trace_id_hex};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The GenAI events of one span.
#[derive(Debug, Clone)]
pub struct SpanEvents {
    /// Trace id (hex).
    pub trace_id: String,
    /// Span id (hex).
    pub span_id: String,
    /// Resource attributes of the first record (routing hints).
    pub resource: Map<String, Value>,
    /// The events, in arrival order.
    pub events: Vec<RawLogEvent>,
}

/// The log records of one export request.
#[derive(Debug, Default)]
pub struct LogBatch {
    /// GenAI events by span.
    pub spans: Vec<SpanEvents>,
    /// Why each rejected record was rejected.
    pub rejected: Vec<String>,
}

/// True for the event names that carry GenAI content.
pub fn is_genai_event(name: &str) -> bool {
    name.starts_with("gen_ai.")
}

/// Groups the GenAI events of a request by span. Records without a span context, and records
/// that are not GenAI events, are rejected with a reason: Spanloom stores spans, not logs.
pub fn prepare_logs(request: &ExportLogsServiceRequest) -> LogBatch {
    let mut batch = LogBatch::default();
    let mut groups: BTreeMap<(String, String), SpanEvents> = BTreeMap::new();
    for (ri, rl) in request.resource_logs.iter().enumerate() {
        let resource = rl
            .resource
            .as_ref()
            .map(|r| crate::value::key_values(&r.attributes))
            .unwrap_or_default();
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            for (i, record) in sl.log_records.iter().enumerate() {
                let at = format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{i}]");
                let event = RawLogEvent::from_proto(record);
                if !is_genai_event(&event.name) {
                    batch.rejected.push(format!(
                        "{at}: only GenAI events (gen_ai.*) are stored, got {:?}",
                        if event.name.is_empty() {
                            "a plain log record"
                        } else {
                            &event.name
                        }
                    ));
                    continue;
                }
                let ids = trace_id_hex(&record.trace_id)
                    .and_then(|t| span_id_hex(&record.span_id, "span_id").map(|s| (t, s)));
                let (trace_id, span_id) = match ids {
                    Ok(ids) => ids,
                    Err(Rejected(why)) => {
                        batch.rejected.push(format!(
                            "{at} ({}): needs the span it belongs to: {why}",
                            event.name
                        ));
                        continue;
                    }
                };
                groups
                    .entry((trace_id.clone(), span_id.clone()))
                    .or_insert_with(|| SpanEvents {
                        trace_id,
                        span_id,
                        resource: resource.clone(),
                        events: Vec::new(),
                    })
                    .events
                    .push(event);
            }
        }
    }
    batch.spans = groups.into_values().collect();
    batch
}
