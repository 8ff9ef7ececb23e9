//! SQL functions the query compiler relies on, registered on every reader connection.
//!
//! * `sl_json(x)`: a stored payload as JSON text (LZ4 blobs are decompressed, payload log
//!   locators read), so SQLite's JSON operators can read rows and payload blobs.
//! * `sl_blob(x)`: a `blobs.data` value as stored inline: a payload log locator is replaced by
//!   the record it points at, anything else passes through.
//! * `regexp(pattern, text)`: backs `x REGEXP pattern`; patterns are compiled once per
//!   statement with a size limit, so a hostile pattern cannot blow up memory.
//! * `sl_percentile(x, p)`: an aggregate, the `p`-quantile (linear interpolation) of `x`.

use crate::codec;
use crate::payload_log::PayloadLog;
use regex::{Regex, RegexBuilder};
use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Error};
use std::sync::Arc;

/// Largest compiled regex program (bytes).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Registers the functions on a connection; payload locators are read from `log`.
pub(crate) fn register(conn: &Connection, log: &Arc<PayloadLog>) -> rusqlite::Result<()> {
    let deterministic = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    let json_log = Arc::clone(log);
    conn.create_scalar_function("sl_json", 1, deterministic, move |ctx| {
        match ctx.get_raw(0) {
            ValueRef::Null => Ok(Value::Null),
            ValueRef::Integer(at) => {
                codec::decode(ValueRef::Blob(&read(&json_log, at)?)).map(Value::Text)
            }
            value => codec::decode(value).map(Value::Text),
        }
    })?;
    let blob_log = Arc::clone(log);
    conn.create_scalar_function("sl_blob", 1, deterministic, move |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Integer(at) => Value::Blob(read(&blob_log, at)?),
            ValueRef::Null => Value::Null,
            ValueRef::Real(x) => Value::Real(x),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    })?;
    conn.create_scalar_function("regexp", 2, deterministic, regexp)?;
    conn.create_aggregate_function("sl_percentile", 2, deterministic, Percentile)?;
    Ok(())
}

fn read(log: &PayloadLog, at: i64) -> rusqlite::Result<Vec<u8>> {
    log.read(at)
        .map_err(|e| Error::UserFunctionError(Box::new(e)))
}

fn regexp(ctx: &Context<'_>) -> rusqlite::Result<bool> {
    let pattern: Arc<Regex> = ctx.get_or_create_aux(
        0,
        |value| -> Result<Regex, Box<dyn std::error::Error + Send + Sync>> {
            let text = value.as_str()?;
            Ok(RegexBuilder::new(text)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()?)
        },
    )?;
    Ok(match ctx.get_raw(1) {
        ValueRef::Null => false,
        ValueRef::Text(bytes) => {
            std::str::from_utf8(bytes).is_ok_and(|text| pattern.is_match(text))
        }
        ValueRef::Integer(i) => pattern.is_match(&i.to_string()),
        ValueRef::Real(f) => pattern.is_match(&f.to_string()),
        ValueRef::Blob(_) => false,
    })
}

/// State of `sl_percentile`: the values seen and the requested fraction.
struct Percentile;

impl Aggregate<(Vec<f64>, f64), Option<f64>> for Percentile {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<(Vec<f64>, f64)> {
        Ok((Vec::new(), 0.5))
    }

    fn step(&self, ctx: &mut Context<'_>, state: &mut (Vec<f64>, f64)) -> rusqlite::Result<()> {
        let value: Option<f64> = match ctx.get_raw(0) {
            ValueRef::Integer(i) => Some(i as f64),
            ValueRef::Real(f) => Some(f),
            _ => None,
        };
        if let Some(v) = value.filter(|v| v.is_finite()) {
            state.0.push(v);
        }
        state.1 = ctx
            .get::<f64>(1)
            .map_err(|_| Error::UserFunctionError("percentile fraction must be a number".into()))?;
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        state: Option<(Vec<f64>, f64)>,
    ) -> rusqlite::Result<Option<f64>> {
        let Some((mut values, p)) = state else {
            return Ok(None);
        };
        if values.is_empty() {
            return Ok(None);
        }
        values.sort_by(f64::total_cmp);
        let rank = p.clamp(0.0, 1.0) * (values.len() - 1) as f64;
        let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
        Ok(Some(
            values[low] + (values[high] - values[low]) * (rank - low as f64),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_work_in_sql() {
        let conn = Connection::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(PayloadLog::open(dir.path(), true).unwrap());
        register(&conn, &log).unwrap();
        let p: f64 = conn
            .query_row("SELECT sl_percentile(x, 0.5) FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 10)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(p, 2.0);
        let m: bool = conn
            .query_row("SELECT 'abc123' REGEXP '^[a-z]+[0-9]+$'", [], |r| r.get(0))
            .unwrap();
        assert!(m);
        let bad = conn.query_row("SELECT 'a' REGEXP '(('", [], |r| r.get::<_, bool>(0));
        assert!(bad.is_err());
        let blob = crate::codec::Payload::encode(format!("{{\"a\":\"{}\"}}", "x".repeat(2000)));
        let back: String = conn
            .query_row("SELECT sl_json(?1) ->> '$.a'", [&blob], |r| r.get(0))
            .unwrap();
        assert_eq!(back.len(), 2000);
        // A locator reads the log: sl_blob gives the stored block, sl_json its text.
        let crate::codec::Payload::Lz4(bytes) = &blob else {
            panic!("a long repetitive text compresses");
        };
        let at = log.append(bytes).unwrap();
        let (stored, a): (Vec<u8>, String) = conn
            .query_row("SELECT sl_blob(?1), sl_json(?1) ->> '$.a'", [at], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(&stored, bytes);
        assert_eq!(a.len(), 2000);
        let damaged = conn.query_row("SELECT sl_json(?1)", [at + 3], |r| r.get::<_, String>(0));
        assert!(damaged.is_err());
    }
}
