"""`wrap_openai`: every chat completion (streaming included) and embedding call of an OpenAI
client becomes an LLM span: messages as input, the assistant message as output, model and
request parameters as metadata, tokens and time to first token as metrics."""

from __future__ import annotations

import time
from typing import Any

from ._span import start_span

# Request parameters kept as metadata (the messages themselves are the input).
_PARAMS = (
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "tools",
    "tool_choice",
    "response_format",
    "stream",
    "stream_options",
    "frequency_penalty",
    "presence_penalty",
)


def _dump(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(exclude_none=True)
    return obj


def _usage_metrics(usage: Any) -> dict:
    usage = _dump(usage) or {}
    m = {}
    for ours, theirs in (("prompt_tokens", "prompt_tokens"), ("completion_tokens", "completion_tokens"), ("tokens", "total_tokens")):
        if usage.get(theirs) is not None:
            m[ours] = usage[theirs]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is not None:
        m["prompt_cached_tokens"] = cached
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning is not None:
        m["completion_reasoning_tokens"] = reasoning
    return m


class _StreamWrapper:
    """Passes chunks through and aggregates them; the span ends when the stream is consumed."""

    def __init__(self, stream: Any, span: Any, started: float):
        self._stream = stream
        self._span = span
        self._started = started
        self._first = None
        self._content: list[str] = []
        self._role = "assistant"
        self._finish = None
        self._tool_calls: dict[int, dict] = {}
        self._usage = None

    def __iter__(self):
        try:
            for chunk in self._stream:
                self._absorb(chunk)
                yield chunk
        except BaseException as e:
            self._span.log(error=f"{type(e).__name__}: {e}")
            raise
        finally:
            self._finish_span()

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        close = getattr(self._stream, "close", None)
        if close:
            close()

    def _absorb(self, chunk: Any) -> None:
        if self._first is None:
            self._first = time.time()
        if getattr(chunk, "usage", None):
            self._usage = chunk.usage
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            if getattr(delta, "role", None):
                self._role = delta.role
            if getattr(delta, "content", None):
                self._content.append(delta.content)
            for call in getattr(delta, "tool_calls", None) or []:
                slot = self._tool_calls.setdefault(call.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                if call.id:
                    slot["id"] = call.id
                if call.function is not None:
                    slot["function"]["name"] += call.function.name or ""
                    slot["function"]["arguments"] += call.function.arguments or ""
            if choice.finish_reason:
                self._finish = choice.finish_reason

    def _finish_span(self) -> None:
        message: dict = {"role": self._role, "content": "".join(self._content) if self._content else None}
        if self._tool_calls:
            message["tool_calls"] = [self._tool_calls[i] for i in sorted(self._tool_calls)]
        metrics = _usage_metrics(self._usage) if self._usage is not None else {}
        if self._first is not None:
            metrics["time_to_first_token"] = self._first - self._started
        self._span.log(output=[{"index": 0, "message": message, "finish_reason": self._finish}], metrics=metrics)
        self._span.end()


def _wrap_create(create: Any, name: str) -> Any:
    def traced_create(*args: Any, **kwargs: Any) -> Any:
        metadata = {k: kwargs[k] for k in _PARAMS if k in kwargs}
        metadata["provider"] = "openai"
        span = start_span(name=name, type="llm", input=kwargs.get("messages", kwargs.get("input")), metadata=metadata)
        started = time.time()
        try:
            result = create(*args, **kwargs)
        except BaseException as e:
            span.log(error=f"{type(e).__name__}: {e}")
            span.end()
            raise
        if kwargs.get("stream"):
            return _StreamWrapper(result, span, started)
        data = _dump(result) or {}
        output = data.get("choices", data.get("data"))
        if isinstance(output, list) and name == "Embedding":
            output = {"embeddings": len(output)}
        span.log(
            output=output,
            metadata={"model": data.get("model", metadata.get("model"))},
            metrics={**_usage_metrics(data.get("usage")), "time_to_first_token": time.time() - started},
        )
        span.end()
        return result

    return traced_create


def wrap_openai(client: Any) -> Any:
    """Traces `client.chat.completions.create` (streaming too) and `client.embeddings.create`
    of an `openai.OpenAI` client; returns the same client."""
    try:
        completions = client.chat.completions
        completions.create = _wrap_create(completions.create, "Chat Completion")
        client.embeddings.create = _wrap_create(client.embeddings.create, "Embedding")
    except AttributeError:
        pass
    return client
