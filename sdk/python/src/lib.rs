//! `spanloom._core`: the shared Rust SDK core for Python. Rows cross as JSON text, copied in
//! the calling thread and parsed, merged and sent on the core's own thread (without the GIL).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use spanloom_sdk::logger::{BackgroundLogger, FullQueue, LoggerConfig};
use spanloom_sdk::slug::{ObjectType, SpanComponents};
use spanloom_sdk::transport::HttpTransport;
use std::sync::Arc;
use std::time::Duration;

/// The background logger of one API endpoint.
#[pyclass(frozen)]
struct Logger {
    inner: BackgroundLogger,
}

#[pymethods]
impl Logger {
    /// Starts a logger posting to `api_url` with `api_key`. `spool_dir`: where batches the
    /// server could not take are kept and later re-sent (files named `<spool_key>-...`);
    /// `backoff_seconds`: the first retry delay, doubled per retry; `queue_capacity` and
    /// `queue_bytes`: the queue's bounds in rows and in bytes of row JSON; `concurrency`:
    /// requests in flight at once.
    #[new]
    #[pyo3(signature = (api_url, api_key, *, batch_rows=100, max_request_bytes=6291456, queue_capacity=25000, queue_bytes=268435456,
                        block_when_full=false, num_retries=2, concurrency=2, sync_flush=false,
                        failed_payloads_dir=None, all_payloads_dir=None, spool_dir=None,
                        spool_key=None, backoff_seconds=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        api_url: &str,
        api_key: &str,
        batch_rows: usize,
        max_request_bytes: usize,
        queue_capacity: usize,
        queue_bytes: usize,
        block_when_full: bool,
        num_retries: u32,
        concurrency: usize,
        sync_flush: bool,
        failed_payloads_dir: Option<String>,
        all_payloads_dir: Option<String>,
        spool_dir: Option<String>,
        spool_key: Option<String>,
        backoff_seconds: f64,
    ) -> Self {
        let mut config = LoggerConfig::new(Arc::new(HttpTransport::new(
            api_url,
            api_key,
            Duration::from_secs(60),
        )));
        config.batch_rows = batch_rows;
        config.max_request_bytes = max_request_bytes;
        config.queue_capacity = queue_capacity;
        config.queue_bytes = queue_bytes;
        config.full_queue = if block_when_full {
            FullQueue::Block
        } else {
            FullQueue::DropOldest
        };
        config.num_retries = num_retries;
        config.concurrency = concurrency.max(1);
        config.sync_flush = sync_flush;
        config.failed_payloads_dir = failed_payloads_dir.map(Into::into);
        config.all_payloads_dir = all_payloads_dir.map(Into::into);
        config.spool_dir = spool_dir.map(Into::into);
        if let Some(key) = spool_key {
            config.spool_key = key;
        }
        if backoff_seconds.is_finite() && backoff_seconds >= 0.0 {
            config.backoff = Duration::from_secs_f64(backoff_seconds);
        }
        // Straight to stderr from the worker thread: taking the GIL there could deadlock at
        // interpreter shutdown, and these few lines must be seen.
        config.on_warning = Some(Arc::new(|message: &str| eprintln!("{message}")));
        Self {
            inner: BackgroundLogger::start(config),
        }
    }

    /// Queues one row given as JSON text (`bytes` or `str`, an object). The worker thread
    /// parses it; text that is not a JSON object is reported on stderr and counted as failed.
    /// Only the copy of the text happens here, with the GIL held: releasing it for a push this
    /// short would hand it to another thread for a whole switch interval.
    fn log(&self, py: Python<'_>, row_json: &Bound<'_, PyAny>) -> PyResult<()> {
        let text: Vec<u8> = if let Ok(bytes) = row_json.cast::<PyBytes>() {
            bytes.as_bytes().to_vec()
        } else if let Ok(text) = row_json.cast::<PyString>() {
            text.to_cow()?.as_bytes().to_vec()
        } else {
            return Err(PyTypeError::new_err("a row is JSON text: bytes or str"));
        };
        if self.inner.may_block() {
            py.detach(|| self.inner.log_json(text));
        } else {
            self.inner.log_json(text);
        }
        Ok(())
    }

    /// Sends everything queued and waits; returns `(sent_rows, failed_rows)`.
    fn flush(&self, py: Python<'_>) -> (u64, u64) {
        let report = py.detach(|| self.inner.flush());
        (report.sent_rows, report.failed_rows)
    }

    /// Like `flush`; returns `(sent_rows, failed_rows, spooled_rows)`.
    fn flush_report(&self, py: Python<'_>) -> (u64, u64, u64) {
        let report = py.detach(|| self.inner.flush());
        (report.sent_rows, report.failed_rows, report.spooled_rows)
    }

    /// Gives the logger up without sending or writing its queued rows: for a logger
    /// inherited through `os.fork()`, whose worker thread does not exist in the child (the
    /// parent still sends those rows). Dropping it afterwards joins nothing.
    fn abandon(&self) {
        self.inner.abandon();
    }

    /// Rows dropped because the queue was full.
    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }
}

/// Encodes a V4 export slug of a project-logs (or experiment) span. With an empty
/// `object_id` and a `project_name`, the slug names the project by name (the official SDK's
/// `compute_object_metadata_args`, for a logger whose project is not registered yet), so
/// exporting never waits for the network.
#[pyfunction]
#[pyo3(signature = (object_id, row_id=None, span_id=None, root_span_id=None, experiment=false, project_name=None))]
fn export_slug(
    object_id: &str,
    row_id: Option<String>,
    span_id: Option<String>,
    root_span_id: Option<String>,
    experiment: bool,
    project_name: Option<String>,
) -> String {
    let mut c = SpanComponents::object(
        if experiment {
            ObjectType::Experiment
        } else {
            ObjectType::ProjectLogs
        },
        object_id,
    );
    if let (true, Some(name), false) = (object_id.is_empty(), project_name, experiment) {
        c.object_id = None;
        c.compute_object_metadata_args =
            Some(serde_json::json!({"project_name": name, "project_id": null}));
    }
    c.row_id = row_id;
    c.span_id = span_id;
    c.root_span_id = root_span_id;
    c.to_v4()
}

/// A decoded slug: `(object_type, object_id, row_id, span_id, root_span_id)`.
type SlugParts = (
    u8,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Decodes an export slug (V4 or V3).
#[pyfunction]
fn parse_slug(slug: &str) -> PyResult<SlugParts> {
    let c = SpanComponents::parse(slug).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((
        c.object_type as u8,
        c.object_id,
        c.row_id,
        c.span_id,
        c.root_span_id,
    ))
}

/// The project name a slug resolves its object by (`compute_object_metadata_args`), if any.
#[pyfunction]
fn slug_project_name(slug: &str) -> PyResult<Option<String>> {
    let c = SpanComponents::parse(slug).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(c.compute_object_metadata_args
        .as_ref()
        .and_then(|a| a.get("project_name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Logger>()?;
    m.add_function(wrap_pyfunction!(export_slug, m)?)?;
    m.add_function(wrap_pyfunction!(parse_slug, m)?)?;
    m.add_function(wrap_pyfunction!(slug_project_name, m)?)?;
    Ok(())
}
