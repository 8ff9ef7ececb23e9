"""LlamaIndex tracing through its instrumentation module.

    from spanloom.llama_index import instrument_llama_index

    instrument_llama_index()
    index.as_query_engine().query("...")   # one span tree per call

`instrument_llama_index()` adds a span handler and an event handler to LlamaIndex's root
dispatcher. Every dispatcher span (a call of a public LlamaIndex method: a query engine's
`query`, a retriever's `retrieve`, a synthesizer, an LLM's `chat`/`complete`, an embedding
model's `get_*_embedding*`, a tool's `call`, ...) becomes a Spanloom span named
`Class.method`, nested like the calls are, with the arguments as `input` and the result as
`output`; an exception records its traceback as `error`. Private helpers (`_query`,
`_retrieve`, ...) and a text splitter's inner splitting calls are folded into their caller.

The events fill in what the call arguments do not show: an LLM call is an `llm` span with the
messages (or prompt) as `input`, the assistant message as `output`, the model, provider and
request parameters in `metadata`, and the provider's token usage (plus `time_to_first_token`
when streaming) in `metrics`; a streamed call's span ends when its stream does. Retrievals
log the nodes (text, score, id, metadata), embeddings the model and the vector count.

Spans started with no LlamaIndex parent nest under the current Spanloom span (so `@traced`
code calling a query engine gets one tree), and code LlamaIndex runs inside a span (a tool's
function, for instance) sees that span as the current one. Requires `llama-index-core`
(imported by this module, never by `spanloom` itself).
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from typing import Any, Callable, Optional

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.span import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from pydantic import PrivateAttr

from ._integration import CurrentSpans, open_span, openai_usage_metrics, start_logging_if_idle, to_json
from ._span import error_text

__all__ = [
    "BraintrustSpanHandler",
    "SpanloomEventHandler",
    "SpanloomSpanHandler",
    "instrument_llama_index",
    "setup_llamaindex",
    "uninstrument_llama_index",
]

_LLM_METHODS = {
    "chat",
    "achat",
    "stream_chat",
    "astream_chat",
    "complete",
    "acomplete",
    "stream_complete",
    "astream_complete",
}
# A node parser's own entry points; its other spans (splitting each text) fold into these.
_PARSER_METHODS = {"__call__", "acall", "get_nodes_from_documents", "aget_nodes_from_documents"}
_LLM_PARAMS = ("temperature", "max_tokens", "top_p")


def _is_secret(key: str) -> bool:
    key = key.lower()
    return "key" in key or "header" in key or "token" in key and "max" not in key


def _class_names(instance: Any) -> set:
    return {c.__name__ for c in type(instance).__mro__} if instance is not None else set()


def _provider(instance: Any) -> Optional[str]:
    """`openai` for `llama_index.llms.openai.*` (and embeddings), else None."""
    module = type(instance).__module__ or ""
    for prefix in ("llama_index.llms.", "llama_index.embeddings."):
        if module.startswith(prefix):
            return module[len(prefix) :].split(".", 1)[0] or None
    return None


def _span_name(id_: str) -> str:
    """`OpenAI.chat` from the dispatcher's span id `OpenAI.chat-<uuid4>`."""
    return id_[:-37] if len(id_) > 37 and id_[-37] == "-" else id_


def _is_skipped(name: str, classes: set) -> bool:
    method = name.rsplit(".", 1)[-1]
    if method.startswith("_") and not (method.startswith("__") and method.endswith("__")):
        return True
    return bool(classes & {"NodeParser", "TextSplitter"}) and method not in _PARSER_METHODS


def _span_type(name: str, classes: set) -> str:
    method = name.rsplit(".", 1)[-1]
    if "BaseLLM" in classes:
        return "llm" if method in _LLM_METHODS else "function"
    if "BaseEmbedding" in classes and "embedding" in method:
        return "llm"
    if "BaseTool" in classes or "AsyncBaseTool" in classes:
        return "tool"
    if classes & {"BaseQueryEngine", "BaseChatEngine", "BaseAgent", "BaseWorkflowAgent", "AgentRunner", "Workflow"}:
        return "task"
    return "function"


