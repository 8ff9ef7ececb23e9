"""`wrap_anthropic`: the Messages calls of an `anthropic.Anthropic` / `anthropic.AsyncAnthropic`
client become LLM spans.

Traced: `messages.create` (span "anthropic.messages.create"; with `stream=True`
"anthropic.messages.stream"), `messages.parse` ("anthropic.messages.create") and the
`messages.stream(...)` context manager ("anthropic.messages.stream"), and the same methods under
`client.beta.messages`. The span's input is the messages, with the system prompt
appended as a `{"role": "system", "content": ...}` message (the braintrust convention); its
metadata the model, `provider: "anthropic"` and the request parameters; its output the
assistant message (`role`, `content` blocks, `stop_reason`, ...); its metrics the token counts.
Anthropic reports cache reads and writes apart from `input_tokens`, so `prompt_tokens` is
`input_tokens + cache_read_input_tokens + cache_creation_input_tokens`, with the parts in
`prompt_cached_tokens` and `prompt_cache_creation_tokens`. A stream's events are joined into
one message (text, thinking and tool-use input deltas) and `time_to_first_token` is the time to
the first content delta.

Return values are the library's own objects; `with_raw_response` calls are traced,
`with_streaming_response` calls pass through.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from . import _llm

_PARAMS = (
    "model",
    "max_tokens",
    "temperature",
    "top_k",
    "top_p",
    "stop_sequences",
    "tool_choice",
    "tools",
    "stream",
    "thinking",
    "metadata",
    "service_tier",
    "output_config",
    "speed",
    "cache_control",
    "container",
    "inference_geo",
    "betas",
)

_USAGE = (
    ("input_tokens", "prompt_tokens"),
    ("output_tokens", "completion_tokens"),
    ("cache_read_input_tokens", "prompt_cached_tokens"),
    ("cache_creation_input_tokens", "prompt_cache_creation_tokens"),
)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def usage_metrics(usage: Any) -> dict:
    """Span metrics from an Anthropic `usage`; `prompt_tokens` includes the cached and
    cache-creation tokens, and `tokens` is prompt plus completion."""
    usage = _llm.dump(usage)
    if not isinstance(usage, dict):
        return {}
    metrics = {ours: usage[theirs] for theirs, ours in _USAGE if _number(usage.get(theirs))}
    details = usage.get("cache_creation")
    if isinstance(details, dict):
        for theirs, ours in (
            ("ephemeral_5m_input_tokens", "prompt_cache_creation_5m_tokens"),
            ("ephemeral_1h_input_tokens", "prompt_cache_creation_1h_tokens"),
        ):
            if _number(details.get(theirs)):
                metrics[ours] = details[theirs]
    output_details = usage.get("output_tokens_details")
    if isinstance(output_details, dict) and _number(output_details.get("thinking_tokens")):
        metrics["completion_reasoning_tokens"] = output_details["thinking_tokens"]
    if any(k in metrics for k in ("prompt_tokens", "prompt_cached_tokens", "prompt_cache_creation_tokens")):
        metrics["prompt_tokens"] = metrics.get("prompt_tokens", 0) + metrics.get("prompt_cached_tokens", 0) + metrics.get("prompt_cache_creation_tokens", 0)
        if "completion_tokens" in metrics:
            metrics["tokens"] = metrics["prompt_tokens"] + metrics["completion_tokens"]
    return metrics


def _input(kwargs: dict) -> list:
    messages = list(_llm.dump(_llm.materialize(kwargs, "messages")) or [])
    system = kwargs.get("system")
    if _llm.given(system) and system:
        messages.append({"role": "system", "content": _llm.dump(system)})
    return _llm.attach_media(messages)


def _start(name: str) -> Callable[[dict], _llm.LLMCall]:
    def start(kwargs: dict) -> _llm.LLMCall:
        streamed = name.endswith(".stream") or (_llm.given(kwargs.get("stream")) and bool(kwargs["stream"]))
        span_name = "anthropic.messages.stream" if streamed else name
        return _llm.LLMCall(span_name, _input(kwargs), {**_llm.pick(kwargs, _PARAMS), "provider": "anthropic"})

    return start


def _message_output(message: dict) -> dict:
    keys = ("role", "content", "model", "stop_reason", "stop_sequence")
    return {k: message[k] for k in keys if message.get(k) is not None}


class _MessageAggregator(_llm.Aggregator):
    """Joins the raw Messages stream events (`message_start`, `content_block_*`,
    `message_delta`) into the final message."""

    def __init__(self, call: _llm.LLMCall) -> None:
        super().__init__(call)
        self.message: dict = {"role": "assistant"}
        self.blocks: dict = {}
        self.json: dict = {}
        self.usage: dict = {}

    def carries_output(self, event: Any) -> bool:
        """Content deltas count for the time to first token."""
        return getattr(event, "type", None) == "content_block_delta"

    def absorb(self, event: Any) -> None:
        """Adds one event."""
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = _llm.dump(event.message)
            self.usage.update({k: v for k, v in (message.pop("usage", None) or {}).items() if v is not None})
            message.pop("content", None)
            self.message.update(message)
        elif kind == "content_block_start":
            self.blocks[event.index] = _llm.dump(event.content_block)
        elif kind == "content_block_delta":
            block = self.blocks.setdefault(event.index, {})
            delta = _llm.dump(event.delta)
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = (block.get("text") or "") + delta.get("text", "")
            elif dtype == "input_json_delta":
                self.json[event.index] = self.json.get(event.index, "") + delta.get("partial_json", "")
            elif dtype == "thinking_delta":
                block["thinking"] = (block.get("thinking") or "") + delta.get("thinking", "")
            elif dtype == "signature_delta":
                block["signature"] = delta.get("signature")
            elif dtype == "citations_delta":
                block.setdefault("citations", []).append(delta.get("citation"))
        elif kind == "content_block_stop":
            self._close_json(event.index)
        elif kind == "message_delta":
            self.message.update({k: v for k, v in (_llm.dump(event.delta) or {}).items() if v is not None})
            self.usage.update({k: v for k, v in (_llm.dump(getattr(event, "usage", None)) or {}).items() if v is not None})

    def _close_json(self, index: Any) -> None:
        text = self.json.pop(index, None)
        if text is not None:
            try:
                self.blocks.setdefault(index, {})["input"] = json.loads(text) if text else {}
            except ValueError:
                self.blocks[index]["input"] = text

    def result(self) -> tuple:
        """The message so far, its usage metrics."""
        for index in list(self.json):
            self._close_json(index)
        message = {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}
        return _message_output(message), usage_metrics(self.usage), None


def _respond(is_async: bool) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        if _llm.is_stream(result):
            return _llm.hook_stream(result, _MessageAggregator(call), is_async)
        message = _llm.dump(result)
        call.finish(_message_output(message), usage_metrics(message.get("usage")), None)
        return result

    return respond


def traced_create(fn: Callable, is_async: bool) -> Callable:
    """`messages.create` (bound, or the function on the class) wrapped with tracing."""
    return _llm.wrap_call(fn, "anthropic messages.create", _start("anthropic.messages.create"), _respond(is_async), is_async)


def traced_parse(fn: Callable, is_async: bool) -> Callable:
    """`messages.parse` wrapped with tracing: the same span as `create` (it posts the same
    request and parses the reply into `output_format`)."""
    return _llm.wrap_call(fn, "anthropic messages.parse", _start("anthropic.messages.create"), _respond(is_async), is_async)


def traced_stream(fn: Callable, is_async: bool) -> Callable:
    """`messages.stream` wrapped: the manager it returns is the library's own, with its request
    traced when the `with` block is entered."""

    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = fn(*args, **kwargs)
        if _llm.active():
            _llm.guard("anthropic messages.stream", _trace_manager, manager, dict(kwargs), is_async)
        return manager

    stream.__wrapped__ = fn  # type: ignore[attr-defined]
    stream.__doc__ = fn.__doc__
    return _llm.mark(stream)


def _trace_manager(manager: Any, kwargs: dict, is_async: bool) -> None:
    key = next((k for k in vars(manager) if k.endswith("__api_request")), None)
    if key is None:
        return
    request = vars(manager)[key]
    start = _start("anthropic.messages.stream")
    respond = _respond(is_async)

    def begin() -> Any:
        return _llm.guard("anthropic messages.stream", start, kwargs)

    if is_async:

        async def traced_request() -> Any:
            call = begin()
            if call is None:
                return await request
            try:
                raw = await request
            except BaseException as e:
                _llm.guard("anthropic messages.stream", call.fail, e)
                raise
            _llm.guard("anthropic messages.stream", respond, call, raw)
            return raw

        setattr(manager, key, traced_request())
    else:

        def traced_request_sync() -> Any:
            call = begin()
            if call is None:
                return request()
            try:
                raw = request()
            except BaseException as e:
                _llm.guard("anthropic messages.stream", call.fail, e)
                raise
            _llm.guard("anthropic messages.stream", respond, call, raw)
            return raw

        setattr(manager, key, traced_request_sync)


#: The traced methods of a Messages resource, and how each is wrapped.
TRACED_METHODS = (("create", traced_create), ("parse", traced_parse), ("stream", traced_stream))


def _wrap_messages(messages: Any) -> None:
    is_async = type(messages).__name__.startswith("Async")
    for name, wrap in TRACED_METHODS:
        method = getattr(messages, name, None)
        if method is not None and not _llm.is_wrapped(method):
            setattr(messages, name, wrap(method, is_async))
    # `with_raw_response` is cached with the unwrapped methods bound: built again, it binds ours.
    vars(messages).pop("with_raw_response", None)


def _wrap_instance(client: Any) -> None:
    _wrap_messages(client.messages)
    beta_messages = getattr(getattr(client, "beta", None), "messages", None)
    if beta_messages is not None:
        _wrap_messages(beta_messages)
    _llm.wrap_copies(client, wrap_anthropic)


def wrap_anthropic(client: Any) -> Any:
    """Traces `messages.create` (streaming too), `messages.parse` and `messages.stream(...)`
    of an `anthropic.Anthropic` or `anthropic.AsyncAnthropic` client, and the same methods under
    `client.beta.messages`, and returns the same client.

    Each call becomes an LLM span, a child of the current span: the messages (and the system
    prompt) as input, the assistant message as output, the model and parameters as metadata,
    the cache-aware token counts and `time_to_first_token` as metrics."""
    _llm.guard("an Anthropic client", _wrap_instance, client)
    return client
