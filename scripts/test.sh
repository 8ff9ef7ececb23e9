#!/usr/bin/env bash
# Installs what the tests need and runs every test: format and lint checks, the Rust unit and
# conformance tests, and the end-to-end suite against the real `spanloom` binary.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> test environment"
scripts/setup-test-env.sh

echo "==> format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> build"
cargo build --quiet -p spanloom-server

echo "==> rust tests"
cargo test --workspace --quiet

echo "==> end-to-end tests"
SPANLOOM_BIN="$PWD/target/debug/spanloom" .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
