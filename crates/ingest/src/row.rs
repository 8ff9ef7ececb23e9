//! One validated row write and its validation rules.

use crate::payload::RawPayload;
use serde_json::{Map, Value};
use spanloom_model::{ObjectKind, ObjectRef, fields, ids, timefmt};

/// A validated write of one row.
#[derive(Debug, Clone)]
pub struct WriteRow {
    /// The object the row belongs to.
    pub object: ObjectRef,
    /// The row id.
    pub id: String,
    /// What to do.
    pub op: WriteOp,
    /// Write-control fields (`_is_merge`, `_merge_paths`, audit fields, ...) as JSON, kept in
    /// the event log for replay and audit; `None` when there were none.
    pub control: Option<String>,
    /// Payload fields of a replace or merge, as JSON text (the client's, for `/logs3` and REST
    /// inserts); they are never in the op's map.
    pub payloads: Vec<RawPayload>,
}

/// `(path, values)`: values to remove from the array at a path (the API's `_array_delete`).
pub type ArrayDelete = (Vec<String>, Vec<Value>);

/// The operation a row write performs.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Replace the whole row.
    Replace {
        /// The row content (no routing or control fields).
        row: Map<String, Value>,
        /// Hash of the row's text as the client sent it (before server-filled ids), so that a
        /// retried identical replace is recognised and does not undo later merges.
        content_hash: u64,
    },
    /// Deep-merge into the row (insert if absent).
    Merge {
        /// The fields to merge.
        patch: Map<String, Value>,
        /// Paths below which the merge must not descend.
        merge_paths: Vec<Vec<String>>,
        /// Values to remove from arrays after merging.
        array_deletes: Vec<ArrayDelete>,
    },
    /// Delete the row.
    Delete,
    /// A comment attached to another row (`origin.id`).
    Comment {
        /// The comment row content.
        row: Map<String, Value>,
        /// The row the comment is about.
        target_id: String,
    },
}

impl WriteOp {
    /// A short name for logs and the event log.
    pub fn kind_name(&self) -> &'static str {
        match self {
            WriteOp::Replace { .. } => "replace",
            WriteOp::Merge { .. } => "merge",
            WriteOp::Delete => "delete",
            WriteOp::Comment { .. } => "comment",
        }
    }
}

const MAX_ID_LEN: usize = 1024;

/// Validates one row object and routes it. `index` is used only in error messages.
pub fn validate_row(row: Value, content_hash: u64) -> Result<WriteRow, String> {
    let Value::Object(mut row) = row else {
        return Err(format!(
            "a row must be a JSON object, got {}",
            type_name(&row)
        ));
    };
    let payloads = fields::PAYLOAD_FIELDS
        .iter()
        .filter_map(|name| Some(RawPayload::from_value(name, &row.remove(*name)?)))
        .collect();
    validate_row_parts(row, payloads, content_hash)
}