# ---- LlamaIndex objects as JSON ----


def _message(message: Any) -> dict:
    """A ChatMessage in the OpenAI chat format."""
    role = getattr(message, "role", "user")
    out: dict = {"role": getattr(role, "value", role), "content": message.content}
    extra = getattr(message, "additional_kwargs", None) or {}
    tool_calls = extra.get("tool_calls")
    if tool_calls:
        out["tool_calls"] = to_json(tool_calls)
    else:
        calls = [b for b in getattr(message, "blocks", None) or [] if type(b).__name__ == "ToolCallBlock"]
        if calls:
            out["tool_calls"] = [
                {
                    "id": b.tool_call_id,
                    "type": "function",
                    "function": {"name": b.tool_name, "arguments": b.tool_kwargs if isinstance(b.tool_kwargs, str) else json.dumps(to_json(b.tool_kwargs))},
                }
                for b in calls
            ]
    for key in ("tool_call_id", "name"):
        if extra.get(key):
            out[key] = extra[key]
    return out


def _node(node: Any) -> dict:
    out: dict = {"id": getattr(node, "node_id", None)}
    try:
        out["text"] = node.get_content()
    except Exception:  # noqa: BLE001
        out["text"] = getattr(node, "text", None)
    if getattr(node, "metadata", None):
        out["metadata"] = to_json(node.metadata)
    return out


def _convert(value: Any) -> Any:
    """LlamaIndex objects to JSON-friendly values (NotImplemented for anything else)."""
    classes = _class_names(value)
    if "ChatMessage" in classes:
        return _message(value)
    if "ChatResponse" in classes:
        return _message(value.message)
    if "CompletionResponse" in classes:
        return value.text
    if "NodeWithScore" in classes:
        return {**_node(value.node), "score": value.score}
    if "BaseNode" in classes:
        return _node(value)
    if "QueryBundle" in classes:
        return value.query_str
    if "BasePromptTemplate" in classes:
        try:
            return value.get_template()
        except Exception:  # noqa: BLE001
            return NotImplemented
    if hasattr(value, "response_gen") or hasattr(value, "async_response_gen") or inspect.isgenerator(value) or inspect.isasyncgen(value):
        return None  # a stream: reading it here would consume the caller's data
    if hasattr(value, "source_nodes") and hasattr(value, "response"):
        return value.response
    if "ToolOutput" in classes:
        return value.raw_output if isinstance(value.raw_output, (str, int, float, bool, dict, list)) else value.content
    if "BaseIndex" in classes or "VectorStore" in classes or "BaseLLM" in classes or "BaseEmbedding" in classes:
        return type(value).__name__
    return NotImplemented


def _json(value: Any) -> Any:
    return to_json(value, _convert)


def _bound_input(bound_args: inspect.BoundArguments) -> Any:
    args = {k: v for k, v in bound_args.arguments.items() if k not in ("self", "cls") and v is not None and not (k == "kwargs" and not v)}
    if len(args) == 1:
        return _json(next(iter(args.values())))
    return _json(args) if args else None


def _instance_metadata(instance: Any, classes: set) -> dict:
    meta: dict = {}
    if "BaseLLM" in classes:
        model = getattr(instance, "model", None) or getattr(getattr(instance, "metadata", None), "model_name", None)
        if model:
            meta["model"] = model
        for key in _LLM_PARAMS:
            value = getattr(instance, key, None)
            if value is not None:
                meta[key] = value
        # Request parameters the LLM sends with every call (OpenAI's `additional_kwargs`).
        extra = getattr(instance, "additional_kwargs", None)
        if isinstance(extra, dict):
            meta.update({k: _json(v) for k, v in extra.items() if v is not None and not _is_secret(k)})
    elif "BaseEmbedding" in classes:
        model = getattr(instance, "model_name", None)
        if model:
            meta["model"] = model
    else:
        return meta
    provider = _provider(instance)
    if provider:
        meta["provider"] = provider
    return meta


