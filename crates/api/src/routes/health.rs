//! `GET /health` and `GET /metrics`.

use crate::auth::Auth;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// Liveness: answers once the server is serving. No auth.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>, _auth: Auth) -> impl IntoResponse {
    let text = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
}
