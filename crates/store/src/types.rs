//! Values the store returns.

use serde::Serialize;
use spanloom_model::{ObjectKind, ObjectRef, XactId};

/// The acknowledgement of a committed write request.
#[derive(Debug, Clone, Serialize)]
pub struct WriteReceipt {
    /// The transaction id assigned to every row of the request.
    pub xact_id: XactId,
    /// The row ids, in request order.
    pub row_ids: Vec<String>,
}

/// A stored row as it is read back.
#[derive(Debug, Clone)]
pub struct StoredRow {
    /// The object it belongs to.
    pub object: ObjectRef,
    /// The project the object belongs to.
    pub project_id: String,
    /// The row id.
    pub id: String,
    /// The transaction that last changed it.
    pub xact_id: XactId,
    /// The merged row content as a JSON object text (no routing fields, no `_xact_id`).
    pub data_json: String,
}

impl StoredRow {
    /// The row as the protocol's fetch endpoints return it: the content plus `_xact_id` and
    /// the routing fields. Spliced as text so large payloads are not parsed again.
    pub fn to_event_json(&self) -> String {
        let mut head = format!(
            "{{\"_xact_id\":\"{}\",\"project_id\":{}",
            self.xact_id,
            json_str(&self.project_id)
        );
        match self.object.kind {
            ObjectKind::ProjectLogs => head.push_str(",\"log_id\":\"g\""),
            kind => {
                head.push_str(&format!(
                    ",\"{}\":{}",
                    kind.id_field(),
                    json_str(&self.object.id)
                ));
            }
        }
        let body = self
            .data_json
            .trim_start()
            .strip_prefix('{')
            .unwrap_or("}")
            .trim_start();
        if body.starts_with('}') {
            head.push_str(body);
        } else {
            head.push(',');
            head.push_str(body);
        }
        head
    }

    /// The event JSON parsed into a value.
    pub fn to_event_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.to_event_json()).unwrap_or(serde_json::Value::Null)
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A page request over rows.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Maximum rows to return (clamped by the store).
    pub limit: usize,
    /// The cursor of the previous page.
    pub cursor: Option<String>,
    /// Read the object as of this transaction (a dataset version) instead of its current rows.
    pub as_of: Option<XactId>,
}

/// A page of rows.
#[derive(Debug, Clone)]
pub struct RowPage {
    /// The rows.
    pub rows: Vec<StoredRow>,
    /// The cursor for the next page; `None` at the end.
    pub cursor: Option<String>,
}

/// A trace list query.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    /// Maximum traces to return (clamped by the store).
    pub limit: usize,
    /// The cursor of the previous page.
    pub cursor: Option<String>,
    /// Only traces starting at or after this unix time.
    pub from: Option<f64>,
    /// Only traces starting before this unix time.
    pub to: Option<f64>,
}

/// A page of trace summaries.
#[derive(Debug, Clone, Serialize)]
pub struct TracePage {
    /// The traces, newest first.
    pub traces: Vec<TraceSummary>,
    /// The cursor for the next page; `None` at the end.
    pub cursor: Option<String>,
}

/// One trace, summarised. Kept current at ingest, so listing traces never scans spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// The trace id.
    pub root_span_id: String,
    /// The project of the object.
    pub project_id: String,
    /// Earliest span start (unix seconds).
    pub start: Option<f64>,
    /// Latest span end (unix seconds).
    pub end: Option<f64>,
    /// `end - start`, when both are known.
    pub duration: Option<f64>,
    /// Number of spans.
    pub span_count: i64,
    /// Number of spans with an error.
    pub error_count: i64,
    /// Sum of prompt tokens.
    pub prompt_tokens: f64,
    /// Sum of completion tokens.
    pub completion_tokens: f64,
    /// Sum of total tokens.
    pub tokens: f64,
    /// Sum of estimated cost (USD).
    pub estimated_cost: f64,
    /// Row id of the root span, if it has arrived.
    pub root_id: Option<String>,
    /// Span id of the root span.
    pub root_span_span_id: Option<String>,
    /// Root span name.
    pub root_name: Option<String>,
    /// Root span type.
    pub root_type: Option<String>,
    /// Short preview of the root input.
    pub input_preview: Option<String>,
    /// Short preview of the root output.
    pub output_preview: Option<String>,
    /// Union of all spans' tags.
    pub tags: Vec<String>,
    /// The last transaction that touched the trace.
    pub xact_id: XactId,
}

/// One whole trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The summary.
    pub summary: TraceSummary,
    /// Every span, by start time.
    pub spans: Vec<StoredRow>,
}

/// The answer to a BTQL query.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// One JSON object text per result row.
    pub rows: Vec<String>,
    /// The cursor for the next page; `None` at the end.
    pub cursor: Option<String>,
}
