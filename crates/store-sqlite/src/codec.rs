//! How JSON payloads are stored: small ones as plain text, larger ones LZ4-compressed.
//!
//! Compression halves the bytes written for typical LLM payloads, and LZ4 decodes faster than
//! the disk could deliver the difference. The column's storage class tells which form a value
//! has, so every form can be read at any time: TEXT is plain JSON, BLOB an LZ4 block, and (in
//! `blobs.data` only) INTEGER the locator of an LZ4 block in the payload log
//! (`payload_log`), which the `sl_blob` SQL function reads.

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Payloads shorter than this stay plain text (compression would not pay).
const COMPRESS_FROM: usize = 512;

/// A JSON text ready to be stored.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// Stored as TEXT.
    Text(String),
    /// LZ4 block with the uncompressed size prepended, stored as BLOB.
    Lz4(Vec<u8>),
}

impl Payload {
    /// Encodes a JSON text.
    pub(crate) fn encode(json: String) -> Self {
        if json.len() < COMPRESS_FROM {
            return Payload::Text(json);
        }
        let compressed = lz4_flex::compress_prepend_size(json.as_bytes());
        if compressed.len() < json.len() {
            Payload::Lz4(compressed)
        } else {
            Payload::Text(json)
        }
    }

    /// The JSON text back: a copy, or the block decompressed.
    pub(crate) fn json(&self) -> rusqlite::Result<String> {
        decode(match self {
            Payload::Text(text) => ValueRef::Text(text.as_bytes()),
            Payload::Lz4(bytes) => ValueRef::Blob(bytes),
        })
    }
}

impl ToSql for Payload {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Payload::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Payload::Lz4(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        })
    }
}

/// Decodes a stored payload column back into its JSON text.
pub(crate) fn decode(value: ValueRef<'_>) -> rusqlite::Result<String> {
    let bad =
        |msg: String| rusqlite::Error::FromSqlConversionFailure(0, value.data_type(), msg.into());
    match value {
        ValueRef::Text(text) => String::from_utf8(text.to_vec()).map_err(|e| bad(e.to_string())),
        ValueRef::Blob(bytes) => {
            let raw = lz4_flex::decompress_size_prepended(bytes).map_err(|e| bad(e.to_string()))?;
            String::from_utf8(raw).map_err(|e| bad(e.to_string()))
        }
        other => Err(bad(format!(
            "unexpected payload type {:?}",
            other.data_type()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_forms() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v)").unwrap();
        let small = "{\"a\":1}".to_string();
        let large = format!("{{\"input\":\"{}\"}}", "hello world ".repeat(200));
        for json in [small, large] {
            let payload = Payload::encode(json.clone());
            conn.execute("DELETE FROM t", []).unwrap();
            conn.execute("INSERT INTO t VALUES (?1)", [&payload])
                .unwrap();
            let back = conn
                .query_row("SELECT v FROM t", [], |r| decode(r.get_ref(0)?))
                .unwrap();
            assert_eq!(back, json);
        }
    }
}
