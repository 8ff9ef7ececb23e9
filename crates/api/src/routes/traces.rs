//! Native read routes for the web UI: trace lists, whole traces, single spans and rows.

use super::objects::ensure_object;
use super::{object_kind, raw_json};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use spanloom_model::{ObjectRef, timefmt};
use spanloom_store::{TracePage, TraceQuery};

#[derive(Deserialize)]
pub(crate) struct ListParams {
    limit: Option<usize>,
    cursor: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A time bound given as unix seconds or ISO-8601.
fn time_bound(name: &str, value: Option<&str>) -> Result<Option<f64>, ApiError> {
    let Some(text) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    text.parse::<f64>()
        .ok()
        .or_else(|| timefmt::parse_iso(text))
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{name}` must be unix seconds or an ISO-8601 time, got {text:?}"
            ))
        })
}

/// `GET /api/v1/{object_type}/{id}/traces`: trace summaries, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id)): Path<(String, String)>,
    Query(params): Query<ListParams>,
) -> Result<Json<TracePage>, ApiError> {
    let object = ObjectRef::new(object_kind(&object_type)?, id);
    let query = TraceQuery {
        limit: params.limit.unwrap_or(50),
        cursor: params.cursor.filter(|c| !c.is_empty()),
        from: time_bound("from", params.from.as_deref())?,
        to: time_bound("to", params.to.as_deref())?,
    };
    ensure_object(&state, &ctx, &object).await?;
    Ok(Json(
        state.store.list_traces(&ctx.org_id, &object, query).await?,
    ))
}

/// `GET /api/v1/{object_type}/{id}/traces/{root_span_id}`: the summary and every span.
pub(crate) async fn one(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id, root)): Path<(String, String, String)>,
    Query(params): Query<TraceParams>,
) -> Result<Response, ApiError> {
    let object = ObjectRef::new(object_kind(&object_type)?, id);
    let trace = if params
        .outline
        .as_deref()
        .is_some_and(|v| v == "true" || v == "1")
    {
        state
            .store
            .get_trace_outline(&ctx.org_id, &object, &root)
            .await?
    } else {
        state.store.get_trace(&ctx.org_id, &object, &root).await?
    };
    let trace =
        trace.ok_or_else(|| ApiError::not_found(format!("trace {root} not found in {object}")))?;
    let mut body = format!(
        "{{\"summary\":{},\"spans\":[",
        serde_json::to_string(&trace.summary).unwrap_or_else(|_| "null".into())
    );
    for (i, span) in trace.spans.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&span.to_event_json());
    }
    body.push_str("]}");
    Ok(raw_json(body))
}

/// Options of a whole-trace read.
#[derive(Deserialize)]
pub(crate) struct TraceParams {
    /// `true`: spans without payload fields (`input`, `output`, `expected`, `otel`), with
    /// `input_preview` / `output_preview` instead; open a span to get its payloads.
    outline: Option<String>,
}

/// `GET /api/v1/{object_type}/{id}/spans/{span_id}`.
pub(crate) async fn span(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id, span_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let object = ObjectRef::new(object_kind(&object_type)?, id);
    let row = state
        .store
        .get_span(&ctx.org_id, &object, &span_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("span {span_id} not found in {object}")))?;
    Ok(raw_json(row.to_event_json()))
}

/// `GET /api/v1/{object_type}/{id}/rows/{row_id}` (what permalinks point at), with comments.
pub(crate) async fn row(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id, row_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let object = ObjectRef::new(object_kind(&object_type)?, id);
    let row = state
        .store
        .get_row(&ctx.org_id, &object, &row_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("row {row_id} not found in {object}")))?;
    let comments: Vec<Value> = state
        .store
        .list_comments(&ctx.org_id, &object, &row_id)
        .await?
        .iter()
        .map(|c| c.to_event_value())
        .collect();
    Ok(Json(
        json!({"row": row.to_event_value(), "comments": comments}),
    ))
}

#[derive(Deserialize)]
pub(crate) struct RollupParams {
    from: Option<String>,
    to: Option<String>,
    bucket: Option<String>,
    by: Option<String>,
}

/// `GET /api/v1/{object_type}/{id}/rollups?from&to&bucket=minute|hour|day&by=model`:
/// dashboard series (requests, errors, latency p50/p95, tokens, cost) from the ingest rollups.
pub(crate) async fn rollups(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id)): Path<(String, String)>,
    Query(params): Query<RollupParams>,
) -> Result<Json<Value>, ApiError> {
    use spanloom_store::rollup::{BucketWidth, RollupQuery};
    let object = ObjectRef::new(object_kind(&object_type)?, id);
    let to = time_bound("to", params.to.as_deref())?.unwrap_or_else(timefmt::now_unix);
    let from = time_bound("from", params.from.as_deref())?.unwrap_or(to - 86_400.0);
    let bucket = match params.bucket.as_deref() {
        None => BucketWidth::Hour,
        Some(text) => BucketWidth::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`bucket` must be minute, hour or day, got {text:?}"
            ))
        })?,
    };
    let by_model = match params.by.as_deref() {
        None | Some("") => false,
        Some("model") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`by` can only be \"model\", got {other:?}"
            )));
        }
    };
    if to <= from {
        return Err(ApiError::bad_request("`to` must be after `from`"));
    }
    if (to - from) / bucket.seconds() as f64 > 50_000.0 {
        return Err(ApiError::bad_request(
            "the range holds more than 50,000 buckets; use a wider bucket",
        ));
    }
    ensure_object(&state, &ctx, &object).await?;
    let points = state
        .store
        .rollups(
            &ctx.org_id,
            &object,
            RollupQuery {
                from,
                to,
                bucket,
                by_model,
            },
        )
        .await?;
    Ok(Json(
        json!({"bucket_seconds": bucket.seconds(), "points": points}),
    ))
}
