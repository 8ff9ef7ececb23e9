//! Indexed fields: the few row values (`metadata.user_id`, ...) that have an index.
//!
//! Their indexes read `spans.fields`, a small JSON object holding only those values, rather
//! than `spans.data`: an end-of-span merge rewrites `data` (it adds `metrics.end`), and an
//! index on an expression of `data` would then be updated for every merge even though the
//! indexed values did not change. Each such update dirties a random page of the index at the
//! next commit. The writer sets `fields` only when its text changes.

use serde_json::{Map, Value};

/// The configured indexed fields, as the writer extracts them and queries read them.
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexedFields {
    fields: Vec<IndexedField>,
}

/// One indexed field.
#[derive(Debug, Clone)]
pub(crate) struct IndexedField {
    /// The dotted name it was configured by (`metadata.user_id`).
    pub(crate) name: String,
    /// The JSON path into the row, as queries write it (`$."metadata"."user_id"`).
    pub(crate) path: String,
    /// The path's segments (`metadata`, `user_id`).
    segments: Vec<String>,
    /// Its key in `spans.fields`.
    pub(crate) key: String,
}

impl IndexedField {
    /// The name of its index on `spans`.
    pub(crate) fn index_name(&self) -> String {
        format!("spans_by_{}", self.key)
    }
}

impl IndexedFields {
    /// Fields from their dotted names (already checked), each once.
    pub(crate) fn new(names: &[String]) -> Self {
        let mut fields: Vec<IndexedField> = Vec::new();
        for name in names {
            if fields.iter().any(|f| &f.name == name) {
                continue;
            }
            let segments: Vec<String> = name.split('.').map(str::to_owned).collect();
            let borrowed: Vec<&str> = segments.iter().map(String::as_str).collect();
            fields.push(IndexedField {
                name: name.clone(),
                path: crate::query::json_path_text(&borrowed),
                key: key_of(name),
                segments,
            });
        }
        Self { fields }
    }

    /// The fields, in configuration order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &IndexedField> {
        self.fields.iter()
    }

    /// True when `path` (a JSON path as queries write it) has an index.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.fields.iter().any(|f| f.path == path)
    }

    /// `spans.fields` for a row (without payload fields): the indexed values it has, or
    /// `None` when it has none. JSON nulls are left out, as `data ->> path` reads them as NULL.
    pub(crate) fn extract(&self, data: &Map<String, Value>) -> Option<String> {
        let mut found = Map::new();
        for field in &self.fields {
            let Some((first, rest)) = field.segments.split_first() else {
                continue;
            };
            let mut value = data.get(first.as_str());
            for segment in rest {
                value = match value {
                    // A digit segment is an array index, as in the query's JSON path.
                    Some(Value::Array(items)) if is_index(segment) => {
                        segment.parse::<usize>().ok().and_then(|i| items.get(i))
                    }
                    Some(Value::Object(map)) if !is_index(segment) => map.get(segment.as_str()),
                    _ => None,
                };
            }
            if let Some(value) = value.filter(|v| !v.is_null()) {
                found.insert(field.key.clone(), value.clone());
            }
        }
        (!found.is_empty()).then(|| Value::Object(found).to_string())
    }

    /// The expression a query uses for an indexed path, exactly as the index is written, or
    /// `None` when the path has no index.
    pub(crate) fn expression(&self, table: &str, path: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| f.path == path)
            .map(|f| expression(table, &f.key))
    }
}

/// True for a path segment that `json_path_text` writes as an array index.
fn is_index(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit())
}

/// A field's key in `spans.fields`: the dotted name with every character other than an ASCII
/// letter or digit made `_`, after `f_` (so a name starting with a digit is still a plain JSON
/// path label).
fn key_of(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("f_{safe}")
}

/// `(<table>fields ->> '$.<key>')`: keys hold only `[A-Za-z0-9_]`, so the literal needs no
/// quoting.
pub(crate) fn expression(table: &str, key: &str) -> String {
    format!("({table}fields ->> '$.{key}')")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> IndexedFields {
        IndexedFields::new(&["metadata.user_id".into(), "tags.0".into()])
    }

    #[test]
    fn extracts_only_present_non_null_values() {
        let row = json!({"metadata": {"user_id": "u1", "other": 1}, "tags": ["a", "b"]});
        let text = fields().extract(row.as_object().unwrap()).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"f_metadata_user_id": "u1", "f_tags_0": "a"})
        );
        let none = json!({"metadata": {"user_id": null}});
        assert_eq!(fields().extract(none.as_object().unwrap()), None);
    }

    #[test]
    fn queries_read_indexed_paths_from_fields() {
        assert_eq!(
            fields().expression("s.", "$.\"metadata\".\"user_id\""),
            Some("(s.fields ->> '$.f_metadata_user_id')".into())
        );
        assert_eq!(fields().expression("s.", "$.\"metadata\".\"x\""), None);
    }
}
