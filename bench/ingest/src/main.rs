//! `bench/ingest`: ingest throughput and latency of `spanloom serve`, against a plain-SQLite
//! floor on the same machine.
//!
//! Phases, each on a fresh server and data directory:
//! - **A, peak**: closed-loop clients post `/logs3` batches (start rows, then end merges)
//!   until `--spans` spans are acknowledged: spans/s, request latency, 503s, peak RSS, disk.
//! - **B, half load**: the same at 50% of phase A's rate, spread evenly: request latency.
//! - **Floor**: the same rows inserted by one thread into a plain SQLite table, 500 rows per
//!   transaction, `synchronous=FULL` and `NORMAL`.
//!
//! Everything runs on 127.0.0.1 and in a temporary directory that is removed at the end.

mod floor;
mod load;
mod report;
use spanloom_bench_common::env::{TempDir, resolve_server, workspace_root};
use spanloom_bench_common::server;
mod workload;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use load::{LoadConfig, LoadResult};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use report::{PhaseReport, Report};
use server::{Server, ServerOpts};
use spanloom_bench_common::machine::Machine;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use workload::{Pool, Workload};

/// Ingest benchmark for spanloom: peak and half-load `/logs3` against a plain-SQLite floor.
#[derive(Parser, Debug, Clone)]
#[command(name = "spanloom-bench-ingest", version, about)]
pub struct Args {
    /// Spans to acknowledge in phase A (and by default in phase B and the floor).
    #[arg(long, default_value_t = 100_000)]
    pub spans: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Spans per request (each span's start row in one request, its end merge in a later one).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// The `spanloom` binary to start (relative paths are also tried from the workspace root).
    #[arg(
        long,
        env = "SPANLOOM_BENCH_SERVER",
        default_value = "target/release/spanloom"
    )]
    pub server: PathBuf,
    /// Server `--sync` mode; the floor ratio uses the matching SQLite `synchronous` setting.
    #[arg(long, value_enum, default_value_t = SyncMode::Full)]
    pub sync: SyncMode,
    /// Server `--write-queue` (server default if unset).
    #[arg(long)]
    pub write_queue: Option<usize>,
    /// Spans in phase B (default: `--spans`).
    #[arg(long)]
    pub half_spans: Option<u64>,
    /// Phase B's offered rate in spans/s instead of half of phase A's: for comparing two
    /// builds at the same load (their peaks differ, and so would their half loads).
    #[arg(long)]
    pub half_rate: Option<f64>,
    /// Each phase stops taking new batches after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub time_limit_secs: u64,
    /// Where to create the temporary directory (default: the system temp dir).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the temporary directory (data dirs, server logs, floor databases).
    #[arg(long)]
    pub keep: bool,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the report as JSON; without a value to `bench/runs/<date>-ingest.json`.
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

    /// The SQLite `synchronous` value.
    pub fn sqlite(self) -> &'static str {
        match self {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        }
    }
}

