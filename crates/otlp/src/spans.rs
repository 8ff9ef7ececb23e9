//! A decoded trace export → mapped spans, with every invalid span counted and explained.

use crate::map::{MappedSpan, Skip, map_span};
use crate::raw::{RawSpan, resource_and_scope};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A span ready to be routed and written.
#[derive(Debug, Clone)]
pub struct PreparedSpan {
    /// The lossless raw span.
    pub raw: RawSpan,
    /// Its mapping.
    pub mapped: MappedSpan,
}

/// The spans of one export request.
#[derive(Debug, Default)]
pub struct SpanBatch {
    /// Valid spans.
    pub spans: Vec<PreparedSpan>,
    /// Why each rejected span was rejected (reported through `partial_success`).
    pub rejected: Vec<String>,
    /// Spans deliberately not stored (Logfire pending-span twins).
    pub skipped: usize,
}

impl SpanBatch {
    /// The `partial_success.error_message`: the first reasons, with a count of the rest.
    pub fn rejection_message(&self) -> String {
        summarize(&self.rejected)
    }
}

/// Joins the first few reasons and counts the rest.
pub fn summarize(reasons: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut msg = reasons
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if reasons.len() > SHOWN {
        msg.push_str(&format!("; and {} more", reasons.len() - SHOWN));
    }
    msg
}

/// Converts and maps every span of a request.
pub fn prepare_spans(request: &ExportTraceServiceRequest) -> SpanBatch {
    let mut batch = SpanBatch::default();
    for (ri, rs) in request.resource_spans.iter().enumerate() {
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            let (resource, scope) = resource_and_scope(rs.resource.as_ref(), ss.scope.as_ref());
            for (i, span) in ss.spans.iter().enumerate() {
                match RawSpan::from_proto(&resource, &scope, span) {
                    Ok(raw) => match map_span(&raw, &[]) {
                        Ok(mapped) => batch.spans.push(PreparedSpan { raw, mapped }),
                        Err(Skip::LogfirePending) => batch.skipped += 1,
                    },
                    Err(e) => batch.rejected.push(format!(
                        "resourceSpans[{ri}].scopeSpans[{si}].spans[{i}] ({:?}): {}",
                        span.name, e.0
                    )),
                }
            }
        }
    }
    dedupe_stacked_llm_usage(&mut batch.spans);
    batch
}

const TOKEN_METRICS: [&str; 8] = [
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "prompt_cached_tokens",
    "prompt_cache_creation_tokens",
    "completion_reasoning_tokens",
    "prompt_audio_tokens",
    "completion_audio_tokens",
];

fn is_llm(row: &Map<String, Value>) -> bool {
    row.get("span_attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        == Some("llm")
}

fn usage_of(row: &Map<String, Value>) -> Option<(Option<f64>, Option<f64>)> {
    let m = row.get("metrics")?;
    let get = |k: &str| m.get(k).and_then(Value::as_f64);
    let usage = (get("prompt_tokens"), get("completion_tokens"));
    (usage != (None, None)).then_some(usage)
}

/// Stacked instrumentation (a framework's `chat` span around the provider SDK's span) records
/// one call twice. When an LLM span has an LLM child with the same usage, only the innermost
/// keeps it: the outer span's counts move to `metadata.aggregated_usage`, so trace totals and
/// rollups count the call once. Works within one export batch, where parents and children
/// usually travel together.
fn dedupe_stacked_llm_usage(spans: &mut [PreparedSpan]) {
    let index: HashMap<String, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.raw.span_id.clone(), i))
        .collect();
    let mut outer = Vec::new();
    for child in spans.iter() {
        let Some(&p) = index.get(&child.raw.parent_span_id) else {
            continue;
        };
        let parent = &spans[p].mapped.row;
        if is_llm(parent)
            && is_llm(&child.mapped.row)
            && usage_of(parent).is_some()
            && usage_of(parent) == usage_of(&child.mapped.row)
        {
            outer.push(p);
        }
    }
    for p in outer {
        let row = &mut spans[p].mapped.row;
        let mut moved = Map::new();
        if let Some(Value::Object(metrics)) = row.get_mut("metrics") {
            for k in TOKEN_METRICS {
                if let Some(v) = metrics.remove(k) {
                    moved.insert(k.into(), v);
                }
            }
        }
        if let Some(Value::Object(meta)) = row.get_mut("metadata") {
            meta.insert("aggregated_usage".into(), Value::Object(moved));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prepared(span_id: &str, parent: &str, attrs: Value) -> PreparedSpan {
        let raw: RawSpan = serde_json::from_value(json!({
            "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": span_id, "parent_span_id": parent,
            "name": "chat", "start_time_unix_nano": 1u64, "end_time_unix_nano": 2u64, "attributes": attrs,
        }))
        .expect("raw span");
        let mapped = map_span(&raw, &[]).expect("mapped");
        PreparedSpan { raw, mapped }
    }

    #[test]
    fn stacked_llm_spans_count_usage_once() {
        let usage = json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                           "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3});
        let mut spans = vec![
            prepared("00000000000000a1", "", usage.clone()),
            prepared("00000000000000a2", "00000000000000a1", usage),
        ];
        dedupe_stacked_llm_usage(&mut spans);
        assert!(
            spans[0].mapped.row["metrics"]
                .get("prompt_tokens")
                .is_none()
        );
        assert_eq!(
            spans[0].mapped.row["metadata"]["aggregated_usage"]["prompt_tokens"],
            10
        );
        assert_eq!(spans[1].mapped.row["metrics"]["prompt_tokens"], 10);
    }
}
