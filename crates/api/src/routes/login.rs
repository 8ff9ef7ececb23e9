//! The Braintrust SDK handshake: `POST /api/apikey/login` and `GET /version`.

use crate::auth::Auth;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

/// The base URL of this API as clients reach it: `--public-url`, else the request's `Host`.
pub(crate) fn api_base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            format!("http://{host}")
        }
    }
}

/// The org of the key, with the API URL the SDK uses from then on.
pub(crate) async fn login(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
) -> Json<Value> {
    let api_url = api_base_url(&state, &headers);
    Json(json!({"org_info": [{
        "id": ctx.org_id,
        "name": ctx.org_name,
        "api_url": api_url,
        "proxy_url": null,
        "realtime_url": null,
        "is_universal_api": false,
        "git_metadata": null,
    }]}))
}

/// Server version and the `/logs3` payload limit. Advertising the limit is what turns the
/// SDK's overflow path on: larger batches go through `/logs3/overflow`.
pub(crate) async fn version(State(state): State<AppState>, _auth: Auth) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "server": "spanloom",
        "logs3_payload_max_bytes": state.config.max_body_bytes,
    }))
}
