"""LangChain and LangGraph tracing: a callback handler that turns every run into a span.

    from spanloom.langchain import SpanloomCallbackHandler, set_global_handler

    handler = SpanloomCallbackHandler()
    chain.invoke({"q": "hi"}, config={"callbacks": [handler]})
    # or, for every run in this context (and the asyncio tasks started from it):
    set_global_handler(handler)

Mapping: chains, runnables and LangGraph graphs/nodes are `task` spans (a node span is named
after its node and nested under its graph); chat models and LLMs are `llm` spans with the
messages as `input`, the assistant message as `output`, the model, provider and invocation
parameters in `metadata` and token usage (plus `time_to_first_token` when streaming) in
`metrics`; tools are `tool` spans; retrievers are `function` spans with the documents as
`output`; a failed run records the exception's traceback as `error`. A run started while a
Spanloom span is current (inside `@traced` code) nests under that span, and the code a chain,
tool or retriever runs sees its span as the current one.

The handler is a synchronous `BaseCallbackHandler` with `run_inline = True`, which LangChain
also calls for async runs (`ainvoke`, `astream`), in the event loop, in order. Requires
`langchain-core` (imported by this module, never by `spanloom` itself).
"""

from __future__ import annotations

import json
import threading
import time
from contextvars import ContextVar
from typing import Any, Optional
from uuid import UUID

from langchain_core.callbacks.base import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, ToolMessage, convert_to_openai_messages
from langchain_core.outputs import LLMResult
from langchain_core.prompt_values import PromptValue
from langchain_core.tracers.context import register_configure_hook

from ._integration import CurrentSpans, open_span, openai_usage_metrics, start_logging_if_idle, to_json
from ._span import error_text

__all__ = [
    "BraintrustCallbackHandler",
    "SpanloomCallbackHandler",
    "clear_global_handler",
    "get_global_handler",
    "set_global_handler",
    "setup_langchain",
]

# Runs LangChain marks as internal plumbing (LangGraph's channel writers, for instance); their
# children attach to the nearest traced ancestor.
_HIDDEN_TAG = "langsmith:hidden"
# Invocation parameters that are not request parameters.
_SKIP_PARAMS = {"_type", "model_name", "stream_usage"}


def _convert(value: Any) -> Any:
    """LangChain objects to JSON-friendly values (NotImplemented for anything else)."""
    if isinstance(value, BaseMessage):
        return _message(value)
    if isinstance(value, Document):
        return _document(value)
    if isinstance(value, PromptValue):
        return [_message(m) for m in value.to_messages()]
    if isinstance(value, LLMResult):
        return _llm_output(value)
    return NotImplemented


def _json(value: Any) -> Any:
    return to_json(value, _convert)


def _message(message: BaseMessage) -> dict:
    """A message in the OpenAI chat format ({"role", "content", "tool_calls"?, ...})."""
    try:
        converted = convert_to_openai_messages(message)
        if isinstance(converted, dict):
            return to_json(converted)
    except Exception:  # noqa: BLE001 - unusual message types fall back to their fields
        pass
    return {"role": message.type, "content": to_json(message.content)}


def _document(doc: Document) -> dict:
    out: dict = {"page_content": doc.page_content, "metadata": to_json(doc.metadata)}
    if doc.id:
        out["id"] = doc.id
    return out


def _generations(response: LLMResult) -> list:
    return [g for batch in response.generations or [] for g in batch or []]


def _llm_output(response: LLMResult) -> Any:
    """The assistant message (chat models) or text (LLMs); a list when there are several."""
    outputs = []
    for generation in _generations(response):
        message = getattr(generation, "message", None)
        if isinstance(message, BaseMessage):
            outputs.append(_message(message))
        else:
            outputs.append(generation.text)
    return outputs[0] if len(outputs) == 1 else outputs


def _usage(response: LLMResult) -> dict:
    """Token metrics of an LLM result: the messages' `usage_metadata`, else the provider's
    `llm_output["token_usage"]`."""
    metrics: dict = {}
    for generation in _generations(response):
        usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
        if not usage:
            continue
        for ours, theirs in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens"), ("tokens", "total_tokens")):
            if usage.get(theirs) is not None:
                metrics[ours] = metrics.get(ours, 0) + usage[theirs]
        cached = (usage.get("input_token_details") or {}).get("cache_read")
        if cached is not None:
            metrics["prompt_cached_tokens"] = metrics.get("prompt_cached_tokens", 0) + cached
        created = (usage.get("input_token_details") or {}).get("cache_creation")
        if created is not None:
            metrics["prompt_cache_creation_tokens"] = metrics.get("prompt_cache_creation_tokens", 0) + created
        reasoning = (usage.get("output_token_details") or {}).get("reasoning")
        if reasoning is not None:
            metrics["completion_reasoning_tokens"] = metrics.get("completion_reasoning_tokens", 0) + reasoning
    if not metrics:
        metrics = openai_usage_metrics((response.llm_output or {}).get("token_usage"))
    return metrics


