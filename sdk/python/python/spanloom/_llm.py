"""What the LLM client wrappers (`_openai`, `_anthropic`, `_auto`) share.

A traced provider call is an `LLMCall`: an LLM span started with the request (input and
metadata), finished once with the output and metrics, or with the provider's error. Streams are
traced in place: the library's own stream object is returned, with its internal iterator
replaced by one that feeds each chunk to an aggregator and finishes the span when the stream
ends, is closed, or is dropped.

Tracing never raises into user code: every step of it runs under `guard`, which logs a failure
to the `spanloom` logger and carries on. The provider's own exceptions are recorded on the span
and re-raised unchanged. Without a logger (and outside any span) the wrappers call straight
through.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import inspect
import logging
import mimetypes
import re
import time
import weakref
from typing import Any, Callable, Optional

from . import _logger, _span

log = logging.getLogger("spanloom")

#: Set on every wrapper function, so nothing is wrapped twice.
WRAPPED = "__spanloom_wrapped__"

# True while a wrapped call runs: a provider SDK called by another wrapped library (litellm
# calling openai) is not traced a second time.
_inside = contextvars.ContextVar("spanloom_inside_llm_call", default=False)


def active() -> bool:
    """Whether a call made now would be traced: inside a span, or with a current logger (or
    experiment), and not nested in another traced call."""
    try:
        if _inside.get():
            return False
        if _span._current.get() is not None:
            return True
        default_target = getattr(_span, "_default_target", None)
        if default_target is not None:
            return default_target() is not None
        return _logger.current_logger() is not None
    except Exception as e:  # noqa: BLE001 - tracing never raises into user code
        log.warning("spanloom: could not trace a call: %s: %s", type(e).__name__, e)
        return False


def is_wrapped(fn: Any) -> bool:
    """Whether `fn` (a function or a bound method) is one of our wrappers."""
    return bool(getattr(fn, WRAPPED, False))


def mark(fn: Callable) -> Callable:
    """Marks a wrapper function as ours."""
    setattr(fn, WRAPPED, True)
    return fn


def wrap_copies(client: Any, wrap: Callable[[Any], Any]) -> None:
    """Makes the copies of a wrapped client (`copy()`, `with_options(...)`) come back wrapped
    by `wrap` too."""
    for name in ("copy", "with_options"):
        original = getattr(client, name, None)
        if callable(original) and not is_wrapped(original):
            setattr(client, name, mark(_wrapping_copies(original, wrap)))


def _wrapping_copies(original: Callable, wrap: Callable[[Any], Any]) -> Callable:
    def copy(*args: Any, **kwargs: Any) -> Any:
        return wrap(original(*args, **kwargs))

    return copy


def guard(what: str, fn: Callable, *args: Any) -> Any:
    """Runs one tracing step; a failure is logged and swallowed (returns None)."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - tracing never raises into user code
        log.warning("spanloom: could not trace %s: %s: %s", what, type(e).__name__, e)
        return None


class Nested:
    """Context manager marking the provider call in progress (see `_inside`)."""

    def __enter__(self) -> None:
        self._token = _inside.set(True)

    def __exit__(self, *exc: Any) -> None:
        _inside.reset(self._token)


