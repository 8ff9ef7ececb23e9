"""`auto_instrument`: trace the LLM libraries at the class/module level, without wrapping
each client.

`openai`: the `create`/`parse` methods of the chat completions, Responses, embeddings,
moderations, images and audio resource classes (sync and async), so every client traces those
calls: clients made before the call as well as after, copies from `with_options()`, and the library's own helpers built
on `create` (`chat.completions.stream()`, `responses.stream()`). `anthropic`: `messages.create`,
`messages.parse` and `messages.stream` of `Messages`/`AsyncMessages`, and of their `beta`
counterparts. `litellm`: the module functions
`completion`, `acompletion`, `embedding` and `aembedding` (called as `litellm.completion(...)`;
a name imported with `from litellm import completion` before the call stays untraced); a
litellm stream is traced by swapping its class for a traced subclass, so it is still the
library's `CustomStreamWrapper`.

Libraries that are not installed are skipped. Patching is idempotent, and a client passed to
`wrap_openai`/`wrap_anthropic` as well is traced once. A provider SDK called by another traced
library (litellm calling openai) is not traced a second time.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Callable

from . import _anthropic, _llm, _openai


def _patch(cls: Any, method: str, make: Callable[[Callable, bool], Callable]) -> bool:
    fn = cls.__dict__.get(method)
    if fn is None:
        return False
    if not _llm.is_wrapped(fn):
        setattr(cls, method, make(fn, cls.__name__.startswith("Async")))
    return True


def _instrument_openai() -> bool:
    chat = importlib.import_module("openai.resources.chat.completions")
    embeddings = importlib.import_module("openai.resources.embeddings")
    responses = importlib.import_module("openai.resources.responses")
    moderations = importlib.import_module("openai.resources.moderations")
    images = importlib.import_module("openai.resources.images")
    speech = importlib.import_module("openai.resources.audio.speech")
    transcriptions = importlib.import_module("openai.resources.audio.transcriptions")
    translations = importlib.import_module("openai.resources.audio.translations")
    classes = {
        "chat.completions": (chat.Completions, chat.AsyncCompletions),
        "embeddings": (embeddings.Embeddings, embeddings.AsyncEmbeddings),
        "responses": (responses.Responses, responses.AsyncResponses),
        "moderations": (moderations.Moderations, moderations.AsyncModerations),
        "images": (images.Images, images.AsyncImages),
        "audio.speech": (speech.Speech, speech.AsyncSpeech),
        "audio.transcriptions": (transcriptions.Transcriptions, transcriptions.AsyncTranscriptions),
        "audio.translations": (translations.Translations, translations.AsyncTranslations),
    }
    patched = False
    for path, method, start, respond_for in _openai.TARGETS:
        # `client.beta.chat.completions` is another instance of the same classes: patched here.
        for cls in classes.get(path.removeprefix("beta."), ()):
            patched = _patch(cls, method, lambda fn, is_async, s=start, r=respond_for: _openai.traced_method(fn, s, r, is_async)) or patched
    return patched


def _instrument_anthropic() -> bool:
    modules = [importlib.import_module("anthropic.resources.messages")]
    try:
        modules.append(importlib.import_module("anthropic.resources.beta.messages"))
    except ImportError:  # an anthropic without the beta resources
        pass
    patched = False
    for module in modules:
        for cls in (module.Messages, module.AsyncMessages):
            for name, wrap in _anthropic.TRACED_METHODS:
                patched = _patch(cls, name, wrap) or patched
    return patched


# ---- litellm ----

_LITELLM_CHAT = (
    "model",
    "temperature",
    "top_p",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "seed",
)
_traced_stream_classes: dict = {}


def _litellm_stream_class(cls: type) -> type:
    """A subclass of litellm's stream class whose `__next__`/`__anext__` feed the span."""
    sub = _traced_stream_classes.get(cls)
    if sub is not None:
        return sub

    def __next__(self: Any) -> Any:
        agg = self.__dict__.get("_spanloom_aggregator")
        try:
            chunk = cls.__next__(self)
        except StopIteration:
            if agg is not None:
                agg.finish()
            raise
        except Exception as e:
            if agg is not None:
                _llm.guard("a litellm stream", agg.call.fail, e)
            raise
        if agg is not None:
            agg.feed(chunk)
        return chunk

    async def __anext__(self: Any) -> Any:
        agg = self.__dict__.get("_spanloom_aggregator")
        try:
            chunk = await cls.__anext__(self)
        except StopAsyncIteration:
            if agg is not None:
                agg.finish()
            raise
        except Exception as e:
            if agg is not None:
                _llm.guard("a litellm stream", agg.call.fail, e)
            raise
        if agg is not None:
            agg.feed(chunk)
        return chunk

    sub = type(cls.__name__, (cls,), {"__next__": __next__, "__anext__": __anext__, "__module__": cls.__module__, "__qualname__": cls.__qualname__})
    _traced_stream_classes[cls] = sub
    return sub


