//! The embedded SQLite backend of [`spanloom_store::Store`].
//!
//! ```text
//! api ──write()──▶ bounded queue ──▶ writer thread: group commit (one SQLite transaction for
//!                                      many requests, one savepoint and one _xact_id each)
//! api ──reads───▶ pool of reader connections (WAL lets them run beside the writer)
//! ```
//!
//! * `schema` — tables: the append-only `write_log`, merged `spans`, per-trace `traces`
//!   summaries, `comments`, and the org / key / project / experiment / dataset registry.
//! * `writer` — the single writer thread; applies [`spanloom_store::apply`] and keeps trace
//!   summaries current in the same transaction, so a write is acknowledged only once committed.
//! * `reader` — the reader pool and every read query.
//!
//! * `payload_log` — compressed payload values (input, output, expected) in append-only
//!   segment files, written once instead of through the WAL and a checkpoint.
//!
//! Everything lives in the data directory, `<data dir>/spanloom.db` (plus its WAL) and
//! `<data dir>/payloads/`, and needs no setup.

mod background;
mod blobs;
mod checkpoint;
mod codec;
mod config;
mod fields;
mod history;
mod id_keys;
mod key_tiers;
mod payload_log;
mod query;
mod reader;
mod registry;
mod rollups;
mod schema;
mod statements;
mod syncer;
mod text_index;
mod trace_summary;
mod wal_bound;
mod writer;

pub use config::{DEFAULT_INDEXED_FIELDS, DEFAULT_WAL_LIMIT_BYTES, SqliteConfig, Synchronous};

use async_trait::async_trait;
use fields::IndexedFields;
use reader::ReaderPool;
use rusqlite::Connection;
use serde_json::{Map, Value};
use spanloom_ingest::WriteRow;
use spanloom_model::{
    ApiKeyInfo, AuthContext, Dataset, Experiment, ObjectRef, Org, Project, XactId,
};
use spanloom_store::{
    CpuTurns, PageRequest, RowPage, Store, StoreError, StoreResult, StoredRow, Trace, TracePage,
    TraceQuery, WriteReceipt,
};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, oneshot};
use writer::{Job, WriterHandle};

/// The SQLite store. Cheap to share behind an `Arc`.
pub struct SqliteStore {
    sender: RwLock<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<WriterHandle>>,
    checkpointer: Mutex<Option<checkpoint::Checkpointer>>,
    readers: Arc<ReaderPool>,
    queue_capacity: usize,
    /// Turns to prepare (encode) writes for the writer (see [`CpuTurns`]).
    prepare_turns: CpuTurns,
    /// The indexed fields (for the query compiler).
    indexed: Arc<IndexedFields>,
    /// The full-text index behind `MATCH`, and the thread that keeps it current.
    text_index: Option<Arc<text_index::TextIndex>>,
    indexer: Mutex<Option<text_index::Indexer>>,
}

/// The WAL file of a database file.
fn wal_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

