//! Reading request bodies within the size limit and the in-flight memory budget.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// A body read into memory, holding its share of the in-flight budget until dropped.
pub struct LimitedBody {
    /// The bytes.
    pub bytes: Bytes,
    _permit: OwnedSemaphorePermit,
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "request body exceeds the limit of {limit} bytes ({:.0} MiB); split the batch or raise --max-body-bytes",
            limit as f64 / (1024.0 * 1024.0)
        ),
    )
}

/// Reads the whole body: 413 past the limit (naming it), 503 when too many bytes are in flight.
pub async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<LimitedBody, ApiError> {
    read_body_within(state, headers, body, state.config.max_body_bytes).await
}

/// [`read_body`] with another size limit (blob uploads may exceed the request body limit).
pub async fn read_body_within(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<LimitedBody, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Answering before the client has finished sending would reset the connection and
        // lose the 413 with it (a race the client loses under load): read it out first.
        drain(body).await;
        return Err(too_large(limit));
    }
    // Without a declared length, reserve a chunk of the budget; the limit still caps the read.
    let reserve_kib = declared.unwrap_or(1024 * 1024).div_ceil(1024).max(1);
    let permit = u32::try_from(reserve_kib)
        .ok()
        .and_then(|n| state.inflight.clone().try_acquire_many_owned(n).ok())
        .ok_or_else(|| {
            ApiError::overloaded("too many request bytes in flight; retry shortly", 1)
        })?;
    let mut body = body;
    let mut bytes: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > limit {
            drain(body).await;
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&data);
    }
    Ok(LimitedBody {
        bytes: Bytes::from(bytes),
        _permit: permit,
    })
}

/// Most bytes of an oversize body read (and dropped) after its limit, and how long for.
const DRAIN_BYTES: usize = 256 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads what is left of an oversize body (up to [`DRAIN_BYTES`] and [`DRAIN_TIME`]) before
/// the 413 goes out: closing a connection with unread data makes the kernel reset it, and a
/// client still sending then loses the answer too.
async fn drain(mut body: Body) {
    let read = async {
        let mut drained = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            drained += frame.data_ref().map_or(0, |d| d.len());
            if drained > DRAIN_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}
