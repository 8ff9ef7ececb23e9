//! Runs a compiled query on a reader connection and shapes its rows.

use super::compile::{Sql, bounds_time, has_regex, payload_joins, uses_index};
use super::project::project;
use crate::fields::IndexedFields;
use crate::id_keys::id_key;
use crate::key_tiers::IdKind;
use crate::text_index::{Candidates, MAX_CANDIDATES, TextIndex};
use crate::{backend_err, blobs, codec, reader};
use rusqlite::Connection;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Map, Value};
use spanloom_model::{ObjectRef, XactId};
use spanloom_query::Query;
use spanloom_query::plan::{BinaryOp, Expr, Literal, SelectItem, Selection, Shape, SortKey};
use spanloom_store::{QueryOutput, StoreError, StoreResult, StoredRow, cursor};
use std::sync::Arc;

/// Candidates beyond which a listing page walks rows instead of checking each candidate.
const MAX_PAGE_CANDIDATES: usize = 2_000;

/// Rows per page when the query sets no limit, and the most a page may hold.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 10_000;

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::InvalidQuery(message.into())
}

/// Runs a query over one object of an org.
pub(crate) fn run(
    c: &Connection,
    org_id: &str,
    q: &Query,
    indexed: &IndexedFields,
    text_index: Option<Arc<TextIndex>>,
) -> StoreResult<QueryOutput> {
    if q.filter.as_ref().is_some_and(has_regex)
        && q.limit.is_none()
        && !q.filter.as_ref().is_some_and(bounds_time)
    {
        return Err(invalid(
            "a regex filter needs a row bound (LIMIT) or a time bound (a comparison on created or metrics.start), \
             so it cannot scan the whole store",
        ));
    }
    let object = ObjectRef::new(q.source.kind, q.source.id.clone());
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
    let sql = Sql::new(indexed.clone(), text_index);
    match (q.shape, q.is_aggregate()) {
        (Shape::Spans, false) => spans(c, sql, org_id, &object, q, limit),
        (Shape::Spans, true) => groups(c, sql, org_id, q, limit),
        (Shape::Traces, false) => traces(c, sql, org_id, q, limit),
        (Shape::Traces, true) => groups(c, sql, org_id, q, limit),
    }
}

/// `s.kind = ? AND s.object_id = ? AND s.org_id = ?` for the query's source.
fn scope(sql: &mut Sql, alias: &str, org_id: &str, q: &Query) -> String {
    let kind = sql.bind(SqlValue::Integer(q.source.kind.code()));
    let id = sql.bind(SqlValue::Text(q.source.id.clone()));
    let org = sql.bind(SqlValue::Text(org_id.to_owned()));
    format!("{alias}.kind = {kind} AND {alias}.object_id = {id} AND {alias}.org_id = {org}")
}

fn blob_joins() -> String {
    payload_joins(|_| true)
}

/// The candidate rows of a `MATCH` that is a top-level conjunct of the filter, when the text
/// index narrows it and few rows wait to be indexed: the query then reads only those rows
/// instead of walking the object.
///
/// A page of a listing (`page`) is driven only by a short candidate list: with many
/// candidates, walking rows in the listing's order (the index still spares the payload reads
/// of rows it rules out) reaches a page of matches sooner than checking every candidate.
fn driving_candidates(
    c: &Connection,
    sql: &mut Sql,
    filter: Option<&Expr>,
    page: bool,
) -> StoreResult<Option<Arc<Candidates>>> {
    let mut conjuncts = Vec::new();
    if let Some(filter) = filter {
        top_level_conjuncts(filter, &mut conjuncts);
    }
    // An id names few rows, and its key index finds exactly those: nothing narrows more.
    for expr in &conjuncts {
        if let Some(candidates) = id_candidates(c, expr)? {
            return Ok(Some(Arc::new(candidates)));
        }
    }
    for expr in conjuncts {
        let (field, text) = match expr {
            Expr::Match { field, text } => (field.as_deref(), text.as_str()),
            other => match text_equality(other) {
                Some(found) if !uses_index(other, &sql.indexed) => found,
                _ => continue,
            },
        };
        let started = std::time::Instant::now();
        let Some(candidates) = sql.text_candidates(field, text) else {
            continue;
        };
        let looked_up = started.elapsed();
        let tail: i64 = c
            .query_row(
                "SELECT count(*) FROM (SELECT 1 FROM spans INDEXED BY spans_by_xact WHERE xact_id > ?1 LIMIT ?2)",
                (candidates.watermark, MAX_CANDIDATES as i64 + 1),
                |r| r.get(0),
            )
            .map_err(backend_err)?;
        tracing::debug!(
            candidates = candidates.seqs.len(),
            tail,
            lookup_ms = looked_up.as_secs_f64() * 1e3,
            tail_ms = (started.elapsed() - looked_up).as_secs_f64() * 1e3,
            "text index lookup"
        );
        let most = if page {
            MAX_PAGE_CANDIDATES
        } else {
            MAX_CANDIDATES
        };
        if tail as usize + candidates.seqs.len() <= most {
            return Ok(Some(candidates));
        }
    }
    Ok(None)
}

