//! `POST /logs3` and `POST /v1/{object}/{id}/insert` bodies.

use crate::error::DecodeError;
use crate::row::{WriteRow, type_name, validate_row};
use serde_json::Value;
use spanloom_model::{ObjectKind, ObjectRef, fields};

/// Parses a JSON body, reporting UTF-8, syntax and nesting problems with their position.
pub fn parse_json(body: &[u8]) -> Result<Value, DecodeError> {
    if let Err(e) = std::str::from_utf8(body) {
        return Err(DecodeError::InvalidUtf8 {
            offset: e.valid_up_to(),
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::InvalidJson("the body is empty".into()));
    }
    serde_json::from_slice(body).map_err(|e| DecodeError::InvalidJson(e.to_string()))
}

/// Decodes a `/logs3` body: `{"rows": [...], "api_version": 2}`.
pub fn decode_logs3(body: &[u8]) -> Result<Vec<WriteRow>, DecodeError> {
    let Value::Object(mut top) = parse_json(body)? else {
        return Err(DecodeError::InvalidShape(
            "the body must be a JSON object with a `rows` list".into(),
        ));
    };
    match top.remove("rows") {
        Some(Value::Array(rows)) => validate_all(rows),
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("logs3_overflow") => {
            Err(DecodeError::Unsupported(
                "logs3 overflow references are not supported by this server version; send rows inline".into(),
            ))
        }
        Some(other) => Err(DecodeError::InvalidShape(format!("`rows` must be a list, got {}", type_name(&other)))),
        None => Err(DecodeError::InvalidShape("the body has no `rows` list".into())),
    }
}

/// Decodes a REST insert body `{"events": [...]}` for one object: each event is routed to it.
pub fn decode_insert(object: &ObjectRef, body: &[u8]) -> Result<Vec<WriteRow>, DecodeError> {
    let Value::Object(mut top) = parse_json(body)? else {
        return Err(DecodeError::InvalidShape(
            "the body must be a JSON object with an `events` list".into(),
        ));
    };
    let events = match top.remove("events") {
        Some(Value::Array(events)) => events,
        Some(other) => {
            return Err(DecodeError::InvalidShape(format!(
                "`events` must be a list, got {}",
                type_name(&other)
            )));
        }
        None => {
            return Err(DecodeError::InvalidShape(
                "the body has no `events` list".into(),
            ));
        }
    };
    let mut rows = Vec::with_capacity(events.len());
    for (index, mut event) in events.into_iter().enumerate() {
        let Some(map) = event.as_object_mut() else {
            return Err(DecodeError::InvalidRow {
                index,
                message: format!("an event must be a JSON object, got {}", type_name(&event)),
            });
        };
        for key in fields::ROUTING_FIELDS {
            map.remove(key);
        }
        map.insert(
            object.kind.id_field().into(),
            Value::String(object.id.clone()),
        );
        if object.kind == ObjectKind::ProjectLogs {
            map.insert(fields::LOG_ID.into(), Value::String("g".into()));
        }
        rows.push(event);
    }
    validate_all(rows)
}

fn validate_all(rows: Vec<Value>) -> Result<Vec<WriteRow>, DecodeError> {
    rows.into_iter()
        .enumerate()
        .map(|(index, row)| {
            validate_row(row).map_err(|message| DecodeError::InvalidRow { index, message })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WriteOp;

    #[test]
    fn classifies_rows() {
        let body = br#"{"rows":[
            {"id":"a","project_id":"p","log_id":"g","input":1},
            {"id":"a","project_id":"p","log_id":"g","_is_merge":true,"output":2},
            {"id":"b","experiment_id":"e","_object_delete":true},
            {"dataset_id":"d","comment":{"text":"hi"},"origin":{"id":"a"}}
        ],"api_version":2}"#;
        let rows = decode_logs3(body).unwrap();
        assert!(matches!(rows[0].op, WriteOp::Replace { .. }));
        assert!(matches!(rows[1].op, WriteOp::Merge { .. }));
        assert!(matches!(rows[2].op, WriteOp::Delete));
        assert!(matches!(rows[3].op, WriteOp::Comment { .. }));
        assert_eq!(rows[2].object, ObjectRef::new(ObjectKind::Experiment, "e"));
    }

    #[test]
    fn errors_name_the_row_and_field() {
        let err = |body: &[u8]| decode_logs3(body).unwrap_err().to_string();
        assert!(
            err(br#"{"rows":[{"id":"a","project_id":"p"},{"id":"b"}]}"#)
                .starts_with("rows[1]: the row names no object")
        );
        assert!(
            err(br#"{"rows":[{"id":"a","project_id":"p","metrics":{"start":"NaN"}}]}"#)
                .contains("`metrics.start` is \"NaN\"")
        );
        assert!(
            err(br#"{"rows":[{"id":"a","project_id":"p","tags":"x"}]}"#)
                .contains("`tags` must be null or a list")
        );
        assert!(err(br#"{"rows":[{"id":5,"project_id":"p"}]}"#).contains("`id` must be"));
        assert!(err(b"{\"rows\": [NaN]}").contains("not valid JSON"));
        assert!(err(b"{\"rows\": [\"\xff\"]}").contains("not valid UTF-8"));
        let deep = format!("{{\"rows\":{}{}}}", "[".repeat(500), "]".repeat(500));
        assert!(err(deep.as_bytes()).contains("recursion limit"));
    }

    #[test]
    fn retried_rows_hash_the_same() {
        let body = br#"{"rows":[{"project_id":"p","input":1}]}"#;
        let hash = |rows: Vec<WriteRow>| match &rows[0].op {
            WriteOp::Replace { content_hash, .. } => *content_hash,
            _ => unreachable!(),
        };
        assert_eq!(
            hash(decode_logs3(body).unwrap()),
            hash(decode_logs3(body).unwrap())
        );
    }
}
