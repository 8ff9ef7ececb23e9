"""The image and audio calls `wrap_openai` traces, as the braintrust wrapper does.

- `images.generate` / `.edit` / `.create_variation` ("Image Generation", "Image Edit",
  "Image Variation"): the prompt as input (with the uploaded image and mask as attachments
  when there are any), the image parameters as metadata, and as output the images: their
  URLs, or their base64 data as `Attachment`s (uploaded beside the row, not stored in it),
  with `revised_prompt`; `usage` tokens (gpt-image models) as metrics.
- `audio.speech.create` ("Speech"): the text as input, voice and format as metadata, the
  audio as an `Attachment` as output.
- `audio.transcriptions.create` ("Transcription") and `audio.translations.create`
  ("Translation"): the audio file as an `Attachment` input, the text as output, `usage`
  tokens as metrics; a streamed transcription (`stream=True`) is aggregated from its
  `transcript.text.delta` / `transcript.text.done` events.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any, Callable, Optional

from . import _llm

_IMAGE_PARAMS = (
    "model",
    "n",
    "size",
    "quality",
    "style",
    "response_format",
    "background",
    "moderation",
    "output_format",
    "output_compression",
)
_SPEECH_PARAMS = ("model", "voice", "response_format", "speed", "instructions", "stream_format")
_AUDIO_FILE_PARAMS = (
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "stream",
    "include",
    "timestamp_granularities",
    "chunking_strategy",
)
# Speech `response_format` → MIME type (mp3 is the API's default).
_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def _usage_metrics(usage: Any) -> dict:
    from ._openai import usage_metrics

    return usage_metrics(usage)


def _attachment(data: bytes, filename: str, content_type: Optional[str] = None) -> Any:
    from ._attachment import Attachment

    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Attachment(data=data, filename=filename, content_type=content_type)


def _read_keeping_position(f: Any) -> Optional[bytes]:
    """The bytes of an open file object, which is left where it was (the request still reads
    it); None when it cannot be read and put back."""
    try:
        pos = f.tell()
        data = f.read()
        f.seek(pos)
    except (AttributeError, OSError, ValueError):
        return None
    return data if isinstance(data, bytes) else None


def file_input(value: Any, default_name: str) -> Any:
    """An uploaded file (`bytes`, a path, an open file, or the `(name, content[, type])` tuple
    the openai library takes) as an `Attachment`; None when there is none."""
    if not _llm.given(value):
        return None
    name, content, content_type = default_name, value, None
    if isinstance(value, tuple) and value:
        name = str(value[0] or default_name)
        content = value[1] if len(value) > 1 else None
        content_type = value[2] if len(value) > 2 and isinstance(value[2], str) else None
    if isinstance(content, (str, os.PathLike)) and not isinstance(value, tuple):
        path = os.fspath(content)
        try:
            with open(path, "rb") as f:
                return _attachment(f.read(), os.path.basename(path), content_type)
        except OSError:
            return {"file": path}
    if isinstance(content, (bytes, bytearray)):
        return _attachment(bytes(content), name, content_type)
    if hasattr(content, "read"):
        data = _read_keeping_position(content)
        file_name = os.path.basename(str(getattr(content, "name", "") or name))
        if data is not None:
            return _attachment(data, file_name or name, content_type)
    return None


# ---- images ----


def _image_start(name: str) -> Callable[[dict], _llm.LLMCall]:
    def start(kwargs: dict) -> _llm.LLMCall:
        prompt = kwargs.get("prompt") if _llm.given(kwargs.get("prompt")) else None
        files = {key: file_input(kwargs.get(key), key) for key in ("image", "mask")}
        files = {k: v for k, v in files.items() if v is not None}
        inp: Any = prompt if not files else {**({"prompt": prompt} if prompt is not None else {}), **files}
        return _llm.LLMCall(name, inp, {**_llm.pick(kwargs, _IMAGE_PARAMS), "provider": "openai"})

    return start


def images_output(data: dict) -> dict:
    """The images of an images response: URLs as `image_url`, base64 data as attachments."""
    fmt = data.get("output_format") or "png"
    images = []
    for index, image in enumerate(data.get("data") or []):
        if not isinstance(image, dict):
            continue
        entry: dict = {}
        if image.get("revised_prompt"):
            entry["revised_prompt"] = image["revised_prompt"]
        if isinstance(image.get("url"), str):
            entry["image_url"] = {"url": image["url"]}
        b64 = image.get("b64_json")
        if isinstance(b64, str):
            mime = fmt if "/" in fmt else f"image/{fmt}"
            att = _llm._attachment(mime, b64, f"generated_image_{index}")
            if att is not None:
                entry["image"] = att
                entry["image_size_bytes"] = len(att.data)
            else:
                entry["b64_json_present"] = True
        images.append(entry)
    out = {k: data[k] for k in ("created", "background", "output_format", "quality", "size") if data.get(k) is not None}
    out["images_count"] = len(images)
    out["images"] = images
    return out


def _images_respond(is_async: bool) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        data = _llm.dump(result)
        if not isinstance(data, dict):
            call.finish(data, {}, None)
            return result
        call.finish(images_output(data), _usage_metrics(data.get("usage")), None)
        return result

    return respond


# ---- audio ----


class _SpeechCall(_llm.LLMCall):
    """A speech call, which remembers the audio format it asked for."""

    audio_format = "mp3"


def _start_speech(kwargs: dict) -> _llm.LLMCall:
    call = _SpeechCall("Speech", kwargs.get("input"), {**_llm.pick(kwargs, _SPEECH_PARAMS), "provider": "openai"})
    fmt = kwargs.get("response_format")
    if _llm.given(fmt) and isinstance(fmt, str):
        call.audio_format = fmt
    return call


def _speech_respond(is_async: bool) -> Callable:
    def respond(call: _llm.LLMCall, result: Any) -> Any:
        # `HttpxBinaryResponseContent`: the body was read with the response.
        content = getattr(result, "content", None)
        if not isinstance(content, (bytes, bytearray)):
            call.finish(None, {}, None)
            return result
        fmt = getattr(call, "audio_format", "mp3")
        mime = _AUDIO_TYPES.get(fmt, "application/octet-stream")
        att = _attachment(bytes(content), f"generated_speech.{fmt}", mime)
        call.finish({"audio": att, "audio_size_bytes": len(content)}, {}, None)
        return result

    return respond


def _audio_file_start(name: str) -> Callable[[dict], _llm.LLMCall]:
    def start(kwargs: dict) -> _llm.LLMCall:
        audio = file_input(kwargs.get("file"), "audio")
        inp = {"file": audio} if audio is not None else None
        return _llm.LLMCall(name, inp, {**_llm.pick(kwargs, _AUDIO_FILE_PARAMS), "provider": "openai"})

    return start


def _text_of(result: Any) -> Any:
    if isinstance(result, str):
        return result.strip()
    data = _llm.dump(result)
    if isinstance(data, dict):
        return data.get("text")
    return data


class _TranscriptionAggregator(_llm.Aggregator):
    """A streamed transcription: the text deltas joined (or the `done` event's text) and its
    usage."""

    def __init__(self, call: _llm.LLMCall) -> None:
        super().__init__(call)
        self.parts: list = []
        self.text: Optional[str] = None
        self.usage: Any = None

    def carries_output(self, chunk: Any) -> bool:
        return getattr(chunk, "type", None) == "transcript.text.delta"

    def absorb(self, chunk: Any) -> None:
        kind = getattr(chunk, "type", None)
        if kind == "transcript.text.delta":
            self.parts.append(getattr(chunk, "delta", "") or "")
        elif kind == "transcript.text.done":
            self.text = getattr(chunk, "text", None)
            self.usage = getattr(chunk, "usage", None)

    def result(self) -> tuple:
        text = self.text if self.text is not None else "".join(self.parts)
        return text, _usage_metrics(self.usage), None


def _audio_file_respond(streams: bool) -> Callable[[bool], Callable]:
    def respond_for(is_async: bool) -> Callable:
        def respond(call: _llm.LLMCall, result: Any) -> Any:
            if streams and _llm.is_stream(result):
                return _llm.hook_stream(result, _TranscriptionAggregator(call), is_async)
            call.finish(_text_of(result), _usage_metrics(getattr(result, "usage", None)), None)
            return result

        return respond

    return respond_for


# (resource path on the client, method, span starter, responder factory)
TARGETS = (
    ("images", "generate", _image_start("Image Generation"), _images_respond),
    ("images", "edit", _image_start("Image Edit"), _images_respond),
    ("images", "create_variation", _image_start("Image Variation"), _images_respond),
    ("audio.speech", "create", _start_speech, _speech_respond),
    ("audio.transcriptions", "create", _audio_file_start("Transcription"), _audio_file_respond(True)),
    ("audio.translations", "create", _audio_file_start("Translation"), _audio_file_respond(False)),
)
