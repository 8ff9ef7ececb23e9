#!/usr/bin/env bash
# Times the Python SDKs (official `braintrust`, plain OpenTelemetry SDK, `spanloom`) in one run
# against a release `spanloom serve` as the sink; each SDK runs each scenario in its own
# subprocess. Needs the test venv (scripts/setup-test-env.sh: braintrust, opentelemetry-sdk with
# the OTLP/HTTP exporter, spanloom). Builds the server unless $SPANLOOM_BENCH_SERVER names one.
# Arguments go to the benchmark, e.g. `scripts/bench-python-sdk.sh --out`. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
if [ -z "${SPANLOOM_BENCH_SERVER:-}" ]; then
    cargo build --release --quiet -p spanloom-server
    export SPANLOOM_BENCH_SERVER="$PWD/$target_dir/release/spanloom"
fi
exec "${SPANLOOM_BENCH_PYTHON:-.venv/bin/python}" bench/python-sdk/run.py "$@"
