//! The `span_payloads` table: a row's input, output and expected, stored apart from the rest.

use crate::codec::{self, Payload};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
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

    /// The stored code.
    pub(crate) fn code(self) -> i64 {
        self.0 as i64
    }

    /// The field of a stored code.
    pub(crate) fn from_code(code: i64) -> Option<Field> {
        usize::try_from(code)
            .ok()
            .filter(|i| *i < PAYLOAD_FIELDS.len())
            .map(Field)
    }

    /// This field's bit in `payload_mask` / `object_mask`.
    pub(crate) fn bit(self) -> i64 {
        1 << self.0
    }
}

/// Loads one payload field's value.
pub(crate) fn load(c: &Connection, seq: i64, field: Field) -> rusqlite::Result<Option<Value>> {
    let text = c
        .prepare_cached("SELECT payload FROM span_payloads WHERE seq = ?1 AND field = ?2")?
        .query_row(params![seq, field.code()], |r| codec::decode(r.get_ref(0)?))
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Writes one payload field.
pub(crate) fn put(
    c: &Connection,
    seq: i64,
    field: Field,
    payload: &Payload,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO span_payloads (seq, field, payload) VALUES (?1, ?2, ?3)
         ON CONFLICT (seq, field) DO UPDATE SET payload = excluded.payload",
    )?
    .execute(params![seq, field.code(), payload])?;
    Ok(())
}

/// Removes one payload field.
pub(crate) fn delete(c: &Connection, seq: i64, field: Field) -> rusqlite::Result<()> {
    c.prepare_cached("DELETE FROM span_payloads WHERE seq = ?1 AND field = ?2")?
        .execute(params![seq, field.code()])?;
    Ok(())
}

/// Removes every payload field of a row.
pub(crate) fn delete_all(c: &Connection, seq: i64) -> rusqlite::Result<()> {
    c.prepare_cached("DELETE FROM span_payloads WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
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
        let f = |i| Field(i);
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
}