def _response_metrics(response: Any) -> dict:
    """Token usage of a ChatResponse/CompletionResponse: the raw provider response's `usage`,
    else the token counts LlamaIndex copies into `additional_kwargs`."""
    if response is None:
        return {}
    raw = getattr(response, "raw", None)
    usage = raw.get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)
    metrics = openai_usage_metrics(usage)
    if not metrics:
        metrics = openai_usage_metrics(getattr(response, "additional_kwargs", None))
    return metrics


def _response_model(response: Any) -> Optional[str]:
    raw = getattr(response, "raw", None)
    model = raw.get("model") if isinstance(raw, dict) else getattr(raw, "model", None)
    return model if isinstance(model, str) and model else None


class _Record:
    __slots__ = ("span", "bound_args", "started", "from_events", "first_token", "last_response", "stream_pending", "ended")

    def __init__(self, span: Any, bound_args: Optional[inspect.BoundArguments] = None):
        self.span = span
        self.bound_args = bound_args  # an LLM call's arguments, logged only if no event does
        self.started = time.time()
        self.from_events = False  # an LLM event gave this span its input/output
        self.first_token: Optional[float] = None
        self.last_response: Any = None
        self.stream_pending = False  # the call returned a stream; end with the stream
        self.ended = False


class SpanloomSpanHandler(BaseSpanHandler[SimpleSpan]):
    """A LlamaIndex span handler that logs each dispatcher span as a Spanloom span. Use
    `instrument_llama_index()`, which also adds the `SpanloomEventHandler` that completes LLM,
    embedding and retrieval spans from LlamaIndex's events."""

    _records: dict = PrivateAttr(default_factory=dict)
    # Folded spans: span id -> parent span id, so their children attach to the traced ancestor.
    _folded: dict = PrivateAttr(default_factory=dict)
    _state_lock: Any = PrivateAttr(default_factory=threading.Lock)
    _parent: Any = PrivateAttr(default=None)
    _current: Any = PrivateAttr(default_factory=CurrentSpans)

    def __init__(self, logger: Any = None, **kwargs: Any):
        """`logger`: where spans with no parent go when no Spanloom span is current (a `Logger`
        or `Span`); by default the current experiment or logger."""
        super().__init__(**kwargs)
        self._parent = logger

    @classmethod
    def class_name(cls) -> str:
        """The handler's name in LlamaIndex."""
        return "SpanloomSpanHandler"

    def record(self, span_id: Optional[str]) -> Optional[_Record]:
        """The open Spanloom span for a dispatcher span id (or its nearest traced ancestor)."""
        with self._state_lock:
            while span_id is not None:
                rec = self._records.get(span_id)
                if rec is not None:
                    return rec
                if span_id not in self._folded:
                    return None
                span_id = self._folded[span_id]
        return None

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Optional[Any] = None,
        parent_span_id: Optional[str] = None,
        tags: Optional[dict] = None,
        **kwargs: Any,
    ) -> Optional[SimpleSpan]:
        """A dispatcher span started: start its Spanloom span (or fold it into its parent)."""
        try:
            name = _span_name(id_)
            classes = _class_names(instance)
            if _is_skipped(name, classes):
                with self._state_lock:
                    self._folded[id_] = parent_span_id
                return None
            parent_rec = self.record(parent_span_id)
            # No LlamaIndex parent: under the span the caller is in (skipping this handler's
            # own, which are current only where a call of theirs runs).
            parent = parent_rec.span if parent_rec is not None else (self._current.outer() or self._parent)
            span_type = _span_type(name, classes)
            # An LLM call's messages come with its start event, in the chat format.
            event = {"input": None if span_type == "llm" and "BaseLLM" in classes else _bound_input(bound_args)}
            event["metadata"] = _instance_metadata(instance, classes) or None
            if tags:
                event["metadata"] = {**(event["metadata"] or {}), "tags": _json(tags)}
            span = open_span(parent, name, span_type, event)
            self._current.enter(span)
            rec = _Record(span, bound_args if event["input"] is None else None)
            with self._state_lock:
                self._records[id_] = rec
            return SimpleSpan(id_=id_, parent_id=parent_span_id)
        except Exception:  # noqa: BLE001 - tracing never breaks the application
            return None

    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Optional[Any] = None,
        result: Optional[Any] = None,
        **kwargs: Any,
    ) -> Optional[SimpleSpan]:
        """The call returned: log the result and end the span (a stream's span ends later)."""

        def log_result(rec: _Record) -> bool:
            streaming = inspect.isgenerator(result) or inspect.isasyncgen(result)
            if streaming and rec.from_events:
                rec.stream_pending = True  # the LLM end event ends it
                return False
            if not rec.from_events:
                output = _json(result)
                if rec.bound_args is not None:
                    rec.span.log(input=_bound_input(rec.bound_args))
                if output is not None:
                    rec.span.log(output=output)
            return True

        return self._leave_span(id_, log_result)

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Optional[Any] = None,
        err: Optional[BaseException] = None,
        **kwargs: Any,
    ) -> Optional[SimpleSpan]:
        """The call raised: log the traceback and end the span."""

        def log_error(rec: _Record) -> bool:
            if err is not None:
                rec.span.log(error=error_text(err))
            return True

        return self._leave_span(id_, log_error)

    def _leave_span(self, id_: str, log_outcome: Callable[[_Record], bool]) -> Optional[SimpleSpan]:
        """The dispatcher span `id_` is exiting: its Spanloom span stops being current,
        `log_outcome(record)` logs how the call ended and says whether the span ends now."""
        with self._state_lock:
            self._folded.pop(id_, None)
            rec = self._records.get(id_)
        if rec is None:
            return None
        try:
            self._current.exit(rec.span)
            if log_outcome(rec):
                self.finish(id_)
        except Exception:  # noqa: BLE001 - tracing never breaks the application
            pass
        return self.open_spans.get(id_)

    def finish(self, id_: str) -> None:
        """Ends the Spanloom span of a dispatcher span id (once)."""
        with self._state_lock:
            rec = self._records.pop(id_, None)
        if rec is not None and not rec.ended:
            rec.ended = True
            rec.span.end()

    def close(self) -> None:
        """Ends the spans still open (streams never read to the end), at dispatcher shutdown."""
        with self._state_lock:
            ids = list(self._records)
        for id_ in ids:
            self.finish(id_)


