//! Orgs, API keys, projects, experiments and datasets.

use crate::backend_err;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};
use spanloom_model::{ApiKeyInfo, AuthContext, Dataset, Experiment, Org, Project, ids, timefmt};
use spanloom_store::{StoreError, StoreResult};

fn org_from(r: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
    })
}

pub(crate) fn get_or_create_org(c: &mut Connection, name: &str) -> StoreResult<Org> {
    c.execute(
        "INSERT INTO orgs (id, name, created) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
        params![ids::new_object_id(), name, timefmt::now_iso()],
    )
    .map_err(backend_err)?;
    c.query_row(
        "SELECT id, name, created FROM orgs WHERE name = ?1",
        [name],
        org_from,
    )
    .map_err(backend_err)
}

pub(crate) fn list_orgs(c: &Connection) -> StoreResult<Vec<Org>> {
    let mut stmt = c
        .prepare_cached("SELECT id, name, created FROM orgs ORDER BY name")
        .map_err(backend_err)?;
    let rows = stmt.query_map([], org_from).map_err(backend_err)?;
    rows.collect::<Result<_, _>>().map_err(backend_err)
}

const KEY_COLUMNS: &str = "id, org_id, name, prefix, created, revoked_at, default_project";

fn key_from(r: &Row<'_>) -> rusqlite::Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: r.get(0)?,
        org_id: r.get(1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        created: r.get(4)?,
        revoked_at: r.get(5)?,
        default_project: r.get(6)?,
    })
}

pub(crate) fn insert_api_key(
    c: &mut Connection,
    org_id: &str,
    name: &str,
    hash: &str,
    prefix: &str,
) -> StoreResult<ApiKeyInfo> {
    let id = ids::new_object_id();
    c.execute(
        "INSERT INTO api_keys (id, org_id, name, key_hash, prefix, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, org_id, name, hash, prefix, timefmt::now_iso()],
    )
    .map_err(backend_err)?;
    c.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
        [&id],
        key_from,
    )
    .map_err(backend_err)
}

pub(crate) fn list_api_keys(c: &Connection, org_id: Option<&str>) -> StoreResult<Vec<ApiKeyInfo>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL OR org_id = ?1 ORDER BY created, id"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(backend_err)?;
    let rows = stmt.query_map([org_id], key_from).map_err(backend_err)?;
    rows.collect::<Result<_, _>>().map_err(backend_err)
}

pub(crate) fn set_key_default_project(
    c: &mut Connection,
    id_or_prefix: &str,
    project: Option<&str>,
) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE api_keys SET default_project = ?2 WHERE (id = ?1 OR prefix = ?1) AND revoked_at IS NULL",
            params![id_or_prefix, project],
        )
        .map_err(backend_err)?;
    Ok(n > 0)
}

pub(crate) fn revoke_api_key(c: &mut Connection, id_or_prefix: &str) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE (id = ?1 OR prefix = ?1) AND revoked_at IS NULL",
            params![id_or_prefix, timefmt::now_iso()],
        )
        .map_err(backend_err)?;
    Ok(n > 0)
}

pub(crate) fn authenticate(c: &Connection, key_hash: &str) -> StoreResult<Option<AuthContext>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT k.org_id, o.name, k.id, k.default_project FROM api_keys k JOIN orgs o ON o.id = k.org_id
             WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
        )
        .map_err(backend_err)?;
    stmt.query_row([key_hash], |r| {
        Ok(AuthContext {
            org_id: r.get(0)?,
            org_name: r.get(1)?,
            key_id: r.get(2)?,
            default_project: r.get(3)?,
        })
    })
    .optional()
    .map_err(backend_err)
}

const PROJECT_COLUMNS: &str = "id, org_id, name, description, created, settings";

fn project_from(r: &Row<'_>) -> rusqlite::Result<Project> {
    let settings: Option<String> = r.get(5)?;
    Ok(Project {
        id: r.get(0)?,
        org_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        created: r.get(4)?,
        deleted_at: None,
        user_id: None,
        settings: settings.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

pub(crate) fn create_or_get_project(
    c: &mut Connection,
    org_id: &str,
    name: &str,
    description: Option<&str>,
) -> StoreResult<Project> {
    c.execute(
        "INSERT INTO projects (id, org_id, name, description, created) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (org_id, name) DO NOTHING",
        params![
            ids::new_object_id(),
            org_id,
            name,
            description,
            timefmt::now_iso()
        ],
    )
    .map_err(backend_err)?;
    c.query_row(
        &format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = ?1 AND name = ?2"),
        [org_id, name],
        project_from,
    )
    .map_err(backend_err)
}

pub(crate) fn get_project(c: &Connection, org_id: &str, id: &str) -> StoreResult<Option<Project>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?1 AND org_id = ?2"
        ))
        .map_err(backend_err)?;
    stmt.query_row([id, org_id], project_from)
        .optional()
        .map_err(backend_err)
}

