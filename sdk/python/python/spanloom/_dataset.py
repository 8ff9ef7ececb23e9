"""Datasets: `init_dataset` and `Dataset` (insert, update, delete, fetch, iteration, pinned
versions, summarize), as in the official SDK. Writes are rows through the core logger (``/logs3``);
reads and registration are control-plane calls. Nothing touches the network until the dataset's id
is first needed."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import os
import sys
import textwrap
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Callable, Optional

from . import _logger
from ._attachment import add_flush_hook, emit_row, enrich, snapshot

DEFAULT_FETCH_BATCH_SIZE = 1000
_MAX_FETCH_PAGES = 10000


@dataclasses.dataclass
class ObjectMetadata:
    """The id, name and full server record of a project, dataset or experiment."""

    id: str
    name: str
    full_info: dict


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _encode(s: str) -> str:
    return urllib.parse.quote(s, safe="~()*!.'")


def _app_public_url() -> str:
    return (_logger._env("APP_PUBLIC_URL") or _logger._state.app_url or "").rstrip("/")


def _project_url(project_name: str) -> str:
    return f"{_app_public_url()}/app/{_encode(_logger._state.org_name or '')}/p/{_encode(project_name)}"


def api(method: str, path: str, body: Any = None, params: Optional[dict] = None) -> Any:
    """An authenticated JSON call to the API server (after login)."""
    state = _logger._state
    url = f"{state.api_url}{path}"
    if params:
        url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return _logger._request(method, url, state.api_key or "", body)


def resolve_project(name: Optional[str], project_id: Optional[str]) -> dict:
    """The project record: by id, else create-or-get by name."""
    if project_id is not None:
        return api("GET", f"/v1/project/{project_id}")
    return api("POST", "/v1/project", {"name": name or "Global", "org_name": _logger._state.org_name})


def validate_tags(tags: Any) -> None:
    """Tags must be a list of unique strings."""
    if isinstance(tags, str) or not isinstance(tags, (list, tuple, set)):
        raise ValueError("tags must be a list of strings")
    seen = set()
    for tag in tags:
        if not isinstance(tag, str):
            raise ValueError("tags must be strings")
        if tag in seen:
            raise ValueError(f"duplicate tag: {tag}")
        seen.add(tag)


def validate_metadata(metadata: Any) -> dict:
    """Metadata must be a dict with string keys (dataclasses and pydantic models are converted)."""
    if dataclasses.is_dataclass(metadata) and not isinstance(metadata, type):
        metadata = dataclasses.asdict(metadata)
    elif hasattr(metadata, "model_dump"):
        metadata = metadata.model_dump()
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be a dictionary or serialize to a dictionary")
    for key in metadata:
        if not isinstance(key, str):
            raise ValueError("metadata keys must be strings")
    return metadata


class _LazyObject:
    """An object's metadata (project and object records), resolved once: on first read in the
    caller's thread, or for writes on the background resolver while the rows wait, in order, so
    a write never waits for (or fails on) the network."""

    def __init__(self, compute: Callable[[], tuple], describe: str = "object"):
        self._compute = compute
        self.describe = describe
        self._value: Optional[tuple] = None
        self._compute_lock = threading.Lock()
        self.pending: list = []

    def get(self) -> tuple:
        """The metadata, resolving it now if needed (raises if the server cannot be reached)."""
        value = self._value
        if value is not None:
            return value
        _resolver.wait_turn(self)
        with self._compute_lock:
            if self._value is None:
                self._value = self._compute()
            return self._value

    def emit(self, row: dict, with_ids: Callable[[tuple, dict], dict]) -> None:
        """Queues a row; ``with_ids(metadata, row)`` adds the object ids once they are known."""
        with _resolver.cond:
            if self._value is not None and not self.pending:
                emit_row(with_ids(self._value, row))
                return
            if not self.pending:
                _resolver.queue.append(self)
            self.pending.append((snapshot(row), with_ids))
            _resolver.start()


class _ServerObject:
    """An object the server registers (a dataset or an experiment), whose project and object
    records `_lazy` looks up on first use."""

    _lazy: _LazyObject

    @property
    def id(self) -> str:
        """The object id (registers or looks up the object on first use)."""
        return self._lazy.get()[1].id

    @property
    def name(self) -> str:
        """The object name, as the server has it (an experiment's is made unique)."""
        return self._lazy.get()[1].name


class _LoggedObject(_ServerObject):
    """A dataset or experiment written through this process: its server record's fields as
    attributes, rows queued under its id, and the official SDK's context manager and `close`."""

    # The row field naming the object, and how a row of it is called in warnings.
    _id_field = "object_id"
    _row_noun = "a row"

    @property
    def project(self) -> ObjectMetadata:
        """The project the object belongs to."""
        return self._lazy.get()[0]

    @property
    def data(self) -> dict:
        """The object's record as the server returned it."""
        return self._lazy.get()[1].full_info

    def __getattr__(self, name: str) -> Any:
        """Other fields of the object's record (``description``, ``metadata``, ``created``, ...)."""
        if name.startswith("_"):
            raise AttributeError(name)
        info = self._lazy.get()[1].full_info
        if name not in info:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return info[name]

    def _emit(self, row: dict) -> None:
        """Queues a row of this object; never raises, never waits for the network."""
        id_field = self._id_field
        try:
            self._lazy.emit(row, lambda meta, r: {**r, id_field: meta[1].id})
        except Exception as e:  # noqa: BLE001 - logging never raises into user code
            print(f"spanloom: could not log {self._row_noun}: {e}", file=sys.stderr)

    def flush(self) -> None:
        """Sends every queued row and waits for the answers."""
        _logger.flush()

    def close(self) -> str:
        """Deprecated no-op; returns the id."""
        return self.id

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class _Resolver:
    """One background thread that registers datasets and experiments in the order their first
    rows were written (an experiment that names another as its base finds it registered),
    retrying with backoff while the server cannot be reached, then queues the waiting rows."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.queue: collections.deque = collections.deque()
        self.thread: Optional[threading.Thread] = None
        self.failures = 0
        self.warned = False

    def start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="spanloom-objects", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        delay = 0.25
        while True:
            with self.cond:
                if not self.queue:
                    self.thread = None
                    return
                lazy = self.queue[0]
            try:
                value = lazy.get()
            except Exception as e:  # noqa: BLE001 - keep the rows and retry
                with self.cond:
                    self.failures += 1
                    self.cond.notify_all()
                    if not self.warned:
                        self.warned = True
                        waiting = sum(len(x.pending) for x in self.queue)
                        print(
                            f"spanloom: cannot reach the server to register the {lazy.describe} ({e}); "
                            f"{waiting} rows are kept in memory and retried in the background",
                            file=sys.stderr,
                        )
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 0.25
            with self.cond:
                for row, with_ids in lazy.pending:
                    emit_row(with_ids(value, row))
                lazy.pending.clear()
                self.queue.popleft()
                self.cond.notify_all()

    def wait_turn(self, lazy: _LazyObject, timeout: float = 30.0) -> None:
        """Before ``lazy`` is resolved out of turn (a read needs its id), the objects whose rows
        were written earlier are registered first, so registration order follows write order."""
        if threading.current_thread() is self.thread:
            return
        with self.cond:
            start = self.failures

            def ready() -> bool:
                queue = list(self.queue)
                ahead = queue[: queue.index(lazy)] if lazy in queue else queue
                return not ahead or self.failures > start

            self.cond.wait_for(ready, timeout=timeout)

    def settle(self, timeout: float = 60.0) -> None:
        """Waits until the waiting rows are queued, or one more attempt failed (server down)."""
        with self.cond:
            start = self.failures
            self.cond.wait_for(lambda: not self.queue or self.failures > start, timeout=timeout)


_resolver = _Resolver()


def _settle() -> None:
    """Before a flush, rows of datasets and experiments waiting for their ids are queued first."""
    _resolver.settle()


add_flush_hook(_settle)


def _after_fork_in_child() -> None:
    """The resolver thread is gone in a forked child and the rows it held are the parent's:
    start afresh (with fresh locks, which the thread may have held)."""
    global _resolver
    for lazy in list(_resolver.queue):
        lazy.pending = []
        lazy._compute_lock = threading.Lock()
    _resolver = _Resolver()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def fetch_pages(object_type: str, object_id: str, limit: int, version: Optional[str] = None) -> list:
    """All events of an object through ``POST /v1/{type}/{id}/fetch``, following cursors."""
    events: list = []
    cursor = None
    for _ in range(_MAX_FETCH_PAGES):
        body: dict = {"limit": limit}
        if cursor:
            body["cursor"] = cursor
        if version is not None:
            body["version"] = version
        page = api("POST", f"/v1/{object_type}/{object_id}/fetch", body)
        page_events = page.get("events")
        if not isinstance(page_events, list):
            raise ValueError(f"Expected a list in the response, got {type(page_events)}")
        events.extend(page_events)
        cursor = page.get("cursor")
        if not cursor:
            return events
    raise RuntimeError(f"Too many {object_type} fetch iterations")


@dataclasses.dataclass
class DataSummary:
    """Record counts of a dataset."""

    new_records: int
    total_records: int

    def __str__(self) -> str:
        return f"Total records: {self.total_records} ({self.new_records} new or updated records)"


@dataclasses.dataclass
class DatasetSummary:
    """What `Dataset.summarize` returns: names, links and record counts."""

    project_name: str
    dataset_name: str
    project_url: str
    dataset_url: str
    data_summary: Optional[DataSummary]

    def __str__(self) -> str:
        return textwrap.dedent(
            f"""\

             =========================SUMMARY=========================
             {self.data_summary}
             See results for all datasets in {self.project_name} at {self.project_url}
             See results for {self.dataset_name} at {self.dataset_url}"""
        )


class Dataset(_LoggedObject):
    """A dataset of records (``input``, ``expected``, ``metadata``, ``tags``) to evaluate against.

    Create one with `init_dataset`. Writes are queued and sent in the background; `fetch` (or
    iterating the dataset) reads the records, as of ``version`` when it was pinned.
    """

    _id_field = "dataset_id"
    _row_noun = "a dataset row"

    def __init__(self, lazy: _LazyObject, version: Optional[Any] = None, legacy: bool = False, environment: Optional[str] = None):
        if version is not None:
            try:
                ok = int(version) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"version ({version}) must be a positive integer")
        self._lazy = lazy
        self._pinned_version = str(version) if version is not None else None
        self._environment = environment if version is None else None
        self._legacy = legacy
        self._fetched: Optional[list] = None
        self.new_records = 0

    def insert(
        self,
        input: Any = None,
        expected: Any = None,
        tags: Optional[Sequence[str]] = None,
        metadata: Optional[dict] = None,
        id: Optional[str] = None,
        output: Any = None,
    ) -> str:
        """Inserts a record (replacing the record with the same ``id`` if there is one) and returns
        its id. ``output`` is the deprecated name of ``expected``."""
        if expected is not None and output is not None:
            raise ValueError("Only one of expected or output (deprecated) can be specified. Prefer expected.")
        if tags:
            validate_tags(tags)
        row_id = id or str(uuid.uuid4())
        row: dict = {"id": row_id, "input": input, "expected": expected if expected is not None else output, "tags": tags, "created": _now_iso()}
        if metadata is not None:
            row["metadata"] = validate_metadata(metadata)
        self._fetched = None
        self.new_records += 1
        self._emit(row)
        return row_id

    def update(
        self,
        id: str,
        input: Any = None,
        expected: Any = None,
        tags: Optional[Sequence[str]] = None,
        metadata: Optional[dict] = None,
    ) -> str:
        """Merges the given fields into the record ``id`` (others stay as they are)."""
        if tags:
            validate_tags(tags)
        row: dict = {"id": id, "_is_merge": True}
        for key, value in (("input", input), ("expected", expected), ("tags", tags)):
            if value is not None:
                row[key] = value
        if metadata is not None:
            row["metadata"] = validate_metadata(metadata)
        self._fetched = None
        self._emit(row)
        return id

    def delete(self, id: str) -> str:
        """Deletes the record ``id``."""
        self._emit({"id": id, "created": _now_iso(), "_object_delete": True})
        return id

    def _refetch(self, batch_size: Optional[int] = None) -> list:
        if self._fetched is None:
            self._resolve_environment()
            events = fetch_pages("dataset", self.id, batch_size or DEFAULT_FETCH_BATCH_SIZE, self._pinned_version)
            for event in events:
                enrich(event)
                if "expected" not in event:
                    event["expected"] = event.pop("output", None)
                if self._legacy:
                    event["output"] = event.pop("expected")
            self._fetched = events
        return self._fetched

    def fetch(self, batch_size: Optional[int] = None) -> Iterator[dict]:
        """Iterates over the records (``batch_size`` records per request, 1000 by default); the
        records are fetched once and cached until the next write through this object."""
        yield from self._refetch(batch_size)

    def __iter__(self) -> Iterator[dict]:
        return self.fetch()

    def _resolve_environment(self) -> None:
        # `init_dataset(environment=...)`: the version the environment pins, asked once.
        if self._environment is not None and self._pinned_version is None:
            path = f"/environment-object/dataset/{self.id}/{urllib.parse.quote(self._environment, safe='')}"
            self._pinned_version = str(api("GET", path, params={"org_name": _logger._state.org_name})["object_version"])

    @property
    def version(self) -> str:
        """The pinned version, else the latest transaction id among the records ("0" if empty)."""
        self._resolve_environment()
        if self._pinned_version is not None:
            return self._pinned_version
        return max([str(r.get("_xact_id", "0")) for r in self._refetch()] or ["0"])

    def summarize(self, summarize_data: bool = True) -> DatasetSummary:
        """Flushes, then returns the dataset's links and (with ``summarize_data``) record counts."""
        self.flush()
        response = api("GET", f"/v1/dataset/{self.id}/summarize", params={"summarize_data": "true" if summarize_data else "false"})
        raw = (response or {}).get("data_summary")
        data_summary = DataSummary(new_records=self.new_records, **raw) if isinstance(raw, dict) else None
        project_url = _project_url(self.project.name)
        return DatasetSummary(
            project_name=self.project.name,
            dataset_name=self.name,
            project_url=project_url,
            dataset_url=f"{project_url}/datasets/{_encode(self.name)}",
            data_summary=data_summary,
        )


def init_dataset(
    project: Optional[str] = None,
    name: Optional[str] = None,
    description: Optional[str] = None,
    version: Optional[Any] = None,
    app_url: Optional[str] = None,
    api_key: Optional[str] = None,
    org_name: Optional[str] = None,
    project_id: Optional[str] = None,
    metadata: Optional[dict] = None,
    use_output: bool = False,
    dataset_id: Optional[str] = None,
    environment: Optional[str] = None,
    **_: Any,
) -> Dataset:
    """Creates (or opens) the dataset ``name`` (default ``"logs"``) in a project, or opens
    ``dataset_id``. ``version`` pins reads to that transaction id (else ``environment`` to the
    version that environment pins). No network call happens until the dataset is used."""
    if project is None and project_id is None and dataset_id is None:
        raise ValueError("Must specify at least one of project, project_id or dataset_id")

    def compute() -> tuple:
        _logger.login(app_url=app_url, api_key=api_key, org_name=org_name)
        if dataset_id is not None:
            ds = api("GET", f"/v1/dataset/{dataset_id}")
            proj = api("GET", f"/v1/project/{ds['project_id']}")
        else:
            proj = resolve_project(project, project_id)
            body: dict = {"project_id": proj["id"], "name": name or "logs"}
            if description is not None:
                body["description"] = description
            if metadata is not None:
                body["metadata"] = metadata
            ds = api("POST", "/v1/dataset", body)
        return ObjectMetadata(proj["id"], proj["name"], dict(proj)), ObjectMetadata(ds["id"], ds["name"], dict(ds))

    return Dataset(_LazyObject(compute, f"dataset {name or 'logs'!r}"), version=version, legacy=use_output, environment=environment)
