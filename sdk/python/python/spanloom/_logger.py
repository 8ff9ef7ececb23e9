"""`init_logger` and `login`: where rows go, resolved lazily like the official SDK.

Tracing never blocks the application on the network and never raises into it: rows of a
project whose id is not known yet (no login yet, or the server is down) wait in a bounded
in-memory queue while a background thread logs in and registers the project, retrying with
backoff; the Rust core then sends them. With a spool directory (`SPANLOOM_SPOOL_DIR` or
`init_logger(spool_dir=...)`), rows that cannot be delivered are written to disk and re-sent
by a later logger or process (see `_spool.py`). After `os.fork()` the child builds its own
core logger on first use and never sends rows the parent had queued (`_fork.py`).
"""

from __future__ import annotations

import atexit
import collections
import encodings.idna  # noqa: F401 - imported up front: a fork while a thread imports it breaks urllib in the child
import gc
import hashlib
import json
import logging
import os
import sys
import threading
import time
import urllib.request
import weakref
from typing import Any, Optional

from . import _core

_TRUE = {"1", "true", "yes", "y", "on"}

# Whether `_fork.py` resets this module in forked children (it does wherever
# `os.register_at_fork` exists); else the core logger's owner is checked on each use.
_FORK_HOOKED = hasattr(os, "register_at_fork")


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


def _env_float(name: str, default: float) -> float:
    try:
        return float(_env(name) or default)
    except ValueError:
        return default


def _queue_size() -> int:
    """`SPANLOOM_QUEUE_SIZE`: rows queued at most (500,000; the official SDK keeps 25,000). A
    traced loop logs rows far faster than any server takes them (a traced call is two rows),
    so the queue holds a burst of 250,000 small spans without losing one, while
    `SPANLOOM_QUEUE_BYTES` (256 MiB) bounds its memory whatever the rows' size."""
    return max(1, _env_int("QUEUE_SIZE", 500_000))


_log = logging.getLogger("spanloom")


def _warn(message: str) -> None:
    """A warning the user must see: to the `spanloom` logger, which prints to stderr when the
    application configured no logging."""
    try:
        _log.warning(message)
    except Exception:  # noqa: BLE001 - warnings never raise either
        pass