def given(value: Any) -> bool:
    """False for the openai/anthropic `NOT_GIVEN` / `omit` sentinels and None."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


def dump(obj: Any) -> Any:
    """A JSON-ready copy: pydantic models as the fields the wire had, containers recursed."""
    if hasattr(obj, "model_dump"):
        try:
            return obj.model_dump(mode="json", exclude_unset=True)
        except TypeError:
            return obj.model_dump()
    if isinstance(obj, dict):
        return {k: dump(v) for k, v in obj.items() if v is None or given(v)}
    if isinstance(obj, (list, tuple)):
        return [dump(v) for v in obj]
    return obj


def materialize(kwargs: dict, key: str) -> Any:
    """`kwargs[key]` as a list when it is a one-shot iterable (a generator of messages), put
    back into `kwargs` so the provider call still gets every item."""
    value = kwargs.get(key)
    if value is None or isinstance(value, (str, bytes, dict, list, tuple)) or not hasattr(value, "__iter__"):
        return value
    value = list(value)
    kwargs[key] = value
    return value


_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)(?:;[\w.+-]+=[^;,]*)*;base64,", re.ASCII)


def _attachment(content_type: str, b64: str, name: str) -> Any:
    """An `Attachment` of base64 bytes, or None when they do not decode."""
    from ._attachment import Attachment

    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    ext = mimetypes.guess_extension(content_type) or ".bin"
    return Attachment(data=data, filename=f"{name}{ext}", content_type=content_type)


def attach_media(value: Any) -> Any:
    """A copy of dumped messages with inline base64 media turned into `Attachment`s, so the bytes
    are uploaded beside the row rather than stored in it (as the braintrust wrappers do): data
    URLs (OpenAI `image_url`, `file_data`, Responses `input_image`), OpenAI `input_audio` data
    and Anthropic `base64` image/document sources."""
    if isinstance(value, str):
        match = _DATA_URL.match(value)
        if match is None:
            return value
        content_type = match.group(1)
        kind = content_type.split("/")[0]
        att = _attachment(content_type, value[match.end() :], kind if kind in ("image", "audio", "video") else "file")
        return value if att is None else att
    if isinstance(value, list):
        return [attach_media(v) for v in value]
    if not isinstance(value, dict):
        return value
    source = value.get("source")
    if value.get("type") in ("image", "document") and isinstance(source, dict) and source.get("type") == "base64" and isinstance(source.get("data"), str):
        att = _attachment(source.get("media_type") or "application/octet-stream", source["data"], value["type"])
        if att is not None:
            return {**{k: attach_media(v) for k, v in value.items() if k != "source"}, "source": {**source, "data": att}}
    audio = value.get("input_audio")
    if value.get("type") == "input_audio" and isinstance(audio, dict) and isinstance(audio.get("data"), str):
        att = _attachment(f"audio/{audio.get('format') or 'wav'}", audio["data"], "audio")
        if att is not None:
            return {**value, "input_audio": {**audio, "data": att}}
    return {k: attach_media(v) for k, v in value.items()}


def pick(kwargs: dict, names: tuple) -> dict:
    """The request parameters among `names` that were given, JSON-ready."""
    return {k: dump(kwargs[k]) for k in names if given(kwargs.get(k))}


def raw_mode(kwargs: dict) -> Optional[str]:
    """The `X-Stainless-Raw-Response` header value `with_raw_response` /
    `with_streaming_response` add to a call ("true"/"raw", or "stream")."""
    headers = kwargs.get("extra_headers")
    if isinstance(headers, dict):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == "x-stainless-raw-response":
                return str(value)
    return None


def is_raw_response(result: Any) -> bool:
    """A `LegacyAPIResponse` / `APIResponse` (from `with_raw_response`), not the parsed object."""
    return hasattr(result, "parse") and hasattr(result, "http_response") and not hasattr(result, "model_dump")


def cached_header_metric(raw: Any) -> dict:
    """`metrics.cached` from the proxy cache headers `x-bt-cached` / `x-cached`, if present."""
    headers = getattr(raw, "headers", None)
    if headers is None:
        return {}
    value = headers.get("x-bt-cached") or headers.get("x-cached")
    if value is None:
        return {}
    return {"cached": 1 if value.lower() in ("true", "hit") else 0}


def is_stream(result: Any) -> bool:
    """A stream of chunks/events (not a parsed model, which iterates its fields)."""
    return not hasattr(result, "model_dump") and (hasattr(result, "__iter__") or hasattr(result, "__aiter__")) and not isinstance(result, (dict, list, str))


class LLMCall:
    """One traced provider call: its span, when it started, when the first chunk came."""

    def __init__(self, name: str, input: Any, metadata: dict) -> None:
        self.span: Any = _span.start_span(name=name, type="llm", input=input, metadata=metadata)
        self.started = time.time()
        self.first: Optional[float] = None
        self.extra_metrics: dict = {}
        self._done = False

    def first_chunk(self) -> None:
        """Notes the arrival of the first streamed chunk (time to first token)."""
        if self.first is None:
            self.first = time.time()

    def finish(self, output: Any = None, metrics: Optional[dict] = None, metadata: Optional[dict] = None) -> None:
        """Logs the result and ends the span (once; later calls do nothing)."""
        if self._done:
            return
        self._done = True
        metrics = {**(metrics or {}), **self.extra_metrics}
        metrics["time_to_first_token"] = (self.first or time.time()) - self.started
        self.span.log(output=output, metrics=metrics, metadata=metadata or None)
        self.span.end()

    def fail(self, exc: BaseException) -> None:
        """Records the provider's exception on the span and ends it."""
        if self._done:
            return
        self._done = True
        self.span.log(error=_span.error_text(exc))
        self.span.end()


