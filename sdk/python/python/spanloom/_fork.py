"""Fork safety. After `os.fork()` only the forking thread exists in the child: the core
logger's worker thread, the background resolver and the attachment uploader are gone, and
any lock one of them held stays locked. `os.register_at_fork` resets that state in the
child, which then builds its own core logger on first use (from the parent's login result)
and never sends rows the parent had queued; the parent is untouched and keeps sending its
own. Under `multiprocessing` (fork start method) the child exits with `os._exit`, which
skips `atexit`, so a multiprocessing finalizer flushes the child's rows instead.
"""

from __future__ import annotations

import os
import sys

from . import _logger


def _reset_attachments() -> None:
    """The attachment pipeline's worker thread is gone in the child, and its queue holds
    the parent's rows: start it afresh."""
    module = sys.modules.get("spanloom._attachment")
    pipeline_type = getattr(module, "_Pipeline", None)
    if module is not None and pipeline_type is not None:
        module._pipeline = pipeline_type()


def _flush_in_multiprocessing_child(_obj: object) -> None:
    """Runs in a multiprocessing child after its registries were reset: registers the exit
    flush with multiprocessing's own exit hook (`atexit` does not run there)."""
    import multiprocessing.util as mp_util

    mp_util.Finalize(None, _logger._flush_at_exit, exitpriority=100)


def _after_fork_in_child() -> None:
    try:
        _logger._after_fork_in_child()
        _reset_attachments()
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            # Run by multiprocessing's bootstrap after it clears the finalizers it inherited.
            mp_util.register_after_fork(_logger._state, _flush_in_multiprocessing_child)
    except Exception as e:  # noqa: BLE001 - never break the child
        print(f"spanloom: resetting the logger after fork failed: {e}", file=sys.stderr)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
