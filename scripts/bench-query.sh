#!/usr/bin/env bash
# Builds the server and the query benchmark in release mode, then runs the benchmark.
# Arguments go to the benchmark, e.g. `scripts/bench-query.sh --spans 100000 --out`.
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p spanloom-server -p spanloom-bench-query
target_dir="${CARGO_TARGET_DIR:-target}"
export SPANLOOM_BENCH_SERVER="${SPANLOOM_BENCH_SERVER:-$target_dir/release/spanloom}"
exec "$target_dir/release/spanloom-bench-query" "$@"
