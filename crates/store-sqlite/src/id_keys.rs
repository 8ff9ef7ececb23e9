//! Integer keys of row, span and trace ids, for the indexes that look rows up by id.
//!
//! Ids are random (UUIDs, mostly), so an index keyed by them dirties about one page per new
//! row at every commit, and each entry used to carry the 36-character object id and the id
//! itself (~85 bytes). Indexing a 64-bit hash of the id instead makes entries ~4x smaller:
//! fewer pages to write per commit, and integer compares instead of `memcmp` over long shared
//! prefixes in every b-tree descent. A lookup matches the key and then the id itself (and the
//! object), so a collision costs one more row read, never a wrong answer.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

/// The key of an id: the first 64 bits of its XXH3 hash. XXH3 is specified and stable, so keys
/// stored by one build are found by the next.
pub(crate) fn id_key(id: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes()) as i64
}

/// The key of an optional id (no id, no key).
pub(crate) fn opt_key(id: Option<&str>) -> Option<i64> {
    id.map(id_key)
}

/// The SQL name of [`id_key`], for migrations that fill key columns of stored rows.
pub(crate) const SQL_FUNCTION: &str = "spanloom_id_key";

/// Registers [`SQL_FUNCTION`] on a connection (the one that migrates).
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        SQL_FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let value = ctx.get_raw(0);
            Ok(value.as_str_or_null()?.map(id_key))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_match_in_sql() {
        // A stored key must stay what it was when written: pin one.
        assert_eq!(id_key("row-1"), -331_876_135_699_714_181);
        assert_ne!(id_key("a"), id_key("b"));
        let conn = Connection::open_in_memory().expect("open");
        register(&conn).expect("register");
        let (k, none): (i64, Option<i64>) = conn
            .query_row(
                &format!("SELECT {SQL_FUNCTION}('row-1'), {SQL_FUNCTION}(NULL)"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("query");
        assert_eq!(k, id_key("row-1"));
        assert_eq!(none, None);
    }
}
