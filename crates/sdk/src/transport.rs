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
/// gzip-compressed (fast level, on the logger's thread) unless the server is on a loopback
/// address; a server that refuses that (415 or 400) gets plain bodies from then on.
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
            // On this machine compressing only costs CPU, on both ends.
            gzip: AtomicBool::new(!is_loopback(api_url)),
        }
    }

    /// The same transport, compressing large bodies or never (by default: unless the server
    /// is on a loopback address).
    pub fn with_compression(self, gzip: bool) -> Self {
        self.gzip.store(gzip, Ordering::Relaxed);
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

/// Whether `url`'s host is this machine (`localhost`, `127.x.x.x`, `::1`).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts_are_recognized() {
        for url in [
            "http://127.0.0.1:4318",
            "http://localhost/api",
            "https://user@127.0.0.2:1/x",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://api.example.com",
            "http://10.0.0.1:4318",
            "http://[2001:db8::1]/",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
