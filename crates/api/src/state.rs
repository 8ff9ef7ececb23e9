//! Shared state of the handlers.

use metrics_exporter_prometheus::PrometheusHandle;
use spanloom_store::Store;
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
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            max_inflight_bytes: 1024 * 1024 * 1024,
            public_url: None,
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
    /// Budget of in-flight body bytes, in KiB permits.
    pub(crate) inflight: Arc<Semaphore>,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        store: Arc<dyn Store>,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let permits = (config.max_inflight_bytes / 1024).max(1);
        Self {
            store,
            config: Arc::new(config),
            metrics,
            inflight: Arc::new(Semaphore::new(permits)),
        }
    }
}
