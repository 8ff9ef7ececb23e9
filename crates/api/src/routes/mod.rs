//! Route table. One file per resource.

mod blobs;
mod btql;
mod health;
mod login;
mod logs3;
mod objects;
mod projects;
mod summaries;
mod traces;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::{get, post};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .route("/api/apikey/login", post(login::login))
        .route("/version", get(login::version))
        .route(
            "/api/base_experiment/get_id",
            post(summaries::base_experiment_id),
        )
        .route("/v1/project", post(projects::create).get(projects::list))
        .route("/v1/project/{id}", get(projects::get_one))
        .route(
            "/v1/experiment",
            post(objects::create_experiment).get(summaries::list_experiments),
        )
        .route("/v1/experiment/{id}", get(objects::get_experiment))
        .route(
            "/v1/experiment/{id}/summarize",
            get(summaries::summarize_experiment),
        )
        .route(
            "/v1/dataset/{id}/summarize",
            get(summaries::summarize_dataset),
        )
        .route(
            "/v1/dataset",
            post(objects::create_dataset).get(summaries::list_datasets),
        )
        .route(
            "/api/v1/experiment/{id}/compare",
            get(summaries::compare_experiments),
        )
        .route("/v1/dataset/{id}", get(objects::get_dataset))
        // SDKs may gzip large batches; an unknown Content-Encoding gets 415.
        .route(
            "/logs3",
            post(logs3::logs3).layer(tower_http::decompression::RequestDecompressionLayer::new()),
        )
        .route("/logs3/overflow", post(blobs::logs3_overflow))
        .route(
            "/attachment",
            post(blobs::create_attachment).get(blobs::read_attachment),
        )
        .route("/attachment/status", post(blobs::attachment_status))
        .route(
            "/objects/{token}",
            axum::routing::put(blobs::put_object).get(blobs::get_object),
        )
        .route("/btql", post(btql::btql))
        .route(
            "/v1/{object_type}/{id}/insert",
            post(logs3::insert).layer(tower_http::decompression::RequestDecompressionLayer::new()),
        )
        .route(
            "/v1/{object_type}/{id}/fetch",
            post(objects::fetch_post).get(objects::fetch_get),
        )
        .route("/api/v1/{object_type}/{id}/traces", get(traces::list))
        .route(
            "/api/v1/{object_type}/{id}/traces/{root_span_id}",
            get(traces::one),
        )
        .route(
            "/api/v1/{object_type}/{id}/spans/{span_id}",
            get(traces::span),
        )
        .route("/api/v1/{object_type}/{id}/rows/{row_id}", get(traces::row))
        .route("/api/v1/{object_type}/{id}/rollups", get(traces::rollups))
        .route(
            "/api/v1/{object_type}/{id}/versions",
            get(summaries::versions),
        )
        .merge(otlp_routes())
}

/// OTLP/HTTP, at the standard paths and under `/otel` (where Braintrust-style clients post).
/// They decompress request bodies (as `/logs3` and the insert route do); an unknown `Content-Encoding` gets 415.
fn otlp_routes() -> Router<AppState> {
    use crate::otlp::http;
    Router::new()
        .route("/v1/traces", post(http::traces))
        .route("/otel/v1/traces", post(http::traces))
        .route("/v1/logs", post(http::logs))
        .route("/otel/v1/logs", post(http::logs))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
}

pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

/// Parses the `{object_type}` path segment.
pub(crate) fn object_kind(name: &str) -> Result<spanloom_model::ObjectKind, ApiError> {
    spanloom_model::ObjectKind::parse(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown object type {name:?}: expected project_logs, experiment or dataset"
        ))
    })
}

/// A JSON response from a pre-serialized body.
pub(crate) fn raw_json(body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
