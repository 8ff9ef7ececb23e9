//! Payloads written with `--sync full` live in the payload log; a store reopened with
//! `--sync normal` still reads them, and keeps its own new payloads in the database.

use serde_json::json;
use spanloom_model::ObjectRef;
use spanloom_store::{PageRequest, Store};
use spanloom_store_sqlite::{SqliteConfig, SqliteStore, Synchronous};

/// A compressible chat text of about 6 KB naming `id`.
fn message(id: &str) -> String {
    (0..200).map(|k| format!("{id} says part {k}. ")).collect()
}

fn rows(project_id: &str, ids: &[&str]) -> Vec<spanloom_ingest::WriteRow> {
    let rows: Vec<_> = ids
        .iter()
        .map(|id| {
            json!({
                "id": id, "project_id": project_id, "log_id": "g", "span_id": id,
                "root_span_id": id, "input": [{"role": "user", "content": message(id)}],
            })
        })
        .collect();
    let body = json!({"rows": rows, "api_version": 2}).to_string();
    spanloom_ingest::logs3::decode_logs3(body.as_bytes()).expect("valid rows")
}

fn open(dir: &std::path::Path, synchronous: Synchronous) -> SqliteStore {
    SqliteStore::open(SqliteConfig {
        synchronous,
        text_index: false,
        ..SqliteConfig::new(dir)
    })
    .expect("open")
}

async fn inputs(store: &SqliteStore, org: &str, object: &ObjectRef) -> Vec<(String, String)> {
    let page = store
        .fetch_rows(
            org,
            object,
            PageRequest {
                limit: 100,
                cursor: None,
                as_of: None,
            },
        )
        .await
        .expect("fetch");
    let mut out: Vec<(String, String)> = page
        .rows
        .iter()
        .map(|r| {
            let v = r.to_event_value();
            (
                r.id.clone(),
                v["input"][0]["content"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A `--sync full` store in `dir`, with an org and a project (created or found).
async fn open_with_project(
    dir: &std::path::Path,
) -> (
    SqliteStore,
    spanloom_model::Org,
    spanloom_model::Project,
    ObjectRef,
) {
    let store = open(dir, Synchronous::Full);
    let org = store.get_or_create_org("o").await.expect("org");
    let project = store
        .create_or_get_project(&org.id, "p", None)
        .await
        .expect("project");
    let object = ObjectRef::project_logs(project.id.clone());
    (store, org, project, object)
}

/// What `inputs` gives for rows with these ids.
fn expected_inputs(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|id| ((*id).to_owned(), message(id)))
        .collect()
}

/// Blob values stored as payload log locators, and as anything else.
fn blob_forms(dir: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(dir.join("spanloom.db")).expect("db");
    conn.query_row(
        "SELECT count(*) FILTER (WHERE typeof(data) = 'integer'),
                count(*) FILTER (WHERE typeof(data) <> 'integer') FROM blobs",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_writes_to_the_log_and_normal_reads_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, org, project, object) = open_with_project(dir.path()).await;
    store
        .write(&org.id, rows(&project.id, &["a", "b"]))
        .await
        .expect("write");
    store.shutdown().await;
    drop(store);
    let log = dir.path().join("payloads").join("00000000.log");
    assert!(std::fs::metadata(&log).expect("log").len() > 1000);
    assert_eq!(blob_forms(dir.path()), (2, 0));

    let store = open(dir.path(), Synchronous::Normal);
    store
        .write(&org.id, rows(&project.id, &["c"]))
        .await
        .expect("write");
    let expected = expected_inputs(&["a", "b", "c"]);
    assert_eq!(inputs(&store, &org.id, &object).await, expected);
    store.shutdown().await;
    drop(store);
    assert_eq!(blob_forms(dir.path()), (2, 1));

    // Back on FULL, everything still reads, old and new (the store that appended before is
    // gone, and with it its lock on the log).
    let store = open(dir.path(), Synchronous::Full);
    store
        .write(&org.id, rows(&project.id, &["d"]))
        .await
        .expect("write");
    let mut expected = expected;
    expected.push(("d".into(), message("d")));
    assert_eq!(inputs(&store, &org.id, &object).await, expected);
    store.shutdown().await;
    assert_eq!(blob_forms(dir.path()), (3, 1));
}

/// A second store on the same directory while the first appends (`spanloom renormalize`
/// beside a running server) keeps its payloads in the database, and both read everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_beside_the_appender_writes_inline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, org, project, object) = open_with_project(dir.path()).await;
    server
        .write(&org.id, rows(&project.id, &["a"]))
        .await
        .expect("write");
    let command = open(dir.path(), Synchronous::Full);
    command
        .write(&org.id, rows(&project.id, &["b"]))
        .await
        .expect("write beside");
    server
        .write(&org.id, rows(&project.id, &["c"]))
        .await
        .expect("write after");
    let expected = expected_inputs(&["a", "b", "c"]);
    assert_eq!(inputs(&server, &org.id, &object).await, expected);
    assert_eq!(inputs(&command, &org.id, &object).await, expected);
    assert_eq!(blob_forms(dir.path()), (2, 1));
    command.shutdown().await;
    server.shutdown().await;
}
