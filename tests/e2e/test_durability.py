"""Durability: an acknowledged write survives SIGKILL; SIGTERM drains and loses nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
import uuid

import requests
from spanloom_server import Client, binary


def content(row_id: str) -> str:
    """A chat message of about 3 KB that names its row."""
    return " ".join(f"hello {row_id} part {k}." for k in range(100))


def sustained_ingest(url: str, key: str, project: str, stop: threading.Event, clients: int = 4):
    """Posts batches until stopped; returns (acknowledged row ids by request, rejected count)."""
    acked: list[list[str]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(n: int):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        i = 0
        while not stop.is_set():
            ids = [f"w{n}-{i}-{j}-{uuid.uuid4().hex[:6]}" for j in range(20)]
            trace = uuid.uuid4().hex
            rows = [
                {
                    "id": rid,
                    "project_id": project,
                    "log_id": "g",
                    "span_id": uuid.uuid4().hex[:16],
                    "root_span_id": trace,
                    # Large enough to be compressed into the payload log, and different per row.
                    "input": {"messages": [{"role": "user", "content": content(rid)}]},
                    "metrics": {"start": time.time()},
                }
                for rid in ids
            ]
            i += 1
            try:
                r = session.post(url + "/logs3", json={"rows": rows, "api_version": 2}, timeout=10)
            except requests.RequestException as e:
                with lock:
                    errors.append(type(e).__name__)
                time.sleep(0.05)
                continue
            with lock:
                if r.status_code == 200:
                    assert r.json()["ids"] == ids
                    acked.append(ids)
                else:
                    errors.append(str(r.status_code))

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    return threads, acked, errors


def test_sigkill_mid_ingest_keeps_every_acknowledged_row(fresh_server):
    srv = fresh_server()
    client = Client(srv.url, srv.admin_key)
    project = client.project("durable")
    stop = threading.Event()
    threads, acked, _ = sustained_ingest(srv.url, srv.admin_key, project, stop)
    deadline = time.time() + 30
    while len(acked) < 40 and time.time() < deadline:
        time.sleep(0.05)
    srv.kill()  # mid-ingest: requests are in flight right now
    stop.set()
    for t in threads:
        t.join(15)
    acknowledged = {rid for ids in acked for rid in ids}
    assert len(acknowledged) >= 800

    again = fresh_server(data_dir=srv.data_dir)
    stored = {e["id"]: e for e in Client(again.url, again.admin_key).fetch_all("project_logs", project, limit=1000)}
    missing = acknowledged - stored.keys()
    assert not missing, f"{len(missing)} acknowledged rows lost, e.g. {sorted(missing)[:3]}"
    # Requests are atomic: every stored request is complete (20 rows sharing one xact id).
    by_xact: dict[str, int] = {}
    for e in stored.values():
        by_xact[e["_xact_id"]] = by_xact.get(e["_xact_id"], 0) + 1
    assert set(by_xact.values()) == {20}
    damaged = [rid for rid in acknowledged if stored[rid]["input"]["messages"][0]["content"] != content(rid)]
    assert not damaged, f"{len(damaged)} rows read back other text, e.g. {damaged[:3]}"


def test_sigterm_drains_and_loses_nothing(fresh_server):
    srv = fresh_server()
    client = Client(srv.url, srv.admin_key)
    project = client.project("graceful")
    stop = threading.Event()
    threads, acked, _ = sustained_ingest(srv.url, srv.admin_key, project, stop)
    deadline = time.time() + 30
    while len(acked) < 40 and time.time() < deadline:
        time.sleep(0.05)
    code = srv.terminate(30)
    stop.set()
    for t in threads:
        t.join(15)
    assert code == 0, srv.stderr()
    assert "shutdown complete" in srv.stderr()
    acknowledged = {rid for ids in acked for rid in ids}
    again = fresh_server(data_dir=srv.data_dir)
    stored = {e["id"] for e in Client(again.url, again.admin_key).fetch_all("project_logs", project, limit=1000)}
    assert acknowledged <= stored
    assert len(stored) % 20 == 0


def test_overload_answers_503_with_retry_after_and_loses_nothing(fresh_server):
    # A one-slot write queue: concurrent writers must be turned away, never silently dropped.
    srv = fresh_server("--write-queue", "1")
    client = Client(srv.url, srv.admin_key)
    project = client.project("overload")
    results: list[tuple[int, str | None, list[str]]] = []
    lock = threading.Lock()

    def worker(n: int):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {srv.admin_key}"
        for i in range(15):
            ids = [f"o{n}-{i}-{j}" for j in range(50)]
            rows = [{"id": rid, "project_id": project, "log_id": "g", "input": "x" * 2000} for rid in ids]
            r = session.post(srv.url + "/logs3", json={"rows": rows, "api_version": 2}, timeout=30)
            with lock:
                results.append((r.status_code, r.headers.get("Retry-After"), ids))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = {status for status, _, _ in results}
    assert statuses <= {200, 503}, statuses
    assert 503 in statuses, "a one-slot queue under 8 concurrent writers should refuse some requests"
    assert all(retry == "1" for status, retry, _ in results if status == 503)
    stored = {e["id"] for e in client.fetch_all("project_logs", project, limit=1000)}
    acked = {rid for status, _, ids in results if status == 200 for rid in ids}
    refused = {rid for status, _, ids in results if status == 503 for rid in ids}
    assert acked <= stored and not (refused & stored)
    assert srv.alive()


def test_commands_beside_a_running_server_leave_the_database_intact(fresh_server):
    """`spanloom keys create` and `renormalize` open the same database while the server writes:
    every process may write the WAL, so none may write into it outside SQLite's locks."""
    srv = fresh_server()
    client = Client(srv.url, srv.admin_key)
    project = client.project("beside")
    stop = threading.Event()
    threads, acked, errors = sustained_ingest(srv.url, srv.admin_key, project, stop, clients=4)
    try:
        for n in range(30):
            data = ["--data-dir", str(srv.data_dir)]
            for args in (["keys", *data, "create", "--name", f"k{n}"], ["renormalize", *data, "--project", "beside"]):
                r = subprocess.run([str(binary()), *args], capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, r.stderr
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not errors, errors[:5]
    assert srv.terminate(30) == 0, srv.stderr()
    db = sqlite3.connect(srv.data_dir / "spanloom.db")
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()
    again = fresh_server(data_dir=srv.data_dir)
    stored = {e["id"] for e in Client(again.url, again.admin_key).fetch_all("project_logs", project, limit=1000)}
    acknowledged = {rid for ids in acked for rid in ids}
    assert acknowledged and not acknowledged - stored
