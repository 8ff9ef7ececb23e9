//! `bench/query`: read latency of `spanloom serve` on a realistic data set.
//!
//! 1. **Load**: a fresh server and project; `--spans` agent-shaped spans (~10 per trace, one
//!    trace of 1,000 spans, two rare words planted in a few outputs, start times over 30
//!    days) posted to `/logs3` by concurrent clients. A 200 means committed.
//! 2. **Queries**, one type after another, each `--warmups` times untimed and then
//!    `--repeats` times timed: the trace list, the trace list filtered by a user, full-text
//!    search for each rare word, the 1,000-span trace whole, and the 30-day hourly dashboard
//!    by model. Every answer is checked against what was loaded.
//!
//! Everything runs on 127.0.0.1 and in a temporary directory that is removed at the end.

mod load;
mod probes;
mod report;
use spanloom_bench_common::env::{TempDir, resolve_server, workspace_root};
use spanloom_bench_common::server;
mod stats;
mod text;
mod workload;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use load::LoadConfig;
use probes::ProbeConfig;
use report::{DataSet, Report};
use server::{Server, ServerOpts};
use spanloom_bench_common::machine::Machine;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use workload::Plan;

/// Query benchmark for spanloom: load agent-shaped traces, then time the UI's read queries.
#[derive(Parser, Debug, Clone)]
#[command(name = "spanloom-bench-query", version, about)]
pub struct Args {
    /// Spans to load (at least 2,000; the 1,000-span trace and the rare words are always in).
    #[arg(long, default_value_t = 1_000_000)]
    pub spans: u64,
    /// Timed runs per query type.
    #[arg(long, default_value_t = 30)]
    pub repeats: usize,
    /// Untimed runs per query type before the timed ones.
    #[arg(long, default_value_t = 3)]
    pub warmups: usize,
    /// Concurrent load clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Send each span as a start row and a later end merge, like the SDKs (twice the
    /// requests), instead of one complete row.
    #[arg(long)]
    pub split_rows: bool,
    /// The `spanloom` binary to start (relative paths are also tried from the workspace root).
    #[arg(
        long,
        env = "SPANLOOM_BENCH_SERVER",
        default_value = "target/release/spanloom"
    )]
    pub server: PathBuf,
    /// Server `--sync` mode (the server's default if unset).
    #[arg(long, value_enum)]
    pub sync: Option<SyncMode>,
    /// The load stops taking new batches after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub load_time_limit_secs: u64,
    /// Time budget of each query type, warm-ups included; a type that runs out is INCOMPLETE.
    #[arg(long, default_value_t = 120)]
    pub query_time_limit_secs: u64,
    /// Where to create the temporary directory (default: the system temp dir).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the temporary directory (data dir, server log).
    #[arg(long)]
    pub keep: bool,
    /// Seed of the data set.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the report as JSON; without a value to `bench/runs/<date>-query.json`.
    #[arg(long)]
    pub out: Option<Option<PathBuf>>,
}

/// Server sync mode.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync every commit.
    Full,
    /// Sync only at WAL checkpoints.
    Normal,
}

impl SyncMode {
    /// The server flag value.
    pub fn flag(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Normal => "normal",
        }
    }
}

/// Stops `server` after `error`, adding how it stopped and the end of its stderr.
fn fail_with_server(server: Server, error: anyhow::Error) -> anyhow::Error {
    let tail = server.stderr_tail(40);
    let log = server.stderr_path().display().to_string();
    let stopped = match server.stop() {
        Ok(s) => format!(
            "{} {:.2} s after SIGTERM",
            s.status,
            s.shutdown.as_secs_f64()
        ),
        Err(e) => format!("could not be stopped: {e:#}"),
    };
    anyhow::anyhow!(
        "{error:#}\nserver: {stopped}\nlast lines of the server's stderr ({log}, kept with --keep):\n{tail}"
    )
}

