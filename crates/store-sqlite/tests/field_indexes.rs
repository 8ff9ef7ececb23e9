//! Configured fields get an expression index that filters on them actually use.

use rusqlite::Connection;
use spanloom_store::Store;
use spanloom_store_sqlite::{SqliteConfig, SqliteStore};

#[tokio::test]
async fn filters_on_indexed_fields_use_the_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SqliteConfig {
        indexed_fields: vec!["metadata.user_id".into()],
        ..SqliteConfig::new(dir.path())
    };
    let store = SqliteStore::open(config).expect("open");
    store.shutdown().await;
    let conn = Connection::open(dir.path().join("spanloom.db")).expect("open db");
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT s.row_id FROM spans s
             WHERE s.kind = 1 AND s.object_id = 'p' AND (s.fields ->> '$.f_metadata_user_id') = 'u1'",
        )
        .expect("prepare")
        .query_map([], |r| r.get::<_, String>(3))
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        plan.iter()
            .any(|p| p.contains("spans_by_f_metadata_user_id")),
        "{plan:?}"
    );
}

#[test]
fn payload_fields_cannot_be_indexed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SqliteConfig {
        indexed_fields: vec!["input.text".into()],
        ..SqliteConfig::new(dir.path())
    };
    let err = SqliteStore::open(config).err().expect("refused");
    assert!(err.to_string().contains("cannot index field"));
}
