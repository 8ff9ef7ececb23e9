//! Reading an object as of a past transaction (dataset versions) by replaying its write log
//! through the shared write rules (`spanloom_store::apply`), so a version reads exactly as the
//! current rows read when that transaction was the latest.

use crate::{backend_err, blobs};
use rusqlite::{Connection, params};
use serde_json::{Map, Value};
use spanloom_ingest::WriteOp;
use spanloom_model::{ObjectKind, ObjectRef, XactId};
use spanloom_store::apply::{Applied, RowState, apply};
use spanloom_store::{StoreResult, StoredRow};
use std::collections::HashMap;

fn owning_project(c: &Connection, object: &ObjectRef) -> StoreResult<String> {
    let table = match object.kind {
        ObjectKind::ProjectLogs => return Ok(object.id.clone()),
        ObjectKind::Experiment => "experiments",
        ObjectKind::Dataset => "datasets",
    };
    c.query_row(
        &format!("SELECT project_id FROM {table} WHERE id = ?1"),
        [&object.id],
        |r| r.get(0),
    )
    .map_err(backend_err)
}

fn string_lists(v: Option<&Value>) -> Vec<Vec<String>> {
    v.and_then(Value::as_array)
        .map(|paths| {
            paths
                .iter()
                .filter_map(|p| {
                    p.as_array().map(|p| {
                        p.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Rebuilds the operation a write-log entry recorded, with its payload values loaded.
fn entry_op(
    c: &Connection,
    entry: &Value,
    blob_ids: &HashMap<String, i64>,
) -> StoreResult<Option<(String, WriteOp)>> {
    let id = entry
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut row: Map<String, Value> = entry
        .get("row")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(refs)) = entry.get("blobs") {
        for (field, hash) in refs {
            let Some(blob) = hash.as_str().and_then(|h| blob_ids.get(h)) else {
                continue;
            };
            if let Some(value) = blobs::load(c, *blob).map_err(backend_err)? {
                row.insert(field.clone(), value);
            }
        }
    }
    let control = entry
        .get("control")
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .or_else(|| entry.get("control").filter(|c| c.is_object()).cloned())
        .unwrap_or(Value::Null);
    let op = match entry.get("op").and_then(Value::as_str) {
        Some("replace") => {
            // Identical replaces (client retries) hash alike, so they stay no-ops on replay.
            let content_hash =
                xxhash_rust::xxh3::xxh3_64(Value::Object(row.clone()).to_string().as_bytes());
            WriteOp::Replace { row, content_hash }
        }
        Some("merge") => {
            let array_deletes = control
                .get(spanloom_model::fields::ARRAY_DELETE)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| {
                            let path =
                                string_lists(Some(&Value::Array(vec![i.get("path")?.clone()])))
                                    .pop()?;
                            Some((path, i.get("delete")?.as_array()?.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            WriteOp::Merge {
                patch: row,
                merge_paths: string_lists(control.get(spanloom_model::fields::MERGE_PATHS)),
                array_deletes,
            }
        }
        Some("delete") => WriteOp::Delete,
        _ => return Ok(None),
    };
    Ok(Some((id, op)))
}

/// Every row of `object` as of transaction `version`, in first-insertion order.
pub(crate) fn rows_as_of(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    version: XactId,
) -> StoreResult<Vec<StoredRow>> {
    let project_id = owning_project(c, object)?;
    let mut stmt = c
        .prepare_cached(
            "SELECT xact_id, entries, blob_ids FROM write_log
             WHERE kind = ?1 AND object_id = ?2 AND org_id = ?3 AND xact_id <= ?4 ORDER BY seq",
        )
        .map_err(backend_err)?;
    let mut entries = stmt
        .query(params![
            object.kind.code(),
            object.id,
            org_id,
            version.as_i64()
        ])
        .map_err(backend_err)?;
    let mut blob_ids: HashMap<String, i64> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut rows: HashMap<String, (RowState, i64)> = HashMap::new();
    while let Some(r) = entries.next().map_err(backend_err)? {
        let xact: i64 = r.get(0).map_err(backend_err)?;
        let text = crate::codec::decode(r.get_ref(1).map_err(backend_err)?).map_err(backend_err)?;
        if let Some(ids) = r.get::<_, Option<String>>(2).map_err(backend_err)?
            && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&ids)
        {
            for (hash, id) in map {
                if let Some(id) = id.as_i64() {
                    blob_ids.insert(hash, id);
                }
            }
        }
        let list: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        for entry in &list {
            let Some((id, op)) = entry_op(c, entry, &blob_ids)? else {
                continue;
            };
            match apply(rows.get(&id).map(|(s, _)| s.clone()), &id, op) {
                Applied::Unchanged => {}
                Applied::Upsert(state) => {
                    if !rows.contains_key(&id) {
                        order.push(id.clone());
                    }
                    rows.insert(id, (state, xact));
                }
                Applied::Delete => {
                    rows.remove(&id);
                }
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| {
            let (mut state, xact) = rows.remove(&id)?;
            spanloom_normalize::pricing::price_span(&mut state.data);
            Some(StoredRow {
                object: object.clone(),
                project_id: project_id.clone(),
                id,
                xact_id: XactId::from_u64(xact as u64).unwrap_or(XactId::MIN),
                data_json: Value::Object(state.data).to_string(),
            })
        })
        .collect())
}

/// The transactions that wrote to `object`, newest first.
pub(crate) fn versions(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    limit: usize,
) -> StoreResult<Vec<XactId>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT DISTINCT xact_id FROM write_log
             WHERE kind = ?1 AND object_id = ?2 AND org_id = ?3 ORDER BY xact_id DESC LIMIT ?4",
        )
        .map_err(backend_err)?;
    let rows = stmt
        .query_map(
            params![object.kind.code(), object.id, org_id, limit as i64],
            |r| r.get::<_, i64>(0),
        )
        .map_err(backend_err)?;
    rows.map(|r| r.map(|x| XactId::from_u64(x as u64).unwrap_or(XactId::MIN)))
        .collect::<Result<_, _>>()
        .map_err(backend_err)
}
