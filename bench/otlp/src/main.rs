//! `bench/otlp`: the same realistic LLM trace load, over OTLP/HTTP protobuf, into
//! `spanloom serve` and into Arize Phoenix (`phoenix serve`, its default SQLite store), one
//! after the other on this machine. Reports for each: acknowledged spans/s, request latency,
//! how fast spans became queryable, server CPU per span, peak RSS and bytes on disk per span,
//! and the ratios Spanloom ÷ Phoenix. Not a test: run it with `scripts/bench-otlp.sh`.

mod phoenix;
mod post;
mod workload;

use anyhow::Context;
use clap::Parser;
use post::{Posted, post_all};
use serde_json::{Value, json};
use spanloom_bench_common::env::{TempDir, resolve_server, workspace_root};
use spanloom_bench_common::machine::Machine;
use spanloom_bench_common::server::{Server, ServerOpts, cpu_time, dir_bytes, rss_of};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "OTLP ingest: Spanloom vs Arize Phoenix on the same load")]
struct Args {
    /// Spans to send (traces of 5).
    #[arg(long, default_value_t = 8_000)]
    spans: usize,
    /// Spans per export request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// The spanloom binary.
    #[arg(
        long,
        env = "SPANLOOM_BENCH_SERVER",
        default_value = "target/release/spanloom"
    )]
    server: PathBuf,
    /// The venv holding `arize-phoenix`.
    #[arg(long, default_value = "bench/.venv-phoenix")]
    phoenix_venv: PathBuf,
    /// Only measure Spanloom.
    #[arg(long)]
    skip_phoenix: bool,
    /// Give up waiting for Phoenix to make spans queryable after this many seconds.
    #[arg(long, default_value_t = 900)]
    queryable_timeout_secs: u64,
    /// Where temporary data directories go.
    #[arg(long, default_value_t = std::env::temp_dir().display().to_string())]
    work_dir: String,
    /// Keep the temporary directory.
    #[arg(long)]
    keep: bool,
    /// Seed of the generated texts.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also write the report as JSON (default path: bench/runs/<date>-otlp.json).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    out: Option<String>,
}

