//! Starting and stopping a `spanloom serve` process, and measuring it (RSS, CPU, disk use).
//! The server binds `127.0.0.1:0`, prints its URL, and writes the admin key to
//! `<data-dir>/admin-key`; SIGTERM stops it.

use anyhow::{Context, bail};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long to wait for the server to print its URL.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for the server to drain and exit after SIGTERM before killing it.
const STOP_TIMEOUT: Duration = Duration::from_secs(180);
/// Prefix of the stdout line announcing the URL.
const LISTENING: &str = "spanloom listening on ";

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOpts {
    /// Path of the `spanloom` binary.
    pub binary: PathBuf,
    /// `--sync` value (`full` or `normal`); the server's default if unset.
    pub sync: Option<String>,
    /// `--write-queue`; the server's default if unset.
    pub write_queue: Option<usize>,
}

impl ServerOpts {
    /// The arguments after the binary for a data directory.
    fn args(&self, data_dir: &Path) -> Vec<String> {
        let mut args = vec![
            "serve".to_owned(),
            "--data-dir".to_owned(),
            data_dir.display().to_string(),
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            // Several benchmark servers may run at once; none needs the OTLP/gRPC port.
            "--otlp-grpc-bind".to_owned(),
            "off".to_owned(),
        ];
        if let Some(sync) = &self.sync {
            args.push("--sync".to_owned());
            args.push(sync.clone());
        }
        if let Some(n) = self.write_queue {
            args.push("--write-queue".to_owned());
            args.push(n.to_string());
        }
        args
    }

    /// The server command line as text (for the report).
    pub fn command_line(&self, data_dir: &Path) -> String {
        let mut parts = vec![self.binary.display().to_string()];
        parts.extend(self.args(data_dir));
        parts.join(" ")
    }
}

/// A running server with a fresh data directory.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The admin API key.
    pub key: String,
    /// The data directory.
    pub data_dir: PathBuf,
    stderr_path: PathBuf,
}

/// Resident memory of the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    /// `VmRSS`: now, KiB.
    pub now_kib: u64,
    /// `VmHWM`: the peak so far, KiB.
    pub peak_kib: u64,
}

/// What stopping the server observed.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// Time from SIGTERM to exit.
    pub shutdown: Duration,
    /// Exit status as text.
    pub status: String,
    /// Whether it exited by itself (rather than being killed after [`STOP_TIMEOUT`]).
    pub clean: bool,
}