def _response_metadata(response: LLMResult) -> dict:
    """The model the provider says answered, and the finish reason."""
    out: dict = {}
    for generation in _generations(response):
        meta = getattr(getattr(generation, "message", None), "response_metadata", None) or {}
        info = generation.generation_info or {}
        model = meta.get("model_name") or meta.get("model") or info.get("model_name")
        if model and "model" not in out:
            out["model"] = model
        finish = meta.get("finish_reason") or meta.get("stop_reason") or info.get("finish_reason")
        if finish and "finish_reason" not in out:
            out["finish_reason"] = finish
    if "model" not in out:
        llm_output = response.llm_output or {}
        model = llm_output.get("model_name") or llm_output.get("model")
        if model:
            out["model"] = model
    return out


def _run_name(name: Optional[str], serialized: Optional[dict], default: str) -> str:
    if name:
        return name
    serialized = serialized or {}
    if serialized.get("name"):
        return str(serialized["name"])
    ids = serialized.get("id") or []
    return str(ids[-1]) if ids else default


def _run_metadata(metadata: Optional[dict], tags: Optional[list]) -> dict:
    """LangChain's run metadata (minus the `ls_*` keys the LLM fields already carry) and tags."""
    out = {k: _json(v) for k, v in (metadata or {}).items() if not k.startswith("ls_") and k != "lc_versions"}
    if tags:
        out["tags"] = list(tags)
    return out