/// `metadata.<path> = 'text'` or `error.<path> = 'text'` (either way round) with an ASCII
/// string: every row it matches holds the string in the text the full-text index covers, so
/// that index's candidates for it are a superset of those rows, and the full filter then
/// checks each. This serves equality on any metadata field without an expression index of
/// its own (`--index-field`), whose random values would dirty pages of that index at every
/// commit. A non-ASCII string is left out: the indexed text is lowercased by SQLite, which
/// folds ASCII letters only, while a needle is lowercased fully.
fn text_equality(expr: &Expr) -> Option<(Option<&[String]>, &str)> {
    let Expr::Binary {
        op: BinaryOp::Eq,
        left,
        right,
    } = expr
    else {
        return None;
    };
    let ((Expr::Field(path), Expr::Literal(Literal::String(text)))
    | (Expr::Literal(Literal::String(text)), Expr::Field(path))) = (left.as_ref(), right.as_ref())
    else {
        return None;
    };
    let covered = match path.first().map(String::as_str) {
        Some("metadata") => path.len() > 1,
        Some("error") => true,
        _ => false,
    };
    (covered && !text.is_empty() && text.is_ascii())
        .then_some((Some(path.as_slice()), text.as_str()))
}

/// The rows whose `id`, `span_id` or `root_span_id` has the key of a string this conjunct
/// compares that field with (`=`, `IN`, or an `OR` of such), through that field's key index (see `id_keys`): a
/// superset of the rows the conjunct matches, which the full filter then checks. Without
/// statistics SQLite would prefer an object's `(kind, object_id)` range over those indexes.
fn id_candidates(c: &Connection, expr: &Expr) -> StoreResult<Option<Candidates>> {
    let (field, values): (&Expr, Vec<&Expr>) = match expr {
        // `a OR b`: the rows of both, when both name ids.
        Expr::Binary {
            op: BinaryOp::Or,
            left,
            right,
        } => {
            let (Some(mut left), Some(right)) = (id_candidates(c, left)?, id_candidates(c, right)?)
            else {
                return Ok(None);
            };
            left.seqs.extend(right.seqs);
            left.seqs.sort_unstable();
            left.seqs.dedup();
            return Ok((left.seqs.len() <= MAX_CANDIDATES).then_some(left));
        }
        Expr::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } => match (left.as_ref(), right.as_ref()) {
            (field @ Expr::Field(_), value) | (value, field @ Expr::Field(_)) => {
                (field, vec![value])
            }
            _ => return Ok(None),
        },
        Expr::In {
            expr,
            list,
            negated: false,
        } => (expr.as_ref(), list.iter().collect()),
        _ => return Ok(None),
    };
    let Expr::Field(path) = field else {
        return Ok(None);
    };
    let lookup = match path.as_slice() {
        [name] if name == "id" => IdKind::Row.seqs_in_json_sql("?1"),
        [name] if name == "span_id" => IdKind::Span.seqs_in_json_sql("?1"),
        [name] if name == "root_span_id" => IdKind::Trace.seqs_in_json_sql("?1"),
        _ => return Ok(None),
    };
    let mut keys = Vec::with_capacity(values.len());
    for value in values {
        let Expr::Literal(Literal::String(id)) = value else {
            return Ok(None);
        };
        keys.push(id_key(id));
    }
    if keys.len() > MAX_CANDIDATES {
        return Ok(None);
    }
    let mut seqs: Vec<i64> = c
        .prepare_cached(&lookup)
        .and_then(|mut stmt| {
            stmt.query_map([Value::from(keys).to_string()], |r| r.get(0))?
                .collect()
        })
        .map_err(backend_err)?;
    if seqs.len() > MAX_CANDIDATES {
        return Ok(None);
    }
    seqs.sort_unstable();
    seqs.dedup();
    // Every row these keys name is found here, stored or not indexed yet: no tail to check.
    Ok(Some(Candidates {
        seqs,
        watermark: i64::MAX,
    }))
}