pub(crate) fn backend_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `config.dir`, and starts its writer thread.
    pub fn open(config: SqliteConfig) -> StoreResult<Self> {
        std::fs::create_dir_all(&config.dir).map_err(|e| {
            StoreError::Backend(format!("cannot create {}: {e}", config.dir.display()))
        })?;
        let path = config.db_path();
        let mut conn = Connection::open(&path).map_err(backend_err)?;
        schema::configure_writer(&conn, &config).map_err(backend_err)?;
        schema::migrate(&mut conn).map_err(backend_err)?;
        let indexed = Arc::new(
            schema::create_field_indexes(&conn, &config.indexed_fields)
                .map_err(StoreError::Backend)?,
        );
        let payload_log = Arc::new(
            payload_log::PayloadLog::open(
                &config.payload_log_dir(),
                config.synchronous == Synchronous::Full,
            )
            .map_err(backend_err)?,
        );
        if config.synchronous == Synchronous::Full && !payload_log.appends() {
            tracing::info!(
                "another process appends to the payload log: payloads stay in the database here"
            );
        }
        query::functions::register(&conn, &payload_log).map_err(backend_err)?;
        let readers =
            Arc::new(ReaderPool::open(&path, config.readers, &payload_log).map_err(backend_err)?);
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let syncer = match config.synchronous {
            Synchronous::Full => syncer::Syncer::background(&path).map_err(backend_err)?,
            Synchronous::Normal => syncer::Syncer::Immediate,
        };
        let wal_progress = Arc::new(wal_bound::WalProgress::default());
        let writer = writer::spawn(
            conn,
            receiver,
            writer::WriterSetup {
                capacity: config.queue_capacity,
                syncer,
                indexed: Arc::clone(&indexed),
                wal_progress: Arc::clone(&wal_progress),
                wal_limit_bytes: config.wal_limit_bytes,
                // With `--sync normal` the WAL is not flushed at commit, so flushing the log
                // there would cost what NORMAL saves, and flushing it later could leave a
                // surviving row pointing at lost bytes: payloads stay in the database.
                payload_log: payload_log.appends().then(|| Arc::clone(&payload_log)),
            },
        )
        .map_err(backend_err)?;
        let checkpointer =
            checkpoint::Checkpointer::spawn(&path, wal_progress).map_err(backend_err)?;
        let (text_index, indexer) = if config.text_index {
            // The index is derived data: if it cannot start, MATCH scans and nothing is lost.
            match text_index::TextIndex::open(&config.dir)
                .map(Arc::new)
                .and_then(|index| {
                    text_index::Indexer::spawn(&path, Arc::clone(&index), &payload_log)
                        .map(|i| (index, i))
                        .map_err(text_index::OpenError::from)
                }) {
                Ok((index, indexer)) => (Some(index), Some(indexer)),
                Err(text_index::OpenError::InUse) => {
                    tracing::info!("another process keeps the text index: MATCH scans here");
                    (None, None)
                }
                Err(e) => {
                    tracing::error!(error = %e, "the text index is off: MATCH will scan");
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        Ok(Self {
            sender: RwLock::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            checkpointer: Mutex::new(Some(checkpointer)),
            readers,
            queue_capacity: config.queue_capacity,
            prepare_turns: CpuTurns::new(),
            indexed,
            text_index,
            indexer: Mutex::new(indexer),
        })
    }

    /// Jobs waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        let guard = self.sender.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .map_or(0, |s| self.queue_capacity - s.capacity())
    }

    fn sender(&self) -> StoreResult<mpsc::Sender<Job>> {
        let guard = self.sender.read().unwrap_or_else(|e| e.into_inner());
        guard.clone().ok_or(StoreError::ShuttingDown)
    }

    /// Runs a registry change on the writer connection (waits for a queue slot).
    async fn admin<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let job = Job::Admin(Box::new(move |conn: &mut Connection| {
            let result = f(conn);
            Box::new(move |synced: Result<(), String>| {
                let _ = tx.send(synced.map_err(StoreError::Backend).and(result));
            }) as syncer::Delivery
        }));
        self.sender()?
            .send(job)
            .await
            .map_err(|_| StoreError::ShuttingDown)?;
        rx.await
            .map_err(|_| StoreError::Backend("the writer stopped before answering".into()))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn get_or_create_org(&self, name: &str) -> StoreResult<Org> {
        let name = name.to_owned();
        self.admin(move |c| registry::get_or_create_org(c, &name))
            .await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        self.readers.run(registry::list_orgs).await
    }

    async fn insert_api_key(
        &self,
        org_id: &str,
        name: &str,
        key_hash: &str,
        prefix: &str,
    ) -> StoreResult<ApiKeyInfo> {
        let (org_id, name, key_hash, prefix) = (
            org_id.to_owned(),
            name.to_owned(),
            key_hash.to_owned(),
            prefix.to_owned(),
        );
        self.admin(move |c| registry::insert_api_key(c, &org_id, &name, &key_hash, &prefix))
            .await
    }

    async fn list_api_keys(&self, org_id: Option<&str>) -> StoreResult<Vec<ApiKeyInfo>> {
        let org_id = org_id.map(str::to_owned);
        self.readers
            .run(move |c| registry::list_api_keys(c, org_id.as_deref()))
            .await
    }

    async fn set_key_default_project(
        &self,
        id_or_prefix: &str,
        project: Option<&str>,
    ) -> StoreResult<bool> {
        let (key, project) = (id_or_prefix.to_owned(), project.map(str::to_owned));
        self.admin(move |c| registry::set_key_default_project(c, &key, project.as_deref()))
            .await
    }

    async fn revoke_api_key(&self, id_or_prefix: &str) -> StoreResult<bool> {
        let key = id_or_prefix.to_owned();
        self.admin(move |c| registry::revoke_api_key(c, &key)).await
    }

    async fn authenticate(&self, key_hash: &str) -> StoreResult<Option<AuthContext>> {
        let key_hash = key_hash.to_owned();
        self.readers
            .run(move |c| registry::authenticate(c, &key_hash))
            .await
    }

    async fn create_or_get_project(
        &self,
        org_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> StoreResult<Project> {
        let (org_id, name, description) = (
            org_id.to_owned(),
            name.to_owned(),
            description.map(str::to_owned),
        );
        self.admin(move |c| {
            registry::create_or_get_project(c, &org_id, &name, description.as_deref())
        })
        .await
    }

    async fn get_project(&self, org_id: &str, project_id: &str) -> StoreResult<Option<Project>> {
        let (org_id, project_id) = (org_id.to_owned(), project_id.to_owned());
        self.readers
            .run(move |c| registry::get_project(c, &org_id, &project_id))
            .await
    }

    async fn list_projects(
        &self,
        org_id: &str,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Project>> {
        let (org_id, name) = (org_id.to_owned(), name.map(str::to_owned));
        self.readers
            .run(move |c| registry::list_projects(c, &org_id, name.as_deref(), limit))
            .await
    }

    async fn create_experiment(
        &self,
        org_id: &str,
        project_id: &str,
        name: Option<&str>,
        ensure_new: bool,
        extra: Map<String, Value>,
    ) -> StoreResult<Experiment> {
        let (org_id, project_id, name) = (
            org_id.to_owned(),
            project_id.to_owned(),
            name.map(str::to_owned),
        );
        self.admin(move |c| {
            registry::create_experiment(c, &org_id, &project_id, name.as_deref(), ensure_new, extra)
        })
        .await
    }

    async fn list_experiments(
        &self,
        org_id: &str,
        project_id: &str,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Experiment>> {
        let (org_id, project_id, name) = (
            org_id.to_owned(),
            project_id.to_owned(),
            name.map(str::to_owned),
        );
        self.readers
            .run(move |c| {
                registry::list_experiments(c, &org_id, &project_id, name.as_deref(), limit)
            })
            .await
    }

    async fn get_trace_outline(
        &self,
        org_id: &str,
        object: &ObjectRef,
        root_span_id: &str,
    ) -> StoreResult<Option<Trace>> {
        let (org_id, object, root) = (org_id.to_owned(), object.clone(), root_span_id.to_owned());
        self.readers
            .run(move |c| reader::get_trace_outline(c, &org_id, &object, &root))
            .await
    }

    async fn list_versions(
        &self,
        org_id: &str,
        object: &ObjectRef,
        limit: usize,
    ) -> StoreResult<Vec<XactId>> {
        let (org_id, object) = (org_id.to_owned(), object.clone());
        self.readers
            .run(move |c| history::versions(c, &org_id, &object, limit))
            .await
    }

    async fn list_datasets(&self, org_id: &str, project_id: &str) -> StoreResult<Vec<Dataset>> {
        let (org_id, project_id) = (org_id.to_owned(), project_id.to_owned());
        self.readers
            .run(move |c| registry::list_datasets(c, &org_id, &project_id))
            .await
    }

    async fn get_experiment(
        &self,
        org_id: &str,
        experiment_id: &str,
    ) -> StoreResult<Option<Experiment>> {
        let (org_id, id) = (org_id.to_owned(), experiment_id.to_owned());
        self.readers
            .run(move |c| registry::get_experiment(c, &org_id, &id))
            .await
    }

    async fn create_or_get_dataset(
        &self,
        org_id: &str,
        project_id: &str,
        name: &str,
        description: Option<&str>,
        metadata: Option<Value>,
    ) -> StoreResult<Dataset> {
        let (org_id, project_id, name, description) = (
            org_id.to_owned(),
            project_id.to_owned(),
            name.to_owned(),
            description.map(str::to_owned),
        );
        self.admin(move |c| {
            registry::create_or_get_dataset(
                c,
                &org_id,
                &project_id,
                &name,
                description.as_deref(),
                metadata,
            )
        })
        .await
    }

    async fn get_dataset(&self, org_id: &str, dataset_id: &str) -> StoreResult<Option<Dataset>> {
        let (org_id, id) = (org_id.to_owned(), dataset_id.to_owned());
        self.readers
            .run(move |c| registry::get_dataset(c, &org_id, &id))
            .await
    }

    async fn write(&self, org_id: &str, rows: Vec<WriteRow>) -> StoreResult<WriteReceipt> {
        let (reply, rx) = oneshot::channel();
        let turn = self.prepare_turns.take().await;
        let rows = writer::PreparedWrite::new(org_id, rows);
        drop(turn);
        let job = Job::Write {
            org_id: org_id.to_owned(),
            rows,
            reply,
        };
        self.sender()?.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => StoreError::ShuttingDown,
        })?;
        metrics::gauge!("spanloom_store_writer_queue_depth").set(self.queue_depth() as f64);
        rx.await
            .map_err(|_| StoreError::Backend("the writer stopped before committing".into()))?
    }

    async fn fetch_rows(
        &self,
        org_id: &str,
        object: &ObjectRef,
        page: PageRequest,
    ) -> StoreResult<RowPage> {
        let (org_id, object) = (org_id.to_owned(), object.clone());
        self.readers
            .run(move |c| reader::fetch_rows(c, &org_id, &object, &page))
            .await
    }

    async fn list_traces(
        &self,
        org_id: &str,
        object: &ObjectRef,
        query: TraceQuery,
    ) -> StoreResult<TracePage> {
        let (org_id, object) = (org_id.to_owned(), object.clone());
        self.readers
            .run(move |c| reader::list_traces(c, &org_id, &object, &query))
            .await
    }

    async fn get_trace(
        &self,
        org_id: &str,
        object: &ObjectRef,
        root_span_id: &str,
    ) -> StoreResult<Option<Trace>> {
        let (org_id, object, root) = (org_id.to_owned(), object.clone(), root_span_id.to_owned());
        self.readers
            .run(move |c| reader::get_trace(c, &org_id, &object, &root))
            .await
    }

    async fn get_span(
        &self,
        org_id: &str,
        object: &ObjectRef,
        span_id: &str,
    ) -> StoreResult<Option<StoredRow>> {
        let (org_id, object, span_id) = (org_id.to_owned(), object.clone(), span_id.to_owned());
        self.readers
            .run(move |c| reader::get_span(c, &org_id, &object, &span_id))
            .await
    }

    async fn get_row(
        &self,
        org_id: &str,
        object: &ObjectRef,
        row_id: &str,
    ) -> StoreResult<Option<StoredRow>> {
        let (org_id, object, row_id) = (org_id.to_owned(), object.clone(), row_id.to_owned());
        self.readers
            .run(move |c| reader::get_row(c, &org_id, &object, &row_id))
            .await
    }

    async fn query(
        &self,
        org_id: &str,
        query: &spanloom_query::Query,
    ) -> StoreResult<spanloom_store::QueryOutput> {
        let (org_id, query, indexed, text_index) = (
            org_id.to_owned(),
            query.clone(),
            Arc::clone(&self.indexed),
            self.text_index.clone(),
        );
        self.readers
            .run(move |c| query::run(c, &org_id, &query, &indexed, text_index))
            .await
    }

    async fn rollups(
        &self,
        org_id: &str,
        object: &ObjectRef,
        query: spanloom_store::rollup::RollupQuery,
    ) -> StoreResult<Vec<spanloom_store::rollup::RollupPoint>> {
        let (org_id, object) = (org_id.to_owned(), object.clone());
        self.readers
            .run(move |c| rollups::read(c, &org_id, &object, &query))
            .await
    }

    async fn list_comments(
        &self,
        org_id: &str,
        object: &ObjectRef,
        row_id: &str,
    ) -> StoreResult<Vec<StoredRow>> {
        let (org_id, object, row_id) = (org_id.to_owned(), object.clone(), row_id.to_owned());
        self.readers
            .run(move |c| reader::list_comments(c, &org_id, &object, &row_id))
            .await
    }

    async fn shutdown(&self) {
        let indexer = self
            .indexer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut indexer) = indexer {
            let _ = tokio::task::spawn_blocking(move || indexer.stop()).await;
        }
        // Dropping the last sender lets the writer drain the queue and exit.
        drop(
            self.sender
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut checkpointer) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || checkpointer.stop()).await;
        }
    }
}
