//! Arize Phoenix as the reference system: `phoenix serve` (its default SQLite store) from the
//! venv `scripts/bench-otlp.sh` installs, on free loopback ports, with a fresh working dir.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Phoenix.
pub struct Phoenix {
    child: Child,
    /// HTTP port (UI, OTLP/HTTP, GraphQL).
    pub port: u16,
    /// Its working directory (database and files).
    pub dir: PathBuf,
    /// Time from spawn to the first 200 on `/healthz`.
    pub startup: Duration,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Phoenix {
    /// Starts Phoenix and waits until it answers.
    pub async fn start(venv: &Path, dir: &Path) -> anyhow::Result<Phoenix> {
        let bin = venv.join("bin").join("phoenix");
        if !bin.exists() {
            bail!(
                "{} not found: run scripts/bench-otlp.sh, which installs arize-phoenix there",
                bin.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        let (port, grpc) = (free_port()?, free_port()?);
        let stderr = std::fs::File::create(dir.join("phoenix.stderr"))?;
        let t0 = Instant::now();
        let child = Command::new(&bin)
            .arg("serve")
            .env("PHOENIX_WORKING_DIR", dir)
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", grpc.to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .env("DO_NOT_TRACK", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut phoenix = Phoenix {
            child,
            port,
            dir: dir.to_owned(),
            startup: Duration::ZERO,
        };
        let http = reqwest::Client::new();
        loop {
            if let Some(status) = phoenix.child.try_wait()? {
                bail!(
                    "phoenix exited at start ({status}); see {}",
                    dir.join("phoenix.stderr").display()
                );
            }
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                && r.status().is_success()
            {
                phoenix.startup = t0.elapsed();
                return Ok(phoenix);
            }
            if t0.elapsed() > Duration::from_secs(180) {
                bail!("phoenix did not answer within 180 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Spans Phoenix can serve to queries (GraphQL `recordCount` over all projects).
    pub async fn queryable_spans(&self, http: &reqwest::Client) -> anyhow::Result<u64> {
        let body =
            serde_json::json!({"query": "{ projects { edges { node { name recordCount } } } }"});
        let resp: serde_json::Value = http
            .post(format!("http://127.0.0.1:{}/graphql", self.port))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?
            .json_value()
            .await?;
        let edges = resp
            .pointer("/data/projects/edges")
            .and_then(|e| e.as_array())
            .cloned()
            .unwrap_or_default();
        Ok(edges
            .iter()
            .filter_map(|e| e.pointer("/node/recordCount").and_then(|n| n.as_u64()))
            .sum())
    }

    /// SIGTERM, then kill after 30 s.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let t0 = Instant::now();
        while self.child.try_wait()?.is_none() {
            if t0.elapsed() > Duration::from_secs(30) {
                self.child.kill()?;
                self.child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

/// `Response::json` without reqwest's `json` feature.
trait JsonValue {
    async fn json_value(self) -> anyhow::Result<serde_json::Value>;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> anyhow::Result<serde_json::Value> {
        let bytes = self.bytes().await?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}
