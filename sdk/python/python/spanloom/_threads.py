"""`TracedThreadPoolExecutor`: work submitted from inside a span runs inside it."""

from __future__ import annotations

import concurrent.futures
import contextvars
from typing import Any, Callable


class TracedThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A `ThreadPoolExecutor` whose tasks run in a copy of the submitter's context, so spans
    they start are children of the span that submitted them."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)
