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
use serde_json::value::RawValue;
use serde_json::{Value, json};
use spanloom_model::ObjectRef;
use std::collections::{BTreeMap, BTreeSet};

/// The JSON type names of a raw JSON value, from its first character.
fn raw_type(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "string",
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// A JSON Schema of the answer's rows: each top-level field with the types seen in it. Rows
/// are read key by key (`RawValue`), so large payloads are not parsed.
fn result_schema(rows: &[String]) -> Value {
    let mut fields: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for row in rows {
        if let Ok(map) = serde_json::from_str::<BTreeMap<String, &RawValue>>(row) {
            for (key, raw) in map {
                fields.entry(key).or_default().insert(raw_type(raw));
            }
        }
    }
    let properties: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(k, types)| {
            let types: Vec<&str> = types.into_iter().collect();
            let t = if types.len() == 1 {
                json!(types[0])
            } else {
                json!(types)
            };
            (k, json!({"type": t}))
        })
        .collect();
    json!({"type": "array", "items": {"type": "object", "properties": properties}})
}

/// Runs a query. Body: `{"query": "<text>" | {<JSON AST>}, "fmt": "json" | "jsonl"}`.
/// Answers `{"data": [...], "cursor": ..., "schema": {...}}` (json: `schema` is a JSON Schema
/// of the rows) or one row per line (jsonl, with the cursor in the `x-bt-cursor` header).
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
    text.push_str(",\"schema\":");
    text.push_str(&result_schema(&output.rows).to_string());
    text.push('}');
    Ok(raw_json(text))
}
