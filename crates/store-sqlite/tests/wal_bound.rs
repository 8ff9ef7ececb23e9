//! Under continuous writes the WAL is started over (and reused) instead of growing without
//! bound, and nothing written is lost across the restarts.

use serde_json::json;
use spanloom_model::ObjectRef;
use spanloom_store::{PageRequest, Store};
use spanloom_store_sqlite::{SqliteConfig, SqliteStore};

/// About 4 KB of text that does not compress away: hex digits of a pseudo-random sequence.
fn noise(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..256)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        })
        .collect()
}

/// Rows of about 4 KB each, so a few hundred requests fill the WAL many times over. The text
/// is metadata, not a payload field: payloads go to the payload log, not through the WAL.
fn request(project_id: &str, n: usize, per_request: usize) -> Vec<spanloom_ingest::WriteRow> {
    let rows: Vec<_> = (0..per_request)
        .map(|i| {
            let id = format!("r{n}-{i}");
            json!({
                "id": id, "project_id": project_id, "log_id": "g", "span_id": id,
                "root_span_id": id, "metadata": {"noise": noise((n * per_request + i) as u64)},
            })
        })
        .collect();
    let body = json!({"rows": rows, "api_version": 2}).to_string();
    spanloom_ingest::logs3::decode_logs3(body.as_bytes()).expect("valid rows")
}

/// A store in `dir` with this WAL limit (no text index), and an org and project in it.
async fn open_with_project(
    dir: &std::path::Path,
    wal_limit_bytes: u64,
) -> (SqliteStore, spanloom_model::Org, spanloom_model::Project) {
    let config = SqliteConfig {
        wal_limit_bytes,
        text_index: false,
        ..SqliteConfig::new(dir)
    };
    let store = SqliteStore::open(config).expect("open");
    let org = store.get_or_create_org("o").await.expect("org");
    let project = store
        .create_or_get_project(&org.id, "p", None)
        .await
        .expect("project");
    (store, org, project)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_restarted_not_grown() {
    let dir = tempfile::tempdir().expect("temp dir");
    let limit = 512 * 1024;
    let (store, org, project) = open_with_project(dir.path(), limit).await;
    let object = ObjectRef::project_logs(project.id.clone());
    let (requests, per_request) = (500, 10);
    let wal = dir.path().join("spanloom.db-wal");
    let mut largest_wal = 0;
    for n in 0..requests {
        store
            .write(&org.id, request(&project.id, n, per_request))
            .await
            .expect("write");
        // The writer looks at the WAL between groups, at most every 100 ms.
        if n % 10 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        largest_wal = largest_wal.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // Without restarts the WAL would hold every page ever written, more than the database.
    // With them it holds what arrives between two of the writer's checks (100 ms apart): with
    // 16 KiB pages and 10-row commits, about a third of the database here.
    let database = std::fs::metadata(dir.path().join("spanloom.db"))
        .expect("db")
        .len();
    assert!(database > 40 * limit, "database {database} bytes");
    assert!(
        largest_wal < database / 2,
        "the WAL grew to {largest_wal} bytes ({database} in the database, {limit}-byte limit)"
    );
    let mut seen = 0;
    let mut cursor = None;
    loop {
        let page = store
            .fetch_rows(
                &org.id,
                &object,
                PageRequest {
                    limit: 500,
                    cursor: cursor.clone(),
                    as_of: None,
                },
            )
            .await
            .expect("fetch");
        seen += page.rows.len();
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, requests * per_request);
    store.shutdown().await;
}

/// A growing WAL is kept longer than its frames with zeros (so frames are written over file
/// space that already exists), and a WAL with such a tail recovers every committed row: the
/// files are copied as a crash would leave them (no clean shutdown, no `-shm`) and reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_wal_is_filled_ahead_and_recovers_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, org, project) = open_with_project(dir.path(), 256 << 20).await;
    let (requests, per_request) = (40, 10);
    for n in 0..requests {
        store
            .write(&org.id, request(&project.id, n, per_request))
            .await
            .expect("write");
    }
    let wal = dir.path().join("spanloom.db-wal");
    let wal_len = std::fs::metadata(&wal).expect("wal").len();
    // 400 rows of ~4 KB are a few MiB of frames; the file is filled 16 MiB at a time.
    assert!(wal_len >= 16 << 20, "the WAL file is {wal_len} bytes");
    let crashed = tempfile::tempdir().expect("temp dir");
    for name in ["spanloom.db", "spanloom.db-wal"] {
        std::fs::copy(dir.path().join(name), crashed.path().join(name)).expect("copy");
    }
    store.shutdown().await;
    let reopened = SqliteStore::open(SqliteConfig {
        text_index: false,
        ..SqliteConfig::new(crashed.path())
    })
    .expect("reopen");
    let object = ObjectRef::project_logs(project.id.clone());
    let page = reopened
        .fetch_rows(
            &org.id,
            &object,
            PageRequest {
                limit: 1000,
                cursor: None,
                as_of: None,
            },
        )
        .await
        .expect("fetch");
    assert_eq!(page.rows.len(), requests * per_request);
    // Writing on after recovery works too (the zeroed tail is written over).
    reopened
        .write(&org.id, request(&project.id, requests, per_request))
        .await
        .expect("write after recovery");
    reopened.shutdown().await;
}
