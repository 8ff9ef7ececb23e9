//! The web UI, served by the same binary: `GET /app/...` answers the single-page app's
//! `index.html` (the app routes in the browser, so permalinks like
//! `/app/{org}/object?object_type=&object_id=&id=` open directly), `GET /assets/*` its hashed
//! assets (cached forever), and `/` redirects to `/app`.
//!
//! The assets are `ui/dist`, built from `ui/src` with `npm run build` in `ui/` and committed,
//! so `cargo build` needs no Node.js. Release builds embed them; debug builds read them from
//! disk, so a rebuilt UI shows up without recompiling.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

#[derive(rust_embed::RustEmbed)]
#[folder = "../../ui/dist"]
struct Assets;

fn file(path: &str, cache: &'static str) -> Response {
    match Assets::get(path) {
        Some(content) => {
            let mime = content.metadata.mimetype().to_owned();
            let mut response = content.data.into_owned().into_response();
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&mime) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            response
        }
        None => (StatusCode::NOT_FOUND, format!("no UI asset {path}")).into_response(),
    }
}

async fn index() -> Response {
    file("index.html", "no-cache")
}

async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    file(
        &format!("assets/{path}"),
        "public, max-age=31536000, immutable",
    )
}

/// The UI routes; merge them into the API router.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/app", get(index))
        .route("/app/", get(index))
        .route("/app/{*rest}", get(index))
        .route("/assets/{*path}", get(asset))
}