impl Server {
    /// Starts the server on `dir/data` (stderr to `dir/server.stderr`) and waits for its URL.
    pub fn start(opts: &ServerOpts, dir: &Path) -> anyhow::Result<Server> {
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let stderr_path = dir.join("server.stderr");
        let stderr = File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let mut child = Command::new(&opts.binary)
            .args(opts.args(&data_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {}", opts.binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the server's stdout is not piped")?;

        // Read stdout on a thread: report the URL, then keep draining so the pipe never fills.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.trim().strip_prefix(LISTENING)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.to_owned());
                }
            }
        });

        let mut server = Server {
            child,
            url: String::new(),
            key: String::new(),
            data_dir,
            stderr_path,
        };
        match rx.recv_timeout(START_TIMEOUT) {
            // Only the loopback address is ever contacted.
            Ok(url) if url.starts_with("http://127.0.0.1:") => server.url = url,
            Ok(url) => bail!("the server announced {url}, expected http://127.0.0.1:<port>"),
            Err(_) => bail!(
                "the server did not print its URL within {START_TIMEOUT:?} (exit status: {}); stderr:\n{}",
                server.exit_status(),
                server.stderr_tail(40)
            ),
        }
        let key_path = server.data_dir.join("admin-key");
        server.key = std::fs::read_to_string(&key_path)
            .with_context(|| format!("cannot read the admin key at {}", key_path.display()))?
            .trim()
            .to_owned();
        if !server.key.starts_with("sl-") {
            bail!("unexpected admin key format in {}", key_path.display());
        }
        Ok(server)
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now and at its peak so far, in KiB (`VmRSS` and `VmHWM` from
    /// `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> anyhow::Result<Rss> {
        rss_of(self.pid())
    }

    /// CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        cpu_time(&self.pid().to_string())
    }

    /// CPU time and run-queue wait of the server's live threads, by name ([`thread_cpu`]).
    pub fn thread_cpu(&self) -> anyhow::Result<Vec<ThreadCpu>> {
        thread_cpu(self.pid())
    }

    /// The last `n` lines of the server's stderr.
    pub fn stderr_tail(&self, n: usize) -> String {
        stderr_tail(&self.stderr_path, n)
    }

    /// Path of the server's stderr log.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    fn exit_status(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(s)) => s.to_string(),
            Ok(None) => "still running".to_owned(),
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// Sends SIGTERM and waits for a graceful exit; kills it after [`STOP_TIMEOUT`]. A server
    /// that already exited (crashed) is reported as such, not as an error.
    pub fn stop(mut self) -> anyhow::Result<Stopped> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(Stopped {
                shutdown: Duration::ZERO,
                status: format!("had already exited before SIGTERM ({status})"),
                clean: false,
            });
        }
        let t0 = Instant::now();
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("cannot run `kill`")?;
        if !sent.success() {
            bail!(
                "`kill -TERM {pid}` failed (exit status: {})",
                self.exit_status()
            );
        }
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Stopped {
                    shutdown: t0.elapsed(),
                    status: status.to_string(),
                    clean: status.success(),
                });
            }
            if t0.elapsed() > STOP_TIMEOUT {
                self.child.kill()?;
                let status = self.child.wait()?;
                return Ok(Stopped {
                    shutdown: t0.elapsed(),
                    status: format!("killed after {STOP_TIMEOUT:?} ({status})"),
                    clean: false,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    /// A server still running here was abandoned on an error path: kill it.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Resident set size of a process now and at its peak so far, in KiB (`VmRSS` and `VmHWM`
/// from `/proc/<pid>/status`).
pub fn rss_of(pid: u32) -> anyhow::Result<Rss> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in {path}"))
    };
    Ok(Rss {
        now_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// CPU time (user + system) of a process (`"self"` or a pid), from `/proc/<pid>/stat`.
pub fn cpu_time(pid: &str) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // Fields after the command name (which may contain spaces) start at field 3 (`state`);
    // utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("unexpected {path}"))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(
        total as f64 / clock_ticks_per_sec(),
    ))
}

/// CPU use of a process's threads of one name.
#[derive(Debug, Clone)]
pub struct ThreadCpu {
    /// The thread name (Linux keeps its first 15 characters).
    pub name: String,
    /// Threads of that name.
    pub threads: usize,
    /// CPU time (user + system) they used.
    pub cpu: Duration,
    /// Time they were ready to run but waited for a CPU (`None` where the kernel does not
    /// keep scheduler statistics).
    pub waited: Option<Duration>,
}

/// CPU time and run-queue wait of the live threads of process `pid`, summed by thread name,
/// largest CPU time first: which part of a server the CPU goes to, and whether a thread was
/// held back by the others (from `/proc/<pid>/task/<tid>/stat` and `.../schedstat`).
pub fn thread_cpu(pid: u32) -> anyhow::Result<Vec<ThreadCpu>> {
    let dir = format!("/proc/{pid}/task");
    let mut by_name: Vec<ThreadCpu> = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {dir}"))? {
        let tid = entry?.file_name().to_string_lossy().into_owned();
        let task = format!("{pid}/task/{tid}");
        // A thread may exit between the listing and the reads: skip it.
        let Ok(name) = std::fs::read_to_string(format!("/proc/{task}/comm")) else {
            continue;
        };
        let Ok(cpu) = cpu_time(&task) else {
            continue;
        };
        // schedstat: time on CPU, time waiting on a run queue (both ns), timeslices.
        let waited = std::fs::read_to_string(format!("/proc/{task}/schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(Duration::from_nanos);
        let name = name.trim().to_owned();
        match by_name.iter_mut().find(|t| t.name == name) {
            Some(t) => {
                t.threads += 1;
                t.cpu += cpu;
                t.waited = t.waited.zip(waited).map(|(a, b)| a + b);
            }
            None => by_name.push(ThreadCpu {
                name,
                threads: 1,
                cpu,
                waited,
            }),
        }
    }
    by_name.sort_by_key(|t| std::cmp::Reverse(t.cpu));
    Ok(by_name)
}

/// `getconf CLK_TCK` (100 on practically every Linux).
fn clock_ticks_per_sec() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// Sizes of the regular files below `path` (named by their path under it), largest first.
pub fn file_sizes(path: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    list_files(path, "", &mut files)?;
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(files)
}

/// Adds the regular files below `dir` to `files`, named by their path under the top directory.
fn list_files(dir: &Path, prefix: &str, files: &mut Vec<(String, u64)>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if meta.is_file() {
            files.push((name, meta.len()));
        } else if meta.is_dir() {
            list_files(&entry.path(), &format!("{name}/"), files)?;
        }
    }
    Ok(())
}

/// The last `n` lines of a file (empty if unreadable).
pub fn stderr_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Total size in bytes of the regular files below `path`.
pub fn dir_bytes(path: &Path) -> anyhow::Result<u64> {
    Ok(file_sizes(path)?.iter().map(|(_, bytes)| bytes).sum())
}