fn top_level_conjuncts<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            top_level_conjuncts(left, out);
            top_level_conjuncts(right, out);
        }
        other => out.push(other),
    }
}

/// `FROM` text for spans: all of them, or only the candidates (driving the join, with
/// `s.seq = c.seq` added to `clauses`).
fn span_source(
    sql: &mut Sql,
    candidates: Option<&Candidates>,
    clauses: &mut Vec<String>,
) -> String {
    let Some(candidates) = candidates else {
        return "spans s".into();
    };
    let (list, watermark) = sql.bind_candidates(candidates);
    clauses.push("s.seq = c.seq".into());
    // CROSS JOIN keeps the candidates as the outer loop; UNION drops a row found both ways.
    format!(
        "(SELECT value AS seq FROM json_each({list}) UNION SELECT seq FROM spans INDEXED BY spans_by_xact WHERE xact_id > {watermark}) c \
         CROSS JOIN spans s NOT INDEXED"
    )
}

/// A sort key's expression: a select alias names its item's expression.
fn sort_expr<'a>(key: &'a SortKey, items: &'a [SelectItem]) -> &'a Expr {
    if let Expr::Field(path) = &key.expr
        && let [name] = path.as_slice()
        && let Some(item) = items
            .iter()
            .find(|i| i.alias.as_deref() == Some(name.as_str()))
    {
        return &item.expr;
    }
    &key.expr
}

/// `(k1 > ?) OR (k1 = ? AND (...))`: rows after the cursor in the sort order.
fn after_cursor(sql: &mut Sql, keys: &[(String, bool)], values: &[Value]) -> String {
    let Some(((key, desc), rest)) = keys.split_first() else {
        return "0".into();
    };
    let value = values.first().map_or(SqlValue::Null, json_to_sql);
    let op = if *desc { "<" } else { ">" };
    let strict = format!("{key} {op} {}", sql.bind(value.clone()));
    if rest.is_empty() {
        return format!("({strict})");
    }
    let equal = format!("{key} = {}", sql.bind(value));
    format!(
        "({strict} OR ({equal} AND {}))",
        after_cursor(sql, rest, &values[1..])
    )
}

fn json_to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n.as_i64().map_or_else(
            || SqlValue::Real(n.as_f64().unwrap_or(0.0)),
            SqlValue::Integer,
        ),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

fn sql_to_json(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
    }
}

