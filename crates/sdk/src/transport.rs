//! Where the background logger sends `/logs3` bodies.

use std::time::Duration;

/// The outcome of one POST: an HTTP status, or why no status came back.
pub type PostResult = Result<u16, String>;

/// Sends `/logs3` bodies. [`HttpTransport`] is the real one; tests wrap it.
pub trait Transport: Send + Sync + 'static {
    /// POSTs one `/logs3` body (`{"rows": [...], "api_version": 2}`).
    fn post_logs3(&self, body: &[u8]) -> PostResult;
}

/// `POST {api_url}/logs3` with `Authorization: Bearer <key>` over HTTP(S).
pub struct HttpTransport {
    url: String,
    auth: String,
    agent: ureq::Agent,
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
        }
    }
}

impl Transport for HttpTransport {
    fn post_logs3(&self, body: &[u8]) -> PostResult {
        self.agent
            .post(&self.url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .send(body)
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }
}
