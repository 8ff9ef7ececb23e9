//! Shared state of the handlers.

use metrics_exporter_prometheus::PrometheusHandle;
use spanloom_blobstore::{LocalDirStore, Signer};
use spanloom_store::{CpuTurns, Store};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Request bodies that may be held in memory at once, in bytes; more gets 503.
    pub max_inflight_bytes: usize,
    /// The base URL clients should use for the API (returned at login); derived from the
    /// request's `Host` when unset.
    pub public_url: Option<String>,
    /// Largest blob upload (attachment or `/logs3` overflow payload), in bytes.
    pub max_upload_bytes: usize,
    /// How long signed upload and download URLs stay valid.
    pub signed_url_ttl_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            max_inflight_bytes: 1024 * 1024 * 1024,
            public_url: None,
            max_upload_bytes: 1024 * 1024 * 1024,
            signed_url_ttl_secs: 900,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// API settings.
    pub config: Arc<ApiConfig>,
    /// Renders `/metrics`; `None` when no recorder is installed.
    pub metrics: Option<PrometheusHandle>,
    /// Attachments and overflow payloads.
    pub blobs: Arc<LocalDirStore>,
    /// Signs the blob store's upload and download URLs.
    pub signer: Signer,
    /// Budget of in-flight body bytes, in KiB permits.
    pub(crate) inflight: Arc<Semaphore>,
    /// Turns to decode large request bodies (see [`CpuTurns`]).
    pub(crate) decode_turns: Arc<CpuTurns>,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        store: Arc<dyn Store>,
        blobs: LocalDirStore,
        signer: Signer,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let permits = (config.max_inflight_bytes / 1024).max(1);
        Self {
            store,
            blobs: Arc::new(blobs),
            signer,
            config: Arc::new(config),
            metrics,
            inflight: Arc::new(Semaphore::new(permits)),
            decode_turns: Arc::new(CpuTurns::new()),
        }
    }
}