fn spans(
    c: &Connection,
    mut sql: Sql,
    org_id: &str,
    object: &ObjectRef,
    q: &Query,
    limit: usize,
) -> StoreResult<QueryOutput> {
    let mut clauses = vec![scope(&mut sql, "s", org_id, q)];
    let candidates = driving_candidates(c, &mut sql, q.filter.as_ref(), true)?;
    let source = span_source(&mut sql, candidates.as_deref(), &mut clauses);
    if let Some(filter) = &q.filter {
        clauses.push(sql.expr(filter)?);
    }
    let items: &[SelectItem] = match &q.select {
        Selection::Items(items) => items,
        Selection::Star => &[],
    };
    // Sort keys never yield NULL (it sorts like the smallest number), so cursors compare cleanly.
    let mut keys: Vec<(String, bool)> = Vec::new();
    for key in &q.sort {
        keys.push((
            format!("coalesce({}, -1e308)", sql.expr(sort_expr(key, items))?),
            key.descending,
        ));
    }
    keys.push(("s.seq".into(), keys.last().is_none_or(|(_, desc)| *desc)));
    if let Some(text) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        let values = cursor::decode(text, keys.len())?;
        clauses.push(after_cursor(&mut sql, &keys, &values));
    }
    let order: Vec<String> = keys
        .iter()
        .map(|(k, desc)| format!("{k} {}", if *desc { "DESC" } else { "ASC" }))
        .collect();
    let key_columns: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
    let text = format!(
        "SELECT s.row_id, s.project_id, s.xact_id, s.data, sl_blob(b_input.data), sl_blob(b_output.data), sl_blob(b_expected.data), sl_blob(b_otel.data), {}
         FROM {source}{} WHERE {} ORDER BY {} LIMIT {}",
        key_columns.join(", "),
        blob_joins(),
        clauses.join(" AND "),
        order.join(", "),
        limit + 1
    );
    let mut stmt = c.prepare(&text).map_err(query_err)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(sql.params.iter()))
        .map_err(query_err)?;
    let mut out = Vec::new();
    let mut last_key = Vec::new();
    while let Some(r) = rows.next().map_err(query_err)? {
        if out.len() == limit {
            return Ok(QueryOutput {
                rows: out,
                cursor: Some(cursor::encode(&last_key)),
            });
        }
        let mut fields = Vec::new();
        for field in blobs::Field::all() {
            let value = r.get_ref(4 + field.0).map_err(backend_err)?;
            if value != ValueRef::Null {
                fields.push((field, codec::decode(value).map_err(backend_err)?));
            }
        }
        let row = StoredRow {
            object: object.clone(),
            id: r.get(0).map_err(backend_err)?,
            project_id: r.get(1).map_err(backend_err)?,
            xact_id: XactId::from_u64(r.get::<_, i64>(2).map_err(backend_err)? as u64)
                .unwrap_or(XactId::MIN),
            data_json: blobs::splice(
                codec::decode(r.get_ref(3).map_err(backend_err)?).map_err(backend_err)?,
                &fields,
            ),
        };
        last_key = (0..keys.len())
            .map(|i| r.get_ref(4 + blobs::Field::count() + i).map(sql_to_json))
            .collect::<Result<_, _>>()
            .map_err(backend_err)?;
        out.push(if items.is_empty() {
            row.to_event_json()
        } else {
            project(&row.to_event_value(), items).to_string()
        });
    }
    Ok(QueryOutput {
        rows: out,
        cursor: None,
    })
}

