//! `POST /btql`: BTQL queries in SQL syntax, clause syntax or the SDKs' JSON AST.

use super::objects::ensure_object;
use super::raw_json;
use crate::auth::Auth;
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use spanloom_model::ObjectRef;

/// Runs a query. Body: `{"query": "<text>" | {<JSON AST>}, "fmt": "json" | "jsonl"}`.
/// Answers `{"data": [...], "cursor": ...}` (json) or one row per line (jsonl, with the
/// cursor in the `x-bt-cursor` header).
pub(crate) async fn btql(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&state, &headers, body).await?;
    let request = spanloom_ingest::logs3::parse_json(&body.bytes)?;
    let fmt = request
        .get("fmt")
        .and_then(Value::as_str)
        .unwrap_or("json")
        .to_owned();
    if fmt != "json" && fmt != "jsonl" {
        return Err(ApiError::bad_request(format!(
            "unsupported fmt {fmt:?}: use \"json\" or \"jsonl\""
        )));
    }
    let query = spanloom_query::parse_json(&request)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.to_string()))?;
    ensure_object(
        &state,
        &ctx,
        &ObjectRef::new(query.source.kind, query.source.id.clone()),
    )
    .await?;
    let output = state.store.query(&ctx.org_id, &query).await?;
    if fmt == "jsonl" {
        let mut text = output.rows.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        let mut response = ([(header::CONTENT_TYPE, "application/x-ndjson")], text).into_response();
        if let Some(cursor) = output.cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert("x-bt-cursor", cursor);
        }
        return Ok(response);
    }
    let mut text = String::from("{\"data\":[");
    text.push_str(&output.rows.join(","));
    text.push_str("],\"cursor\":");
    text.push_str(&serde_json::to_string(&output.cursor).unwrap_or_else(|_| "null".into()));
    text.push('}');
    Ok(raw_json(text))
}
