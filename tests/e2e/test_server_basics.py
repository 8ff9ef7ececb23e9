"""The server as a new user meets it: first start, health, login, projects, keys, metrics."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import requests
from spanloom_server import Client, keys_cli


def test_first_start_creates_org_and_admin_key_file(fresh_server):
    srv = fresh_server()
    key_file = srv.data_dir / "admin-key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = srv.admin_key
    assert key.startswith("sl-") and len(key) == 43
    # The key is printed once, on the first start only.
    assert any(key in line for line in srv.stdout_lines)
    srv.stop()
    again = fresh_server(data_dir=srv.data_dir)
    assert not any(key in line for line in again.stdout_lines)
    assert again.admin_key == key
    assert Client(again.url, key).post("/api/apikey/login").status_code == 200


def test_env_vars_configure_data_dir_and_bind(tmp_path):
    import re
    import subprocess

    from spanloom_server import binary

    env = {**os.environ, "SPANLOOM_DATA_DIR": str(tmp_path / "envdata"), "SPANLOOM_BIND": "127.0.0.1:0"}
    proc = subprocess.Popen([str(binary()), "serve"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        url = None
        for _ in range(10):
            line = proc.stdout.readline()
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url and (tmp_path / "envdata" / "admin-key").exists()
        assert requests.get(url + "/health", timeout=5).json() == {"status": "ok"}
    finally:
        proc.terminate()
        proc.wait(15)


def test_health_needs_no_auth_but_everything_else_does(server):
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    for method, path in [
        ("POST", "/api/apikey/login"),
        ("GET", "/version"),
        ("POST", "/v1/project"),
        ("GET", "/v1/project"),
        ("POST", "/logs3"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/project_logs/x/traces"),
    ]:
        r = requests.request(method, server.url + path, timeout=5)
        assert r.status_code == 401, (path, r.status_code)
        assert "Authorization" in r.json()["error"]["message"]
        r = requests.request(method, server.url + path, headers={"Authorization": "Bearer sl-nope"}, timeout=5)
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "invalid or revoked API key"


def test_login_and_version(server, client):
    info = client.post("/api/apikey/login").json()["org_info"]
    assert len(info) == 1
    org = info[0]
    assert org["name"] == "spanloom" and isinstance(org["id"], str)
    assert org["api_url"] == server.url
    assert org["git_metadata"] is None and org["proxy_url"] is None
    version = client.get("/version").json()
    assert version["server"] == "spanloom"
    # The payload limit is advertised (it turns on the SDK's overflow path): the body limit.
    assert version["logs3_payload_max_bytes"] == 64 * 1024 * 1024


def test_projects_create_or_get_list_and_get(client):
    a = client.post("/v1/project", {"name": "create-or-get", "org_name": "spanloom"})
    b = client.post("/v1/project", {"name": "create-or-get"})
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    project = a.json()
    assert set(project) >= {"id", "org_id", "name", "created", "deleted_at", "user_id", "settings", "description"}
    assert client.get(f"/v1/project/{project['id']}").json() == project
    listed = client.get("/v1/project", params={"project_name": "create-or-get"}).json()["objects"]
    assert listed == [project]
    assert client.get("/v1/project/00000000-0000-0000-0000-000000000000").status_code == 404
    wrong_org = client.post("/v1/project", {"name": "x", "org_name": "someone-else"})
    assert wrong_org.status_code == 400 and "org_name" in wrong_org.json()["error"]["message"]


def test_keys_cli_create_list_revoke_while_serving(server, client, project):
    created = keys_cli(server.data_dir, "create", "--name", "ci-bot")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("sl-")
    other = Client(server.url, key)
    assert other.get(f"/v1/project/{project}").status_code == 200
    listed = keys_cli(server.data_dir, "list")
    assert listed.returncode == 0 and "ci-bot" in listed.stdout and key[:11] in listed.stdout
    assert key not in listed.stdout
    revoked = keys_cli(server.data_dir, "revoke", key[:11])
    assert revoked.returncode == 0, revoked.stderr
    assert other.get(f"/v1/project/{project}").status_code == 401
    assert "revoked" in keys_cli(server.data_dir, "list").stdout
    assert keys_cli(server.data_dir, "revoke", "sl-doesnotexist").returncode != 0


def test_keys_are_stored_hashed(server):
    key = server.admin_key
    db = server.data_dir / "spanloom.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT key_hash, prefix FROM api_keys").fetchall()
    finally:
        conn.close()
    assert rows and all(h != key and len(h) == 64 for h, _ in rows)
    for path in server.data_dir.iterdir():
        if path.name.startswith("spanloom.db"):
            assert key.encode() not in path.read_bytes(), path


def test_orgs_are_isolated(server, client, project):
    created = keys_cli(server.data_dir, "create", "--org", "other-org")
    assert created.returncode == 0, created.stderr
    other = Client(server.url, created.stdout.strip())
    assert other.post("/api/apikey/login").json()["org_info"][0]["name"] == "other-org"
    assert client.logs3([{"id": "secret", "project_id": project, "log_id": "g", "input": "secret"}]).status_code == 200
    # Another org can neither see nor write the project, nor find it by name.
    assert other.get(f"/v1/project/{project}").status_code == 404
    assert other.post(f"/v1/project_logs/{project}/fetch", {}).status_code == 404
    assert other.get(f"/api/v1/project_logs/{project}/traces").status_code == 404
    assert other.get(f"/api/v1/project_logs/{project}/rows/secret").status_code == 404
    r = other.logs3([{"id": "intrude", "project_id": project, "log_id": "g", "input": "x"}])
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_object"
    assert all(p["id"] != project for p in other.get("/v1/project").json()["objects"])
    # Same project name in the other org is a different project.
    name = client.get(f"/v1/project/{project}").json()["name"]
    assert other.project(name) != project
    assert [e["id"] for e in client.fetch_all("project_logs", project)] == ["secret"]


def test_metrics_in_prometheus_format(client, project):
    assert client.logs3([{"id": "m1", "project_id": project, "log_id": "g"}]).status_code == 200
    text = client.get("/metrics").text
    for name in [
        "spanloom_http_requests_total{",
        "spanloom_http_request_duration_seconds",
        "spanloom_ingest_rows_total",
        "spanloom_store_commit_seconds",
        "spanloom_store_rows_committed_total",
        "spanloom_store_writer_queue_depth",
    ]:
        assert name in text, name
    assert 'route="/logs3",method="POST",status="200"' in text


def test_structured_json_logs(fresh_server):
    srv = fresh_server("--log-format", "json")
    Client(srv.url, srv.admin_key).post("/api/apikey/login")
    srv.stop()
    lines = [line for line in srv.stderr().splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]
    assert any(r.get("fields", {}).get("message") == "spanloom serving" for r in records)
    assert any("shutdown complete" in r.get("fields", {}).get("message", "") for r in records), (srv.proc.returncode, srv.stderr()[-3000:])
