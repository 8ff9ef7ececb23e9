//! `spanloom serve`: open the store, bootstrap, serve HTTP, shut down gracefully.

use crate::bootstrap;
use crate::cli::{ServeArgs, SyncMode};
use crate::telemetry;
use anyhow::Context;
use spanloom_api::{ApiConfig, AppState};
use spanloom_store::Store;
use spanloom_store_sqlite::{SqliteConfig, SqliteStore, Synchronous};
use std::path::Path;
use std::sync::Arc;

/// Opens the embedded store in a data directory, for a one-shot subcommand: the text index
/// is left to the server (such a command's `MATCH` scans).
pub fn open_store(
    dir: &Path,
    readers: usize,
    queue: usize,
    sync: Synchronous,
) -> anyhow::Result<SqliteStore> {
    open_store_with(SqliteConfig {
        readers,
        queue_capacity: queue,
        synchronous: sync,
        text_index: false,
        ..SqliteConfig::new(dir)
    })
}

/// The org with this name, for the subcommands that work on one org's data.
pub async fn find_org(store: &dyn Store, name: &str) -> anyhow::Result<spanloom_model::Org> {
    store
        .list_orgs()
        .await?
        .into_iter()
        .find(|o| o.name == name)
        .ok_or_else(|| anyhow::anyhow!("no org named {name:?}"))
}

/// Opens the embedded store with a full configuration.
pub fn open_store_with(config: SqliteConfig) -> anyhow::Result<SqliteStore> {
    let dir = config.dir.clone();
    SqliteStore::open(config).with_context(|| format!("cannot open the store in {}", dir.display()))
}

/// Runs the server until SIGTERM or Ctrl-C, then drains the writer.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init_logging(args.log_format);
    let metrics = telemetry::init_metrics()?;
    let sync = match args.sync {
        SyncMode::Full => Synchronous::Full,
        SyncMode::Normal => Synchronous::Normal,
    };
    let data_dir = &args.data.data_dir;
    let config = SqliteConfig {
        readers: 4,
        queue_capacity: args.write_queue,
        synchronous: sync,
        indexed_fields: args.index_fields.clone(),
        text_index: args.text_index == crate::cli::Switch::On,
        wal_limit_bytes: args.wal_limit_mib.saturating_mul(1024 * 1024),
        ..SqliteConfig::new(data_dir)
    };
    let store: Arc<dyn Store> = Arc::new(open_store_with(config)?);
    bootstrap::ensure_admin(store.as_ref(), data_dir, &args.org).await?;

    let config = ApiConfig {
        max_body_bytes: args.max_body_bytes,
        max_inflight_bytes: args.max_inflight_bytes,
        public_url: args.public_url.clone(),
        max_upload_bytes: args.max_upload_bytes,
        ..ApiConfig::default()
    };
    let blobs = spanloom_blobstore::LocalDirStore::open(data_dir.join("objects"))
        .with_context(|| format!("cannot open the blob store in {}", data_dir.display()))?;
    let signer = bootstrap::url_signer(data_dir)?;
    let state = AppState::new(Arc::clone(&store), blobs, signer, config, Some(metrics));
    let app = spanloom_api::router(state.clone()).merge(spanloom_ui::router());
    let (grpc_stop, grpc_task) = start_grpc(&args.otlp_grpc_bind, state).await?;
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(url = %format!("http://{addr}"), data_dir = %data_dir.display(), store = store.backend_name(), "spanloom serving");
    println!("spanloom listening on http://{addr}");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    if let Some(task) = grpc_task {
        let _ = grpc_stop.send(());
        match task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "OTLP/gRPC server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "OTLP/gRPC server task failed"),
            Ok(Ok(())) => {}
        }
    }
    tracing::info!("stopped accepting requests; draining the writer");
    store.shutdown().await;
    tracing::info!("shutdown complete");
    Ok(())
}

type GrpcTask = tokio::task::JoinHandle<Result<(), spanloom_api::otlp::grpc::TransportError>>;

/// Starts the OTLP/gRPC listener (unless `bind` is `off`); it stops when the sender fires.
async fn start_grpc(
    bind: &str,
    state: AppState,
) -> anyhow::Result<(tokio::sync::oneshot::Sender<()>, Option<GrpcTask>)> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    if bind.eq_ignore_ascii_case("off") || bind.is_empty() {
        return Ok((stop, None));
    }
    let addr: std::net::SocketAddr = bind
        .parse()
        .with_context(|| format!("--otlp-grpc-bind {bind:?} is not HOST:PORT or `off`"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for OTLP/gRPC on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "OTLP/gRPC serving");
    println!("spanloom OTLP/gRPC listening on {local}");
    let task = tokio::spawn(spanloom_api::otlp::grpc::serve(state, listener, async {
        let _ = stopped.await;
    }));
    Ok((stop, Some(task)))
}

/// Resolves at SIGTERM or SIGINT. The handlers are installed here, when it is called, not at
/// its first poll: axum polls the shutdown future on a task of its own, and a SIGTERM that came
/// before that task first ran killed the process with the default action, skipping the drain.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown signal received");
    })
}
