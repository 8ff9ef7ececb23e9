"""`wrap_openai`: the calls of an `openai.OpenAI` / `openai.AsyncOpenAI` client become LLM spans.

Traced: `chat.completions.create` and `.parse` (span "Chat Completion"; also under
`client.beta`), `responses.create`
and `.parse` ("openai.responses.create"), `embeddings.create` ("Embedding"),
`moderations.create` ("Moderation": the input, and the results as output), the image and
audio calls (see `_openai_media`: "Image Generation", "Speech", "Transcription", ...), streaming
included (`stream=True`, and the `chat.completions.stream()` / `responses.stream()` helpers,
which call `create`). The span's input is the messages (or the Responses/embeddings `input`),
its metadata the model, `provider: "openai"` and the allow-listed request parameters, its
output the choices (Responses: the output items), its metrics the token counts and
`time_to_first_token`. A stream is aggregated into one output: content and tool-call deltas
are joined per choice, the usage chunk (`stream_options={"include_usage": True}`) gives the
token metrics.

Return values are the library's own objects (a stream is the library's `Stream`, traced in
place). `with_raw_response` calls are traced too (and `metrics.cached` is read from the
`x-bt-cached` header); `with_streaming_response` calls, whose body belongs to the caller, pass
through untraced. Everything else on the client is untouched.
"""

from __future__ import annotations

from typing import Any, Callable

from . import _llm, _openai_media

_CHAT_PARAMS = (
    "model",
    "temperature",
    "top_p",
    "top_logprobs",
    "logprobs",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "response_format",
    "seed",
    "modalities",
    "audio",
    "reasoning_effort",
    "service_tier",
    "store",
    "prediction",
    "web_search_options",
    "verbosity",
)

_RESPONSES_PARAMS = (
    "model",
    "instructions",
    "temperature",
    "top_p",
    "max_output_tokens",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "include",
    "truncation",
    "background",
    "service_tier",
    "store",
    "previous_response_id",
    "conversation",
)

_EMBEDDING_PARAMS = ("model", "dimensions", "encoding_format")

_MODERATION_PARAMS = ("model",)

# OpenAI usage names → span metric names; `<x>_tokens_details.<y>` becomes `<prefix>_<y>`.
_TOKEN_NAMES = {
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "tokens",
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
}
_DETAIL_PREFIXES = {
    "prompt_tokens_details": "prompt",
    "input_tokens_details": "prompt",
    "completion_tokens_details": "completion",
    "output_tokens_details": "completion",
}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def usage_metrics(usage: Any) -> dict:
    """Span metrics from an OpenAI `usage` (chat, Responses or embeddings shape)."""
    usage = _llm.dump(usage)
    if not isinstance(usage, dict):
        return {}
    metrics: dict = {}
    for key, value in usage.items():
        if key in _TOKEN_NAMES and _number(value):
            metrics[_TOKEN_NAMES[key]] = value
        elif key in _DETAIL_PREFIXES and isinstance(value, dict):
            for detail, count in value.items():
                if _number(count):
                    metrics[f"{_DETAIL_PREFIXES[key]}_{detail}"] = count
    if "tokens" not in metrics and "prompt_tokens" in metrics and "completion_tokens" in metrics:
        metrics["tokens"] = metrics["prompt_tokens"] + metrics["completion_tokens"]
    return metrics


# ---- chat completions ----


def _start_chat(kwargs: dict) -> _llm.LLMCall:
    messages = _llm.materialize(kwargs, "messages")
    return _llm.LLMCall("Chat Completion", _llm.attach_media(_llm.dump(messages)), {**_llm.pick(kwargs, _CHAT_PARAMS), "provider": "openai"})


