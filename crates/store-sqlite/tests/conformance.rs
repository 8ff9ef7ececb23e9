//! The store conformance suite, run against the SQLite backend.

use spanloom_store::Store;
use spanloom_store_sqlite::{SqliteConfig, SqliteStore};
use std::sync::Arc;

async fn make() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(SqliteConfig::new(dir.path())).expect("open store");
    (Arc::new(store), dir)
}

spanloom_store::store_conformance_suite!(make());
