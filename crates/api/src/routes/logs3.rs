//! The write path: `POST /logs3` and `POST /v1/{object_type}/{id}/insert`.

use super::object_kind;
use crate::auth::Auth;
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};
use spanloom_ingest::WriteRow;
use spanloom_ingest::logs3::{Logs3Request, decode_insert, decode_logs3, decode_logs3_request};
use spanloom_model::{AuthContext, ObjectRef};
use spanloom_store::WriteReceipt;

async fn commit(
    state: &AppState,
    ctx: &AuthContext,
    rows: Vec<WriteRow>,
) -> Result<Option<WriteReceipt>, ApiError> {
    if rows.is_empty() {
        return Ok(None);
    }
    let count = rows.len() as u64;
    let receipt = state.store.write(&ctx.org_id, rows).await?;
    metrics::counter!("spanloom_ingest_rows_total").increment(count);
    Ok(Some(receipt))
}

/// Every SDK write. The body arrives without a Content-Type and is parsed as JSON regardless.
/// Answers only after the rows are committed.
pub(crate) async fn logs3(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body = read_body(&state, &headers, body).await?;
    let turn = state.decode_turns.take().await;
    let decoded = decode_logs3_request(&body.bytes)?;
    drop((body, turn));
    let rows = match decoded {
        Logs3Request::Rows(rows) => rows,
        Logs3Request::Overflow { key, .. } => {
            let payload = super::blobs::overflow_payload(&state, &ctx, &key).await?;
            decode_logs3(&payload)?
        }
    };
    let receipt = commit(&state, &ctx, rows).await?;
    Ok(Json(match receipt {
        Some(r) => json!({"ids": r.row_ids, "xact_id": r.xact_id}),
        None => json!({"ids": [], "xact_id": null}),
    }))
}

/// REST insert of events into one object.
pub(crate) async fn insert(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let object = ObjectRef::new(object_kind(&object_type)?, id);
    let body = read_body(&state, &headers, body).await?;
    let rows = decode_insert(&object, &body.bytes)?;
    drop(body);
    let receipt = commit(&state, &ctx, rows).await?;
    Ok(Json(
        json!({"row_ids": receipt.map(|r| r.row_ids).unwrap_or_default()}),
    ))
}
