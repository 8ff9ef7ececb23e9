//! Command-line interface. Flags describe the process; each has a `SPANLOOM_*` variable.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Spanloom: tracing and evaluation for LLM and agent apps.
#[derive(Parser, Debug)]
#[command(name = "spanloom", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: API and ingest on one HTTP port, data in an embedded store.
    Serve(ServeArgs),
    /// Create, list and revoke API keys.
    Keys(KeysArgs),
    /// Run a BTQL query against the data directory and print the rows.
    Query(QueryArgs),
    /// Re-derive stored OpenTelemetry spans from their raw form with the current mapping.
    Renormalize(RenormalizeArgs),
}

/// `spanloom renormalize`.
#[derive(Args, Debug)]
pub struct RenormalizeArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// The org whose spans are re-derived.
    #[arg(long, default_value = "spanloom")]
    pub org: String,
    /// Only this project (name or id); every project by default.
    #[arg(long)]
    pub project: Option<String>,
    /// Count what would change without writing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Output of `spanloom query`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryFormat {
    /// An aligned table, long values cut.
    Table,
    /// One JSON object per line.
    Jsonl,
}

/// `spanloom query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// The query, in SQL syntax (`SELECT ... FROM project_logs('<id>') ...`) or clause syntax
    /// (`from: project_logs('<id>') | filter: ... | limit: 10`).
    pub query: String,
    /// The org whose data is queried.
    #[arg(long, default_value = "spanloom")]
    pub org: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

/// Where the data lives (shared by every subcommand).
#[derive(Args, Debug, Clone)]
pub struct DataDirArg {
    /// Data directory (created if missing).
    #[arg(long, env = "SPANLOOM_DATA_DIR", default_value = "./spanloom-data")]
    pub data_dir: PathBuf,
}

/// Log output format.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How hard the store syncs at commit.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync each commit: acknowledged writes survive power loss.
    Full,
    /// Acknowledged writes survive a crash of the process, not of the machine.
    Normal,
}

/// `spanloom serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Address to listen on. Port 4318 is also the standard OTLP/HTTP port.
    #[arg(long, env = "SPANLOOM_BIND", default_value = "127.0.0.1:4318")]
    pub bind: SocketAddr,
    /// Address of the OTLP/gRPC listener (`TraceService`, `LogsService`); `off` disables it.
    #[arg(
        long,
        env = "SPANLOOM_OTLP_GRPC_BIND",
        default_value = "127.0.0.1:4317"
    )]
    pub otlp_grpc_bind: String,
    /// Base URL clients should use (returned at login); by default taken from the request's Host.
    #[arg(long, env = "SPANLOOM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest accepted request body in bytes (default 64 MiB).
    #[arg(long, env = "SPANLOOM_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest blob upload (attachment or `/logs3` overflow payload) in bytes (default 1 GiB).
    #[arg(long, env = "SPANLOOM_MAX_UPLOAD_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Request body bytes held in memory at once before new requests get 503 (default 1 GiB).
    #[arg(long, env = "SPANLOOM_MAX_INFLIGHT_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_inflight_bytes: usize,
    /// Write requests queued for the writer before new ones get 503.
    #[arg(long, env = "SPANLOOM_WRITE_QUEUE", default_value_t = 1024)]
    pub write_queue: usize,
    /// Store sync mode.
    #[arg(long, env = "SPANLOOM_SYNC", value_enum, default_value_t = SyncMode::Full)]
    pub sync: SyncMode,
    /// MiB of write-ahead log past which the writer starts the log over (a pause of tens of
    /// milliseconds for the writes queued meanwhile): larger means rarer pauses and a larger
    /// `-wal` file (up to twice this).
    #[arg(long = "wal-limit-mib", env = "SPANLOOM_WAL_LIMIT_MIB", default_value_t = spanloom_store_sqlite::DEFAULT_WAL_LIMIT_BYTES / (1024 * 1024), value_parser = clap::value_parser!(u64).range(1..))]
    pub wal_limit_mib: u64,
    /// Row fields to give an expression index (dotted paths, e.g. `metadata.tokens_budget`);
    /// repeat the flag or separate with commas. None by default: equality with a string on any
    /// `metadata` field is already found through the full-text index. An expression index
    /// serves ranges, sorting and numbers too, at a cost in ingest throughput (its random
    /// values dirty a page of it per row at each commit: 10-25% each on the ingest benchmark).
    #[arg(long = "index-field", env = "SPANLOOM_INDEX_FIELDS", value_delimiter = ',', default_values_t = spanloom_store_sqlite::DEFAULT_INDEXED_FIELDS.map(String::from))]
    pub index_fields: Vec<String>,
    /// Keep the full-text index behind `MATCH` (a background thread; `off` makes `MATCH` scan
    /// every payload, and spares the indexing CPU).
    #[arg(long, env = "SPANLOOM_TEXT_INDEX", value_enum, default_value_t = Switch::On)]
    pub text_index: Switch,
    /// Name of the org created on first start.
    #[arg(long, env = "SPANLOOM_ORG", default_value = "spanloom")]
    pub org: String,
    /// Log format.
    #[arg(long, env = "SPANLOOM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `spanloom keys ...`.
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// What to do with keys.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Key actions.
#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Create a key (and its org if new); prints the key once.
    Create {
        /// Org of the key.
        #[arg(long, default_value = "spanloom")]
        org: String,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Default project (by name) of the key: where its OTLP spans go when they name none.
        #[arg(long)]
        project: Option<String>,
    },
    /// Set or clear a key's default project.
    SetProject {
        /// Key id or prefix.
        key: String,
        /// Project name; omit to clear.
        project: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        /// Only keys of this org.
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a key by id or by its listed prefix.
    Revoke {
        /// Key id or prefix.
        key: String,
    },
}

/// A feature switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}
