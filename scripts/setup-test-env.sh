#!/usr/bin/env bash
# Installs everything the tests need: a Python venv in .venv with pytest, requests and the
# unmodified official braintrust SDK, the openai client and the real OpenTelemetry LLM
# instrumentations. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
# braintrust 0.48.1 pins a certifi newer than the registry serves; its other dependencies are
# in requirements.txt, so install the SDK itself without dependency resolution.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "braintrust==0.48.1"
# llama-index-llms-openai 0.8.3 (the newest) declares openai<3; it works with the openai 3.x
# that requirements.txt pins (test_spanloom_frameworks.py drives it), so it goes in without resolution.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "llama-index-llms-openai==0.8.3"
.venv/bin/python -c "import braintrust, pytest, requests; print('test env ready: braintrust', braintrust.__version__ if hasattr(braintrust, '__version__') else '0.48.1')"
# Spanloom's own Python SDK (a maturin build of sdk/python over the Rust SDK core).
.venv/bin/python -m pip install --quiet --disable-pip-version-check ./sdk/python
# The Vercel AI SDK, a real OTLP/JSON emitter for tests/e2e/test_otel_emitters.py.
(cd tests/e2e/ai-sdk && npm ci --no-audit --no-fund --loglevel=error)
# The web UI's build tools, and the browser tests' playwright-core.
(cd ui && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
# Debian's Chromium for the browser tests (playwright-core drives it; it downloads no browser).
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium > /dev/null
fi
/usr/bin/chromium --version
