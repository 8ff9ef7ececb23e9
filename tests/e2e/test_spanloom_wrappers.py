"""The LLM client wrappers of Spanloom's Python SDK (`wrap_openai`, `wrap_anthropic`,
`auto_instrument`, the custom-LLM span convention), driven through the real `openai`,
`anthropic` and `litellm` clients against tests/e2e/fake_provider.py, with the spans read back
from a running server and checked field by field."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
import requests

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")
pytest.importorskip("openai")
pytest.importorskip("anthropic")


RUNNER = """
import json, sys
results = {}
for name, code in json.loads(sys.argv[2]).items():
    namespace = {"__name__": "__main__"}
    exec(compile(code, name, "exec"), namespace)
    results[name] = namespace["out"]
print(json.dumps(results))
"""


def run_scripts(server, provider_url: str, **scripts: str) -> tuple[dict, str]:
    """Runs scripts one after the other in one SDK process (each leaves its results in `out`),
    pointed at the server through the SPANLOOM_* variables; returns the results by name and
    the process's stderr."""
    env = {**os.environ, "SPANLOOM_APP_URL": server.url, "SPANLOOM_API_KEY": server.admin_key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("BRAINTRUST_API_URL", None)
    proc = subprocess.run([sys.executable, "-c", RUNNER, provider_url, json.dumps(scripts), PNG.hex()], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def assert_clean(stderr: str) -> None:
    for sign in ("Dropping batch", "log request failed", "spanloom: could not"):
        assert sign not in stderr, stderr


@pytest.fixture(scope="module")
def wrapped(server, fake_provider) -> dict:
    """One process for the wrap_openai / wrap_anthropic scripts."""
    out, stderr = run_scripts(server, fake_provider.url, openai=OPENAI_SCRIPT, responses=RESPONSES_SCRIPT, media=MEDIA_SCRIPT, anthropic=ANTHROPIC_SCRIPT)
    assert_clean(stderr)
    return out


@pytest.fixture(scope="module")
def guarded(server, fake_provider) -> tuple[dict, str]:
    """One process for the no-logger, error, tracing-failure, custom-LLM and opt-out scripts."""
    return run_scripts(server, fake_provider.url, errors=ERRORS_SCRIPT, opt_out=OPT_OUT_SCRIPT)


# A 1x1 PNG, sent inline as a data URL.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def attachment_bytes(client, ref: dict) -> bytes:
    """Downloads an uploaded attachment through the server's attachment API."""
    org_id = client.post("/api/apikey/login").json()["org_info"][0]["id"]
    params = {"filename": ref["filename"], "content_type": ref["content_type"], "key": ref["key"], "org_id": org_id}
    meta = client.get("/attachment", params=params).json()
    assert meta["status"] == {"upload_status": "done"}, meta
    return requests.get(meta["downloadUrl"], timeout=30).content


def spans(client, project: str, expect: int) -> list[dict]:
    """The project's spans in start order, once `expect` of them have ended (polled for up to
    10 s: one early run read a project before its rows were visible)."""
    deadline = time.time() + 10
    while True:
        found = client.get("/v1/project", params={"project_name": project}).json()["objects"]
        rows = client.fetch_all("project_logs", found[0]["id"]) if found else []
        if sum(1 for r in rows if "end" in r.get("metrics", {})) >= expect or time.time() > deadline:
            break
        time.sleep(0.2)
    return sorted(rows, key=lambda r: r["metrics"]["start"])


def by_name(rows: list[dict], name: str) -> list[dict]:
    return [r for r in rows if r["span_attributes"]["name"] == name]


def assert_timed(row: dict) -> None:
    m = row["metrics"]
    assert m["start"] <= m["end"], row
    assert 0 < m["time_to_first_token"] <= m["end"] - m["start"] + 0.001, row


OPENAI_SCRIPT = """
import asyncio, base64, json, sys, time, openai, spanloom

PNG = bytes.fromhex(sys.argv[3])
logger = spanloom.init_logger(project="wrappers-openai")
base = sys.argv[1] + "/v1"
sync = spanloom.wrap_openai(openai.OpenAI(base_url=base, api_key="sk-fake", max_retries=0))
aclient = spanloom.wrap_openai(openai.AsyncOpenAI(base_url=base, api_key="sk-fake", max_retries=0))
assert spanloom.wrap_openai(sync) is sync  # wrapping twice changes nothing
tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
out = {}

async def main():
    with spanloom.start_span(name="async-root") as root:
        r = await aclient.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello async"}], max_tokens=20)
        out["async_type"] = type(r).__name__
        stream = await aclient.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "stream async please"}], stream=True, stream_options={"include_usage": True}
        )
        out["async_stream_type"] = type(stream).__name__
        out["async_streamed"] = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        e = await aclient.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])
        out["embedding_dims"] = len(e.data[0].embedding)
        out["root"] = root.span_id

asyncio.run(main())

# tool calls: JSON, then streamed deltas
r = sync.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "What is the weather in Paris?"}], tools=tools)
out["tool_args"] = r.choices[0].message.tool_calls[0].function.arguments
stream = sync.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "weather in Paris, streamed"}], tools=tools, stream=True)
out["stream_is_openai_stream"] = isinstance(stream, openai.Stream)
out["streamed_tool_chunks"] = sum(1 for c in stream for _ in (c.choices[0].delta.tool_calls or []))
# an inline image (a data URL) is uploaded as an attachment
image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}}
r = sync.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": [{"type": "text", "text": "describe"}, image]}])
out["image_reply"] = r.choices[0].message.content
# with_raw_response still works and returns the raw response
raw = sync.chat.completions.with_raw_response.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "raw please"}], extra_headers={"x-fake-cached": "HIT"}
)
out["raw_status"] = raw.status_code
out["raw_content"] = raw.parse().choices[0].message.content
# the library's stream helper is built on create
with sync.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": "helper stream"}]) as s:
    out["helper_final"] = s.get_final_completion().choices[0].message.content
# a copy made with with_options is traced too; a stream closed early still ends its span
early = sync.with_options(timeout=30).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three four five"}], stream=True)
with early:
    next(iter(early))
# the stream helper left before the end: its span ends with the block, not at collection
with sync.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": "helper left early"}]) as s:
    for _event in s:
        break
out["helper_left_at"] = time.time()
time.sleep(0.05)
# the older spelling under client.beta is traced too
parsed = sync.beta.chat.completions.parse(model="gpt-4o-mini", messages=[{"role": "user", "content": "beta parse"}])
out["beta_parsed"] = parsed.choices[0].message.content
moderation = sync.moderations.create(model="omni-moderation-latest", input=["hello there", "flag me please"])
out["moderation_flagged"] = [r.flagged for r in moderation.results]
spanloom.flush()
print(json.dumps(out))
"""


def test_wrap_openai_async_streams_tools_and_raw_responses(client, wrapped):
    out = wrapped["openai"]
    assert out["async_type"] == "ChatCompletion" and out["async_stream_type"] == "AsyncStream"
    assert out["async_streamed"] == "Echo: stream async please" and out["embedding_dims"] == 3
    assert out["tool_args"] == '{"city": "Paris"}' and out["stream_is_openai_stream"] and out["streamed_tool_chunks"] == 2
    assert out["raw_status"] == 200 and out["raw_content"] == "Echo: raw please" and out["helper_final"] == "Echo: helper stream"

    rows = spans(client, "wrappers-openai", 12)
    chats = by_name(rows, "Chat Completion")
    assert len(chats) == 10 and all(r["span_attributes"]["type"] == "llm" for r in chats), [(r["span_attributes"], r.get("output")) for r in rows]
    a_json, a_stream, tool_json, tool_stream, with_image, raw, helper, early, helper_early, beta_parse = chats
    assert out["beta_parsed"] == "Echo: beta parse"
    assert beta_parse["input"] == [{"role": "user", "content": "beta parse"}]
    assert beta_parse["output"][0]["message"]["content"] == "Echo: beta parse" and beta_parse["metrics"]["completion_tokens"] > 0
    assert helper_early["input"] == [{"role": "user", "content": "helper left early"}]
    assert helper_early["metrics"]["start"] <= helper_early["metrics"]["end"] <= out["helper_left_at"], helper_early
    [emb] = by_name(rows, "Embedding")
    [root] = by_name(rows, "async-root")
    [moderation] = by_name(rows, "Moderation")
    assert out["moderation_flagged"] == [False, True]
    assert moderation["span_attributes"]["type"] == "llm" and moderation["input"] == ["hello there", "flag me please"]
    assert moderation["metadata"] == {**moderation["metadata"], "model": "omni-moderation-latest", "provider": "openai"}
    assert [r["flagged"] for r in moderation["output"]] == [False, True]
    assert moderation["output"][1]["categories"]["violence"] is True
    assert_timed(moderation)

    # async: children of the span they ran in
    for row in (a_json, a_stream, emb):
        assert row["span_parents"] == [root["span_id"]] and row["root_span_id"] == root["root_span_id"]
    assert a_json["input"] == [{"role": "user", "content": "hello async"}]
    assert a_json["metadata"]["model"] == "gpt-4o-mini" and a_json["metadata"]["provider"] == "openai" and a_json["metadata"]["max_tokens"] == 20
    assert a_json["output"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Echo: hello async", "refusal": None}, "logprobs": None, "finish_reason": "stop"}
    ]
    assert a_json["metrics"]["completion_tokens"] == 3 and a_json["metrics"]["tokens"] == a_json["metrics"]["prompt_tokens"] + 3
    assert_timed(a_json)
    assert a_stream["metadata"]["stream"] is True and a_stream["metadata"]["stream_options"] == {"include_usage": True}
    assert a_stream["output"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Echo: stream async please"}, "logprobs": None, "finish_reason": "stop"}
    ]
    # include_usage: the usage chunk's tokens
    assert a_stream["metrics"]["completion_tokens"] == 4 and a_stream["metrics"]["prompt_tokens"] > 0
    assert a_stream["metrics"]["tokens"] == a_stream["metrics"]["prompt_tokens"] + 4
    assert_timed(a_stream)
    assert emb["input"] == ["one two", "three"] and emb["output"] == {"embeddings": 2, "embedding_length": 3}
    assert emb["metadata"] == {**emb["metadata"], "model": "text-embedding-3-small", "provider": "openai"}
    assert emb["metrics"]["prompt_tokens"] == 3 and emb["metrics"]["tokens"] == 3

    # tool calls, JSON and streamed (deltas joined into the assistant message)
    call = {"id": "call_fake_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    assert tool_json["metadata"]["tools"][0]["function"]["name"] == "get_weather"
    assert tool_json["output"][0]["message"]["tool_calls"] == [call] and tool_json["output"][0]["finish_reason"] == "tool_calls"
    assert tool_stream["output"] == [
        {"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}, "logprobs": None, "finish_reason": "tool_calls"}
    ]
    assert "prompt_tokens" not in tool_stream["metrics"]  # no usage chunk without include_usage
    assert_timed(tool_stream)

    # the data URL became an attachment reference; the bytes were uploaded
    text, image = with_image["input"][0]["content"]
    assert text == {"type": "text", "text": "describe"} and image["type"] == "image_url"
    ref = image["image_url"]["url"]
    assert ref == {"type": "braintrust_attachment", "filename": "image.png", "content_type": "image/png", "key": ref["key"]}
    assert attachment_bytes(client, ref) == PNG and out["image_reply"].startswith("Echo: describe")

    assert raw["output"][0]["message"]["content"] == "Echo: raw please" and raw["metrics"]["completion_tokens"] == 3
    assert raw["metrics"]["cached"] == 1 and "cached" not in a_json["metrics"]  # from the x-bt-cached header
    assert helper["input"] == [{"role": "user", "content": "helper stream"}] and helper["output"][0]["message"]["content"] == "Echo: helper stream"
    # closed after the first chunk: ended, with what had arrived
    assert early["output"][0]["message"]["role"] == "assistant" and early["metrics"]["end"] >= early["metrics"]["start"]
    assert early["output"][0]["message"]["content"] in (None, "", "Echo:") and early["output"][0]["finish_reason"] is None


RESPONSES_SCRIPT = """
import asyncio, json, sys, openai, spanloom

spanloom.init_logger(project="wrappers-responses")
base = sys.argv[1] + "/v1"
sync = spanloom.wrap_openai(openai.OpenAI(base_url=base, api_key="sk-fake", max_retries=0))
aclient = spanloom.wrap_openai(openai.AsyncOpenAI(base_url=base, api_key="sk-fake", max_retries=0))
out = {}
r = sync.responses.create(model="gpt-4o-mini", input="plain responses call", instructions="be brief", max_output_tokens=50)
out["text"] = r.output_text
stream = sync.responses.create(model="gpt-4o-mini", input=[{"role": "user", "content": "streamed responses call"}], stream=True)
out["events"] = [e.type for e in stream]
with sync.responses.stream(model="gpt-4o-mini", input="responses helper") as s:
    out["helper"] = s.get_final_response().output_text

async def main():
    r = await aclient.responses.create(model="gpt-4o-mini", input="async responses call")
    out["async_text"] = r.output_text
    stream = await aclient.responses.create(model="gpt-4o-mini", input="async streamed responses", stream=True)
    out["async_deltas"] = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])

asyncio.run(main())
spanloom.flush()
print(json.dumps(out))
"""


def test_wrap_openai_responses_api(client, wrapped):
    out = wrapped["responses"]
    assert out["text"] == "Echo: plain responses call" and out["helper"] == "Echo: responses helper"
    assert out["events"][0] == "response.created" and out["events"][-1] == "response.completed"
    assert out["async_text"] == "Echo: async responses call" and out["async_deltas"] == "Echo: async streamed responses"

    rows = spans(client, "wrappers-responses", 5)
    assert [{k: v for k, v in r["span_attributes"].items() if k != "exec_counter"} for r in rows] == [{"name": "openai.responses.create", "type": "llm"}] * 5
    plain, streamed, helper, async_plain, async_streamed = rows
    assert plain["input"] == "plain responses call"
    assert plain["metadata"] == {
        "model": "gpt-4o-mini",
        "instructions": "be brief",
        "max_output_tokens": 50,
        "provider": "openai",
        "id": "resp_fake",
        "status": "completed",
        **({"pricing": plain["metadata"]["pricing"]} if "pricing" in plain["metadata"] else {}),
    }
    message = {
        "type": "message",
        "id": "msg_fake",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Echo: plain responses call", "annotations": []}],
    }
    assert plain["output"] == [message]
    # input_tokens/output_tokens/total_tokens and the *_details map to the metric names
    m = plain["metrics"]
    assert (m["prompt_tokens"], m["completion_tokens"], m["tokens"]) == (6, 4, 10)
    assert m["prompt_cached_tokens"] == 0 and m["completion_reasoning_tokens"] == 0
    assert_timed(plain)

    # streams: one span per call, the output and usage of the whole stream
    assert streamed["input"] == [{"role": "user", "content": "streamed responses call"}] and streamed["metadata"]["stream"] is True
    assert streamed["output"][0]["content"][0]["text"] == "Echo: streamed responses call"
    assert (streamed["metrics"]["prompt_tokens"], streamed["metrics"]["completion_tokens"]) == (6, 4)
    assert_timed(streamed)
    assert helper["input"] == "responses helper" and helper["output"][0]["content"][0]["text"] == "Echo: responses helper"
    assert async_plain["output"][0]["content"][0]["text"] == "Echo: async responses call" and async_plain["metrics"]["tokens"] == 10
    assert async_streamed["output"][0]["content"][0]["text"] == "Echo: async streamed responses"
    assert async_streamed["metrics"]["completion_tokens"] == 4
    assert_timed(async_streamed)


MEDIA_SCRIPT = """
import asyncio, io, json, sys, openai, spanloom

png = bytes.fromhex(sys.argv[3])
spanloom.init_logger(project="wrappers-media")
base = sys.argv[1] + "/v1"
sync = spanloom.wrap_openai(openai.OpenAI(base_url=base, api_key="sk-fake", max_retries=0))
aclient = spanloom.wrap_openai(openai.AsyncOpenAI(base_url=base, api_key="sk-fake", max_retries=0))
out = {}
img = sync.images.generate(model="gpt-image-1", prompt="a red square", n=2, size="1024x1024")
out["generated"] = [len(d.b64_json) for d in img.data]
url = sync.images.generate(model="dall-e-3", prompt="a blue circle", response_format="url")
out["url"] = url.data[0].url
edit = sync.images.edit(model="gpt-image-1", image=("square.png", png, "image/png"), prompt="make it green")
out["edited"] = len(edit.data)
speech = sync.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input="hello there", response_format="wav")
out["speech"] = speech.content.decode()
audio = io.BytesIO(b"RIFF fake wav bytes")
audio.name = "clip.wav"
text = sync.audio.transcriptions.create(model="gpt-4o-transcribe", file=audio)
out["transcribed"] = text.text
# the request read the file: the wrapper put it back where it was
out["file_position"] = audio.tell()
stream = sync.audio.transcriptions.create(model="gpt-4o-transcribe", file=("s.wav", b"0123456789"), stream=True)
out["stream_events"] = [e.type for e in stream]

async def main():
    t = await aclient.audio.translations.create(model="whisper-1", file=("fr.wav", b"bonjour"))
    out["translated"] = t.text

asyncio.run(main())
spanloom.flush()
"""


def test_wrap_openai_images_and_audio(client, wrapped):
    from fake_provider import PNG_1X1

    out = wrapped["media"]
    assert out["generated"] == [len(base64.b64encode(PNG_1X1))] * 2 and out["url"] == "https://images.fake/0.png" and out["edited"] == 1
    assert out["speech"] == "ID3fake speech: hello there" and out["transcribed"] == "transcribed 19 bytes"
    assert out["stream_events"][-1] == "transcript.text.done" and out["translated"] == "translated 7 bytes"
    rows = spans(client, "wrappers-media", 7)
    assert all(r["span_attributes"]["type"] == "llm" and r["metadata"]["provider"] == "openai" for r in rows), rows

    gen, by_url = by_name(rows, "Image Generation")
    assert gen["input"] == "a red square" and gen["metadata"] == {**gen["metadata"], "model": "gpt-image-1", "n": 2, "size": "1024x1024"}
    assert gen["output"]["images_count"] == 2 and gen["output"]["size"] == "1024x1024"
    first = gen["output"]["images"][0]
    assert first["revised_prompt"] == "A picture of a red square" and first["image_size_bytes"] == len(PNG_1X1)
    assert first["image"]["content_type"] == "image/png" and attachment_bytes(client, first["image"]) == PNG_1X1
    assert gen["metrics"]["prompt_tokens"] == 3 and gen["metrics"]["completion_tokens"] == 544
    assert_timed(gen)
    assert by_url["output"]["images"] == [{"revised_prompt": "A picture of a blue circle", "image_url": {"url": "https://images.fake/0.png"}}]

    [edit] = by_name(rows, "Image Edit")
    assert edit["input"]["prompt"] == "make it green" and edit["input"]["image"]["filename"] == "square.png"
    assert attachment_bytes(client, edit["input"]["image"]) == PNG

    [speech] = by_name(rows, "Speech")
    assert speech["input"] == "hello there" and speech["metadata"] == {**speech["metadata"], "voice": "alloy", "response_format": "wav"}
    assert speech["output"]["audio"]["content_type"] == "audio/wav" and speech["output"]["audio_size_bytes"] == len(out["speech"])
    assert attachment_bytes(client, speech["output"]["audio"]) == out["speech"].encode()

    plain, streamed = by_name(rows, "Transcription")
    assert plain["input"]["file"]["filename"] == "clip.wav" and attachment_bytes(client, plain["input"]["file"]) == b"RIFF fake wav bytes"
    assert out["file_position"] == len(b"RIFF fake wav bytes")
    assert plain["output"] == "transcribed 19 bytes" and plain["metrics"]["prompt_tokens"] == 12 and plain["metrics"]["completion_tokens"] == 3
    assert streamed["output"] == "transcribed 10 bytes" and streamed["metrics"]["tokens"] == 15 and streamed["metadata"]["stream"] is True
    assert_timed(streamed)

    [translation] = by_name(rows, "Translation")
    assert translation["output"] == "translated 7 bytes" and translation["metadata"]["model"] == "whisper-1"
    assert translation["input"]["file"]["filename"] == "fr.wav"


ANTHROPIC_SCRIPT = """
import asyncio, base64, json, sys, anthropic, spanloom

PDF = b"%PDF-1.4 a tiny document for the e2e suite"
spanloom.init_logger(project="wrappers-anthropic")
sync = spanloom.wrap_anthropic(anthropic.Anthropic(base_url=sys.argv[1], api_key="sk-ant-fake", max_retries=0))
aclient = spanloom.wrap_anthropic(anthropic.AsyncAnthropic(base_url=sys.argv[1], api_key="sk-ant-fake", max_retries=0))
system = [{"type": "text", "text": "You are a terse weather assistant for the e2e suite", "cache_control": {"type": "ephemeral"}}]
tools = [{"name": "get_weather", "description": "Weather by city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
out = {}
with spanloom.start_span(name="agent") as root:
    m = sync.messages.create(model="claude-sonnet-4-5", max_tokens=100, system=system, messages=[{"role": "user", "content": "hello claude"}], stop_sequences=["END"])
    out["type"] = type(m).__name__
    out["text"] = m.content[0].text
    # the same cached system block again: now a cache read
    stream = sync.messages.create(model="claude-sonnet-4-5", max_tokens=100, system=system, tools=tools, stream=True,
                                  messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    out["stream_type"] = type(stream).__name__
    out["events"] = [e.type for e in stream]
    with sync.messages.stream(model="claude-sonnet-4-5", max_tokens=100, system="Plain system prompt", messages=[{"role": "user", "content": "stream helper"}]) as s:
        out["helper_text"] = "".join(s.text_stream)
        out["helper_final"] = s.get_final_message().content[0].text

async def main():
    m = await aclient.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "async hello"}])
    out["async_text"] = m.content[0].text
    stream = await aclient.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "async stream"}], stream=True)
    out["async_deltas"] = "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
    async with aclient.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "async helper"}]) as s:
        out["async_helper"] = (await s.get_final_message()).content[0].text

asyncio.run(main())
pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(PDF).decode()}}
m = sync.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": [pdf, {"type": "text", "text": "summarize"}]}])
out["pdf_reply"] = m.content[0].text
raw = sync.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "raw hello"}])
out["raw"] = raw.parse().content[0].text
m = sync.messages.parse(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "parse hello"}])
out["parse"] = [type(m).__name__.split("[")[0], m.content[0].text]
m = sync.beta.messages.create(model="claude-haiku-4-5", max_tokens=50, betas=["context-1m-2025-08-07"], messages=[{"role": "user", "content": "beta hello"}])
out["beta"] = [type(m).__name__, m.content[0].text]
with sync.beta.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "beta stream"}]) as s:
    out["beta_stream"] = "".join(s.text_stream)
async def beta_async():  # a new client: the first one's connections belong to the closed loop
    beta_client = spanloom.wrap_anthropic(anthropic.AsyncAnthropic(base_url=sys.argv[1], api_key="sk-ant-fake", max_retries=0))
    m = await beta_client.beta.messages.parse(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "beta async parse"}])
    out["beta_async_parse"] = m.content[0].text
asyncio.run(beta_async())
spanloom.flush()
print(json.dumps(out))
"""


def test_wrap_anthropic_messages_streams_and_cache_tokens(client, wrapped):
    out = wrapped["anthropic"]
    assert out["type"] == "Message" and out["text"] == "Echo: hello claude" and out["stream_type"] == "Stream"
    assert out["events"][0] == "message_start" and out["events"][-1] == "message_stop"
    assert out["helper_text"] == out["helper_final"] == "Echo: stream helper"
    assert out["async_text"] == "Echo: async hello" and out["async_deltas"] == "Echo: async stream" and out["async_helper"] == "Echo: async helper"
    assert out["raw"] == "Echo: raw hello"

    assert out["parse"] == ["ParsedMessage", "Echo: parse hello"] and out["beta"] == ["BetaMessage", "Echo: beta hello"]
    assert out["beta_stream"] == "Echo: beta stream" and out["beta_async_parse"] == "Echo: beta async parse"

    rows = spans(client, "wrappers-anthropic", 13)
    [root] = by_name(rows, "agent")
    llm = [r for r in rows if r["span_attributes"].get("type") == "llm"]
    assert [r["span_attributes"]["name"] for r in llm] == [
        "anthropic.messages.create",
        "anthropic.messages.stream",
        "anthropic.messages.stream",
        "anthropic.messages.create",
        "anthropic.messages.stream",
        "anthropic.messages.stream",
        "anthropic.messages.create",
        "anthropic.messages.create",
        "anthropic.messages.create",
        "anthropic.messages.create",
        "anthropic.messages.stream",
        "anthropic.messages.create",
    ]
    first, tool_stream, helper, async_plain, async_stream, async_helper, with_pdf, raw, parsed, beta, beta_stream, beta_async_parse = llm
    # messages.parse and the client.beta.messages methods: the same spans as messages.create / .stream
    assert parsed["input"] == [{"role": "user", "content": "parse hello"}] and parsed["output"]["content"][0]["text"] == "Echo: parse hello"
    assert beta["metadata"]["betas"] == ["context-1m-2025-08-07"] and beta["output"]["content"][0]["text"] == "Echo: beta hello"
    assert beta_stream["output"]["content"] == [{"type": "text", "text": "Echo: beta stream"}] and beta_stream["metrics"]["completion_tokens"] == 3
    assert beta_async_parse["output"]["content"][0]["text"] == "Echo: beta async parse" and beta_async_parse["metrics"]["prompt_tokens"] > 0
    for row in (parsed, beta, beta_stream, beta_async_parse):
        assert_timed(row)
    assert all(r["span_parents"] == [root["span_id"]] for r in (first, tool_stream, helper))

    # input: the messages, then the system prompt as a system message
    assert first["input"] == [{"role": "user", "content": "hello claude"}, {"role": "system", "content": ANTHROPIC_SYSTEM}]
    assert {k: first["metadata"][k] for k in ("model", "max_tokens", "stop_sequences", "provider")} == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "stop_sequences": ["END"],
        "provider": "anthropic",
    }
    assert first["output"] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Echo: hello claude"}],
        "model": "claude-sonnet-4-5",
        "stop_reason": "end_turn",
    }
    # cache-aware tokens: the 10-word cached system block is written on the first call and read on the second
    m = first["metrics"]
    assert m["prompt_cache_creation_tokens"] == 10 and m["prompt_cached_tokens"] == 0
    assert m["prompt_tokens"] == 5 + 0 + 10 and m["completion_tokens"] == 3 and m["tokens"] == 18
    assert_timed(first)

    # streamed tool use: text and tool_use blocks joined, the JSON input parsed
    assert tool_stream["metadata"]["stream"] is True and tool_stream["metadata"]["tools"][0]["name"] == "get_weather"
    assert tool_stream["output"] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check the weather."},
            {"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": {"city": "Paris", "unit": "celsius"}},
        ],
        "model": "claude-sonnet-4-5",
        "stop_reason": "tool_use",
    }
    m = tool_stream["metrics"]
    assert m["prompt_cached_tokens"] == 10 and m["prompt_cache_creation_tokens"] == 0 and m["completion_tokens"] == 10
    assert m["prompt_tokens"] == 9 + 10 and m["tokens"] == 29
    assert_timed(tool_stream)

    assert helper["input"] == [{"role": "user", "content": "stream helper"}, {"role": "system", "content": "Plain system prompt"}]
    assert helper["output"]["content"] == [{"type": "text", "text": "Echo: stream helper"}] and helper["output"]["stop_reason"] == "end_turn"
    assert helper["metrics"]["completion_tokens"] == 3 and helper["metrics"]["prompt_tokens"] > 0
    assert_timed(helper)

    assert async_plain["input"] == [{"role": "user", "content": "async hello"}] and async_plain["output"]["content"][0]["text"] == "Echo: async hello"
    assert async_plain["metrics"]["tokens"] == async_plain["metrics"]["prompt_tokens"] + 3
    assert async_stream["output"]["content"] == [{"type": "text", "text": "Echo: async stream"}]
    assert async_helper["output"]["content"] == [{"type": "text", "text": "Echo: async helper"}]
    for row in (async_stream, async_helper):
        assert row["metrics"]["completion_tokens"] == 3
        assert_timed(row)
    assert raw["output"]["content"][0]["text"] == "Echo: raw hello"
    # the base64 document source became an attachment reference; the bytes were uploaded
    [[doc, text]] = [m["content"] for m in with_pdf["input"]]
    ref = doc["source"]["data"]
    assert doc == {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": ref}} and text["text"] == "summarize"
    assert ref == {"type": "braintrust_attachment", "filename": "document.pdf", "content_type": "application/pdf", "key": ref["key"]}
    assert attachment_bytes(client, ref) == b"%PDF-1.4 a tiny document for the e2e suite"
    assert out["pdf_reply"].endswith("summarize")


ANTHROPIC_SYSTEM = [{"type": "text", "text": "You are a terse weather assistant for the e2e suite", "cache_control": {"type": "ephemeral"}}]


AUTO_SCRIPT = """
import json, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # litellm: no fetch of its price map
import openai  # imported before auto_instrument; anthropic and litellm after it
import spanloom

base = sys.argv[1]
early = openai.OpenAI(base_url=base + "/v1", api_key="sk-fake", max_retries=0)  # made before the call
spanloom.init_logger(project="wrappers-auto")
out = {"first": spanloom.auto_instrument(), "second": spanloom.auto_instrument()}
import anthropic
try:
    import litellm
except ImportError:
    litellm = None
late = openai.OpenAI(base_url=base + "/v1", api_key="sk-fake", max_retries=0)
both = spanloom.wrap_openai(openai.OpenAI(base_url=base + "/v1", api_key="sk-fake", max_retries=0))
claude = anthropic.Anthropic(base_url=base, api_key="sk-ant-fake", max_retries=0)
ask = lambda c, text: c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
out["types"] = [type(ask(early, "early client")).__name__, type(ask(late, "late client")).__name__]
ask(both, "wrapped and patched")
ask(late.with_options(timeout=20), "copied client")
stream = late.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "auto stream"}], stream=True)
out["stream_type"] = type(stream).__name__
out["streamed"] = "".join(c.choices[0].delta.content or "" for c in stream)
out["claude"] = claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "auto claude"}]).content[0].text
out["claude_beta"] = claude.beta.messages.parse(model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "auto beta"}]).content[0].text
if litellm is not None:
    kw = dict(model="openai/gpt-4o-mini", api_base=base + "/v1", api_key="sk-fake")
    r = litellm.completion(messages=[{"role": "user", "content": "litellm call"}], **kw)
    out["litellm"] = r.choices[0].message.content
    s = litellm.completion(messages=[{"role": "user", "content": "litellm stream"}], stream=True, stream_options={"include_usage": True}, **kw)
    out["litellm_stream_type"] = type(s).__name__
    out["litellm_streamed"] = "".join(c.choices[0].delta.content or "" for c in s if c.choices)

    async def alite():
        r = await litellm.acompletion(messages=[{"role": "user", "content": "litellm async"}], **kw)
        s = await litellm.acompletion(messages=[{"role": "user", "content": "litellm async stream"}], stream=True, **kw)
        return [r.choices[0].message.content, "".join([c.choices[0].delta.content or "" async for c in s if c.choices])]

    import asyncio
    out["litellm_async"] = asyncio.run(alite())
spanloom.flush()
print(json.dumps(out))
"""

OPT_OUT_SCRIPT = """
import json, sys, openai, anthropic, spanloom

spanloom.init_logger(project="wrappers-opt-out")
out = {"patched": spanloom.auto_instrument(openai=False, litellm=False)}
oa = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="sk-fake", max_retries=0)
oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "not traced"}])
claude = anthropic.Anthropic(base_url=sys.argv[1], api_key="sk-ant-fake", max_retries=0)
claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "traced"}])
spanloom.flush()
print(json.dumps(out))
"""


def test_auto_instrument_patches_classes_once(server, client, fake_provider):
    results, stderr = run_scripts(server, fake_provider.url, auto=AUTO_SCRIPT)
    assert_clean(stderr)
    out = results["auto"]
    has_litellm = "litellm" in out
    assert out["first"] == out["second"] == {"openai": True, "anthropic": True, "litellm": has_litellm}
    assert out["types"] == ["ChatCompletion", "ChatCompletion"] and out["stream_type"] == "Stream" and out["streamed"] == "Echo: auto stream"
    assert out["claude"] == "Echo: auto claude"

    assert out["claude_beta"] == "Echo: auto beta"

    rows = spans(client, "wrappers-auto", 7 + (4 if has_litellm else 0))
    chats = by_name(rows, "Chat Completion")
    # one span per call: a client made before the call, after it, wrapped as well, and a copy
    assert [r["input"][0]["content"] for r in chats] == ["early client", "late client", "wrapped and patched", "copied client", "auto stream"]
    assert all(r["output"][0]["message"]["content"] == "Echo: " + r["input"][0]["content"] for r in chats)
    assert chats[-1]["metadata"]["stream"] is True
    assert_timed(chats[-1])
    claude, claude_beta = by_name(rows, "anthropic.messages.create")
    assert claude["input"] == [{"role": "user", "content": "auto claude"}] and claude["metrics"]["completion_tokens"] == 3
    assert claude_beta["input"] == [{"role": "user", "content": "auto beta"}] and claude_beta["output"]["content"][0]["text"] == "Echo: auto beta"
    if has_litellm:
        # litellm's spans, and not a second span for the openai client litellm calls
        assert out["litellm"] == "Echo: litellm call" and out["litellm_streamed"] == "Echo: litellm stream"
        assert out["litellm_stream_type"] == "CustomStreamWrapper"
        assert out["litellm_async"] == ["Echo: litellm async", "Echo: litellm async stream"]
        plain, streamed, async_plain, async_streamed = by_name(rows, "Completion")
        assert async_plain["output"][0]["message"]["content"] == "Echo: litellm async" and async_plain["metrics"]["completion_tokens"] == 3
        assert async_streamed["output"][0]["message"]["content"] == "Echo: litellm async stream"
        assert_timed(async_streamed)
        assert plain["span_attributes"]["type"] == "llm" and plain["input"] == [{"role": "user", "content": "litellm call"}]
        assert plain["metadata"]["model"] == "openai/gpt-4o-mini" or plain["metadata"]["model"] == "gpt-4o-mini"
        assert plain["metadata"]["provider"] == "litellm"
        assert plain["output"][0]["message"]["content"] == "Echo: litellm call" and plain["metrics"]["completion_tokens"] == 3
        assert streamed["output"][0]["message"]["content"] == "Echo: litellm stream" and streamed["metrics"]["completion_tokens"] == 3
        assert_timed(streamed)
        assert len(rows) == 11


def test_auto_instrument_opt_out(client, guarded):
    out = guarded[0]["opt_out"]
    assert out["patched"] == {"openai": False, "anthropic": True, "litellm": False}
    rows = spans(client, "wrappers-opt-out", 1)
    assert [r["span_attributes"]["name"] for r in rows] == ["anthropic.messages.create"] and rows[0]["input"][0]["content"] == "traced"


ERRORS_SCRIPT = """
import asyncio, json, sys, openai, anthropic, spanloom
from spanloom import _llm

base = sys.argv[1]
oa = spanloom.wrap_openai(openai.OpenAI(base_url=base + "/v1", api_key="sk-fake", max_retries=0))
aoa = spanloom.wrap_openai(openai.AsyncOpenAI(base_url=base + "/v1", api_key="sk-fake", max_retries=0))
claude = spanloom.wrap_anthropic(anthropic.Anthropic(base_url=base, api_key="sk-ant-fake", max_retries=0))
msgs = lambda text: [{"role": "user", "content": text}]
out = {}

# Without a logger the wrappers call straight through: the stream is not even hooked.
r = oa.chat.completions.create(model="gpt-4o-mini", messages=msgs("no logger"))
s = oa.chat.completions.create(model="gpt-4o-mini", messages=msgs("no logger stream"), stream=True)
out["noop"] = [type(r).__name__, type(s).__name__, s._iterator.__qualname__, "".join(c.choices[0].delta.content or "" for c in s)]
m = claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=msgs("no logger claude"))
out["noop_claude"] = [type(m).__name__, m.content[0].text]

spanloom.init_logger(project="wrappers-errors")
# The provider's exceptions are recorded on the span and re-raised unchanged.
errors = []
for call in (
    lambda: oa.chat.completions.create(model="error-500", messages=msgs("fails")),
    lambda: claude.messages.create(model="missing", max_tokens=20, messages=msgs("missing model")),
    lambda: asyncio.run(aoa.chat.completions.create(model="error-500", messages=msgs("fails async"), stream=True)),
):
    try:
        call()
    except (openai.APIStatusError, anthropic.APIStatusError) as e:
        errors.append([type(e).__module__.split(".")[0], type(e).__name__, e.status_code])
out["errors"] = errors

# A failure inside tracing is logged and swallowed (injected into the SDK's span finishing).
original = _llm.LLMCall.finish
def broken(self, *args, **kwargs):
    raise RuntimeError("injected tracing failure")
_llm.LLMCall.finish = broken
r = oa.chat.completions.create(model="gpt-4o-mini", messages=msgs("tracing breaks"))
s = oa.chat.completions.create(model="gpt-4o-mini", messages=msgs("tracing breaks stream"), stream=True)
out["survived"] = [r.choices[0].message.content, "".join(c.choices[0].delta.content or "" for c in s)]
_llm.LLMCall.finish = original

# The convention for a custom LLM client: an "llm" span, messages in, the message out, tokens.
@spanloom.traced(name="house-llm", type="llm", notrace_io=True)
def house_llm(messages, temperature=0.0):
    reply = {"role": "assistant", "content": "house says hi"}
    spanloom.current_span().log(
        input=messages,
        output=reply,
        metadata={"model": "house-model-1", "provider": "house", "temperature": temperature},
        metrics={"prompt_tokens": 7, "completion_tokens": 3, "tokens": 10},
    )
    return reply

house_llm(msgs("hello house"), temperature=0.5)
with spanloom.start_span(name="house-llm-stream", type="llm", input=msgs("hello span"), metadata={"model": "house-model-1"}) as span:
    span.log(output={"role": "assistant", "content": "streamed hi"}, metrics={"prompt_tokens": 4, "completion_tokens": 2, "tokens": 6, "time_to_first_token": 0.01})
spanloom.flush()
print(json.dumps(out))
"""


def test_errors_noop_tracing_failures_and_custom_llm_spans(client, guarded):
    results, stderr = guarded
    out = results["errors"]
    assert out["noop"] == ["ChatCompletion", "Stream", "Stream.__stream__", "Echo: no logger stream"]
    assert out["noop_claude"] == ["Message", "Echo: no logger claude"]
    assert out["errors"] == [["openai", "InternalServerError", 500], ["anthropic", "NotFoundError", 404], ["openai", "InternalServerError", 500]]
    assert out["survived"] == ["Echo: tracing breaks", "Echo: tracing breaks stream"]
    # the injected failures were reported on stderr, once per traced call
    assert stderr.count("spanloom: could not trace") == 2 and "injected tracing failure" in stderr, stderr

    rows = spans(client, "wrappers-errors", 5)
    assert not [r for r in rows if "no logger" in json.dumps(r.get("input"))]
    failed = [r for r in rows if r.get("error")]
    assert [r["span_attributes"]["name"] for r in failed] == ["Chat Completion", "anthropic.messages.create", "Chat Completion"]
    assert "InternalServerError" in failed[0]["error"] and "the fake provider failed" in failed[0]["error"] and "Traceback" in failed[0]["error"]
    assert "NotFoundError" in failed[1]["error"] and failed[1]["input"] == [{"role": "user", "content": "missing model"}]
    assert failed[2]["metadata"]["stream"] is True and failed[2].get("output") is None
    assert all(r["metrics"]["end"] >= r["metrics"]["start"] for r in failed)

    # custom LLM spans: the documented convention round-trips
    [house] = by_name(rows, "house-llm")
    assert house["span_attributes"]["type"] == "llm" and house["input"] == [{"role": "user", "content": "hello house"}]
    assert house["output"] == {"role": "assistant", "content": "house says hi"}
    assert {k: house["metadata"][k] for k in ("model", "provider", "temperature")} == {"model": "house-model-1", "provider": "house", "temperature": 0.5}
    assert {k: house["metrics"][k] for k in ("prompt_tokens", "completion_tokens", "tokens")} == {"prompt_tokens": 7, "completion_tokens": 3, "tokens": 10}
    [span] = by_name(rows, "house-llm-stream")
    assert span["span_attributes"]["type"] == "llm" and span["input"] == [{"role": "user", "content": "hello span"}]
    assert span["metrics"]["tokens"] == 6 and span["metrics"]["time_to_first_token"] == 0.01
