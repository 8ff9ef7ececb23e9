//! The report: machine description, measured numbers, ratios against the goals; as text and
//! as JSON.

use crate::Args;
use crate::floor::FloorResult;
use crate::load::{INDEX_WAIT, IndexCatchUp, LoadResult, Percentiles};
use crate::workload::{TRACE_SPANS, civil_from_days};
use anyhow::Context;
use serde_json::{Value, json};
use spanloom_bench_common::machine::Machine;
use spanloom_bench_common::server::{Stopped, ThreadCpu};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Goal: server spans/s ÷ floor spans/s.
pub const GOAL_FLOOR_RATIO: f64 = 0.5;
/// Goal: acknowledged spans/s at peak.
pub const GOAL_SPANS_PER_SEC: f64 = 20_000.0;
/// Goal: p99 request latency at half load.
pub const GOAL_HALF_P99: Duration = Duration::from_millis(50);

/// One load phase's measurements.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    /// Client-side measurements.
    pub load: LoadResult,
    /// Server peak RSS (`VmHWM`) in KiB, read before shutdown.
    pub peak_rss_kib: u64,
    /// Bytes of the data directory after shutdown.
    pub disk_bytes: u64,
    /// Files directly in the data directory and their sizes, largest first.
    pub disk_files: Vec<(String, u64)>,
    /// CPU time the server used up to the end of the load (startup included, shutdown not).
    pub server_cpu: Duration,
    /// The same by thread name, with the time each waited for a CPU (threads alive at the end).
    pub server_threads: Vec<ThreadCpu>,
    /// When the text index, which runs behind ingest, had covered every span.
    pub index: IndexCatchUp,
    /// CPU time the server used up to then: the whole cost of the phase's spans.
    pub server_cpu_indexed: Duration,
    /// CPU time this process (the clients) used during the load.
    pub client_cpu: Duration,
    /// How the server stopped.
    pub stopped: Stopped,
}

impl PhaseReport {
    fn disk_per_span(&self) -> f64 {
        self.disk_bytes as f64 / self.load.acked_spans.max(1) as f64
    }

    fn json_per_span(&self) -> f64 {
        self.load.body_bytes as f64 / self.load.acked_spans.max(1) as f64
    }

    /// Seconds of `cpu` per 1000 acknowledged spans.
    fn per_kspan(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1000.0 / self.load.acked_spans.max(1) as f64
    }

    /// CPU use during the load as text: seconds and average cores, server and clients.
    fn cpu_text(&self) -> String {
        let wall = self.load.elapsed.as_secs_f64().max(1e-9);
        format!(
            "server {:.1} s ({:.2} cores, {:.3} s per 1000 spans), bench clients {:.1} s ({:.2} cores)",
            self.server_cpu.as_secs_f64(),
            self.server_cpu.as_secs_f64() / wall,
            self.per_kspan(self.server_cpu),
            self.client_cpu.as_secs_f64(),
            self.client_cpu.as_secs_f64() / wall,
        )
    }

    /// Where the server's CPU went, by thread, as text: the largest four, then the rest.
    fn threads_text(&self) -> String {
        let one = |t: &ThreadCpu| {
            let count = if t.threads > 1 {
                format!(" x{}", t.threads)
            } else {
                String::new()
            };
            let waited = t
                .waited
                .map(|w| format!(" (waited {:.1} s)", w.as_secs_f64()))
                .unwrap_or_default();
            format!("{}{count} {:.1} s{waited}", t.name, t.cpu.as_secs_f64())
        };
        let shown = &self.server_threads[..self.server_threads.len().min(4)];
        let mut parts: Vec<String> = shown.iter().map(one).collect();
        // The rest, and threads that exited before the end (tokio's blocking pool), which are
        // in the process total only.
        let other = self
            .server_cpu
            .saturating_sub(shown.iter().map(|t| t.cpu).sum());
        if !other.is_zero() {
            parts.push(format!("other {:.1} s", other.as_secs_f64()));
        }
        parts.join(", ")
    }

    /// When the text index caught up, and the server's CPU up to then, as text.
    fn index_text(&self) -> String {
        let cpu = format!(
            "server CPU to then {:.1} s = {:.3} s per 1000 spans",
            self.server_cpu_indexed.as_secs_f64(),
            self.per_kspan(self.server_cpu_indexed)
        );
        match self.index {
            IndexCatchUp::After(d) => format!(
                "caught up {:.1} s after the last acknowledgement; {cpu}",
                d.as_secs_f64()
            ),
            IndexCatchUp::NotWithin => format!(
                "NOT caught up {:.0} s after the last acknowledgement; {cpu}",
                INDEX_WAIT.as_secs_f64()
            ),
            IndexCatchUp::Unknown => "unknown (no text-index metrics)".to_owned(),
        }
    }

