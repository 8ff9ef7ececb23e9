//! Experiment lookup and the summaries the SDK prints: `GET /v1/experiment` (by name),
//! `GET /v1/experiment/{id}/summarize`, `GET /v1/dataset/{id}/summarize`.

use super::projects::check_org_name;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use spanloom_model::{AuthContext, Experiment, ObjectRef};
use spanloom_store::PageRequest;
use spanloom_store::summary::{summarize, trace_outcomes};

/// Every row of an object, as event values.
pub(crate) async fn all_rows(
    state: &AppState,
    ctx: &AuthContext,
    object: &ObjectRef,
) -> Result<Vec<Value>, ApiError> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = state
            .store
            .fetch_rows(
                &ctx.org_id,
                object,
                PageRequest {
                    limit: 1000,
                    cursor,
                    as_of: None,
                },
            )
            .await?;
        rows.extend(page.rows.iter().map(|r| r.to_event_value()));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(rows),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ListExperiments {
    experiment_name: Option<String>,
    project_name: Option<String>,
    project_id: Option<String>,
    org_name: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/experiment?experiment_name=&project_name=|project_id=&org_name=`.
pub(crate) async fn list_experiments(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<ListExperiments>,
) -> Result<Json<Value>, ApiError> {
    check_org_name(&ctx, q.org_name.as_deref())?;
    let project_ids: Vec<String> = match (&q.project_id, &q.project_name) {
        (Some(id), _) => vec![id.clone()],
        (None, Some(name)) => state
            .store
            .list_projects(&ctx.org_id, Some(name), 1)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
        (None, None) => state
            .store
            .list_projects(&ctx.org_id, None, 10_000)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    };
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let mut objects = Vec::new();
    for project_id in project_ids {
        objects.extend(
            state
                .store
                .list_experiments(
                    &ctx.org_id,
                    &project_id,
                    q.experiment_name.as_deref(),
                    limit,
                )
                .await?,
        );
    }
    objects.truncate(limit);
    Ok(Json(json!({"objects": objects})))
}

#[derive(Deserialize)]
pub(crate) struct SummarizeExperiment {
    summarize_scores: Option<String>,
    comparison_experiment_id: Option<String>,
}

async fn experiment(state: &AppState, ctx: &AuthContext, id: &str) -> Result<Experiment, ApiError> {
    state
        .store
        .get_experiment(&ctx.org_id, id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "experiment {id} does not exist in this organization"
            ))
        })
}

/// The comparison experiment: the one asked for, else the experiment's base, else the newest
/// earlier experiment of the same project.
async fn comparison(
    state: &AppState,
    ctx: &AuthContext,
    this: &Experiment,
    asked: Option<&str>,
) -> Result<Option<Experiment>, ApiError> {
    if let Some(id) = asked.filter(|s| !s.is_empty()) {
        return experiment(state, ctx, id).await.map(Some);
    }
    if let Some(base) = this.extra.get("base_exp_id").and_then(Value::as_str)
        && let Some(e) = state.store.get_experiment(&ctx.org_id, base).await?
    {
        return Ok(Some(e));
    }
    let earlier = state
        .store
        .list_experiments(&ctx.org_id, &this.project_id, None, 1000)
        .await?
        .into_iter()
        .find(|e| e.id != this.id && e.created <= this.created);
    Ok(earlier)
}

/// `GET /v1/experiment/{id}/summarize`.
pub(crate) async fn summarize_experiment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Query(q): Query<SummarizeExperiment>,
) -> Result<Json<Value>, ApiError> {
    let this = experiment(&state, &ctx, &id).await?;
    let project = state
        .store
        .get_project(&ctx.org_id, &this.project_id)
        .await?;
    let project_name = project.map(|p| p.name).unwrap_or_default();
    let app = state.config.public_url.clone().unwrap_or_default();
    let mut body = json!({
        "project_name": project_name,
        "experiment_name": this.name,
        "project_url": format!("{app}/app/{}/p/{project_name}", ctx.org_name),
        "experiment_url": format!("{app}/app/{}/p/{project_name}/experiments/{}", ctx.org_name, this.name),
        "comparison_experiment_name": null,
        "scores": {},
        "metrics": {},
    });
    if q.summarize_scores.as_deref().is_some_and(|s| s == "false") {
        return Ok(Json(body));
    }
    let rows = all_rows(
        &state,
        &ctx,
        &ObjectRef::new(spanloom_model::ObjectKind::Experiment, this.id.clone()),
    )
    .await?;
    let outcomes = trace_outcomes(&rows);
    let base = comparison(&state, &ctx, &this, q.comparison_experiment_id.as_deref()).await?;
    let base_outcomes = match &base {
        Some(b) => Some(trace_outcomes(
            &all_rows(
                &state,
                &ctx,
                &ObjectRef::new(spanloom_model::ObjectKind::Experiment, b.id.clone()),
            )
            .await?,
        )),
        None => None,
    };
    let (scores, metrics) = summarize(&outcomes, base_outcomes.as_deref());
    body["comparison_experiment_name"] = base.map(|b| Value::String(b.name)).unwrap_or(Value::Null);
    body["scores"] = serde_json::to_value(scores).unwrap_or_default();
    body["metrics"] = serde_json::to_value(metrics).unwrap_or_default();
    Ok(Json(body))
}

#[derive(Deserialize)]
pub(crate) struct SummarizeDataset {
    summarize_data: Option<String>,
}

/// `GET /v1/dataset/{id}/summarize`: `data_summary` holds exactly `total_records`.
pub(crate) async fn summarize_dataset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Query(q): Query<SummarizeDataset>,
) -> Result<Json<Value>, ApiError> {
    let dataset = state
        .store
        .get_dataset(&ctx.org_id, &id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("dataset {id} does not exist in this organization"))
        })?;
    let project = state
        .store
        .get_project(&ctx.org_id, &dataset.project_id)
        .await?;
    let project_name = project.map(|p| p.name).unwrap_or_default();
    let app = state.config.public_url.clone().unwrap_or_default();
    let data_summary = if q.summarize_data.as_deref() == Some("false") {
        Value::Null
    } else {
        let rows = all_rows(
            &state,
            &ctx,
            &ObjectRef::new(spanloom_model::ObjectKind::Dataset, dataset.id.clone()),
        )
        .await?;
        json!({"total_records": rows.len()})
    };
    Ok(Json(json!({
        "project_name": project_name,
        "dataset_name": dataset.name,
        "project_url": format!("{app}/app/{}/p/{project_name}", ctx.org_name),
        "dataset_url": format!("{app}/app/{}/p/{project_name}/datasets/{}", ctx.org_name, dataset.name),
        "data_summary": data_summary,
    })))
}

#[derive(Deserialize)]
pub(crate) struct CompareParams {
    base: Option<String>,
}

/// `GET /api/v1/experiment/{id}/compare?base=<id>`: the experiment's traces side by side with
/// the comparison's (matched by input), with the summary of the pair. Without `base`, the
/// comparison is chosen as for `summarize`.
pub(crate) async fn compare_experiments(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Query(q): Query<CompareParams>,
) -> Result<Json<Value>, ApiError> {
    let this = experiment(&state, &ctx, &id).await?;
    let base = comparison(&state, &ctx, &this, q.base.as_deref()).await?;
    let rows_of =
        |e: &Experiment| ObjectRef::new(spanloom_model::ObjectKind::Experiment, e.id.clone());
    let outcomes = trace_outcomes(&all_rows(&state, &ctx, &rows_of(&this)).await?);
    let base_outcomes = match &base {
        Some(b) => trace_outcomes(&all_rows(&state, &ctx, &rows_of(b)).await?),
        None => Vec::new(),
    };
    let (scores, metrics) = summarize(&outcomes, base.as_ref().map(|_| base_outcomes.as_slice()));
    let rows = spanloom_store::summary::compare_traces(&outcomes, &base_outcomes);
    Ok(Json(json!({
        "experiment": this,
        "base": base,
        "scores": scores,
        "metrics": metrics,
        "rows": rows,
    })))
}

#[derive(Deserialize)]
pub(crate) struct ListDatasets {
    project_id: String,
    dataset_name: Option<String>,
}

/// `GET /v1/dataset?project_id=&dataset_name=`.
pub(crate) async fn list_datasets(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<ListDatasets>,
) -> Result<Json<Value>, ApiError> {
    let mut objects = state
        .store
        .list_datasets(&ctx.org_id, &q.project_id)
        .await?;
    if let Some(name) = &q.dataset_name {
        objects.retain(|d| &d.name == name);
    }
    Ok(Json(json!({"objects": objects})))
}

/// `GET /api/v1/{object_type}/{id}/versions`: the transactions that wrote to the object
/// (newest first), each readable with `fetch` `version=`.
pub(crate) async fn versions(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((object_type, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let object = ObjectRef::new(super::object_kind(&object_type)?, id);
    super::objects::ensure_object(&state, &ctx, &object).await?;
    let versions = state
        .store
        .list_versions(&ctx.org_id, &object, 1000)
        .await?;
    let list: Vec<Value> = versions
        .iter()
        .map(|x| json!({"xact_id": x.to_string(), "time": x.approx_unix_seconds()}))
        .collect();
    Ok(Json(json!({"versions": list})))
}

#[derive(Deserialize)]
pub(crate) struct BaseExperimentRequest {
    id: String,
}

/// `POST /api/base_experiment/get_id` (on the app URL): the experiment an experiment compares
/// against (its `base_exp_id`, else the previous one in its project); 400 when there is none,
/// which the SDK reads as "no base experiment".
pub(crate) async fn base_experiment_id(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Json<Value>, ApiError> {
    let req: BaseExperimentRequest = super::projects::json_body(&state, &headers, body).await?;
    let this = experiment(&state, &ctx, &req.id).await?;
    match comparison(&state, &ctx, &this, None).await? {
        Some(base) => Ok(Json(
            json!({"base_exp_id": base.id, "base_exp_name": base.name}),
        )),
        None => Err(ApiError::bad_request(format!(
            "experiment {} has no base experiment",
            this.name
        ))),
    }
}
