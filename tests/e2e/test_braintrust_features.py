"""More of the official SDK against Spanloom: feedback and comments, export slugs (V4 and
legacy V3) resumed in another process, permalinks, and the SDK's environment knobs
(sync flush, batch size, retries, payload dump directories)."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests
from test_braintrust_eval import result
from test_braintrust_sdk import run_sdk

FEEDBACK_SCRIPT = textwrap.dedent(
    """
    import json, braintrust
    logger = braintrust.init_logger(project="feedback-e2e")
    with logger.start_span(name="answer") as span:
        span.log(input="q", output="a")
        row_id = span.id
    logger.log_feedback(id=row_id, scores={"correct": 1}, expected="A", tags=["reviewed"],
                        comment="looks right", metadata={"reviewer": "bob"})
    logger.flush()
    print("FEEDBACK " + json.dumps({"row_id": row_id}))
    """
)

EXPORT_SCRIPT = textwrap.dedent(
    """
    import json, braintrust
    logger = braintrust.init_logger(project="slugs-e2e")
    with logger.start_span(name="origin") as span:
        slug = span.export()
        ids = {"row_id": span.id, "span_id": span.span_id, "root_span_id": span.root_span_id}
        link = span.permalink()
    logger.flush()
    print("EXPORT " + json.dumps({"slug": slug, "link": link, **ids}))
    """
)

RESUME_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    braintrust.init_logger(project="slugs-e2e")
    with braintrust.start_span(parent=sys.argv[1], name="remote-child") as span:
        span.log(output="resumed")
        row_id = span.id
    braintrust.flush()
    print("RESUME " + json.dumps({"row_id": row_id}))
    """
)

SYNC_FLUSH_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time, braintrust, requests
    url, key, project = sys.argv[1], sys.argv[2], sys.argv[3]
    logger = braintrust.init_logger(project=project)
    for i in range(3):
        logger.log(input=i, output=i)
    time.sleep(1.5)
    def count():
        pid = requests.post(url + "/v1/project", json={"name": project}, headers={"Authorization": "Bearer " + key}).json()["id"]
        r = requests.post(f"{url}/v1/project_logs/{pid}/fetch", json={"limit": 100}, headers={"Authorization": "Bearer " + key})
        return len(r.json()["events"])
    before = count()
    logger.flush()
    print("SYNC " + json.dumps({"before": before, "after": count()}))
    """
)

MANY_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    logger = braintrust.init_logger(project=sys.argv[1])
    for i in range(int(sys.argv[2])):
        logger.log(input={"i": i}, output=i)
    logger.flush()
    print("MANY done")
    """
)


def project_rows(client, name: str) -> list[dict]:
    [project] = client.get("/v1/project", params={"project_name": name}).json()["objects"]
    return client.fetch_all("project_logs", project["id"])


def test_feedback_and_comments(server, client):
    row_id = result(run_sdk(server, FEEDBACK_SCRIPT), "FEEDBACK")["row_id"]
    [project] = client.get("/v1/project", params={"project_name": "feedback-e2e"}).json()["objects"]
    got = client.get(f"/api/v1/project_logs/{project['id']}/rows/{row_id}").json()
    row = got["row"]
    assert row["scores"] == {"correct": 1} and row["expected"] == "A" and row["tags"] == ["reviewed"]
    assert row["output"] == "a"  # feedback merged into the span, nothing lost
    [comment] = got["comments"]
    assert comment["comment"] == {"text": "looks right"} and comment["origin"]["id"] == row_id
    # Comments are not spans.
    assert len(project_rows(client, "feedback-e2e")) == 1


def check_resume(server, client, extra_env: dict) -> None:
    os.environ.update(extra_env)
    try:
        exported = result(run_sdk(server, EXPORT_SCRIPT), "EXPORT")
        resumed = result(run_sdk(server, RESUME_SCRIPT, exported["slug"]), "RESUME")
    finally:
        for k in extra_env:
            os.environ.pop(k, None)
    rows = {r["id"]: r for r in project_rows(client, "slugs-e2e")}
    child = rows[resumed["row_id"]]
    assert child["root_span_id"] == exported["root_span_id"]
    assert child["span_parents"] == [exported["span_id"]]
    assert child["output"] == "resumed"
    # The permalink names the object and row the UI will open.
    link = urlparse(exported["link"])
    assert link.path.endswith("/object") and f"/app/{client_org(client)}/" in link.path
    q = parse_qs(link.query)
    assert q["object_type"] == ["project_logs"] and q["id"] == [exported["row_id"]]
    assert client.get(f"/api/v1/project_logs/{q['object_id'][0]}/rows/{exported['row_id']}").status_code == 200


