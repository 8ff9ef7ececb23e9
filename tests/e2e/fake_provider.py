"""A local stand-in for LLM providers that speaks their real wire formats.

OpenAI: `POST /v1/chat/completions` (JSON, or SSE when `stream` is set, with a usage chunk
when `stream_options.include_usage` is set; tool calls when tools are offered and the last
user message asks for one), `POST /v1/embeddings`, `POST /v1/moderations` (an input containing
"flag me" is flagged), `POST /v1/responses` (JSON, or the SSE events `response.created` ...
`response.completed` when `stream` is set), `POST /v1/images/generations` and (multipart)
`/v1/images/edits` (base64 PNG images, or URLs with `response_format: "url"`; gpt-image-style
usage), `POST /v1/audio/speech` (audio bytes), and (multipart) `/v1/audio/transcriptions`
(JSON text and usage, or the SSE `transcript.text.delta` / `.done` events with `stream`) and
`/v1/audio/translations`. Anthropic:
`POST /v1/messages` (JSON or SSE events; a `tool_use` block when tools are offered and the last
user message asks about the weather; content blocks marked `cache_control` are reported as
`cache_creation_input_tokens` the first time their text is seen and `cache_read_input_tokens`
after that). A model named `error-500` answers 500, `missing`
answers 404, the way the real APIs do. A request header `x-fake-cached: <v>` is echoed as the
caching-proxy header `x-bt-cached: <v>` on JSON answers. Every request is recorded in `requests`.

Answers are deterministic: the reply text is `Echo: <last user text>`, and usage counts words.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _last_user_text(messages) -> str:
    for m in reversed(messages or []):
        if m.get("role") != "user":
            continue
        content = m.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


# A 1x1 PNG: what the fake image endpoints return as image data.
PNG_1X1 = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


def _multipart(content_type: str, raw: bytes) -> dict:
    """The fields of a multipart/form-data body: text for plain fields, bytes for files."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        fields[name] = payload if part.get_filename() else payload.decode()
    return fields


def _count(text: str) -> int:
    return max(1, len(text.split()))


def _system_tokens(system) -> int:
    """Anthropic's `system`: a string or a list of text blocks."""
    if not system:
        return 0
    if isinstance(system, str):
        return _count(system)
    return sum(_count(b.get("text", "")) for b in system if isinstance(b, dict))


def _prompt_tokens(messages) -> int:
    return sum(_count(json.dumps(m.get("content", ""))) for m in messages or []) + 3


