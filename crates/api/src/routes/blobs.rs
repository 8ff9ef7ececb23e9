//! The blob store's HTTP surface: attachments (`POST /attachment`, `POST /attachment/status`,
//! `GET /attachment`), `/logs3` overflow uploads (`POST /logs3/overflow`), and the signed URLs
//! they hand out (`PUT`/`GET /objects/{token}`), which carry no API key: the token is the
//! permission, for one object and one method, for a few minutes.

use super::login::api_base_url;
use crate::auth::Auth;
use crate::body::read_body_within;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use spanloom_blobstore::{AttachmentMeta, BlobError, Method, ObjectKey, ObjectKind, UploadStatus};
use spanloom_model::AuthContext;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::InvalidKey(_) => ApiError::bad_request(e.to_string()),
            BlobError::NotFound => ApiError::not_found(e.to_string()),
            BlobError::BadSignature(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            BlobError::TooLarge(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                e.to_string(),
            ),
            BlobError::Io(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            }
        }
    }
}

/// Checks an `org_id` sent by the SDK against the key's org.
fn check_org_id(ctx: &AuthContext, org_id: Option<&str>) -> Result<(), ApiError> {
    match org_id {
        Some(id) if !id.is_empty() && id != ctx.org_id => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("org_id {id:?} is not the API key's organization"),
        )),
        _ => Ok(()),
    }
}

/// Runs blob-store file I/O off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ApiError::from)
}

fn signed_url(state: &AppState, headers: &HeaderMap, key: &ObjectKey, method: Method) -> String {
    let token = state
        .signer
        .sign(key, method, now(), state.config.signed_url_ttl_secs);
    format!("{}/objects/{token}", api_base_url(state, headers))
}

#[derive(Deserialize)]
pub(crate) struct NewAttachment {
    key: String,
    #[serde(default)]
    filename: String,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    org_id: Option<String>,
}

/// `POST /attachment`: registers an attachment and answers where to upload it.
pub(crate) async fn create_attachment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let req: NewAttachment = super::projects::json_body(&state, &headers, body).await?;
    check_org_id(&ctx, req.org_id.as_deref())?;
    let key = ObjectKey::attachment(&ctx.org_id, &req.key)?;
    let content_type = if req.content_type.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        req.content_type
    };
    state.blobs.put_meta(
        &key,
        &AttachmentMeta {
            filename: req.filename,
            content_type: content_type.clone(),
            status: UploadStatus {
                upload_status: "uploading".into(),
                error_message: None,
            },
        },
    )?;
    Ok(Json(json!({
        "signedUrl": signed_url(&state, &headers, &key, Method::Put),
        "headers": {"Content-Type": content_type},
    })))
}

#[derive(Deserialize)]
pub(crate) struct AttachmentStatus {
    key: String,
    #[serde(default)]
    org_id: Option<String>,
    status: UploadStatus,
}

/// `POST /attachment/status`: the SDK reports how the upload went.
pub(crate) async fn attachment_status(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let req: AttachmentStatus = super::projects::json_body(&state, &headers, body).await?;
    check_org_id(&ctx, req.org_id.as_deref())?;
    let key = ObjectKey::attachment(&ctx.org_id, &req.key)?;
    let mut meta = state.blobs.get_meta(&key)?.ok_or_else(|| {
        ApiError::not_found(format!("attachment {:?} was never registered", req.key))
    })?;
    if req.status.upload_status == "done" && !state.blobs.exists(&key) {
        return Err(ApiError::bad_request(format!(
            "attachment {:?} has no uploaded bytes",
            req.key
        )));
    }
    meta.status = req.status;
    state.blobs.put_meta(&key, &meta)?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct ReadAttachment {
    key: Option<String>,
    url: Option<String>,
    org_id: Option<String>,
}

/// `GET /attachment?key=...` (or `url=` for an external attachment): where to download it.
pub(crate) async fn read_attachment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    Query(q): Query<ReadAttachment>,
) -> Result<Json<Value>, ApiError> {
    check_org_id(&ctx, q.org_id.as_deref())?;
    match (q.key, q.url) {
        (Some(name), _) => {
            let key = ObjectKey::attachment(&ctx.org_id, &name)?;
            let meta = state.blobs.get_meta(&key)?.ok_or_else(|| {
                ApiError::not_found(format!("attachment {name:?} does not exist"))
            })?;
            Ok(Json(json!({
                "downloadUrl": signed_url(&state, &headers, &key, Method::Get),
                "status": meta.status,
            })))
        }
        (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => Ok(Json(
            json!({"downloadUrl": url, "status": {"upload_status": "done"}}),
        )),
        (None, Some(url)) => Err(ApiError::bad_request(format!(
            "external attachment {url:?}: this server can only hand out http(s) URLs"
        ))),
        (None, None) => Err(ApiError::bad_request("`key` or `url` is required")),
    }
}

/// `PUT /objects/{token}`: an upload to a signed URL.
pub(crate) async fn put_object(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = state.signer.verify(&token, Method::Put, now())?;
    let limit = state.config.max_upload_bytes;
    let bytes = read_body_within(&state, &headers, body, limit).await?;
    let blobs = state.blobs.clone();
    blocking(move || blobs.put(&key, &bytes.bytes, limit as u64)).await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /objects/{token}`: a download from a signed URL.
pub(crate) async fn get_object(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let key = state.signer.verify(&token, Method::Get, now())?;
    let content_type = match key.kind {
        ObjectKind::Attachment => state
            .blobs
            .get_meta(&key)?
            .map(|m| m.content_type)
            .unwrap_or_else(|| "application/octet-stream".into()),
        ObjectKind::Overflow => "application/json".into(),
    };
    let blobs = state.blobs.clone();
    let bytes = blocking(move || blobs.get(&key)).await?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[derive(Deserialize)]
pub(crate) struct OverflowRequest {
    #[serde(default)]
    size_bytes: Option<u64>,
}

/// `POST /logs3/overflow`: where to upload a `/logs3` body too large for one request.
pub(crate) async fn logs3_overflow(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let req: OverflowRequest = super::projects::json_body(&state, &headers, body).await?;
    let limit = state.config.max_upload_bytes as u64;
    if req.size_bytes.is_some_and(|n| n > limit) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "overflow payload of {} bytes exceeds the upload limit of {limit} bytes",
                req.size_bytes.unwrap_or(0)
            ),
        ));
    }
    let name = uuid::Uuid::new_v4().to_string();
    let key = ObjectKey::overflow(&ctx.org_id, &name)?;
    Ok(Json(json!({
        "method": "PUT",
        "signedUrl": signed_url(&state, &headers, &key, Method::Put),
        "key": name,
        "headers": {"Content-Type": "application/json"},
    })))
}

/// Reads an uploaded overflow payload of the caller's org.
pub(crate) async fn overflow_payload(
    state: &AppState,
    ctx: &AuthContext,
    name: &str,
) -> Result<Vec<u8>, ApiError> {
    let key = ObjectKey::overflow(&ctx.org_id, name)?;
    let blobs = state.blobs.clone();
    if !blobs.exists(&key) {
        return Err(ApiError::bad_request(format!(
            "overflow payload {name:?} was not uploaded (POST /logs3/overflow, then PUT the body to its signedUrl)"
        )));
    }
    blocking(move || blobs.get(&key)).await
}
