//! The report: machine, data set, load numbers, and per query type the latency against its
//! goal and the published anchor; as text and as JSON.

use crate::Args;
use crate::load::LoadResult;
use crate::probes::{ANCHOR_SOURCE, ProbeResult};
use crate::stats::{Percentiles, ms};
use crate::workload::{
    BATCH_ROWS, BIG_TRACE_SPANS, DAYS, MODELS, PLANTS_PER_WORD, RARE_WORDS, USERS, civil_from_days,
};
use anyhow::Context;
use serde_json::{Value, json};
use spanloom_bench_common::machine::Machine;
use spanloom_bench_common::server::{Rss, Stopped};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The data set as loaded.
#[derive(Debug, Clone)]
pub struct DataSet {
    /// Traces.
    pub traces: usize,
    /// Spans.
    pub spans: u64,
    /// Distinct users with at least one trace.
    pub users: usize,
    /// Planned requests.
    pub batches: usize,
    /// `root_span_id` of the big trace.
    pub big_trace: String,
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
    /// The data set.
    pub data: DataSet,
    /// The load.
    pub load: LoadResult,
    /// Server CPU time during the load (startup included).
    pub load_server_cpu: Duration,
    /// This process's CPU time during the load (the clients).
    pub load_client_cpu: Duration,
    /// Server memory after the load.
    pub rss_after_load: Rss,
    /// Server memory after the queries.
    pub rss_after_queries: Rss,
    /// How long after the load the text index caught up (`None`: it did not, or is off).
    pub text_index_catch_up: Option<Duration>,
    /// Bytes of the data directory after the load (server running).
    pub disk_bytes: u64,
    /// Its files and their sizes, largest first.
    pub disk_files: Vec<(String, u64)>,
    /// Bytes of the data directory after the server stopped.
    pub disk_bytes_stopped: u64,
    /// Its files after the server stopped, largest first.
    pub disk_files_stopped: Vec<(String, u64)>,
    /// Server CPU time during the queries.
    pub query_server_cpu: Duration,
    /// The query types.
    pub probes: Vec<ProbeResult>,
    /// How the server stopped.
    pub stopped: Stopped,
}

fn pct_json(p: &Percentiles) -> Value {
    json!({"count": p.count, "p50": ms(p.p50), "p95": ms(p.p95), "p99": ms(p.p99), "max": ms(p.max)})
}

fn files_json(files: &[(String, u64)]) -> Vec<Value> {
    files
        .iter()
        .map(|(n, b)| json!({"name": n, "bytes": b}))
        .collect()
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

/// A byte count in B, KiB, MiB or GiB.
fn size_text(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", mib(bytes as f64)),
        _ => format!("{:.2} GiB", mib(bytes as f64) / 1024.0),
    }
}

/// A percentile of a query type as text, `-` when it has no timed runs.
fn lat_text(p: &ProbeResult, pick: fn(&Percentiles) -> Duration) -> String {
    if p.latencies.is_empty() {
        "-".to_owned()
    } else {
        ms_text(pick(&p.latency()))
    }
}

