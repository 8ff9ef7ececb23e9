//! What the worker does to queued rows before they are batched: parse, complete, merge the
//! rows of one span, serialize.
//!
//! Rows arrive as JSON text. Only their top level is parsed ([`LazyRow`]); a field's value is
//! parsed only where two rows of one span both carry it (`metrics` of a start row and its end
//! merge, say). An 8 KiB `input` travels from the calling thread's bytes to the request body
//! untouched, so the worker's cost per row barely grows with its payload.

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use spanloom_model::{fields, merge};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A row with its top-level fields kept as JSON text until something needs their value.
#[derive(Debug)]
pub struct LazyRow {
    fields: Vec<(String, Field)>,
}

#[derive(Debug)]
enum Field {
    Raw(Box<RawValue>),
    Parsed(Value),
}

impl Field {
    fn into_value(self) -> Value {
        match self {
            Field::Raw(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            Field::Parsed(v) => v,
        }
    }

    fn as_str(&self) -> Option<String> {
        match self {
            Field::Raw(raw) if raw.get().starts_with('"') => serde_json::from_str(raw.get()).ok(),
            Field::Raw(_) => None,
            Field::Parsed(v) => v.as_str().map(str::to_owned),
        }
    }

    fn is_true(&self) -> bool {
        match self {
            Field::Raw(raw) => raw.get() == "true",
            Field::Parsed(v) => v.as_bool() == Some(true),
        }
    }
}

/// A JSON object's top level, in order, each value kept as text (parsed straight into the
/// row's field list: no map in between).
struct TopLevel(Vec<(String, Field)>);

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = TopLevel;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TopLevel, A::Error> {
                let mut fields: Vec<(String, Field)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    // A repeated key: the last one wins, as when parsing into a map.
                    match fields.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = Field::Raw(value),
                        None => fields.push((key, Field::Raw(value))),
                    }
                }
                Ok(TopLevel(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// Appends `key` as a JSON string.
fn push_key(out: &mut String, key: &str) {
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(key);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
    }
}

/// Why a queued row could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The text is not JSON.
    #[error("a logged row is not valid JSON ({0})")]
    Json(#[from] serde_json::Error),
    /// The JSON is not an object.
    #[error("a logged row is not a JSON object")]
    NotObject,
}

impl LazyRow {
    /// Parses the top level of a row.
    pub fn parse(text: &[u8]) -> Result<Self, RowError> {
        let fields: TopLevel = match serde_json::from_slice(text) {
            Ok(fields) => fields,
            // Valid JSON of another shape is named as such.
            Err(e) => {
                return Err(match serde_json::from_slice::<Value>(text) {
                    Ok(Value::Object(_)) => RowError::Json(e),
                    Ok(_) => RowError::NotObject,
                    Err(e) => RowError::Json(e),
                });
            }
        };
        Ok(Self { fields: fields.0 })
    }

    fn get(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }

    fn remove(&mut self, key: &str) -> Option<Field> {
        let at = self.fields.iter().position(|(k, _)| k == key)?;
        Some(self.fields.swap_remove(at).1)
    }

    /// Whether the row is a merge (`_is_merge: true`).
    pub fn is_merge(&self) -> bool {
        self.get(fields::IS_MERGE).is_some_and(Field::is_true)
    }

    /// The row's identity: its object ids and id (non-string ids count as empty, as the
    /// protocol's rows never carry them).
    pub fn key(&self) -> String {
        [
            fields::PROJECT_ID,
            fields::EXPERIMENT_ID,
            fields::DATASET_ID,
            fields::PROMPT_SESSION_ID,
            fields::LOG_ID,
            fields::ID,
        ]
        .iter()
        .map(|k| self.get(k).and_then(Field::as_str).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\u{1f}")
    }

    /// Fills in what SDKs leave to the core: a replace row's `created`, from its
    /// `metrics.start` (seconds since the epoch).
    pub fn complete(&mut self) {
        if self.is_merge() || self.get(fields::CREATED).is_some() {
            return;
        }
        let start = match self.get("metrics") {
            Some(Field::Raw(raw)) => {
                #[derive(serde::Deserialize)]
                struct Start {
                    start: Option<f64>,
                }
                serde_json::from_str::<Start>(raw.get())
                    .ok()
                    .and_then(|m| m.start)
            }
            Some(Field::Parsed(v)) => v.get("start").and_then(Value::as_f64),
            None => None,
        };
        if let Some(start) = start {
            self.fields.push((
                fields::CREATED.into(),
                Field::Parsed(Value::String(spanloom_model::timefmt::iso_from_unix(start))),
            ));
        }
    }

    /// Merges a later row of the same span into this one, by the protocol's rules
    /// ([`merge::merge_row`], one field at a time: a field only one side has is moved, not
    /// parsed). A later replace row replaces this one.
    pub fn absorb(&mut self, mut later: LazyRow) {
        if !later.is_merge() {
            *self = later;
            return;
        }
        let was_replace = !self.is_merge();
        later.remove(fields::IS_MERGE);
        for (key, patch) in later.fields {
            // A field only the later row has is taken as is, except tags, which the merge
            // rules normalize.
            let Some(at) = self.fields.iter().position(|(k, _)| *k == key) else {
                if key == fields::TAGS {
                    let mut base = Map::new();
                    merge::merge_row(&mut base, Map::from_iter([(key, patch.into_value())]), &[]);
                    self.fields
                        .extend(base.into_iter().map(|(k, v)| (k, Field::Parsed(v))));
                } else {
                    self.fields.push((key, patch));
                }
                continue;
            };
            // What the merge would give anyway, without parsing either side: an identity
            // field keeps a value it has, and any other (but tags, which are normalized)
            // merged with the same text is that text.
            if let Field::Raw(current) = &self.fields[at].1 {
                let kept_identity =
                    fields::IDENTITY_FIELDS.contains(&key.as_str()) && current.get() != "null";
                let same = key != fields::TAGS
                    && matches!(&patch, Field::Raw(p) if p.get() == current.get());
                if kept_identity || same {
                    continue;
                }
            }
            let (name, current) = self.fields.swap_remove(at);
            let mut base = Map::from_iter([(name, current.into_value())]);
            merge::merge_row(&mut base, Map::from_iter([(key, patch.into_value())]), &[]);
            self.fields
                .extend(base.into_iter().map(|(k, v)| (k, Field::Parsed(v))));
        }
        if was_replace {
            self.remove(fields::IS_MERGE);
        }
    }

    /// The row as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            2 + self
                .fields
                .iter()
                .map(|(k, f)| {
                    k.len()
                        + 4
                        + match f {
                            Field::Raw(raw) => raw.get().len(),
                            Field::Parsed(_) => 32,
                        }
                })
                .sum::<usize>(),
        );
        out.push('{');
        for (i, (key, field)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_key(&mut out, key);
            out.push(':');
            match field {
                Field::Raw(raw) => out.push_str(raw.get()),
                Field::Parsed(v) => {
                    let _ = write!(out, "{v}");
                }
            }
        }
        out.push('}');
        out
    }
}

