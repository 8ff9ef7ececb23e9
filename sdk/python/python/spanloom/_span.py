"""Spans: `start_span`, `traced`, `current_span`, export slugs. Context lives in a
`contextvars.ContextVar`, so threads and asyncio tasks see the span they were started in."""

from __future__ import annotations

import contextvars
import datetime
import functools
import inspect
import secrets
import sys
import time
import traceback
import uuid
from typing import Any, Callable, Optional

from . import _core, _logger

_current: contextvars.ContextVar[Optional[Span]] = contextvars.ContextVar("spanloom_current_span", default=None)


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class Span:
    """One unit of work. Use it as a context manager, or call `end()`."""

    def __init__(
        self,
        logger: _logger.Logger,
        name: Optional[str],
        type: Optional[str],
        parent: Optional[Span],
        root_span_id: Optional[str] = None,
        parent_span_id: Optional[str] = None,
        event: Optional[dict] = None,
    ):
        self._logger = logger
        event = dict(event or {})
        given_id = event.pop("id", None)
        self.id = given_id if isinstance(given_id, str) and given_id else str(uuid.uuid4())
        self.span_id = secrets.token_hex(8)
        if parent is not None:
            self.root_span_id = parent.root_span_id
            self._parents = [parent.span_id]
        else:
            self.root_span_id = root_span_id or secrets.token_hex(16)
            self._parents = [parent_span_id] if parent_span_id else None
        self.name = name or "root"
        self._ended = False
        self._token: Optional[contextvars.Token] = None
        attributes = {"name": self.name}
        if type:
            attributes["type"] = type
        attributes.update(event.pop("span_attributes", None) or {})
        row = {
            "id": self.id,
            "span_id": self.span_id,
            "root_span_id": self.root_span_id,
            "span_parents": self._parents,
            "created": _now_iso(),
            "span_attributes": attributes,
            "metrics": {"start": time.time()},
        }
        row.update({k: v for k, v in event.items() if v is not None})
        self._logger._emit(row)

    def _merge(self, event: dict) -> None:
        row = {"id": self.id, "span_id": self.span_id, "root_span_id": self.root_span_id, "span_parents": self._parents, "_is_merge": True}
        row.update(event)
        self._logger._emit(row)

    def log(self, **event: Any) -> None:
        """Merges fields into the span: input, output, expected, error, scores, metadata, metrics, tags."""
        event = {k: v for k, v in event.items() if v is not None}
        if event:
            self._merge(event)

    def set_attributes(self, name: Optional[str] = None, type: Optional[str] = None, span_attributes: Optional[dict] = None) -> None:
        attrs = dict(span_attributes or {})
        if name:
            attrs["name"] = name
        if type:
            attrs["type"] = type
        if attrs:
            self._merge({"span_attributes": attrs})

    def log_feedback(self, **event: Any) -> None:
        self.log(**event)

    def start_span(self, name: Optional[str] = None, type: Optional[str] = None, **event: Any) -> Span:
        return Span(self._logger, name, type, self, event=event)

    def end(self, end_time: Optional[float] = None) -> float:
        t = end_time or time.time()
        if not self._ended:
            self._ended = True
            self._merge({"metrics": {"end": t}})
        return t

    def export(self) -> str:
        """A slug other processes resume this span from (`start_span(parent=...)`, `update_span`)."""
        experiment = getattr(self._logger, "_is_experiment", False)
        return _core.export_slug(self._logger.id, self.id, self.span_id, self.root_span_id, experiment=experiment)

    def permalink(self) -> str:
        base = _logger._state.app_url or ""
        org = _logger._state.org_name or ""
        object_type = "experiment" if getattr(self._logger, "_is_experiment", False) else "project_logs"
        return f"{base}/app/{org}/object?object_type={object_type}&object_id={self._logger.id}&id={self.id}"

    def flush(self) -> None:
        _logger.flush()

    def __enter__(self) -> Span:
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None:
            self.log(error="".join(traceback.format_exception(exc_type, exc, tb)))
        self.end()
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:
                _current.set(None)
            self._token = None


