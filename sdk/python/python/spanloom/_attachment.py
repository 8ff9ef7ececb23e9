"""Attachments (`Attachment`, `JSONAttachment`, `ExternalAttachment`, `ReadonlyAttachment`) and the
ordered row pipeline that uploads them.

A logged value may hold attachment objects at any depth. When the row is queued they are replaced
by the protocol's attachment references (``{"type": "braintrust_attachment", "key": ...}``), the
bytes go to the server's signed URL on a background thread, and only once every upload of the row
has finished (done or failed) is the row handed to the core logger. Rows queued after it wait
behind it, so the rows of one span still reach the core in the order they were logged. Nothing
here blocks the caller or raises into it: a failed upload is reported on stderr and recorded as
the attachment's status on the server.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
import math
import os
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from typing import Any, Callable, Optional

from . import _logger
from ._json import dumps

try:
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_NON_STR_KEYS
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson = None


def _org_id() -> str:
    """The id of the logged-in org (the attachment routes are scoped by it)."""
    state = _logger._state
    org_id = getattr(state, "org_id", None)
    if org_id:
        return org_id
    with _ORG_LOCK:
        if _ORG.get("id") is None:
            info = _logger._request("POST", f"{state.app_url}/api/apikey/login", state.api_key or "")["org_info"]
            org = next((o for o in info if o.get("name") == state.org_name), info[0] if info else {})
            _ORG["id"] = org.get("id", "")
        return _ORG["id"]


_ORG: dict = {}
_ORG_LOCK = threading.Lock()


def _api(method: str, path: str, body: Any = None, params: Optional[dict] = None) -> Any:
    """An authenticated JSON call to the API server (logs in on first use)."""
    _logger.login()
    state = _logger._state
    url = f"{state.api_url}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    return _logger._request(method, url, state.api_key or "", body)


class BaseAttachment:
    """What `Attachment` and `ExternalAttachment` share: a reference that replaces the object in
    a logged row, the data, and an upload step."""

    _reference: dict

    @property
    def reference(self) -> dict:
        """The attachment reference that replaces this object in a logged row."""
        return self._reference

    @property
    def data(self) -> bytes:
        """The attachment's bytes."""
        raise NotImplementedError

    def upload(self) -> dict:
        """Uploads the data (at most once) and returns the status, e.g. ``{"upload_status": "done"}``."""
        raise NotImplementedError

    def debug_info(self) -> dict:
        """A description for logs and payload dumps."""
        return {"reference": self._reference}


class Attachment(BaseAttachment):
    """A file to upload with a logged row: ``data`` is a path on disk or the bytes themselves.

    The SDK uploads the bytes to object storage in the background and logs an attachment
    reference in its place, so any logged value (input, output, metadata, ...) can hold one.
    """

    def __init__(self, *, data: Any, filename: str, content_type: str):
        self._reference = {"type": "braintrust_attachment", "filename": filename, "content_type": content_type, "key": str(uuid.uuid4())}
        self._source = data
        self._bytes: Optional[bytes] = None
        self._status: Optional[dict] = None
        self._lock = threading.Lock()
        if isinstance(data, str) and not os.path.exists(data):
            print(f"spanloom: attachment file {data!r} is not readable", file=sys.stderr)

    @property
    def data(self) -> bytes:
        """The contents, read from disk on first access when a path was given."""
        if self._bytes is None:
            if isinstance(self._source, str):
                with open(self._source, "rb") as f:
                    self._bytes = f.read()
            else:
                self._bytes = bytes(self._source)
        return self._bytes

    def upload(self) -> dict:
        """Requests a signed URL, PUTs the bytes there and records the status on the server; runs
        once per object (later calls return the first status). Never raises for upload errors:
        they are in the returned status."""
        with self._lock:
            if self._status is not None:
                return self._status
            status: dict = {"upload_status": "uploading"}
            org_id = ""
            try:
                org_id = _org_id()
                ref = self._reference
                meta = _api("POST", "/attachment", {"key": ref["key"], "filename": ref["filename"], "content_type": ref["content_type"], "org_id": org_id})
                url, headers = meta.get("signedUrl"), meta.get("headers")
                if not isinstance(url, str) or not isinstance(headers, dict):
                    raise RuntimeError(f"invalid response from the API server: {meta}")
                headers = dict(headers)
                if "blob.core.windows.net" in url:
                    headers["x-ms-blob-type"] = "BlockBlob"
                req = urllib.request.Request(url, data=self.data, method="PUT", headers=headers)
                with urllib.request.urlopen(req, timeout=120) as resp:
                    resp.read()
                status = {"upload_status": "done"}
            except Exception as e:  # noqa: BLE001 - reported through the status
                status = {"upload_status": "error", "error_message": str(e)}
            try:
                _api("POST", "/attachment/status", {"key": self._reference["key"], "org_id": org_id, "status": status})
            except Exception as e:  # noqa: BLE001
                status = {"upload_status": "error", "error_message": f"couldn't log attachment status: {e}"}
            self._status = status
            return status

    def debug_info(self) -> dict:
        """The source (path or ``<in-memory data>``) and the reference."""
        source = self._source if isinstance(self._source, str) else "<in-memory data>"
        return {"input_data": source, "reference": self._reference}