    /// The largest files of the data directory as text.
    fn files_text(&self) -> String {
        self.disk_files
            .iter()
            .take(4)
            .map(|(name, bytes)| format!("{name} {}", size_text(*bytes)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn to_json(&self) -> Value {
        let l = &self.load;
        json!({
            "acked_spans": l.acked_spans,
            "elapsed_s": l.elapsed.as_secs_f64(),
            "spans_per_sec": l.spans_per_sec(),
            "rows_per_sec": l.spans_per_sec() * 2.0,
            "requests": l.latencies.len(),
            "latency_ms": pct_json(&Percentiles::of(&l.latencies)),
            "start_request_latency_ms": pct_json(&Percentiles::of(&l.start_latencies)),
            "end_request_latency_ms": pct_json(&Percentiles::of(&l.end_latencies)),
            "responses_503": l.overloaded,
            "timed_out": l.timed_out,
            "request_json_bytes_per_span": self.json_per_span(),
            "server_peak_rss_kib": self.peak_rss_kib,
            "disk_bytes": self.disk_bytes,
            "disk_bytes_per_span": self.disk_per_span(),
            "disk_files": self.disk_files.iter().map(|(n, b)| json!({"name": n, "bytes": b})).collect::<Vec<_>>(),
            "server_cpu_s": self.server_cpu.as_secs_f64(),
            "text_index_catch_up_s": match self.index {
                IndexCatchUp::After(d) => Some(d.as_secs_f64()),
                IndexCatchUp::NotWithin | IndexCatchUp::Unknown => None,
            },
            "server_cpu_until_indexed_s": self.server_cpu_indexed.as_secs_f64(),
            "server_threads": self.server_threads.iter().map(|t| json!({
                "name": t.name,
                "threads": t.threads,
                "cpu_s": t.cpu.as_secs_f64(),
                "runqueue_wait_s": t.waited.map(|w| w.as_secs_f64()),
            })).collect::<Vec<_>>(),
            "client_cpu_s": self.client_cpu.as_secs_f64(),
            "shutdown_s": self.stopped.shutdown.as_secs_f64(),
            "shutdown_status": self.stopped.status,
        })
    }
}

/// Everything the benchmark measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The command line of this process.
    pub command: Vec<String>,
    /// Where it ran.
    pub machine: Machine,
    /// How the server was started.
    pub server_command: String,
    /// The arguments.
    pub args: Args,
    /// Phase A.
    pub peak: PhaseReport,
    /// Offered load of phase B (spans/s).
    pub half_rate: f64,
    /// Phase B.
    pub half: PhaseReport,
    /// Floor results (`FULL`, then `NORMAL`).
    pub floors: Vec<FloorResult>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct_json(p: &Percentiles) -> Value {
    json!({"count": p.count, "p50": ms(p.p50), "p99": ms(p.p99), "max": ms(p.max)})
}

fn pct_text(p: &Percentiles) -> String {
    format!(
        "p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms   ({} requests)",
        ms(p.p50),
        ms(p.p99),
        ms(p.max),
        p.count
    )
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

/// A byte count in B, KiB or MiB.
fn size_text(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", mib(bytes as f64)),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

/// A command line with arguments quoted where the shell needs it.
fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Report {
    /// The floor matching the server's sync mode.
    fn matching_floor(&self) -> Option<&FloorResult> {
        self.floors
            .iter()
            .find(|f| f.synchronous == self.args.sync.sqlite())
    }

    fn floor_ratio(&self) -> Option<f64> {
        self.matching_floor()
            .map(|f| self.peak.load.spans_per_sec() / f.spans_per_sec().max(1e-9))
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut s);
        s
    }

    fn write_text(&self, s: &mut String) -> std::fmt::Result {
        let m = &self.machine;
        let a = &self.args;
        let peak = &self.peak;
        let half = &self.half;
        writeln!(s)?;
        writeln!(s, "== spanloom ingest benchmark ==")?;
        writeln!(s, "command   {}", shell_join(&self.command))?;
        writeln!(
            s,
            "machine   {} CPUs, {}, {:.1} GiB RAM, Linux {}",
            m.nproc,
            m.cpu_model,
            m.mem_total_kib as f64 / (1024.0 * 1024.0),
            m.kernel
        )?;
        writeln!(s, "work dir  {} ({})", m.work_dir, m.work_fs)?;
        writeln!(
            s,
            "server    {}   [{}, git {}]",
            self.server_command, m.server_version, m.git
        )?;
        writeln!(
            s,
            "workload  {} spans in traces of {TRACE_SPANS}, {} clients, {} spans/request; \
             {:.1} KiB of request JSON per span (start row + end merge)",
            a.spans,
            a.clients,
            a.batch,
            peak.json_per_span() / 1024.0
        )?;

        let l = &peak.load;
        writeln!(s)?;
        writeln!(s, "Phase A: peak (closed loop, fresh server)")?;
        writeln!(
            s,
            "  acknowledged        {} spans in {:.2} s{}",
            l.acked_spans,
            l.elapsed.as_secs_f64(),
            if l.timed_out {
                "  (INCOMPLETE: time limit)"
            } else {
                ""
            }
        )?;
        writeln!(
            s,
            "  throughput          {:.0} spans/s  ({:.0} rows/s, {:.1} MiB/s of request JSON)",
            l.spans_per_sec(),
            l.spans_per_sec() * 2.0,
            mib(l.body_bytes as f64) / l.elapsed.as_secs_f64().max(1e-9)
        )?;
        writeln!(
            s,
            "  request latency     {}",
            pct_text(&Percentiles::of(&l.latencies))
        )?;
        writeln!(
            s,
            "    start rows        {}",
            pct_text(&Percentiles::of(&l.start_latencies))
        )?;
        writeln!(
            s,
            "    end merges        {}",
            pct_text(&Percentiles::of(&l.end_latencies))
        )?;
        writeln!(s, "  503 responses       {}", l.overloaded)?;
        writeln!(
            s,
            "  server peak RSS     {:.1} MiB",
            peak.peak_rss_kib as f64 / 1024.0
        )?;
        writeln!(
            s,
            "  disk after stop     {:.1} MiB = {:.2} KiB/span ({:.2}x the request JSON)",
            mib(peak.disk_bytes as f64),
            peak.disk_per_span() / 1024.0,
            peak.disk_per_span() / peak.json_per_span().max(1e-9)
        )?;
        writeln!(s, "    files             {}", peak.files_text())?;
        writeln!(s, "  CPU during load     {}", peak.cpu_text())?;
        writeln!(s, "  CPU by thread       {}", peak.threads_text())?;
        writeln!(s, "  text index          {}", peak.index_text())?;
        writeln!(
            s,
            "  shutdown            {:.2} s after SIGTERM ({})",
            peak.stopped.shutdown.as_secs_f64(),
            peak.stopped.status
        )?;

        let l = &half.load;
        writeln!(s)?;
        let share = self.half_rate / self.peak.load.spans_per_sec().max(1.0) * 100.0;
        writeln!(
            s,
            "Phase B: half load (fresh server, offered {:.0} spans/s = {share:.0}% of phase A, spread evenly)",
            self.half_rate
        )?;
        writeln!(
            s,
            "  acknowledged        {} spans in {:.2} s = {:.0} spans/s{}",
            l.acked_spans,
            l.elapsed.as_secs_f64(),
            l.spans_per_sec(),
            if l.timed_out {
                "  (INCOMPLETE: time limit)"
            } else {
                ""
            }
        )?;
        writeln!(
            s,
            "  request latency     {}",
            pct_text(&Percentiles::of(&l.latencies))
        )?;
        writeln!(
            s,
            "    start rows        {}",
            pct_text(&Percentiles::of(&l.start_latencies))
        )?;
        writeln!(
            s,
            "    end merges        {}",
            pct_text(&Percentiles::of(&l.end_latencies))
        )?;
        writeln!(s, "  503 responses       {}", l.overloaded)?;
        writeln!(
            s,
            "  server peak RSS     {:.1} MiB",
            half.peak_rss_kib as f64 / 1024.0
        )?;
        writeln!(s, "  CPU during load     {}", half.cpu_text())?;
        writeln!(s, "  CPU by thread       {}", half.threads_text())?;
        writeln!(s, "  text index          {}", half.index_text())?;

        writeln!(s)?;
        writeln!(
            s,
            "Floor: plain SQLite, 1 thread, WAL, {} rows/transaction, same rows (start + end each a row)",
            crate::floor::ROWS_PER_TX
        )?;
        for f in &self.floors {
            writeln!(
                s,
                "  synchronous={:<7} {:.0} rows/s = {:.0} spans/s  ({} rows in {:.2} s, {:.2} KiB/span on disk)",
                f.synchronous,
                f.rows_per_sec(),
                f.spans_per_sec(),
                f.rows,
                f.elapsed.as_secs_f64(),
                f.disk_bytes as f64 / 1024.0 / (f.rows as f64 / 2.0).max(1.0)
            )?;
        }

        let sps = self.peak.load.spans_per_sec();
        let p99 = Percentiles::of(&half.load.latencies).p99;
        writeln!(s)?;
        writeln!(s, "Against the goals")?;
        if let (Some(ratio), Some(f)) = (self.floor_ratio(), self.matching_floor()) {
            writeln!(
                s,
                "  server / floor      {ratio:.2}  ({sps:.0} / {:.0} spans/s, synchronous={})   goal >= {GOAL_FLOOR_RATIO}   {}",
                f.spans_per_sec(),
                f.synchronous,
                verdict(ratio >= GOAL_FLOOR_RATIO)
            )?;
        }
        writeln!(
            s,
            "  peak spans/s        {sps:.0}  ({:.2}x goal)   goal >= {GOAL_SPANS_PER_SEC:.0}   {}",
            sps / GOAL_SPANS_PER_SEC,
            verdict(sps >= GOAL_SPANS_PER_SEC)
        )?;
        writeln!(
            s,
            "  half-load p99       {:.1} ms   goal <= {} ms   {}",
            ms(p99),
            GOAL_HALF_P99.as_millis(),
            verdict(p99 <= GOAL_HALF_P99)
        )?;
        Ok(())
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let m = &self.machine;
        let a = &self.args;
        let sps = self.peak.load.spans_per_sec();
        let p99 = Percentiles::of(&self.half.load.latencies).p99;
        json!({
            "benchmark": "ingest",
            "command": shell_join(&self.command),
            "date_unix": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            "machine": {
                "nproc": m.nproc,
                "cpu_model": m.cpu_model,
                "mem_total_kib": m.mem_total_kib,
                "kernel": m.kernel,
                "work_dir": m.work_dir,
                "work_fs": m.work_fs,
            },
            "server": {
                "command": self.server_command,
                "version": m.server_version,
                "git": m.git,
            },
            "params": {
                "spans": a.spans,
                "half_spans": a.half_spans.unwrap_or(a.spans),
                "clients": a.clients,
                "batch": a.batch,
                "sync": a.sync.flag(),
                "write_queue": a.write_queue,
                "seed": a.seed,
                "spans_per_trace": TRACE_SPANS,
                "time_limit_s": a.time_limit_secs,
            },
            "peak": self.peak.to_json(),
            "half_load": {
                "offered_spans_per_sec": self.half_rate,
                "result": self.half.to_json(),
            },
            "floor": self.floors.iter().map(|f| json!({
                "synchronous": f.synchronous,
                "rows": f.rows,
                "elapsed_s": f.elapsed.as_secs_f64(),
                "rows_per_sec": f.rows_per_sec(),
                "spans_per_sec": f.spans_per_sec(),
                "rows_per_transaction": crate::floor::ROWS_PER_TX,
                "disk_bytes": f.disk_bytes,
            })).collect::<Vec<_>>(),
            "goals": {
                "server_over_floor": {"value": self.floor_ratio(), "goal_min": GOAL_FLOOR_RATIO,
                    "met": self.floor_ratio().is_some_and(|r| r >= GOAL_FLOOR_RATIO)},
                "peak_spans_per_sec": {"value": sps, "goal_min": GOAL_SPANS_PER_SEC,
                    "met": sps >= GOAL_SPANS_PER_SEC},
                "half_load_p99_ms": {"value": ms(p99), "goal_max": ms(GOAL_HALF_P99),
                    "met": p99 <= GOAL_HALF_P99},
            },
        })
    }

    /// Writes the JSON report to `path` (creating its directory); an existing file is not
    /// overwritten: `-2`, `-3`, ... is appended to the name instead. Returns the path written.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let mut path = path.to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            // Resolve `bench/ingest/../runs` and the like for the printed path.
            if let (Ok(dir), Some(name)) = (dir.canonicalize(), path.file_name()) {
                path = dir.join(name);
            }
        }
        let path = path.as_path();
        let mut target = path.to_path_buf();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let mut n = 2;
        while target.exists() {
            target = path.with_file_name(format!("{stem}-{n}{ext}"));
            n += 1;
        }
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(&target, text + "\n")
            .with_context(|| format!("cannot write {}", target.display()))?;
        Ok(target)
    }
}

/// `bench/runs/<YYYY-MM-DD>-ingest.json` (UTC date) in the workspace.
pub fn default_out_path() -> PathBuf {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runs")
        .join(format!("{y:04}-{m:02}-{d:02}-ingest.json"))
}