pub(crate) fn list_projects(
    c: &Connection,
    org_id: &str,
    name: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<Project>> {
    let sql = format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name LIMIT ?3"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(backend_err)?;
    let rows = stmt
        .query_map(params![org_id, name, limit as i64], project_from)
        .map_err(backend_err)?;
    rows.collect::<Result<_, _>>().map_err(backend_err)
}

fn require_project(c: &Connection, org_id: &str, project_id: &str) -> StoreResult<()> {
    match get_project(c, org_id, project_id)? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!(
            "project {project_id} does not exist in this organization"
        ))),
    }
}

const EXPERIMENT_COLUMNS: &str = "id, project_id, name, description, created, extra";

fn experiment_from(r: &Row<'_>) -> rusqlite::Result<Experiment> {
    let extra: String = r.get(5)?;
    Ok(Experiment {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        created: r.get(4)?,
        extra: serde_json::from_str(&extra).unwrap_or_default(),
    })
}

pub(crate) fn create_experiment(
    c: &mut Connection,
    org_id: &str,
    project_id: &str,
    name: Option<&str>,
    ensure_new: bool,
    mut extra: Map<String, Value>,
) -> StoreResult<Experiment> {
    require_project(c, org_id, project_id)?;
    let find = |c: &Connection, name: &str| {
        c.query_row(
            &format!(
                "SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE project_id = ?1 AND name = ?2"
            ),
            [project_id, name],
            experiment_from,
        )
        .optional()
        .map_err(backend_err)
    };
    let base = match name {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => format!("experiment-{}", &ids::new_span_id()[..8]),
    };
    if !ensure_new && let Some(existing) = find(c, &base)? {
        return Ok(existing);
    }
    let mut candidate = base.clone();
    let mut n = 1;
    while find(c, &candidate)?.is_some() {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    let description = extra
        .remove("description")
        .and_then(|d| d.as_str().map(str::to_owned));
    for key in ["id", "name", "project_id", "created", "ensure_new"] {
        extra.remove(key);
    }
    let id = ids::new_object_id();
    c.execute(
        "INSERT INTO experiments (id, org_id, project_id, name, description, created, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, org_id, project_id, candidate, description, timefmt::now_iso(), Value::Object(extra).to_string()],
    )
    .map_err(backend_err)?;
    c.query_row(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE id = ?1"),
        [&id],
        experiment_from,
    )
    .map_err(backend_err)
}

pub(crate) fn list_experiments(
    c: &Connection,
    org_id: &str,
    project_id: &str,
    name: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<Experiment>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments
             WHERE org_id = ?1 AND project_id = ?2 AND (?3 IS NULL OR name = ?3)
             ORDER BY created DESC, rowid DESC LIMIT ?4"
        ))
        .map_err(backend_err)?;
    let rows = stmt
        .query_map(
            params![org_id, project_id, name, limit as i64],
            experiment_from,
        )
        .map_err(backend_err)?;
    rows.collect::<Result<_, _>>().map_err(backend_err)
}

pub(crate) fn get_experiment(
    c: &Connection,
    org_id: &str,
    id: &str,
) -> StoreResult<Option<Experiment>> {
    c.query_row(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE id = ?1 AND org_id = ?2"),
        [id, org_id],
        experiment_from,
    )
    .optional()
    .map_err(backend_err)
}

const DATASET_COLUMNS: &str = "id, project_id, name, description, created, metadata";

fn dataset_from(r: &Row<'_>) -> rusqlite::Result<Dataset> {
    let metadata: Option<String> = r.get(5)?;
    Ok(Dataset {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        created: r.get(4)?,
        metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()),
    })
}

pub(crate) fn create_or_get_dataset(
    c: &mut Connection,
    org_id: &str,
    project_id: &str,
    name: &str,
    description: Option<&str>,
    metadata: Option<Value>,
) -> StoreResult<Dataset> {
    require_project(c, org_id, project_id)?;
    c.execute(
        "INSERT INTO datasets (id, org_id, project_id, name, description, created, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (project_id, name) DO NOTHING",
        params![ids::new_object_id(), org_id, project_id, name, description, timefmt::now_iso(), metadata.map(|m| m.to_string())],
    )
    .map_err(backend_err)?;
    c.query_row(
        &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE project_id = ?1 AND name = ?2"),
        [project_id, name],
        dataset_from,
    )
    .map_err(backend_err)
}

pub(crate) fn get_dataset(c: &Connection, org_id: &str, id: &str) -> StoreResult<Option<Dataset>> {
    c.query_row(
        &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = ?1 AND org_id = ?2"),
        [id, org_id],
        dataset_from,
    )
    .optional()
    .map_err(backend_err)
}

pub(crate) fn list_datasets(
    c: &Connection,
    org_id: &str,
    project_id: &str,
) -> StoreResult<Vec<Dataset>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = ?1 AND project_id = ?2 ORDER BY name"
        ))
        .map_err(backend_err)?;
    let rows = stmt
        .query_map(params![org_id, project_id], dataset_from)
        .map_err(backend_err)?;
    rows.collect::<Result<_, _>>().map_err(backend_err)
}