class JSONAttachment(Attachment):
    """A JSON-serializable object logged as a ``application/json`` attachment (for large values
    that should not live in the row itself)."""

    def __init__(self, data: Any, *, filename: str = "data.json", pretty: bool = False):
        text = json.dumps(data, indent=2 if pretty else None)
        super().__init__(data=text.encode("utf-8"), filename=filename, content_type="application/json")


class ExternalAttachment(BaseAttachment):
    """A file that already lives in an external object store, referenced by URL (nothing is
    uploaded)."""

    def __init__(self, *, url: str, filename: str, content_type: str):
        self._reference = {"type": "external_attachment", "filename": filename, "content_type": content_type, "url": url}

    @property
    def data(self) -> bytes:
        """The contents, downloaded through the server's attachment route."""
        return ReadonlyAttachment(self._reference).data

    def upload(self) -> dict:
        """Nothing to upload: always done."""
        return {"upload_status": "done"}


class ReadonlyAttachment:
    """An attachment already logged, read back from its reference (rows fetched from datasets and
    experiments hold these in place of the references)."""

    def __init__(self, reference: dict):
        self.reference = reference
        self._data: Optional[bytes] = None

    def metadata(self) -> dict:
        """``{"downloadUrl": ..., "status": {...}}`` from the server, fetched anew each call."""
        ref = self.reference
        params = {"filename": ref["filename"], "content_type": ref["content_type"], "org_id": _org_id()}
        if ref.get("type") == "braintrust_attachment":
            params["key"] = ref["key"]
        elif ref.get("type") == "external_attachment":
            params["url"] = ref["url"]
        else:
            raise RuntimeError(f"Unknown attachment type: {ref.get('type')}")
        meta = _api("GET", "/attachment", params=params)
        if not isinstance(meta, dict) or not isinstance(meta.get("downloadUrl"), str) or not isinstance(meta.get("status"), dict):
            raise RuntimeError(f"Invalid response from API server: {meta}")
        return meta

    def status(self) -> dict:
        """The upload status, e.g. ``{"upload_status": "done"}``, fetched anew each call."""
        return self.metadata()["status"]

    @property
    def data(self) -> bytes:
        """The contents (downloaded once, from the signed URL, without the API key)."""
        if self._data is None:
            meta = self.metadata()
            if meta["status"].get("upload_status") != "done":
                raise RuntimeError(f'Expected attachment status "done", got "{meta["status"].get("upload_status")}"')
            with urllib.request.urlopen(meta["downloadUrl"], timeout=120) as resp:
                self._data = resp.read()
        return self._data

    def __str__(self) -> str:
        import base64

        return f"data:{self.reference['content_type']};base64,{base64.b64encode(self.data).decode()}"


