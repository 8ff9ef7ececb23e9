#!/usr/bin/env bash
# Installs what the tests need and runs every test: format and lint checks, the Rust unit and
# conformance tests, the end-to-end suite against the real `spanloom` binary, and the browser
# tests of the web UI in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> test environment"
scripts/setup-test-env.sh

echo "==> format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
.venv/bin/ruff check tests sdk/python/python bench
.venv/bin/ruff format --check tests sdk/python/python bench
# The Python package's native core is its own cargo workspace (built by maturin).
(cd sdk/python && cargo fmt -- --check && cargo clippy --quiet -- -D warnings)

echo "==> web UI: the committed build (ui/dist) matches ui/src"
(cd ui && npm run --silent build > /dev/null)
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git diff --exit-code --stat -- ui/dist || { echo "ui/dist is stale: run 'npm run build' in ui/ and commit it" >&2; exit 1; }
fi

echo "==> build"
cargo build --quiet -p spanloom-server

echo "==> rust tests"
cargo test --workspace --quiet

echo "==> end-to-end tests"
SPANLOOM_BIN="$PWD/target/debug/spanloom" .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider

echo "==> browser tests"
(cd tests/ui && SPANLOOM_BIN="$PWD/../../target/debug/spanloom" node --test --test-concurrency=1)
