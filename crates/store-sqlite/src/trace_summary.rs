//! One summary per trace (start, end, duration, span and error counts, token and cost
//! totals, the root span's name and previews, tags), kept current in the writer's transaction.
//!
//! A group's row changes are collected per trace. When every change in a trace only adds to
//! its sums (a child span started or ended: no root, no tags, no start or end moved back), the
//! stored summary is updated by the differences, without reading the trace's spans; otherwise
//! the summary is recomputed from them. Recomputing every time made each request of a long
//! agent trace read the whole trace again: quadratic in its length. A trace whose every
//! change in the group is a row new to the store, and which has no summary yet, is
//! summarized from those rows' facts alone and inserted, without reading anything back.

use crate::id_keys;
use crate::key_tiers::{self, IdKind};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;
use spanloom_normalize::SpanFacts;
use std::collections::BTreeMap;

/// Key of a trace: (object kind code, object id, root span id).
pub(crate) type TraceKey = (i64, String, String);

/// What one span adds to its trace's summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SpanTotals {
    pub(crate) is_root: bool,
    pub(crate) is_error: bool,
    pub(crate) has_tags: bool,
    pub(crate) start: Option<f64>,
    pub(crate) end: Option<f64>,
    /// Prompt, completion and total tokens, cost (missing ones count as 0, as in a recompute).
    pub(crate) sums: [f64; 4],
}

impl SpanTotals {
    /// What a span with these facts adds.
    pub(crate) fn from_facts(facts: &SpanFacts) -> Self {
        Self {
            is_root: facts.is_root,
            is_error: facts.is_error,
            has_tags: facts.tags.is_some(),
            start: facts.start,
            end: facts.end,
            sums: [
                facts.prompt_tokens,
                facts.completion_tokens,
                facts.tokens,
                facts.cost,
            ]
            .map(|v| v.unwrap_or(0.0)),
        }
    }
}

/// One row change, as its trace sees it.
pub(crate) enum TraceChange {
    /// The trace must be recomputed (a root, tags, a delete, a span moved between traces...).
    Recompute,
    /// The span was `old` (absent for a new row) and is now `new`.
    Update {
        old: Option<SpanTotals>,
        new: SpanTotals,
    },
    /// A row new to the store, with every fact a summary shows.
    New(Box<NewSpan>),
}

/// A row new to the store, as a trace summary sees it.
pub(crate) struct NewSpan {
    pub(crate) totals: SpanTotals,
    /// `spans.start_key`: what summaries order spans by.
    pub(crate) start_key: f64,
    /// The row's tags (JSON text).
    pub(crate) tags: Option<String>,
    /// For a root span: what the summary shows of it.
    pub(crate) root: Option<RootFacts>,
}

impl TraceChange {
    /// The change from `old` to `new` within one trace, recomputing when differences cannot
    /// express it.
    pub(crate) fn between(old: Option<SpanTotals>, new: SpanTotals) -> Self {
        let roots_or_tags = |t: &SpanTotals| t.is_root || t.has_tags;
        let additive = match &old {
            None => !roots_or_tags(&new),
            // A start or end that moved may have been the trace's extreme.
            Some(o) => {
                !roots_or_tags(o)
                    && !roots_or_tags(&new)
                    && (o.start.is_none() || o.start == new.start)
                    && (o.end.is_none() || o.end == new.end)
            }
        };
        if additive {
            Self::Update { old, new }
        } else {
            Self::Recompute
        }
    }
}

/// Differences to apply to one stored summary.
#[derive(Default)]
struct Delta {
    recompute: bool,
    /// The group's new rows in this trace, in the order written.
    new_rows: Vec<NewSpan>,
    /// Some change was not a new row.
    not_only_new: bool,
    spans: i64,
    errors: i64,
    sums: [f64; 4],
    start: Option<f64>,
    end: Option<f64>,
    xact: i64,
}

/// A group's changes per trace, applied at the end of the group's transaction.
#[derive(Default)]
pub(crate) struct TraceChanges {
    traces: BTreeMap<TraceKey, (Delta, (String, String))>,
}

impl TraceChanges {
    /// Records a change of committed request `xact` to a trace of `org_project`.
    pub(crate) fn record(
        &mut self,
        key: TraceKey,
        change: TraceChange,
        xact: i64,
        org_project: (String, String),
    ) {
        let (delta, owner) = self.traces.entry(key).or_default();
        *owner = org_project;
        delta.xact = delta.xact.max(xact);
        let change = match change {
            TraceChange::New(row) => {
                // Also counted as an addition, for when the trace turns out to be stored.
                let change = TraceChange::between(None, row.totals);
                delta.new_rows.push(*row);
                change
            }
            other => {
                delta.not_only_new = true;
                other
            }
        };
        match change {
            TraceChange::New(_) => unreachable!("turned into an addition above"),
            TraceChange::Recompute => delta.recompute = true,
            TraceChange::Update { old, new } => {
                let flag = |b: bool| i64::from(b);
                delta.spans += 1 - flag(old.is_some());
                delta.errors += flag(new.is_error) - old.map_or(0, |o| flag(o.is_error));
                for (i, sum) in delta.sums.iter_mut().enumerate() {
                    *sum += new.sums[i] - old.map_or(0.0, |o| o.sums[i]);
                }
                delta.start = min_opt(delta.start, new.start);
                delta.end = max_opt(delta.end, new.end);
            }
        }
    }

