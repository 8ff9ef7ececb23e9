//! The index against a real store: lookups narrow to the right rows once the indexer has
//! caught up, answers stay exact through merges, deletes and restarts, and rows written after
//! the watermark are still found.

use crate::{SqliteConfig, SqliteStore};
use rusqlite::Connection;
use serde_json::{Value, json};
use spanloom_model::ObjectRef;
use spanloom_store::Store;
use std::path::Path;
use std::time::{Duration, Instant};

async fn write(store: &SqliteStore, org: &str, rows: Vec<Value>) {
    let body = json!({"rows": rows, "api_version": 2}).to_string();
    let rows = spanloom_ingest::logs3::decode_logs3(body.as_bytes()).expect("rows decode");
    store.write(org, rows).await.expect("write");
}

fn span(object: &ObjectRef, id: &str, extra: Value) -> Value {
    let mut v = json!({
        "id": id, "project_id": object.id, "log_id": "g", "span_id": format!("s-{id}"),
        "root_span_id": format!("t-{id}"), "created": "2026-11-21T10:00:00.000000+00:00",
    });
    if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), extra) {
        map.extend(extra);
    }
    v
}

async fn ids(store: &SqliteStore, org: &str, text: &str) -> Vec<String> {
    let q = spanloom_query::parse_text(text).expect("query parses");
    let out = store.query(org, &q).await.expect("query runs");
    let mut ids: Vec<String> = out
        .rows
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(r).expect("json row");
            v["id"]
                .as_str()
                .or(v["root_span_id"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

/// Ids of the spans of `src` matching the clause-syntax `filter`.
async fn matching(store: &SqliteStore, org: &str, src: &str, filter: &str) -> Vec<String> {
    ids(
        store,
        org,
        &format!("select: id | from: {src} | filter: {filter}"),
    )
    .await
}

/// Waits until every committed row is indexed.
async fn caught_up(dir: &Path) {
    let started = Instant::now();
    loop {
        let main = Connection::open(dir.join("spanloom.db")).expect("db");
        let newest: i64 = main
            .query_row("SELECT coalesce(max(xact_id), 0) FROM spans", [], |r| {
                r.get(0)
            })
            .expect("max");
        let index = Connection::open(dir.join("text-index.db")).expect("index");
        let watermark: i64 = index
            .query_row(
                "SELECT coalesce((SELECT value FROM state WHERE key = 'watermark'), 0)",
                [],
                |r| r.get(0),
            )
            .expect("watermark");
        if watermark >= newest && newest > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the indexer did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn seqs_of(dir: &Path, ids: &[&str]) -> Vec<i64> {
    let main = Connection::open(dir.join("spanloom.db")).expect("db");
    let mut out: Vec<i64> = ids
        .iter()
        .map(|id| {
            main.query_row("SELECT seq FROM spans WHERE row_id = ?1", [id], |r| {
                r.get(0)
            })
            .expect("seq")
        })
        .collect();
    out.sort();
    out
}

/// A store in a new directory, with an org and a project: the project's logs, and their
/// BTQL source text.
async fn open_project() -> (tempfile::TempDir, SqliteStore, String, ObjectRef, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(SqliteConfig::new(dir.path())).expect("open");
    let org = store.get_or_create_org("o").await.expect("org").id;
    let project = store
        .create_or_get_project(&org, "p", None)
        .await
        .expect("project");
    let src = format!("project_logs('{}')", project.id);
    (dir, store, org, ObjectRef::project_logs(project.id), src)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_uses_the_index_and_stays_exact() {
    let (dir, store, org, obj, src) = open_project().await;
    write(
        &store,
        &org,
        vec![
            span(
                &obj,
                "a",
                json!({"input": {"q": "The Zyxwvut report"}, "output": "fine"}),
            ),
            span(
                &obj,
                "b",
                json!({"input": "我在东京塔看量子猫", "metadata": {"k": "tab\there"}}),
            ),
            span(
                &obj,
                "c",
                json!({"output": {"text": "nothing rare, ends with zyx"}}),
            ),
            span(
                &obj,
                "d",
                json!({"error": "Timeout after 30s talking to upstream"}),
            ),
            span(
                &obj,
                "e",
                json!({"input": "tabulated", "expected": "a multi word phrase here"}),
            ),
        ],
    )
    .await;
    caught_up(dir.path()).await;
    let index = store.text_index.clone().expect("text index on");

    // Substring inside a word, any case: the index narrows to exactly the rows holding it.
    let found = index.candidates("zyxwv", true).expect("narrowed");
    assert_eq!(found.seqs, seqs_of(dir.path(), &["a"]));
    assert_eq!(matching(&store, &org, &src, "MATCH 'yxWVu'").await, ["a"]);
    assert_eq!(
        matching(&store, &org, &src, "MATCH 'zyx'").await,
        ["a", "c"]
    );
    // CJK inside a run, and across word boundaries.
    assert_eq!(matching(&store, &org, &src, "MATCH '量子猫'").await, ["b"]);
    assert_eq!(matching(&store, &org, &src, "MATCH '京'").await, ["b"]);
    assert_eq!(
        matching(&store, &org, &src, "MATCH 'ulti word phr'").await,
        ["e"]
    );
    assert_eq!(
        matching(&store, &org, &src, "MATCH 'timeout after 30'").await,
        ["d"]
    );
    // A field-specific search over an unescaped metadata value.
    assert_eq!(
        matching(&store, &org, &src, "metadata.k MATCH 'tab\there'").await,
        ["b"]
    );
    // MATCH inside OR and NOT, in the traces shape, and under an aggregation.
    assert_eq!(
        matching(&store, &org, &src, "MATCH 'zyxw' or MATCH 'tabul'").await,
        ["a", "e"]
    );
    assert_eq!(
        matching(&store, &org, &src, "not MATCH 'zyx'").await,
        ["b", "d", "e"]
    );
    assert_eq!(
        ids(
            &store,
            &org,
            &format!("select: * | from: {src} traces | filter: MATCH 'upstream'")
        )
        .await,
        ["t-d"]
    );
    let q = spanloom_query::parse_text(&format!("dimensions: span_attributes.type | measures: count(1) as n | from: {src} | filter: MATCH 'zyx'")).expect("parses");
    let out = store.query(&org, &q).await.expect("runs");
    assert!(out.rows[0].contains("\"n\":2"), "{:?}", out.rows);

    // A merge replaces the text: the new word is found, the old one no longer matches.
    write(&store, &org, vec![json!({"id": "a", "project_id": obj.id, "log_id": "g", "_is_merge": true, "input": {"q": "rewritten quokka"}})]).await;
    // Right after the write (maybe not indexed yet) and after the indexer caught up.
    assert_eq!(matching(&store, &org, &src, "MATCH 'quokka'").await, ["a"]);
    caught_up(dir.path()).await;
    assert_eq!(matching(&store, &org, &src, "MATCH 'quokka'").await, ["a"]);
    assert_eq!(
        matching(&store, &org, &src, "MATCH 'zyxwv'").await,
        Vec::<String>::new()
    );
    write(
        &store,
        &org,
        vec![json!({"id": "c", "project_id": obj.id, "log_id": "g", "_object_delete": true})],
    )
    .await;
    assert_eq!(
        matching(&store, &org, &src, "MATCH 'zyx'").await,
        Vec::<String>::new()
    );
    store.shutdown().await;
    // The lock on the index goes with the last handle.
    drop((index, store));

    // After a restart the dictionary is reloaded and new rows get new terms.
    let store = SqliteStore::open(SqliteConfig::new(dir.path())).expect("reopen");
    write(
        &store,
        &org,
        vec![span(&obj, "f", json!({"input": "brand new wombat"}))],
    )
    .await;
    caught_up(dir.path()).await;
    let index = store.text_index.clone().expect("text index on");
    assert_eq!(
        index.candidates("wombat", true).expect("narrowed").seqs,
        seqs_of(dir.path(), &["f"])
    );
    assert_eq!(
        matching(&store, &org, &src, "MATCH 'quokka' or MATCH 'wombat'").await,
        ["a", "f"]
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_merge_without_losing_postings() {
    let (dir, store, org, obj, _) = open_project().await;
    // One pass per write: more passes than a level holds, so segments get merged.
    for i in 0..(super::indexer::FANIN * 2 + 1) {
        write(
            &store,
            &org,
            vec![span(
                &obj,
                &format!("r{i}"),
                json!({"input": format!("common word{i}")}),
            )],
        )
        .await;
        caught_up(dir.path()).await;
    }
    let index = store.text_index.clone().expect("text index on");
    let all: Vec<String> = (0..(super::indexer::FANIN * 2 + 1))
        .map(|i| format!("r{i}"))
        .collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(
        index.candidates("common", true).expect("narrowed").seqs,
        seqs_of(dir.path(), &refs)
    );
    assert_eq!(
        index.candidates("word3", true).expect("narrowed").seqs,
        seqs_of(dir.path(), &["r3"])
    );
    let segments: i64 = Connection::open(dir.path().join("text-index.db"))
        .expect("index")
        .query_row("SELECT count(*) FROM segments", [], |r| r.get(0))
        .expect("count");
    assert!(
        segments < super::indexer::FANIN as i64,
        "{segments} segments"
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_keeps_the_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = SqliteStore::open(SqliteConfig::new(dir.path())).expect("open");
    assert!(first.text_index.is_some());
    // A second opener (a CLI command beside the server) scans rather than index.
    let second = SqliteStore::open(SqliteConfig::new(dir.path())).expect("open again");
    assert!(second.text_index.is_none());
    second.shutdown().await;
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_equality_is_found_through_the_index_and_stays_exact() {
    let (dir, store, org, obj, src) = open_project().await;
    write(
        &store,
        &org,
        vec![
            span(&obj, "a", json!({"metadata": {"user_id": "user-1723"}})),
            // The same text as a longer value, in another field, and in the input.
            span(&obj, "b", json!({"metadata": {"user_id": "user-17230"}})),
            span(&obj, "c", json!({"metadata": {"session": "user-1723"}})),
            span(
                &obj,
                "d",
                json!({"input": "user-1723", "metadata": {"user_id": "u"}}),
            ),
            // Case differs; escaped characters; a nested path; a non-ASCII value.
            span(&obj, "e", json!({"metadata": {"user_id": "USER-1723"}})),
            span(
                &obj,
                "f",
                json!({"metadata": {"note": "say \"hi\"\tthen\\go"}}),
            ),
            span(
                &obj,
                "g",
                json!({"metadata": {"ctx": {"tenant": "acme-eu"}}}),
            ),
            span(&obj, "h", json!({"metadata": {"city": "Zürich"}})),
            span(&obj, "i", json!({"error": "Timeout after 30s"})),
        ],
    )
    .await;
    caught_up(dir.path()).await;
    let index = store.text_index.clone().expect("text index on");
    // The index narrows an id-like value to the rows holding its text, a superset...
    let found = index.candidates("user-1723", false).expect("narrowed");
    assert_eq!(found.seqs, seqs_of(dir.path(), &["a", "b", "c", "d", "e"]));
    // ...and the filter keeps exactly the equal ones.
    let eq = |filter: &'static str| matching(&store, &org, &src, filter);
    assert_eq!(eq("metadata.user_id = 'user-1723'").await, ["a"]);
    assert_eq!(eq("'user-1723' = metadata.user_id").await, ["a"]);
    assert_eq!(eq("metadata.user_id = 'USER-1723'").await, ["e"]);
    assert_eq!(eq("metadata.note = 'say \"hi\"\tthen\\go'").await, ["f"]);
    assert_eq!(eq("metadata.ctx.tenant = 'acme-eu'").await, ["g"]);
    assert_eq!(eq("metadata.city = 'Zürich'").await, ["h"]);
    assert_eq!(eq("error = 'Timeout after 30s'").await, ["i"]);
    assert_eq!(
        eq("metadata.user_id = 'nobody'").await,
        Vec::<String>::new()
    );
    // Rows written after the index's watermark are found too (the unindexed tail).
    write(
        &store,
        &org,
        vec![span(
            &obj,
            "j",
            json!({"metadata": {"user_id": "user-1723"}}),
        )],
    )
    .await;
    assert_eq!(eq("metadata.user_id = 'user-1723'").await, ["a", "j"]);
    store.shutdown().await;
}
