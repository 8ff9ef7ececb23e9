#!/usr/bin/env bash
# Builds the server in release mode and times the web UI's main views in Chromium.
# Arguments go to the benchmark, e.g. `scripts/bench-ui.sh --runs 5`. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p spanloom-server
(cd bench/ui && npm ci --no-audit --no-fund --loglevel=error)
target_dir="${CARGO_TARGET_DIR:-target}"
export SPANLOOM_BENCH_SERVER="${SPANLOOM_BENCH_SERVER:-$PWD/$target_dir/release/spanloom}"
exec node bench/ui/bench.mjs "$@"
