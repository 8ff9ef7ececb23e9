//! `spanloom`: the single binary. `spanloom serve` runs the server; `spanloom keys` manages
//! API keys; `spanloom query` runs BTQL against a data directory; `spanloom renormalize`
//! re-derives stored OTel spans. This is the only place that reads configuration, installs logging and metrics,
//! and wires the store to the API.

mod bootstrap;
mod cli;
mod keys;
mod query_cmd;
mod renormalize_cmd;
mod serve;
mod telemetry;

use clap::Parser;

/// mimalloc instead of the system allocator: ingest allocates and frees many small JSON
/// values per row, and glibc's malloc spent about a seventh of the server's CPU on them. Built
/// without transparent huge pages (see the workspace `Cargo.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            cli::Command::Serve(args) => serve::run(args).await,
            cli::Command::Keys(args) => keys::run(args).await,
            cli::Command::Query(args) => query_cmd::run(args).await,
            cli::Command::Renormalize(args) => renormalize_cmd::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