class Aggregator:
    """Collects a stream's chunks into the span's output; subclasses per wire format."""

    # Set once `finish` has run (the stream's end, its close and its response's close may
    # each call it).
    _finishing = False

    def __init__(self, call: LLMCall) -> None:
        self.call = call

    def absorb(self, chunk: Any) -> None:
        """Takes one chunk (called for every chunk the user receives)."""
        raise NotImplementedError

    def result(self) -> tuple:
        """(output, metrics, metadata) of what was received so far."""
        raise NotImplementedError

    def carries_output(self, chunk: Any) -> bool:
        """Whether `chunk` counts for the time to first token (by default every chunk does)."""
        return True

    def feed(self, chunk: Any) -> None:
        """`absorb`, under `guard`, noting the first chunk that carries output."""
        if self.call.first is None and guard("a stream chunk", self.carries_output, chunk):
            self.call.first_chunk()
        guard("a stream chunk", self.absorb, chunk)

    def finish(self) -> None:
        """Finishes the call with the aggregated result (under `guard`); once, even when the
        stream's end, its `close()` and its response's close all arrive, or tracing failed."""

        def done() -> None:
            output, metrics, metadata = self.result()
            self.call.finish(output, metrics, metadata)

        if not self.call._done and not self._finishing:
            self._finishing = True
            guard("a stream's end", done)


def _sync_iter(inner: Any, agg: Aggregator) -> Any:
    try:
        for item in inner:
            agg.feed(item)
            yield item
    except Exception as e:
        guard("a stream's error", agg.call.fail, e)
        raise
    finally:
        agg.finish()
        close = getattr(inner, "close", None)
        if close is not None:
            close()


async def _async_iter(inner: Any, agg: Aggregator) -> Any:
    try:
        async for item in inner:
            agg.feed(item)
            yield item
    except Exception as e:
        guard("a stream's error", agg.call.fail, e)
        raise
    finally:
        agg.finish()
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()


def hook_stream(stream: Any, agg: Aggregator, is_async: bool) -> Any:
    """Traces an openai/anthropic `Stream`/`AsyncStream` in place and returns the same object:
    its `_iterator` (which `__iter__`/`__next__` read) is replaced by one that feeds `agg`, and
    `close()` finishes the span first. Other stream types get a thin proxy."""
    try:
        inner = stream._iterator
    except AttributeError:
        return _ProxyStream(stream, agg, is_async)
    stream._iterator = _async_iter(inner, agg) if is_async else _sync_iter(inner, agg)
    cls_close = getattr(type(stream), "close", None)
    if cls_close is not None:
        ref = weakref.ref(stream)  # no cycle through the instance's own __dict__
        if inspect.iscoroutinefunction(cls_close):

            async def aclose_first() -> None:
                agg.finish()
                s = ref()
                if s is not None:
                    await cls_close(s)

            stream.close = aclose_first
        else:

            def close_first() -> None:
                agg.finish()
                s = ref()
                if s is not None:
                    cls_close(s)

            stream.close = close_first
    _finish_on_response_close(stream, agg)
    return stream