def client_org(client) -> str:
    return client.post("/api/apikey/login").json()["org_info"][0]["name"]


def test_v4_slugs_resume_in_another_process(server, client):
    check_resume(server, client, {})
    [origin] = [r for r in project_rows(client, "slugs-e2e") if r["span_attributes"]["name"] == "origin"]
    assert len(origin["span_id"]) == 16 and len(origin["root_span_id"]) == 32  # hex ids, V4 slugs


def test_v3_slugs_with_legacy_uuid_ids(server, client):
    check_resume(server, client, {"BRAINTRUST_LEGACY_IDS": "true"})
    legacy = [r for r in project_rows(client, "slugs-e2e") if len(r["span_id"]) == 36]
    assert legacy, "legacy ids are UUIDs"


def test_sync_flush_sends_nothing_before_flush(server):
    os.environ["BRAINTRUST_SYNC_FLUSH"] = "true"
    try:
        out = run_sdk(server, SYNC_FLUSH_SCRIPT, server.url, server.admin_key, "sync-flush-e2e")
    finally:
        del os.environ["BRAINTRUST_SYNC_FLUSH"]
    assert result(out, "SYNC") == {"before": 0, "after": 3}


def logs3_requests(client) -> float:
    text = client.get("/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("spanloom_http_requests_total") and 'route="/logs3"' in line)


def test_batch_size_knob(server, client):
    before = logs3_requests(client)
    os.environ["BRAINTRUST_DEFAULT_BATCH_SIZE"] = "2"
    try:
        run_sdk(server, MANY_SCRIPT, "batch-e2e", "9")
    finally:
        del os.environ["BRAINTRUST_DEFAULT_BATCH_SIZE"]
    assert logs3_requests(client) - before >= 5  # 9 rows, at most 2 per request
    assert len(project_rows(client, "batch-e2e")) == 9


class FlakyProxy:
    """Forwards to the server, but answers the first `failures` `/logs3` requests with 503."""

    def __init__(self, target: str, failures: int):
        self.failures = failures
        self.failed = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self, method: str):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path.startswith("/logs3") and proxy.failed < proxy.failures:
                    proxy.failed += 1
                    data = b'{"error": "flaky"}'
                    self.send_response(503)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                r = requests.request(method, target + self.path, data=body, headers=headers, timeout=60)
                self.send_response(r.status_code)
                self.send_header("content-type", r.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run_through(server, proxy: FlakyProxy, env: dict, project: str, n: int) -> str:
    os.environ.update({"BRAINTRUST_API_URL": proxy.url, **env})
    try:
        import subprocess
        import sys

        e = {**os.environ, "BRAINTRUST_APP_URL": server.url, "BRAINTRUST_API_KEY": server.admin_key}
        proc = subprocess.run([sys.executable, "-c", MANY_SCRIPT, project, str(n)], env=e, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr
    finally:
        for k in ["BRAINTRUST_API_URL", *env]:
            os.environ.pop(k, None)


def test_retries_recover_from_transient_failures(server, client):
    proxy = FlakyProxy(server.url, failures=2)
    try:
        run_through(server, proxy, {"BRAINTRUST_NUM_RETRIES": "3"}, "retry-e2e", 4)
    finally:
        proxy.stop()
    assert proxy.failed == 2
    assert len(project_rows(client, "retry-e2e")) == 4


def test_failed_and_all_payload_dirs(server, client, tmp_path):
    failed_dir, all_dir = tmp_path / "failed", tmp_path / "all"
    proxy = FlakyProxy(server.url, failures=100)
    try:
        stderr = run_through(server, proxy, {"BRAINTRUST_NUM_RETRIES": "0", "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(failed_dir)}, "dropped-e2e", 3)
    finally:
        proxy.stop()
    assert "Dropping batch" in stderr or "log request failed" in stderr
    dumped = [json.loads(p.read_text()) for p in failed_dir.rglob("*") if p.is_file()]
    assert dumped and sum(len(d["rows"]) for d in dumped) == 3
    # The dumped payload is a valid /logs3 body: replaying it stores the rows.
    for body in dumped:
        assert client.logs3(body["rows"]).status_code == 200
    assert len(project_rows(client, "dropped-e2e")) == 3

    os.environ["BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR"] = str(all_dir)
    try:
        run_sdk(server, MANY_SCRIPT, "all-payloads-e2e", "5")
    finally:
        del os.environ["BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR"]
    every = [json.loads(p.read_text()) for p in all_dir.rglob("*") if p.is_file()]
    sent = [row for body in every for row in body["rows"]]
    assert len(sent) == 5 and len(project_rows(client, "all-payloads-e2e")) == 5