def enrich(value: Any) -> Any:
    """Replaces attachment references in a fetched row with `ReadonlyAttachment` objects (in place)."""
    if isinstance(value, dict):
        if value.get("type") in ("braintrust_attachment", "external_attachment"):
            return ReadonlyAttachment(value)
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                value[k] = enrich(v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                value[i] = enrich(v)
    return value


def _plain(value: Any, attachments: list) -> Any:
    """A JSON-ready copy of a logged value: attachments become references (collected), NaN and
    infinities become strings as the official SDK sends them, dataclasses and pydantic models
    become dicts."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v, attachments) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, attachments) for v in value]
    if isinstance(value, BaseAttachment):
        attachments.append(value)
        return dict(value.reference)
    if isinstance(value, ReadonlyAttachment):
        return dict(value.reference)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), attachments)
    if hasattr(value, "model_dump"):
        try:
            return _plain(value.model_dump(), attachments)
        except Exception:  # noqa: BLE001
            pass
    if isinstance(value, (set, frozenset)):
        return [_plain(v, attachments) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def _json_default(attachments: list) -> Callable[[Any], Any]:
    """orjson's hook for what it cannot write itself, with `_plain`'s rules: attachments
    become references (collected for upload), pydantic models dicts, sets lists, bytes a
    size; anything else its `str`."""

    def default(value: Any) -> Any:
        if isinstance(value, BaseAttachment):
            attachments.append(value)
            return dict(value.reference)
        if isinstance(value, ReadonlyAttachment):
            return dict(value.reference)
        if hasattr(value, "model_dump"):
            try:
                return value.model_dump()
            except Exception:  # noqa: BLE001
                pass
        if isinstance(value, (set, frozenset)):
            return list(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return f"<{len(value)} bytes>"
        return str(value)

    return default


def row_json(row: dict) -> tuple:
    """A row's JSON text (bytes) and the attachments it references, in one pass of orjson
    in the calling thread. NaN and infinities become null. What orjson refuses (integers
    beyond 64 bits, nesting deeper than 254) goes through `_plain` and `json`."""
    attachments: list = []
    if _orjson is not None:
        try:
            return _orjson.dumps(row, default=_json_default(attachments), option=_ORJSON_OPTIONS), attachments
        except (TypeError, ValueError):
            attachments = []
    return dumps(_plain(row, attachments)).encode(), attachments


def snapshot(value: Any) -> Any:
    """A copy of a row's containers (dicts, lists, tuples) with the leaves shared, so a row
    held back for a while is not changed by the caller mutating what it logged."""
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [snapshot(v) for v in value]
    return value


class _Pipeline:
    """Hands rows to the core logger in the order they were logged; a row with attachments waits
    for its uploads (run on a small thread pool), and rows after it wait behind it."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._pending: collections.deque = collections.deque()
        self._worker: Optional[threading.Thread] = None
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None

    def emit(self, row: dict) -> None:
        text, attachments = row_json(row)
        if not attachments and not self._pending:
            # Nothing waits for an upload (a waiting row leaves `_pending` only after it
            # reached the core), so this row keeps its order without taking the lock. A
            # forked child gets a new pipeline from its at-fork hook (`_fork.py`).
            _send(text)
            return
        with self._lock:
            if not self._pending and not attachments:
                _send(text)
                return
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="spanloom-attachments")
            futures = [self._pool.submit(_upload, a) for a in attachments]
            self._pending.append((text, futures))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="spanloom-rows", daemon=True)
                self._worker.start()
            self._lock.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    if not self._lock.wait(timeout=5):
                        if not self._pending:
                            self._worker = None
                            return
                text, futures = self._pending[0]
            concurrent.futures.wait(futures)
            with self._lock:
                try:
                    _send(text)
                except Exception as e:  # noqa: BLE001 - one bad row must not stop the others
                    print(f"spanloom: could not queue a row: {e}", file=sys.stderr)
                # Only now: `emit` sends without the lock while nothing is pending.
                self._pending.popleft()
                self._lock.notify_all()

    def drain(self, timeout: Optional[float] = None) -> None:
        """Waits until every queued row has reached the core logger."""
        with self._lock:
            if self._pending and (self._worker is None or not self._worker.is_alive()):
                self._worker = threading.Thread(target=self._run, name="spanloom-rows", daemon=True)
                self._worker.start()
            self._lock.wait_for(lambda: not self._pending, timeout=timeout)


def _send(text: str) -> None:
    core = _logger._state.core
    if core is not None:
        core.log(text)
    elif not _DROPPED:
        _DROPPED.append(True)
        print("spanloom: a row was dropped: not logged in (call spanloom.login() or init_logger first)", file=sys.stderr)


_DROPPED: list = []


def _upload(attachment: BaseAttachment) -> None:
    try:
        status = attachment.upload()
        if status.get("upload_status") == "error":
            print(f"spanloom: attachment upload failed: {status.get('error_message')}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - uploads never raise into user code
        print(f"spanloom: attachment upload failed: {e}", file=sys.stderr)


_pipeline = _Pipeline()


class _HasAttachment(Exception):
    """Raised by the fast path's orjson hook: the row needs the attachment pipeline."""


def _fast_default(value: Any) -> Any:
    """`_json_default` for rows without attachments (the common case needs no collecting list)."""
    if isinstance(value, BaseAttachment):
        raise _HasAttachment
    return _no_attachments(value)


_no_attachments = _json_default([])


def emit_row(row: dict) -> None:
    """Queues one row (already carrying its object ids): attachments are replaced by references
    and uploaded first. Never raises.

    The common case (no attachment in the row, none waiting, a core logger running) is one
    orjson call and one copy into the core, without the pipeline's lock."""
    try:
        core = _logger._state.started_core()
        if core is not None and not _pipeline._pending and _orjson is not None:
            try:
                text = _orjson.dumps(row, default=_fast_default, option=_ORJSON_OPTIONS)
            except (TypeError, ValueError):  # an attachment, or what orjson cannot write
                text = None
            if text is not None:
                core.log(text)
                return
        _pipeline.emit(row)
    except Exception as e:  # noqa: BLE001 - tracing never raises into user code
        print(f"spanloom: could not log a row: {e}", file=sys.stderr)


_flush_hooks: list = []


def add_flush_hook(hook: Any) -> None:
    """Registers a function `drain` runs first (rows held elsewhere join the pipeline)."""
    _flush_hooks.append(hook)


def drain() -> None:
    """Waits for queued rows (and their uploads) to reach the core logger."""
    for hook in list(_flush_hooks):
        try:
            hook()
        except Exception as e:  # noqa: BLE001
            print(f"spanloom: flush hook failed: {e}", file=sys.stderr)
    _pipeline.drain()
