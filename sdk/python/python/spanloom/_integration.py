"""Helpers shared by the framework integrations (`spanloom.langchain`, `spanloom.llama_index`):
JSON conversion of framework objects, usage metrics, opening a span and making it current for
the code a framework runs inside it, and the logger the `setup_*` functions start."""

from __future__ import annotations

import dataclasses
import enum
import threading
import weakref
from typing import Any, Callable, Optional

from ._span import NOOP_SPAN, _current, start_span

# Lists longer than this are cut in logged inputs/outputs (an index build can pass thousands
# of nodes through one call); the cut is marked with a trailing string.
MAX_ITEMS = 200
_MAX_DEPTH = 12
# Objects logged by their `str()` (no JSON form) are cut to this many characters.
MAX_REPR = 2000


def to_json(value: Any, convert: Optional[Callable[[Any], Any]] = None, _depth: int = 0) -> Any:
    """A JSON-compatible copy of `value`. `convert` is tried first on every non-primitive value
    and returns `NotImplemented` for values it does not know."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if _depth > _MAX_DEPTH:
        return repr(value)
    if convert is not None:
        try:
            converted = convert(value)
        except Exception:  # noqa: BLE001 - a failed conversion falls back to the generic one
            converted = NotImplemented
        if converted is not NotImplemented:
            return to_json(converted, convert, _depth + 1) if converted is not value else repr(value)
    if isinstance(value, dict):
        return {str(k): to_json(v, convert, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        out = [to_json(v, convert, _depth + 1) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            out.append(f"... {len(items) - MAX_ITEMS} more")
        return out
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if hasattr(value, "model_dump") and callable(value.model_dump):
        try:
            return to_json(value.model_dump(mode="json", exclude_none=True), convert, _depth + 1)
        except Exception:  # noqa: BLE001
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            return to_json(dataclasses.asdict(value), convert, _depth + 1)
        except Exception:  # noqa: BLE001
            pass
    if isinstance(value, enum.Enum):
        return to_json(value.value, convert, _depth + 1)
    text = str(value)
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "..."


def openai_usage_metrics(usage: Any) -> dict:
    """Span metrics from an OpenAI-style usage object or dict (`prompt_tokens`,
    `completion_tokens`, `total_tokens`, `*_tokens_details`)."""
    if usage is None:
        return {}
    if hasattr(usage, "model_dump"):
        usage = usage.model_dump(exclude_none=True)
    if not isinstance(usage, dict):
        return {}
    metrics: dict = {}
    for ours, theirs in (
        ("prompt_tokens", "prompt_tokens"),
        ("completion_tokens", "completion_tokens"),
        ("tokens", "total_tokens"),
        ("prompt_tokens", "input_tokens"),
        ("completion_tokens", "output_tokens"),
    ):
        value = usage.get(theirs)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and ours not in metrics:
            metrics[ours] = value
    cached = (usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, (int, float)):
        metrics["prompt_cached_tokens"] = cached
    reasoning = (usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}).get("reasoning_tokens")
    if isinstance(reasoning, (int, float)):
        metrics["completion_reasoning_tokens"] = reasoning
    if "tokens" not in metrics and "prompt_tokens" in metrics and "completion_tokens" in metrics:
        metrics["tokens"] = metrics["prompt_tokens"] + metrics["completion_tokens"]
    return metrics


def open_span(parent: Any, name: str, type: Optional[str], event: dict) -> Any:
    """Starts a span under `parent` (a span or logger), else under the current span, else as a
    root of the current experiment or logger; a no-op span when nothing is logging."""
    event = {k: v for k, v in event.items() if v is not None}
    try:
        if parent is not None:
            return parent.start_span(name=name, type=type, **event)
    except Exception:  # noqa: BLE001 - fall back to the default placement
        pass
    return start_span(name=name, type=type, **event)


class CurrentSpans:
    """Makes a framework's spans current for the code the framework runs inside them, when
    callbacks do not nest like calls (LangChain's `RunnableSequence.batch` starts every run,
    then ends every run, in one context; two streams can be read in turns).

    `enter(span)` makes the span current and remembers what was current; `exit(span)`, if the
    span is still current in this context, goes back to the nearest remembered span that is
    still open, or not one of this integration's; `outer()` is the current span with this
    integration's own spans skipped, the parent for runs the framework says have none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # span -> what was current when it was entered (weak: ended spans go with their last use)
        self._previous: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._open: set = set()  # id() of the entered spans not exited yet

    def enter(self, span: Any) -> None:
        """Makes `span` current in this context."""
        if span is NOOP_SPAN or span is None:
            return
        with self._lock:
            try:
                self._previous[span] = _current.get()
            except TypeError:  # not weakly referenceable: not made current
                return
            self._open.add(id(span))
        _current.set(span)

    def exit(self, span: Any) -> None:
        """Undoes `enter(span)` in this context, if `span` is still current here."""
        with self._lock:
            self._open.discard(id(span))
            if span is NOOP_SPAN or _current.get() is not span:
                return
            previous = self._previous.get(span)
            while previous is not None and id(previous) not in self._open and previous in self._previous:
                previous = self._previous.get(previous)
        _current.set(previous)

    def outer(self) -> Any:
        """The current span, skipping the spans entered here; None if there is none."""
        with self._lock:
            current = _current.get()
            while current is not None and current in self._previous:
                current = self._previous.get(current)
        return current


def current_parent() -> Any:
    """The current span, or None."""
    return _current.get()


def start_logging_if_idle(api_key: Optional[str], project_id: Optional[str], project_name: Optional[str]) -> None:
    """What the Braintrust-compatible `setup_*` functions do first: start a logger for the
    project, unless a span is current or a logger is already logging."""
    from ._logger import current_logger, init_logger

    if current_parent() is None and current_logger() is None:
        init_logger(project=project_name, project_id=project_id, api_key=api_key)