def _finish_on_response_close(stream: Any, agg: Aggregator) -> None:
    """Also finishes the span when the stream's HTTP response is closed directly: openai's
    `chat.completions.stream()` helper closes the response, not the stream, when its `with`
    block is left before the end (the span ended only at garbage collection before)."""
    response = getattr(stream, "response", None)
    if response is None:
        return
    ref = weakref.ref(response)  # no cycle through the response's own __dict__
    for name in ("close", "aclose"):
        cls_method = getattr(type(response), name, None)
        if cls_method is None:
            continue
        if inspect.iscoroutinefunction(cls_method):

            async def aclose_finishing(method: Any = cls_method) -> None:
                agg.finish()
                r = ref()
                if r is not None:
                    await method(r)

            setattr(response, name, aclose_finishing)
        else:

            def close_finishing(method: Any = cls_method) -> None:
                agg.finish()
                r = ref()
                if r is not None:
                    method(r)

            setattr(response, name, close_finishing)


class _ProxyStream:
    """For stream objects without an `_iterator`: iterates through `agg`, forwards the rest."""

    def __init__(self, stream: Any, agg: Aggregator, is_async: bool) -> None:
        self._stream = stream
        self._iter = _async_iter(stream, agg) if is_async else _sync_iter(stream, agg)

    def __iter__(self) -> Any:
        return self._iter

    def __next__(self) -> Any:
        return next(self._iter)

    def __aiter__(self) -> Any:
        return self._iter

    async def __anext__(self) -> Any:
        return await self._iter.__anext__()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._iter.close()
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._iter.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def wrap_call(fn: Callable, what: str, start: Callable[[dict], LLMCall], respond: Callable[[LLMCall, Any], Any], is_async: bool) -> Callable:
    """Wraps a provider method (`create`): `start(kwargs)` opens the call before the request,
    `respond(call, parsed)` logs a result or hooks a stream and returns what the user
    gets. `with_raw_response` results are parsed (the library caches the parse, so the user
    gets the same object) and returned raw; `with_streaming_response` calls pass through."""

    def begin(kwargs: dict) -> Optional[LLMCall]:
        if not active() or raw_mode(kwargs) == "stream":
            return None
        return guard(what, start, kwargs)

    def end(call: LLMCall, result: Any, parsed: Any) -> Any:
        if result is parsed:
            out = guard(what, respond, call, parsed)
            return result if out is None else out
        guard(what, lambda: call.extra_metrics.update(cached_header_metric(result)))
        guard(what, respond, call, parsed)
        return result

    if is_async:

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            call = begin(kwargs)
            if call is None:
                return await fn(*args, **kwargs)
            try:
                with Nested():
                    result = await fn(*args, **kwargs)
            except BaseException as e:
                guard(what, call.fail, e)
                raise
            parsed = result
            if is_raw_response(result):
                try:
                    parsed = result.parse()
                    if inspect.isawaitable(parsed):
                        parsed = await parsed
                except Exception as e:  # noqa: BLE001 - the user's own parse() will raise it again
                    guard(what, call.fail, e)
                    return result
            return end(call, result, parsed)

        async_wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        async_wrapper.__doc__ = fn.__doc__
        return mark(async_wrapper)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = begin(kwargs)
        if call is None:
            return fn(*args, **kwargs)
        try:
            with Nested():
                result = fn(*args, **kwargs)
        except BaseException as e:
            guard(what, call.fail, e)
            raise
        parsed = result
        if is_raw_response(result):
            try:
                parsed = result.parse()
            except Exception as e:  # noqa: BLE001
                guard(what, call.fail, e)
                return result
        return end(call, result, parsed)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    wrapper.__doc__ = fn.__doc__
    return mark(wrapper)
