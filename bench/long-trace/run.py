"""Ingest into one long trace: does a request cost more as the trace grows?

Starts `spanloom serve` on a fresh data directory, then writes `--spans` spans of a single
trace, `--batch` per request, each batch as a request of start rows followed by a request of
end merges (like an agent streaming its steps). Prints the mean latency of a request pair over
the first and the last fifth of the run and their ratio: 1.0 means the cost does not grow with
the trace. Run: `.venv/bin/python bench/long-trace/run.py [--server target/release/spanloom]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
import uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="target/release/spanloom")
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        cmd = [args.server, "serve", "--data-dir", data, "--bind", "127.0.0.1:0", "--otlp-grpc-bind", "off"]
        # The URL is read from the first lines of stdout; the logs go to a file.
        with open(os.path.join(data, "server.log"), "w") as log:
            server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
            try:
                run(server, data, args.spans, args.batch)
            finally:
                server.terminate()
                server.wait()


def run(server: subprocess.Popen, data: str, spans: int, batch: int) -> None:
    url = None
    while url is None:
        line = server.stdout.readline()
        if not line:
            raise SystemExit("the server exited before it listened")
        found = re.search(r"listening on (http://[\w.:]+)", line)
        url = found.group(1) if found else None
    with open(os.path.join(data, "admin-key")) as f:
        key = f.read().strip()

    def post(path: str, body: dict) -> dict:
        headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
        request = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    project = post("/v1/project", {"name": "long-trace"})["id"]
    root = str(uuid.uuid4())

    def rows(first: int, end: bool) -> list:
        out = []
        for n in range(first, min(first + batch, spans)):
            span_id = root if n == 0 else f"{root}-{n}"
            row = {"id": span_id, "project_id": project, "log_id": "g", "span_id": span_id, "root_span_id": root}
            if end:
                row.update({"_is_merge": True, "output": "done " * 20, "metrics": {"end": time.time(), "tokens": 10}})
            else:
                row.update(
                    {
                        "span_parents": [] if n == 0 else [root],
                        "input": "step input " * 30,
                        "metrics": {"start": time.time()},
                        "span_attributes": {"name": f"step {n}", "type": "tool"},
                    }
                )
            out.append(row)
        return out

    pairs = []
    started = time.time()
    for first in range(0, spans, batch):
        t = time.time()
        post("/logs3", {"rows": rows(first, end=False), "api_version": 2})
        post("/logs3", {"rows": rows(first, end=True), "api_version": 2})
        pairs.append((time.time() - t) * 1000)
    elapsed = time.time() - started
    fifth = max(1, len(pairs) // 5)
    head, tail = sum(pairs[:fifth]) / fifth, sum(pairs[-fifth:]) / fifth
    print(f"{spans} spans in one trace, {batch} per request: {spans / elapsed:,.0f} spans/s")
    print(f"request pair (start rows + end merges), mean: first fifth {head:.1f} ms, last fifth {tail:.1f} ms")
    print(f"last / first: {tail / head:.2f}  (1.00 = the cost does not grow with the trace)")


if __name__ == "__main__":
    main()