/// What one system did with the load.
#[derive(Debug, Clone, Default)]
struct Measured {
    posted: Posted,
    /// From the first request until every span answered queries.
    queryable_after: Option<Duration>,
    cpu: Duration,
    peak_rss_kib: u64,
    disk_bytes: u64,
    startup: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn spanloom_count(
    http: &reqwest::Client,
    server: &Server,
    project_id: &str,
) -> anyhow::Result<u64> {
    let body =
        json!({"query": format!("measures: count(1) as n | from: project_logs('{project_id}')")});
    let resp = http
        .post(format!("{}/btql", server.url))
        .header("authorization", format!("Bearer {}", server.key))
        .body(body.to_string())
        .send()
        .await?
        .bytes()
        .await?;
    let v: Value = serde_json::from_slice(&resp)?;
    Ok(v.pointer("/data/0/n").and_then(Value::as_u64).unwrap_or(0))
}

async fn run_spanloom(
    args: &Args,
    bodies: Arc<Vec<Vec<u8>>>,
    spans: u64,
    dir: &std::path::Path,
) -> anyhow::Result<Measured> {
    let binary = resolve_server(&args.server)?;
    let t0 = Instant::now();
    let server = Server::start(
        &ServerOpts {
            binary,
            sync: None,
            write_queue: None,
        },
        &dir.join("spanloom"),
    )?;
    let startup = t0.elapsed();
    let http = reqwest::Client::new();
    let project: Value = serde_json::from_slice(
        &http
            .post(format!("{}/v1/project", server.url))
            .header("authorization", format!("Bearer {}", server.key))
            .body(r#"{"name": "bench-otlp"}"#)
            .send()
            .await?
            .bytes()
            .await?,
    )?;
    let project_id = project["id"].as_str().context("project id")?.to_owned();
    let cpu0 = server.cpu_time()?;
    let start = Instant::now();
    let headers = vec![
        ("authorization", format!("Bearer {}", server.key)),
        ("x-bt-parent", format!("project_id:{project_id}")),
    ];
    let posted = post_all(
        format!("{}/v1/traces", server.url),
        headers,
        bodies,
        args.clients,
    )
    .await?;
    // A 200 from Spanloom means committed, so everything should be queryable already.
    let queryable_after = loop {
        if spanloom_count(&http, &server, &project_id).await? >= spans {
            break Some(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(args.queryable_timeout_secs) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cpu = server.cpu_time()? - cpu0;
    let peak_rss_kib = server.rss_kib()?.peak_kib;
    let data_dir = server.data_dir.clone();
    server.stop()?;
    Ok(Measured {
        posted,
        queryable_after,
        cpu,
        peak_rss_kib,
        disk_bytes: dir_bytes(&data_dir)?,
        startup,
    })
}

async fn run_phoenix(
    args: &Args,
    bodies: Arc<Vec<Vec<u8>>>,
    spans: u64,
    dir: &std::path::Path,
) -> anyhow::Result<Measured> {
    let venv = if args.phoenix_venv.is_absolute() {
        args.phoenix_venv.clone()
    } else {
        workspace_root().join(&args.phoenix_venv)
    };
    let phoenix = phoenix::Phoenix::start(&venv, &dir.join("phoenix")).await?;
    let http = reqwest::Client::new();
    let pid = phoenix.pid().to_string();
    let cpu0 = cpu_time(&pid)?;
    let start = Instant::now();
    let posted = post_all(
        format!("http://127.0.0.1:{}/v1/traces", phoenix.port),
        vec![],
        bodies,
        args.clients,
    )
    .await?;
    let queryable_after = loop {
        if phoenix.queryable_spans(&http).await.unwrap_or(0) >= spans {
            break Some(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(args.queryable_timeout_secs) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let cpu = cpu_time(&pid)? - cpu0;
    let peak_rss_kib = rss_of(phoenix.pid()).map(|r| r.peak_kib).unwrap_or(0);
    let (dir, startup) = (phoenix.dir.clone(), phoenix.startup);
    phoenix.stop()?;
    Ok(Measured {
        posted,
        queryable_after,
        cpu,
        peak_rss_kib,
        disk_bytes: dir_bytes(&dir)?,
        startup,
    })
}

fn summary(name: &str, m: &Measured, spans: u64) -> Value {
    let mut lat = m.posted.latencies.clone();
    lat.sort();
    let acked = spans as f64 / m.posted.elapsed.as_secs_f64();
    let queryable = m.queryable_after.map(|d| spans as f64 / d.as_secs_f64());
    json!({
        "system": name,
        "acknowledged_spans_per_s": acked,
        "queryable_spans_per_s": queryable,
        "all_queryable_after_s": m.queryable_after.map(|d| d.as_secs_f64()),
        // How long after the last acknowledgement the last spans became queryable.
        "queryable_lag_after_last_ack_s": m.queryable_after.map(|d| d.saturating_sub(m.posted.elapsed).as_secs_f64()),
        "request_p50_ms": percentile(&lat, 0.5),
        "request_p99_ms": percentile(&lat, 0.99),
        "retries": m.posted.retries,
        "server_cpu_ms_per_span": m.cpu.as_secs_f64() * 1000.0 / spans as f64,
        "peak_rss_mib": m.peak_rss_kib as f64 / 1024.0,
        "disk_bytes_per_span": m.disk_bytes as f64 / spans as f64,
        "startup_s": m.startup.as_secs_f64(),
    })
}

fn fmt(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map(|f| format!("{f:.digits$}"))
        .unwrap_or_else(|| "—".into())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let work = TempDir::new(
        std::path::Path::new(&args.work_dir),
        "spanloom-bench-otlp",
        args.keep,
    )?;
    let bodies = Arc::new(workload::bodies(args.spans, args.batch, args.seed));
    let spans = (args.spans.div_ceil(workload::SPANS_PER_TRACE) * workload::SPANS_PER_TRACE) as u64;
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let machine = Machine::detect(
        &work.path,
        &resolve_server(&args.server)?,
        &workspace_root(),
    );
    println!(
        "bench/otlp: {spans} spans in {} OTLP/HTTP protobuf requests ({:.1} MiB, {:.1} KiB/span), {} clients",
        bodies.len(),
        bytes as f64 / 1048576.0,
        bytes as f64 / 1024.0 / spans as f64,
        args.clients
    );
    println!("machine: {machine:?}");

    let ours = runtime.block_on(run_spanloom(&args, bodies.clone(), spans, &work.path))?;
    let ours = summary("spanloom", &ours, spans);
    let theirs = if args.skip_phoenix {
        None
    } else {
        Some(summary(
            "phoenix",
            &runtime.block_on(run_phoenix(&args, bodies, spans, &work.path))?,
            spans,
        ))
    };

    println!("\n| measure | spanloom | phoenix | spanloom ÷ phoenix |\n|---|---|---|---|");
    let rows: [(&str, &str, usize); 9] = [
        ("acknowledged spans/s", "acknowledged_spans_per_s", 0),
        (
            "last spans queryable, s after the last ack",
            "queryable_lag_after_last_ack_s",
            2,
        ),
        (
            "queryable spans/s (first request → all visible)",
            "queryable_spans_per_s",
            0,
        ),
        ("request p50 ms", "request_p50_ms", 1),
        ("request p99 ms", "request_p99_ms", 1),
        ("server CPU ms/span", "server_cpu_ms_per_span", 3),
        ("peak RSS MiB", "peak_rss_mib", 0),
        ("disk bytes/span", "disk_bytes_per_span", 0),
        ("startup s", "startup_s", 2),
    ];
    let mut ratios = serde_json::Map::new();
    for (label, key, digits) in rows {
        let a = &ours[key];
        let b = theirs
            .as_ref()
            .map(|t| t[key].clone())
            .unwrap_or(Value::Null);
        let ratio = match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) if y != 0.0 => Some(x / y),
            _ => None,
        };
        if let Some(r) = ratio {
            ratios.insert(key.into(), json!(r));
        }
        println!(
            "| {label} | {} | {} | {} |",
            fmt(a, digits),
            fmt(&b, digits),
            ratio
                .map(|r| format!("{r:.2}×"))
                .unwrap_or_else(|| "—".into())
        );
    }
    let report = json!({
        "benchmark": "otlp", "spans": spans, "requests": bodies_len(spans as usize, args.batch), "clients": args.clients,
        "bytes_per_span": bytes as f64 / spans as f64, "machine": format!("{machine:?}"),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "spanloom": ours, "phoenix": theirs, "ratios_spanloom_over_phoenix": ratios,
    });
    if let Some(out) = &args.out {
        let path = if out.is_empty() {
            let day = std::process::Command::new("date")
                .arg("+%Y-%m-%d")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            workspace_root()
                .join("bench/runs")
                .join(format!("{day}-otlp.json"))
        } else {
            PathBuf::from(out)
        };
        std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

fn bodies_len(spans: usize, batch: usize) -> usize {
    spans.div_ceil((batch / workload::SPANS_PER_TRACE).max(1) * workload::SPANS_PER_TRACE)
}