/// Runs the whole benchmark and returns the report.
fn bench(args: &Args) -> anyhow::Result<Report> {
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let opts = ServerOpts {
        binary: resolve_server(&args.server)?,
        sync: args.sync.map(|s| s.flag().to_owned()),
        write_queue: None,
    };
    let work_parent = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = TempDir::new(&work_parent, "spanloom-bench-query", args.keep)?;
    let machine = Machine::detect(&tmp.path, &opts.binary, &workspace_root());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    eprintln!("planning {} spans ...", args.spans);
    let plan = Arc::new(Plan::new(args.spans, args.seed, now)?);
    let data = DataSet {
        traces: plan.traces.len(),
        spans: plan.total_spans,
        users: plan.traces_per_user.len(),
        batches: plan.batches.len(),
        big_trace: plan
            .traces
            .get(plan.big_trace)
            .map(|t| t.root_span_id.clone())
            .unwrap_or_default(),
    };

    let server = Server::start(&opts, &tmp.path)?;
    let http = load::http_client(args.clients)?;
    eprintln!(
        "load: {} spans in {} traces, {} requests, {} clients ...",
        data.spans, data.traces, data.batches, args.clients
    );
    let client_cpu_before = server::cpu_time("self")?;
    let loaded = rt.block_on(async {
        let project_id = load::create_project(&http, &server.url, &server.key, "bench").await?;
        let cfg = LoadConfig {
            url: server.url.clone(),
            key: server.key.clone(),
            project_id: project_id.clone(),
            clients: args.clients,
            split_rows: args.split_rows,
            time_limit: Duration::from_secs(args.load_time_limit_secs),
        };
        let result = load::run(http.clone(), Arc::clone(&plan), cfg).await?;
        anyhow::Ok((project_id, result))
    });
    let (project_id, load) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return Err(fail_with_server(server, e.context("load failed"))),
    };
    let load_client_cpu = server::cpu_time("self")?.saturating_sub(client_cpu_before);
    let load_server_cpu = server.cpu_time()?;
    let rss_after_load = server.rss_kib()?;
    let disk_bytes = server::dir_bytes(&server.data_dir)?;
    let disk_files = server::file_sizes(&server.data_dir)?;
    eprintln!(
        "load: {:.0} spans/s over {:.1} s; queries ...",
        load.spans_per_sec(),
        load.elapsed.as_secs_f64()
    );

    // Full-text search is measured on a caught-up index: wait for it, and report how long
    // the index took after the last acknowledged write (the time to searchable).
    let index_started = std::time::Instant::now();
    let caught_up = rt.block_on(load::wait_text_index(&http, &server.url, &server.key));
    let text_index_catch_up = index_started.elapsed();
    match &caught_up {
        Ok(()) => eprintln!(
            "text index: caught up {:.1} s after the load",
            text_index_catch_up.as_secs_f64()
        ),
        Err(e) => eprintln!("warning: text index: {e:#}"),
    }

    let cfg = ProbeConfig {
        url: server.url.clone(),
        key: server.key.clone(),
        project_id,
        warmups: args.warmups,
        repeats: args.repeats,
        time_limit: Duration::from_secs(args.query_time_limit_secs),
        seed: args.seed,
        server_pid: Some(server.pid()),
    };
    let probe_http = load::http_client(1)?;
    let results = rt.block_on(probes::run_all(&probe_http, &plan, &cfg));
    // A server that died during the queries still gets a report: its queries show FAILED.
    let query_server_cpu = server
        .cpu_time()
        .map_or(Duration::ZERO, |t| t.saturating_sub(load_server_cpu));
    let rss_after_queries = server.rss_kib().unwrap_or_else(|e| {
        eprintln!("warning: cannot read the server's memory after the queries: {e:#}");
        server::Rss::default()
    });
    let stderr_path = server.stderr_path().to_path_buf();
    let data_dir = server.data_dir.clone();
    let stopped = server.stop()?;
    if !stopped.clean {
        eprintln!(
            "warning: the server did not exit cleanly ({}); stderr:\n{}",
            stopped.status,
            server::stderr_tail(&stderr_path, 20)
        );
    }
    let disk_bytes_stopped = server::dir_bytes(&data_dir)?;
    let disk_files_stopped = server::file_sizes(&data_dir)?;
    Ok(Report {
        command: std::env::args().collect(),
        machine,
        server_command: opts.command_line(Path::new("<tmp>/data")),
        args: args.clone(),
        data,
        load,
        load_server_cpu,
        load_client_cpu,
        rss_after_load,
        rss_after_queries,
        text_index_catch_up: caught_up.ok().map(|()| text_index_catch_up),
        disk_bytes,
        disk_files,
        disk_bytes_stopped,
        disk_files_stopped,
        query_server_cpu,
        probes: results,
        stopped,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let report = match bench(&args) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("bench failed: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.text());
    if let Some(out) = &args.out {
        let path = out.clone().unwrap_or_else(report::default_out_path);
        match report.write_json(&path) {
            Ok(path) => println!("\nwrote {}", path.display()),
            Err(e) => {
                eprintln!("cannot write the JSON report: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
