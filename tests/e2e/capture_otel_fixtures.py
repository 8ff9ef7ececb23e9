"""Captures what each real OTel emitter sends, as normalizer fixtures.

    .venv/bin/python tests/e2e/capture_otel_fixtures.py [EMITTER ...]

Runs each emitter of `otel_emitters.py` against a fresh server and the fake provider, reads
back the raw spans the server kept (`otel.span`, `otel.log_events`) and writes them to
`crates/otlp/tests/fixtures/<emitter>.json`. The Rust snapshot tests map these fixtures, so a
mapping change shows up as a snapshot diff (`cargo insta review`). Rerun after upgrading an
instrumentation library.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fake_provider import FakeProvider  # noqa: E402
from spanloom_server import Client, Server  # noqa: E402
from test_otel_emitters import EMITTERS, run_ai_sdk, run_emitter  # noqa: E402

OUT = HERE.parents[1] / "crates" / "otlp" / "tests" / "fixtures"


def main() -> int:
    emitters = sys.argv[1:] or [*EMITTERS, "ai-sdk"]
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data").start()
        provider = FakeProvider().start()
        try:
            client = Client(server.url, server.admin_key)
            for emitter in emitters:
                project = f"fixture-{emitter}"
                if emitter == "ai-sdk":
                    ids = run_ai_sdk(server, provider, project)
                else:
                    ids = run_emitter(server, provider, emitter, project)
                pid = client.project(project)
                trace = client.get(f"/api/v1/project_logs/{pid}/traces/{ids['trace_id']}").json()
                spans = sorted(trace["spans"], key=lambda s: s["otel"]["span"]["start_time_unix_nano"])
                fixture = [{"span": s["otel"]["span"], "log_events": list((s["otel"].get("log_events") or {}).values())} for s in spans]
                path = OUT / f"{emitter}.json"
                path.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
                print(f"{emitter}: {len(fixture)} spans -> {path}")
        finally:
            server.stop()
            provider.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
