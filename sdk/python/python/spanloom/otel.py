"""OpenTelemetry interop: send OTel spans to Spanloom, in the same traces as native spans.

    from opentelemetry.sdk.trace import TracerProvider
    from spanloom.otel import SpanloomSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SpanloomSpanProcessor(parent="project_name:support-bot"))

`SpanloomSpanProcessor` (alias `BraintrustSpanProcessor`, with the official processor's
arguments) exports through the official OTLP/HTTP exporter, wrapped in a
`BatchSpanProcessor`, to `<api_url>/otel/v1/traces` with the API key and `x-bt-parent`.

Mixed traces. Once a processor exists, the current spanloom span is mirrored into the OTel
context as a non-recording span with the same ids (trace id = `root_span_id`, span id =
`span_id`), so an OTel span started inside a spanloom span is its child; a spanloom span
started inside an OTel span takes the OTel trace id as `root_span_id` and the OTel span id
as its parent. The server stores both kinds in one id space (OTel rows get `span_id` =
hex span id, `root_span_id` = hex trace id, `span_parents` = [hex parent id]), so they form
one tree as long as they land in the same project: each OTel span gets a `braintrust.parent`
attribute naming the project (or experiment) of its spanloom ancestor, else of its OTel
parent, else the processor's `parent`; and a spanloom span under an OTel span goes to the
project that span's `braintrust.parent` names.

`filter_ai_spans=True` keeps spans whose name or any attribute key starts with `gen_ai.`,
`braintrust.`, `llm.`, `ai.` or `traceloop.` (the routing attributes `braintrust.parent`,
`braintrust.org` and `braintrust.app_url` do not count), plus the OTel root span (no parent,
or a remote one) of every trace with a kept span, so the trace has its root; roots of traces
without AI spans are dropped. `custom_filter(span)` decides first: True keeps, False drops,
None defers to the rule.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, Optional

try:
    from opentelemetry import baggage, trace
    from opentelemetry import context as otel_context
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("spanloom.otel needs OpenTelemetry: pip install 'spanloom[otel]'") from e

from . import _logger, _span

__all__ = [
    "AISpanProcessor",
    "BraintrustSpanProcessor",
    "FILTER_PREFIXES",
    "SpanloomSpanProcessor",
    "enable_otel_interop",
]

FILTER_PREFIXES = ("gen_ai.", "braintrust.", "llm.", "ai.", "traceloop.")
# Routing attributes: they say where a span goes, not that it is an AI span.
_SYSTEM_ATTRIBUTES = frozenset({"braintrust.parent", "braintrust.org", "braintrust.app_url"})
DEFAULT_PARENT = "project_name:default-otel-project"


class _NativeSpan(NonRecordingSpan):
    """A spanloom span as seen from OpenTelemetry: a non-recording span with its ids."""

    def __init__(self, span: Any, context: SpanContext):
        super().__init__(context)
        self.spanloom_span = span


def _context_of(span: Any) -> Optional[SpanContext]:
    try:
        trace_id, span_id = int(span.root_span_id, 16), int(span.span_id, 16)
    except (TypeError, ValueError):
        return None  # legacy UUID ids: not representable in OTel
    if len(span.root_span_id) != 32 or len(span.span_id) != 16 or not trace_id or not span_id:
        return None
    return SpanContext(trace_id=trace_id, span_id=span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def _parent_of_object(obj: Any) -> Optional[str]:
    """The `braintrust.parent` value of a spanloom logger or experiment, without network I/O
    (an experiment not registered yet has none)."""
    if getattr(obj, "_is_experiment", False):
        value = getattr(getattr(obj, "_lazy", None), "_value", None)
        try:
            return f"experiment_id:{value[1].id}" if value else None
        except (AttributeError, IndexError, TypeError):
            return None
    project_id = getattr(obj, "_project_id", None)
    if project_id:
        return f"project_id:{project_id}"
    name = getattr(obj, "_project", None)
    return f"project_name:{name}" if name else None


class _Bridge:
    """What `spanloom._span` calls when OTel interop is on (see the module docs)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loggers: dict = {}
        self.default_parent: Optional[str] = None

    def attach(self, span: Any) -> Any:
        ctx = _context_of(span)
        if ctx is None:
            return None
        return otel_context.attach(trace.set_span_in_context(_NativeSpan(span, ctx)))

    def detach(self, token: Any) -> None:
        otel_context.detach(token)

    def parent_for_new_span(self, current: Any) -> Optional[tuple]:
        """`(trace_id, parent_span_id, target)` when the innermost parent of a new spanloom
        span is an OTel span, else None (the spanloom current span is the parent)."""
        otel_span = trace.get_current_span()
        ctx = otel_span.get_span_context()
        if not ctx.is_valid or isinstance(otel_span, _NativeSpan):
            return None
        span_hex = format(ctx.span_id, "016x")
        if current is not None and current.span_id == span_hex:
            return None
        attributes = getattr(otel_span, "attributes", None) or {}
        parent = attributes.get("braintrust.parent") or self.default_parent
        return format(ctx.trace_id, "032x"), span_hex, self._target(parent)

    def _target(self, parent: Any) -> Any:
        """The spanloom logger a `braintrust.parent` value names (project logs only)."""
        if not isinstance(parent, str) or ":" not in parent:
            return None
        kind, value = parent.split(":", 1)
        if kind not in ("project_id", "project_name") or not value:
            return None
        current = _logger.current_logger()
        if current is not None and (current._project_id == value if kind == "project_id" else current._project == value):
            return current
        with self.lock:
            logger = self.loggers.get(parent)
            if logger is None:
                logger = _logger.Logger(value if kind == "project_name" else None, value if kind == "project_id" else None, {})
                self.loggers[parent] = logger
            return logger