def _parse_tool_input(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


class _Run:
    __slots__ = ("span", "current", "started", "first_token", "streamed")

    def __init__(self, span: Any, current: bool):
        self.span = span
        self.current = current  # made the current span (model calls run no user code: not)
        self.started = time.time()
        self.first_token: Optional[float] = None
        self.streamed = False


class SpanloomCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that logs each run (chain, LangGraph node, chat model, LLM,
    tool, retriever) as a Spanloom span, nested like the runs are.

    Args:
        logger: where root runs go when no Spanloom span is current: a `Logger` (from
            `init_logger`) or a `Span`. By default the current experiment or logger.
        debug: print to stderr why a span could not be logged (tracing errors are otherwise
            swallowed: they never break the run).
    """

    # Called in the event loop for async runs too, in the caller's context, in order.
    run_inline = True

    def __init__(self, logger: Any = None, debug: bool = False):
        super().__init__()
        self.logger = logger
        self.debug = debug
        self._runs: dict[UUID, _Run] = {}
        # Hidden runs: run id -> parent run id, so their children attach to the traced ancestor.
        self._hidden: dict[UUID, Optional[UUID]] = {}
        self._lock = threading.Lock()
        self._current = CurrentSpans()

    # ---- span bookkeeping ----

    def _parent_span(self, parent_run_id: Optional[UUID]) -> Any:
        with self._lock:
            while parent_run_id is not None:
                run = self._runs.get(parent_run_id)
                if run is not None:
                    return run.span
                if parent_run_id not in self._hidden:
                    break
                parent_run_id = self._hidden[parent_run_id]
        # A run LangChain gives no parent: under the span the caller is in (a run of this
        # handler's being current there means callbacks interleaved, as in a batch: skip it).
        current = self._current.outer()
        if current is not None:
            return current
        return self.logger

    def _start(
        self,
        run_id: UUID,
        parent_run_id: Optional[UUID],
        name: str,
        type: str,
        event: dict,
        set_current: bool = True,
    ) -> None:
        try:
            span = open_span(self._parent_span(parent_run_id), name, type, event)
            if set_current:
                self._current.enter(span)
            with self._lock:
                self._runs[run_id] = _Run(span, set_current)
        except Exception as e:  # noqa: BLE001 - tracing never breaks the chain
            self._warn("start", e)

    def _end(self, run_id: UUID, **event: Any) -> None:
        with self._lock:
            self._hidden.pop(run_id, None)
            run = self._runs.pop(run_id, None)
        if run is None:
            return
        try:
            event = {k: v for k, v in event.items() if v is not None}
            if event:
                run.span.log(**event)
            if run.current:
                self._current.exit(run.span)
            run.span.end()
        except Exception as e:  # noqa: BLE001
            self._warn("end", e)

    def _error(self, error: BaseException, run_id: UUID, response: Any = None) -> None:
        if isinstance(error, GeneratorExit):
            # The caller stopped reading a stream: not a failure. Keep what was generated.
            generated = _generations(response)[:1] if isinstance(response, LLMResult) else []
            message = getattr(generated[0], "message", None) if generated else None
            output = _message(message) if isinstance(message, BaseMessage) else None
            self._end(run_id, output=output, metadata={"stream_closed_early": True})
            return
        self._end(run_id, error=error_text(error))

    def _warn(self, what: str, e: Exception) -> None:
        if self.debug:
            import sys

            print(f"spanloom.langchain: could not {what} a span: {e}", file=sys.stderr)

    # ---- chains, runnables, LangGraph ----

    def on_chain_start(
        self,
        serialized: Optional[dict],
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: Optional[UUID] = None,
        tags: Optional[list] = None,
        metadata: Optional[dict] = None,
        name: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """A chain, runnable, LangGraph graph or LangGraph node started: a `task` span."""
        if tags and _HIDDEN_TAG in tags:
            with self._lock:
                self._hidden[run_id] = parent_run_id
            return
        node = (metadata or {}).get("langgraph_node")
        span_name = _run_name(name or node, serialized, "Chain")
        self._start(run_id, parent_run_id, span_name, "task", {"input": _json(inputs), "metadata": _run_metadata(metadata, tags) or None})

    def on_chain_end(self, outputs: Any, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The chain finished: its outputs become the span's `output`."""
        self._end(run_id, output=_json(outputs))

    def on_chain_error(self, error: BaseException, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The chain failed: the traceback becomes the span's `error`."""
        self._error(error, run_id)

    # ---- chat models and LLMs ----

    def _llm_metadata(self, metadata: Optional[dict], tags: Optional[list], invocation_params: Optional[dict]) -> dict:
        run_meta = metadata or {}
        params = {k: _json(v) for k, v in (invocation_params or {}).items() if v is not None and k not in _SKIP_PARAMS}
        out = _run_metadata(metadata, tags)
        out.update(params)
        model = params.get("model") or (invocation_params or {}).get("model_name") or run_meta.get("ls_model_name")
        if model:
            out["model"] = model
        provider = run_meta.get("ls_provider")
        if provider:
            out["provider"] = provider
        for key in ("temperature", "max_tokens"):
            if key not in out and run_meta.get(f"ls_{key}") is not None:
                out[key] = run_meta[f"ls_{key}"]
        return out

    def _start_llm(
        self,
        run_id: UUID,
        parent_run_id: Optional[UUID],
        name: str,
        span_input: Any,
        metadata: Optional[dict],
        tags: Optional[list],
        invocation_params: Optional[dict],
    ) -> None:
        """Starts the `llm` span of a chat model or LLM call (not made current: a model call
        runs no user code)."""
        meta = self._llm_metadata(metadata, tags, invocation_params)
        self._start(run_id, parent_run_id, name, "llm", {"input": span_input, "metadata": meta}, set_current=False)

    def on_chat_model_start(
        self,
        serialized: Optional[dict],
        messages: list,
        *,
        run_id: UUID,
        parent_run_id: Optional[UUID] = None,
        tags: Optional[list] = None,
        metadata: Optional[dict] = None,
        name: Optional[str] = None,
        invocation_params: Optional[dict] = None,
        **kwargs: Any,
    ) -> None:
        """A chat model call started: an `llm` span with the messages as input."""
        batches = [[_message(m) for m in batch] for batch in messages or []]
        span_input = batches[0] if len(batches) == 1 else batches
        self._start_llm(run_id, parent_run_id, _run_name(name, serialized, "Chat Model"), span_input, metadata, tags, invocation_params)

    def on_llm_start(
        self,
        serialized: Optional[dict],
        prompts: list,
        *,
        run_id: UUID,
        parent_run_id: Optional[UUID] = None,
        tags: Optional[list] = None,
        metadata: Optional[dict] = None,
        name: Optional[str] = None,
        invocation_params: Optional[dict] = None,
        **kwargs: Any,
    ) -> None:
        """A (completion) LLM call started: an `llm` span with the prompt(s) as input."""
        span_input = prompts[0] if len(prompts or []) == 1 else list(prompts or [])
        self._start_llm(run_id, parent_run_id, _run_name(name, serialized, "LLM"), span_input, metadata, tags, invocation_params)

    def on_llm_new_token(self, token: str, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """A streamed token: the first one sets `time_to_first_token`."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                run.streamed = True
                if run.first_token is None:
                    run.first_token = time.time()

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The model answered: the assistant message as output, tokens as metrics."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            return
        try:
            metrics = _usage(response)
            if run.first_token is not None:
                metrics["time_to_first_token"] = run.first_token - run.started
            meta = _response_metadata(response)
            if run.streamed:
                meta["stream"] = True
            output = _llm_output(response)
        except Exception as e:  # noqa: BLE001
            self._warn("read the result of", e)
            metrics, meta, output = {}, {}, None
        self._end(run_id, output=output, metrics=metrics or None, metadata=meta or None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The model call failed (or its stream was closed early)."""
        self._error(error, run_id, kwargs.get("response"))

    # ---- tools ----

    def on_tool_start(
        self,
        serialized: Optional[dict],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: Optional[UUID] = None,
        tags: Optional[list] = None,
        metadata: Optional[dict] = None,
        inputs: Optional[dict] = None,
        name: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """A tool started: a `tool` span with the tool's arguments as input."""
        meta = _run_metadata(metadata, tags)
        if kwargs.get("tool_call_id"):
            meta["tool_call_id"] = kwargs["tool_call_id"]
        span_input = _json(inputs) if inputs is not None else _parse_tool_input(input_str)
        self._start(run_id, parent_run_id, _run_name(name, serialized, "Tool"), "tool", {"input": span_input, "metadata": meta or None})

    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The tool returned (a `ToolMessage`'s content is logged as the output)."""
        if isinstance(output, ToolMessage):
            output = output.content
        self._end(run_id, output=_json(output))

    def on_tool_error(self, error: BaseException, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The tool raised."""
        self._error(error, run_id)

    # ---- retrievers ----

    def on_retriever_start(
        self,
        serialized: Optional[dict],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: Optional[UUID] = None,
        tags: Optional[list] = None,
        metadata: Optional[dict] = None,
        name: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """A retriever started: a `function` span with the query as input."""
        self._start(
            run_id, parent_run_id, _run_name(name, serialized, "Retriever"), "function", {"input": query, "metadata": _run_metadata(metadata, tags) or None}
        )

    def on_retriever_end(self, documents: Any, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The retriever returned: the documents are the output."""
        self._end(run_id, output=_json(list(documents or [])))

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        """The retriever raised."""
        self._error(error, run_id)


#: The name the Braintrust SDK gives its handler (`braintrust.integrations.langchain`).
BraintrustCallbackHandler = SpanloomCallbackHandler

_global_handler: ContextVar[Optional[SpanloomCallbackHandler]] = ContextVar("spanloom_langchain_handler", default=None)
# LangChain adds the handler in this context variable to every run's callbacks (inherited by
# child runs), the way it adds its own LangSmith tracer.
register_configure_hook(_global_handler, inheritable=True)


def set_global_handler(handler: Optional[SpanloomCallbackHandler] = None) -> SpanloomCallbackHandler:
    """Traces every LangChain run started in this context with `handler` (a new
    `SpanloomCallbackHandler` by default); returns it. The handler lives in a context variable:
    asyncio tasks and LangChain's own worker threads inherit it, a plain new thread does not."""
    handler = handler if handler is not None else SpanloomCallbackHandler()
    _global_handler.set(handler)
    return handler


def get_global_handler() -> Optional[SpanloomCallbackHandler]:
    """The handler `set_global_handler` installed in this context, or None."""
    return _global_handler.get()


def clear_global_handler() -> None:
    """Stops tracing runs that were traced only because of `set_global_handler`."""
    _global_handler.set(None)


def setup_langchain(api_key: Optional[str] = None, project_id: Optional[str] = None, project_name: Optional[str] = None) -> bool:
    """Braintrust-compatible setup: starts a logger if nothing is logging yet, then installs a
    global handler. Returns True."""
    start_logging_if_idle(api_key, project_id, project_name)
    if get_global_handler() is None:
        set_global_handler()
    return True
