//! What machine a benchmark ran on, for its report.

use std::path::Path;
use std::process::Command;

/// The machine and build the benchmark ran on.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// Logical CPUs available.
    pub nproc: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal` in KiB.
    pub mem_total_kib: u64,
    /// Kernel release.
    pub kernel: String,
    /// The temporary directory used.
    pub work_dir: String,
    /// Filesystem type of the temporary directory (from `/proc/mounts`).
    pub work_fs: String,
    /// `spanloom --version`.
    pub server_version: String,
    /// `git rev-parse --short HEAD` of the workspace, with `-dirty` if it has changes.
    pub git: String,
}

impl Machine {
    /// Looks the machine up; unknown values stay empty.
    pub fn detect(work_dir: &Path, server: &Path, repo: &Path) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let git_head = command_output(Command::new("git").arg("-C").arg(repo).args([
            "rev-parse",
            "--short",
            "HEAD",
        ]));
        let dirty = !command_output(Command::new("git").arg("-C").arg(repo).args([
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]))
        .is_empty();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
                .unwrap_or_default(),
            mem_total_kib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            work_dir: work_dir.display().to_string(),
            work_fs: fs_type(work_dir),
            server_version: command_output(Command::new(server).arg("--version")),
            git: if dirty && !git_head.is_empty() {
                format!("{git_head}-dirty")
            } else {
                git_head
            },
        }
    }
}

/// Trimmed stdout of a command, empty on any failure.
pub fn command_output(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Filesystem type of the mount holding `path` (longest matching mount point).
pub fn fs_type(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mount, fs) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), fs.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
        .unwrap_or_default()
}