class SpanloomEventHandler(BaseEventHandler):
    """Completes the spans of a `SpanloomSpanHandler` from LlamaIndex's events: LLM messages,
    responses, parameters and token usage; streaming time to first token; embedding models."""

    span_handler: SpanloomSpanHandler

    @classmethod
    def class_name(cls) -> str:
        """The handler's name in LlamaIndex."""
        return "SpanloomEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        """Applies one event to the span it happened in."""
        try:
            self._handle(event)
        except Exception:  # noqa: BLE001 - tracing never breaks the application
            pass

    def _handle(self, event: Any) -> None:
        kind = type(event).__name__
        rec = self.span_handler.record(event.span_id)
        if rec is None:
            return
        span = rec.span
        if kind in ("LLMChatStartEvent", "LLMCompletionStartEvent"):
            rec.from_events = True
            model = event.model_dict or {}
            # The LLM's metadata (`to_payload()`), then the call's own request parameters.
            meta = {"model": model["model_name"]} if model.get("model_name") else {}
            meta.update({k: _json(v) for k, v in (event.additional_kwargs or {}).items() if v is not None and not _is_secret(k)})
            prompt = [_message(m) for m in event.messages] if kind == "LLMChatStartEvent" else event.prompt
            span.log(input=prompt, metadata=meta or None)
        elif kind in ("LLMChatInProgressEvent", "LLMCompletionInProgressEvent"):
            if rec.first_token is None:
                rec.first_token = time.time()
            rec.last_response = event.response
        elif kind in ("LLMChatEndEvent", "LLMCompletionEndEvent"):
            response = event.response
            metrics = _response_metrics(response) or _response_metrics(rec.last_response)
            if rec.first_token is not None:
                metrics["time_to_first_token"] = rec.first_token - rec.started
            meta: dict = {}
            model = _response_model(response)
            if model:
                meta["model"] = model
            if rec.first_token is not None:
                meta["stream"] = True
            if response is not None:
                output = _message(response.message) if kind == "LLMChatEndEvent" else response.text
                span.log(output=output, metrics=metrics or None, metadata=meta or None)
            if rec.stream_pending:
                self.span_handler.finish(event.span_id)
        elif kind == "ExceptionEvent" and rec.stream_pending:
            # A stream failed, or its reader stopped early (GeneratorExit): end the span there.
            error = event.exception
            if isinstance(error, GeneratorExit):
                partial = rec.last_response
                span.log(output=_message(partial.message) if hasattr(partial, "message") else None, metadata={"stream_closed_early": True})
            else:
                span.log(error=error_text(error))
            self.span_handler.finish(event.span_id)
        elif kind == "EmbeddingStartEvent":
            model = event.model_dict or {}
            meta = {"model": model.get("model_name")} if model.get("model_name") else {}
            if model.get("embed_batch_size"):
                meta["embed_batch_size"] = model["embed_batch_size"]
            if meta:
                span.log(metadata=meta)
        elif kind == "EmbeddingEndEvent":
            rec.from_events = True
            embeddings = event.embeddings or []
            span.log(output={"embeddings": len(embeddings), "dimensions": len(embeddings[0]) if embeddings else 0})


#: The name the Braintrust SDK gives its handler (`braintrust.integrations.llamaindex`).
BraintrustSpanHandler = SpanloomSpanHandler

_install_lock = threading.Lock()


def instrument_llama_index(logger: Any = None) -> SpanloomSpanHandler:
    """Traces LlamaIndex: adds a `SpanloomSpanHandler` and its `SpanloomEventHandler` to the
    root dispatcher (once; later calls return the installed handler). `logger`: where spans
    with no parent go when no Spanloom span is current (default: the current logger)."""
    with _install_lock:
        dispatcher = get_dispatcher()
        for handler in dispatcher.span_handlers:
            if isinstance(handler, SpanloomSpanHandler):
                return handler
        handler = SpanloomSpanHandler(logger=logger)
        dispatcher.add_span_handler(handler)
        dispatcher.add_event_handler(SpanloomEventHandler(span_handler=handler))
        return handler


def uninstrument_llama_index() -> None:
    """Removes what `instrument_llama_index` added (spans still open are ended)."""
    with _install_lock:
        dispatcher = get_dispatcher()
        for handler in dispatcher.span_handlers:
            if isinstance(handler, SpanloomSpanHandler):
                handler.close()
        dispatcher.span_handlers = [h for h in dispatcher.span_handlers if not isinstance(h, SpanloomSpanHandler)]
        dispatcher.event_handlers = [h for h in dispatcher.event_handlers if not isinstance(h, SpanloomEventHandler)]


def setup_llamaindex(api_key: Optional[str] = None, project_id: Optional[str] = None, project_name: Optional[str] = None) -> bool:
    """Braintrust-compatible setup: starts a logger if nothing is logging yet, then
    instruments LlamaIndex. Returns True."""
    start_logging_if_idle(api_key, project_id, project_name)
    instrument_llama_index()
    return True