/// [`validate_row`] for a row whose payload fields were taken out as text.
pub(crate) fn validate_row_parts(
    mut row: Map<String, Value>,
    mut payloads: Vec<RawPayload>,
    content_hash: u64,
) -> Result<WriteRow, String> {
    let object = route(&row)?;
    for key in fields::ROUTING_FIELDS {
        row.remove(key);
    }

    let is_merge = take_bool(&mut row, fields::IS_MERGE)?;
    let is_delete = take_bool(&mut row, fields::OBJECT_DELETE)?;
    let merge_paths = parse_merge_paths(&row)?;
    let array_deletes = parse_array_deletes(&row)?;
    let mut control = Map::new();
    if is_merge {
        control.insert(fields::IS_MERGE.into(), Value::Bool(true));
    }
    if is_delete {
        control.insert(fields::OBJECT_DELETE.into(), Value::Bool(true));
    }
    for key in [
        fields::AUDIT_SOURCE,
        fields::AUDIT_METADATA,
        fields::MERGE_PATHS,
        fields::ARRAY_DELETE,
    ] {
        if let Some(v) = row.remove(key) {
            control.insert(key.into(), v);
        }
    }
    // The server assigns transaction ids; a client-sent one is ignored.
    row.remove(fields::XACT_ID);

    let id = match row.get(fields::ID) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(format!(
                "`id` must be a non-empty string of at most {MAX_ID_LEN} bytes, got {}",
                type_name(other)
            ));
        }
    };
    validate_fields(&row)?;
    let control = (!control.is_empty()).then(|| Value::Object(control).to_string());

    if is_delete {
        let id = id.ok_or("`_object_delete` needs the `id` of the row to delete")?;
        return Ok(WriteRow {
            object,
            id,
            op: WriteOp::Delete,
            control,
            payloads: Vec::new(),
        });
    }
    if is_merge {
        let id = id.ok_or("`_is_merge` needs the `id` of the row to merge into")?;
        row.remove(fields::ID);
        let op = WriteOp::Merge {
            patch: row,
            merge_paths,
            array_deletes,
        };
        return Ok(WriteRow {
            object,
            id,
            op,
            control,
            payloads,
        });
    }
    if let Some(target_id) = comment_target(&row)? {
        // A comment is stored whole, as one value.
        for payload in payloads.drain(..) {
            row.insert(payload.name.into(), payload.value());
        }
        let id = id.unwrap_or_else(ids::new_row_id);
        row.insert(fields::ID.into(), Value::String(id.clone()));
        fill_created(&mut row);
        return Ok(WriteRow {
            object,
            id,
            op: WriteOp::Comment { row, target_id },
            control,
            payloads,
        });
    }

    let id = id.unwrap_or_else(ids::new_row_id);
    row.insert(fields::ID.into(), Value::String(id.clone()));
    fill_created(&mut row);
    fill_default(&mut row, fields::SPAN_ID, ids::new_span_id);
    fill_default(&mut row, fields::ROOT_SPAN_ID, ids::new_trace_id);
    Ok(WriteRow {
        object,
        id,
        op: WriteOp::Replace { row, content_hash },
        control,
        payloads,
    })
}

/// Sets `key` to `make()` when absent or null; returns whether it did.
fn fill_default(row: &mut Map<String, Value>, key: &str, make: fn() -> String) -> bool {
    if row.get(key).is_none_or(Value::is_null) {
        row.insert(key.into(), Value::String(make()));
        true
    } else {
        false
    }
}

fn fill_created(row: &mut Map<String, Value>) -> bool {
    fill_default(row, fields::CREATED, timefmt::now_iso)
}

/// Finds the object a row belongs to from its routing fields.
fn route(row: &Map<String, Value>) -> Result<ObjectRef, String> {
    if row.contains_key(fields::PROMPT_SESSION_ID) {
        return Err("`prompt_session_id` (playground logs) is not supported by this server".into());
    }
    let mut found = Vec::new();
    for kind in [
        ObjectKind::Experiment,
        ObjectKind::Dataset,
        ObjectKind::ProjectLogs,
    ] {
        match row.get(kind.id_field()) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => {
                found.push(ObjectRef::new(kind, s.clone()))
            }
            Some(other) => {
                return Err(format!(
                    "`{}` must be a non-empty string, got {}",
                    kind.id_field(),
                    type_name(other)
                ));
            }
        }
    }
    match found.len() {
        0 => Err("the row names no object: expected one of `project_id` (with `log_id`), `experiment_id`, `dataset_id`".into()),
        // Experiment and dataset rows may also carry a project_id; the specific object wins.
        _ if found.iter().filter(|o| o.kind != ObjectKind::ProjectLogs).count() > 1 => {
            Err("the row names both an `experiment_id` and a `dataset_id`; a row belongs to exactly one object".into())
        }
        _ => {
            let object = found.swap_remove(0);
            if object.kind == ObjectKind::ProjectLogs {
                match row.get(fields::LOG_ID) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) if s == "g" => {}
                    Some(other) => {
                        return Err(format!("`log_id` must be \"g\" for project logs, got {other}"));
                    }
                }
            }
            Ok(object)
        }
    }
}

