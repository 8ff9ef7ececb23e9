//! `POST /logs3` and `POST /v1/{object}/{id}/insert` bodies.

use crate::error::DecodeError;
use crate::payload::SplitRow;
use crate::row::{WriteRow, type_name, validate_row_parts};
use serde_json::Value;
use serde_json::value::RawValue;
use spanloom_model::{ObjectKind, ObjectRef, fields};

/// Parses a JSON body, reporting UTF-8, syntax and nesting problems with their position.
pub fn parse_json(body: &[u8]) -> Result<Value, DecodeError> {
    check_text(body)?;
    serde_json::from_slice(body).map_err(|e| DecodeError::InvalidJson(e.to_string()))
}

/// The top level of a body, with the values left unparsed.
type RawTop<'a> = std::collections::HashMap<String, &'a RawValue>;

/// Parses the top-level object of a body, keeping its values as raw text.
fn parse_top<'a>(body: &'a [u8], expected: &str) -> Result<RawTop<'a>, DecodeError> {
    check_text(body)?;
    serde_json::from_slice::<RawTop<'a>>(body).map_err(|e| {
        if e.is_data() {
            DecodeError::InvalidShape(format!("the body must be a JSON object with {expected}"))
        } else {
            DecodeError::InvalidJson(e.to_string())
        }
    })
}

/// Checks a body is UTF-8 and not empty, naming the first bad byte.
fn check_text(body: &[u8]) -> Result<(), DecodeError> {
    if let Err(e) = std::str::from_utf8(body) {
        return Err(DecodeError::InvalidUtf8 {
            offset: e.valid_up_to(),
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::InvalidJson("the body is empty".into()));
    }
    Ok(())
}

/// Splits a raw list into its raw items; any other JSON is returned parsed for the error.
fn raw_list<'a>(raw: &'a RawValue) -> Result<Vec<&'a RawValue>, Value> {
    match serde_json::from_str::<Vec<&'a RawValue>>(raw.get()) {
        Ok(items) => Ok(items),
        Err(_) => Err(serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null)),
    }
}

/// A decoded `/logs3` request: rows inline, or a reference to an uploaded overflow payload.
#[derive(Debug)]
pub enum Logs3Request {
    /// The rows, validated.
    Rows(Vec<WriteRow>),
    /// `{"rows": {"type": "logs3_overflow", "key", "size_bytes"}}`: the body was uploaded
    /// through `/logs3/overflow`; the server reads it from the blob store and decodes it.
    Overflow {
        /// The upload's key.
        key: String,
        /// Its size as the client declared it.
        size_bytes: Option<u64>,
    },
}

/// Decodes a `/logs3` body: `{"rows": [...], "api_version": 2}` or an overflow reference.
pub fn decode_logs3_request(body: &[u8]) -> Result<Logs3Request, DecodeError> {
    let mut top = parse_top(body, "a `rows` list")?;
    let Some(rows) = top.remove("rows") else {
        return Err(DecodeError::InvalidShape(
            "the body has no `rows` list".into(),
        ));
    };
    match raw_list(rows) {
        Ok(rows) => validate_all(rows.into_iter().map(|raw| (raw, None))).map(Logs3Request::Rows),
        Err(Value::Object(o))
            if o.get("type").and_then(Value::as_str) == Some("logs3_overflow") =>
        {
            let key = o
                .get("key")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    DecodeError::InvalidShape("a logs3_overflow reference needs its `key`".into())
                })?;
            Ok(Logs3Request::Overflow {
                key: key.to_owned(),
                size_bytes: o.get("size_bytes").and_then(Value::as_u64),
            })
        }
        Err(other) => Err(DecodeError::InvalidShape(format!(
            "`rows` must be a list, got {}",
            type_name(&other)
        ))),
    }
}

/// Decodes a `/logs3` body of inline rows; an overflow reference is an error here (only the
/// API, which can reach the blob store, resolves those).
pub fn decode_logs3(body: &[u8]) -> Result<Vec<WriteRow>, DecodeError> {
    match decode_logs3_request(body)? {
        Logs3Request::Rows(rows) => Ok(rows),
        Logs3Request::Overflow { .. } => Err(DecodeError::Unsupported(
            "an overflow reference cannot be nested in an overflow payload; send rows inline"
                .into(),
        )),
    }
}

/// Decodes a REST insert body `{"events": [...]}` for one object: each event is routed to it.
pub fn decode_insert(object: &ObjectRef, body: &[u8]) -> Result<Vec<WriteRow>, DecodeError> {
    let mut top = parse_top(body, "an `events` list")?;
    let Some(events) = top.remove("events") else {
        return Err(DecodeError::InvalidShape(
            "the body has no `events` list".into(),
        ));
    };
    match raw_list(events) {
        Ok(events) => validate_all(events.into_iter().map(|raw| (raw, Some(object)))),
        Err(other) => Err(DecodeError::InvalidShape(format!(
            "`events` must be a list, got {}",
            type_name(&other)
        ))),
    }
}

/// Parses and validates each row. A row's content hash is taken over its raw text, so a
/// retried request's rows hash the same without being serialized again.
fn validate_all<'a>(
    rows: impl Iterator<Item = (&'a RawValue, Option<&'a ObjectRef>)>,
) -> Result<Vec<WriteRow>, DecodeError> {
    rows.enumerate()
        .map(|(index, (raw, route_to))| {
            let invalid = |message: String| DecodeError::InvalidRow { index, message };
            let hash = xxhash_rust::xxh3::xxh3_64(raw.get().as_bytes());
            if !raw.get().starts_with('{') {
                // Not an object: parsed whole only to name its type in the error.
                let row: Value = serde_json::from_str(raw.get())
                    .map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
                let what = if route_to.is_some() {
                    "an event"
                } else {
                    "a row"
                };
                return Err(invalid(format!(
                    "{what} must be a JSON object, got {}",
                    type_name(&row)
                )));
            }
            let SplitRow { mut map, payloads } = serde_json::from_str(raw.get())
                .map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
            if let Some(object) = route_to {
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
            }
            validate_row_parts(map, payloads, hash).map_err(invalid)
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
