"""`init_logger` and `login`: where rows go, resolved lazily like the official SDK."""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import urllib.request
from typing import Any, Optional

from . import _core

_TRUE = {"1", "true", "yes", "y", "on"}


def _env(name: str) -> Optional[str]:
    """SPANLOOM_* first, BRAINTRUST_* as the fallback."""
    for prefix in ("SPANLOOM_", "BRAINTRUST_"):
        value = os.environ.get(prefix + name)
        if value:
            return value
    return None


def _env_int(name: str, default: int) -> int:
    try:
        return int(_env(name) or default)
    except ValueError:
        return default


def _request(method: str, url: str, key: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
    return json.loads(text) if text else None


class _State:
    """Login result: the API URL, the org, and the core logger per API URL."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app_url: Optional[str] = None
        self.api_key: Optional[str] = None
        self.api_url: Optional[str] = None
        self.org_name: Optional[str] = None
        self.core: Optional[_core.Logger] = None


_state = _State()


def login(app_url: Optional[str] = None, api_key: Optional[str] = None, org_name: Optional[str] = None, force_login: bool = False) -> None:
    """Logs in: resolves the API URL and org from the app URL and key (once per process)."""
    with _state.lock:
        if _state.api_url and not force_login:
            return
        app = (app_url or _env("APP_URL") or "http://127.0.0.1:4318").rstrip("/")
        key = (api_key or _env("API_KEY") or "").strip()
        if not key:
            raise ValueError("no API key: pass api_key= or set SPANLOOM_API_KEY")
        info = _request("POST", f"{app}/api/apikey/login", key)["org_info"]
        org = next((o for o in info if not org_name or o["name"] == org_name), None)
        if org is None:
            raise ValueError(f"the API key has no organization named {org_name!r}")
        api = (_env("API_URL") or org.get("api_url") or app).rstrip("/")
        limit = None
        try:
            limit = _request("GET", f"{api}/version", key).get("logs3_payload_max_bytes")
        except Exception:  # noqa: BLE001 - the limit is optional
            pass
        max_bytes = _env_int("MAX_REQUEST_SIZE", 6 * 1024 * 1024)
        if isinstance(limit, int) and limit > 0:
            max_bytes = min(max_bytes, limit)
        _state.app_url, _state.api_key, _state.api_url, _state.org_name = app, key, api, org["name"]
        _state.org_id = org.get("id")
        _state.core = _core.Logger(
            api,
            key,
            batch_rows=_env_int("DEFAULT_BATCH_SIZE", 100),
            max_request_bytes=max_bytes,
            queue_capacity=max(1, _env_int("QUEUE_SIZE", 25000)),
            num_retries=_env_int("NUM_RETRIES", 2),
            sync_flush=(_env("SYNC_FLUSH") or "").lower() in _TRUE,
            failed_payloads_dir=_env("FAILED_PUBLISH_PAYLOADS_DIR"),
            all_payloads_dir=_env("ALL_PUBLISH_PAYLOADS_DIR"),
        )


class Logger:
    """A project's logs: spans started from it (or under it) are written there."""

    def __init__(self, project: Optional[str], project_id: Optional[str], login_args: dict):
        self._project = project or "Global"
        self._project_id = project_id
        self._login_args = login_args
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        """The project id (logs in and registers the project on first use)."""
        with self._lock:
            if self._project_id is None:
                login(**self._login_args)
                project = _request("POST", f"{_state.api_url}/v1/project", _state.api_key or "", {"name": self._project})
                self._project_id = project["id"]
            return self._project_id

    def _emit(self, row: dict) -> None:
        """Queues a row of this project's logs; never raises."""
        try:
            from ._attachment import emit_row

            emit_row({**row, "project_id": self.id, "log_id": "g"})
        except Exception as e:  # noqa: BLE001 - tracing never raises into user code
            print(f"spanloom: could not log a row: {e}", file=sys.stderr)

    def start_span(self, name: Optional[str] = None, type: Optional[str] = None, **event: Any):
        """A root span of this logger (or a child of the current span)."""
        from ._span import start_span

        return start_span(name=name, type=type, logger=self, **event)

    def flush(self) -> None:
        """Sends everything logged so far."""
        flush()


_current_logger: Optional[Logger] = None


def init_logger(
    project: Optional[str] = None,
    project_id: Optional[str] = None,
    app_url: Optional[str] = None,
    api_key: Optional[str] = None,
    org_name: Optional[str] = None,
    set_current: bool = True,
    **_: Any,
) -> Logger:
    """A logger for a project's logs. No network call happens until the first row."""
    global _current_logger
    logger = Logger(project, project_id, {"app_url": app_url, "api_key": api_key, "org_name": org_name})
    if set_current:
        _current_logger = logger
    return logger


def current_logger() -> Optional[Logger]:
    return _current_logger


def flush() -> None:
    """Sends everything queued and waits for the answers."""
    from ._attachment import drain

    drain()  # rows waiting for their attachment uploads reach the core first
    if _state.core is not None:
        sent, failed = _state.core.flush()
        if failed:
            print(f"spanloom: {failed} rows could not be sent", file=sys.stderr)


def _flush_at_exit() -> None:
    if (_env("DISABLE_ATEXIT_FLUSH") or "").lower() not in _TRUE:
        try:
            flush()
        except Exception:  # noqa: BLE001
            pass


atexit.register(_flush_at_exit)


def api_url() -> Optional[str]:
    return _state.api_url