def _request(method: str, url: str, key: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def _spool_key(app_url: str) -> str:
    """Spool files of one destination start with this (a spool directory may serve several)."""
    return hashlib.sha1(app_url.rstrip("/").encode()).hexdigest()[:12]


class _State:
    """Login result: the API URL, the org, and the core logger of this process.

    `core` is built on first use from the login result, once per process: after `os.fork()`
    the child's first use builds a fresh one (the inherited one has no worker thread there)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app_url: Optional[str] = None
        self.api_key: Optional[str] = None
        self.api_url: Optional[str] = None
        self.org_name: Optional[str] = None
        self.org_id: Optional[str] = None
        self.spool_dir: Optional[str] = None
        self.core_args: Optional[dict] = None
        self._core: Optional[_core.Logger] = None
        self._core_pid = 0

    @property
    def core(self) -> Optional[_core.Logger]:
        """This process's core logger (None before login). A forked child drops the inherited
        one in its at-fork hook (`_fork.py`), so the hot path needs no `getpid`."""
        core = self.started_core()
        if core is not None:
            return core
        with self.lock:
            if self._core is not None and self._core_pid != os.getpid():
                self.abandon_core()
            if self._core is None and self.core_args is not None:
                args = dict(self.core_args)
                api, key = args.pop("api_url"), args.pop("api_key")
                self._core = _core.Logger(api, key, **args)
                self._core_pid = os.getpid()
            return self._core

    def started_core(self) -> Optional[_core.Logger]:
        """The core logger if this process started one, without building one: the hot path's
        check (a forked child drops the inherited one in its at-fork hook, so `getpid` is
        needed only where that hook does not exist)."""
        core = self._core
        if core is not None and (_FORK_HOOKED or self._core_pid == os.getpid()):
            return core
        return None

    @core.setter
    def core(self, value: Optional[_core.Logger]) -> None:
        self._core, self._core_pid = value, os.getpid()

    def abandon_core(self) -> None:
        """Drops an inherited core logger without flushing it or joining its (nonexistent)
        worker thread: its rows are the parent's to send."""
        core, self._core = self._core, None
        if core is not None:
            try:
                core.abandon()
            except Exception:  # noqa: BLE001
                pass


_state = _State()


def login(app_url: Optional[str] = None, api_key: Optional[str] = None, org_name: Optional[str] = None, force_login: bool = False) -> None:
    """Logs in: resolves the API URL and org from the app URL and key (once per process)."""
    with _state.lock:
        if _state.core_args is not None and not force_login:  # set last: a complete login
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
        spool_dir = _state.spool_dir or _env("SPOOL_DIR")
        _state.core_args = dict(
            api_url=api,
            api_key=key,
            # 5,000 rows per request (the official SDK sends 100): under a backlog, fewer and
            # larger requests cost the server fewer commits (about 20% more spans/s end to end
            # than 1,000); the byte limit still applies, and an idle logger sends at once.
            batch_rows=_env_int("DEFAULT_BATCH_SIZE", 5000),
            max_request_bytes=max_bytes,
            queue_capacity=_queue_size(),
            queue_bytes=max(1, _env_int("QUEUE_BYTES", 256 * 1024 * 1024)),
            # `SPANLOOM_QUEUE_BLOCK`: a full queue makes the logging call wait for room
            # instead of dropping the oldest rows (the GIL is released while it waits).
            block_when_full=(_env("QUEUE_BLOCK") or "").lower() in _TRUE,
            num_retries=_env_int("NUM_RETRIES", 2),
            # Requests in flight at once: the server decodes one while it commits another.
            concurrency=max(1, _env_int("SEND_CONCURRENCY", 4)),
            sync_flush=(_env("SYNC_FLUSH") or "").lower() in _TRUE,
            failed_payloads_dir=_env("FAILED_PUBLISH_PAYLOADS_DIR"),
            all_payloads_dir=_env("ALL_PUBLISH_PAYLOADS_DIR"),
            spool_dir=spool_dir,
            spool_key=f"spool-{_spool_key(app)}",
            backoff_seconds=_env_float("RETRY_BACKOFF", 1.0),
        )
        if force_login and _state.started_core() is not None:
            # A new login may point elsewhere: the next row starts a new core (dropping the
            # old one sends what it holds first).
            _state._core = None


class Logger:
    """A project's logs: spans started from it (or under it) are written there."""

    def __init__(self, project: Optional[str], project_id: Optional[str], login_args: dict):
        self._project = project or "Global"
        self._project_id = project_id
        self._login_args = login_args
        self._lock = threading.Lock()
        # Rows go straight to the core once the background resolver has queued the ones that
        # waited for the project id (so they keep their order).
        self._ready = False
        _loggers.add(self)

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
        """Queues a row of this project's logs (the row is the logger's from now on: it gets
        the object ids in place); never raises, never waits for the network."""
        try:
            if self._ready and self._project_id is not None and _state.core_args is not None:
                row["project_id"] = self._project_id
                row["log_id"] = "g"
                _attachment.emit_row(row)
            else:
                _resolver.add(self, row)
        except Exception as e:  # noqa: BLE001 - tracing never raises into user code
            print(f"spanloom: could not log a row: {e}", file=sys.stderr)

    def _send(self, row: dict) -> None:
        """Hands a row to the core (via the attachment pipeline), with this project's ids."""
        row["project_id"] = self._project_id
        row["log_id"] = "g"
        _attachment.emit_row(row)

    def _target_app_url(self) -> str:
        return (self._login_args.get("app_url") or _env("APP_URL") or "http://127.0.0.1:4318").rstrip("/")

    def start_span(self, name: Optional[str] = None, type: Optional[str] = None, **event: Any):
        """A root span of this logger (or a child of the current span)."""
        from ._span import start_span

        return start_span(name=name, type=type, logger=self, **event)

    def flush(self) -> None:
        """Sends everything logged so far."""
        flush()


_current_logger: Optional[Logger] = None
# Every logger, so a forked child can replace their locks (a lock held by another thread at
# fork time stays locked forever in the child).
_loggers: weakref.WeakSet = weakref.WeakSet()


class _Resolver:
    """Rows waiting for their project id, and the daemon thread that logs in, registers the
    projects and hands the rows to the core, retrying with backoff while the server cannot
    be reached. Bounded like the core's queue (the oldest rows are dropped, with a warning)."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.pending: collections.deque = collections.deque()
        self.thread: Optional[threading.Thread] = None
        self.failures = 0
        self.failing = False
        self.warned = False
        self.dropped = 0
        self.wake = False
        self.replayed_spool = False
        self.kicked = False
        self.cap = _queue_size()
        # Loggers to resolve before their first row (`prepare`); unlike rows, a flush does
        # not wait for them.
        self.early: list = []

    def add(self, logger: Logger, row: dict) -> None:
        with self.cond:
            cap = self.cap
            while len(self.pending) >= cap:
                self.pending.popleft()
                self.dropped += 1
                if self.dropped == 1:
                    _warn(f"spanloom: {cap} rows wait for the server; the oldest are dropped")
            self.pending.append((logger, row))
            # No notify: the thread takes every waiting row on each pass, and `settle`
            # waiters wait for rows to leave, not to arrive.
            self._start()

    def prepare(self, logger: Logger) -> None:
        """Logs in and registers `logger`'s project in the background now, before its first
        row: rows logged once that is done go straight to the core instead of waiting here
        (and the login's network round trips do not compete with a busy calling thread)."""
        with self.cond:
            self.early.append(logger)
            self._start()

    def kick(self) -> None:
        """Starts the thread even with nothing queued (to replay the spool early)."""
        with self.cond:
            self.kicked = True
            self._start()

    def _busy(self) -> bool:
        return bool(self.pending) or (self.kicked and not self.replayed_spool)

    def _start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="spanloom-resolver", daemon=True)
            self.thread.start()

    def settle(self, timeout: float) -> bool:
        """Waits until no row waits, or one more attempt to reach the server failed, or
        `timeout`; True when nothing waits any more."""
        deadline = time.monotonic() + timeout
        with self.cond:
            if not self._busy():
                return True
            self._start()
            start = self.failures
            self.wake = True
            self.cond.notify_all()
            while self._busy() and self.failures == start:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return not self.pending

    def _run(self) -> None:
        delay = 0.25
        while True:
            with self.cond:
                if not self.pending and not self.early and self.replayed_spool:
                    self.thread = None
                    return
                batch = list(self.pending) + [(logger, None) for logger in self.early]
            try:
                error = self._resolve(batch)
                with self.cond:
                    # The rows of every resolved logger go to the core, in order, before that
                    # logger switches to sending directly; the others keep waiting.
                    waiting: collections.deque = collections.deque()
                    for logger, row in self.pending:
                        if logger._project_id is not None and _state.core_args is not None:
                            logger._send(row)
                        else:
                            waiting.append((logger, row))
                    self.pending = waiting
                    self.early = [logger for logger in self.early if logger._project_id is None or _state.core_args is None]
                    for logger in {id(item[0]): item[0] for item in batch}.values():
                        if logger._project_id is not None and not any(item[0] is logger for item in waiting):
                            logger._ready = True
                    self.cond.notify_all()
                if error is not None:
                    raise error
                if self.failing:
                    self.failing = False
                    _warn("spanloom: logged in; the rows that waited are being sent")
                delay = 0.25
            except Exception as e:  # noqa: BLE001 - keep the rows, try again later
                with self.cond:
                    if not self._busy():
                        # Only an early resolve (`prepare`) failed: give up quietly; the first
                        # row starts over, warning and retrying as it always did.
                        self.early = []
                        self.thread = None
                        return
                    self.failures += 1
                    self.failing = True
                    self.cond.notify_all()
                    if not self.warned:
                        self.warned = True
                        where = f"; spooled to {_spool_dir()} at exit if still unsent" if _spool_dir() else ""
                        held = f"{len(self.pending)} rows are" if self.pending else "rows logged meanwhile are"
                        _warn(
                            f"spanloom: cannot reach the server to log in or register the project ({e}); "
                            f"{held} kept in memory and retried in the background{where}"
                        )
                    self.wake = False
                    self.cond.wait_for(lambda: self.wake, timeout=delay)
                    self.wake = False
                delay = min(delay * 2, 30.0)

    def _resolve(self, batch: list) -> Optional[Exception]:
        """Logs in and registers the projects of `batch`; returns the first failure (the
        loggers that did resolve are not held back by one that did not)."""
        error: Optional[Exception] = None
        seen: set = set()
        for logger, _row in batch:
            if id(logger) in seen:
                continue
            seen.add(id(logger))
            try:
                login(**logger._login_args)
                _ = logger.id
            except Exception as e:  # noqa: BLE001 - reported by the caller
                error = error or e
        if _state.core_args is None:
            login()  # nothing resolved (or nothing queued): this raises the reason
        if not self.replayed_spool:
            _spool.replay_unresolved()
        _ = _state.core  # starts the core, which replays the spooled batches
        self.replayed_spool = True
        return error

    def spool_pending(self) -> int:
        """Writes the rows still waiting (the server was never reached) to the spool."""
        with self.cond:
            items, self.pending = list(self.pending), collections.deque()
        return _spool.write_unresolved(items)

    def after_fork_in_child(self) -> None:
        """The parent's waiting rows are the parent's to send; the thread is gone."""
        self.cond = threading.Condition(threading.Lock())
        self.pending = collections.deque()
        self.early = []
        self.thread = None
        self.wake = False
        self.failing = self.warned = False


_resolver = _Resolver()


def _spool_dir() -> Optional[str]:
    return _state.spool_dir or _env("SPOOL_DIR")


def init_logger(
    project: Optional[str] = None,
    project_id: Optional[str] = None,
    app_url: Optional[str] = None,
    api_key: Optional[str] = None,
    org_name: Optional[str] = None,
    set_current: bool = True,
    spool_dir: Optional[str] = None,
    **_: Any,
) -> Logger:
    """A logger for a project's logs. No network call happens in the caller's thread: login
    and project registration start in the background right away, so rows logged once they
    are done go straight to the core; rows logged before wait for them.

    `spool_dir` (or `SPANLOOM_SPOOL_DIR`): rows that cannot be delivered are written there and
    re-sent by a later logger or process; with it set, the background thread starts now, to
    re-send what an earlier process left."""
    global _current_logger
    logger = Logger(project, project_id, {"app_url": app_url, "api_key": api_key, "org_name": org_name})
    if spool_dir:
        _state.spool_dir = str(spool_dir)
    if set_current:
        _current_logger = logger
    _resolver.prepare(logger)
    if _spool_dir():
        _resolver.kick()
    return logger


def current_logger() -> Optional[Logger]:
    return _current_logger


def flush(timeout: float = 30.0) -> None:
    """Sends everything queued and waits for the answers. Rows still waiting for the server
    to log in after one more try (within `timeout`) stay queued, or with a spool directory
    are written to it; flush never raises."""
    try:
        _flush(timeout, at_exit=False)
    except Exception as e:  # noqa: BLE001 - tracing never raises into user code
        print(f"spanloom: could not flush: {e}", file=sys.stderr)


# Called first by `flush` (e.g. `spanloom.otel` flushes its span processors).
_flush_hooks: list = []


def _flush(timeout: float, at_exit: bool) -> None:
    from ._attachment import drain

    for hook in list(_flush_hooks):
        try:
            hook()
        except Exception:  # noqa: BLE001
            pass

    resolved = _resolver.settle(timeout)
    drain()  # rows waiting for their attachment uploads reach the core first
    core = _state.started_core()
    if core is not None:
        _sent, failed, spooled = core.flush_report()
        if failed:
            print(f"spanloom: {failed} rows could not be sent", file=sys.stderr)
        if spooled:
            _warn(f"spanloom: {spooled} rows could not be delivered and were spooled to {_spool_dir()}")
    if not resolved and (at_exit or _spool_dir()):
        if _spool_dir():
            n = _resolver.spool_pending()
            _warn(f"spanloom: the server could not be reached; {n} rows were spooled to {_spool_dir()}")
        else:
            n = len(_resolver.pending)
            _warn(f"spanloom: the server could not be reached; {n} rows are lost (set SPANLOOM_SPOOL_DIR to keep them)")


def _flush_at_exit() -> None:
    if (_env("DISABLE_ATEXIT_FLUSH") or "").lower() not in _TRUE:
        try:
            # A stream abandoned inside a reference cycle (a `break` out of a LangChain or
            # LlamaIndex stream) ends its span only when it is collected: collect now, so
            # those spans end and go out with this last flush.
            gc.collect()
            _flush(_env_float("EXIT_LOGIN_TIMEOUT", 5.0), at_exit=True)
        except Exception:  # noqa: BLE001
            pass


atexit.register(_flush_at_exit)


def api_url() -> Optional[str]:
    return _state.api_url


def _after_fork_in_child() -> None:
    """Runs in a forked child (`os.register_at_fork`): fresh locks, no inherited core or
    waiting rows; the core is rebuilt from the login result on first use."""
    _state.lock = threading.Lock()
    _state.abandon_core()
    _resolver.after_fork_in_child()
    for logger in list(_loggers):
        logger._lock = threading.Lock()


# Imported here, not lazily in the background thread: a fork in the middle of an import on
# another thread leaves the module half-initialized in the child.
from . import _attachment, _spool  # noqa: E402 - rows go out through `_attachment`
