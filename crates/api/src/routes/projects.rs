//! Projects: `POST /v1/project` (create-or-get), `GET /v1/project`, `GET /v1/project/{id}`.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use spanloom_model::{AuthContext, Project};

#[derive(Deserialize)]
struct CreateProject {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    org_name: Option<String>,
}

/// Parses a small JSON request body into `T`, naming the problem on failure.
pub(crate) async fn json_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let body = crate::body::read_body(state, headers, body).await?;
    let value = spanloom_ingest::logs3::parse_json(&body.bytes)?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// Checks an optional `org_name` against the key's org.
pub(crate) fn check_org_name(ctx: &AuthContext, org_name: Option<&str>) -> Result<(), ApiError> {
    match org_name {
        Some(name) if !name.is_empty() && name != ctx.org_name => {
            Err(ApiError::bad_request(format!(
                "org_name {name:?} does not match the API key's organization {:?}",
                ctx.org_name
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Project>, ApiError> {
    let req: CreateProject = json_body(&state, &headers, body).await?;
    check_org_name(&ctx, req.org_name.as_deref())?;
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request("`name` must not be empty"));
    }
    Ok(Json(
        state
            .store
            .create_or_get_project(&ctx.org_id, name, req.description.as_deref())
            .await?,
    ))
}

pub(crate) async fn get_one(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<Json<Project>, ApiError> {
    state
        .store
        .get_project(&ctx.org_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!("project {id} does not exist in this organization"))
        })
}

#[derive(Deserialize)]
pub(crate) struct ListProjects {
    project_name: Option<String>,
    org_name: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<ListProjects>,
) -> Result<Json<Value>, ApiError> {
    check_org_name(&ctx, q.org_name.as_deref())?;
    let projects = state
        .store
        .list_projects(
            &ctx.org_id,
            q.project_name.as_deref(),
            q.limit.unwrap_or(1000).min(10_000),
        )
        .await?;
    Ok(Json(json!({"objects": projects})))
}