class _NoopSpan:
    """What tracing does without a logger: nothing, cheaply."""

    id = ""
    span_id = ""
    root_span_id = ""

    def log(self, **event: Any) -> None:
        pass

    set_attributes = log_feedback = log

    def start_span(self, *args: Any, **kwargs: Any) -> _NoopSpan:
        return self

    def end(self, end_time: Optional[float] = None) -> float:
        return end_time or time.time()

    def export(self) -> str:
        return ""

    def permalink(self) -> str:
        return ""

    def flush(self) -> None:
        pass

    def __enter__(self) -> _NoopSpan:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


NOOP_SPAN = _NoopSpan()


def current_span():
    """The span the caller runs in, or a no-op span."""
    return _current.get() or NOOP_SPAN


def start_span(name: Optional[str] = None, type: Optional[str] = None, parent: Optional[str] = None, logger: Optional[_logger.Logger] = None, **event: Any):
    """Starts a span: a child of the current span, else of the `parent` slug, else a root of
    the current logger; a no-op span when there is no logger."""
    try:
        current = _current.get()
        if current is not None and parent is None and (logger is None or logger is current._logger):
            return Span(current._logger, name, type, current, event=event)
        target = logger or _default_target()
        if parent:
            _type, object_id, _row, span_id, root_span_id = _core.parse_slug(parent)
            if target is None or (object_id and target._project_id != object_id):
                target = _slug_target(_type, object_id)
            return Span(target, name, type, None, root_span_id=root_span_id, parent_span_id=span_id, event=event)
        if target is None:
            return NOOP_SPAN
        return Span(target, name, type, None, event=event)
    except Exception as e:  # noqa: BLE001 - tracing never raises into user code
        print(f"spanloom: could not start a span: {e}", file=sys.stderr)
        return NOOP_SPAN


def _default_target():
    """Where a new root span goes: the current experiment, else the current logger."""
    from ._experiment import current_experiment

    return current_experiment() or _logger.current_logger()


def _slug_target(object_type: int, object_id: Optional[str]):
    """The experiment (object type 1) or project logs an export slug names."""
    if object_type == 1 and object_id:
        from ._experiment import _experiment_by_id

        return _experiment_by_id(object_id)
    return _logger.Logger(None, object_id, {})


def update_span(exported: str, **event: Any) -> None:
    """Merges fields into a span exported elsewhere (`span.export()`)."""
    try:
        _type, object_id, row_id, span_id, root_span_id = _core.parse_slug(exported)
        logger = _slug_target(_type, object_id)
        row = {"id": row_id, "_is_merge": True, **{k: v for k, v in event.items() if v is not None}}
        if span_id:
            row.update(span_id=span_id, root_span_id=root_span_id)
        logger._emit(row)
    except Exception as e:  # noqa: BLE001
        print(f"spanloom: could not update the span: {e}", file=sys.stderr)


def _bound_input(fn: Callable, args: tuple, kwargs: dict) -> Any:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)
    except (TypeError, ValueError):
        return {"args": list(args), "kwargs": kwargs}


def traced(fn: Optional[Callable] = None, *, name: Optional[str] = None, type: Optional[str] = "function", notrace_io: bool = False):
    """Decorates a function (sync or async) so each call is a span, with the bound arguments as
    `input` and the return value as `output`; an exception is logged and re-raised unchanged."""

    def decorate(f: Callable) -> Callable:
        span_name = name or f.__name__
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if _current.get() is None and _default_target() is None:
                    return await f(*args, **kwargs)
                with start_span(name=span_name, type=type, input=None if notrace_io else _bound_input(f, args, kwargs)) as span:
                    result = await f(*args, **kwargs)
                    if not notrace_io:
                        span.log(output=result)
                    return result

            return async_wrapper

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _current.get() is None and _default_target() is None:
                return f(*args, **kwargs)
            with start_span(name=span_name, type=type, input=None if notrace_io else _bound_input(f, args, kwargs)) as span:
                result = f(*args, **kwargs)
                if not notrace_io:
                    span.log(output=result)
                return result

        return wrapper

    return decorate(fn) if fn is not None else decorate