    /// Brings every changed trace's summary up to date.
    pub(crate) fn apply(self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        for (key, (delta, (org_id, project_id))) in self.traces {
            match stored(tx, &key)? {
                None if !delta.not_only_new => {
                    insert_new(tx, &key, &delta, &org_id, &project_id)?;
                }
                Some(stored) if !delta.recompute => add(tx, stored, &delta)?,
                stored => refresh(tx, &key, stored, &org_id, &project_id)?,
            }
        }
        Ok(())
    }
}

/// A trace's duration from its extremes, when it has both.
fn duration(start: Option<f64>, end: Option<f64>) -> Option<f64> {
    Some(end? - start?)
}

/// A stored summary's row id, start, end and `start_key`.
type StoredSummary = (i64, Option<f64>, Option<f64>, f64);

/// The stored summary of a trace, if it has one: looked up by the key of its root span id
/// (`key_tiers`), then matched on the whole key.
fn stored(tx: &Transaction<'_>, key: &TraceKey) -> rusqlite::Result<Option<StoredSummary>> {
    let (kind, object_id, root) = key;
    tx.prepare_cached(&sql::STORED)?
        .query_row(params![kind, object_id, root, id_keys::id_key(root)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
}

/// Adds a delta to a stored summary.
fn add(tx: &Transaction<'_>, stored: StoredSummary, delta: &Delta) -> rusqlite::Result<()> {
    let (id, stored_start, stored_end, stored_key) = stored;
    let start = min_opt(stored_start, delta.start);
    let end = max_opt(stored_end, delta.end);
    let duration = duration(start, end);
    let start_key = start.unwrap_or(0.0);
    let [prompt, completion, tokens, cost] = delta.sums;
    let values: [&dyn rusqlite::ToSql; 10] = [
        &start,
        &end,
        &duration,
        &delta.spans,
        &delta.errors,
        &prompt,
        &completion,
        &tokens,
        &cost,
        &delta.xact,
    ];
    // An unchanged `start_key` stays out of the UPDATE, so its index is left alone.
    let key_value: [&dyn rusqlite::ToSql; 1] = [&start_key];
    let (statement, keys): (&str, &[&dyn rusqlite::ToSql]) = if start_key == stored_key {
        (sql::TRACE_ADD, &[])
    } else {
        (sql::TRACE_ADD_WITH_START, &key_value)
    };
    let params = values
        .iter()
        .chain(keys)
        .copied()
        .chain([&id as &dyn rusqlite::ToSql]);
    tx.prepare_cached(statement)?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(())
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The root span's facts that a trace summary shows.
#[derive(Default, Clone)]
pub(crate) struct RootFacts {
    pub(crate) row_id: Option<String>,
    pub(crate) span_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) span_type: Option<String>,
    pub(crate) input_preview: Option<String>,
    pub(crate) output_preview: Option<String>,
}

impl RootFacts {
    /// What a summary shows of the root span `row_id` with these facts.
    pub(crate) fn of(row_id: &str, facts: &SpanFacts) -> Self {
        Self {
            row_id: Some(row_id.to_owned()),
            span_id: facts.span_id.clone(),
            name: facts.name.clone(),
            span_type: facts.span_type.clone(),
            input_preview: facts.input_preview.clone(),
            output_preview: facts.output_preview.clone(),
        }
    }
}

/// A summary's values, as `refresh` computes them from a trace's spans in order of start.
#[derive(Default)]
struct Summary {
    count: i64,
    errors: i64,
    start: Option<f64>,
    end: Option<f64>,
    sums: [f64; 4],
    xact: i64,
    root: Option<RootFacts>,
    tags: Vec<String>,
}

impl Summary {
    /// Whether this span's root facts are the summary's: it is the first root.
    fn wants_root(&self, totals: &SpanTotals) -> bool {
        totals.is_root && self.root.is_none()
    }

    /// Adds a span (spans come in order of `start_key`, then of arrival), with its root facts
    /// when [`Self::wants_root`] said so.
    fn add(&mut self, totals: &SpanTotals, xact: i64, tags: Option<&str>, root: Option<RootFacts>) {
        self.count += 1;
        self.errors += i64::from(totals.is_error);
        self.start = min_opt(self.start, totals.start);
        self.end = max_opt(self.end, totals.end);
        for (sum, add) in self.sums.iter_mut().zip(totals.sums) {
            *sum += add;
        }
        self.xact = self.xact.max(xact);
        // The first root is the earliest one.
        if self.wants_root(totals) {
            self.root = root;
        }
        if let Some(text) = tags {
            for tag in serde_json::from_str::<Vec<String>>(text).unwrap_or_default() {
                if !self.tags.contains(&tag) {
                    self.tags.push(tag);
                }
            }
        }
    }
}

/// Inserts the summary of a trace that has none yet and whose changes in the group are all
/// new rows, computed from them alone (a trace without a summary has no stored spans).
fn insert_new(
    tx: &Transaction<'_>,
    key: &TraceKey,
    delta: &Delta,
    org_id: &str,
    project_id: &str,
) -> rusqlite::Result<()> {
    let mut order: Vec<&NewSpan> = delta.new_rows.iter().collect();
    // Stable: rows with the same start keep the order they were written in (`seq`).
    order.sort_by(|a, b| a.start_key.total_cmp(&b.start_key));
    let mut summary = Summary::default();
    for row in order {
        let root = summary
            .wants_root(&row.totals)
            .then(|| row.root.clone())
            .flatten();
        summary.add(&row.totals, delta.xact, row.tags.as_deref(), root);
    }
    write_summary(tx, key, summary, org_id, project_id, None)
}

/// Recomputes one trace's summary from its spans' indexed facts (no payload parsing), in one
/// scan of the trace's index range; `stored` is its summary as `stored` found it.
fn refresh(
    tx: &Transaction<'_>,
    key: &TraceKey,
    stored: Option<StoredSummary>,
    org_id: &str,
    project_id: &str,
) -> rusqlite::Result<()> {
    let (kind, object_id, root) = key;
    let mut stmt = tx.prepare_cached(&sql::TRACE_SPANS)?;
    let trace_key = id_keys::id_key(root);
    let mut rows = stmt.query(params![kind, object_id, root, trace_key])?;
    let mut summary = Summary::default();
    while let Some(r) = rows.next()? {
        let totals = SpanTotals {
            is_root: r.get(8)?,
            is_error: r.get(0)?,
            has_tags: false,
            start: r.get(1)?,
            end: r.get(2)?,
            sums: [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?]
                .map(|v: Option<f64>| v.unwrap_or(0.0)),
        };
        let root = match summary.wants_root(&totals) {
            true => Some(RootFacts {
                row_id: Some(r.get(10)?),
                span_id: r.get(11)?,
                name: r.get(12)?,
                span_type: r.get(13)?,
                input_preview: r.get(14)?,
                output_preview: r.get(15)?,
            }),
            false => None,
        };
        summary.add(&totals, r.get(7)?, r.get_ref(16)?.as_str_or_null()?, root);
    }
    drop(rows);
    if summary.count == 0 {
        if let Some((id, ..)) = stored {
            tx.prepare_cached("DELETE FROM traces WHERE id = ?1")?
                .execute([id])?;
            key_tiers::remove(tx, IdKind::Summary, trace_key, id)?;
        }
        return Ok(());
    }
    let stored = stored.map(|(id, _, _, start_key)| (id, start_key));
    write_summary(tx, key, summary, org_id, project_id, stored)
}

/// Writes a summary: an UPDATE of the stored one (`stored`: its id and `start_key`), else an
/// INSERT.
fn write_summary(
    tx: &Transaction<'_>,
    key: &TraceKey,
    summary: Summary,
    org_id: &str,
    project_id: &str,
    stored: Option<(i64, f64)>,
) -> rusqlite::Result<()> {
    let (kind, object_id, root) = key;
    let root_row = summary.root.unwrap_or_default();
    let tags = (!summary.tags.is_empty()).then(|| Value::from(summary.tags).to_string());
    let (start, end) = (summary.start, summary.end);
    let duration = duration(start, end);
    let start_key = start.unwrap_or(0.0);
    let [prompt, completion, tokens, cost] = summary.sums;
    let values: [&dyn rusqlite::ToSql; 17] = [
        &start,
        &end,
        &duration,
        &summary.count,
        &summary.errors,
        &prompt,
        &completion,
        &tokens,
        &cost,
        &root_row.row_id,
        &root_row.span_id,
        &root_row.name,
        &root_row.span_type,
        &root_row.input_preview,
        &root_row.output_preview,
        &tags,
        &summary.xact,
    ];
    let root_key = id_keys::id_key(root);
    let trace_key: [&dyn rusqlite::ToSql; 4] = [kind, object_id, root, &root_key];
    let start: [&dyn rusqlite::ToSql; 1] = [&start_key];
    match stored {
        // Same start: an UPDATE that leaves `start_key` (indexed) alone touches no index.
        Some((id, old)) if old == start_key => {
            let params = values.iter().copied().chain([&id as &dyn rusqlite::ToSql]);
            tx.prepare_cached(&sql::TRACE_UPDATE)?
                .execute(rusqlite::params_from_iter(params))?;
        }
        Some((id, _)) => {
            let params = values
                .iter()
                .chain(&start)
                .copied()
                .chain([&id as &dyn rusqlite::ToSql]);
            tx.prepare_cached(&sql::TRACE_UPDATE_WITH_START)?
                .execute(rusqlite::params_from_iter(params))?;
        }
        None => {
            let owner: [&dyn rusqlite::ToSql; 2] = [&org_id, &project_id];
            let params = values
                .iter()
                .chain(&start)
                .chain(&trace_key)
                .chain(&owner)
                .copied();
            tx.prepare_cached(&sql::TRACE_INSERT)?
                .execute(rusqlite::params_from_iter(params))?;
            key_tiers::add(tx, IdKind::Summary, root_key, tx.last_insert_rowid())?;
        }
    }
    Ok(())
}

/// The statements that read and write `traces` rows.
mod sql {
    use crate::key_tiers::IdKind;
    use crate::statements::{insert, update};
    use std::sync::LazyLock;

    /// A trace's stored summary by its key (`?4`), matched on the whole key.
    pub(super) static STORED: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT id, start, \"end\", start_key FROM traces NOT INDEXED
             WHERE id IN ({}) AND kind = ?1 AND object_id = ?2 AND root_span_id = ?3",
            IdKind::Summary.seqs_sql("?4")
        )
    });
    /// The facts of a trace's spans, by its key (`?4`), in the order summaries read them.
    pub(super) static TRACE_SPANS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT is_error, start, \"end\", prompt_tokens, completion_tokens, tokens, cost, xact_id,
                    is_root, start_key, row_id, span_id, name, span_type, input_preview, output_preview, tags
             FROM spans NOT INDEXED
             WHERE seq IN ({}) AND kind = ?1 AND object_id = ?2 AND root_span_id = ?3
             ORDER BY start_key, seq",
            IdKind::Trace.seqs_sql("?4")
        )
    });

    /// `traces` summary columns, in the order of the writer's values.
    const TRACE_VALUES: [&str; 17] = [
        "start",
        "\"end\"",
        "duration",
        "span_count",
        "error_count",
        "prompt_tokens",
        "completion_tokens",
        "tokens",
        "cost",
        "root_id",
        "root_span_span_id",
        "root_name",
        "root_type",
        "input_preview",
        "output_preview",
        "tags",
        "xact_id",
    ];
    /// A trace's identity: its object, its root span id, and that id's key (`id_keys`).
    const TRACE_KEY: [&str; 4] = ["kind", "object_id", "root_span_id", "trace_key"];

    /// Update of a summary without its indexed `start_key`, then its `id`.
    pub(super) static TRACE_UPDATE: LazyLock<String> =
        LazyLock::new(|| update("traces", &TRACE_VALUES, &["id"]));
    /// Update including `start_key`, then its `id`.
    pub(super) static TRACE_UPDATE_WITH_START: LazyLock<String> = LazyLock::new(|| {
        update(
            "traces",
            &[&TRACE_VALUES[..], &["start_key"]].concat(),
            &["id"],
        )
    });
    /// Insert of a new summary: values, `start_key`, key, org and project.
    pub(super) static TRACE_INSERT: LazyLock<String> = LazyLock::new(|| {
        insert(
            "traces",
            &[
                &TRACE_VALUES[..],
                &["start_key"],
                &TRACE_KEY[..],
                &["org_id", "project_id"],
            ]
            .concat(),
        )
    });

    /// An UPDATE that adds differences: start, end, duration, then span and error counts,
    /// token and cost sums and the newest `xact_id`, then what `$tail` names.
    macro_rules! add {
        ($tail:literal) => {
            concat!(
                "UPDATE traces SET start = ?1, \"end\" = ?2, duration = ?3, ",
                "span_count = span_count + ?4, error_count = error_count + ?5, ",
                "prompt_tokens = prompt_tokens + ?6, completion_tokens = completion_tokens + ?7, ",
                "tokens = tokens + ?8, cost = cost + ?9, xact_id = max(xact_id, ?10)",
                $tail
            )
        };
    }
    /// Adds differences to the summary with this `id`.
    pub(super) const TRACE_ADD: &str = add!(" WHERE id = ?11");
    /// The same for a summary whose `start_key` moved: `start_key`, then the `id`.
    pub(super) const TRACE_ADD_WITH_START: &str = add!(", start_key = ?11 WHERE id = ?12");
}
