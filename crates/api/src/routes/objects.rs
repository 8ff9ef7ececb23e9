//! Experiments, datasets, and `fetch` over any object.

use super::projects::{check_org_name, json_body};
use super::{object_kind, raw_json};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use spanloom_model::{AuthContext, Dataset, Experiment, ObjectKind, ObjectRef};
use spanloom_store::PageRequest;

#[derive(Deserialize)]
struct CreateExperiment {
    project_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    ensure_new: Option<bool>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

pub(crate) async fn create_experiment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Experiment>, ApiError> {
    let req: CreateExperiment = json_body(&state, &headers, body).await?;
    let experiment = state
        .store
        .create_experiment(
            &ctx.org_id,
            &req.project_id,
            req.name.as_deref(),
            req.ensure_new.unwrap_or(false),
            req.extra,
        )
        .await?;
    Ok(Json(experiment))
}

pub(crate) async fn get_experiment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<Json<Experiment>, ApiError> {
    state
        .store
        .get_experiment(&ctx.org_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "experiment {id} does not exist in this organization"
            ))
        })
}

#[derive(Deserialize)]
struct CreateDataset {
    project_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    org_name: Option<String>,
}

pub(crate) async fn create_dataset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Dataset>, ApiError> {
    let req: CreateDataset = json_body(&state, &headers, body).await?;
    check_org_name(&ctx, req.org_name.as_deref())?;
    let name = req.name.as_deref().unwrap_or("logs");
    let dataset = state
        .store
        .create_or_get_dataset(
            &ctx.org_id,
            &req.project_id,
            name,
            req.description.as_deref(),
            req.metadata,
        )
        .await?;
    Ok(Json(dataset))
}

pub(crate) async fn get_dataset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<Json<Dataset>, ApiError> {
    state
        .store
        .get_dataset(&ctx.org_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!("dataset {id} does not exist in this organization"))
        })
}

/// 404 unless the object exists in the caller's org.
pub(crate) async fn ensure_object(
    state: &AppState,
    ctx: &AuthContext,
    object: &ObjectRef,
) -> Result<(), ApiError> {
    let exists = match object.kind {
        ObjectKind::ProjectLogs => state
            .store
            .get_project(&ctx.org_id, &object.id)
            .await?
            .is_some(),
        ObjectKind::Experiment => state
            .store
            .get_experiment(&ctx.org_id, &object.id)
            .await?
            .is_some(),
        ObjectKind::Dataset => state
            .store
            .get_dataset(&ctx.org_id, &object.id)
            .await?
            .is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_object",
            format!("{object} does not exist in this organization"),
        ))
    }
}

/// Parameters of a fetch, from a POST body or GET query.
#[derive(Deserialize, Default)]
pub(crate) struct FetchParams {
    limit: Option<usize>,
    cursor: Option<String>,
    version: Option<Value>,
    filters: Option<Value>,
    max_xact_id: Option<Value>,
    max_root_span_id: Option<Value>,
}

async fn fetch(
    state: AppState,
    ctx: AuthContext,
    object_type: String,
    id: String,
    params: FetchParams,
) -> Result<Response, ApiError> {
    let object = ObjectRef::new(object_kind(&object_type)?, id);
    let as_of = match &params.version {
        None | Some(Value::Null) => None,
        Some(v) => {
            let text = match v {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            let n: u64 = text.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "fetch `version` must be a transaction id (a non-negative integer), got {v}"
                ))
            })?;
            // Versions before any transaction (e.g. "0") read as empty.
            Some(spanloom_model::XactId::from_u64(n).unwrap_or(spanloom_model::XactId::MIN))
        }
    };
    for (name, value) in [
        ("filters", &params.filters),
        ("max_xact_id", &params.max_xact_id),
        ("max_root_span_id", &params.max_root_span_id),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
        {
            return Err(ApiError::bad_request(format!(
                "fetch parameter `{name}` is not supported by this server version"
            )));
        }
    }
    ensure_object(&state, &ctx, &object).await?;
    let page = state
        .store
        .fetch_rows(
            &ctx.org_id,
            &object,
            PageRequest {
                limit: params.limit.unwrap_or(100),
                cursor: params.cursor.filter(|c| !c.is_empty()),
                as_of,
            },
        )
        .await?;
    let mut body = String::from("{\"events\":[");
    for (i, row) in page.rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        if object.kind == ObjectKind::Dataset {
            // Dataset events always carry `expected` (the SDK reads the key).
            let mut event = row.to_event_value();
            if let Value::Object(map) = &mut event {
                map.entry("expected").or_insert(Value::Null);
            }
            body.push_str(&event.to_string());
        } else {
            body.push_str(&row.to_event_json());
        }
    }
    body.push_str("],\"cursor\":");
    body.push_str(&serde_json::to_string(&page.cursor).unwrap_or_else(|_| "null".into()));
    body.push('}');
    Ok(raw_json(body))
}

pub(crate) async fn fetch_post(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = crate::body::read_body(&state, &headers, body).await?;
    let params = if body.bytes.iter().all(u8::is_ascii_whitespace) {
        FetchParams::default()
    } else {
        let value = spanloom_ingest::logs3::parse_json(&body.bytes)?;
        serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("invalid fetch body: {e}")))?
    };
    fetch(state, ctx, object_type, id, params).await
}

pub(crate) async fn fetch_get(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id)): Path<(String, String)>,
    Query(params): Query<FetchParams>,
) -> Result<Response, ApiError> {
    fetch(state, ctx, object_type, id, params).await
}
