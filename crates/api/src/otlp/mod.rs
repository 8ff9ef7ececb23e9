//! OTLP ingest, shared by the HTTP routes ([`http`]) and the gRPC services ([`grpc`]):
//! decoded export → mapped spans (`spanloom-otlp`) → routed rows → one committed write.

pub mod grpc;
pub(crate) mod http;

use crate::state::AppState;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use spanloom_ingest::WriteRow;
use spanloom_model::{AuthContext, ObjectKind, ObjectRef};
use spanloom_otlp::route::{RequestRoute, Target};
use spanloom_otlp::rows::{log_events_row, span_row};
use spanloom_otlp::spans::summarize;
use spanloom_store::StoreError;
use std::collections::BTreeMap;

/// What an export achieved: how many items were rejected and why.
#[derive(Debug, Default)]
pub struct ExportOutcome {
    /// Items (spans or log records) not stored.
    pub rejected: i64,
    /// Why, for `partial_success.error_message`.
    pub message: String,
}

/// Resolves routing targets to objects of the caller's org, once per target per request.
struct Resolver<'a> {
    state: &'a AppState,
    ctx: &'a AuthContext,
    cache: BTreeMap<Target, Result<ObjectRef, String>>,
}

impl<'a> Resolver<'a> {
    fn new(state: &'a AppState, ctx: &'a AuthContext) -> Self {
        Self {
            state,
            ctx,
            cache: BTreeMap::new(),
        }
    }

    async fn object(&mut self, target: &Target) -> Result<Result<ObjectRef, String>, StoreError> {
        if let Some(hit) = self.cache.get(target) {
            return Ok(hit.clone());
        }
        let store = &self.state.store;
        let org = &self.ctx.org_id;
        let resolved = match target {
            Target::ProjectId(id) => match store.get_project(org, id).await? {
                Some(p) => Ok(ObjectRef::new(ObjectKind::ProjectLogs, p.id)),
                None => Err(format!("project {id} does not exist in this organization")),
            },
            Target::ProjectName(name) => {
                let p = store.create_or_get_project(org, name, None).await?;
                Ok(ObjectRef::new(ObjectKind::ProjectLogs, p.id))
            }
            Target::ExperimentId(id) => match store.get_experiment(org, id).await? {
                Some(e) => Ok(ObjectRef::new(ObjectKind::Experiment, e.id)),
                None => Err(format!(
                    "experiment {id} does not exist in this organization"
                )),
            },
        };
        self.cache.insert(target.clone(), resolved.clone());
        Ok(resolved)
    }
}

async fn commit(
    state: &AppState,
    ctx: &AuthContext,
    rows: Vec<WriteRow>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let count = rows.len() as u64;
    state.store.write(&ctx.org_id, rows).await?;
    metrics::counter!("spanloom_ingest_rows_total").increment(count);
    metrics::counter!("spanloom_otlp_spans_total").increment(count);
    Ok(())
}

fn record_rejections(kind: &'static str, outcome: &ExportOutcome) {
    if outcome.rejected > 0 {
        metrics::counter!("spanloom_otlp_rejected_total", "kind" => kind)
            .increment(outcome.rejected as u64);
        tracing::info!(kind, rejected = outcome.rejected, reason = %outcome.message, "OTLP export partially rejected");
    }
}

/// Stores the spans of a trace export. Invalid spans are counted in the outcome; the valid
/// ones are committed in one write (acknowledged only after commit).
pub async fn export_traces(
    state: &AppState,
    ctx: &AuthContext,
    route: &RequestRoute,
    request: &ExportTraceServiceRequest,
) -> Result<ExportOutcome, StoreError> {
    let batch = spanloom_otlp::spans::prepare_spans(request);
    let mut reasons = batch.rejected.clone();
    let mut resolver = Resolver::new(state, ctx);
    let mut rows = Vec::with_capacity(batch.spans.len());
    for span in &batch.spans {
        let target = match route.resolve(
            span.mapped.parent.as_deref(),
            span.mapped.project_name.as_deref(),
        ) {
            Ok(t) => t,
            Err(e) => {
                reasons.push(format!("span {}: {e}", span.raw.span_id));
                continue;
            }
        };
        match resolver.object(&target).await? {
            Ok(object) => match span_row(span, &object) {
                Ok(row) => rows.push(row),
                Err(e) => reasons.push(format!("span {}: {e}", span.raw.span_id)),
            },
            Err(e) => reasons.push(format!("span {}: {e}", span.raw.span_id)),
        }
    }
    commit(state, ctx, rows).await?;
    let outcome = ExportOutcome {
        rejected: reasons.len() as i64,
        message: summarize(&reasons),
    };
    record_rejections("span", &outcome);
    Ok(outcome)
}

/// Joins the GenAI log events of a logs export to their spans.
pub async fn export_logs(
    state: &AppState,
    ctx: &AuthContext,
    route: &RequestRoute,
    request: &ExportLogsServiceRequest,
) -> Result<ExportOutcome, StoreError> {
    let batch = spanloom_otlp::logs::prepare_logs(request);
    let mut reasons = batch.rejected.clone();
    let mut rejected = reasons.len() as i64;
    let mut resolver = Resolver::new(state, ctx);
    let mut rows = Vec::new();
    for group in &batch.spans {
        let resource_project = group
            .resource
            .get("openinference.project.name")
            .and_then(|v| v.as_str());
        let parent = group.events.iter().find_map(|e| {
            e.attributes
                .get("braintrust.parent")
                .and_then(|v| v.as_str())
        });
        let object = match route.resolve(parent, resource_project) {
            Ok(target) => resolver.object(&target).await?,
            Err(e) => Err(e),
        };
        match object.and_then(|o| log_events_row(group, &o)) {
            Ok(row) => rows.push(row),
            Err(e) => {
                rejected += group.events.len() as i64;
                reasons.push(format!("span {}: {e}", group.span_id));
            }
        }
    }
    commit(state, ctx, rows).await?;
    let outcome = ExportOutcome {
        rejected,
        message: summarize(&reasons),
    };
    record_rejections("log_record", &outcome);
    Ok(outcome)
}