class _ChatAggregator(_llm.Aggregator):
    """Joins `chat.completion.chunk`s: content, refusal and tool-call deltas per choice."""

    def __init__(self, call: _llm.LLMCall) -> None:
        super().__init__(call)
        self.choices: dict = {}
        self.usage: Any = None
        self.model: Any = None

    def absorb(self, chunk: Any) -> None:
        """Adds one chunk's deltas."""
        if getattr(chunk, "usage", None):
            self.usage = chunk.usage
        self.model = getattr(chunk, "model", None) or self.model
        for choice in getattr(chunk, "choices", None) or []:
            slot = self.choices.setdefault(choice.index, {"role": "assistant", "content": [], "refusal": [], "tool_calls": {}, "finish_reason": None})
            delta = choice.delta
            if delta is not None:
                if getattr(delta, "role", None):
                    slot["role"] = delta.role
                if getattr(delta, "content", None):
                    slot["content"].append(delta.content)
                if getattr(delta, "refusal", None):
                    slot["refusal"].append(delta.refusal)
                for call in getattr(delta, "tool_calls", None) or []:
                    tool = slot["tool_calls"].setdefault(call.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                    if call.id:
                        tool["id"] = call.id
                    if getattr(call, "type", None):
                        tool["type"] = call.type
                    if call.function is not None:
                        tool["function"]["name"] += call.function.name or ""
                        tool["function"]["arguments"] += call.function.arguments or ""
            if choice.finish_reason:
                slot["finish_reason"] = choice.finish_reason

    def result(self) -> tuple:
        """The aggregated choices, the usage metrics and the model."""
        output = []
        for index in sorted(self.choices):
            slot = self.choices[index]
            message: dict = {"role": slot["role"], "content": "".join(slot["content"]) if slot["content"] else None}
            if slot["refusal"]:
                message["refusal"] = "".join(slot["refusal"])
            if slot["tool_calls"]:
                message["tool_calls"] = [slot["tool_calls"][i] for i in sorted(slot["tool_calls"])]
            output.append({"index": index, "message": message, "logprobs": None, "finish_reason": slot["finish_reason"]})
        return output, usage_metrics(self.usage), {"model": self.model} if self.model else None


def _chat_respond(is_async: bool) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        if _llm.is_stream(result):
            return _llm.hook_stream(result, _ChatAggregator(call), is_async)
        data = _llm.dump(result)
        call.finish(data.get("choices"), usage_metrics(data.get("usage")), {"model": data["model"]} if data.get("model") else None)
        return result

    return respond


# ---- Responses API ----


def _start_responses(kwargs: dict) -> _llm.LLMCall:
    inp = _llm.materialize(kwargs, "input")
    return _llm.LLMCall("openai.responses.create", _llm.attach_media(_llm.dump(inp)), {**_llm.pick(kwargs, _RESPONSES_PARAMS), "provider": "openai"})


def _response_metadata(response: dict) -> dict:
    return {k: response[k] for k in ("id", "model", "status") if response.get(k) is not None}


class _ResponsesAggregator(_llm.Aggregator):
    """Builds the output items from Responses stream events; the terminal event
    (`response.completed` / `.incomplete` / `.failed`) carries the whole response."""

    def __init__(self, call: _llm.LLMCall) -> None:
        super().__init__(call)
        self.items: dict = {}
        self.final: Any = None

    def carries_output(self, event: Any) -> bool:
        """Output deltas (text, tool arguments, reasoning) count for the time to first token."""
        return str(getattr(event, "type", "")).endswith(".delta")

    def absorb(self, event: Any) -> None:
        """Adds one event."""
        kind = getattr(event, "type", "")
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = _llm.dump(event.response)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self.items[event.output_index] = _llm.dump(event.item)
        elif kind == "response.output_text.delta":
            item = self.items.setdefault(event.output_index, {"type": "message", "role": "assistant", "content": []})
            content = item.setdefault("content", [])
            while len(content) <= event.content_index:
                content.append({"type": "output_text", "text": ""})
            part = content[event.content_index]
            part["text"] = (part.get("text") or "") + (event.delta or "")
        elif kind == "response.function_call_arguments.delta":
            item = self.items.setdefault(event.output_index, {"type": "function_call", "arguments": ""})
            item["arguments"] = (item.get("arguments") or "") + (event.delta or "")

    def result(self) -> tuple:
        """The output items, the usage metrics and the response's id/model/status."""
        if self.final is not None:
            return self.final.get("output"), usage_metrics(self.final.get("usage")), _response_metadata(self.final)
        return [self.items[i] for i in sorted(self.items)], {}, None


def _responses_respond(is_async: bool) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        if _llm.is_stream(result):
            return _llm.hook_stream(result, _ResponsesAggregator(call), is_async)
        data = _llm.dump(result)
        call.finish(data.get("output"), usage_metrics(data.get("usage")), _response_metadata(data))
        return result

    return respond


# ---- embeddings ----


def _start_embeddings(kwargs: dict) -> _llm.LLMCall:
    inp = _llm.materialize(kwargs, "input")
    return _llm.LLMCall("Embedding", _llm.dump(inp), {**_llm.pick(kwargs, _EMBEDDING_PARAMS), "provider": "openai"})


def _embeddings_respond(is_async: bool) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        data = getattr(result, "data", None) or []
        first = getattr(data[0], "embedding", None) if data else None
        output = {"embeddings": len(data), "embedding_length": len(first) if isinstance(first, (list, str)) else None}
        call.finish(output, usage_metrics(getattr(result, "usage", None)), None)
        return result

    return respond


def _start_moderation(kwargs: dict) -> _llm.LLMCall:
    inp = _llm.materialize(kwargs, "input")
    return _llm.LLMCall("Moderation", _llm.dump(inp), {**_llm.pick(kwargs, _MODERATION_PARAMS), "provider": "openai"})


def _moderation_respond(is_async: bool) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        call.finish(_llm.dump(getattr(result, "results", None)), {}, None)
        return result

    return respond


# ---- wrapping ----

# (resource path on the client, method, span starter, responder factory)
TARGETS = (
    ("chat.completions", "create", _start_chat, _chat_respond),
    ("chat.completions", "parse", _start_chat, _chat_respond),
    # The same methods under `client.beta` (older code calls `beta.chat.completions.parse`).
    ("beta.chat.completions", "create", _start_chat, _chat_respond),
    ("beta.chat.completions", "parse", _start_chat, _chat_respond),
    ("responses", "create", _start_responses, _responses_respond),
    ("responses", "parse", _start_responses, _responses_respond),
    ("embeddings", "create", _start_embeddings, _embeddings_respond),
    ("moderations", "create", _start_moderation, _moderation_respond),
) + _openai_media.TARGETS


def traced_method(fn: Callable, start: Callable, respond_for: Callable, is_async: bool) -> Callable:
    """`fn` (a bound method, or the function on the class) wrapped with tracing."""
    return _llm.wrap_call(fn, f"openai {getattr(fn, '__qualname__', 'call')}", start, respond_for(is_async), is_async)


def _resolve(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _wrap_instance(client: Any) -> None:
    for path, method, start, respond_for in TARGETS:
        try:
            resource = _resolve(client, path)
        except AttributeError:
            continue
        fn = getattr(resource, method, None)
        if fn is None or _llm.is_wrapped(fn):
            continue
        is_async = type(resource).__name__.startswith("Async")
        setattr(resource, method, traced_method(fn, start, respond_for, is_async))
        # `with_raw_response` captures the methods when first built: rebuild it over ours.
        vars(resource).pop("with_raw_response", None)
    # Copies (`with_options(...)`, `copy()`) are traced too.
    _llm.wrap_copies(client, wrap_openai)


def wrap_openai(client: Any) -> Any:
    """Traces the chat completions, Responses and embeddings calls of an `openai.OpenAI` or
    `openai.AsyncOpenAI` client (streaming included) and returns the same client.

    Each call becomes an LLM span, a child of the current span, with the messages as input,
    the model and request parameters as metadata, the choices as output and the token counts
    and `time_to_first_token` as metrics. Calling it twice, or on a client of a class
    `auto_instrument()` patched, traces each call once."""
    _llm.guard("an OpenAI client", _wrap_instance, client)
    return client
