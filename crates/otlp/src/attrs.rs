//! Attribute lookup for the mapping: typed getters that remember which keys a rule consumed,
//! so the leftovers (and only those) are kept as metadata.

use crate::value::{as_bool, as_number, is_empty, parse_json_text};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;

/// A span's attributes with consumed-key tracking.
pub struct Attrs<'a> {
    map: &'a Map<String, Value>,
    used: RefCell<BTreeSet<String>>,
}

impl<'a> Attrs<'a> {
    /// Wraps an attribute map.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    /// The raw value of a key (marks it consumed); empty values count as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        let v = self.map.get(key)?;
        self.used.borrow_mut().insert(key.to_owned());
        (!is_empty(v)).then_some(v)
    }

    /// True when the key is present (does not consume it).
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// True when any key starts with `prefix` (does not consume).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.map.keys().any(|k| k.starts_with(prefix))
    }

    /// A string value.
    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The first present string among keys.
    pub fn first_str(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| self.str(k))
    }

    /// A number from an int, double or numeric string.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(as_number)
    }

    /// The first present number among keys.
    pub fn first_num(&self, keys: &[&str]) -> Option<f64> {
        keys.iter().find_map(|k| self.num(k))
    }

    /// A boolean (accepting `"true"`/`"False"` strings).
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(as_bool)
    }

    /// A value with JSON text parsed.
    pub fn json(&self, key: &str) -> Option<Value> {
        self.get(key).map(parse_json_text)
    }

    /// Marks a key consumed without reading it.
    pub fn consume(&self, key: &str) {
        if self.map.contains_key(key) {
            self.used.borrow_mut().insert(key.to_owned());
        }
    }

    /// Marks every key under `prefix.` (and `prefix` itself) consumed.
    pub fn consume_prefix(&self, prefix: &str) {
        let dotted = format!("{prefix}.");
        let mut used = self.used.borrow_mut();
        for k in self.map.keys() {
            if k == prefix || k.starts_with(&dotted) {
                used.insert(k.clone());
            }
        }
    }

    /// Rebuilds the structure of flattened keys under `prefix.` (`x.0.role`, `x.0.content`, ...):
    /// numeric segments become list indices. Consumes the keys. `None` when there are none.
    pub fn unflatten(&self, prefix: &str) -> Option<Value> {
        let dotted = format!("{prefix}.");
        let entries: Vec<(&str, &Value)> = self
            .map
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|rest| (rest, v)))
            .collect();
        if entries.is_empty() {
            return None;
        }
        self.consume_prefix(prefix);
        Some(unflatten_entries(entries))
    }

    /// Keys no rule consumed, in order.
    pub fn leftovers(&self) -> Vec<(&'a String, &'a Value)> {
        let used = self.used.borrow();
        self.map
            .iter()
            .filter(|(k, _)| !used.contains(*k))
            .collect()
    }
}

/// Builds nested values from `(dotted path, value)` pairs.
pub fn unflatten_entries<'v>(entries: impl IntoIterator<Item = (&'v str, &'v Value)>) -> Value {
    let mut root = Value::Object(Map::new());
    for (path, value) in entries {
        insert_path(&mut root, path, value.clone());
    }
    lists_from_numeric_keys(root)
}

fn insert_path(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        if !node.is_object() {
            // A scalar sits where a deeper key needs an object: keep the scalar under "".
            let scalar = std::mem::take(node);
            let mut m = Map::new();
            m.insert(String::new(), scalar);
            *node = Value::Object(m);
        }
        let Value::Object(map) = node else { return };
        if segments.peek().is_none() {
            match map.get_mut(segment) {
                Some(existing @ Value::Object(_)) => {
                    if let Value::Object(m) = existing {
                        m.insert(String::new(), value);
                    }
                }
                _ => {
                    map.insert(segment.to_owned(), value);
                }
            }
            return;
        }
        node = map
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Turns objects whose keys are all small integers into lists ordered by index.
fn lists_from_numeric_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let numeric = !map.is_empty()
                && map.keys().all(|k| {
                    k.len() <= 6 && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit())
                });
            if numeric {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .map(|(k, v)| (k.parse().unwrap_or(0), lists_from_numeric_keys(v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, lists_from_numeric_keys(v)))
                        .collect(),
                )
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unflattens_indexed_keys() {
        let map = json!({
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "be brief",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.10.role": "user",
            "gen_ai.prompt.1.tool_calls.0.name": "f",
            "other": 1
        });
        let attrs = Attrs::new(map.as_object().unwrap());
        let v = attrs.unflatten("gen_ai.prompt").unwrap();
        assert_eq!(v[0]["content"], "be brief");
        assert_eq!(v[1]["tool_calls"][0]["name"], "f");
        assert_eq!(v[2]["role"], "user");
        let left: Vec<_> = attrs
            .leftovers()
            .into_iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(left, vec!["other"]);
    }

    #[test]
    fn conflicting_paths_keep_both() {
        let v = unflatten_entries([("a", &json!(1)), ("a.b", &json!(2))]);
        assert_eq!(v, json!({"a": {"": 1, "b": 2}}));
    }
}
