//! API: the HTTP surface of Spanloom, as small axum handlers over a [`spanloom_store::Store`].
//!
//! ```text
//! request ──▶ telemetry (metrics, logs) ──▶ auth (Bearer key → org) ──▶ handler
//!                                                   handler: body → ingest → store, or store → JSON
//! ```
//!
//! Routes (every route but `/health` needs `Authorization: Bearer <api key>`):
//!
//! | route | what |
//! |---|---|
//! | `GET /health` | liveness, no auth |
//! | `GET /metrics` | Prometheus metrics |
//! | `POST /api/apikey/login`, `GET /version` | Braintrust SDK handshake |
//! | `POST /v1/project`, `GET /v1/project`, `GET /v1/project/{id}` | projects |
//! | `POST /v1/experiment`, `GET /v1/experiment/{id}`, `POST /v1/dataset`, `GET /v1/dataset/{id}` | experiments and datasets |
//! | `POST /logs3` | every row write of the SDKs |
//! | `POST /btql` | BTQL queries (SQL syntax, clause syntax, JSON AST) |
//! | `POST /v1/{project_logs,experiment,dataset}/{id}/insert`, `.../fetch` | REST insert and fetch |
//! | `GET /api/v1/{object_type}/{id}/traces[/{root_span_id}]`, `.../spans/{span_id}`, `.../rows/{id}` | native reads for the UI |
//! | `GET /api/v1/{object_type}/{id}/rollups` | dashboard series from the ingest rollups |
//! | `POST /v1/traces`, `/otel/v1/traces`, `/v1/logs`, `/otel/v1/logs` | OTLP/HTTP (protobuf or JSON, gzip/deflate/zstd); gRPC in [`otlp::grpc`] |
//!
//! Handlers hold no business logic: bodies are decoded by `spanloom-ingest`, and everything
//! else is a store call. Every error is a JSON body `{"error": {"code", "message"}}` with the
//! right status (see [`error::ApiError`]).

pub mod auth;
pub mod body;
pub mod error;
pub mod otlp;
mod routes;
pub mod state;
pub mod telemetry;
pub mod unread_body;

pub use state::{ApiConfig, AppState};

use axum::Router;
use axum::middleware;
use tower_http::catch_panic::CatchPanicLayer;

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    routes::routes()
        .fallback(routes::not_found)
        .layer(middleware::from_fn(unread_body::close_if_body_unread))
        .layer(middleware::from_fn(telemetry::track_requests))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}
