//! `POST /logs3` and `POST /v1/{object}/{id}/insert` bodies.

use crate::error::DecodeError;
use crate::payload::SplitRow;
use crate::row::{WriteRow, type_name, validate_row_parts};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use spanloom_model::{ObjectKind, ObjectRef, fields};
use std::fmt;

/// Parses a JSON body, reporting UTF-8, syntax and nesting problems with their position.
pub fn parse_json(body: &[u8]) -> Result<Value, DecodeError> {
    check_text(body)?;
    serde_json::from_slice(body).map_err(|e| DecodeError::InvalidJson(e.to_string()))
}

/// Parses a body's top-level object in one pass, keeping the items of the list under `key` as
/// raw text; `None` when the body has no such key.
fn parse_top<'a>(
    body: &'a [u8],
    key: &'static str,
    expected: &str,
) -> Result<Option<Listed<'a>>, DecodeError> {
    check_text(body)?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    TopSeed { key }
        .deserialize(&mut deserializer)
        .and_then(|listed| deserializer.end().map(|()| listed))
        .map_err(|e| {
            if e.is_data() {
                DecodeError::InvalidShape(format!("the body must be a JSON object with {expected}"))
            } else {
                DecodeError::InvalidJson(e.to_string())
            }
        })
}

/// What a body holds under its list key: the list's items as raw text, or anything else
/// parsed (an overflow reference, or a wrong type to name in the error).
enum Listed<'a> {
    Items(Vec<&'a RawValue>),
    Other(Value),
}

impl<'de> Deserialize<'de> for Listed<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListedVisitor)
    }
}

struct ListedVisitor;

impl<'de> Visitor<'de> for ListedVisitor {
    type Value = Listed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            items.push(item);
        }
        Ok(Listed::Items(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Listed<'de>, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Listed::Other)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Listed<'de>, E> {
        Ok(Listed::Other(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Listed<'de>, E> {
        Ok(Listed::Other(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Listed<'de>, E> {
        Ok(Listed::Other(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Listed<'de>, E> {
        Ok(Listed::Other(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Listed<'de>, E> {
        Ok(Listed::Other(Value::from(v)))
    }

    fn visit_unit<E>(self) -> Result<Listed<'de>, E> {
        Ok(Listed::Other(Value::Null))
    }
}

/// The top-level object, keeping only what is under `key`.
struct TopSeed {
    key: &'static str,
}

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = Option<Listed<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed {
    type Value = Option<Listed<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut listed = None;
        while let Some(name) = map.next_key::<String>()? {
            if name == self.key {
                listed = Some(map.next_value::<Listed<'de>>()?);
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(listed)
    }
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
    let Some(rows) = parse_top(body, "rows", "a `rows` list")? else {
        return Err(DecodeError::InvalidShape(
            "the body has no `rows` list".into(),
        ));
    };
    match rows {
        Listed::Items(rows) => {
            validate_all(rows.into_iter().map(|raw| (raw, None))).map(Logs3Request::Rows)
        }
        Listed::Other(Value::Object(o))
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
        Listed::Other(other) => Err(DecodeError::InvalidShape(format!(
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
    let Some(events) = parse_top(body, "events", "an `events` list")? else {
        return Err(DecodeError::InvalidShape(
            "the body has no `events` list".into(),
        ));
    };
    match events {
        Listed::Items(events) => validate_all(events.into_iter().map(|raw| (raw, Some(object)))),
        Listed::Other(other) => Err(DecodeError::InvalidShape(format!(
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
    fn the_top_level_is_read_in_one_pass_and_wrong_shapes_are_named() {
        let err = |body: &[u8]| decode_logs3_request(body).unwrap_err().to_string();
        for (body, message) in [
            (&br#"[1]"#[..], "must be a JSON object with a `rows` list"),
            (br#"{"api_version":2}"#, "has no `rows` list"),
            (br#"{"rows":"x"}"#, "`rows` must be a list, got a string"),
            (
                br#"{"rows":{"a":1}}"#,
                "`rows` must be a list, got an object",
            ),
            (br#"{"rows":null}"#, "`rows` must be a list, got null"),
            (br#"{"rows":[]} x"#, "trailing characters"),
            (
                br#"{"rows":[3]}"#,
                "a row must be a JSON object, got a number",
            ),
        ] {
            let e = err(body);
            assert!(e.contains(message), "{e}");
        }
        let overflow =
            br#"{"rows":{"type":"logs3_overflow","key":"k1","size_bytes":7},"api_version":2}"#;
        assert!(matches!(
            decode_logs3_request(overflow).unwrap(),
            Logs3Request::Overflow { key, size_bytes: Some(7) } if key == "k1"
        ));
        // Other keys may hold anything; a repeated `rows` keeps the last.
        let body = br#"{"extra":{"deep":[[{}]]},"rows":[],"rows":[{"project_id":"p","input":1}]}"#;
        assert_eq!(decode_logs3(body).unwrap().len(), 1);
        let object = ObjectRef::new(ObjectKind::Dataset, "d");
        let e = decode_insert(&object, br#"{"events":[1]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("an event must be a JSON object"), "{e}");
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
