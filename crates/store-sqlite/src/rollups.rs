//! The `rollups` table: dashboard sums per bucket, model and root-or-not, kept current in the
//! same transaction as the spans (see `spanloom_store::rollup` for what is summed).
//!
//! The writer collects each request's changes in memory (`RollupDeltas`), keeps them only if
//! the request commits, and writes one upsert per touched rollup row per group, so a group of
//! spans in the same minute costs one row update, not one per span.

use crate::backend_err;
use rusqlite::{Connection, OptionalExtension, params};
use spanloom_model::ObjectRef;
use spanloom_store::StoreResult;
use spanloom_store::rollup::{
    Contribution, RollupKey, RollupPoint, RollupQuery, RollupValues, keys_of, points,
};
use std::collections::HashMap;

/// Pending changes: (kind, object id, org id, key) → delta.
pub(crate) type RollupDeltas = HashMap<(i64, String, String, RollupKey), RollupValues>;

/// Adds (`sign` 1) or removes (`sign` -1) a span's contribution to the deltas.
pub(crate) fn record(
    deltas: &mut RollupDeltas,
    kind: i64,
    object_id: &str,
    org_id: &str,
    c: &Contribution,
    sign: i64,
) {
    for key in keys_of(c) {
        deltas
            .entry((kind, object_id.to_owned(), org_id.to_owned(), key))
            .or_default()
            .add(c, sign);
    }
}

/// Applies the deltas to the stored rows.
pub(crate) fn flush(c: &Connection, deltas: RollupDeltas) -> rusqlite::Result<()> {
    for ((kind, object_id, org_id, key), delta) in deltas {
        let stored = c
            .prepare_cached(
                "SELECT spans, errors, timed, duration_sum, prompt_tokens, completion_tokens, tokens, cost, latency
                 FROM rollups WHERE kind = ?1 AND object_id = ?2 AND level = ?3 AND bucket = ?4 AND model = ?5 AND is_root = ?6",
            )?
            .query_row(params![kind, object_id, key.level, key.bucket, key.model, key.is_root], values_from)
            .optional()?;
        let mut values = stored.unwrap_or_default();
        values.merge(&delta);
        if values.spans <= 0 {
            c.prepare_cached(
                "DELETE FROM rollups WHERE kind = ?1 AND object_id = ?2 AND level = ?3 AND bucket = ?4 AND model = ?5 AND is_root = ?6",
            )?
            .execute(params![kind, object_id, key.level, key.bucket, key.model, key.is_root])?;
            continue;
        }
        c.prepare_cached(
            "INSERT OR REPLACE INTO rollups (kind, object_id, level, bucket, model, is_root, org_id, spans, errors, timed,
                duration_sum, prompt_tokens, completion_tokens, tokens, cost, latency)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?
        .execute(params![
            kind, object_id, key.level, key.bucket, key.model, key.is_root, org_id, values.spans, values.errors,
            values.timed, values.duration_sum, values.prompt_tokens, values.completion_tokens, values.tokens,
            values.cost, values.latency_bytes()
        ])?;
    }
    Ok(())
}

fn values_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<RollupValues> {
    let latency: Vec<u8> = r.get(8)?;
    Ok(RollupValues {
        spans: r.get(0)?,
        errors: r.get(1)?,
        timed: r.get(2)?,
        duration_sum: r.get(3)?,
        prompt_tokens: r.get(4)?,
        completion_tokens: r.get(5)?,
        tokens: r.get(6)?,
        cost: r.get(7)?,
        latency: RollupValues::latency_from_bytes(&latency),
    })
}

/// Reads a dashboard: the stored rows of the query's level in the time range, folded.
pub(crate) fn read(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    query: &RollupQuery,
) -> StoreResult<Vec<RollupPoint>> {
    let level = query.bucket.level();
    let from = (query.from.floor() as i64).div_euclid(level) * level;
    let mut stmt = c
        .prepare_cached(
            "SELECT spans, errors, timed, duration_sum, prompt_tokens, completion_tokens, tokens, cost, latency,
                    bucket, model, is_root
             FROM rollups WHERE kind = ?1 AND object_id = ?2 AND org_id = ?3 AND level = ?4 AND bucket >= ?5 AND bucket < ?6",
        )
        .map_err(backend_err)?;
    let rows = stmt
        .query_map(
            params![
                object.kind.code(),
                object.id,
                org_id,
                level,
                from,
                query.to.ceil() as i64
            ],
            |r| {
                let values = values_from(r)?;
                Ok((
                    RollupKey {
                        level,
                        bucket: r.get(9)?,
                        model: r.get(10)?,
                        is_root: r.get(11)?,
                    },
                    values,
                ))
            },
        )
        .map_err(backend_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend_err)?;
    Ok(points(rows, query))
}
