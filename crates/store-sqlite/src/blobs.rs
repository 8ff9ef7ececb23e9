//! The content-addressed `blobs` table holding payload values (input, output, expected).

use crate::codec::{self, Payload};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};
use spanloom_model::fields::PAYLOAD_FIELDS;

/// A payload field, by its index in [`PAYLOAD_FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field(pub(crate) usize);

impl Field {
    /// All payload fields.
    pub(crate) fn all() -> impl Iterator<Item = Field> {
        (0..PAYLOAD_FIELDS.len()).map(Field)
    }

    /// The top-level key.
    pub(crate) fn name(self) -> &'static str {
        PAYLOAD_FIELDS[self.0]
    }

    /// This field's bit in `payload_mask` / `object_mask`.
    pub(crate) fn bit(self) -> i64 {
        1 << self.0
    }
}

/// A blob's key: SHA-256 of the org id and the value's JSON text. Scoping by org keeps one
/// tenant from probing another's content; a cryptographic hash keeps anyone from forging a
/// collision that would swap content under another row.
pub(crate) type BlobHash = [u8; 32];

/// Hashes a value's JSON text for an org.
pub(crate) fn hash(org_id: &str, json: &str) -> BlobHash {
    let mut h = Sha256::new();
    h.update(org_id.as_bytes());
    h.update([0]);
    h.update(json.as_bytes());
    h.finalize().into()
}

/// Stores a blob unless one with this hash exists (then nothing is written).
pub(crate) fn put(c: &Connection, hash: &BlobHash, payload: &Payload) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO blobs (hash, data) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
    )?
    .execute(params![&hash[..], payload])?;
    Ok(())
}

/// Loads and parses a blob.
pub(crate) fn load(c: &Connection, hash: &[u8]) -> rusqlite::Result<Option<Value>> {
    let text = c
        .prepare_cached("SELECT data FROM blobs WHERE hash = ?1")?
        .query_row([hash], |r| codec::decode(r.get_ref(0)?))
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Adds payload fields to a row's JSON object text, as text (no re-parse of either side).
pub(crate) fn splice(mut core: String, fields: &[(Field, String)]) -> String {
    if fields.is_empty() {
        return core;
    }
    let trimmed = core.trim_end().len();
    core.truncate(trimmed);
    if core.ends_with('}') {
        core.pop();
    }
    let mut empty = core.trim_end().ends_with('{');
    for (field, json) in fields {
        if !empty {
            core.push(',');
        }
        empty = false;
        core.push('"');
        core.push_str(field.name());
        core.push_str("\":");
        core.push_str(json);
    }
    core.push('}');
    core
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_into_empty_and_full_objects() {
        let f = Field;
        assert_eq!(splice("{}".into(), &[(f(0), "1".into())]), "{\"input\":1}");
        assert_eq!(
            splice(
                "{\"a\":1}".into(),
                &[(f(0), "[2]".into()), (f(2), "null".into())]
            ),
            "{\"a\":1,\"input\":[2],\"expected\":null}"
        );
        let v: Value =
            serde_json::from_str(&splice("{ }".into(), &[(f(1), "\"x\"".into())])).unwrap();
        assert_eq!(v, serde_json::json!({"output": "x"}));
    }

    #[test]
    fn hashes_are_scoped_by_org() {
        assert_ne!(hash("a", "1"), hash("b", "1"));
        assert_eq!(hash("a", "1"), hash("a", "1"));
    }
}
