//! The content-addressed `blobs` table holding payload values (input, output, expected).

use crate::codec::{self, Payload};
use crate::payload_log::PayloadLog;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};
use spanloom_model::fields::PAYLOAD_FIELDS;
use std::collections::HashMap;

/// Number of payload fields (and of `spans.<field>_blob` columns).
pub(crate) const PAYLOAD_COUNT: usize = PAYLOAD_FIELDS.len();

/// A payload field, by its index in [`PAYLOAD_FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field(pub(crate) usize);

impl Field {
    /// All payload fields.
    pub(crate) fn all() -> impl Iterator<Item = Field> {
        (0..PAYLOAD_FIELDS.len()).map(Field)
    }

    /// How many payload fields there are.
    pub(crate) const fn count() -> usize {
        PAYLOAD_FIELDS.len()
    }

    /// The payload field with this top-level key.
    pub(crate) fn named(name: &str) -> Option<Field> {
        PAYLOAD_FIELDS.iter().position(|n| *n == name).map(Field)
    }

    /// Whether the field has a preview (trace lists show those of input and output).
    pub(crate) fn has_preview(self) -> bool {
        self.0 < 2
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

/// Stores a blob; returns its id. With a log, a compressed payload goes there and `data` holds
/// its locator.
pub(crate) fn insert(
    c: &Connection,
    hash: &BlobHash,
    payload: &Payload,
    log: Option<&PayloadLog>,
) -> rusqlite::Result<i64> {
    let mut insert = c.prepare_cached("INSERT INTO blobs (hash, data) VALUES (?1, ?2)")?;
    match (log, payload) {
        (Some(log), Payload::Lz4(bytes)) => {
            let at = log
                .append(bytes)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            insert.execute(params![&hash[..], at])?
        }
        _ => insert.execute(params![&hash[..], payload])?,
    };
    Ok(c.last_insert_rowid())
}

/// Loads and parses a blob (the connection has the query functions, for `sl_blob`).
pub(crate) fn load(c: &Connection, id: i64) -> rusqlite::Result<Option<Value>> {
    let text = c
        .prepare_cached("SELECT sl_blob(data) FROM blobs WHERE id = ?1")?
        .query_row([id], |r| codec::decode(r.get_ref(0)?))
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Recently stored blobs by hash, for deduplication. Bounded: two generations of at most
/// `limit` entries; a value not seen for a while is simply stored again.
pub(crate) struct BlobCache {
    current: HashMap<BlobHash, i64>,
    previous: HashMap<BlobHash, i64>,
    limit: usize,
}

impl BlobCache {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            limit,
        }
    }

    pub(crate) fn get(&self, hash: &BlobHash) -> Option<i64> {
        self.current
            .get(hash)
            .or_else(|| self.previous.get(hash))
            .copied()
    }

    /// Remembers blobs whose transaction committed.
    pub(crate) fn extend(&mut self, committed: HashMap<BlobHash, i64>) {
        for (hash, id) in committed {
            if self.current.len() >= self.limit {
                self.previous = std::mem::take(&mut self.current);
            }
            self.current.insert(hash, id);
        }
    }
}

/// Blob ids visible to one request: committed ones, the group's earlier requests', its own.
/// Ids of a request that rolls back are dropped with it, so no row ever points at a blob that
/// was not committed.
pub(crate) struct BlobIds<'a> {
    /// Where compressed payloads go, if not into the database.
    pub(crate) log: Option<&'a PayloadLog>,
    pub(crate) cache: &'a BlobCache,
    pub(crate) group: &'a HashMap<BlobHash, i64>,
    pub(crate) request: HashMap<BlobHash, i64>,
}

impl BlobIds<'_> {
    /// The id of a blob with this content, storing it if it is not known.
    pub(crate) fn id_for(
        &mut self,
        c: &Connection,
        hash: &BlobHash,
        payload: &Payload,
    ) -> rusqlite::Result<i64> {
        if let Some(id) = self
            .request
            .get(hash)
            .or_else(|| self.group.get(hash))
            .copied()
            .or_else(|| self.cache.get(hash))
        {
            return Ok(id);
        }
        let id = insert(c, hash, payload, self.log)?;
        self.request.insert(*hash, id);
        Ok(id)
    }
}

/// Adds payload fields to a row's JSON object text, as text (no re-parse of either side).
pub(crate) fn splice(core: String, fields: &[(Field, String)]) -> String {
    let members: Vec<(&str, &str)> = fields
        .iter()
        .map(|(f, json)| (f.name(), json.as_str()))
        .collect();
    splice_members(core, &members)
}

/// Adds `"name":json` members to a JSON object's text, as text.
pub(crate) fn splice_members(mut core: String, members: &[(&str, &str)]) -> String {
    if members.is_empty() {
        return core;
    }
    let trimmed = core.trim_end().len();
    core.truncate(trimmed);
    if core.ends_with('}') {
        core.pop();
    }
    let mut empty = core.trim_end().ends_with('{');
    for (name, json) in members {
        if !empty {
            core.push(',');
        }
        empty = false;
        core.push('"');
        core.push_str(name);
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
