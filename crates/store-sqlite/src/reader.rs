//! The reader pool and read queries.

use crate::blobs::{self, Field};
use crate::id_keys::id_key;
use crate::key_tiers::IdKind;
use crate::payload_log::PayloadLog;
use crate::{backend_err, codec, schema};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};
use spanloom_model::{ObjectKind, ObjectRef, XactId};
use spanloom_store::{
    PageRequest, RowPage, StoreError, StoreResult, StoredRow, Trace, TracePage, TraceQuery,
    TraceSummary, cursor,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Most rows or traces one page may hold.
const MAX_PAGE: usize = 1000;

/// A fixed set of read connections handed out to blocking tasks.
pub(crate) struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReaderPool {
    pub(crate) fn open(
        path: &Path,
        size: usize,
        payload_log: &Arc<PayloadLog>,
    ) -> rusqlite::Result<Self> {
        let size = size.max(1);
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = Connection::open(path)?;
            schema::configure_reader(&conn)?;
            crate::query::functions::register(&conn, payload_log)?;
            conns.push(conn);
        }
        Ok(Self {
            idle: Mutex::new(conns),
            permits: Semaphore::new(size),
        })
    }

    /// Runs `f` on a reader connection in a blocking task.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _permit = self.permits.acquire().await.map_err(backend_err)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(conn) = conn else {
                return Err(StoreError::Backend("reader pool exhausted".into()));
            };
            let result = f(&conn);
            pool.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
            result
        })
        .await
        .map_err(backend_err)?
    }
}

fn xact(raw: i64) -> XactId {
    XactId::from_u64(raw as u64).unwrap_or(XactId::MIN)
}

fn page_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE)
}

/// Reads current rows with their payload fields spliced back in. `filter` and `order` apply to
/// `spans` (aliased `s`), read through `index` when one is named (a lookup by an id key, which
/// the planner, without statistics, would not prefer over an object's range).
fn read_rows(
    c: &Connection,
    object: &ObjectRef,
    by_seqs: bool,
    filter: &str,
    order: &str,
    limit: usize,
    params: &[&dyn rusqlite::ToSql],
) -> StoreResult<Vec<(StoredRow, i64)>> {
    // Rows found by their seqs are read by rowid: left to itself, SQLite reads them through
    // `spans_by_seq` (kind, object_id, seq), one more descent per row.
    let hint = if by_seqs { " NOT INDEXED" } else { "" };
    let sql = format!(
        "SELECT s.row_id, s.project_id, s.xact_id, s.data, s.seq,
                sl_blob(bi.data), sl_blob(bo.data), sl_blob(be.data), sl_blob(bt.data)
         FROM (SELECT row_id, project_id, xact_id, data, seq, start_key, input_blob, output_blob, expected_blob, otel_blob
               FROM spans s{hint} WHERE {filter} ORDER BY {order} LIMIT {limit}) s
         LEFT JOIN blobs bi ON bi.id = s.input_blob
         LEFT JOIN blobs bo ON bo.id = s.output_blob
         LEFT JOIN blobs be ON be.id = s.expected_blob
         LEFT JOIN blobs bt ON bt.id = s.otel_blob
         ORDER BY {order}"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(backend_err)?;
    let rows = stmt
        .query_map(params, |r| {
            let mut fields = Vec::new();
            for field in Field::all() {
                let value = r.get_ref(5 + field.0)?;
                if value != rusqlite::types::ValueRef::Null {
                    fields.push((field, codec::decode(value)?));
                }
            }
            let core = codec::decode(r.get_ref(3)?)?;
            Ok((
                StoredRow {
                    object: object.clone(),
                    id: r.get(0)?,
                    project_id: r.get(1)?,
                    xact_id: xact(r.get(2)?),
                    data_json: blobs::splice(core, &fields),
                },
                r.get(4)?,
            ))
        })
        .map_err(backend_err)?;
    rows.collect::<Result<_, _>>().map_err(backend_err)
}

pub(crate) fn fetch_rows(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    page: &PageRequest,
) -> StoreResult<RowPage> {
    let after = match &page.cursor {
        Some(text) => cursor::decode(text, 1)?[0]
            .as_i64()
            .ok_or_else(|| StoreError::InvalidCursor(format!("{text:?} is not a row cursor")))?,
        None => 0,
    };
    let limit = page_limit(page.limit);
    if let Some(version) = page.as_of {
        // A pinned version is immutable, so a page is an offset into its rows.
        let rows = crate::history::rows_as_of(c, org_id, object, version)?;
        let start = usize::try_from(after).unwrap_or(0).min(rows.len());
        let end = (start + limit).min(rows.len());
        return Ok(RowPage {
            cursor: (end < rows.len()).then(|| cursor::encode(&[json!(end)])),
            rows: rows[start..end].to_vec(),
        });
    }
    let mut rows = read_rows(
        c,
        object,
        false,
        "s.kind = ?1 AND s.object_id = ?2 AND s.org_id = ?3 AND s.seq > ?4",
        "s.seq",
        limit + 1,
        params![object.kind.code(), object.id, org_id, after],
    )?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let cursor = if more {
        rows.last().map(|(_, seq)| cursor::encode(&[json!(seq)]))
    } else {
        None
    };
    Ok(RowPage {
        rows: rows.into_iter().map(|(r, _)| r).collect(),
        cursor,
    })
}

pub(crate) fn get_row(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    row_id: &str,
) -> StoreResult<Option<StoredRow>> {
    let rows = read_rows(
        c,
        object,
        true,
        &format!(
            "s.seq IN ({}) AND s.kind = ?1 AND s.object_id = ?2 AND s.row_id = ?3 AND s.org_id = ?4",
            IdKind::Row.seqs_sql("?5")
        ),
        "s.seq",
        1,
        params![
            object.kind.code(),
            object.id,
            row_id,
            org_id,
            id_key(row_id)
        ],
    )?;
    Ok(rows.into_iter().next().map(|(r, _)| r))
}

pub(crate) fn get_span(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    span_id: &str,
) -> StoreResult<Option<StoredRow>> {
    let rows = read_rows(
        c,
        object,
        true,
        &format!(
            "s.seq IN ({}) AND s.kind = ?1 AND s.object_id = ?2 AND s.span_id = ?3 AND s.org_id = ?4",
            IdKind::Span.seqs_sql("?5")
        ),
        "s.seq",
        1,
        params![
            object.kind.code(),
            object.id,
            span_id,
            org_id,
            id_key(span_id)
        ],
    )?;
    Ok(rows.into_iter().next().map(|(r, _)| r))
}

pub(crate) fn list_comments(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    row_id: &str,
) -> StoreResult<Vec<StoredRow>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT id, project_id, xact_id, data FROM comments
             WHERE kind = ?1 AND object_id = ?2 AND target_id = ?3 AND org_id = ?4 ORDER BY xact_id, id",
        )
        .map_err(backend_err)?;
    let rows = stmt
        .query_map(
            params![object.kind.code(), object.id, row_id, org_id],
            |r| {
                Ok(StoredRow {
                    object: object.clone(),
                    id: r.get(0)?,
                    project_id: r.get(1)?,
                    xact_id: xact(r.get(2)?),
                    data_json: codec::decode(r.get_ref(3)?)?,
                })
            },
        )
        .map_err(backend_err)?;
    rows.collect::<Result<_, _>>().map_err(backend_err)
}

