//! Write semantics shared by every backend, as pure functions over one row.
//!
//! A row's state records whether a replace row (its *base*) has arrived yet. Merges that
//! arrive first are folded together and kept; when the replace arrives they are applied on
//! top of it. Because deep merge is associative, the result is the same whatever order the
//! start row and its merges arrive in. A replace identical to the current base (a retried
//! request) changes nothing, so retries never undo later merges.

use serde_json::{Map, Value};
use spanloom_ingest::WriteOp;
use spanloom_model::{fields, merge};

/// The current state of a row, as a backend loaded it.
#[derive(Debug, Clone)]
pub struct RowState {
    /// The merged content.
    pub data: Map<String, Value>,
    /// Whether a replace row has been applied.
    pub has_base: bool,
    /// Content hash of that replace row.
    pub base_hash: Option<u64>,
}

/// What to do with a row after applying a write.
#[derive(Debug, Clone)]
pub enum Applied {
    /// The write changes nothing (a retried replace).
    Unchanged,
    /// Store this state.
    Upsert(RowState),
    /// Remove the row.
    Delete,
}

/// Applies one write operation to a row's current state. Comments are not rows and are
/// handled by the backend; passing one returns [`Applied::Unchanged`].
pub fn apply(existing: Option<RowState>, id: &str, op: WriteOp) -> Applied {
    match op {
        WriteOp::Replace {
            row, content_hash, ..
        } => match existing {
            Some(state) if state.has_base && state.base_hash == Some(content_hash) => {
                Applied::Unchanged
            }
            Some(state) if !state.has_base => {
                // Merges arrived before their row: apply them on top of it.
                let mut data = row;
                merge::merge_row(&mut data, state.data, &[]);
                Applied::Upsert(RowState {
                    data,
                    has_base: true,
                    base_hash: Some(content_hash),
                })
            }
            _ => Applied::Upsert(RowState {
                data: row,
                has_base: true,
                base_hash: Some(content_hash),
            }),
        },
        WriteOp::Merge {
            patch,
            merge_paths,
            array_deletes,
        } => {
            let (mut data, has_base, base_hash) = match existing {
                Some(state) => (state.data, state.has_base, state.base_hash),
                None => {
                    let mut data = Map::new();
                    data.insert(fields::ID.into(), Value::String(id.to_owned()));
                    (data, false, None)
                }
            };
            merge::merge_row(&mut data, patch, &merge_paths);
            for (path, remove) in &array_deletes {
                merge::array_delete(&mut data, path, remove);
            }
            Applied::Upsert(RowState {
                data,
                has_base,
                base_hash,
            })
        }
        WriteOp::Delete => Applied::Delete,
        WriteOp::Comment { .. } => Applied::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replace(v: Value, hash: u64) -> WriteOp {
        WriteOp::Replace {
            row: v.as_object().cloned().unwrap_or_default(),
            content_hash: hash,
        }
    }
    fn merge(v: Value) -> WriteOp {
        WriteOp::Merge {
            patch: v.as_object().cloned().unwrap_or_default(),
            merge_paths: vec![],
            array_deletes: vec![],
        }
    }
    fn run(ops: Vec<WriteOp>) -> Option<Map<String, Value>> {
        let mut state = None;
        for op in ops {
            match apply(state.clone(), "r", op) {
                Applied::Unchanged => {}
                Applied::Upsert(s) => state = Some(s),
                Applied::Delete => state = None,
            }
        }
        state.map(|s| s.data)
    }

    #[test]
    fn order_does_not_matter() {
        let start = || {
            replace(
                json!({"id": "r", "span_id": "s", "metrics": {"start": 1}, "input": "q"}),
                7,
            )
        };
        let log = || merge(json!({"span_id": "x", "output": "a", "tags": ["t"]}));
        let end = || merge(json!({"metrics": {"end": 2}}));
        let expected = run(vec![start(), log(), end()]);
        assert_eq!(run(vec![log(), end(), start()]), expected);
        assert_eq!(run(vec![end(), start(), log()]), expected);
        // Retried requests are no-ops.
        assert_eq!(
            run(vec![start(), log(), end(), start(), log(), end()]),
            expected
        );
        assert_eq!(
            expected.map(Value::Object),
            Some(
                json!({"id": "r", "span_id": "s", "metrics": {"start": 1, "end": 2}, "input": "q", "output": "a", "tags": ["t"]})
            )
        );
    }

    #[test]
    fn new_replace_overwrites() {
        let a = replace(json!({"id": "r", "input": 1}), 1);
        let m = merge(json!({"output": 2}));
        let b = replace(json!({"id": "r", "input": 3}), 2);
        assert_eq!(
            run(vec![a, m, b]).map(Value::Object),
            Some(json!({"id": "r", "input": 3}))
        );
    }
}