fn groups(
    c: &Connection,
    mut sql: Sql,
    org_id: &str,
    q: &Query,
    limit: usize,
) -> StoreResult<QueryOutput> {
    let (source, clauses) = match q.shape {
        Shape::Spans => {
            let mut clauses = vec![scope(&mut sql, "s", org_id, q)];
            let candidates = driving_candidates(c, &mut sql, q.filter.as_ref(), false)?;
            let source = span_source(&mut sql, candidates.as_deref(), &mut clauses);
            if let Some(filter) = &q.filter {
                clauses.push(sql.expr(filter)?);
            }
            (format!("{source}{}", blob_joins()), clauses)
        }
        Shape::Traces => {
            let TraceSource { from, clauses } = trace_source(c, &mut sql, org_id, q, true)?;
            // Dimensions and measures read the trace summaries.
            sql.trace_fields = true;
            (from, clauses)
        }
    };
    let outputs: Vec<&SelectItem> = q.dimensions.iter().chain(&q.measures).collect();
    let mut columns = Vec::new();
    for (i, item) in outputs.iter().enumerate() {
        columns.push(format!("{} AS c{i}", sql.expr(&item.expr)?));
    }
    let names: Vec<String> = outputs.iter().map(|i| i.output_name()).collect();
    let mut order = Vec::new();
    for key in &q.sort {
        let dir = if key.descending { "DESC" } else { "ASC" };
        let by_name = match &key.expr {
            Expr::Field(path) if path.len() == 1 => names.iter().position(|n| *n == path[0]),
            _ => None,
        };
        match by_name {
            Some(i) => order.push(format!("c{i} {dir}")),
            None => order.push(format!("{} {dir}", sql.expr(&key.expr)?)),
        }
    }
    order.extend((0..q.dimensions.len()).map(|i| format!("c{i} ASC")));
    let group_by = if q.dimensions.is_empty() {
        String::new()
    } else {
        format!(
            " GROUP BY {}",
            (0..q.dimensions.len())
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let order = if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    };
    let text = format!(
        "SELECT {} FROM {source} WHERE {}{group_by}{order} LIMIT {limit}",
        columns.join(", "),
        clauses.join(" AND ")
    );
    let mut stmt = c.prepare(&text).map_err(query_err)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(sql.params.iter()))
        .map_err(query_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(query_err)? {
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate() {
            object.insert(
                name.clone(),
                sql_to_json(r.get_ref(i).map_err(backend_err)?),
            );
        }
        out.push(Value::Object(object).to_string());
    }
    Ok(QueryOutput {
        rows: out,
        cursor: None,
    })
}

/// Where the traces of a query come from: `FROM` text and `WHERE` clauses over `traces t`.
/// A trace matches when any of its spans matches the filter. `distinct_source` says the
/// source may repeat a trace (the caller deduplicates).
struct TraceSource {
    from: String,
    clauses: Vec<String>,
}

fn trace_source(
    c: &Connection,
    sql: &mut Sql,
    org_id: &str,
    q: &Query,
    for_groups: bool,
) -> StoreResult<TraceSource> {
    let mut clauses = vec![scope(sql, "t", org_id, q)];
    let mut from = String::from("traces t");
    if let Some(filter) = &q.filter {
        // A filter narrowed by the text index or a field index finds its spans first; any
        // other filter walks traces (newest first for a listing, stopping at the page's end).
        let candidates = driving_candidates(c, sql, Some(filter), !for_groups)?;
        let driven = candidates.is_some() || uses_index(filter, &sql.indexed);
        let mut span_clauses = vec![scope(sql, "s", org_id, q)];
        let source = span_source(sql, candidates.as_deref(), &mut span_clauses);
        span_clauses.push(sql.expr(filter)?);
        let matching = format!(
            "SELECT s.root_span_id AS rid, s.trace_key AS tkey FROM {source}{} WHERE {}",
            blob_joins(),
            span_clauses.join(" AND ")
        );
        if driven && !for_groups {
            // CROSS JOIN keeps the few matching spans as the outer loop, so their traces are
            // looked up by key. (No DISTINCT in the subquery: it would make SQLite prefer an
            // index ordered by trace over the field's index; the listing deduplicates.)
            from = format!("({matching}) m CROSS JOIN traces t NOT INDEXED");
            clauses.push(format!(
                "t.id IN ({}) AND t.root_span_id = m.rid",
                IdKind::Summary.seqs_sql("m.tkey")
            ));
        } else if driven {
            clauses.push(format!("t.root_span_id IN (SELECT rid FROM ({matching}))"));
        } else {
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM spans s NOT INDEXED{} WHERE s.seq IN ({})
                    AND s.kind = t.kind AND s.object_id = t.object_id
                    AND s.root_span_id = t.root_span_id AND s.org_id = t.org_id AND {})",
                blob_joins(),
                IdKind::Trace.seqs_sql("t.trace_key"),
                span_clauses[1..].join(" AND ")
            ));
        }
    }
    Ok(TraceSource { from, clauses })
}