pub(crate) const SUMMARY_COLUMNS: &str = "root_span_id, project_id, start, \"end\", duration, span_count, error_count, \
    prompt_tokens, completion_tokens, tokens, cost, root_id, root_span_span_id, root_name, root_type, \
    input_preview, output_preview, tags, xact_id, start_key";

pub(crate) fn summary_from(r: &Row<'_>) -> rusqlite::Result<(TraceSummary, f64)> {
    let tags: Option<String> = r.get(17)?;
    Ok((
        TraceSummary {
            root_span_id: r.get(0)?,
            project_id: r.get(1)?,
            start: r.get(2)?,
            end: r.get(3)?,
            duration: r.get(4)?,
            span_count: r.get(5)?,
            error_count: r.get(6)?,
            prompt_tokens: r.get(7)?,
            completion_tokens: r.get(8)?,
            tokens: r.get(9)?,
            estimated_cost: r.get(10)?,
            root_id: r.get(11)?,
            root_span_span_id: r.get(12)?,
            root_name: r.get(13)?,
            root_type: r.get(14)?,
            input_preview: r.get(15)?,
            output_preview: r.get(16)?,
            tags: tags
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            xact_id: xact(r.get(18)?),
        },
        r.get(19)?,
    ))
}

pub(crate) fn list_traces(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    query: &TraceQuery,
) -> StoreResult<TracePage> {
    let (before_start, before_id) = match &query.cursor {
        Some(text) => {
            let key = cursor::decode(text, 2)?;
            match (key[0].as_f64(), key[1].as_str()) {
                (Some(start), Some(id)) => (Some(start), Some(id.to_owned())),
                _ => {
                    return Err(StoreError::InvalidCursor(format!(
                        "{text:?} is not a trace cursor"
                    )));
                }
            }
        }
        None => (None, None),
    };
    let limit = page_limit(query.limit);
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM traces
         WHERE kind = ?1 AND object_id = ?2 AND org_id = ?3
           AND (?4 IS NULL OR start_key >= ?4) AND (?5 IS NULL OR start_key < ?5)
           AND (?6 IS NULL OR (start_key, root_span_id) < (?6, ?7))
         ORDER BY start_key DESC, root_span_id DESC LIMIT ?8"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(backend_err)?;
    let mut traces: Vec<(TraceSummary, f64)> = stmt
        .query_map(
            params![
                object.kind.code(),
                object.id,
                org_id,
                query.from,
                query.to,
                before_start,
                before_id,
                (limit + 1) as i64
            ],
            summary_from,
        )
        .map_err(backend_err)?
        .collect::<Result<_, _>>()
        .map_err(backend_err)?;
    let more = traces.len() > limit;
    traces.truncate(limit);
    let cursor = if more {
        traces
            .last()
            .map(|(t, key)| cursor::encode(&[json!(key), Value::String(t.root_span_id.clone())]))
    } else {
        None
    };
    Ok(TracePage {
        traces: traces.into_iter().map(|(t, _)| t).collect(),
        cursor,
    })
}

