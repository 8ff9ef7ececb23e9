#!/usr/bin/env bash
# Builds the server and the OTLP benchmark in release mode, installs Arize Phoenix (the
# reference system) into bench/.venv-phoenix if needed, then runs the benchmark.
# Arguments go to the benchmark, e.g. `scripts/bench-otlp.sh --spans 4000 --out`.
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PHOENIX_VERSION=20.26.1
if [ ! -x bench/.venv-phoenix/bin/phoenix ]; then
    python3 -m venv bench/.venv-phoenix
    bench/.venv-phoenix/bin/pip install --quiet --disable-pip-version-check "arize-phoenix==$PHOENIX_VERSION"
fi
cargo build --release --quiet -p spanloom-server -p spanloom-bench-otlp
target_dir="${CARGO_TARGET_DIR:-target}"
export SPANLOOM_BENCH_SERVER="${SPANLOOM_BENCH_SERVER:-$target_dir/release/spanloom}"
exec "$target_dir/release/spanloom-bench-otlp" "$@"