fn take_bool(row: &mut Map<String, Value>, key: &str) -> Result<bool, String> {
    match row.remove(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(other) => Err(format!(
            "`{key}` must be a boolean, got {}",
            type_name(&other)
        )),
    }
}

fn parse_merge_paths(row: &Map<String, Value>) -> Result<Vec<Vec<String>>, String> {
    let Some(value) = row.get(fields::MERGE_PATHS) else {
        return Ok(Vec::new());
    };
    let err = || "`_merge_paths` must be a list of paths (lists of strings)".to_string();
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(paths) => paths
            .iter()
            .map(|p| string_list(p).ok_or_else(err))
            .collect(),
        _ => Err(err()),
    }
}

fn parse_array_deletes(row: &Map<String, Value>) -> Result<Vec<ArrayDelete>, String> {
    let Some(value) = row.get(fields::ARRAY_DELETE) else {
        return Ok(Vec::new());
    };
    let err = || {
        "`_array_delete` must be a list of {\"path\": [..], \"delete\": [..]} objects".to_string()
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let path = item.get("path").and_then(string_list).ok_or_else(err)?;
                let delete = item
                    .get("delete")
                    .and_then(Value::as_array)
                    .ok_or_else(err)?;
                Ok((path, delete.clone()))
            })
            .collect(),
        _ => Err(err()),
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn comment_target(row: &Map<String, Value>) -> Result<Option<String>, String> {
    if !row.contains_key(fields::COMMENT) {
        return Ok(None);
    }
    match row.get(fields::ORIGIN).and_then(|o| o.get(fields::ID)) {
        Some(Value::String(target)) => Ok(Some(target.clone())),
        _ => Err("a comment row needs `origin.id`, the id of the row it comments on".into()),
    }
}

/// Type checks of the fields with a defined shape. Unknown top-level keys are allowed.
fn validate_fields(row: &Map<String, Value>) -> Result<(), String> {
    for key in [fields::SPAN_ID, fields::ROOT_SPAN_ID, fields::CREATED] {
        match row.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => {
                return Err(format!(
                    "`{key}` must be a string, got {}",
                    type_name(other)
                ));
            }
        }
    }
    match row.get(fields::SPAN_PARENTS) {
        None | Some(Value::Null) => {}
        Some(v) if string_list(v).is_some() => {}
        Some(other) => {
            return Err(format!(
                "`span_parents` must be null or a list of span ids, got {}",
                type_name(other)
            ));
        }
    }
    match row.get(fields::TAGS) {
        None | Some(Value::Null) => {}
        Some(v) if string_list(v).is_some() => {}
        Some(other) => {
            return Err(format!(
                "`tags` must be null or a list of strings, got {}",
                type_name(other)
            ));
        }
    }
    for key in ["metadata", "span_attributes", "context"] {
        match row.get(key) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(format!(
                    "`{key}` must be an object, got {}",
                    type_name(other)
                ));
            }
        }
    }
    for key in ["metrics", "scores"] {
        match row.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    check_number(key, name, value)?;
                }
            }
            Some(other) => {
                return Err(format!(
                    "`{key}` must be an object of numbers, got {}",
                    type_name(other)
                ));
            }
        }
    }
    Ok(())
}

fn check_number(field: &str, name: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Number(_) | Value::Null => Ok(()),
        Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => Err(format!(
            "`{field}.{name}` is {s:?}: {field} must be finite numbers (NaN and Infinity are not allowed)"
        )),
        // Booleans are what an SDK sends for pass/fail scores; the SDK converts them to 1/0.
        other => Err(format!(
            "`{field}.{name}` must be a number, got {}",
            type_name(other)
        )),
    }
}

/// A JSON type name for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