pub(crate) fn get_trace(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    root: &str,
) -> StoreResult<Option<Trace>> {
    let Some(mut trace) = get_trace_summary_only(c, org_id, object, root)? else {
        return Ok(None);
    };
    trace.spans = read_rows(
        c,
        object,
        true,
        &format!(
            "s.seq IN ({}) AND s.kind = ?1 AND s.object_id = ?2 AND s.root_span_id = ?3 AND s.org_id = ?4",
            IdKind::Trace.seqs_sql("?5")
        ),
        "s.start_key, s.seq",
        usize::MAX >> 1,
        params![object.kind.code(), object.id, root, org_id, id_key(root)],
    )?
    .into_iter()
    .map(|(row, _)| row)
    .collect();
    Ok(Some(trace))
}

/// A trace's spans without their payload blobs, with their previews spliced in instead.
pub(crate) fn get_trace_outline(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    root: &str,
) -> StoreResult<Option<Trace>> {
    let Some(mut trace) = get_trace_summary_only(c, org_id, object, root)? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT row_id, project_id, xact_id, data, input_preview, output_preview
         FROM spans s NOT INDEXED
         WHERE s.seq IN ({}) AND s.kind = ?1 AND s.object_id = ?2 AND s.root_span_id = ?3
           AND s.org_id = ?4
         ORDER BY s.start_key, s.seq",
        IdKind::Trace.seqs_sql("?5")
    );
    let mut stmt = c.prepare_cached(&sql).map_err(backend_err)?;
    let key = id_key(root);
    let rows = stmt
        .query_map(
            params![object.kind.code(), object.id, root, org_id, key],
            |r| {
                let core = codec::decode(r.get_ref(3)?)?;
                let mut previews = Vec::new();
                for (i, key) in [(4, "input_preview"), (5, "output_preview")] {
                    if let Some(text) = r.get::<_, Option<String>>(i)? {
                        previews.push((key, serde_json::Value::String(text).to_string()));
                    }
                }
                let members: Vec<(&str, &str)> =
                    previews.iter().map(|(k, v)| (*k, v.as_str())).collect();
                Ok(StoredRow {
                    object: object.clone(),
                    id: r.get(0)?,
                    project_id: r.get(1)?,
                    xact_id: xact(r.get(2)?),
                    data_json: blobs::splice_members(core, &members),
                })
            },
        )
        .map_err(backend_err)?;
    trace.spans = rows.collect::<Result<_, _>>().map_err(backend_err)?;
    Ok(Some(trace))
}

fn get_trace_summary_only(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
    root: &str,
) -> StoreResult<Option<Trace>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM traces NOT INDEXED
         WHERE id IN ({}) AND kind = ?1 AND object_id = ?2 AND root_span_id = ?3 AND org_id = ?4",
        IdKind::Summary.seqs_sql("?5")
    );
    let summary = c
        .prepare_cached(&sql)
        .map_err(backend_err)?
        .query_row(
            params![object.kind.code(), object.id, root, org_id, id_key(root)],
            summary_from,
        )
        .optional()
        .map_err(backend_err)?;
    Ok(summary.map(|(summary, _)| Trace {
        summary,
        spans: Vec::new(),
    }))
}

/// The project of an object in an org (used by the writer to route and authorize rows).
pub(crate) fn object_project(
    c: &Connection,
    org_id: &str,
    object: &ObjectRef,
) -> rusqlite::Result<Option<String>> {
    let sql = match object.kind {
        ObjectKind::ProjectLogs => "SELECT id FROM projects WHERE id = ?1 AND org_id = ?2",
        ObjectKind::Experiment => {
            "SELECT project_id FROM experiments WHERE id = ?1 AND org_id = ?2"
        }
        ObjectKind::Dataset => "SELECT project_id FROM datasets WHERE id = ?1 AND org_id = ?2",
    };
    c.prepare_cached(sql)?
        .query_row([&object.id, org_id], |r| r.get(0))
        .optional()
}
