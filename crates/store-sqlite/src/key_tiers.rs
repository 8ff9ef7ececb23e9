//! The id lookups of `spans` (by row id, span id and root span id) and of `traces` (by root
//! span id), kept in two tiers per id kind.
//!
//! Ids are random, so an index of them takes each new row to a random leaf page: a commit of
//! a few hundred rows dirtied nearly every page of such an index (on the ingest benchmark,
//! the two trace indexes alone were a third of the pages each commit wrote, and the share
//! grows with the store: at a million spans every new row is a page of its own, per index).
//! New keys go to a small *recent* table instead, whose few pages a commit rewrites anyway;
//! once it holds [`RECENT_LIMIT`] keys, the writer moves them into the *main* table in key
//! order, which touches each main page once for the whole batch. A lookup reads both tiers
//! (two short b-tree descents).
//!
//! Tables (`key` is the id's `id_keys::id_key`, `seq` the row's `spans.seq`, or for
//! summaries `traces.id`): `row_keys` / `row_keys_recent` for `spans.row_id`, `span_keys` /
//! `span_keys_recent` for `spans.span_id`, `trace_keys` / `trace_keys_recent` for
//! `spans.root_span_id`, `summary_keys` / `summary_keys_recent` for `traces.root_span_id`.

use rusqlite::{Connection, params};
#[cfg(test)]
use serde_json::Value;
use std::sync::LazyLock;

/// Rows whose keys the recent tier holds before they are moved into the main tier: small
/// enough to be a few pages (about 17 bytes per key, 9 pages of 16 KiB), large enough that a
/// move, which rewrites the main tier, is rare. (Small in unit tests, so they see moves.)
pub(crate) const RECENT_LIMIT: i64 = if cfg!(test) { 40 } else { 8_192 };

/// Which id of which row (in `IdKind::ALL` order, which `KEY_SQL` is indexed by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// `spans.row_id` (`id` in rows).
    Row,
    /// `spans.span_id`.
    Span,
    /// `spans.root_span_id`: the spans of a trace.
    Trace,
    /// `traces.root_span_id`: a trace's summary (the `seq` is `traces.id`).
    Summary,
}

impl IdKind {
    /// Every kind, in the order a move handles them.
    pub(crate) const ALL: [IdKind; 4] = [IdKind::Row, IdKind::Span, IdKind::Trace, IdKind::Summary];

    /// The main and recent tables.
    const fn tables(self) -> (&'static str, &'static str) {
        match self {
            IdKind::Row => ("row_keys", "row_keys_recent"),
            IdKind::Span => ("span_keys", "span_keys_recent"),
            IdKind::Trace => ("trace_keys", "trace_keys_recent"),
            IdKind::Summary => ("summary_keys", "summary_keys_recent"),
        }
    }

    /// SQL that gives the `seq` of every row whose id has the key `{param}` (a parameter or
    /// a column of an outer query), from both tiers.
    pub(crate) fn seqs_sql(self, param: &str) -> String {
        let (main, recent) = self.tables();
        format!(
            "SELECT seq FROM {main} WHERE key = {param} UNION ALL SELECT seq FROM {recent} WHERE key = {param}"
        )
    }

    /// SQL that gives the `seq` of every row whose key is in the JSON array `?{param}`.
    pub(crate) fn seqs_in_json_sql(self, param: &str) -> String {
        let (main, recent) = self.tables();
        format!(
            "SELECT seq FROM {main} WHERE key IN (SELECT value FROM json_each({param}))
             UNION ALL SELECT seq FROM {recent} WHERE key IN (SELECT value FROM json_each({param}))"
        )
    }
}

