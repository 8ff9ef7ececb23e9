//! OTLP/HTTP: `POST /v1/traces`, `/otel/v1/traces`, `/v1/logs`, `/otel/v1/logs`.
//!
//! Bodies are protobuf or JSON (415 otherwise), optionally gzip/deflate/zstd compressed (the
//! router decompresses; the size limit applies to the decompressed body, so compression
//! bombs get 413). Answers are in the request's encoding: `{}` / an empty message on success,
//! `partial_success` naming rejected spans, 400 for undecodable bodies (clients don't retry),
//! 503 + `Retry-After` under back-pressure (clients retry).

use super::{ExportOutcome, export_logs, export_traces};
use crate::auth::Auth;
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use spanloom_otlp::OtlpError;
use spanloom_otlp::decode::{
    Encoding, decode_logs, decode_traces, encode_logs_response, encode_trace_response,
};
use spanloom_otlp::route::RequestRoute;

impl From<OtlpError> for ApiError {
    fn from(e: OtlpError) -> Self {
        match e {
            OtlpError::UnsupportedContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                e.to_string(),
            ),
            OtlpError::InvalidBody(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_otlp", e.to_string())
            }
            OtlpError::InvalidRoute(_) => ApiError::bad_request(e.to_string()),
        }
    }
}

/// Routing headers of a request.
pub(crate) fn request_route(headers: &HeaderMap) -> Result<RequestRoute, ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    RequestRoute::from_headers(text("x-bt-parent"), text("x-project-name"))
        .map_err(|e| ApiError::from(OtlpError::InvalidRoute(e)))
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Ok(Encoding::from_content_type(content_type)?)
}

fn answer(encoding: Encoding, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

/// What every OTLP/HTTP request needs before its body is decoded: the encoding (415 if
/// unsupported), the route (400 if malformed, the key's default project last) and the body
/// (413 past the limit).
async fn read_export(
    state: &AppState,
    ctx: &spanloom_model::AuthContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Encoding, RequestRoute, crate::body::LimitedBody), ApiError> {
    let encoding = encoding(headers)?;
    let route = request_route(headers)?.with_default_project(ctx.default_project.clone());
    let body = read_body(state, headers, body).await?;
    Ok((encoding, route, body))
}

/// `POST /v1/traces`.
pub(crate) async fn traces(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (encoding, route, body) = read_export(&state, &ctx, &headers, body).await?;
    let request = decode_traces(&body.bytes, encoding)?;
    drop(body);
    let ExportOutcome { rejected, message } = export_traces(&state, &ctx, &route, &request).await?;
    Ok(answer(
        encoding,
        encode_trace_response(encoding, rejected, &message),
    ))
}

/// `POST /v1/logs`.
pub(crate) async fn logs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (encoding, route, body) = read_export(&state, &ctx, &headers, body).await?;
    let request = decode_logs(&body.bytes, encoding)?;
    drop(body);
    let ExportOutcome { rejected, message } = export_logs(&state, &ctx, &route, &request).await?;
    Ok(answer(
        encoding,
        encode_logs_response(encoding, rejected, &message),
    ))
}