/// A latency in milliseconds with sensible precision.
fn ms_text(d: Duration) -> String {
    let v = ms(d);
    if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 1000.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
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

/// The largest files of a directory listing as text.
fn files_text(files: &[(String, u64)]) -> String {
    files
        .iter()
        .take(4)
        .map(|(name, bytes)| format!("{name} {}", size_text(*bytes)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One word on a query type's outcome against its goal.
fn verdict(p: &ProbeResult) -> &'static str {
    if p.failed.is_some() {
        "FAILED"
    } else if p.incomplete.is_some() {
        "INCOMPLETE"
    } else if p.goal_met() {
        "MET"
    } else {
        "NOT MET"
    }
}

/// The check outcome as text.
fn check_text(p: &ProbeResult) -> String {
    let c = &p.checks;
    match (&c.first_failure, c.passed + c.failed) {
        (_, 0) => "no answer".to_owned(),
        (None, n) => format!("ok ({n}/{n})"),
        (Some(_), n) => format!("WRONG ({} of {n})", c.failed),
    }
}

impl Report {
    fn json_per_span(&self) -> f64 {
        self.load.body_bytes as f64 / self.load.acked_spans.max(1) as f64
    }

    fn rows_mode(&self) -> &'static str {
        if self.args.split_rows {
            "start row + end merge per span (--split-rows)"
        } else {
            "one complete replace row per span"
        }
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
        let d = &self.data;
        let l = &self.load;
        writeln!(s)?;
        writeln!(s, "== spanloom query benchmark ==")?;
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
            "data      {} spans in {} traces ({:.1} spans/trace; one trace of {BIG_TRACE_SPANS}), {} of {USERS} users, \
             {} models, start times over the last {DAYS:.0} days; rare words {} in {PLANTS_PER_WORD} outputs each",
            d.spans,
            d.traces,
            d.spans as f64 / d.traces.max(1) as f64,
            d.users,
            MODELS.len(),
            RARE_WORDS.join(" and "),
        )?;

        let lat = l.latency();
        writeln!(s)?;
        writeln!(
            s,
            "Load: {} clients, {}-{} rows/request, {}",
            self.args.clients,
            BATCH_ROWS.start,
            BATCH_ROWS.end - 1,
            self.rows_mode()
        )?;
        writeln!(
            s,
            "  acknowledged        {} spans ({} rows, {} requests) in {:.1} s{}",
            l.acked_spans,
            l.acked_rows,
            l.requests,
            l.elapsed.as_secs_f64(),
            if l.timed_out {
                "  (INCOMPLETE: load time limit; query checks will not match)"
            } else {
                ""
            }
        )?;
        writeln!(
            s,
            "  ingest rate         {:.0} spans/s ({:.0} rows/s, {:.1} MiB/s of request JSON, {:.2} KiB/span)",
            l.spans_per_sec(),
            l.acked_rows as f64 / l.elapsed.as_secs_f64().max(1e-9),
            mib(l.body_bytes as f64) / l.elapsed.as_secs_f64().max(1e-9),
            self.json_per_span() / 1024.0
        )?;
        writeln!(
            s,
            "  request latency     p50 {}   p99 {}   max {}   503 responses: {}",
            ms_text(lat.p50),
            ms_text(lat.p99),
            ms_text(lat.max),
            l.overloaded
        )?;
        let wall = l.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            s,
            "  CPU during load     server {:.1} s ({:.2} cores), bench clients {:.1} s ({:.2} cores)",
            self.load_server_cpu.as_secs_f64(),
            self.load_server_cpu.as_secs_f64() / wall,
            self.load_client_cpu.as_secs_f64(),
            self.load_client_cpu.as_secs_f64() / wall
        )?;
        writeln!(
            s,
            "  server RSS          after load {:.1} MiB (peak {:.1} MiB); after queries {:.1} MiB (peak {:.1} MiB)",
            self.rss_after_load.now_kib as f64 / 1024.0,
            self.rss_after_load.peak_kib as f64 / 1024.0,
            self.rss_after_queries.now_kib as f64 / 1024.0,
            self.rss_after_queries.peak_kib as f64 / 1024.0
        )?;
        writeln!(
            s,
            "  text index          {}",
            match self.text_index_catch_up {
                Some(d) => format!(
                    "caught up {:.1} s after the last acknowledged write",
                    d.as_secs_f64()
                ),
                None => "did not catch up (or is off): full-text queries scanned the tail".into(),
            }
        )?;
        let per_span = |bytes: u64| bytes as f64 / 1024.0 / l.acked_spans.max(1) as f64;
        let json_ratio = |bytes: u64| bytes as f64 / (l.body_bytes.max(1) as f64);
        writeln!(
            s,
            "  disk after load     {} = {:.2} KiB/span ({:.2}x the request JSON; server running): {}",
            size_text(self.disk_bytes),
            per_span(self.disk_bytes),
            json_ratio(self.disk_bytes),
            files_text(&self.disk_files)
        )?;
        writeln!(
            s,
            "  disk after stop     {} = {:.2} KiB/span ({:.2}x the request JSON; after the queries and SIGTERM): {}",
            size_text(self.disk_bytes_stopped),
            per_span(self.disk_bytes_stopped),
            json_ratio(self.disk_bytes_stopped),
            files_text(&self.disk_files_stopped)
        )?;

        writeln!(s)?;
        writeln!(
            s,
            "Queries: {} warm-ups, then {} timed runs each, sequential; latency = client-side full HTTP round trip; \
             budget {} s per query type",
            self.args.warmups, self.args.repeats, self.args.query_time_limit_secs
        )?;
        writeln!(
            s,
            "  {:<46} {:>9} {:>9} {:>9} {:>16}  {:<15} {:<10} check",
            "query", "p50", "p95", "max", "rows", "goal", ""
        )?;
        for p in &self.probes {
            writeln!(
                s,
                "  {:<46} {:>9} {:>9} {:>9} {:>16}  {:<15} {:<10} {}",
                format!("({}) {}", p.key, p.name),
                lat_text(p, |l| l.p50),
                lat_text(p, |l| l.p95),
                lat_text(p, |l| l.max),
                p.rows_text(),
                format!("p95 < {} ms", p.goal_p95.as_millis()),
                verdict(p),
                check_text(p)
            )?;
        }
        writeln!(s)?;
        for p in &self.probes {
            writeln!(s, "  ({}) {}", p.key, p.request)?;
            writeln!(s, "      expected: {}", p.expectation)?;
            if p.still_busy {
                writeln!(
                    s,
                    "      note: the server was still busy (CPU) after {:.0} s of waiting; timings may be inflated",
                    p.idle_wait.as_secs_f64()
                )?;
            } else if p.idle_wait >= Duration::from_secs(1) {
                writeln!(
                    s,
                    "      note: waited {:.1} s for the server's CPU to go idle before the first run",
                    p.idle_wait.as_secs_f64()
                )?;
            }
            if let Some(why) = &p.checks.first_failure {
                writeln!(s, "      WRONG RESULT: {why}")?;
            }
            if let Some(why) = &p.incomplete {
                writeln!(s, "      INCOMPLETE: {why}")?;
            }
            if let Some(why) = &p.failed {
                writeln!(s, "      FAILED: {why}")?;
            }
        }

        writeln!(s)?;
        writeln!(s, "Against the anchor ({ANCHOR_SOURCE})")?;
        for p in &self.probes {
            let Some(anchor) = p.anchor else { continue };
            let ratio = if p.latencies.is_empty() {
                "n/a".to_owned()
            } else {
                format!("{:.2}x", ms(p.latency().p50) / anchor.p50_ms)
            };
            let note = if p.failed.is_some() {
                "  (failed)"
            } else if p.incomplete.is_some() {
                "  (incomplete)"
            } else {
                ""
            };
            writeln!(
                s,
                "  {:<6}{:<18} ours p50 {:>9} / anchor {:>3.0} ms = {ratio}{note}",
                format!("({})", p.key),
                anchor.what,
                lat_text(p, |l| l.p50),
                anchor.p50_ms,
            )?;
        }
        writeln!(
            s,
            "  (ratio = ours / anchor; below 1 is faster. Different data, hardware and definitions: a rough orientation only.)"
        )?;
        writeln!(s)?;
        let stop = &self.stopped;
        if stop.clean || !stop.shutdown.is_zero() {
            writeln!(
                s,
                "Server stopped {:.2} s after SIGTERM ({}); CPU during queries {:.1} s",
                stop.shutdown.as_secs_f64(),
                stop.status,
                self.query_server_cpu.as_secs_f64()
            )?;
        } else {
            writeln!(s, "Server {}", stop.status)?;
        }
        Ok(())
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let m = &self.machine;
        let a = &self.args;
        let l = &self.load;
        json!({
            "benchmark": "query",
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
                "clients": a.clients,
                "split_rows": a.split_rows,
                "warmups": a.warmups,
                "repeats": a.repeats,
                "query_time_limit_s": a.query_time_limit_secs,
                "load_time_limit_s": a.load_time_limit_secs,
                "seed": a.seed,
            },
            "data": {
                "spans": self.data.spans,
                "traces": self.data.traces,
                "users": self.data.users,
                "big_trace_spans": BIG_TRACE_SPANS,
                "big_trace_root_span_id": self.data.big_trace,
                "rare_words": RARE_WORDS,
                "plants_per_word": PLANTS_PER_WORD,
                "days": DAYS,
            },
            "load": {
                "acked_spans": l.acked_spans,
                "acked_rows": l.acked_rows,
                "requests": l.requests,
                "elapsed_s": l.elapsed.as_secs_f64(),
                "spans_per_sec": l.spans_per_sec(),
                "latency_ms": pct_json(&l.latency()),
                "responses_503": l.overloaded,
                "timed_out": l.timed_out,
                "request_json_bytes": l.body_bytes,
                "server_cpu_s": self.load_server_cpu.as_secs_f64(),
                "client_cpu_s": self.load_client_cpu.as_secs_f64(),
                "server_rss_kib": self.rss_after_load.now_kib,
                "server_peak_rss_kib": self.rss_after_load.peak_kib,
                "text_index_catch_up_s": self.text_index_catch_up.map(|d| d.as_secs_f64()),
                "disk_bytes": self.disk_bytes,
                "disk_files": files_json(&self.disk_files),
            },
            "queries": self.probes.iter().map(|p| json!({
                "key": p.key,
                "name": p.name,
                "request": p.request,
                "latency_ms": pct_json(&p.latency()),
                "samples_ms": p.latencies.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                "rows": p.rows,
                "warmups": p.warmups,
                "goal_p95_ms": ms(p.goal_p95),
                "goal_met": p.goal_met(),
                "incomplete": p.incomplete,
                "failed": p.failed,
                "checks_passed": p.checks.passed,
                "checks_failed": p.checks.failed,
                "first_check_failure": p.checks.first_failure,
                "idle_wait_s": p.idle_wait.as_secs_f64(),
                "server_still_busy": p.still_busy,
                "anchor": p.anchor.map(|an| json!({
                    "source": ANCHOR_SOURCE,
                    "what": an.what,
                    "p50_ms": an.p50_ms,
                    "ratio_p50": (!p.latencies.is_empty()).then(|| ms(p.latency().p50) / an.p50_ms),
                })),
            })).collect::<Vec<_>>(),
            "after_queries": {
                "server_rss_kib": self.rss_after_queries.now_kib,
                "server_peak_rss_kib": self.rss_after_queries.peak_kib,
                "server_cpu_s": self.query_server_cpu.as_secs_f64(),
                "shutdown_s": self.stopped.shutdown.as_secs_f64(),
                "shutdown_status": self.stopped.status,
                "disk_bytes_after_stop": self.disk_bytes_stopped,
                "disk_files_after_stop": files_json(&self.disk_files_stopped),
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
            if let (Ok(dir), Some(name)) = (dir.canonicalize(), path.file_name()) {
                path = dir.join(name);
            }
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let mut target = path.clone();
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

/// `bench/runs/<YYYY-MM-DD>-query.json` (UTC date) in the workspace.
pub fn default_out_path() -> PathBuf {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runs")
        .join(format!("{y:04}-{m:02}-{d:02}-query.json"))
}