/// Runs one load phase on a fresh server in `dir` and stops the server.
fn run_phase(
    rt: &tokio::runtime::Runtime,
    opts: &ServerOpts,
    pool: &Arc<Pool>,
    dir: &Path,
    mut cfg: LoadConfig,
) -> anyhow::Result<PhaseReport> {
    let server = Server::start(opts, dir)?;
    cfg.url.clone_from(&server.url);
    cfg.key.clone_from(&server.key);
    let http = load::http_client(cfg.clients)?;
    let client_cpu_before = server::cpu_time("self")?;
    let outcome: anyhow::Result<LoadResult> = rt.block_on(async {
        let project = load::create_project(&http, &server.url, &server.key, "bench").await?;
        let workload = Workload::new(Arc::clone(pool), &project);
        load::run(http, workload, cfg).await
    });
    let load = match outcome {
        Ok(load) => load,
        Err(e) => {
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
            return Err(anyhow::anyhow!(
                "{e:#}\nserver: {stopped}\nlast lines of the server's stderr ({log}, kept with --keep):\n{tail}"
            ));
        }
    };
    let client_cpu = server::cpu_time("self")?.saturating_sub(client_cpu_before);
    let server_cpu = server.cpu_time()?;
    let server_threads = server.thread_cpu()?;
    let index = rt.block_on(load::wait_for_text_index(
        &load::http_client(1)?,
        &server.url,
        &server.key,
        load.acked_spans,
    ))?;
    let server_cpu_indexed = server.cpu_time()?;
    let peak_rss_kib = server.rss_kib()?.peak_kib;
    let data_dir = server.data_dir.clone();
    let stderr_path = server.stderr_path().to_path_buf();
    let stopped = server.stop()?;
    if !stopped.clean {
        eprintln!(
            "warning: the server did not exit cleanly ({}); stderr:\n{}",
            stopped.status,
            server::stderr_tail(&stderr_path, 20)
        );
    }
    let disk_bytes = server::dir_bytes(&data_dir)?;
    let disk_files = server::file_sizes(&data_dir)?;
    Ok(PhaseReport {
        load,
        peak_rss_kib,
        disk_bytes,
        disk_files,
        server_cpu,
        server_threads,
        index,
        server_cpu_indexed,
        client_cpu,
        stopped,
    })
}

/// Runs the whole benchmark and returns the report.
fn bench(args: &Args) -> anyhow::Result<Report> {
    let opts = ServerOpts {
        binary: resolve_server(&args.server)?,
        sync: Some(args.sync.flag().to_owned()),
        write_queue: args.write_queue,
    };
    let work_parent = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = TempDir::new(&work_parent, "spanloom-bench-ingest", args.keep)?;
    let machine = Machine::detect(&tmp.path, &opts.binary, &workspace_root());
    let time_limit = Duration::from_secs(args.time_limit_secs);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;

    eprintln!("generating the text pool ...");
    let pool = Arc::new(Pool::generate(&mut SmallRng::seed_from_u64(args.seed)));
    let base = LoadConfig {
        url: String::new(),
        key: String::new(),
        spans: args.spans,
        clients: args.clients,
        batch: args.batch,
        rate: None,
        time_limit,
        seed: args.seed,
    };

    eprintln!(
        "phase A (peak): {} spans, {} clients, {} spans/request ...",
        args.spans, args.clients, args.batch
    );
    let peak = run_phase(&rt, &opts, &pool, &tmp.path.join("peak"), base.clone())
        .context("phase A (peak) failed")?;
    if !args.keep {
        // Free the disk early; the size was already measured.
        let _ = std::fs::remove_dir_all(tmp.path.join("peak/data"));
    }
    let half_rate = args
        .half_rate
        .unwrap_or_else(|| peak.load.spans_per_sec() / 2.0);
    let half_spans = args.half_spans.unwrap_or(args.spans);
    eprintln!(
        "phase A: {:.0} spans/s; phase B (half load): {half_spans} spans at {half_rate:.0} spans/s ...",
        peak.load.spans_per_sec()
    );
    let half = run_phase(
        &rt,
        &opts,
        &pool,
        &tmp.path.join("half"),
        LoadConfig {
            spans: half_spans,
            rate: Some(half_rate),
            ..base
        },
    )
    .context("phase B (half load) failed")?;

    let floor_workload = Workload::new(Arc::clone(&pool), "00000000-0000-4000-8000-000000000000");
    let mut floors = Vec::new();
    for sync in ["FULL", "NORMAL"] {
        eprintln!(
            "floor: plain SQLite, synchronous={sync}, {} spans ...",
            args.spans
        );
        let dir = tmp.path.join(format!("floor-{}", sync.to_lowercase()));
        let result = floor::run(
            &floor_workload,
            &dir,
            args.spans,
            args.batch,
            sync,
            args.seed,
            time_limit,
        )
        .with_context(|| format!("floor (synchronous={sync}) failed"))?;
        if !args.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        floors.push(result);
    }

    Ok(Report {
        command: std::env::args().collect(),
        machine,
        server_command: opts.command_line(Path::new("<tmp>/data")),
        args: args.clone(),
        peak,
        half_rate,
        half,
        floors,
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