_BRIDGE = _Bridge()


def enable_otel_interop(default_parent: Optional[str] = None) -> None:
    """Mirrors spanloom spans into the OTel context (and OTel spans into spanloom parents) so
    both kinds share traces. `SpanloomSpanProcessor` calls it; call it yourself when OTel
    spans are exported some other way."""
    if default_parent:
        _BRIDGE.default_parent = default_parent
    _span._bridge = _BRIDGE


def _is_ai_span(span: ReadableSpan) -> bool:
    if span.name.startswith(FILTER_PREFIXES):
        return True
    return any(key.startswith(FILTER_PREFIXES) and key not in _SYSTEM_ATTRIBUTES for key in (span.attributes or {}))


class AISpanProcessor(SpanProcessor):
    """Forwards to `processor` only AI spans and the roots of their traces (see the module
    docs)."""

    _MAX_TRACKED = 10000
    _MAX_HELD = 256

    def __init__(self, processor: SpanProcessor, custom_filter: Optional[Callable[[Any], Optional[bool]]] = None):
        """`custom_filter(span)`: True keeps, False drops, None lets the prefix rule decide."""
        self._processor = processor
        self._custom_filter = custom_filter
        self._lock = threading.Lock()
        # Traces with a kept AI span whose root has not ended yet, and roots that ended
        # before any AI span of their trace did (forwarded if one comes).
        self._ai_traces: OrderedDict = OrderedDict()
        self._held_roots: OrderedDict = OrderedDict()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Forwards span starts."""
        self._processor.on_start(span, parent_context)

    @staticmethod
    def _bounded_put(table: OrderedDict, key: Any, value: Any, limit: int) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > limit:
            table.popitem(last=False)

    def _decide(self, span: ReadableSpan) -> list:
        """The spans to forward now for a span that ended (it, a held root, or nothing)."""
        decision = None
        if self._custom_filter is not None:
            try:
                decision = self._custom_filter(span)
            except Exception:  # noqa: BLE001 - a broken filter must not break the app
                decision = None
        trace_id = span.context.trace_id if span.context is not None else None
        is_root = span.parent is None or span.parent.is_remote
        with self._lock:
            if decision is False:
                return []
            if decision is True or _is_ai_span(span):
                if is_root:
                    self._ai_traces.pop(trace_id, None)
                    return [span]
                held = self._held_roots.pop(trace_id, None)
                if held is None:
                    self._bounded_put(self._ai_traces, trace_id, True, self._MAX_TRACKED)
                return [held, span] if held is not None else [span]
            if is_root:
                if self._ai_traces.pop(trace_id, None):
                    return [span]
                self._bounded_put(self._held_roots, trace_id, span, self._MAX_HELD)
            return []

    def on_end(self, span: ReadableSpan) -> None:
        """Forwards the span if it is kept (with its trace's root if that was held back)."""
        for kept in self._decide(span):
            self._processor.on_end(kept)

    def shutdown(self) -> None:
        """Shuts the wrapped processor down."""
        self._processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flushes the wrapped processor."""
        return self._processor.force_flush(timeout_millis)


def _api_url(api_url: Optional[str]) -> str:
    return (api_url or _logger._env("API_URL") or _logger._state.api_url or _logger._env("APP_URL") or "http://127.0.0.1:4318").rstrip("/")


class SpanloomSpanProcessor(SpanProcessor):
    """Exports OTel spans to a Spanloom server (OTLP/HTTP, batched), routed by `parent`, in
    the same traces as native spanloom spans. Mirrors `braintrust.otel.BraintrustSpanProcessor`.

    Args:
        api_key: defaults to `SPANLOOM_API_KEY` (or `BRAINTRUST_API_KEY`).
        parent: `project_name:<name>`, `project_id:<id>` or `experiment_id:<id>`; defaults to
            `SPANLOOM_PARENT` / `BRAINTRUST_PARENT`, else the current spanloom logger's
            project, else `project_name:default-otel-project`.
        api_url: the server; spans go to `<api_url>/otel/v1/traces`. Defaults to
            `SPANLOOM_API_URL` / `BRAINTRUST_API_URL`, else the URL spanloom logged in to,
            else `SPANLOOM_APP_URL`, else `http://127.0.0.1:4318`.
        filter_ai_spans: keep only AI spans and roots.
        custom_filter: `span -> True | False | None`, consulted first when filtering.
        headers: extra HTTP headers.
        SpanProcessor: the processor class around the exporter (default `BatchSpanProcessor`).
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        parent: Optional[str] = None,
        api_url: Optional[str] = None,
        filter_ai_spans: bool = False,
        custom_filter: Optional[Callable[[Any], Optional[bool]]] = None,
        headers: Optional[dict] = None,
        SpanProcessor: Optional[type] = None,  # noqa: N803 - the official argument name
        **_: Any,
    ):
        current = _logger.current_logger()
        self.parent = parent or _logger._env("PARENT") or (_parent_of_object(current) if current is not None else None) or DEFAULT_PARENT
        key = (api_key or _logger._env("API_KEY") or "").strip()
        all_headers = {"x-bt-parent": self.parent}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        all_headers.update(headers or {})
        self._exporter = OTLPSpanExporter(endpoint=f"{_api_url(api_url)}/otel/v1/traces", headers=all_headers)
        processor: Any = (SpanProcessor or BatchSpanProcessor)(self._exporter)
        if filter_ai_spans:
            processor = AISpanProcessor(processor, custom_filter=custom_filter)
        self._processor = processor
        enable_otel_interop(self.parent)
        _flush_hooks.add(self)

    @property
    def exporter(self) -> OTLPSpanExporter:
        """The OTLP/HTTP exporter."""
        return self._exporter

    @property
    def processor(self) -> SpanProcessor:
        """The processor chain spans go through."""
        return self._processor

    def _parent_for(self, span: Any, parent_context: Any) -> str:
        """Where `span` goes: its spanloom ancestor's object, else what the context or the OTel
        parent says, else this processor's parent."""
        parent_span = trace.get_current_span(parent_context)
        if isinstance(parent_span, _NativeSpan):
            value = _parent_of_object(parent_span.spanloom_span._logger)
            if value:
                return value
        ctx = parent_context if parent_context is not None else otel_context.get_current()
        value = otel_context.get_value("braintrust.parent", ctx) or baggage.get_baggage("braintrust.parent", context=ctx)
        if value:
            return str(value)
        value = (getattr(parent_span, "attributes", None) or {}).get("braintrust.parent")
        return str(value) if value else self.parent

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Sets `braintrust.parent` on the span (unless it has one), then forwards it."""
        try:
            if not (span.attributes or {}).get("braintrust.parent"):
                span.set_attribute("braintrust.parent", self._parent_for(span, parent_context))
        except Exception:  # noqa: BLE001 - tracing never raises into user code
            pass
        self._processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        """Forwards the finished span (to the filter, then the batch exporter)."""
        try:
            self._processor.on_end(span)
        except Exception:  # noqa: BLE001
            pass

    def shutdown(self) -> None:
        """Exports what is left and stops."""
        _flush_hooks.discard(self)
        self._processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Exports everything finished so far."""
        return self._processor.force_flush(timeout_millis)


# The official SDK's name, so `from spanloom.otel import BraintrustSpanProcessor` works.
BraintrustSpanProcessor = SpanloomSpanProcessor

# Processors that `spanloom.flush()` flushes too.
_flush_hooks: weakref.WeakSet = weakref.WeakSet()


def _flush_processors() -> None:
    for processor in list(_flush_hooks):
        try:
            processor.force_flush()
        except Exception:  # noqa: BLE001
            pass


_logger._flush_hooks.append(_flush_processors)

if (_logger._env("OTEL_COMPAT") or "").lower() in _logger._TRUE:
    enable_otel_interop(_logger._env("PARENT"))
