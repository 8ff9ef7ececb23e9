//! Authentication: `Authorization: Bearer <api key>` → the key's org.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use spanloom_model::AuthContext;
use spanloom_store::auth::hash_api_key;

/// The API key of an `Authorization: Bearer <key>` value (HTTP header or gRPC metadata).
pub fn bearer_key(value: &str) -> Result<&str, &'static str> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or("the Authorization header must be `Bearer <api key>`")
}

/// The authenticated caller. Extracting it rejects requests without a valid key.
#[derive(Debug, Clone)]
pub struct Auth(pub AuthContext);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing `Authorization: Bearer <api key>` header")
        })?;
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
        let key = bearer_key(value).map_err(ApiError::unauthorized)?;
        match state.store.authenticate(&hash_api_key(key)).await? {
            Some(ctx) => Ok(Auth(ctx)),
            None => Err(ApiError::unauthorized("invalid or revoked API key")),
        }
    }
}
