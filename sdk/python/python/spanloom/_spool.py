"""The Python half of the spool (`SPANLOOM_SPOOL_DIR`): rows that never got a project id
because the server could not be reached before the process ended.

The Rust core spools `/logs3` bodies that finally failed (files `spool-<key>-*.json`) and
re-sends them itself when a later core starts. Rows still waiting here for login at exit
are written as `unresolved-<key>-*.json` (`{"project_name", "project_id", "rows"}`, rows
without routing fields) and replayed by the next process that logs in to the same server:
it registers the project, then queues the rows before any of its own. `<key>` is a hash of
the app URL, so one directory can serve several servers.

Files are written to a temporary name and renamed, and claimed by renaming them to
`<name>.claimed.<pid>` before they are read, so two processes never replay one file; a
claim whose process is gone is released. Replaying twice is harmless: the server ignores a
replace row identical to the one it holds and merges are idempotent (see the report in
`docs/` for the exact rules).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from . import _logger

_CLAIMED = ".claimed."


def _write(directory: Path, name: str, payload: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".tmp-{name}"
    tmp.write_text(json.dumps(payload, default=str))
    os.replace(tmp, directory / name)


def write_unresolved(items: Iterable) -> int:
    """Writes waiting `(logger, row)` pairs to the spool, one file per project; returns the
    number of rows written (0 without a spool directory)."""
    spool = _logger._spool_dir()
    if not spool:
        return 0
    groups: dict = {}
    for logger, row in items:
        groups.setdefault(id(logger), (logger, []))[1].append(row)
    written = 0
    for logger, rows in groups.values():
        key = _logger._spool_key(logger._target_app_url())
        name = f"unresolved-{key}-{time.time_ns() // 1000:020d}-{uuid.uuid4().hex[:8]}.json"
        try:
            _write(Path(spool), name, {"project_name": logger._project, "project_id": logger._project_id, "rows": rows})
            written += len(rows)
        except OSError as e:
            _logger._warn(f"spanloom: could not write {len(rows)} rows to the spool {spool}: {e}")
    return written


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _claim(directory: Path, prefix: str) -> list:
    """Claims this destination's unresolved files, oldest first (released stale claims too)."""
    claimed = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return claimed
    me = str(os.getpid())
    for name in names:
        if not name.startswith(prefix):
            continue
        path = directory / name
        if _CLAIMED in name:
            original, pid = name.split(_CLAIMED, 1)
            if pid == me or _alive(pid):
                continue
            try:
                os.replace(path, directory / original)
            except OSError:
                continue
            path, name = directory / original, original
        if not name.endswith(".json"):
            continue
        target = directory / f"{name}{_CLAIMED}{me}"
        try:
            os.rename(path, target)
        except OSError:
            continue  # another process claimed it
        claimed.append((path, target))
    return claimed


def replay_unresolved(app_url: Optional[str] = None) -> int:
    """Queues the rows earlier processes left unresolved for this server (after login, from
    the background thread); returns how many. A file whose project cannot be registered yet
    is released for the next try."""
    spool = _logger._spool_dir()
    if not spool:
        return 0
    directory = Path(spool)
    key = _logger._spool_key(app_url or _logger._state.app_url or "")
    replayed = 0
    for original, claimed in _claim(directory, f"unresolved-{key}-"):
        try:
            payload = json.loads(claimed.read_text())
            logger = _logger.Logger(payload.get("project_name"), payload.get("project_id"), {})
            _ = logger.id
        except Exception:
            os.replace(claimed, original)
            raise
        for row in payload.get("rows") or []:
            logger._send(row)
            replayed += 1
        logger._ready = True
        claimed.unlink(missing_ok=True)
    return replayed