def _litellm_respond(name: str) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        if name == "Embedding":
            data = getattr(result, "data", None) or []
            first = data[0] if data else None
            vector = first.get("embedding") if isinstance(first, dict) else getattr(first, "embedding", None)
            output = {"embeddings": len(data), "embedding_length": len(vector) if isinstance(vector, list) else None}
            call.finish(output, _openai.usage_metrics(getattr(result, "usage", None)), None)
            return result
        if hasattr(result, "model_dump") or not (hasattr(result, "__next__") or hasattr(result, "__anext__")):
            data = _llm.dump(result)
            data = data if isinstance(data, dict) else {}
            call.finish(data.get("choices"), _openai.usage_metrics(data.get("usage")), {"model": data["model"]} if data.get("model") else None)
            return result
        agg = _openai._ChatAggregator(call)
        result.__dict__["_spanloom_aggregator"] = agg
        result.__class__ = _litellm_stream_class(type(result))
        return result

    return respond


def _litellm_start(name: str, input_key: str) -> Callable[[dict], _llm.LLMCall]:
    def start(kwargs: dict) -> _llm.LLMCall:
        value = _llm.materialize(kwargs, input_key)
        return _llm.LLMCall(name, _llm.dump(value), {**_llm.pick(kwargs, _LITELLM_CHAT), "provider": "litellm"})

    return start


def _litellm_wrapper(fn: Callable, name: str, input_key: str) -> Callable:
    is_async = inspect.iscoroutinefunction(fn)
    wrapped = _llm.wrap_call(fn, f"litellm {fn.__name__}", _litellm_start(name, input_key), _litellm_respond(name), is_async)
    return functools.wraps(fn)(wrapped)


def _instrument_litellm() -> bool:
    litellm = importlib.import_module("litellm")
    patched = False
    for attr, name, input_key in (
        ("completion", "Completion", "messages"),
        ("acompletion", "Completion", "messages"),
        ("embedding", "Embedding", "input"),
        ("aembedding", "Embedding", "input"),
    ):
        fn = getattr(litellm, attr, None)
        if fn is None:
            continue
        if not _llm.is_wrapped(fn):
            setattr(litellm, attr, _llm.mark(_litellm_wrapper(fn, name, input_key)))
        patched = True
    return patched


_INSTRUMENTERS = {"openai": _instrument_openai, "anthropic": _instrument_anthropic, "litellm": _instrument_litellm}


def auto_instrument(*, openai: bool = True, anthropic: bool = True, litellm: bool = True) -> dict:
    """Patches the installed LLM libraries so their calls are traced as LLM spans; returns
    `{"openai": bool, "anthropic": bool, "litellm": bool}`: whether each is instrumented
    (False when opted out, not installed, or not patchable). Calling it again is harmless."""
    wanted = {"openai": openai, "anthropic": anthropic, "litellm": litellm}
    result = {}
    for name, instrument in _INSTRUMENTERS.items():
        if not wanted[name]:
            result[name] = False
            continue
        try:
            result[name] = bool(instrument())
        except ImportError:
            result[name] = False
        except Exception as e:  # noqa: BLE001 - instrumentation never breaks the application
            _llm.log.warning("spanloom: could not instrument %s: %s: %s", name, type(e).__name__, e)
            result[name] = False
    return result