/// Parses, completes and merges queued rows in order: rows of one span (same object ids and
/// id) become one row, at the place of the first; the protocol's client-side rule, as all
/// rows of one request share a transaction id. Rows that cannot be parsed are returned as
/// errors, in place of nothing.
pub fn prepare<I>(texts: I) -> (Vec<String>, Vec<RowError>)
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let prepared = prepare_wave(texts);
    (prepared.rows, prepared.errors)
}

/// Queued rows made ready to send, by [`prepare_wave`].
pub struct Prepared {
    /// The rows as JSON text, rows of one span merged.
    pub rows: Vec<String>,
    /// Why some queued rows could not be used.
    pub errors: Vec<RowError>,
    /// The identity ([`LazyRow::key`]) of every row: two waves sharing none may be sent at
    /// once, as no span has rows in both.
    pub keys: std::collections::HashSet<String>,
}

/// [`prepare`], also giving the rows' identities.
pub fn prepare_wave<I>(texts: I) -> Prepared
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut out: Vec<LazyRow> = Vec::new();
    let mut errors = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for text in texts {
        let mut row = match LazyRow::parse(text.as_ref()) {
            Ok(row) => row,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        row.complete();
        let key = row.key();
        match at.get(&key) {
            Some(&i) => out[i].absorb(row),
            None => {
                at.insert(key, out.len());
                out.push(row);
            }
        }
    }
    Prepared {
        rows: out.iter().map(LazyRow::to_json).collect(),
        errors,
        keys: at.into_keys().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prepared(rows: &[Value]) -> Vec<Value> {
        let texts: Vec<String> = rows.iter().map(Value::to_string).collect();
        let (out, errors) = prepare(&texts);
        assert!(errors.is_empty());
        out.iter()
            .map(|t| serde_json::from_str(t).expect("valid JSON"))
            .collect()
    }

    #[test]
    fn rows_of_one_span_merge_into_the_first() {
        let out = prepared(&[
            json!({"id": "a", "project_id": "p", "log_id": "g", "span_id": "s", "input": {"big": "x"}, "metrics": {"start": 1}, "created": "c"}),
            json!({"id": "b", "project_id": "p", "log_id": "g", "input": 2, "created": "c"}),
            json!({"id": "a", "project_id": "p", "log_id": "g", "_is_merge": true, "span_id": "x", "output": 3, "metrics": {"end": 2}}),
            json!({"id": "c", "project_id": "p", "log_id": "g", "_is_merge": true, "output": 4, "tags": ["t", "t"]}),
            json!({"id": "c", "project_id": "p", "log_id": "g", "_is_merge": true, "tags": ["u", "t"]}),
        ]);
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0],
            json!({"id": "a", "project_id": "p", "log_id": "g", "span_id": "s", "input": {"big": "x"}, "output": 3, "metrics": {"start": 1, "end": 2}, "created": "c"})
        );
        assert_eq!(out[2]["_is_merge"], true);
        assert_eq!(out[2]["tags"], json!(["t", "t", "u"]));
    }

    #[test]
    fn the_same_as_merging_whole_values() {
        // Each field merged alone gives what merging the whole rows gives.
        let base = json!({"id": "a", "span_id": null, "metadata": {"a": 1, "n": {"x": 1}}, "tags": ["a"], "scores": {"s": 1}});
        let patch = json!({"id": "a", "_is_merge": true, "span_id": "s", "metadata": {"b": 2, "n": {"y": 2}}, "tags": ["b", "a"], "scores": null, "output": "o"});
        let mut whole = base.as_object().cloned().unwrap_or_default();
        let mut p = patch.as_object().cloned().unwrap_or_default();
        p.remove("_is_merge");
        merge::merge_row(&mut whole, p, &[]);
        assert_eq!(prepared(&[base, patch]), vec![Value::Object(whole)]);
    }

    #[test]
    fn a_later_replace_replaces_and_a_replace_gets_created_from_its_start() {
        let out = prepared(&[
            json!({"id": "a", "input": 1, "created": "c"}),
            json!({"id": "a", "input": 2, "metrics": {"start": 1_700_000_000.5}}),
        ]);
        assert_eq!(
            out,
            vec![
                json!({"id": "a", "input": 2, "metrics": {"start": 1_700_000_000.5}, "created": "2023-11-14T22:13:20.500000+00:00"})
            ]
        );
        // A merge is not given one.
        let merge = json!({"id": "m", "_is_merge": true, "metrics": {"start": 1.0}});
        assert_eq!(prepared(std::slice::from_ref(&merge)), vec![merge]);
    }

    #[test]
    fn unparsable_rows_are_reported_and_left_out() {
        let (out, errors) = prepare([&b"{not json"[..], b"[1]", br#"{"id":"a"}"#]);
        assert_eq!(out, vec![r#"{"id":"a"}"#.to_owned()]);
        assert!(matches!(errors[0], RowError::Json(_)));
        assert!(matches!(errors[1], RowError::NotObject));
    }

    #[test]
    fn escaped_keys_and_values_survive() {
        let row = json!({"id": "a\"b", "we\"ird\nkey": "v\u{1}", "input": "é日本"});
        assert_eq!(prepared(std::slice::from_ref(&row)), vec![row]);
    }
}
