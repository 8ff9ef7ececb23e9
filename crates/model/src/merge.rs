//! The protocol's merge rules for `_is_merge` writes.
//!
//! * objects merge recursively; arrays, scalars and `null` in the patch replace;
//! * top-level `tags` become an ordered set union (old first), unless `["tags"]` is a merge path;
//! * identity fields (`span_id`, `root_span_id`, `span_parents`, `created`) are never changed by a
//!   merge, only filled in when the row had none;
//! * `_merge_paths` stop the recursion at the listed paths (the value there is replaced).
//!
//! Deep merge is associative, which is what lets the store apply merges that arrived before
//! the row they belong to: the early merges are folded together, then applied on top of the
//! replace row once it arrives.

use crate::fields;
use serde_json::{Map, Value};

/// Merges `patch` into the row `base` following the protocol's rules.
///
/// `merge_paths` lists paths (from the row's top level) where the merge must not descend.
pub fn merge_row(
    base: &mut Map<String, Value>,
    patch: Map<String, Value>,
    merge_paths: &[Vec<String>],
) {
    let mut path = Vec::new();
    for (key, value) in patch {
        if fields::IDENTITY_FIELDS.contains(&key.as_str()) {
            if base.get(&key).is_none_or(Value::is_null) {
                base.insert(key, value);
            }
            continue;
        }
        if key == fields::TAGS && !is_merge_path(merge_paths, &[fields::TAGS]) {
            let merged = union_tags(base.remove(&key), value);
            base.insert(key, merged);
            continue;
        }
        path.push(key.clone());
        match base.get_mut(&key) {
            Some(existing) => merge_value(existing, value, &mut path, merge_paths),
            None => {
                base.insert(key, value);
            }
        }
        path.pop();
    }
}

/// Deep-merges `patch` into `base`: objects recurse, anything else replaces.
pub fn deep_merge(base: &mut Value, patch: Value) {
    merge_value(base, patch, &mut Vec::new(), &[]);
}

fn merge_value(
    base: &mut Value,
    patch: Value,
    path: &mut Vec<String>,
    merge_paths: &[Vec<String>],
) {
    let descend = base.is_object() && patch.is_object() && !is_merge_path(merge_paths, path);
    if !descend {
        *base = patch;
        return;
    }
    let (Value::Object(base_map), Value::Object(patch_map)) = (base, patch) else {
        return;
    };
    for (key, value) in patch_map {
        path.push(key.clone());
        match base_map.get_mut(&key) {
            Some(existing) => merge_value(existing, value, path, merge_paths),
            None => {
                base_map.insert(key, value);
            }
        }
        path.pop();
    }
}

fn is_merge_path<S: AsRef<str>>(merge_paths: &[Vec<String>], path: &[S]) -> bool {
    merge_paths
        .iter()
        .any(|p| p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a == b.as_ref()))
}

/// Ordered set union of two tag lists (old first). Anything that is not a list replaces.
fn union_tags(old: Option<Value>, new: Value) -> Value {
    match (old, new) {
        (Some(Value::Array(mut old)), Value::Array(new)) => {
            for tag in new {
                if !old.contains(&tag) {
                    old.push(tag);
                }
            }
            Value::Array(old)
        }
        (_, new) => new,
    }
}

/// Removes values from arrays at the given paths (the API's `_array_delete`).
pub fn array_delete(row: &mut Map<String, Value>, path: &[String], remove: &[Value]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let mut target = row.get_mut(first);
    for key in rest {
        target = target.and_then(|v| v.get_mut(key));
    }
    if let Some(Value::Array(items)) = target {
        items.retain(|item| !remove.contains(item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn objects_recurse_and_scalars_replace() {
        let mut base = obj(json!({"a": {"b": 1, "c": [1, 2]}, "d": 1}));
        merge_row(
            &mut base,
            obj(json!({"a": {"c": [3], "e": null}, "d": {"x": 1}})),
            &[],
        );
        assert_eq!(
            Value::Object(base),
            json!({"a": {"b": 1, "c": [3], "e": null}, "d": {"x": 1}})
        );
    }

    #[test]
    fn identity_is_kept_and_tags_union() {
        let mut base = obj(json!({"span_id": "s1", "created": "t1", "tags": ["a", "b"]}));
        merge_row(
            &mut base,
            obj(
                json!({"span_id": "s2", "created": "t2", "span_parents": ["p"], "tags": ["b", "c"]}),
            ),
            &[],
        );
        assert_eq!(
            Value::Object(base),
            json!({"span_id": "s1", "created": "t1", "span_parents": ["p"], "tags": ["a", "b", "c"]})
        );
    }

    #[test]
    fn merge_paths_stop_recursion() {
        let mut base = obj(json!({"metadata": {"a": {"x": 1}, "b": 2}, "tags": ["a"]}));
        let paths = vec![
            vec!["metadata".to_string(), "a".to_string()],
            vec!["tags".to_string()],
        ];
        merge_row(
            &mut base,
            obj(json!({"metadata": {"a": {"y": 2}}, "tags": ["b"]})),
            &paths,
        );
        assert_eq!(
            Value::Object(base),
            json!({"metadata": {"a": {"y": 2}, "b": 2}, "tags": ["b"]})
        );
    }

    #[test]
    fn merge_is_associative() {
        let a = json!({"m": {"x": 1, "y": {"z": 1}}, "tags": ["a"], "o": 1});
        let m1 = json!({"m": {"y": {"w": 2}}, "tags": ["b"], "o": [1]});
        let m2 = json!({"m": {"x": null, "y": 3}, "tags": ["a", "c"]});
        let mut left = obj(a.clone());
        merge_row(&mut left, obj(m1.clone()), &[]);
        merge_row(&mut left, obj(m2.clone()), &[]);
        let mut folded = obj(m1);
        merge_row(&mut folded, obj(m2), &[]);
        let mut right = obj(a);
        merge_row(&mut right, folded, &[]);
        assert_eq!(left, right);
    }

    #[test]
    fn array_delete_removes_values() {
        let mut row = obj(json!({"tags": ["a", "b", "c"], "m": {"l": [1, 2]}}));
        array_delete(&mut row, &["tags".into()], &[json!("b")]);
        array_delete(&mut row, &["m".into(), "l".into()], &[json!(1)]);
        assert_eq!(
            Value::Object(row),
            json!({"tags": ["a", "c"], "m": {"l": [2]}})
        );
    }
}