/// Schema of the tiers, filled from the rows stored so far (schema version 7).
pub(crate) const SCHEMA: &str = "
CREATE TABLE row_keys (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
CREATE TABLE row_keys_recent (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
CREATE TABLE span_keys (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
CREATE TABLE span_keys_recent (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
INSERT INTO row_keys (key, seq) SELECT row_key, seq FROM spans ORDER BY row_key, seq;
INSERT INTO span_keys (key, seq) SELECT span_key, seq FROM spans WHERE span_key IS NOT NULL ORDER BY span_key, seq;
DROP INDEX spans_by_row;
DROP INDEX spans_by_span;
";

/// The tiers of the trace lookups, filled from the rows stored so far (schema version 8).
pub(crate) const TRACE_SCHEMA: &str = "
CREATE TABLE trace_keys (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
CREATE TABLE trace_keys_recent (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
CREATE TABLE summary_keys (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
CREATE TABLE summary_keys_recent (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
INSERT INTO trace_keys (key, seq) SELECT trace_key, seq FROM spans WHERE trace_key IS NOT NULL ORDER BY trace_key, seq;
INSERT INTO summary_keys (key, seq) SELECT trace_key, id FROM traces ORDER BY trace_key, id;
DROP INDEX spans_by_trace;
DROP INDEX traces_by_key;
";

/// The statements that add a key (to the recent tier) and remove one (from both tiers), per
/// kind in `IdKind::ALL` order: built once, since the writer runs them for every row.
struct KeySql {
    add: String,
    remove: [String; 2],
}

static KEY_SQL: LazyLock<[KeySql; 4]> = LazyLock::new(|| {
    IdKind::ALL.map(|kind| {
        let (main, recent) = kind.tables();
        KeySql {
            add: format!("INSERT OR IGNORE INTO {recent} (key, seq) VALUES (?1, ?2)"),
            remove: [main, recent].map(|t| format!("DELETE FROM {t} WHERE key = ?1 AND seq = ?2")),
        }
    })
});

/// Records the key of a new row's id.
pub(crate) fn add(c: &Connection, kind: IdKind, key: i64, seq: i64) -> rusqlite::Result<()> {
    c.prepare_cached(&KEY_SQL[kind as usize].add)?
        .execute(params![key, seq])?;
    Ok(())
}

/// Forgets the key of a row's id (the row is deleted, or its id changed).
pub(crate) fn remove(c: &Connection, kind: IdKind, key: i64, seq: i64) -> rusqlite::Result<()> {
    for sql in &KEY_SQL[kind as usize].remove {
        c.prepare_cached(sql)?.execute(params![key, seq])?;
    }
    Ok(())
}

/// Moves a row from one key of an id to another (`None`: the row has no such id, before or
/// after); nothing to do when the key stays.
pub(crate) fn change(
    c: &Connection,
    kind: IdKind,
    old: Option<i64>,
    new: Option<i64>,
    seq: i64,
) -> rusqlite::Result<()> {
    if old == new {
        return Ok(());
    }
    if let Some(old) = old {
        remove(c, kind, old, seq)?;
    }
    if let Some(new) = new {
        add(c, kind, new, seq)?;
    }
    Ok(())
}

/// Rows whose keys wait in the recent tier (every row has a row id; not all a span id).
pub(crate) fn recent_rows(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT count(*) FROM row_keys_recent", [], |r| r.get(0))
}

/// Moves the recent keys of one kind into its main tier, in key order (in the caller's
/// transaction). The writer moves one kind per pause between groups, so no pause is long.
pub(crate) fn merge(c: &Connection, kind: IdKind) -> rusqlite::Result<()> {
    let (main, recent) = kind.tables();
    c.execute_batch(&format!(
        "INSERT OR IGNORE INTO {main} (key, seq) SELECT key, seq FROM {recent} ORDER BY key, seq;
         DELETE FROM {recent};"
    ))
}

/// Moves every kind's recent keys (in the caller's transaction).
#[cfg(test)]
fn merge_all(c: &Connection) -> rusqlite::Result<()> {
    IdKind::ALL.into_iter().try_for_each(|kind| merge(c, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteConfig, SqliteStore};
    use serde_json::json;
    use spanloom_model::ObjectRef;
    use spanloom_store::{PageRequest, Store};

    /// Rows written across several moves into the main tier are found by row id, by span id
    /// and by BTQL id filters; deleted ones are not; a reopened store keeps finding them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_are_found_across_moves_between_tiers() {
        let dir = tempfile::tempdir().unwrap();
        let config = SqliteConfig {
            text_index: false,
            ..SqliteConfig::new(dir.path())
        };
        let store = SqliteStore::open(config.clone()).unwrap();
        let org = store.get_or_create_org("o").await.unwrap();
        let project = store
            .create_or_get_project(&org.id, "p", None)
            .await
            .unwrap();
        let object = ObjectRef::project_logs(project.id.clone());
        let write = |ids: Vec<Value>| {
            let body = json!({"rows": ids, "api_version": 2}).to_string();
            spanloom_ingest::logs3::decode_logs3(body.as_bytes()).unwrap()
        };
        let row = |i: usize| {
            json!({"id": format!("r{i}"), "project_id": project.id, "log_id": "g",
                   "span_id": format!("s{i}"), "root_span_id": format!("t{}", i / 5)})
        };
        let total = 3 * RECENT_LIMIT as usize + 7;
        for chunk in (0..total).collect::<Vec<_>>().chunks(10) {
            store
                .write(&org.id, write(chunk.iter().map(|&i| row(i)).collect()))
                .await
                .unwrap();
            // End merges of the same rows, found by their row id.
            let merges = chunk
                .iter()
                .map(|&i| {
                    json!({"id": format!("r{i}"), "project_id": project.id, "log_id": "g",
                                 "_is_merge": true, "output": i})
                })
                .collect();
            store.write(&org.id, write(merges)).await.unwrap();
        }
        let delete =
            json!({"id": "r3", "project_id": project.id, "log_id": "g", "_object_delete": true});
        store.write(&org.id, write(vec![delete])).await.unwrap();
        // A replace that moves a row to another span id and another trace.
        let moved = json!({"id": "r5", "project_id": project.id, "log_id": "g", "span_id": "moved",
                           "root_span_id": "t0"});
        store.write(&org.id, write(vec![moved])).await.unwrap();
        let main: i64 = {
            let c = Connection::open(dir.path().join("spanloom.db")).unwrap();
            c.query_row("SELECT count(*) FROM row_keys", [], |r| r.get(0))
                .unwrap()
        };
        assert!(main >= 3 * RECENT_LIMIT - 1, "only {main} keys were moved");
        check(&store, &org.id, &object, &project.id, total).await;
        store.shutdown().await;
        drop(store);
        let reopened = SqliteStore::open(config).unwrap();
        check(&reopened, &org.id, &object, &project.id, total).await;
        reopened.shutdown().await;
    }

    async fn check(
        store: &SqliteStore,
        org: &str,
        object: &ObjectRef,
        project_id: &str,
        total: usize,
    ) {
        for i in [0, 1, 4, 77, total - 1] {
            let got = store.get_row(org, object, &format!("r{i}")).await.unwrap();
            assert_eq!(
                got.map(|r| r.to_event_value()["output"].clone()),
                Some(json!(i))
            );
            let span = store.get_span(org, object, &format!("s{i}")).await.unwrap();
            assert_eq!(span.map(|r| r.id), Some(format!("r{i}")));
        }
        // Traces are read whole through their keys, summaries included.
        let t0 = store
            .get_trace(org, object, "t0")
            .await
            .unwrap()
            .expect("t0");
        let mut ids: Vec<String> = t0.spans.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        assert_eq!(ids, ["r0", "r1", "r2", "r4", "r5"]);
        assert_eq!(t0.summary.span_count, 5);
        let last = format!("t{}", (total - 1) / 5);
        let outline = store.get_trace_outline(org, object, &last).await.unwrap();
        assert_eq!(outline.map(|t| t.spans.len()), Some((total - 1) % 5 + 1));
        assert!(store.get_row(org, object, "r3").await.unwrap().is_none());
        assert!(store.get_span(org, object, "s3").await.unwrap().is_none());
        assert!(store.get_span(org, object, "s5").await.unwrap().is_none());
        let moved = store.get_span(org, object, "moved").await.unwrap();
        assert_eq!(moved.map(|r| r.id), Some("r5".to_owned()));
        // Each filter alone is answered from the key tiers (no scan); trace listings find a
        // matching span's trace by key, or scan traces and look their spans up by key.
        for (shape, filter, field, expected) in [
            ("", "id IN ('r1', 'r3', 'r90')", "id", vec!["r1", "r90"]),
            ("", "span_id = 's2'", "id", vec!["r2"]),
            ("", "span_id = 'moved'", "id", vec!["r5"]),
            (
                "",
                "root_span_id = 't1'",
                "id",
                vec!["r6", "r7", "r8", "r9"],
            ),
            (" traces", "span_id = 's7'", "root_span_id", vec!["t1"]),
            (" traces", "output = 2", "root_span_id", vec!["t0"]),
        ] {
            let query = spanloom_query::parse_text(&format!(
                "select: {field} | from: project_logs('{project_id}'){shape} | filter: {filter}"
            ))
            .unwrap();
            let out = store.query(org, &query).await.unwrap();
            let mut ids: Vec<String> = out
                .rows
                .iter()
                .map(|r| {
                    serde_json::from_str::<Value>(r).unwrap()[field]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            ids.sort();
            assert_eq!(ids, expected, "{filter}");
        }
        let page = store
            .fetch_rows(
                org,
                object,
                PageRequest {
                    limit: 1,
                    cursor: None,
                    as_of: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.rows.len(), 1);
        store.shutdown().await;
    }

    fn seqs(c: &Connection, kind: IdKind, key: i64) -> Vec<i64> {
        let mut v: Vec<i64> = c
            .prepare(&kind.seqs_sql("?1"))
            .unwrap()
            .query_map([key], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        v.sort_unstable();
        v
    }

    #[test]
    fn keys_are_found_in_either_tier_until_removed() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE spans (seq INTEGER PRIMARY KEY, row_key INTEGER NOT NULL, span_key INTEGER,
                 trace_key INTEGER);
             CREATE INDEX spans_by_row ON spans (row_key);
             CREATE INDEX spans_by_span ON spans (span_key);
             CREATE INDEX spans_by_trace ON spans (trace_key);
             CREATE TABLE traces (id INTEGER PRIMARY KEY, trace_key INTEGER NOT NULL);
             CREATE INDEX traces_by_key ON traces (trace_key);
             INSERT INTO spans VALUES (1, 10, 100, 1000), (2, 20, NULL, 1000), (3, 21, NULL, NULL);
             INSERT INTO traces VALUES (5, 1000);",
        )
        .unwrap();
        c.execute_batch(SCHEMA).unwrap();
        c.execute_batch(TRACE_SCHEMA).unwrap();
        assert_eq!(seqs(&c, IdKind::Row, 10), [1]);
        assert_eq!(seqs(&c, IdKind::Span, 100), [1]);
        assert_eq!(seqs(&c, IdKind::Trace, 1000), [1, 2]);
        assert_eq!(seqs(&c, IdKind::Summary, 1000), [5]);
        add(&c, IdKind::Trace, 1000, 4).unwrap();
        add(&c, IdKind::Summary, 2000, 6).unwrap();
        add(&c, IdKind::Row, 30, 3).unwrap();
        add(&c, IdKind::Row, 10, 4).unwrap();
        assert_eq!(recent_rows(&c).unwrap(), 2);
        assert_eq!(seqs(&c, IdKind::Row, 10), [1, 4]);
        merge_all(&c).unwrap();
        assert_eq!(recent_rows(&c).unwrap(), 0);
        assert_eq!(seqs(&c, IdKind::Row, 10), [1, 4]);
        assert_eq!(seqs(&c, IdKind::Row, 30), [3]);
        remove(&c, IdKind::Row, 10, 1).unwrap();
        add(&c, IdKind::Span, 200, 2).unwrap();
        remove(&c, IdKind::Span, 200, 2).unwrap();
        assert_eq!(seqs(&c, IdKind::Row, 10), [4]);
        assert!(seqs(&c, IdKind::Span, 200).is_empty());
        // Trace keys moved with the others, and are removed from either tier.
        assert_eq!(seqs(&c, IdKind::Trace, 1000), [1, 2, 4]);
        assert_eq!(seqs(&c, IdKind::Summary, 2000), [6]);
        remove(&c, IdKind::Trace, 1000, 2).unwrap();
        remove(&c, IdKind::Summary, 2000, 6).unwrap();
        assert_eq!(seqs(&c, IdKind::Trace, 1000), [1, 4]);
        assert!(seqs(&c, IdKind::Summary, 2000).is_empty());
        let json = c
            .prepare(&IdKind::Row.seqs_in_json_sql("?1"))
            .unwrap()
            .query_map(["[30, 20, 99]"], |r| r.get::<_, i64>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(json.len(), 2);
    }
}