class FakeProvider:
    """Runs the fake provider on a free loopback port in a background thread."""

    def __init__(self):
        self.requests: list[dict] = []
        self.cached_texts: set[str] = set()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                content_type = self.headers.get("content-type") or ""
                if content_type.startswith("multipart/form-data"):
                    body = _multipart(content_type, raw)
                else:
                    body = json.loads(raw or b"{}")
                provider.requests.append({"path": self.path, "body": body})
                model = body.get("model", "")
                if model == "error-500":
                    return self._json(500, {"error": {"message": "the fake provider failed", "type": "server_error"}})
                if model == "missing":
                    return self._json(
                        404, {"error": {"message": f"The model `{model}` does not exist", "type": "invalid_request_error", "code": "model_not_found"}}
                    )
                path = self.path.split("?")[0]
                if path.endswith("/chat/completions"):
                    return self._chat(body)
                if path.endswith("/embeddings"):
                    return self._embeddings(body)
                if path.endswith("/moderations"):
                    return self._moderations(body)
                if path.endswith("/images/generations") or path.endswith("/images/edits"):
                    return self._images(body)
                if path.endswith("/audio/speech"):
                    return self._speech(body)
                if path.endswith("/audio/transcriptions") or path.endswith("/audio/translations"):
                    return self._audio_text(body, "translat" if "translations" in path else "transcrib")
                if path.endswith("/responses"):
                    return self._responses(body)
                if path.endswith("/messages"):
                    return self._anthropic(body)
                return self._json(404, {"error": {"message": f"no route {self.path}"}})

            # ---- helpers ----
            def _json(self, status: int, obj) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if self.headers.get("x-fake-cached"):
                    # What a caching proxy in front of the provider answers (read as metrics.cached).
                    self.send_header("x-bt-cached", self.headers["x-fake-cached"])
                self.end_headers()
                self.wfile.write(data)

            def _sse_start(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()

            def _sse(self, data: str, event: str | None = None) -> None:
                text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
                chunk = text.encode()
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()

            def _sse_end(self) -> None:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            # ---- OpenAI ----
            def _chat(self, body) -> None:
                messages = body.get("messages", [])
                question = _last_user_text(messages)
                wants_tool = bool(body.get("tools")) and "weather" in question.lower() and messages[-1].get("role") == "user"
                reply = f"Echo: {question}"
                usage = {"prompt_tokens": _prompt_tokens(messages), "completion_tokens": _count(reply)}
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                created = int(time.time())
                cid = f"chatcmpl-fake{len(provider.requests)}"
                tool_calls = [{"id": "call_fake_1", "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]
                if not body.get("stream"):
                    message = {"role": "assistant", "content": None if wants_tool else reply, "refusal": None}
                    if wants_tool:
                        message["tool_calls"] = tool_calls
                    return self._json(
                        200,
                        {
                            "id": cid,
                            "object": "chat.completion",
                            "created": created,
                            "model": body.get("model"),
                            "system_fingerprint": "fp_fake",
                            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if wants_tool else "stop"}],
                            "usage": usage,
                        },
                    )
                self._sse_start()
                base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.get("model"), "system_fingerprint": "fp_fake"}
                include_usage = (body.get("stream_options") or {}).get("include_usage")

                def chunk(delta, finish=None):
                    c = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
                    if include_usage:
                        c["usage"] = None
                    self._sse(json.dumps(c))

                chunk({"role": "assistant", "content": ""})
                if wants_tool:
                    call = tool_calls[0]
                    chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}]})
                    chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]})
                    chunk({}, "tool_calls")
                else:
                    words = reply.split(" ")
                    for i, w in enumerate(words):
                        time.sleep(0.005)
                        chunk({"content": w if i == 0 else " " + w})
                    chunk({}, "stop")
                if include_usage:
                    self._sse(json.dumps({**base, "choices": [], "usage": usage}))
                self._sse("[DONE]")
                self._sse_end()

            def _embeddings(self, body) -> None:
                inputs = body.get("input")
                inputs = inputs if isinstance(inputs, list) else [inputs]
                data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i, _ in enumerate(inputs)]
                tokens = sum(_count(str(t)) for t in inputs)
                return self._json(200, {"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

            def _moderations(self, body) -> None:
                inputs = body.get("input")
                inputs = inputs if isinstance(inputs, list) else [inputs]
                # "flag me" anywhere in an input flags it for violence.
                results = []
                for text in inputs:
                    flagged = "flag me" in str(text)
                    results.append(
                        {
                            "flagged": flagged,
                            "categories": {"violence": flagged, "harassment": False},
                            "category_scores": {"violence": 0.9 if flagged else 0.01, "harassment": 0.0},
                            "category_applied_input_types": {"violence": ["text"], "harassment": ["text"]},
                        }
                    )
                return self._json(200, {"id": "modr-fake", "model": body.get("model") or "omni-moderation-latest", "results": results})

            def _images(self, body) -> None:
                prompt = str(body.get("prompt") or "")
                n = int(body.get("n") or 1)
                if body.get("response_format") == "url":
                    data = [{"url": f"https://images.fake/{i}.png", "revised_prompt": f"A picture of {prompt}"} for i in range(n)]
                else:
                    b64 = base64.b64encode(PNG_1X1).decode()
                    data = [{"b64_json": b64, "revised_prompt": f"A picture of {prompt}"} for _ in range(n)]
                usage = {"input_tokens": _count(prompt), "output_tokens": 272 * n, "total_tokens": _count(prompt) + 272 * n}
                return self._json(200, {"created": 1764547200, "data": data, "usage": usage, "output_format": "png", "size": body.get("size") or "1024x1024"})

            def _speech(self, body) -> None:
                data = b"ID3" + f"fake speech: {body.get('input')}".encode()
                self.send_response(200)
                self.send_header("content-type", "audio/mpeg")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _audio_text(self, body, verb: str) -> None:
                audio = body.get("file") or b""
                text = f"{verb}ed {len(audio)} bytes"
                usage = {"type": "tokens", "input_tokens": 12, "output_tokens": _count(text), "total_tokens": 12 + _count(text)}
                if str(body.get("stream")).lower() == "true":
                    self._sse_start()
                    words = text.split(" ")
                    for i, word in enumerate(words):
                        delta = word if i == 0 else " " + word
                        self._sse(json.dumps({"type": "transcript.text.delta", "delta": delta}))
                    self._sse(json.dumps({"type": "transcript.text.done", "text": text, "usage": usage}))
                    return self._sse_end()
                return self._json(200, {"text": text, "usage": usage} if verb == "transcrib" else {"text": text})

            def _responses(self, body) -> None:
                inp = body.get("input")
                question = inp if isinstance(inp, str) else _last_user_text(inp)
                reply = f"Echo: {question}"
                usage = {
                    "input_tokens": _count(question) + 3,
                    "output_tokens": _count(reply),
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens_details": {"reasoning_tokens": 0},
                }
                usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
                response = {
                    "id": "resp_fake",
                    "object": "response",
                    "created_at": int(time.time()),
                    "status": "completed",
                    "model": body.get("model"),
                    "output": [
                        {
                            "type": "message",
                            "id": "msg_fake",
                            "status": "completed",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": reply, "annotations": []}],
                        }
                    ],
                    "usage": usage,
                    "parallel_tool_calls": True,
                    "tool_choice": "auto",
                    "tools": [],
                    "error": None,
                    "incomplete_details": None,
                    "instructions": None,
                    "metadata": {},
                    "temperature": 1.0,
                    "top_p": 1.0,
                    "text": {"format": {"type": "text"}},
                }
                if not body.get("stream"):
                    return self._json(200, response)
                self._responses_stream(response, reply)

            def _responses_stream(self, response, reply) -> None:
                seq = iter(range(1000))
                self._sse_start()

                def event(kind, **fields):
                    self._sse(json.dumps({"type": kind, "sequence_number": next(seq), **fields}), kind)

                pending = {**response, "status": "in_progress", "output": [], "usage": None}
                event("response.created", response=pending)
                event("response.in_progress", response=pending)
                item = response["output"][0]
                event("response.output_item.added", output_index=0, item={**item, "status": "in_progress", "content": []})
                part = {"type": "output_text", "text": "", "annotations": []}
                event("response.content_part.added", item_id=item["id"], output_index=0, content_index=0, part=part)
                for i, w in enumerate(reply.split(" ")):
                    time.sleep(0.005)
                    event("response.output_text.delta", item_id=item["id"], output_index=0, content_index=0, delta=w if i == 0 else " " + w, logprobs=[])
                event("response.output_text.done", item_id=item["id"], output_index=0, content_index=0, text=reply, logprobs=[])
                event("response.content_part.done", item_id=item["id"], output_index=0, content_index=0, part={**part, "text": reply})
                event("response.output_item.done", output_index=0, item=item)
                event("response.completed", response=response)
                self._sse_end()

            # ---- Anthropic ----
            def _cache_blocks(self, body) -> list:
                """The text of the content blocks marked `cache_control` (system and messages)."""
                blocks = list(body.get("system") or []) if isinstance(body.get("system"), list) else []
                for m in body.get("messages") or []:
                    if isinstance(m.get("content"), list):
                        blocks.extend(m["content"])
                return [b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("cache_control")]

            def _anthropic(self, body) -> None:
                messages = body.get("messages")
                question = _last_user_text(messages)
                wants_tool = bool(body.get("tools")) and "weather" in question.lower() and messages[-1].get("role") == "user"
                reply = "Let me check the weather." if wants_tool else f"Echo: {question}"
                cache_read = cache_creation = 0
                for text in self._cache_blocks(body):
                    if text in provider.cached_texts:
                        cache_read += _count(text)
                    else:
                        cache_creation += _count(text)
                        provider.cached_texts.add(text)
                content = [{"type": "text", "text": reply}]
                tool_input = {"city": "Paris", "unit": "celsius"}
                if wants_tool:
                    content.append({"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": tool_input})
                usage = {
                    "input_tokens": _prompt_tokens(messages) + _system_tokens(body.get("system")) - cache_read - cache_creation,
                    "output_tokens": _count(reply) + (5 if wants_tool else 0),
                    "cache_read_input_tokens": cache_read,
                    "cache_creation_input_tokens": cache_creation,
                }
                msg = {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model"),
                    "content": content,
                    "stop_reason": "tool_use" if wants_tool else "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                }
                if not body.get("stream"):
                    return self._json(200, msg)
                self._sse_start()
                start = {**msg, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
                self._sse(json.dumps({"type": "message_start", "message": start}), "message_start")
                self._sse(json.dumps({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}), "content_block_start")
                for i, w in enumerate(reply.split(" ")):
                    self._sse(
                        json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w if i == 0 else " " + w}}),
                        "content_block_delta",
                    )
                self._sse(json.dumps({"type": "content_block_stop", "index": 0}), "content_block_stop")
                if wants_tool:
                    block = {"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": {}}
                    self._sse(json.dumps({"type": "content_block_start", "index": 1, "content_block": block}), "content_block_start")
                    text = json.dumps(tool_input)
                    for piece in (text[:10], text[10:]):
                        self._sse(
                            json.dumps({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": piece}}),
                            "content_block_delta",
                        )
                    self._sse(json.dumps({"type": "content_block_stop", "index": 1}), "content_block_stop")
                self._sse(
                    json.dumps(
                        {
                            "type": "message_delta",
                            "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                            "usage": {"output_tokens": usage["output_tokens"]},
                        }
                    ),
                    "message_delta",
                )
                self._sse(json.dumps({"type": "message_stop"}), "message_stop")
                self._sse_end()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    import sys

    p = FakeProvider()
    p.server.server_address  # noqa: B018
    print(p.url, flush=True)
    try:
        p.server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