fn traces(
    c: &Connection,
    mut sql: Sql,
    org_id: &str,
    q: &Query,
    limit: usize,
) -> StoreResult<QueryOutput> {
    let TraceSource { from, mut clauses } = trace_source(c, &mut sql, org_id, q, false)?;
    let items: &[SelectItem] = match &q.select {
        Selection::Items(items) => items,
        Selection::Star => &[],
    };
    // Sort keys over the summary columns, then newest first, so every order is total and
    // cursors compare cleanly (NULL sorts like the smallest number).
    sql.trace_fields = true;
    let mut keys: Vec<(String, bool)> = Vec::new();
    for key in &q.sort {
        keys.push((
            format!("coalesce({}, -1e308)", sql.expr(sort_expr(key, items))?),
            key.descending,
        ));
    }
    sql.trace_fields = false;
    keys.push(("t.start_key".to_owned(), true));
    keys.push(("t.root_span_id".to_owned(), true));
    if let Some(text) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        let key = cursor::decode(text, keys.len())?;
        clauses.push(after_cursor(&mut sql, &keys, &key));
    }
    let order: Vec<String> = keys
        .iter()
        .map(|(k, desc)| format!("{k} {}", if *desc { "DESC" } else { "ASC" }))
        .collect();
    let extra: String = keys[..keys.len() - 2]
        .iter()
        .map(|(k, _)| format!(", {k}"))
        .collect();
    let columns: String = reader::SUMMARY_COLUMNS
        .split(", ")
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "SELECT DISTINCT {columns}{extra} FROM {from} WHERE {} ORDER BY {} LIMIT {}",
        clauses.join(" AND "),
        order.join(", "),
        limit + 1
    );
    let mut stmt = c.prepare(&text).map_err(query_err)?;
    let sort_keys = keys.len() - 2;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            let summary = reader::summary_from(r)?;
            let values = (0..sort_keys)
                .map(|i| r.get_ref(SUMMARY_COLUMN_COUNT + i).map(sql_to_json))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((summary, values))
        })
        .map_err(query_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(query_err)?;
    let mut out = Vec::new();
    let mut cursor_out = None;
    for (i, ((summary, _), _)) in rows.iter().enumerate() {
        if i == limit {
            let ((last, start_key), values) = &rows[i - 1];
            let mut key = values.clone();
            key.push(Value::from(*start_key));
            key.push(Value::String(last.root_span_id.clone()));
            cursor_out = Some(cursor::encode(&key));
            break;
        }
        let value = serde_json::to_value(summary).unwrap_or(Value::Null);
        out.push(if items.is_empty() {
            value.to_string()
        } else {
            project(&value, items).to_string()
        });
    }
    Ok(QueryOutput {
        rows: out,
        cursor: cursor_out,
    })
}

/// Columns in [`reader::SUMMARY_COLUMNS`].
const SUMMARY_COLUMN_COUNT: usize = 20;

/// SQLite errors while running a compiled query: bad regexes and type errors are the query's
/// fault; the rest are the backend's.
fn query_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::UserFunctionError(inner) => invalid(format!("invalid query: {inner}")),
        rusqlite::Error::SqliteFailure(_, Some(message))
            if message.contains("regex") || message.contains("JSON path") =>
        {
            invalid(format!("invalid query: {message}"))
        }
        _ => backend_err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::text_equality;

    fn equality(filter: &str) -> Option<(Vec<String>, String)> {
        let q = spanloom_query::parse_text(&format!(
            "select: id | from: project_logs('p') | filter: {filter}"
        ))
        .expect("query parses");
        let filter = q.filter.expect("a filter");
        text_equality(&filter)
            .map(|(path, text)| (path.unwrap_or_default().to_vec(), text.to_owned()))
    }

    #[test]
    fn metadata_string_equality_is_looked_up_in_the_text_index() {
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            equality("metadata.user_id = 'u1'"),
            Some((path(&["metadata", "user_id"]), "u1".into()))
        );
        assert_eq!(
            equality("'u1' = metadata.a.b"),
            Some((path(&["metadata", "a", "b"]), "u1".into()))
        );
        assert_eq!(
            equality("error = 'boom'"),
            Some((path(&["error"]), "boom".into()))
        );
        // Not covered: other fields, numbers, other operators, empty or non-ASCII strings.
        for filter in [
            "name = 'u1'",
            "metadata = 'u1'",
            "metadata.n = 3",
            "metadata.user_id != 'u1'",
            "metadata.user_id = ''",
            "metadata.city = 'Zürich'",
        ] {
            assert_eq!(equality(filter), None, "{filter}");
        }
    }
}
