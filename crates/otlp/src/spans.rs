//! A decoded trace export → mapped spans, with every invalid span counted and explained.

use crate::map::{MappedSpan, Skip, map_span};
use crate::raw::{RawSpan, resource_and_scope};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

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
    batch
}
