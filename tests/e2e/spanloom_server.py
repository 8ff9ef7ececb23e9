"""Start and stop a real `spanloom serve` process for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def binary() -> Path:
    """The server binary: $SPANLOOM_BIN, else the debug build (built on demand)."""
    env = os.environ.get("SPANLOOM_BIN")
    if env:
        return Path(env)
    path = REPO / "target" / "debug" / "spanloom"
    if not path.exists():
        subprocess.run(["cargo", "build", "-p", "spanloom-server"], cwd=REPO, check=True)
    return path


class Server:
    """One server process on a free loopback port with its own data directory."""

    def __init__(self, data_dir: Path, *args: str, env: dict | None = None):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.grpc_addr = ""
        self.stdout_lines: list[str] = []
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.log"

    def start(self, timeout: float = 30.0) -> Server:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SPANLOOM_LOG": os.environ.get("SPANLOOM_LOG", "info"), **self.env}
        grpc = [] if "--otlp-grpc-bind" in self.args else ["--otlp-grpc-bind", "127.0.0.1:0"]
        # A test that restarts a server on the same address passes its own `--bind`.
        bind = [] if "--bind" in self.args else ["--bind", "127.0.0.1:0"]
        cmd = [str(binary()), "serve", "--data-dir", str(self.data_dir), *bind, *grpc, *self.args]
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True)
        deadline = time.time() + timeout
        assert self.proc.stdout is not None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server exited early ({self.proc.poll()}): {self.stderr()}")
            self.stdout_lines.append(line)
            grpc_match = re.search(r"OTLP/gRPC listening on (\S+)", line)
            if grpc_match:
                self.grpc_addr = grpc_match.group(1)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("server did not report its URL in time")
        # /health answers once the server is ready.
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("server did not become healthy")

    @property
    def admin_key(self) -> str:
        return (self.data_dir / "admin-key").read_text().strip()

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the graceful exit; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            try:
                self.terminate(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if hasattr(self, "_stderr"):
            self._stderr.close()


def keys_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs `spanloom keys ...` against a data directory."""
    return subprocess.run([str(binary()), "keys", "--data-dir", str(data_dir), *args], capture_output=True, text=True, timeout=60)


class Client:
    """A tiny authenticated JSON client for one server."""

    def __init__(self, url: str, key: str):
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body=None, *, data: bytes | None = None, **kw) -> requests.Response:
        if data is None and body is not None:
            import json

            data = json.dumps(body).encode()
        return self.session.post(self.url + path, data=data, timeout=kw.pop("timeout", 60), **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.url + path, timeout=kw.pop("timeout", 60), **kw)

    def project(self, name: str) -> str:
        r = self.post("/v1/project", {"name": name})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def logs3(self, rows: list) -> requests.Response:
        return self.post("/logs3", {"rows": rows, "api_version": 2})

    def fetch_all(self, object_type: str, object_id: str, limit: int = 200) -> list[dict]:
        events, cursor = [], None
        while True:
            body = {"limit": limit}
            if cursor:
                body["cursor"] = cursor
            r = self.post(f"/v1/{object_type}/{object_id}/fetch", body)
            assert r.status_code == 200, r.text
            page = r.json()
            events.extend(page["events"])
            cursor = page["cursor"]
            if not cursor:
                return events
