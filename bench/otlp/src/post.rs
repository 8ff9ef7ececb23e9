//! Closed-loop clients posting prebuilt OTLP bodies; 429/503 are retried after a pause, as
//! real exporters do. A request counts as acknowledged when it got 200.

use anyhow::{Context, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Pause after back-pressure before retrying the same body.
const BACKOFF: Duration = Duration::from_millis(50);

/// What posting measured.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    /// First request to last acknowledgement.
    pub elapsed: Duration,
    /// Per-request latency (first attempt to the 200).
    pub latencies: Vec<Duration>,
    /// 429/503 answers (each retried).
    pub retries: u64,
}

/// Posts every body once with `clients` concurrent clients.
pub async fn post_all(
    url: String,
    headers: Vec<(&'static str, String)>,
    bodies: Arc<Vec<Vec<u8>>>,
    clients: usize,
) -> anyhow::Result<Posted> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, headers, bodies, next) = (
            http.clone(),
            url.clone(),
            headers.clone(),
            bodies.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut retries = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let started = Instant::now();
                loop {
                    let mut req = http
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone());
                    for (k, v) in &headers {
                        req = req.header(*k, v);
                    }
                    let resp = req.send().await.with_context(|| format!("POST {url}"))?;
                    let status = resp.status().as_u16();
                    let text = resp.bytes().await.unwrap_or_default();
                    match status {
                        200 => break,
                        429 | 503 => {
                            retries += 1;
                            tokio::time::sleep(BACKOFF).await;
                        }
                        other => bail!(
                            "POST {url} answered {other}: {}",
                            String::from_utf8_lossy(&text)
                        ),
                    }
                }
                latencies.push(started.elapsed());
            }
            anyhow::Ok((latencies, retries))
        }));
    }
    let mut posted = Posted::default();
    for task in tasks {
        let (lat, retries) = task.await??;
        posted.latencies.extend(lat);
        posted.retries += retries;
    }
    posted.elapsed = t0.elapsed();
    Ok(posted)
}
