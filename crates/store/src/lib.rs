//! Store: the storage contract every Spanloom backend implements.
//!
//! ```text
//! ingest (Vec<WriteRow>) ──▶ [Store::write] apply + commit ──▶ event log, merged rows, trace summaries
//!                             [Store::fetch_rows / list_traces / get_trace] ◀── api
//! ```
//!
//! * [`Store`] is the trait; `spanloom-store-sqlite` is the embedded backend.
//! * [`apply`] holds the write semantics (replace / merge / delete, merges that arrive before
//!   their row, idempotent retries) as pure functions, so every backend applies them the same.
//! * [`conformance`] (feature `testkit`) is the one test suite every backend must pass:
//!   `spanloom_store::store_conformance_suite!(make_store())` in the backend's tests.
//!
//! | feature | what it adds |
//! |---|---|
//! | `testkit` | the conformance suite and its macro |

pub mod apply;
pub mod auth;
#[cfg(feature = "testkit")]
pub mod conformance;
pub mod cpu_turns;
pub mod cursor;
pub mod error;
pub mod rollup;
pub mod summary;
pub mod types;

pub use cpu_turns::CpuTurns;
pub use error::StoreError;
pub use types::*;

use async_trait::async_trait;
use serde_json::{Map, Value};
use spanloom_ingest::WriteRow;
use spanloom_model::{ApiKeyInfo, AuthContext, Dataset, Experiment, ObjectRef, Org, Project};

/// Result type of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A storage backend. Every method that touches data takes the caller's org id, and a backend
/// must never return or modify another org's data.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short backend name for logs (`sqlite`, `postgres`).
    fn backend_name(&self) -> &'static str;

    // ---- orgs and keys ----

    /// Returns the org with this name, creating it if needed.
    async fn get_or_create_org(&self, name: &str) -> StoreResult<Org>;
    /// All orgs.
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;
    /// Stores a new API key (only its hash and display prefix).
    async fn insert_api_key(
        &self,
        org_id: &str,
        name: &str,
        key_hash: &str,
        prefix: &str,
    ) -> StoreResult<ApiKeyInfo>;
    /// Keys, optionally of one org.
    async fn list_api_keys(&self, org_id: Option<&str>) -> StoreResult<Vec<ApiKeyInfo>>;
    /// Sets (or with `None` clears) a key's default project, by key id or display prefix;
    /// returns whether a live key matched.
    async fn set_key_default_project(
        &self,
        id_or_prefix: &str,
        project: Option<&str>,
    ) -> StoreResult<bool>;
    /// Revokes a key by id or by its display prefix; returns whether one was revoked.
    async fn revoke_api_key(&self, id_or_prefix: &str) -> StoreResult<bool>;
    /// Resolves a key hash to its org, if the key exists and is not revoked.
    async fn authenticate(&self, key_hash: &str) -> StoreResult<Option<AuthContext>>;

    // ---- objects ----

    /// Returns the project with this name in the org, creating it if needed (idempotent).
    async fn create_or_get_project(
        &self,
        org_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> StoreResult<Project>;
    /// A project by id, if it is in the org.
    async fn get_project(&self, org_id: &str, project_id: &str) -> StoreResult<Option<Project>>;
    /// Projects of the org, by name, optionally filtered by exact name.
    async fn list_projects(
        &self,
        org_id: &str,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Project>>;
    /// Registers an experiment. With `ensure_new`, a taken name gets a unique suffix; without,
    /// an existing experiment of that name is returned. No name: one is generated.
    async fn create_experiment(
        &self,
        org_id: &str,
        project_id: &str,
        name: Option<&str>,
        ensure_new: bool,
        extra: Map<String, Value>,
    ) -> StoreResult<Experiment>;
    /// Experiments of a project, newest first, optionally only the one with an exact name.
    async fn list_experiments(
        &self,
        org_id: &str,
        project_id: &str,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Experiment>>;
    /// An experiment by id, if it is in the org.
    async fn get_experiment(
        &self,
        org_id: &str,
        experiment_id: &str,
    ) -> StoreResult<Option<Experiment>>;
    /// Returns the dataset with this name in the project, creating it if needed.
    async fn create_or_get_dataset(
        &self,
        org_id: &str,
        project_id: &str,
        name: &str,
        description: Option<&str>,
        metadata: Option<Value>,
    ) -> StoreResult<Dataset>;
    /// Datasets of a project, by name.
    async fn list_datasets(&self, org_id: &str, project_id: &str) -> StoreResult<Vec<Dataset>>;
    /// A dataset by id, if it is in the org.
    async fn get_dataset(&self, org_id: &str, dataset_id: &str) -> StoreResult<Option<Dataset>>;

    // ---- writes ----

    /// Applies one write request atomically under one new transaction id. Acknowledges only
    /// after commit. Fails whole (nothing written) if any row names an object that is not in
    /// the org.
    async fn write(&self, org_id: &str, rows: Vec<WriteRow>) -> StoreResult<WriteReceipt>;

    // ---- reads ----

    /// Current rows of an object in insertion order, with cursor pagination.
    async fn fetch_rows(
        &self,
        org_id: &str,
        object: &ObjectRef,
        page: PageRequest,
    ) -> StoreResult<RowPage>;
    /// Trace summaries of an object, newest first.
    async fn list_traces(
        &self,
        org_id: &str,
        object: &ObjectRef,
        query: TraceQuery,
    ) -> StoreResult<TracePage>;
    /// One whole trace: its summary and every span, ordered by start time.
    async fn get_trace(
        &self,
        org_id: &str,
        object: &ObjectRef,
        root_span_id: &str,
    ) -> StoreResult<Option<Trace>>;
    /// One whole trace without its payload fields (`input`, `output`, `expected`, `otel`):
    /// each span's other fields plus `input_preview` / `output_preview`, so a UI can draw a
    /// very large trace at once and load a span's payloads when it is opened.
    async fn get_trace_outline(
        &self,
        org_id: &str,
        object: &ObjectRef,
        root_span_id: &str,
    ) -> StoreResult<Option<Trace>>;
    /// One span by its span id.
    async fn get_span(
        &self,
        org_id: &str,
        object: &ObjectRef,
        span_id: &str,
    ) -> StoreResult<Option<StoredRow>>;
    /// One row by its row id.
    async fn get_row(
        &self,
        org_id: &str,
        object: &ObjectRef,
        row_id: &str,
    ) -> StoreResult<Option<StoredRow>>;
    /// Runs a parsed BTQL query over one object of the org. Compile errors (a field or form
    /// this backend cannot query) are [`StoreError::InvalidQuery`].
    async fn query(&self, org_id: &str, query: &spanloom_query::Query) -> StoreResult<QueryOutput>;

    /// The transactions that wrote to an object (its versions), newest first.
    async fn list_versions(
        &self,
        org_id: &str,
        object: &ObjectRef,
        limit: usize,
    ) -> StoreResult<Vec<spanloom_model::XactId>>;

    /// Dashboard series from the rollups kept at ingest.
    async fn rollups(
        &self,
        org_id: &str,
        object: &ObjectRef,
        query: rollup::RollupQuery,
    ) -> StoreResult<Vec<rollup::RollupPoint>>;

    /// Comments attached to a row.
    async fn list_comments(
        &self,
        org_id: &str,
        object: &ObjectRef,
        row_id: &str,
    ) -> StoreResult<Vec<StoredRow>>;

    // ---- lifecycle ----

    /// Stops accepting writes, commits everything queued, and releases resources.
    async fn shutdown(&self);
}
