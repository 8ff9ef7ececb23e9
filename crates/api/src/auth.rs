//! Authentication: `Authorization: Bearer <api key>` → the key's org.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use spanloom_model::AuthContext;
use spanloom_store::auth::hash_api_key;

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
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <api key>`")
            })?;
        match state.store.authenticate(&hash_api_key(key)).await? {
            Some(ctx) => Ok(Auth(ctx)),
            None => Err(ApiError::unauthorized("invalid or revoked API key")),
        }
    }
}
