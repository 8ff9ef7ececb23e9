//! Where the background logger sends `/logs3` bodies.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Bodies at least this large are sent gzip-compressed.
const GZIP_MIN_BYTES: usize = 16 * 1024;

/// The outcome of one POST: an HTTP status, or why no status came back.
pub type PostResult = Result<u16, String>;

/// Sends `/logs3` bodies. [`HttpTransport`] is the real one; tests wrap it.
pub trait Transport: Send + Sync + 'static {
    /// POSTs one `/logs3` body (`{"rows": [...], "api_version": 2}`).
    fn post_logs3(&self, body: &[u8]) -> PostResult;
}

/// `POST {api_url}/logs3` with `Authorization: Bearer <key>` over HTTP(S). Large bodies go
/// gzip-compressed (fast level, on the logger's thread); a server that refuses that (415 or
/// 400) gets plain bodies from then on.
pub struct HttpTransport {
    url: String,
    auth: String,
    agent: ureq::Agent,
    gzip: AtomicBool,
}

impl HttpTransport {
    /// A transport to the API at `api_url` (e.g. `http://127.0.0.1:4318`).
    pub fn new(api_url: &str, api_key: &str, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            url: format!("{}/logs3", api_url.trim_end_matches('/')),
            auth: format!("Bearer {}", api_key.trim()),
            agent,
            gzip: AtomicBool::new(true),
        }
    }

    /// The same transport, never compressing bodies.
    pub fn without_compression(self) -> Self {
        self.gzip.store(false, Ordering::Relaxed);
        self
    }

    fn send(&self, body: &[u8], gzip: bool) -> PostResult {
        let request = self
            .agent
            .post(&self.url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json");
        let sent = if gzip {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            encoder
                .write_all(body)
                .and_then(|()| encoder.finish())
                .map_err(|e| format!("cannot compress the body: {e}"))
                .and_then(|compressed| {
                    request
                        .header("Content-Encoding", "gzip")
                        .send(&compressed[..])
                        .map_err(|e| e.to_string())
                })
        } else {
            request.send(body).map_err(|e| e.to_string())
        };
        sent.map(|r| r.status().as_u16())
    }
}

impl Transport for HttpTransport {
    fn post_logs3(&self, body: &[u8]) -> PostResult {
        if body.len() >= GZIP_MIN_BYTES && self.gzip.load(Ordering::Relaxed) {
            match self.send(body, true) {
                // The server does not take compressed bodies (415, or 400 from one that read
                // the gzip bytes as JSON): send plain ones from now on. A body that is bad in
                // itself gets its 400 again, plain.
                Ok(400 | 415) => self.gzip.store(false, Ordering::Relaxed),
                other => return other,
            }
        }
        self.send(body, false)
    }
}
